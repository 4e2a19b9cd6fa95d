/**
 * Compiles VPC firewall rules into one nftables ruleset for a network's router namespace.
 *
 * Every packet between two instances of the network crosses the router namespace: subnet bridges
 * isolate their ports and the gateway answers ARP for the whole subnet (proxy ARP), so traffic
 * inside a subnet is routed too and one `inet` table with connection tracking sees all of it. (This
 * kernel has no bridge-family conntrack, so a stateful bridge table is not an option.) The `bridge`
 * table only guards layer 2: no port-to-port bridging, no IPv6, and each port may only send from its
 * instance's address (anti-spoofing).
 *
 * Evaluation follows Google's: egress rules of the sending instance, then ingress rules of the
 * receiving one; lower priority number first, deny before allow at equal priority; implied rules
 * allow all egress and deny all ingress; replies of allowed connections pass (established/related).
 */
export interface FirewallEndpoint {
  ip: string;
  tags: string[];
  serviceAccounts: string[];
  /** The router-side veth name of its port on the subnet bridge. */
  port: string;
}

export interface FirewallProtocolSpec {
  IPProtocol: string;
  ports?: string[];
}

export interface FirewallRuleSpec {
  name: string;
  direction: 'INGRESS' | 'EGRESS';
  priority: number;
  action: 'allow' | 'deny';
  protocols: FirewallProtocolSpec[];
  sourceRanges?: string[];
  destinationRanges?: string[];
  sourceTags?: string[];
  targetTags?: string[];
  sourceServiceAccounts?: string[];
  targetServiceAccounts?: string[];
}

export interface FirewallModel {
  endpoints: FirewallEndpoint[];
  rules: FirewallRuleSpec[];
  /** The metadata server address served inside the router namespace. */
  metadataAddress: string;
}

export const INET_TABLE = 'nimbus';
export const BRIDGE_TABLE = 'nimbus_l2';

const PROTOCOL_NUMBERS: Record<string, string> = {
  tcp: 'tcp',
  udp: 'udp',
  icmp: 'icmp',
  esp: 'esp',
  ah: 'ah',
  sctp: 'sctp',
  ipip: '4',
};

function quote(text: string): string {
  return `"${text.replace(/[^A-Za-z0-9_.:@/ -]/g, '_')}"`;
}

function elements(values: Iterable<string>): string {
  return [...new Set(values)].sort().join(', ');
}

/** `{ a, b }` or the single value, as nft wants in a match. */
function anonymousSet(values: string[]): string {
  const unique = [...new Set(values)];
  return unique.length === 1 ? (unique[0] ?? '') : `{ ${unique.join(', ')} }`;
}

/** The protocol part of a rule line: `meta l4proto tcp tcp dport { 22, 80-90 }`, or '' for all. */
function protocolMatch(protocol: FirewallProtocolSpec): string {
  const name = protocol.IPProtocol.toLowerCase();
  if (name === 'all') {
    return '';
  }
  const l4 = PROTOCOL_NUMBERS[name] ?? name;
  const ports = protocol.ports ?? [];
  const transport = name === '6' ? 'tcp' : name === '17' ? 'udp' : name === '132' ? 'sctp' : name;
  if (ports.length > 0 && (transport === 'tcp' || transport === 'udp' || transport === 'sctp')) {
    return `meta l4proto ${transport} th dport ${anonymousSet(ports)}`;
  }
  return `meta l4proto ${l4}`;
}

interface SetRegistry {
  name(kind: 'tag' | 'sa', value: string): string;
  declarations(): string[];
}

function setRegistry(endpoints: FirewallEndpoint[]): SetRegistry {
  const names = new Map<string, string>();
  const declarations: string[] = [];
  return {
    name(kind, value) {
      const key = `${kind}:${value}`;
      const existing = names.get(key);
      if (existing !== undefined) {
        return existing;
      }
      const name = `${kind}_${String(names.size)}`;
      names.set(key, name);
      const members = endpoints
        .filter((e) => (kind === 'tag' ? e.tags.includes(value) : e.serviceAccounts.includes(value)))
        .map((e) => e.ip);
      const body = members.length > 0 ? ` elements = { ${elements(members)} };` : '';
      declarations.push(`  set ${name} { type ipv4_addr; comment ${quote(`${kind} ${value}`)};${body} }`);
      return name;
    },
    declarations: () => declarations,
  };
}

/** Sorted as Google evaluates: priority ascending, deny before allow at the same priority. */
export function evaluationOrder(rules: FirewallRuleSpec[]): FirewallRuleSpec[] {
  return [...rules].sort(
    (a, b) => a.priority - b.priority || (a.action === b.action ? 0 : a.action === 'deny' ? -1 : 1),
  );
}

