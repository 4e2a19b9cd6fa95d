import { mkdirSync, openSync, readSync, closeSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { rfc3339 } from '../../core/clock.ts';
import {
  AlreadyExists,
  ApiError,
  ConditionNotMet,
  InvalidArgument,
  NotFound,
  Unavailable,
} from '../../core/errors.ts';
import { contentEtag, numericId } from '../../core/ids.ts';
import { regionOfZone } from '../../core/locations.ts';
import type { OperationRecord } from '../../core/operations.ts';
import type { Platform } from '../../core/platform.ts';
import type { ContainerSpec, InstanceEndpoint } from './contracts.ts';
import { ensureDefaultServiceAccount } from './default-service-account.ts';
import { diskPath, DISK_TYPES, type DiskRecord } from './disks.ts';
import { imagePath, resolveSourceImage, type PublicImage } from './images.ts';
import type { ComputeEngines } from './instances-engines.ts';
import type { InstanceStore } from './instances-store.ts';
import {
  instancePath,
  type AccessConfigRecord,
  type ForwardedPort,
  type InstanceRecord,
  type InstanceStatus,
  type MetadataItem,
  type ProjectMetadataRecord,
} from './instances-store.ts';
import { openLoopbackProxy } from '../../platform/netfabric/relay.ts';
import { allocateExternalAddress, EXTERNAL_POOL, isExternalAddress } from './instances-external.ts';
import { findMachineType, machineTypeNameOf, type MachineType } from './machine-types.ts';
import { computeLink } from './presenters.ts';

export const NAME_PATTERN = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME_REGEX_TEXT = '[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?';
const METADATA_KEY = /^[a-zA-Z0-9-_]{1,128}$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const METADATA_LIMIT_BYTES = 512 * 1024;
const SERIAL_PAGE_BYTES = 1024 * 1024;
const STOP_TIMEOUT_MS = 30_000;
export const METADATA_HOSTS = ['169.254.169.254 metadata.google.internal metadata'];
export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** Metadata key listing extra instance ports an external access config forwards (`80,8080`). */
export const FORWARD_PORTS_KEY = 'nimbus-forward-ports';
const SSH_PORT = 22;

/** An open host forward of an instance port (an external access config realised on its natIP). */
interface OpenForward extends ForwardedPort {
  /** The external address it listens on (set once open). */
  address?: string;
  close(): Promise<void>;
}

/** The parts of Google's `AccessConfig` Nimbus reads. */
export interface AccessConfigInsert {
  name?: string;
  type?: string;
  networkTier?: string;
  natIP?: string;
}

/** Parses `nimbus-forward-ports` (`80,8080` or `80 8080`); undefined when it is not a port list. */
function parsePortList(value: string): number[] | undefined {
  const ports: number[] = [];
  for (const part of value.split(/[\s,]+/).filter((p) => p !== '')) {
    const port = /^\d{1,5}$/.test(part) ? Number(part) : 0;
    if (port < 1 || port > 65535) {
      return undefined;
    }
    ports.push(port);
  }
  return ports;
}

/**
 * The instance ports an external access config exposes on its natIP: 22 (ssh) and every port in
 * the `nimbus-forward-ports` metadata value. None without an access config.
 */
export function forwardedPortsOf(instance: InstanceRecord): number[] {
  if (instance.nic.accessConfigs.length === 0) {
    return [];
  }
  const listed = instance.metadata.find((m) => m.key === FORWARD_PORTS_KEY)?.value ?? '';
  return [...new Set([SSH_PORT, ...(parsePortList(listed) ?? [])])].sort((a, b) => a - b);
}

/** Validates one access config of a request (Nimbus: ONE_TO_ONE_NAT on loopback, ephemeral). */
function accessConfigOf(ac: AccessConfigInsert, field: string): AccessConfigRecord {
  const type = ac.type ?? 'ONE_TO_ONE_NAT';
  if (type !== 'ONE_TO_ONE_NAT') {
    throw invalidField(`${field}.type`, type, 'Nimbus supports ONE_TO_ONE_NAT access configs only.');
  }
  if (ac.natIP !== undefined && ac.natIP !== '') {
    throw invalidField(
      `${field}.natIP`,
      ac.natIP,
      `Nimbus external addresses are ephemeral loopback addresses from ${EXTERNAL_POOL}, assigned by Nimbus: leave natIP empty.`,
    );
  }
  const networkTier = ac.networkTier ?? 'PREMIUM';
  if (networkTier !== 'PREMIUM' && networkTier !== 'STANDARD') {
    throw invalidField(`${field}.networkTier`, networkTier, 'Must be PREMIUM or STANDARD.');
  }
  return { name: ac.name ?? 'External NAT', type, networkTier };
}

/** The parts of Google's `Instance` that insert reads (the rest is accepted and ignored). */
export interface InstanceInsert {
  name?: string;
  description?: string;
  machineType?: string;
  tags?: { items?: string[] };
  labels?: Record<string, string>;
  metadata?: { items?: { key: string; value?: string }[] };
  disks?: {
    boot?: boolean;
    autoDelete?: boolean;
    deviceName?: string;
    source?: string;
    initializeParams?: { diskName?: string; sourceImage?: string; diskSizeGb?: string; diskType?: string };
  }[];
  networkInterfaces?: {
    network?: string;
    subnetwork?: string;
    networkIP?: string;
    accessConfigs?: AccessConfigInsert[];
  }[];
  serviceAccounts?: { email?: string; scopes?: string[] }[];
  deletionProtection?: boolean;
  hostname?: string;
}

export interface Caller {
  /** Email of the caller (operation `user`). */
  user: string;
  /** Base URL for links. */
  base: string;
}

type Work = () => Promise<void>;

export interface Availability {
  ok: boolean;
  reason?: string;
  fix?: string;
}

function invalidField(field: string, value: string, why: string): InvalidArgument {
  return new InvalidArgument(`Invalid value for field '${field}': '${value}'. ${why}`, { reason: 'invalid' });
}

function notFound(path: string): NotFound {
  return new NotFound(`The resource '${path}' was not found`, { reason: 'notFound' });
}

/** The last path segment of a reference after `collection/` (`global/networks/default` -> `default`). */
function refName(reference: string, collection: string): string {
  const at = reference.lastIndexOf(`${collection}/`);
  return at < 0 ? reference : reference.slice(at + collection.length + 1);
}

export function fingerprintOf(value: unknown): string {
  return contentEtag(value);
}

/**
 * Compute Engine instances and their boot disks: validation, the status lifecycle, and the engines
 * (container runtime, VPC dataplane) that make an instance real. Mutations return zone operations;
 * the engine work runs in the background, one mutation at a time per instance.
 */
export class InstancesService {
  private readonly chains = new Map<string, Promise<void>>();
  /** Open host forwards by instance id (external access configs). */
  private readonly forwards = new Map<string, OpenForward[]>();
  private availability: Availability | undefined;
  private checking: Promise<Availability> | undefined;

  constructor(
    private readonly platform: Platform,
    readonly store: InstanceStore,
    readonly engines: ComputeEngines,
  ) {}

  /**
   * Whether the engine can run instances. Checked on first use (never at app build: the check may
   * install Debian packages); a failed check is repeated on the next use, a passed one is kept.
   */
  async checkAvailability(): Promise<Availability> {
    if (this.availability?.ok === true) {
      return this.availability;
    }
    this.checking ??= (async (): Promise<Availability> => {
      try {
        return await this.engines.runtime.available();
      } catch (error) {
        return {
          ok: false,
          reason: error instanceof Error ? error.message : String(error),
          fix: 'see DATA_DIR/logs/nimbus.log',
        };
      }
    })();
    try {
      this.availability = await this.checking;
    } finally {
      this.checking = undefined;
    }
    return this.availability;
  }

  /** The last availability check's result (undefined before the first). */
  status(): Availability | undefined {
    return this.availability;
  }

  private async requireEngine(): Promise<void> {
    const availability = await this.checkAvailability();
    if (!availability.ok) {
      throw new Unavailable(
        `Compute Engine is unavailable on this machine: ${availability.reason ?? 'the container engine is missing'}.${availability.fix === undefined ? '' : ` Fix: ${availability.fix}`}`,
      );
    }
  }

  // --- paths and lookups ---------------------------------------------------------------------

  private dataDir(...parts: string[]): string {
    return join(this.platform.config.dataDir, 'instances', ...parts);
  }

  diskDir(disk: DiskRecord): string {
    return this.dataDir('disks', disk.id);
  }

  serialLogPath(instance: InstanceRecord): string {
    return this.dataDir('serial', `${instance.id}.log`);
  }

  static containerId(instance: InstanceRecord): string {
    return `nimbus-${instance.id}`;
  }

  requireZone(zone: string): string {
    const region = regionOfZone(zone);
    if (region === undefined) {
      throw invalidField('zone', zone, 'Unknown zone.');
    }
    return region;
  }

  get(project: string, zone: string, name: string): InstanceRecord {
    this.requireZone(zone);
    const path = instancePath(project, zone, name);
    const instance = this.store.getInstance(path);
    if (instance === undefined) {
      throw notFound(path);
    }
    return instance;
  }

  findById(id: string): InstanceRecord | undefined {
    return this.store.allInstances().find((i) => i.id === id);
  }

  getDisk(project: string, zone: string, name: string): DiskRecord {
    this.requireZone(zone);
    const path = diskPath(project, zone, name);
    const disk = this.store.getDisk(path);
    if (disk === undefined) {
      throw notFound(path);
    }
    return disk;
  }

  /** The project's default compute service account (created in IAM on first use, as on Google). */
  defaultServiceAccount(project: string): string {
    return ensureDefaultServiceAccount(this.platform, project);
  }

  // --- insert --------------------------------------------------------------------------------

  async insert(
    project: string,
    zone: string,
    body: InstanceInsert,
    caller: Caller,
  ): Promise<OperationRecord> {
    const region = this.requireZone(zone);
    const name = body.name ?? '';
    if (name === '') {
      throw new InvalidArgument("Required field 'resource.name' not specified", { reason: 'required' });
    }
    if (!NAME_PATTERN.test(name)) {
      throw invalidField('resource.name', name, `Must be a match of regex '${NAME_REGEX_TEXT}'`);
    }
    const machineTypeRef = body.machineType ?? '';
    if (machineTypeRef === '') {
      throw new InvalidArgument("Required field 'resource.machineType' not specified", {
        reason: 'required',
      });
    }
    const machineType = this.requireMachineType(machineTypeRef, zone);
    const boot = this.bootDiskOf(project, zone, name, body);
    const nic = this.nicOf(project, region, body);
    const metadata = this.validateMetadata(body.metadata?.items ?? []);
    const labels = this.validateLabels(body.labels ?? {});
    const tags = this.validateTags(body.tags?.items ?? []);
    // Google creates the default compute service account when a project starts using compute.
    const defaultAccount = this.defaultServiceAccount(project);
    const serviceAccounts = (body.serviceAccounts ?? []).map((sa) => ({
      email: sa.email === undefined || sa.email === 'default' ? defaultAccount : sa.email,
      scopes: sa.scopes ?? [CLOUD_PLATFORM],
    }));
    await this.requireEngine();

    const now = rfc3339(this.platform.clock.now());
    const path = instancePath(project, zone, name);
    const instance: InstanceRecord = {
      project,
      zone,
      name,
      id: numericId(19),
      creationTimestamp: now,
      machineType: machineType.name,
      status: 'PROVISIONING',
      tags,
      tagsFingerprint: fingerprintOf(tags),
      labels,
      labelFingerprint: fingerprintOf(labels),
      metadata,
      metadataFingerprint: fingerprintOf(metadata),
      serviceAccounts,
      nic,
      bootDisk: { name: boot.disk.name, autoDelete: boot.autoDelete, deviceName: boot.deviceName },
      deletionProtection: body.deletionProtection ?? false,
    };
    if (body.description !== undefined) {
      instance.description = body.description;
    }
    if (body.hostname !== undefined) {
      instance.hostname = body.hostname;
    }
    const disk: DiskRecord = { ...boot.disk, users: [path], lastAttachTimestamp: now };
    this.store.transaction(() => {
      if (this.store.getInstance(path) !== undefined) {
        throw new AlreadyExists(`The resource '${path}' already exists`, { reason: 'alreadyExists' });
      }
      if (boot.existing) {
        const current = this.store.getDisk(diskPath(project, zone, disk.name));
        if (current === undefined || current.users.length > 0) {
          throw new InvalidArgument(
            `The disk resource '${diskPath(project, zone, disk.name)}' is already being used by another instance`,
            { reason: 'resourceInUseByAnotherResource' },
          );
        }
      } else if (!this.store.insertDisk(disk)) {
        throw new AlreadyExists(`The resource '${diskPath(project, zone, disk.name)}' already exists`, {
          reason: 'alreadyExists',
        });
      }
      if (boot.existing) {
        this.store.putDisk(disk);
      }
      if (instance.nic.accessConfigs.length > 0) {
        instance.nic.externalIP = this.allocateExternalIP();
      }
      this.store.insertInstance(instance);
    });

    return this.operation(project, zone, 'insert', instance, caller, async () => {
      try {
        this.setStatus(path, 'STAGING');
        await this.engines.runtime.ensureImage(disk.engineImage);
        mkdirSync(this.diskDir(disk), { recursive: true });
        if (disk.status === 'CREATING') {
          this.updateDisk(diskPath(project, zone, disk.name), (d) => ({ ...d, status: 'READY' }));
        }
        await this.boot(path);
      } catch (error) {
        await this.undoInsert(path, boot.existing);
        throw error;
      }
    });
  }

  private requireMachineType(reference: string, zone: string): MachineType {
    const typeName = machineTypeNameOf(reference);
    const machineType = findMachineType(typeName);
    if (machineType === undefined) {
      throw invalidField(
        'resource.machineType',
        reference,
        `Machine type with name '${typeName}' does not exist in zone '${zone}'.`,
      );
    }
    return machineType;
  }

  private bootDiskOf(
    project: string,
    zone: string,
    instanceName: string,
    body: InstanceInsert,
  ): { disk: DiskRecord; autoDelete: boolean; deviceName: string; existing: boolean } {
    const disks = body.disks ?? [];
    if (disks.length === 0) {
      throw new InvalidArgument(
        "Invalid value for field 'resource.disks': ''. Boot disk must be specified.",
        {
          reason: 'invalid',
        },
      );
    }
    if (disks.length > 1) {
      throw new InvalidArgument('Nimbus instances support one (boot) disk for now.', { reason: 'invalid' });
    }
    const spec = disks[0] ?? {};
    const autoDelete = spec.autoDelete ?? spec.source === undefined;
    if (spec.source !== undefined) {
      const diskName = refName(spec.source, 'disks');
      const existing = this.store.getDisk(diskPath(project, zone, diskName));
      if (existing === undefined) {
        throw notFound(diskPath(project, zone, diskName));
      }
      return { disk: existing, autoDelete, deviceName: spec.deviceName ?? diskName, existing: true };
    }
    const params = spec.initializeParams ?? {};
    const diskName = params.diskName ?? instanceName;
    if (!NAME_PATTERN.test(diskName)) {
      throw invalidField(
        'resource.disks[0].initializeParams.diskName',
        diskName,
        `Must be a match of regex '${NAME_REGEX_TEXT}'`,
      );
    }
    const sourceImage = params.sourceImage ?? '';
    if (sourceImage === '') {
      throw new InvalidArgument(
        "Invalid value for field 'resource.disks[0].initializeParams.sourceImage': ''. A source image or source disk is required.",
        { reason: 'invalid' },
      );
    }
    const image: PublicImage | undefined = resolveSourceImage(sourceImage, project);
    if (image === undefined) {
      throw invalidField(
        'resource.disks[0].initializeParams.sourceImage',
        sourceImage,
        'The referenced image resource cannot be found.',
      );
    }
    let sizeGb = image.diskSizeGb;
    if (params.diskSizeGb !== undefined) {
      if (!/^\d{1,6}$/.test(params.diskSizeGb)) {
        throw invalidField(
          'resource.disks[0].initializeParams.diskSizeGb',
          params.diskSizeGb,
          'Must be an integer.',
        );
      }
      sizeGb = Number(params.diskSizeGb);
      if (sizeGb < image.diskSizeGb) {
        throw new InvalidArgument(
          `Invalid value for field 'resource.disks[0].initializeParams.diskSizeGb': '${params.diskSizeGb}'. Requested disk size cannot be smaller than the image size (${String(image.diskSizeGb)} GB)`,
          { reason: 'invalid' },
        );
      }
    }
    const type = params.diskType === undefined ? 'pd-balanced' : refName(params.diskType, 'diskTypes');
    if (!DISK_TYPES.includes(type)) {
      throw invalidField(
        'resource.disks[0].initializeParams.diskType',
        params.diskType ?? '',
        'Unknown disk type.',
      );
    }
    const now = rfc3339(this.platform.clock.now());
    return {
      disk: {
        project,
        zone,
        name: diskName,
        id: numericId(19),
        creationTimestamp: now,
        sizeGb,
        status: 'CREATING',
        sourceImage: imagePath(image),
        sourceImageId: String(imagePath(image).length),
        engineImage: image.engineImage,
        type,
        users: [],
        labels: {},
        labelFingerprint: fingerprintOf({}),
      },
      autoDelete,
      deviceName: spec.deviceName ?? diskName,
      existing: false,
    };
  }

  private nicOf(project: string, region: string, body: InstanceInsert): InstanceRecord['nic'] {
    const nics = body.networkInterfaces ?? [];
    if (nics.length > 1) {
      throw new InvalidArgument('Nimbus instances support one network interface for now.', {
        reason: 'invalid',
      });
    }
    const requested = nics[0] ?? {};
    const network = requested.network === undefined ? 'default' : refName(requested.network, 'networks');
    if (requested.subnetwork !== undefined) {
      const subnetRegion = /regions\/([^/]+)\/subnetworks\//.exec(requested.subnetwork)?.[1];
      if (subnetRegion !== undefined && subnetRegion !== region) {
        throw invalidField(
          'resource.networkInterfaces[0].subnetwork',
          requested.subnetwork,
          `Subnetwork must be in region '${region}'.`,
        );
      }
    }
    const subnetwork =
      requested.subnetwork === undefined
        ? this.defaultSubnetwork(project, network, region)
        : refName(requested.subnetwork, 'subnetworks');
    if (!NAME_PATTERN.test(network) || !NAME_PATTERN.test(subnetwork)) {
      throw invalidField(
        'resource.networkInterfaces[0].network',
        requested.network ?? '',
        'Invalid network.',
      );
    }
    if (
      this.engines.networkExists !== undefined &&
      !this.engines.networkExists(project, network, region, subnetwork)
    ) {
      throw new NotFound(
        requested.subnetwork === undefined
          ? `The resource 'projects/${project}/global/networks/${network}' was not found`
          : `The resource 'projects/${project}/regions/${region}/subnetworks/${subnetwork}' was not found`,
        { reason: 'notFound' },
      );
    }
    if (requested.networkIP !== undefined && !/^(\d{1,3})(\.\d{1,3}){3}$/.test(requested.networkIP)) {
      throw invalidField(
        'resource.networkInterfaces[0].networkIP',
        requested.networkIP,
        'Must be an IPv4 address.',
      );
    }
    if ((requested.accessConfigs ?? []).length > 1) {
      throw new InvalidArgument('At most one access config currently supported.', { reason: 'invalid' });
    }
    const accessConfigs: AccessConfigRecord[] = (requested.accessConfigs ?? []).map((ac, index) =>
      accessConfigOf(ac, `resource.networkInterfaces[0].accessConfigs[${String(index)}]`),
    );
    const nic: InstanceRecord['nic'] = { network, subnetwork, region, accessConfigs };
    if (requested.networkIP !== undefined) {
      nic.requestedIP = requested.networkIP;
    }
    return nic;
  }

  /**
   * The subnetwork when a request names only the network: an auto-mode network's subnet is named
   * like the network; a custom-mode network must have exactly one subnet in the region (none: the
   * network check reports what is missing).
   */
  private defaultSubnetwork(project: string, network: string, region: string): string {
    const candidates = this.engines.subnetworksOf?.(project, network, region);
    if (candidates === undefined || candidates.length === 0 || candidates.includes(network)) {
      return network;
    }
    if (candidates.length === 1 && candidates[0] !== undefined) {
      return candidates[0];
    }
    throw new InvalidArgument(
      "Invalid value for field 'resource.networkInterfaces[0]': ''. Subnetwork should be specified for custom subnetmode network",
      { reason: 'invalid' },
    );
  }

  private validateMetadata(items: { key: string; value?: string }[]): MetadataItem[] {
    const seen = new Set<string>();
    let size = 0;
    const out: MetadataItem[] = [];
    for (const [index, item] of items.entries()) {
      if (!METADATA_KEY.test(item.key)) {
        throw invalidField(
          `metadata.items[${String(index)}].key`,
          item.key,
          "Must be a match of regex '[a-zA-Z0-9-_]{1,128}'",
        );
      }
      if (seen.has(item.key)) {
        throw new InvalidArgument(`Metadata has duplicate keys: ${item.key}.`, { reason: 'invalid' });
      }
      seen.add(item.key);
      const value = item.value ?? '';
      if (item.key === FORWARD_PORTS_KEY && parsePortList(value) === undefined) {
        throw invalidField(
          `metadata.items[${String(index)}].value`,
          value,
          `${FORWARD_PORTS_KEY} must list TCP ports (1-65535) separated by commas.`,
        );
      }
      size += item.key.length + Buffer.byteLength(value);
      out.push({ key: item.key, value });
    }
    if (size > METADATA_LIMIT_BYTES) {
      throw new InvalidArgument('Metadata total size exceeds the 512 KB limit.', { reason: 'invalid' });
    }
    return out;
  }

  private validateLabels(labels: Record<string, string>): Record<string, string> {
    for (const [key, value] of Object.entries(labels)) {
      if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
        throw new InvalidArgument(
          `Invalid value for field 'labels': '${key}=${value}'. Label keys and values must be lowercase letters, digits, '-' or '_' (keys start with a letter, at most 63 characters).`,
          { reason: 'invalid' },
        );
      }
    }
    return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  private validateTags(tags: string[]): string[] {
    for (const tag of tags) {
      if (!NAME_PATTERN.test(tag)) {
        throw invalidField('tags.items', tag, `Must be a match of regex '${NAME_REGEX_TEXT}'`);
      }
    }
    return [...new Set(tags)].sort();
  }

  // --- the lifecycle -------------------------------------------------------------------------

  private operation(
    project: string,
    zone: string,
    operationType: string,
    instance: InstanceRecord,
    caller: Caller,
    work?: Work,
  ): OperationRecord {
    const spec = {
      family: 'compute' as const,
      project,
      scope: `zones/${zone}`,
      operationType,
      targetLink: computeLink(caller.base, instancePath(project, zone, instance.name)),
      targetId: instance.id,
      user: caller.user,
    };
    if (work === undefined) {
      return this.platform.operations.completed(spec);
    }
    const path = instancePath(project, zone, instance.name);
    // PENDING while earlier mutations of the instance run, RUNNING once its own work begins.
    return this.platform.operations.start(
      spec,
      (op) =>
        this.serialize(path, async () => {
          this.platform.operations.markRunning(op.name);
          await work();
        }),
      { pending: true },
    );
  }

  /** Runs `work` after every earlier mutation of the same instance has finished. */
  private serialize(path: string, work: Work): Promise<void> {
    const previous = this.chains.get(path) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.chains.set(path, tail);
    void tail.then(() => {
      if (this.chains.get(path) === tail) {
        this.chains.delete(path);
      }
    });
    return next;
  }

  private update(path: string, change: (instance: InstanceRecord) => InstanceRecord): InstanceRecord {
    return this.store.transaction(() => {
      const current = this.store.getInstance(path);
      if (current === undefined) {
        throw notFound(path);
      }
      const next = change(current);
      this.store.putInstance(next);
      return next;
    });
  }

  private updateDisk(path: string, change: (disk: DiskRecord) => DiskRecord): void {
    this.store.transaction(() => {
      const current = this.store.getDisk(path);
      if (current !== undefined) {
        this.store.putDisk(change(current));
      }
    });
  }

  private setStatus(
    path: string,
    status: InstanceStatus,
    extra: Partial<InstanceRecord> = {},
  ): InstanceRecord {
    return this.update(path, (i) => ({ ...i, ...extra, status }));
  }

  private endpointOf(instance: InstanceRecord): InstanceEndpoint {
    return {
      instanceId: instance.id,
      project: instance.project,
      zone: instance.zone,
      name: instance.name,
      tags: instance.tags,
      serviceAccounts: instance.serviceAccounts.map((sa) => sa.email),
    };
  }

  /** Wires the network (when a dataplane exists) and starts the container; ends RUNNING. */
  private async boot(path: string): Promise<void> {
    let instance = this.setStatus(path, 'STAGING');
    const disk = this.store.getDisk(diskPath(instance.project, instance.zone, instance.bootDisk.name));
    if (disk === undefined) {
      throw notFound(diskPath(instance.project, instance.zone, instance.bootDisk.name));
    }
    let netnsPath: string | undefined;
    if (this.engines.dataplane !== undefined) {
      const nicRequest = {
        project: instance.project,
        network: instance.nic.network,
        subnetwork: instance.nic.subnetwork,
        region: instance.nic.region,
      };
      const requestedIP = instance.nic.networkIP ?? instance.nic.requestedIP;
      const attached = await this.engines.dataplane.attachInstance(
        this.endpointOf(instance),
        requestedIP === undefined ? nicRequest : { ...nicRequest, networkIP: requestedIP },
      );
      netnsPath = attached.netnsPath;
      instance = this.update(path, (i) => ({ ...i, nic: { ...i.nic, networkIP: attached.networkIP } }));
    }
    const machineType = findMachineType(instance.machineType);
    if (machineType === undefined) {
      throw new InvalidArgument(`Unknown machine type '${instance.machineType}'.`);
    }
    mkdirSync(this.dataDir('serial'), { recursive: true });
    mkdirSync(this.diskDir(disk), { recursive: true });
    const spec: ContainerSpec = {
      id: InstancesService.containerId(instance),
      hostname: instance.name,
      image: disk.engineImage,
      diskDir: this.diskDir(disk),
      cpus: machineType.guestCpus,
      cpuShare: machineType.cpuShare,
      memoryMb: machineType.memoryMb,
      pids: 4096,
      serialLogPath: this.serialLogPath(instance),
      hosts: METADATA_HOSTS,
    };
    if (netnsPath !== undefined) {
      spec.netnsPath = netnsPath;
    }
    await this.engines.runtime.start(spec);
    this.setStatus(path, 'RUNNING', { lastStartTimestamp: rfc3339(this.platform.clock.now()) });
    await this.syncForwards(path);
  }

  // --- external access (host port forwards) --------------------------------------------------

  /** A free address of the external pool (call inside a store transaction). */
  private allocateExternalIP(): string {
    const used = new Set<string>();
    for (const other of this.store.allInstances()) {
      if (other.nic.externalIP !== undefined) {
        used.add(other.nic.externalIP);
      }
    }
    return allocateExternalAddress(this.platform.config.dataDir, used);
  }

  /** The instance's external address, allocated now for records made before addresses existed. */
  private ensureExternalIP(path: string): string | undefined {
    return this.store.transaction(() => {
      const current = this.store.getInstance(path);
      if (current === undefined || current.nic.accessConfigs.length === 0) {
        return undefined;
      }
      if (current.nic.externalIP !== undefined && isExternalAddress(current.nic.externalIP)) {
        return current.nic.externalIP;
      }
      const externalIP = this.allocateExternalIP();
      this.store.putInstance({ ...current, nic: { ...current.nic, externalIP } });
      return externalIP;
    });
  }

  /**
   * Opens one forward of an instance port on its external address: the dataplane relays a free
   * 127.0.0.1 port into the instance's namespace, and a proxy on `address` listens on the instance's
   * own port number (22 -> 22), else on the port it had last, else on any free port (a host service
   * already listening on 0.0.0.0:22, or no root for ports below 1024).
   */
  private async openForward(
    instanceId: string,
    port: number,
    address: string,
    previous: number | undefined,
  ): Promise<OpenForward> {
    const dataplane = this.engines.dataplane;
    if (dataplane === undefined) {
      throw new Error('no VPC dataplane');
    }
    const inner = await dataplane.forwardPort(instanceId, port, 0);
    const candidates = [...new Set([port, previous ?? 0, 0])];
    let lastError: unknown;
    for (const candidate of candidates) {
      try {
        const front = await openLoopbackProxy(address, candidate, inner.hostPort);
        return {
          port,
          hostPort: front.hostPort,
          close: async () => {
            await front.close();
            await inner.close();
          },
        };
      } catch (error) {
        lastError = error;
      }
    }
    await inner.close().catch(() => undefined);
    throw lastError instanceof Error ? lastError : new Error(String(lastError));
  }

  /**
   * Makes the open host forwards match the instance's access config: ports 22 and
   * `nimbus-forward-ports` forwarded from the instance's external address (127.77.x.y) on the same
   * port numbers when possible, none without an access config. A forward that cannot open is
   * logged, never fatal.
   */
  private async syncForwards(path: string): Promise<void> {
    const dataplane = this.engines.dataplane;
    const instance = this.store.getInstance(path);
    if (dataplane === undefined || instance?.nic.networkIP === undefined) {
      return;
    }
    const address = this.ensureExternalIP(path);
    const wanted = new Set(address === undefined ? [] : forwardedPortsOf(instance));
    const kept: OpenForward[] = [];
    for (const forward of this.forwards.get(instance.id) ?? []) {
      if (wanted.has(forward.port) && forward.address === address) {
        kept.push(forward);
      } else {
        await forward.close().catch(() => undefined);
      }
    }
    for (const port of wanted) {
      if (address === undefined || kept.some((f) => f.port === port)) {
        continue;
      }
      try {
        const opened = await this.openForward(
          instance.id,
          port,
          address,
          instance.nic.hostPorts?.[String(port)],
        );
        kept.push({ ...opened, address });
      } catch (error) {
        this.platform.log.warn({ err: error, instance: path, port }, 'could not forward an instance port');
      }
    }
    kept.sort((a, b) => a.port - b.port);
    if (kept.length > 0) {
      this.forwards.set(instance.id, kept);
    } else {
      this.forwards.delete(instance.id);
    }
    this.recordForwards(path, kept);
  }

  /** Closes the instance's host forwards (stop, delete); its access config stays, without natIP. */
  private async closeForwards(path: string, instanceId: string): Promise<void> {
    for (const forward of this.forwards.get(instanceId) ?? []) {
      await forward.close().catch(() => undefined);
    }
    this.forwards.delete(instanceId);
    this.recordForwards(path, []);
  }

  /** Reports open forwards in `accessConfigs[0]` (natIP + nimbusForwardedPorts) and remembers the host ports. */
  private recordForwards(path: string, open: ForwardedPort[]): void {
    this.store.transaction(() => {
      const current = this.store.getInstance(path);
      if (current === undefined) {
        return;
      }
      const hostPorts = { ...(current.nic.hostPorts ?? {}) };
      for (const forward of open) {
        hostPorts[String(forward.port)] = forward.hostPort;
      }
      const accessConfigs = current.nic.accessConfigs.map((ac, index): AccessConfigRecord => {
        const base = { name: ac.name, type: ac.type, networkTier: ac.networkTier };
        if (index !== 0 || open.length === 0) {
          return base;
        }
        return {
          ...base,
          natIP: current.nic.externalIP ?? '',
          nimbusForwardedPorts: open.map((f) => ({ port: f.port, hostPort: f.hostPort })),
        };
      });
      this.store.putInstance({ ...current, nic: { ...current.nic, accessConfigs, hostPorts } });
    });
  }

  /**
   * Server shutdown: closes every host forward (the listeners on 127.77.x.y die with the process
   * anyway; an in-process restart must find the ports free). The records keep their natIP: the next
   * start's reconcile reopens the forwards on the same address and ports.
   */
  async closeHostForwards(): Promise<void> {
    const all = [...this.forwards.values()].flat();
    this.forwards.clear();
    await Promise.all(all.map((forward) => forward.close().catch(() => undefined)));
  }

  /** Host ports open right now for an instance (`nimbus compute ssh --print-ssh`, tests). */
  forwardedPorts(instanceId: string): ForwardedPort[] {
    return (this.forwards.get(instanceId) ?? []).map((f) => ({ port: f.port, hostPort: f.hostPort }));
  }

  private requireNic0(networkInterface: string | undefined): void {
    if (networkInterface !== undefined && networkInterface !== 'nic0') {
      throw invalidField(
        'networkInterface',
        networkInterface,
        'The instance has one network interface: nic0.',
      );
    }
  }

  /** Work that re-syncs forwards when the instance is up (else the next boot opens them). */
  private forwardsWork(path: string): Work | undefined {
    const status = this.store.getInstance(path)?.status;
    return this.engines.dataplane !== undefined && (status === 'RUNNING' || status === 'SUSPENDED')
      ? () => this.syncForwards(path)
      : undefined;
  }

  addAccessConfig(
    project: string,
    zone: string,
    name: string,
    networkInterface: string | undefined,
    body: AccessConfigInsert,
    caller: Caller,
  ): OperationRecord {
    this.get(project, zone, name);
    this.requireNic0(networkInterface);
    const config = accessConfigOf(body, 'resource');
    const path = instancePath(project, zone, name);
    const updated = this.update(path, (i) => {
      if (i.nic.accessConfigs.length > 0) {
        throw new InvalidArgument('At most one access config currently supported.', { reason: 'invalid' });
      }
      return { ...i, nic: { ...i.nic, accessConfigs: [config], externalIP: this.allocateExternalIP() } };
    });
    return this.operation(project, zone, 'addAccessConfig', updated, caller, this.forwardsWork(path));
  }

  deleteAccessConfig(
    project: string,
    zone: string,
    name: string,
    networkInterface: string | undefined,
    accessConfig: string | undefined,
    caller: Caller,
  ): OperationRecord {
    this.get(project, zone, name);
    this.requireNic0(networkInterface);
    if (accessConfig === undefined || accessConfig === '') {
      throw new InvalidArgument("Required field 'accessConfig' not specified", { reason: 'required' });
    }
    const path = instancePath(project, zone, name);
    const updated = this.update(path, (i) => {
      if (!i.nic.accessConfigs.some((ac) => ac.name === accessConfig)) {
        throw invalidField('accessConfig', accessConfig, 'No access config with this name on nic0.');
      }
      const accessConfigs = i.nic.accessConfigs.filter((ac) => ac.name !== accessConfig);
      const nic: InstanceRecord['nic'] = { ...i.nic, accessConfigs };
      if (accessConfigs.length === 0) {
        // The ephemeral address goes back to the pool, as Google releases an ephemeral external IP.
        delete nic.externalIP;
        delete nic.hostPorts;
      }
      return { ...i, nic };
    });
    return this.operation(project, zone, 'deleteAccessConfig', updated, caller, this.forwardsWork(path));
  }

  private async stopContainer(instance: InstanceRecord, timeoutMs: number): Promise<void> {
    const id = InstancesService.containerId(instance);
    const state = await this.engines.runtime.state(id);
    if (state === 'paused') {
      await this.engines.runtime.resume(id);
    }
    if (state !== 'absent') {
      await this.engines.runtime.stop(id, timeoutMs);
    }
  }

  private async undoInsert(path: string, existingDisk: boolean): Promise<void> {
    const instance = this.store.getInstance(path);
    if (instance === undefined) {
      return;
    }
    await this.closeForwards(path, instance.id);
    await this.stopContainer(instance, 0).catch(() => undefined);
    await this.engines.dataplane?.detachInstance(instance.id).catch(() => undefined);
    const dPath = diskPath(instance.project, instance.zone, instance.bootDisk.name);
    const disk = this.store.getDisk(dPath);
    this.store.transaction(() => {
      this.store.deleteInstance(path);
      if (existingDisk) {
        this.updateDisk(dPath, (d) => ({ ...d, users: [] }));
      } else {
        this.store.deleteDisk(dPath);
      }
    });
    if (disk !== undefined && !existingDisk) {
      rmSync(this.diskDir(disk), { recursive: true, force: true });
    }
    rmSync(this.serialLogPath(instance), { force: true });
  }

  async start(project: string, zone: string, name: string, caller: Caller): Promise<OperationRecord> {
    const instance = this.get(project, zone, name);
    await this.requireEngine();
    if (instance.status === 'RUNNING') {
      return this.operation(project, zone, 'start', instance, caller);
    }
    if (instance.status === 'SUSPENDED' || instance.status === 'SUSPENDING') {
      throw new InvalidArgument(`The instance '${name}' is suspended. Resume it with instances.resume.`, {
        reason: 'resourceNotReady',
      });
    }
    const path = instancePath(project, zone, name);
    return this.operation(project, zone, 'start', instance, caller, async () => {
      const current = this.store.getInstance(path);
      if (current === undefined) {
        throw notFound(path);
      }
      if (current.status === 'RUNNING') {
        return;
      }
      if (current.status !== 'TERMINATED') {
        throw new InvalidArgument(`The instance is ${current.status} and cannot be started.`, {
          reason: 'resourceNotReady',
        });
      }
      try {
        await this.boot(path);
      } catch (error) {
        this.setStatus(path, 'TERMINATED');
        throw error;
      }
    });
  }

  async stop(project: string, zone: string, name: string, caller: Caller): Promise<OperationRecord> {
    const instance = this.get(project, zone, name);
    await this.requireEngine();
    if (instance.status === 'TERMINATED') {
      return this.operation(project, zone, 'stop', instance, caller);
    }
    const path = instancePath(project, zone, name);
    return this.operation(project, zone, 'stop', instance, caller, async () => {
      const current = this.store.getInstance(path);
      if (current === undefined) {
        throw notFound(path);
      }
      if (current.status === 'TERMINATED') {
        return;
      }
      this.setStatus(path, 'STOPPING');
      await this.closeForwards(path, current.id);
      await this.stopContainer(current, STOP_TIMEOUT_MS);
      // A stopped instance keeps its internal address (as on Google); its namespace goes away.
      await this.engines.dataplane?.detachInstance(current.id, { keepAddress: true });
      this.setStatus(path, 'TERMINATED', { lastStopTimestamp: rfc3339(this.platform.clock.now()) });
    });
  }

  async suspend(project: string, zone: string, name: string, caller: Caller): Promise<OperationRecord> {
    const instance = this.get(project, zone, name);
    await this.requireEngine();
    if (instance.status === 'SUSPENDED') {
      return this.operation(project, zone, 'suspend', instance, caller);
    }
    this.requireRunningOrStarting(instance);
    const path = instancePath(project, zone, name);
    return this.operation(project, zone, 'suspend', instance, caller, async () => {
      const current = this.store.getInstance(path);
      if (current?.status !== 'RUNNING') {
        throw new InvalidArgument('The instance is not running.', { reason: 'resourceNotReady' });
      }
      this.setStatus(path, 'SUSPENDING');
      try {
        await this.engines.runtime.pause(InstancesService.containerId(current));
      } catch (error) {
        this.setStatus(path, 'RUNNING');
        throw error;
      }
      this.setStatus(path, 'SUSPENDED', { lastSuspendedTimestamp: rfc3339(this.platform.clock.now()) });
    });
  }

  async resume(project: string, zone: string, name: string, caller: Caller): Promise<OperationRecord> {
    const instance = this.get(project, zone, name);
    await this.requireEngine();
    if (instance.status !== 'SUSPENDED' && instance.status !== 'SUSPENDING') {
      throw new InvalidArgument(`The instance '${name}' is not suspended.`, { reason: 'resourceNotReady' });
    }
    const path = instancePath(project, zone, name);
    return this.operation(project, zone, 'resume', instance, caller, async () => {
      const current = this.store.getInstance(path);
      if (current?.status !== 'SUSPENDED') {
        throw new InvalidArgument('The instance is not suspended.', { reason: 'resourceNotReady' });
      }
      this.setStatus(path, 'STAGING');
      try {
        await this.engines.runtime.resume(InstancesService.containerId(current));
      } catch (error) {
        this.setStatus(path, 'SUSPENDED');
        throw error;
      }
      this.setStatus(path, 'RUNNING');
    });
  }

  async reset(project: string, zone: string, name: string, caller: Caller): Promise<OperationRecord> {
    const instance = this.get(project, zone, name);
    await this.requireEngine();
    this.requireRunningOrStarting(instance);
    const path = instancePath(project, zone, name);
    return this.operation(project, zone, 'reset', instance, caller, async () => {
      const current = this.store.getInstance(path);
      if (current?.status !== 'RUNNING') {
        throw new InvalidArgument('The instance is not running.', { reason: 'resourceNotReady' });
      }
      await this.stopContainer(current, 0);
      await this.boot(path);
    });
  }

  private requireRunningOrStarting(instance: InstanceRecord): void {
    if (!['RUNNING', 'PROVISIONING', 'STAGING'].includes(instance.status)) {
      throw new InvalidArgument(
        `The resource '${instancePath(instance.project, instance.zone, instance.name)}' is not ready`,
        { reason: 'resourceNotReady' },
      );
    }
  }

  async delete(project: string, zone: string, name: string, caller: Caller): Promise<OperationRecord> {
    const instance = this.get(project, zone, name);
    const engineReady = (await this.checkAvailability()).ok;
    if (instance.deletionProtection) {
      throw new InvalidArgument(
        `Invalid resource usage: 'Resource cannot be deleted if it's protected against deletion.'.`,
        { reason: 'resourceInUseByAnotherResource' },
      );
    }
    const path = instancePath(project, zone, name);
    return this.operation(project, zone, 'delete', instance, caller, async () => {
      const current = this.store.getInstance(path);
      if (current === undefined) {
        return;
      }
      this.setStatus(path, 'STOPPING');
      await this.closeForwards(path, current.id);
      if (engineReady) {
        await this.stopContainer(current, STOP_TIMEOUT_MS);
      }
      await this.engines.dataplane?.detachInstance(current.id);
      const dPath = diskPath(project, zone, current.bootDisk.name);
      const disk = this.store.getDisk(dPath);
      const now = rfc3339(this.platform.clock.now());
      this.store.transaction(() => {
        this.store.deleteInstance(path);
        if (current.bootDisk.autoDelete) {
          this.store.deleteDisk(dPath);
        } else {
          this.updateDisk(dPath, (d) => ({
            ...d,
            users: d.users.filter((u) => u !== path),
            lastDetachTimestamp: now,
          }));
        }
      });
      if (disk !== undefined && current.bootDisk.autoDelete) {
        rmSync(this.diskDir(disk), { recursive: true, force: true });
      }
      rmSync(this.serialLogPath(current), { force: true });
    });
  }

  // --- project-wide metadata (projects.get, setCommonInstanceMetadata) -------------------------

  /** The project's common instance metadata (what guests read under `project/attributes/`). */
  projectMetadata(project: string): ProjectMetadataRecord {
    return this.store.getProjectMetadata(project) ?? { items: [], fingerprint: fingerprintOf([]) };
  }

  setCommonInstanceMetadata(
    project: string,
    body: { fingerprint?: string; items?: { key: string; value?: string }[] },
    caller: Caller,
  ): OperationRecord {
    const items = this.validateMetadata(body.items ?? []);
    this.store.transaction(() => {
      const current = this.projectMetadata(project);
      // Google: a fingerprint is optional here, and a stale one is refused.
      if (
        body.fingerprint !== undefined &&
        body.fingerprint !== '' &&
        body.fingerprint !== current.fingerprint
      ) {
        throw new ConditionNotMet('Supplied fingerprint does not match current metadata fingerprint.');
      }
      this.store.putProjectMetadata(project, {
        items,
        fingerprint: fingerprintOf({ items, at: this.platform.clock.now() }),
      });
    });
    return this.platform.operations.completed({
      family: 'compute',
      project,
      scope: 'global',
      operationType: 'setMetadata',
      targetLink: computeLink(caller.base, `projects/${project}`),
      targetId: this.platform.projects.find(project)?.projectNumber ?? '0',
      user: caller.user,
    });
  }

  // --- synchronous setters -------------------------------------------------------------------

  private requireFingerprint(sent: string | undefined, current: string, what: string): void {
    if (sent === undefined || sent === '') {
      throw new InvalidArgument(`Required field '${what}' not specified`, { reason: 'required' });
    }
    if (sent !== current) {
      throw new ConditionNotMet(`Supplied fingerprint does not match current metadata fingerprint.`);
    }
  }

  setMetadata(
    project: string,
    zone: string,
    name: string,
    body: { fingerprint?: string; items?: { key: string; value?: string }[] },
    caller: Caller,
  ): OperationRecord {
    const instance = this.get(project, zone, name);
    this.requireFingerprint(body.fingerprint, instance.metadataFingerprint, 'metadata.fingerprint');
    const items = this.validateMetadata(body.items ?? []);
    const updated = this.update(instancePath(project, zone, name), (i) => {
      if (i.metadataFingerprint !== body.fingerprint) {
        throw new ConditionNotMet('Supplied fingerprint does not match current metadata fingerprint.');
      }
      return {
        ...i,
        metadata: items,
        metadataFingerprint: fingerprintOf({ items, at: this.platform.clock.now() }),
      };
    });
    const forwardsChanged = forwardedPortsOf(instance).join(',') !== forwardedPortsOf(updated).join(',');
    const path = instancePath(project, zone, name);
    return this.operation(
      project,
      zone,
      'setMetadata',
      updated,
      caller,
      forwardsChanged ? this.forwardsWork(path) : undefined,
    );
  }

  setLabels(
    project: string,
    zone: string,
    name: string,
    body: { labelFingerprint?: string; labels?: Record<string, string> },
    caller: Caller,
  ): OperationRecord {
    const instance = this.get(project, zone, name);
    this.requireFingerprint(body.labelFingerprint, instance.labelFingerprint, 'labelFingerprint');
    const labels = this.validateLabels(body.labels ?? {});
    const updated = this.update(instancePath(project, zone, name), (i) => ({
      ...i,
      labels,
      labelFingerprint: fingerprintOf(labels),
    }));
    return this.operation(project, zone, 'setLabels', updated, caller);
  }

  setTags(
    project: string,
    zone: string,
    name: string,
    body: { fingerprint?: string; items?: string[] },
    caller: Caller,
  ): OperationRecord {
    const instance = this.get(project, zone, name);
    this.requireFingerprint(body.fingerprint, instance.tagsFingerprint, 'tags.fingerprint');
    const tags = this.validateTags(body.items ?? []);
    const updated = this.update(instancePath(project, zone, name), (i) => ({
      ...i,
      tags,
      tagsFingerprint: fingerprintOf(tags),
    }));
    const dataplane = this.engines.dataplane;
    if (dataplane === undefined || updated.nic.networkIP === undefined) {
      return this.operation(project, zone, 'setTags', updated, caller);
    }
    return this.operation(project, zone, 'setTags', updated, caller, async () => {
      await dataplane.updateInstance(this.endpointOf(updated));
    });
  }

  setMachineType(
    project: string,
    zone: string,
    name: string,
    body: { machineType?: string },
    caller: Caller,
  ): OperationRecord {
    const instance = this.get(project, zone, name);
    const reference = body.machineType ?? '';
    if (reference === '') {
      throw new InvalidArgument("Required field 'machineType' not specified", { reason: 'required' });
    }
    const machineType = this.requireMachineType(reference, zone);
    if (instance.status !== 'TERMINATED') {
      throw new InvalidArgument(
        `The resource '${instancePath(project, zone, name)}' is not ready: the instance must be stopped (TERMINATED) to change its machine type.`,
        { reason: 'resourceNotReady' },
      );
    }
    const updated = this.update(instancePath(project, zone, name), (i) => ({
      ...i,
      machineType: machineType.name,
    }));
    return this.operation(project, zone, 'setMachineType', updated, caller);
  }

  /** Serial port 1 from byte offset `start` (Google: at most 1 MB per call; `next` continues). */
  serialPortOutput(
    project: string,
    zone: string,
    name: string,
    port: number,
    start: number | undefined,
  ): { contents: string; start: number; next: number } {
    const instance = this.get(project, zone, name);
    if (port < 1 || port > 4) {
      throw invalidField('port', String(port), 'Must be between 1 and 4.');
    }
    if (port !== 1) {
      return { contents: '', start: 0, next: 0 };
    }
    const file = this.serialLogPath(instance);
    let size = 0;
    try {
      size = statSync(file).size;
    } catch {
      size = 0;
    }
    // Without `start`, Google returns the most recent output; an old offset starts at the oldest kept.
    let from = start ?? Math.max(0, size - SERIAL_PAGE_BYTES);
    if (from < 0) {
      from = Math.max(0, size + from);
    }
    if (from >= size) {
      return { contents: '', start: from, next: from };
    }
    const length = Math.min(SERIAL_PAGE_BYTES, size - from);
    const buffer = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, length, from);
    } finally {
      closeSync(fd);
    }
    return { contents: buffer.toString('utf8'), start: from, next: from + length };
  }

  deleteDisk(project: string, zone: string, name: string, caller: Caller): OperationRecord {
    const disk = this.getDisk(project, zone, name);
    if (disk.users.length > 0) {
      throw new InvalidArgument(
        `The disk resource '${diskPath(project, zone, name)}' is already being used by '${disk.users[0] ?? ''}'`,
        { reason: 'resourceInUseByAnotherResource' },
      );
    }
    const spec = {
      family: 'compute' as const,
      project,
      scope: `zones/${zone}`,
      operationType: 'delete',
      targetLink: computeLink(caller.base, diskPath(project, zone, name)),
      targetId: disk.id,
      user: caller.user,
    };
    this.store.deleteDisk(diskPath(project, zone, name));
    rmSync(this.diskDir(disk), { recursive: true, force: true });
    return this.platform.operations.completed(spec);
  }

  // --- restart -------------------------------------------------------------------------------

  /**
   * After a Nimbus restart: brings each container back to its instance's last state (transitional
   * states finish where they were heading) and stops containers whose instance is gone.
   */
  async reconcile(): Promise<void> {
    const instances = this.store.allInstances();
    if (instances.length === 0 || !(await this.checkAvailability()).ok) {
      return;
    }
    const containers = new Map((await this.engines.runtime.list()).map((c) => [c.id, c.state]));
    for (const instance of instances) {
      const id = InstancesService.containerId(instance);
      const state = containers.get(id) ?? 'absent';
      const path = instancePath(instance.project, instance.zone, instance.name);
      const work = async (): Promise<void> => {
        switch (instance.status) {
          case 'PROVISIONING':
          case 'STAGING':
          case 'RUNNING':
            if (state === 'paused') {
              await this.engines.runtime.resume(id);
            } else if (state !== 'running') {
              await this.stopContainer(instance, 0);
              await this.boot(path);
            }
            this.setStatus(path, 'RUNNING');
            await this.syncForwards(path);
            return;
          case 'STOPPING':
          case 'TERMINATED':
            await this.stopContainer(instance, STOP_TIMEOUT_MS);
            this.setStatus(path, 'TERMINATED');
            return;
          case 'SUSPENDING':
          case 'SUSPENDED':
            if (state === 'running') {
              await this.engines.runtime.pause(id);
            } else if (state !== 'paused') {
              await this.stopContainer(instance, 0);
              await this.boot(path);
              await this.engines.runtime.pause(id);
            }
            this.setStatus(path, 'SUSPENDED');
            await this.syncForwards(path);
            return;
          default:
            return;
        }
      };
      await this.serialize(path, work).catch((error: unknown) => {
        this.platform.log.error({ err: error, instance: path }, 'could not restore instance after restart');
        this.setStatus(path, 'TERMINATED', {
          statusMessage: error instanceof ApiError || error instanceof Error ? error.message : String(error),
        });
      });
    }
  }

  /**
   * `nimbus reset`: stops every instance's container, removes its network namespace and its disk
   * and serial log, before the store that names them is wiped.
   */
  async wipe(): Promise<void> {
    await this.settle();
    const engineReady = this.status()?.ok === true;
    for (const instance of this.store.listInstances('')) {
      if (engineReady) {
        await this.stopContainer(instance, STOP_TIMEOUT_MS).catch((error: unknown) => {
          this.platform.log.warn({ err: error, instance: instance.name }, 'reset: stop failed');
        });
      }
      await this.closeForwards(instancePath(instance.project, instance.zone, instance.name), instance.id);
      await this.engines.dataplane?.detachInstance(instance.id).catch(() => undefined);
      rmSync(this.serialLogPath(instance), { force: true });
    }
    for (const disk of this.store.listDisks('')) {
      rmSync(this.diskDir(disk), { recursive: true, force: true });
    }
  }

  /** Waits for every queued instance mutation (shutdown, tests). */
  async settle(): Promise<void> {
    while (this.chains.size > 0) {
      await Promise.allSettled([...this.chains.values()]);
    }
  }
}
