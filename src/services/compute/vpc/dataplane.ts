import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkHost, ensureHost, findCommand, type HostCheck } from '../../../platform/host-packages.ts';
import {
  applyRuleset,
  attachEndpoint,
  bridgeName,
  detachEndpoint,
  ensureBridge,
  ensureRouter,
  instanceNamespace,
  listBridges,
  METADATA_ADDRESS,
  namespaceExists,
  removeBridge,
  removeRouter,
  routerNamespace,
  setStaticRoutes,
  vethName,
  type EndpointSpec,
} from '../../../platform/netfabric/fabric.ts';
import { runCommand } from '../../../platform/netfabric/command.ts';
import { compileFirewall, type FirewallModel } from '../../../platform/netfabric/nft.ts';
import {
  openHostForward,
  startRelayAgent,
  type HostForward,
  type RelayAgent,
} from '../../../platform/netfabric/relay.ts';
import {
  METADATA_SOCKET,
  METADATA_SOURCE_HEADER,
  type AttachedNic,
  type InstanceEndpoint,
  type NicRequest,
  type VpcDataplane,
} from '../contracts.ts';
import { parseCidr } from './ipv4.ts';
import type { VpcService } from './service.ts';
import type { NetworkRecord, NicRecord, SubnetworkRecord } from './store.ts';

export const DATAPLANE_REQUIREMENTS = [
  { command: 'ip', debianPackage: 'iproute2' },
  { command: 'nft', debianPackage: 'nftables' },
  { command: 'sysctl', debianPackage: 'procps' },
];

export interface DataplaneOptions {
  dataDir: string;
  /** Where failures of background synchronisation are reported. */
  log?: (message: string, error: unknown) => void;
}

interface NetworkState {
  agent?: RelayAgent;
  /** instanceId -> the endpoint wiring last applied. */
  wired: Map<string, string>;
  /** bridge -> gateway CIDR last applied (what the kernel has, as far as this process knows). */
  bridges: Map<string, string>;
  /** The static routes last applied (JSON), to skip unchanged reloads. */
  routes?: string;
}

/**
 * The VPC dataplane over netfabric: keeps each network's router namespace in step with the store.
 * A network is materialised (router namespace, bridges, relay agent, nftables) while it has attached
 * instances and torn down when the last one leaves. Every change to a network (API mutation, attach,
 * detach) queues one full, idempotent synchronisation of that network, serialised per network.
 */