/** Address matches for a list of alternatives (OR): one rule line per alternative. */
function alternatives(field: 'saddr' | 'daddr', ranges: string[], sets: string[]): string[] {
  const out: string[] = [];
  const real = ranges.filter((r) => r !== '0.0.0.0/0');
  if (ranges.length > 0 && real.length < ranges.length) {
    out.push('');
  } else if (real.length > 0) {
    out.push(`ip ${field} ${anonymousSet(real)}`);
  }
  for (const set of sets) {
    out.push(`ip ${field} @${set}`);
  }
  return out;
}

function compileRule(rule: FirewallRuleSpec, registry: SetRegistry): string[] {
  const ingress = rule.direction === 'INGRESS';
  const targetField = ingress ? 'daddr' : 'saddr';
  const targets: string[] = [];
  for (const tag of rule.targetTags ?? []) {
    targets.push(`ip ${targetField} @${registry.name('tag', tag)}`);
  }
  for (const account of rule.targetServiceAccounts ?? []) {
    targets.push(`ip ${targetField} @${registry.name('sa', account)}`);
  }
  if (targets.length === 0) {
    targets.push('');
  }
  const peers = ingress
    ? alternatives('saddr', rule.sourceRanges ?? [], [
        ...(rule.sourceTags ?? []).map((t) => registry.name('tag', t)),
        ...(rule.sourceServiceAccounts ?? []).map((a) => registry.name('sa', a)),
      ])
    : alternatives('daddr', rule.destinationRanges ?? ['0.0.0.0/0'], []);
  // An ingress rule may also narrow destinations (destinationRanges), an AND with the rest.
  const extra =
    ingress && (rule.destinationRanges ?? []).some((r) => r !== '0.0.0.0/0')
      ? `ip daddr ${anonymousSet((rule.destinationRanges ?? []).filter((r) => r !== '0.0.0.0/0'))}`
      : '';
  const verdict = rule.action === 'deny' ? 'drop' : ingress ? 'accept' : 'return';
  const lines: string[] = [];
  for (const target of targets) {
    for (const peer of peers) {
      for (const protocol of rule.protocols) {
        const parts = [target, peer, extra, protocolMatch(protocol), `counter ${verdict}`].filter(
          (p) => p !== '',
        );
        lines.push(`    ${parts.join(' ')} comment ${quote(rule.name)}`);
      }
    }
  }
  return lines;
}

/** The whole ruleset text for `nft -f`: replaces both tables atomically. */
export function compileFirewall(model: FirewallModel): string {
  const registry = setRegistry(model.endpoints);
  const ordered = evaluationOrder(model.rules);
  const egress = ordered.filter((r) => r.direction === 'EGRESS').flatMap((r) => compileRule(r, registry));
  const ingress = ordered.filter((r) => r.direction === 'INGRESS').flatMap((r) => compileRule(r, registry));
  const instanceIps = model.endpoints.map((e) => e.ip);
  const instanceSet = instanceIps.length > 0 ? ` elements = { ${elements(instanceIps)} };` : '';
  const inet = [
    `table inet ${INET_TABLE} {`,
    `  set instances { type ipv4_addr;${instanceSet} }`,
    ...registry.declarations(),
    '  chain egress {',
    ...egress,
    '    return comment "implied allow egress"',
    '  }',
    '  chain ingress {',
    ...ingress,
    '    counter drop comment "implied deny ingress"',
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy drop;',
    '    ct state established,related accept',
    '    ct state invalid drop',
    '    meta nfproto ipv6 drop',
    '    ip saddr @instances jump egress',
    '    ip daddr @instances jump ingress',
    '    ip saddr @instances accept',
    '  }',
    '  chain input {',
    '    type filter hook input priority 0; policy drop;',
    '    iif "lo" accept',
    '    ct state established,related accept',
    `    ip daddr ${model.metadataAddress} tcp dport 80 accept`,
    '  }',
    '  chain output {',
    '    type filter hook output priority 0; policy accept;',
    '    ct state established,related accept',
    '    ip daddr @instances jump ingress',
    '  }',
    '}',
  ];
  const antiSpoof = model.endpoints.flatMap((e) => [
    `    iifname ${quote(e.port)} ether type ip ip saddr != ${e.ip} drop`,
    `    iifname ${quote(e.port)} ether type arp arp saddr ip != ${e.ip} drop`,
  ]);
  const bridge = [
    `table bridge ${BRIDGE_TABLE} {`,
    '  chain prerouting {',
    '    type filter hook prerouting priority 0; policy accept;',
    '    ether type ip6 drop',
    ...antiSpoof,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority 0; policy drop;',
    '  }',
    '}',
  ];
  return [
    `table inet ${INET_TABLE}`,
    `delete table inet ${INET_TABLE}`,
    `table bridge ${BRIDGE_TABLE}`,
    `delete table bridge ${BRIDGE_TABLE}`,
    ...inet,
    ...bridge,
    '',
  ].join('\n');
}
