import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mustRun, runCommand } from './command.ts';

/**
 * The kernel side of VPC networks, all inside network namespaces Nimbus creates (the root namespace
 * gets no address, route or rule):
 * - one router namespace per VPC network (`nimbus-vpc-<networkId>`) with forwarding on, the
 *   metadata address on its loopback, and one bridge per subnet carrying the gateway address;
 * - one namespace per instance (`nimbus-i-<instanceId>`, under /run/netns so runc can join it) with
 *   `eth0`, the other end of a veth whose router end is an isolated port of the subnet bridge.
 * Bridge ports are isolated and the gateway answers ARP for the subnet (proxy ARP), so even traffic
 * inside a subnet is routed through the router namespace, where the firewall sees it.
 */
export const METADATA_ADDRESS = '169.254.169.254';
/** Routes Nimbus adds for static VPC routes carry this protocol number, so they can be replaced as a set. */
const STATIC_ROUTE_PROTO = '99';

export interface EndpointSpec {
  instanceNamespace: string;
  veth: string;
  bridge: string;
  ip: string;
  prefixLength: number;
  gateway: string;
  mtu: number;
}

function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 10);
}

export function routerNamespace(networkId: string): string {
  return `nimbus-vpc-${networkId}`;
}

export function instanceNamespace(instanceId: string): string {
  return `nimbus-i-${instanceId}`;
}

/** Interface names live inside the router namespace and must fit 15 characters. */
export function bridgeName(subnetworkId: string): string {
  return `nb${shortHash(subnetworkId)}`;
}

export function vethName(instanceId: string): string {
  return `nv${shortHash(instanceId)}`;
}

export function namespaceExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

async function sysctl(namespace: string, settings: Record<string, string>): Promise<void> {
  const args = Object.entries(settings).map(([key, value]) => `${key}=${value}`);
  // Some keys (bridge netfilter) may be absent on a kernel: -e ignores unknown keys.
  await mustRun('ip', ['netns', 'exec', namespace, 'sysctl', '-q', '-e', '-w', ...args]);
}

async function ensureNamespace(name: string): Promise<void> {
  if (!namespaceExists(name)) {
    const result = await runCommand('ip', ['netns', 'add', name]);
    if (result.code !== 0 && !namespaceExists(name)) {
      throw new Error(`ip netns add ${name}: ${result.stderr.trim()}`);
    }
  }
}

async function linkExists(namespace: string, link: string): Promise<boolean> {
  return (await runCommand('ip', ['-n', namespace, 'link', 'show', 'dev', link])).code === 0;
}

