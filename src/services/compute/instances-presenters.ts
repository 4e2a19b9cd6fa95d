import { contentEtag } from '../../core/ids.ts';
import { diskPath, type DiskRecord } from './disks.ts';
import { instancePath, type InstanceRecord } from './instances-store.ts';
import { machineTypePath } from './machine-types.ts';
import { computeLink } from './presenters.ts';

/** Google's `compute#instance` JSON. */
export function presentInstance(
  base: string,
  instance: InstanceRecord,
  disk: DiskRecord | undefined,
): Record<string, unknown> {
  const { project, zone } = instance;
  const nic: Record<string, unknown> = {
    kind: 'compute#networkInterface',
    network: computeLink(base, `projects/${project}/global/networks/${instance.nic.network}`),
    subnetwork: computeLink(
      base,
      `projects/${project}/regions/${instance.nic.region}/subnetworks/${instance.nic.subnetwork}`,
    ),
    name: 'nic0',
    fingerprint: contentEtag(instance.nic),
    stackType: 'IPV4_ONLY',
  };
  const networkIP = instance.nic.networkIP ?? instance.nic.requestedIP;
  if (networkIP !== undefined) {
    nic.networkIP = networkIP;
  }
  if (instance.nic.accessConfigs.length > 0) {
    nic.accessConfigs = instance.nic.accessConfigs.map((ac) => {
      const out: Record<string, unknown> = {
        kind: 'compute#accessConfig',
        type: ac.type,
        name: ac.name,
        networkTier: ac.networkTier,
      };
      if (ac.natIP !== undefined) {
        out.natIP = ac.natIP;
      }
      if (ac.nimbusForwardedPorts !== undefined) {
        // Nimbus-specific, read-only: instance ports reachable at natIP (127.77.x.y):hostPort.
        out.nimbusForwardedPorts = ac.nimbusForwardedPorts;
      }
      return out;
    });
  }
  const attached: Record<string, unknown> = {
    kind: 'compute#attachedDisk',
    type: 'PERSISTENT',
    mode: 'READ_WRITE',
    source: computeLink(base, diskPath(project, zone, instance.bootDisk.name)),
    deviceName: instance.bootDisk.deviceName,
    index: 0,
    boot: true,
    autoDelete: instance.bootDisk.autoDelete,
    interface: 'SCSI',
    guestOsFeatures: [{ type: 'VIRTIO_SCSI_MULTIQUEUE' }, { type: 'GVNIC' }],
    architecture: 'X86_64',
  };
  if (disk !== undefined) {
    attached.diskSizeGb = String(disk.sizeGb);
  }
  const metadata: Record<string, unknown> = {
    kind: 'compute#metadata',
    fingerprint: instance.metadataFingerprint,
  };
  if (instance.metadata.length > 0) {
    metadata.items = instance.metadata;
  }
  const tags: Record<string, unknown> = { fingerprint: instance.tagsFingerprint };
  if (instance.tags.length > 0) {
    tags.items = instance.tags;
  }
  const out: Record<string, unknown> = {
    kind: 'compute#instance',
    id: instance.id,
    creationTimestamp: instance.creationTimestamp,
    name: instance.name,
    tags,
    machineType: computeLink(base, machineTypePath(project, zone, instance.machineType)),
    status: instance.status,
    zone: computeLink(base, `projects/${project}/zones/${zone}`),
    canIpForward: false,
    networkInterfaces: [nic],
    disks: [attached],
    metadata,
    selfLink: computeLink(base, instancePath(project, zone, instance.name)),
    scheduling: {
      onHostMaintenance: 'MIGRATE',
      automaticRestart: true,
      preemptible: false,
      provisioningModel: 'STANDARD',
    },
    cpuPlatform: 'Intel Broadwell',
    labelFingerprint: instance.labelFingerprint,
    startRestricted: false,
    deletionProtection: instance.deletionProtection,
    shieldedInstanceConfig: {
      enableSecureBoot: false,
      enableVtpm: true,
      enableIntegrityMonitoring: true,
    },
    fingerprint: instance.metadataFingerprint,
    keyRevocationActionType: 'NONE',
  };
  if (instance.serviceAccounts.length > 0) {
    out.serviceAccounts = instance.serviceAccounts;
  }
  if (instance.description !== undefined) {
    out.description = instance.description;
  }
  if (instance.statusMessage !== undefined) {
    out.statusMessage = instance.statusMessage;
  }
  if (Object.keys(instance.labels).length > 0) {
    out.labels = instance.labels;
  }
  if (instance.hostname !== undefined) {
    out.hostname = instance.hostname;
  }
  for (const key of ['lastStartTimestamp', 'lastStopTimestamp', 'lastSuspendedTimestamp'] as const) {
    const value = instance[key];
    if (value !== undefined) {
      out[key] = value;
    }
  }
  return out;
}

/** Google's `compute#project` (no quotas, usage export or shared VPC). */
export function presentProject(
  base: string,
  project: { projectId: string; projectNumber: string },
  metadata: { items: { key: string; value: string }[]; fingerprint: string },
  defaultServiceAccount: string,
): Record<string, unknown> {
  const common: Record<string, unknown> = { kind: 'compute#metadata', fingerprint: metadata.fingerprint };
  if (metadata.items.length > 0) {
    common.items = metadata.items;
  }
  return {
    kind: 'compute#project',
    id: project.projectNumber,
    name: project.projectId,
    commonInstanceMetadata: common,
    quotas: [],
    selfLink: computeLink(base, `projects/${project.projectId}`),
    defaultServiceAccount,
    xpnProjectStatus: 'UNSPECIFIED_XPN_PROJECT_STATUS',
    defaultNetworkTier: 'PREMIUM',
    vmDnsSetting: 'ZONAL_ONLY',
  };
}

/** `compute#serialPortOutput`. */
export function presentSerialPortOutput(
  base: string,
  instance: InstanceRecord,
  output: { contents: string; start: number; next: number },
): Record<string, unknown> {
  return {
    kind: 'compute#serialPortOutput',
    contents: output.contents,
    start: String(output.start),
    next: String(output.next),
    selfLink: `${computeLink(base, instancePath(instance.project, instance.zone, instance.name))}/serialPort`,
  };
}
