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
  /** Removes the namespace, its veth and its firewall entries; releases an ephemeral address. */
  detachInstance(instanceId: string): Promise<void>;
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