/** Creates (or completes) a router namespace; idempotent. */
export async function ensureRouter(namespace: string): Promise<void> {
  await ensureNamespace(namespace);
  await mustRun('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
  await mustRun('ip', ['-n', namespace, 'addr', 'replace', `${METADATA_ADDRESS}/32`, 'dev', 'lo']);
  await sysctl(namespace, {
    'net.ipv4.ip_forward': '1',
    'net.ipv4.conf.all.send_redirects': '0',
    'net.ipv4.conf.default.send_redirects': '0',
    'net.ipv6.conf.all.disable_ipv6': '1',
    'net.ipv6.conf.default.disable_ipv6': '1',
    'net.bridge.bridge-nf-call-iptables': '0',
    'net.bridge.bridge-nf-call-ip6tables': '0',
    'net.bridge.bridge-nf-call-arptables': '0',
  });
}

/** Creates the subnet bridge with the gateway address (replacing a different prefix); idempotent. */
export async function ensureBridge(
  namespace: string,
  bridge: string,
  gatewayCidr: string,
  mtu: number,
): Promise<void> {
  if (!(await linkExists(namespace, bridge))) {
    await mustRun('ip', ['-n', namespace, 'link', 'add', bridge, 'mtu', String(mtu), 'type', 'bridge']);
  }
  const current = await mustRun('ip', ['-n', namespace, '-o', '-4', 'addr', 'show', 'dev', bridge]);
  if (!current.includes(` ${gatewayCidr} `)) {
    await mustRun('ip', ['-n', namespace, 'addr', 'flush', 'dev', bridge]);
    await mustRun('ip', ['-n', namespace, 'addr', 'add', gatewayCidr, 'dev', bridge]);
  }
  await mustRun('ip', ['-n', namespace, 'link', 'set', bridge, 'up']);
  await sysctl(namespace, {
    [`net.ipv4.conf.${bridge}.proxy_arp`]: '1',
    [`net.ipv4.conf.${bridge}.proxy_arp_pvlan`]: '1',
    [`net.ipv4.conf.${bridge}.send_redirects`]: '0',
    [`net.ipv4.neigh.${bridge}.proxy_delay`]: '0',
  });
}

export async function removeBridge(namespace: string, bridge: string): Promise<void> {
  await runCommand('ip', ['-n', namespace, 'link', 'del', bridge]);
}

/** Bridges currently in the router namespace. */
export async function listBridges(namespace: string): Promise<string[]> {
  const out = await runCommand('ip', ['-n', namespace, '-o', 'link', 'show', 'type', 'bridge']);
  return [...out.stdout.matchAll(/^\d+: ([^:@]+)[:@]/gm)].map((m) => m[1] ?? '');
}

/** Wires an instance namespace to its subnet bridge; recreates the veth, so it is idempotent. */
export async function attachEndpoint(namespace: string, spec: EndpointSpec): Promise<void> {
  await ensureNamespace(spec.instanceNamespace);
  await runCommand('ip', ['-n', namespace, 'link', 'del', spec.veth]);
  await runCommand('ip', ['-n', spec.instanceNamespace, 'link', 'del', 'eth0']);
  const mtu = String(spec.mtu);
  const routerSide = [
    `link add ${spec.veth} mtu ${mtu} type veth peer name eth0 mtu ${mtu} netns ${spec.instanceNamespace}`,
    `link set dev ${spec.veth} master ${spec.bridge}`,
    `link set dev ${spec.veth} type bridge_slave isolated on learning off`,
    `link set dev ${spec.veth} up`,
  ].join('\n');
  await mustRun('ip', ['-n', namespace, '-batch', '-'], `${routerSide}\n`);
  await sysctl(spec.instanceNamespace, {
    'net.ipv6.conf.all.disable_ipv6': '1',
    'net.ipv6.conf.default.disable_ipv6': '1',
  });
  const batch = [
    'link set lo up',
    `addr add ${spec.ip}/${String(spec.prefixLength)} dev eth0`,
    'link set eth0 up',
    `route replace default via ${spec.gateway} dev eth0`,
    `route replace ${METADATA_ADDRESS}/32 via ${spec.gateway} dev eth0`,
  ].join('\n');
  await mustRun('ip', ['-n', spec.instanceNamespace, '-batch', '-'], `${batch}\n`);
}

/** Changes an attached instance's prefix (subnet expanded) without recreating its link. */
export async function readdressEndpoint(spec: EndpointSpec): Promise<void> {
  const batch = [
    'addr flush dev eth0',
    `addr add ${spec.ip}/${String(spec.prefixLength)} dev eth0`,
    `route replace default via ${spec.gateway} dev eth0`,
    `route replace ${METADATA_ADDRESS}/32 via ${spec.gateway} dev eth0`,
  ].join('\n');
  await mustRun('ip', ['-n', spec.instanceNamespace, '-batch', '-'], `${batch}\n`);
}

/** Removes the veth pair and the instance namespace (absent pieces are fine). */
export async function detachEndpoint(
  namespace: string | undefined,
  veth: string,
  instanceNs: string,
): Promise<void> {
  if (namespace !== undefined && namespaceExists(namespace)) {
    await runCommand('ip', ['-n', namespace, 'link', 'del', veth]);
  }
  if (namespaceExists(instanceNs)) {
    await runCommand('ip', ['netns', 'del', instanceNs]);
  }
}

/** Replaces the router's static VPC routes with `routes`. */
export async function setStaticRoutes(
  namespace: string,
  routes: { destRange: string; via: string }[],
): Promise<void> {
  await runCommand('ip', ['-n', namespace, 'route', 'flush', 'proto', STATIC_ROUTE_PROTO]);
  for (const route of routes) {
    // A next hop outside every attached subnet cannot be installed yet; it is retried on the next sync.
    await runCommand('ip', [
      '-n',
      namespace,
      'route',
      'replace',
      route.destRange,
      'via',
      route.via,
      'proto',
      STATIC_ROUTE_PROTO,
    ]);
  }
}

/** Loads a compiled ruleset (see nft.ts) into the router namespace, atomically. */
export async function applyRuleset(namespace: string, ruleset: string): Promise<void> {
  await mustRun('ip', ['netns', 'exec', namespace, 'nft', '-f', '-'], ruleset);
}

export async function removeRouter(namespace: string): Promise<void> {
  if (namespaceExists(namespace)) {
    await runCommand('ip', ['netns', 'del', namespace]);
  }
}