export class NetfabricDataplane implements VpcDataplane {
  private readonly states = new Map<string, NetworkState>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly forwards = new Map<string, Set<HostForward>>();
  private readiness: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly service: VpcService,
    private readonly options: DataplaneOptions,
  ) {
    service.onChange((project, network) => {
      if (this.readiness !== undefined && !this.closed) {
        void this.enqueue(project, network);
      }
    });
  }

  /** Whether the dataplane can work here at all (Linux, root, tools present or installable). */
  static possible(): boolean {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      return false;
    }
    return checkHost(DATAPLANE_REQUIREMENTS).ok || findCommand('apt-get') !== undefined;
  }

  /** Host tools and privileges the dataplane needs (installs missing packages when root). */
  static async check(): Promise<HostCheck> {
    if (process.platform !== 'linux') {
      return {
        ok: false,
        missing: [],
        reason: 'VPC networking needs Linux network namespaces',
        fix: 'run Nimbus on Linux',
      };
    }
    if (process.getuid?.() !== 0) {
      return {
        ok: false,
        missing: [],
        reason: 'VPC networking needs root (network namespaces, nftables)',
        fix: 'run nimbus start as root',
      };
    }
    return ensureHost(DATAPLANE_REQUIREMENTS);
  }

  /** Checks the host once, then rebuilds every network that has attached instances (after a restart). */
  ready(): Promise<void> {
    this.readiness ??= (async () => {
      const check = await NetfabricDataplane.check();
      if (!check.ok) {
        // Not remembered: the next attach checks again (the missing tool may be installed by then).
        this.readiness = undefined;
        throw new Error(`VPC dataplane unavailable: ${check.reason ?? 'unknown'} (fix: ${check.fix ?? '-'})`);
      }
      mkdirSync(join(this.options.dataDir, 'run'), { recursive: true });
      await this.reconcile();
    })();
    return this.readiness;
  }

  /** Rebuilds namespaces, bridges, endpoints and rules of every network with attached instances. */
  async reconcile(): Promise<void> {
    const networks = new Set(
      this.service
        .allNics()
        .filter((n) => n.attached)
        .map((n) => `${n.project}/${n.network}`),
    );
    await Promise.all(
      [...networks].map((key) => {
        const [project = '', network = ''] = key.split('/');
        return this.enqueue(project, network);
      }),
    );
  }

  /** Resolves when every queued synchronisation has run (tests, API answers). */
  async settle(): Promise<void> {
    while (this.queues.size > 0) {
      await Promise.allSettled([...this.queues.values()]);
    }
  }

  private enqueue(project: string, network: string): Promise<void> {
    const key = `${project}/${network}`;
    // A synchronisation that has not started yet will see this change too: join it.
    const waiting = this.pending.get(key);
    if (waiting !== undefined) {
      return waiting;
    }
    const previous = this.queues.get(key) ?? Promise.resolve();
    const next = previous
      .catch(() => undefined)
      .then(() => {
        this.pending.delete(key);
        return this.syncNetwork(project, network);
      })
      .catch((error: unknown) => {
        this.options.log?.(`VPC dataplane: synchronising ${key} failed`, error);
        throw error;
      });
    const tracked = next.finally(() => {
      if (this.queues.get(key) === tracked) {
        this.queues.delete(key);
      }
    });
    tracked.catch(() => undefined);
    this.pending.set(key, next);
    this.queues.set(key, tracked);
    return next;
  }

  private networkRecord(project: string, network: string): NetworkRecord | undefined {
    try {
      return this.service.getNetwork(project, network);
    } catch {
      return undefined;
    }
  }

  private controlSocketPath(networkId: string): string {
    const preferred = join(this.options.dataDir, 'run', `vpc-${networkId}.sock`);
    if (Buffer.byteLength(preferred) < 100) {
      return preferred;
    }
    const hash = createHash('sha256').update(preferred).digest('hex').slice(0, 16);
    return `/tmp/nimbus-vpc-${hash}.sock`;
  }

  private endpointSpec(nic: NicRecord, subnet: SubnetworkRecord, mtu: number): EndpointSpec {
    return {
      instanceNamespace: instanceNamespace(nic.instanceId),
      veth: vethName(nic.instanceId),
      bridge: bridgeName(subnet.id),
      ip: nic.networkIP,
      prefixLength: parseCidr(subnet.ipCidrRange)?.prefix ?? 32,
      gateway: subnet.gatewayAddress,
      mtu,
    };
  }

  /** Whether an endpoint is wired as `spec` says (after a restart nothing is known in memory). */
  private async endpointIntact(routerNs: string, spec: EndpointSpec): Promise<boolean> {
    if (!namespaceExists(spec.instanceNamespace)) {
      return false;
    }
    const port = await runCommand('ip', ['-n', routerNs, '-o', 'link', 'show', 'dev', spec.veth]);
    if (port.code !== 0 || !port.stdout.includes(`master ${spec.bridge} `)) {
      return false;
    }
    const inside = await runCommand('ip', [
      '-n',
      spec.instanceNamespace,
      '-o',
      '-4',
      'addr',
      'show',
      'dev',
      'eth0',
    ]);
    return inside.code === 0 && inside.stdout.includes(` ${spec.ip}/${String(spec.prefixLength)} `);
  }

  private async syncNetwork(project: string, networkName: string): Promise<void> {
    const key = `${project}/${networkName}`;
    const network = this.networkRecord(project, networkName);
    const attached = this.service.nicsOf(project, networkName).filter((n) => n.attached);
    const state = this.states.get(key);
    if (network === undefined || attached.length === 0) {
      if (state !== undefined) {
        const agent = state.agent;
        state.agent = undefined;
        this.states.delete(key);
        await agent?.stop();
      }
      if (network !== undefined) {
        await removeRouter(routerNamespace(network.id));
      }
      return;
    }
    const routerNs = routerNamespace(network.id);
    const current: NetworkState = state ?? {
      wired: new Map<string, string>(),
      bridges: new Map<string, string>(),
    };
    this.states.set(key, current);
    // Nothing is known about a router this process has not built (first sync, restart, deleted).
    const fresh = state === undefined || !namespaceExists(routerNs);
    if (fresh) {
      await ensureRouter(routerNs);
      current.wired.clear();
      current.bridges.clear();
      delete current.routes;
    }
    const subnets = new Map(
      this.service.subnetworksOf(project, networkName).map((s) => [`${s.region}/${s.name}`, s]),
    );
    const wantedBridges = new Map<string, string>();
    for (const nic of attached) {
      const subnet = subnets.get(`${nic.region}/${nic.subnetwork}`);
      const range = subnet === undefined ? undefined : parseCidr(subnet.ipCidrRange);
      if (subnet !== undefined && range !== undefined) {
        wantedBridges.set(bridgeName(subnet.id), `${subnet.gatewayAddress}/${String(range.prefix)}`);
      }
    }
    for (const [bridge, gatewayCidr] of wantedBridges) {
      if (current.bridges.get(bridge) !== gatewayCidr) {
        await ensureBridge(routerNs, bridge, gatewayCidr, network.mtu);
        current.bridges.set(bridge, gatewayCidr);
      }
    }
    const present = fresh ? await listBridges(routerNs) : [...current.bridges.keys()];
    for (const bridge of present) {
      if (!wantedBridges.has(bridge)) {
        await removeBridge(routerNs, bridge);
        current.bridges.delete(bridge);
      }
    }
    const endpoints: FirewallModel['endpoints'] = [];
    for (const nic of attached) {
      const subnet = subnets.get(`${nic.region}/${nic.subnetwork}`);
      if (subnet === undefined) {
        continue;
      }
      const spec = this.endpointSpec(nic, subnet, network.mtu);
      const signature = JSON.stringify(spec);
      if (current.wired.get(nic.instanceId) !== signature && !(await this.endpointIntact(routerNs, spec))) {
        await attachEndpoint(routerNs, spec);
      }
      current.wired.set(nic.instanceId, signature);
      endpoints.push({
        ip: nic.networkIP,
        tags: nic.tags,
        serviceAccounts: nic.serviceAccounts,
        port: spec.veth,
      });
    }
    for (const instanceId of [...current.wired.keys()]) {
      if (!attached.some((n) => n.instanceId === instanceId)) {
        current.wired.delete(instanceId);
      }
    }
    const staticRoutes = this.service
      .routesOf(project, networkName)
      .filter((r) => r.kind === 'STATIC')
      .flatMap((r) => {
        const via = this.service.nextHopAddress(r);
        return via === undefined ? [] : [{ destRange: r.destRange, via }];
      });
    // Keyed by the bridges too: a next hop becomes installable (or its route vanishes) with them.
    const routesText = JSON.stringify({ staticRoutes, bridges: [...wantedBridges] });
    if (current.routes !== routesText) {
      await setStaticRoutes(routerNs, staticRoutes);
      current.routes = routesText;
    }
    const rules = this.service
      .firewallsOf(project, networkName)
      .filter((f) => !f.disabled)
      .map((f) => {
        const rule: FirewallModel['rules'][number] = {
          name: f.name,
          direction: f.direction,
          priority: f.priority,
          action: f.denied !== undefined ? 'deny' : 'allow',
          protocols: f.denied ?? f.allowed ?? [],
        };
        for (const field of [
          'sourceRanges',
          'destinationRanges',
          'sourceTags',
          'targetTags',
          'sourceServiceAccounts',
          'targetServiceAccounts',
        ] as const) {
          const value = f[field];
          if (value !== undefined) {
            rule[field] = value;
          }
        }
        return rule;
      });
    await applyRuleset(routerNs, compileFirewall({ endpoints, rules, metadataAddress: METADATA_ADDRESS }));
    if (current.agent === undefined) {
      const agent = await startRelayAgent({
        namespace: routerNs,
        project,
        network: networkName,
        metadataSocket: join(this.options.dataDir, METADATA_SOCKET),
        controlSocket: this.controlSocketPath(network.id),
        metadataAddress: METADATA_ADDRESS,
        sourceHeader: METADATA_SOURCE_HEADER,
      });
      current.agent = agent;
      // An agent that dies on its own (not stopped by us) is started again by a new sync.
      void agent.exited.then(() => {
        if (current.agent === agent) {
          current.agent = undefined;
          if (!this.closed && this.states.get(key) === current) {
            void this.enqueue(project, networkName).catch(() => undefined);
          }
        }
      });
    }
  }

  // --- VpcDataplane ---------------------------------------------------------------------------

  async attachInstance(instance: InstanceEndpoint, request: NicRequest): Promise<AttachedNic> {
    await this.ready();
    const nic = this.service.allocateNic(instance, request);
    await this.enqueue(nic.project, nic.network);
    const subnet = this.service.getSubnetwork(nic.project, nic.region, nic.subnetwork);
    return {
      networkIP: nic.networkIP,
      gateway: subnet.gatewayAddress,
      prefixLength: parseCidr(subnet.ipCidrRange)?.prefix ?? 32,
      netnsPath: `/run/netns/${instanceNamespace(instance.instanceId)}`,
    };
  }

  async detachInstance(instanceId: string, options: { keepAddress?: boolean } = {}): Promise<void> {
    const nic = this.service.getNic(instanceId);
    for (const forward of this.forwards.get(instanceId) ?? []) {
      await forward.close();
    }
    this.forwards.delete(instanceId);
    if (nic === undefined) {
      await detachEndpoint(undefined, vethName(instanceId), instanceNamespace(instanceId));
      return;
    }
    const network = this.networkRecord(nic.project, nic.network);
    const routerNs = network === undefined ? undefined : routerNamespace(network.id);
    await detachEndpoint(routerNs, vethName(instanceId), instanceNamespace(instanceId));
    this.service.releaseNic(instanceId, options.keepAddress ?? false);
    if (this.readiness !== undefined) {
      await this.enqueue(nic.project, nic.network);
    }
  }

  async updateInstance(instance: InstanceEndpoint): Promise<void> {
    const nic = this.service.updateNicEndpoint(instance);
    if (nic !== undefined && this.readiness !== undefined) {
      await this.enqueue(nic.project, nic.network);
    }
  }

  async forwardPort(
    instanceId: string,
    port: number,
    hostPort = 0,
  ): Promise<{ hostPort: number; close(): Promise<void> }> {
    await this.ready();
    const nic = this.service.getNic(instanceId);
    if (nic?.attached !== true) {
      throw new Error(`instance ${instanceId} has no attached network interface`);
    }
    await this.settle();
    const key = `${nic.project}/${nic.network}`;
    const forward = await openHostForward(
      () => this.states.get(key)?.agent?.controlSocket,
      nic.networkIP,
      port,
      hostPort,
    );
    const set = this.forwards.get(instanceId) ?? new Set<HostForward>();
    set.add(forward);
    this.forwards.set(instanceId, set);
    return {
      hostPort: forward.hostPort,
      close: async () => {
        set.delete(forward);
        await forward.close();
      },
    };
  }

  instanceByAddress(project: string, network: string, ip: string): InstanceEndpoint | undefined {
    const nic = this.service.nicsOf(project, network).find((n) => n.networkIP === ip && n.attached);
    if (nic === undefined) {
      return undefined;
    }
    return {
      instanceId: nic.instanceId,
      project: nic.project,
      zone: nic.zone,
      name: nic.name,
      tags: nic.tags,
      serviceAccounts: nic.serviceAccounts,
    };
  }

  /**
   * Removes every namespace this data dir's store knows (instances and routers), e.g. before
   * `nimbus reset` wipes the store that names them. The store itself is left as it is.
   */
  async teardownAll(): Promise<void> {
    await this.shutdown();
    const routers = new Set<string>();
    for (const nic of this.service.allNics()) {
      const network = this.networkRecord(nic.project, nic.network);
      const routerNs = network === undefined ? undefined : routerNamespace(network.id);
      await detachEndpoint(routerNs, vethName(nic.instanceId), instanceNamespace(nic.instanceId));
      if (routerNs !== undefined) {
        routers.add(routerNs);
      }
    }
    for (const routerNs of routers) {
      await removeRouter(routerNs);
    }
    this.closed = false;
  }

  /** Stops relay agents and host forwards (Nimbus shutting down); namespaces stay for the next start. */
  async shutdown(): Promise<void> {
    this.closed = true;
    await this.settle();
    for (const set of this.forwards.values()) {
      for (const forward of set) {
        await forward.close();
      }
    }
    this.forwards.clear();
    const states = [...this.states.values()];
    this.states.clear();
    for (const state of states) {
      const agent = state.agent;
      state.agent = undefined;
      await agent?.stop();
    }
  }
}
