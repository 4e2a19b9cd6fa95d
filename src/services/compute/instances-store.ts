import type { DocumentStore } from '../../core/store.ts';
import type { DiskRecord } from './disks.ts';

export type InstanceStatus =
  | 'PROVISIONING'
  | 'STAGING'
  | 'RUNNING'
  | 'STOPPING'
  | 'TERMINATED'
  | 'SUSPENDING'
  | 'SUSPENDED'
  | 'REPAIRING';

export interface MetadataItem {
  key: string;
  value: string;
}

export interface AccessConfigRecord {
  name: string;
  type: string;
  networkTier: string;
  /**
   * The instance's own loopback address (127.77.x.y, `NicRecord.externalIP`) while its host port
   * forwards are open (Nimbus realises ONE_TO_ONE_NAT as loopback forwards).
   */
  natIP?: string;
  /** Nimbus-specific, read-only: the instance ports forwarded to natIP while it runs. */
  nimbusForwardedPorts?: ForwardedPort[];
}

export interface ForwardedPort {
  /** Port inside the instance. */
  port: number;
  /** Port on natIP: the same as `port` unless that could not be bound (then any free port). */
  hostPort: number;
}

export interface NicRecord {
  /** Network and subnetwork names; region of the subnetwork. */
  network: string;
  subnetwork: string;
  region: string;
  /** Address the caller asked for (kept for re-attachment). */
  requestedIP?: string;
  /** Address the dataplane gave (absent before the first boot or without a dataplane). */
  networkIP?: string;
  accessConfigs: AccessConfigRecord[];
  /** Host ports used last (instance port -> host port), reused after stop/start and restarts. */
  hostPorts?: Record<string, number>;
  /**
   * The loopback address (from 127.77.0.0/16) given to the instance's access config: allocated with
   * the access config, kept across stop/start and restarts, released with it or the instance.
   */
  externalIP?: string;
}

export interface InstanceRecord {
  project: string;
  zone: string;
  name: string;
  id: string;
  creationTimestamp: string;
  description?: string;
  machineType: string;
  status: InstanceStatus;
  statusMessage?: string;
  tags: string[];
  tagsFingerprint: string;
  labels: Record<string, string>;
  labelFingerprint: string;
  metadata: MetadataItem[];
  metadataFingerprint: string;
  serviceAccounts: { email: string; scopes: string[] }[];
  nic: NicRecord;
  bootDisk: { name: string; autoDelete: boolean; deviceName: string };
  deletionProtection: boolean;
  hostname?: string;
  lastStartTimestamp?: string;
  lastStopTimestamp?: string;
  lastSuspendedTimestamp?: string;
}

/** Project-wide metadata (`commonInstanceMetadata`), one document per project id. */
export interface ProjectMetadataRecord {
  items: MetadataItem[];
  fingerprint: string;
}

const INSTANCES = 'compute/instances';
const PROJECT_METADATA = 'compute/projectMetadata';
const DISKS = 'compute/disks';

export function instancePath(project: string, zone: string, name: string): string {
  return `projects/${project}/zones/${zone}/instances/${name}`;
}

/** Instances and disks as documents keyed by their resource paths. */
export class InstanceStore {
  constructor(readonly docs: DocumentStore) {}

  getInstance(path: string): InstanceRecord | undefined {
    return this.docs.get<InstanceRecord>(INSTANCES, path);
  }

  putInstance(record: InstanceRecord): void {
    this.docs.put(INSTANCES, instancePath(record.project, record.zone, record.name), record);
  }

  insertInstance(record: InstanceRecord): boolean {
    return this.docs.insert(INSTANCES, instancePath(record.project, record.zone, record.name), record);
  }

  deleteInstance(path: string): void {
    this.docs.delete(INSTANCES, path);
  }

  listInstances(prefix: string, after?: string, limit?: number): InstanceRecord[] {
    return this.docs.list<InstanceRecord>(INSTANCES, { prefix, after, limit });
  }

  allInstances(): InstanceRecord[] {
    return this.docs.list<InstanceRecord>(INSTANCES);
  }

  getDisk(path: string): DiskRecord | undefined {
    return this.docs.get<DiskRecord>(DISKS, path);
  }

  putDisk(disk: DiskRecord): void {
    this.docs.put(DISKS, `projects/${disk.project}/zones/${disk.zone}/disks/${disk.name}`, disk);
  }

  insertDisk(disk: DiskRecord): boolean {
    return this.docs.insert(DISKS, `projects/${disk.project}/zones/${disk.zone}/disks/${disk.name}`, disk);
  }

  deleteDisk(path: string): void {
    this.docs.delete(DISKS, path);
  }

  listDisks(prefix: string, after?: string, limit?: number): DiskRecord[] {
    return this.docs.list<DiskRecord>(DISKS, { prefix, after, limit });
  }

  getProjectMetadata(project: string): ProjectMetadataRecord | undefined {
    return this.docs.get<ProjectMetadataRecord>(PROJECT_METADATA, project);
  }

  putProjectMetadata(project: string, record: ProjectMetadataRecord): void {
    this.docs.put(PROJECT_METADATA, project, record);
  }

  transaction<R>(fn: () => R): R {
    return this.docs.transaction(fn);
  }
}
