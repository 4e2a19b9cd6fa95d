import type { ImageName } from './contracts.ts';
import { computeLink } from './presenters.ts';

/**
 * Persistent disks. A boot disk is created with its instance (`initializeParams`): on the host it is
 * the writable upper layer of the instance's overlay root filesystem, a directory under
 * `DATA_DIR/instances/disks/`, so everything the guest writes survives stop/start and goes away
 * with the disk.
 */
export type DiskStatus = 'CREATING' | 'READY' | 'DELETING' | 'FAILED';

export interface DiskRecord {
  project: string;
  zone: string;
  name: string;
  id: string;
  creationTimestamp: string;
  description?: string;
  sizeGb: number;
  status: DiskStatus;
  /** Image path (`projects/debian-cloud/global/images/NAME`) and the engine image it boots. */
  sourceImage: string;
  sourceImageId: string;
  engineImage: ImageName;
  /** Disk type name (`pd-balanced`, `pd-standard`, `pd-ssd`). */
  type: string;
  /** Paths of the instances using it (`projects/P/zones/Z/instances/N`). */
  users: string[];
  labels: Record<string, string>;
  labelFingerprint: string;
  lastAttachTimestamp?: string;
  lastDetachTimestamp?: string;
}

export const DISK_TYPES = ['pd-balanced', 'pd-standard', 'pd-ssd', 'pd-extreme', 'hyperdisk-balanced'];

export function diskPath(project: string, zone: string, name: string): string {
  return `projects/${project}/zones/${zone}/disks/${name}`;
}

export function presentDisk(base: string, disk: DiskRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    kind: 'compute#disk',
    id: disk.id,
    creationTimestamp: disk.creationTimestamp,
    name: disk.name,
    sizeGb: String(disk.sizeGb),
    zone: computeLink(base, `projects/${disk.project}/zones/${disk.zone}`),
    status: disk.status,
    selfLink: computeLink(base, diskPath(disk.project, disk.zone, disk.name)),
    sourceImage: computeLink(base, disk.sourceImage),
    sourceImageId: disk.sourceImageId,
    type: computeLink(base, `projects/${disk.project}/zones/${disk.zone}/diskTypes/${disk.type}`),
    labelFingerprint: disk.labelFingerprint,
    physicalBlockSizeBytes: '4096',
    architecture: 'X86_64',
  };
  if (disk.description !== undefined) {
    out.description = disk.description;
  }
  if (Object.keys(disk.labels).length > 0) {
    out.labels = disk.labels;
  }
  if (disk.users.length > 0) {
    out.users = disk.users.map((u) => computeLink(base, u));
  }
  if (disk.lastAttachTimestamp !== undefined) {
    out.lastAttachTimestamp = disk.lastAttachTimestamp;
  }
  if (disk.lastDetachTimestamp !== undefined) {
    out.lastDetachTimestamp = disk.lastDetachTimestamp;
  }
  return out;
}
