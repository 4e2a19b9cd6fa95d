import { catalogId } from '../../core/locations.ts';
import { computeLink } from './presenters.ts';

/**
 * Compute Engine machine types: Google's predefined shapes and `custom-CPUS-MEMORY_MB`. Each maps
 * to the cgroup limits of the instance's system container: a CPU quota of `guestCpus` vCPUs, a CPU share
 * of `cpuShare` vCPUs (shared-core E2 types: their sustained fraction), `memoryMb` of memory.
 */
export interface MachineType {
  name: string;
  description: string;
  guestCpus: number;
  memoryMb: number;
  isSharedCpu: boolean;
  /**
   * Guaranteed vCPUs under contention (cgroup cpu.shares); the quota is `guestCpus`, so shared-core
   * E2 types burst to 2 vCPUs and are guaranteed their fraction (e2-micro 0.25).
   */
  cpuShare: number;
  maximumPersistentDisks: number;
}

const CATALOG_CREATED = '1969-12-31T16:00:00.000-08:00';

function standard(family: string, cpus: number, memoryPerCpuMb: number, description: string): MachineType {
  return {
    name: `${family}-standard-${String(cpus)}`,
    description,
    guestCpus: cpus,
    memoryMb: cpus * memoryPerCpuMb,
    isSharedCpu: false,
    cpuShare: cpus,
    maximumPersistentDisks: 128,
  };
}

function shared(name: string, fraction: number, label: string, memoryGb: number): MachineType {
  return {
    name,
    description: `Efficient Instance, 2 vCPU (${label} shared physical core) and ${String(memoryGb)} GB RAM`,
    guestCpus: 2,
    memoryMb: memoryGb * 1024,
    isSharedCpu: true,
    cpuShare: fraction,
    maximumPersistentDisks: 16,
  };
}

export const MACHINE_TYPES: MachineType[] = [
  shared('e2-micro', 0.25, '1/4', 1),
  shared('e2-small', 0.5, '1/2', 2),
  shared('e2-medium', 1, '1', 4),
  ...[2, 4, 8].map((n) =>
    standard('e2', n, 4096, `Efficient Instance, ${String(n)} vCPUs, ${String(n * 4)} GB RAM`),
  ),
  ...[1, 2, 4].map((n) =>
    standard('n1', n, 3840, `${String(n)} vCPU${n === 1 ? '' : 's'}, ${String(n * 3.75)} GB RAM`),
  ),
  ...[2, 4, 8].map((n) => standard('n2', n, 4096, `${String(n)} vCPUs ${String(n * 4)} GB RAM`)),
].sort((a, b) => (a.name < b.name ? -1 : 1));

const CUSTOM = /^(?:(e2|n1|n2)-)?custom-(\d{1,3})-(\d{3,7})$/;

/** A predefined or custom machine type by name; undefined when the name is not a valid one. */
export function findMachineType(name: string): MachineType | undefined {
  const known = MACHINE_TYPES.find((m) => m.name === name);
  if (known !== undefined) {
    return known;
  }
  const match = CUSTOM.exec(name);
  if (match === null) {
    return undefined;
  }
  const cpus = Number(match[2]);
  const memoryMb = Number(match[3]);
  // Google: 1 or an even number of vCPUs up to 96, memory a multiple of 256 MB, 0.9-6.5 GB per vCPU.
  const validCpus = cpus === 1 || (cpus % 2 === 0 && cpus >= 2 && cpus <= 96);
  const validMemory = memoryMb % 256 === 0 && memoryMb >= cpus * 922 && memoryMb <= cpus * 6656;
  if (!validCpus || !validMemory) {
    return undefined;
  }
  return {
    name,
    description: 'Custom created machine type.',
    guestCpus: cpus,
    memoryMb,
    isSharedCpu: false,
    cpuShare: cpus,
    maximumPersistentDisks: 128,
  };
}

/** The machine type name from `e2-micro`, `zones/Z/machineTypes/e2-micro` or a full URL. */
export function machineTypeNameOf(reference: string): string {
  const at = reference.lastIndexOf('machineTypes/');
  return at < 0 ? reference : reference.slice(at + 'machineTypes/'.length);
}

export function machineTypePath(project: string, zone: string, name: string): string {
  return `projects/${project}/zones/${zone}/machineTypes/${name}`;
}

export function presentMachineType(
  base: string,
  project: string,
  zone: string,
  type: MachineType,
): Record<string, unknown> {
  return {
    kind: 'compute#machineType',
    id: catalogId(type.name),
    creationTimestamp: CATALOG_CREATED,
    name: type.name,
    description: type.description,
    guestCpus: type.guestCpus,
    memoryMb: type.memoryMb,
    imageSpaceGb: 0,
    maximumPersistentDisks: type.maximumPersistentDisks,
    maximumPersistentDisksSizeGb: '263168',
    zone,
    selfLink: computeLink(base, machineTypePath(project, zone, type.name)),
    isSharedCpu: type.isSharedCpu,
    architecture: 'X86_64',
  };
}
