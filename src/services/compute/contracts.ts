/**
 * Contract between Compute Engine instances (engine: runc system containers) and the VPC dataplane
 * (network namespaces, bridges, nftables). Instances call the dataplane to get a wired network
 * namespace before `runc` starts, and to tear it down after; the dataplane tells the metadata server
 * which instance a request from inside a VPC came from.
 */

/** The network interface an instance asks for (Compute API `networkInterfaces[0]`). */
export interface NicRequest {
  project: string;
  /** Network name (e.g. `default`). */
  network: string;
  /** Subnetwork name, in `region`. */
  subnetwork: string;
  region: string;
  /** A requested internal address; undefined = allocate one from the subnet (IPAM). */
  networkIP?: string;
}

export interface AttachedNic {
  networkIP: string;
  gateway: string;
  prefixLength: number;
  /** Path of the instance's network namespace (e.g. /run/netns/nimbus-i-ID), given to runc's config. */
  netnsPath: string;
}

/** Identity of an instance as the dataplane tracks it (firewall targetTags, sourceTags, metadata). */
export interface InstanceEndpoint {
  /** Stable instance id (Compute's numeric id as a string). */
  instanceId: string;
  project: string;
  zone: string;
  name: string;
  /** Network tags (`tags.items`). */
  tags: string[];
  /** Service-account emails attached to the instance. */
  serviceAccounts: string[];
}

export interface VpcDataplane {
  /** Creates and wires the instance's namespace into its subnet; idempotent for the same instance. */
  attachInstance(instance: InstanceEndpoint, nic: NicRequest): Promise<AttachedNic>;
  /**
   * Removes the namespace, its veth and its firewall entries; releases an ephemeral address, unless
   * `keepAddress` (a stopped instance keeps its internal IP, as on Google; the next attach reuses it).
   */
  detachInstance(instanceId: string, options?: { keepAddress?: boolean }): Promise<void>;
  /** Network tags changed (setTags): recompiles the rules that mention tags. */
  updateInstance(instance: InstanceEndpoint): Promise<void>;
  /**
   * Host access to an instance port (external access configs, ssh tunnels): a listener on
   * 127.0.0.1:hostPort (0 = any free port) relayed into the namespace.
   */
  forwardPort(
    instanceId: string,
    port: number,
    hostPort?: number,
  ): Promise<{ hostPort: number; close(): Promise<void> }>;
  /** The instance that owns `ip` on `network` (metadata requests from inside a VPC). */
  instanceByAddress(project: string, network: string, ip: string): InstanceEndpoint | undefined;
}

/**
 * Metadata requests from inside VPCs reach Nimbus over this Unix socket (relative to the data dir),
 * forwarded by a relay in each VPC's router namespace listening on 169.254.169.254:80. The relay
 * replaces any incoming `x-nimbus-metadata-source` header with `PROJECT NETWORK SOURCE_IP`.
 */
export const METADATA_SOCKET = 'run/metadata.sock';
export const METADATA_SOURCE_HEADER = 'x-nimbus-metadata-source';

/** What an instance is booted from: a cached root filesystem image. */
export type ImageName = 'debian-12' | 'busybox';

/** One system container (an instance's boot), as the compute service asks the runtime for it. */
export interface ContainerSpec {
  /** Unique container id (e.g. `nimbus-<instanceId>`), also the cgroup name. */
  id: string;
  hostname: string;
  image: ImageName;
  /** Persistent writable layer (the boot disk): survives stop/start, deleted with the disk. */
  diskDir: string;
  /** Network namespace to join (from the dataplane); undefined = a private namespace with loopback only. */
  netnsPath?: string;
  /** CPU quota in vCPUs (e.g. 0.25..2 for e2-micro: quota 2, shares scaled) and memory limit. */
  cpus: number;
  /**
   * Guaranteed vCPUs under contention (cgroup cpu.shares = 1024 x this); default `cpus`. Shared-core
   * types burst: e2-micro = `cpus: 2, cpuShare: 0.25`.
   */
  cpuShare?: number;
  memoryMb: number;
  pids: number;
  /** Everything the guest writes to its console (init, startup script) is appended here. */
  serialLogPath: string;
  /** Extra lines for the guest's /etc/hosts (e.g. `169.254.169.254 metadata.google.internal`). */
  hosts?: string[];
}

export type ContainerState = 'running' | 'paused' | 'stopped' | 'absent';

/** An interactive or one-shot process inside a running container (`runc exec`, in its cgroup). */
export interface ExecSession {
  write(data: Buffer | string): void;
  onData(listener: (data: Buffer) => void): void;
  /** Window size (tty sessions only). */
  resize(cols: number, rows: number): void;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  kill(): void;
}

/** System containers run by an OCI runtime (runc). */
export interface ContainerRuntime {
  /** Engine availability: missing runc / image tools -> not ok with reason and fix. */
  available(): Promise<{ ok: boolean; reason?: string; fix?: string }>;
  /** Builds (once, cached) the image; progress lines go to `onProgress`. */
  ensureImage(image: ImageName, onProgress?: (line: string) => void): Promise<void>;
  /** Boots the container (init as PID 1) and returns once it runs. */
  start(spec: ContainerSpec): Promise<void>;
  /** Clean shutdown (SIGRTMIN+3 for systemd), killed after `timeoutMs`; then removes runtime state and mounts (not diskDir). */
  stop(id: string, timeoutMs: number): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  state(id: string): Promise<ContainerState>;
  exec(
    id: string,
    argv: string[],
    options: { tty: boolean; cols?: number; rows?: number; env?: string[] },
  ): Promise<ExecSession>;
  /** Containers this runtime knows (to reconcile after a Nimbus restart). */
  list(): Promise<{ id: string; state: ContainerState }[]>;
}
