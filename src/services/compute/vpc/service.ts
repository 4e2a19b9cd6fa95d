import { createHash } from 'node:crypto';
import { rfc3339, type Clock } from '../../../core/clock.ts';
import {
  AlreadyExists,
  ConditionNotMet,
  FailedPrecondition,
  InvalidArgument,
  NotFound,
} from '../../../core/errors.ts';
import { hexId, numericId } from '../../../core/ids.ts';
import { findRegion, REGIONS } from '../../../core/locations.ts';
import type { InstanceEndpoint, NicRequest } from '../contracts.ts';
import { AUTO_MODE_RANGE, autoSubnetRange } from './auto-ranges.ts';
import {
  cidrContains,
  cidrsOverlap,
  containsIp,
  firstUsable,
  formatCidr,
  formatIp,
  gatewayOf,
  isValidSubnetRange,
  lastUsable,
  parseCidr,
  parseIp,
  type Cidr,
} from './ipv4.ts';
import type {
  AddressRecord,
  FirewallProtocol,
  FirewallRecord,
  NetworkRecord,
  NicRecord,
  RouteRecord,
  SubnetworkRecord,
  VpcStore,
} from './store.ts';

const NAME_PATTERN = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME_REGEX_TEXT = '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)';
const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'esp', 'ah', 'sctp', 'ipip', 'all']);
const PORT_PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);
const DEFAULT_INTERNET_GATEWAY = 'default-internet-gateway';

/** Which network a change touched, so the dataplane can resynchronise it. */
export type VpcChangeListener = (project: string, network: string) => void;

export function invalidField(field: string, value: string, detail: string): InvalidArgument {
  return new InvalidArgument(`Invalid value for field '${field}': '${value}'. ${detail}`, {
    reason: 'invalid',
  });
}

export function validateName(name: unknown, field = 'resource.name'): string {
  if (typeof name !== 'string' || name === '') {
    throw new InvalidArgument(
      `Invalid value for field '${field}': ''. Must be a match of regex '${NAME_REGEX_TEXT}'`,
      {
        reason: 'invalid',
      },
    );
  }
  if (!NAME_PATTERN.test(name)) {
    throw invalidField(field, name, `Must be a match of regex '${NAME_REGEX_TEXT}'`);
  }
  return name;
}

function notFound(path: string): NotFound {
  return new NotFound(`The resource '${path}' was not found`);
}

function alreadyExists(path: string): AlreadyExists {
  return new AlreadyExists(`The resource '${path}' already exists`);
}

function inUse(kind: string, path: string, user: string): FailedPrecondition {
  return new FailedPrecondition(`The ${kind} resource '${path}' is already being used by '${user}'`, {
    reason: 'resourceInUseByAnotherResource',
  });
}

/** The last path segment after `marker` in a resource URL/path, or the value itself when bare. */
export function referencedName(value: string, marker: string): string {
  const at = value.lastIndexOf(`/${marker}/`);
  if (at >= 0) {
    return value.slice(at + marker.length + 2);
  }
  return value.startsWith(`${marker}/`) ? value.slice(marker.length + 1) : value;
}

/** `regions/R/subnetworks/S` (or a URL holding it) -> { region, name }. */
function referencedRegional(value: string, collection: string): { region?: string; name: string } {
  const match = new RegExp(`regions/([^/]+)/${collection}/([^/]+)$`).exec(value);
  if (match !== null) {
    return { region: match[1] ?? '', name: match[2] ?? '' };
  }
  return { name: value };
}

export const networkPath = (project: string, name: string): string =>
  `projects/${project}/global/networks/${name}`;
export const subnetworkPath = (project: string, region: string, name: string): string =>
  `projects/${project}/regions/${region}/subnetworks/${name}`;
export const firewallPath = (project: string, name: string): string =>
  `projects/${project}/global/firewalls/${name}`;
export const routePath = (project: string, name: string): string =>
  `projects/${project}/global/routes/${name}`;
export const addressPath = (project: string, region: string, name: string): string =>
  `projects/${project}/regions/${region}/addresses/${name}`;
export const instancePath = (project: string, zone: string, name: string): string =>
  `projects/${project}/zones/${zone}/instances/${name}`;

export interface NetworkInput {
  name?: string;
  description?: string;
  autoCreateSubnetworks?: boolean;
  routingConfig?: { routingMode?: string };
  mtu?: number;
  IPv4Range?: string;
}

export interface SubnetworkInput {
  name?: string;
  description?: string;
  network?: string;
  ipCidrRange?: string;
  privateIpGoogleAccess?: boolean;
  region?: string;
}

export interface FirewallInput {
  name?: string;
  description?: string;
  network?: string;
  direction?: string;
  priority?: number;
  sourceRanges?: string[];
  destinationRanges?: string[];
  sourceTags?: string[];
  targetTags?: string[];
  sourceServiceAccounts?: string[];
  targetServiceAccounts?: string[];
  allowed?: FirewallProtocol[];
  denied?: FirewallProtocol[];
  disabled?: boolean;
  logConfig?: { enable?: boolean };
}

export interface RouteInput {
  name?: string;
  description?: string;
  network?: string;
  destRange?: string;
  priority?: number;
  nextHopInstance?: string;
  nextHopIp?: string;
  nextHopGateway?: string;
  tags?: string[];
}

export interface AddressInput {
  name?: string;
  description?: string;
  address?: string;
  addressType?: string;
  purpose?: string;
  subnetwork?: string;
  network?: string;
  prefixLength?: number;
}

/**
 * VPC domain: networks, subnetworks, firewall rules, routes, internal addresses and IPAM. Every
 * mutation runs in one store transaction and then tells `onChange` which network it touched.
 */
export class VpcService {
  private readonly listeners: VpcChangeListener[] = [];
  /** Extra users of a network the VPC store does not know (e.g. instances), by project/network. */
  private readonly networkUserProbes: ((project: string, network: string) => string[])[] = [];

  constructor(
    private readonly store: VpcStore,
    private readonly clock: Clock,
  ) {}

  onChange(listener: VpcChangeListener): void {
    this.listeners.push(listener);
  }

  /** Lets another module (instances) say who uses a network, so deleting it is refused while in use. */
  addNetworkUserProbe(probe: (project: string, network: string) => string[]): void {
    this.networkUserProbes.push(probe);
  }

  private changed(project: string, network: string): void {
    for (const listener of this.listeners) {
      listener(project, network);
    }
  }

  private now(): string {
    return rfc3339(this.clock.now());
  }

  // --- project bootstrap ---------------------------------------------------------------------

  /** Creates the `default` auto mode network and its firewall rules the first time a project is seen. */
  ensureProject(project: string): void {
    if (this.store.projectInitialized(project)) {
      return;
    }
    this.store.transaction(() => {
      if (this.store.projectInitialized(project)) {
        return;
      }
      this.store.markProjectInitialized(project);
      if (this.store.getNetwork(project, 'default') !== undefined) {
        return;
      }
      this.createNetwork(project, {
        name: 'default',
        description: 'Default network for the project',
        autoCreateSubnetworks: true,
      });
      const rule = (
        name: string,
        description: string,
        sourceRanges: string[],
        allowed: FirewallProtocol[],
      ): void => {
        this.createFirewall(project, {
          name,
          description,
          network: 'default',
          direction: 'INGRESS',
          priority: 65534,
          sourceRanges,
          allowed,
        });
      };
      rule(
        'default-allow-internal',
        'Allow internal traffic on the default network',
        [AUTO_MODE_RANGE],
        [
          { IPProtocol: 'tcp', ports: ['0-65535'] },
          { IPProtocol: 'udp', ports: ['0-65535'] },
          { IPProtocol: 'icmp' },
        ],
      );
      rule(
        'default-allow-ssh',
        'Allow SSH from anywhere',
        ['0.0.0.0/0'],
        [{ IPProtocol: 'tcp', ports: ['22'] }],
      );
      rule(
        'default-allow-rdp',
        'Allow RDP from anywhere',
        ['0.0.0.0/0'],
        [{ IPProtocol: 'tcp', ports: ['3389'] }],
      );
      rule('default-allow-icmp', 'Allow ICMP from anywhere', ['0.0.0.0/0'], [{ IPProtocol: 'icmp' }]);
    });
  }

  // --- networks -------------------------------------------------------------------------------

  getNetwork(project: string, name: string): NetworkRecord {
    const network = this.store.getNetwork(project, name);
    if (network === undefined) {
      throw notFound(networkPath(project, name));
    }
    return network;
  }

  listNetworks(project: string): NetworkRecord[] {
    return this.store.listNetworks(project);
  }

  insertNetwork(project: string, input: NetworkInput): NetworkRecord {
    const network = this.store.transaction(() => this.createNetwork(project, input));
    this.changed(project, network.name);
    return network;
  }

  private createNetwork(project: string, input: NetworkInput): NetworkRecord {
    const name = validateName(input.name);
    if (input.IPv4Range !== undefined) {
      throw invalidField(
        'resource.IPv4Range',
        input.IPv4Range,
        'Legacy networks are not supported; create a VPC network (autoCreateSubnetworks).',
      );
    }
    const routingMode = input.routingConfig?.routingMode ?? 'REGIONAL';
    if (routingMode !== 'REGIONAL' && routingMode !== 'GLOBAL') {
      throw invalidField('resource.routingConfig.routingMode', routingMode, 'Must be REGIONAL or GLOBAL.');
    }
    const mtu = input.mtu ?? 1460;
    if (!Number.isInteger(mtu) || mtu < 1300 || mtu > 8896) {
      throw invalidField('resource.mtu', String(mtu), 'Must be between 1300 and 8896.');
    }
    if (this.store.getNetwork(project, name) !== undefined) {
      throw alreadyExists(networkPath(project, name));
    }
    const network: NetworkRecord = {
      id: numericId(19),
      project,
      name,
      autoCreateSubnetworks: input.autoCreateSubnetworks ?? true,
      routingMode,
      mtu,
      creationTimestamp: this.now(),
    };
    if (input.description !== undefined) {
      network.description = input.description;
    }
    this.store.putNetwork(network);
    this.store.putRoute({
      id: numericId(19),
      project,
      name: `default-route-${hexId(8)}`,
      network: name,
      description: 'Default route to the Internet.',
      destRange: '0.0.0.0/0',
      priority: 1000,
      kind: 'DEFAULT_INTERNET',
      creationTimestamp: this.now(),
    });
    if (network.autoCreateSubnetworks) {
      const regions = REGIONS.map((r) => r.name);
      for (const region of regions) {
        this.createSubnetwork(
          project,
          region,
          {
            name,
            network: name,
            ipCidrRange: autoSubnetRange(region, regions),
          },
          true,
        );
      }
    }
    return network;
  }

  patchNetwork(project: string, name: string, input: NetworkInput): NetworkRecord {
    const network = this.store.transaction(() => {
      const current = this.getNetwork(project, name);
      if (input.name !== undefined && input.name !== name) {
        throw invalidField('resource.name', input.name, 'The name of a network cannot be changed.');
      }
      if (
        input.autoCreateSubnetworks !== undefined &&
        input.autoCreateSubnetworks !== current.autoCreateSubnetworks
      ) {
        throw invalidField(
          'resource.autoCreateSubnetworks',
          String(input.autoCreateSubnetworks),
          'Use switchToCustomMode to change the subnet mode.',
        );
      }
      const next: NetworkRecord = { ...current };
      if (input.description !== undefined) {
        next.description = input.description;
      }
      if (input.routingConfig?.routingMode !== undefined) {
        const mode = input.routingConfig.routingMode;
        if (mode !== 'REGIONAL' && mode !== 'GLOBAL') {
          throw invalidField('resource.routingConfig.routingMode', mode, 'Must be REGIONAL or GLOBAL.');
        }
        next.routingMode = mode;
      }
      if (input.mtu !== undefined) {
        if (!Number.isInteger(input.mtu) || input.mtu < 1300 || input.mtu > 8896) {
          throw invalidField('resource.mtu', String(input.mtu), 'Must be between 1300 and 8896.');
        }
        next.mtu = input.mtu;
      }
      this.store.putNetwork(next);
      return next;
    });
    this.changed(project, name);
    return network;
  }

  /** Auto mode -> custom mode (the subnets stay). */
  switchToCustomMode(project: string, name: string): NetworkRecord {
    return this.store.transaction(() => {
      const current = this.getNetwork(project, name);
      if (!current.autoCreateSubnetworks) {
        throw new InvalidArgument(
          `Network '${networkPath(project, name)}' is already a custom mode network.`,
          { reason: 'invalid' },
        );
      }
      const next = { ...current, autoCreateSubnetworks: false };
      this.store.putNetwork(next);
      return next;
    });
  }

  deleteNetwork(project: string, name: string): NetworkRecord {
    const network = this.store.transaction(() => {
      const current = this.getNetwork(project, name);
      const path = networkPath(project, name);
      const nic = this.store.listNics().find((n) => n.project === project && n.network === name);
      if (nic !== undefined) {
        throw inUse('network', path, instancePath(project, nic.zone, nic.name));
      }
      for (const probe of this.networkUserProbes) {
        const user = probe(project, name)[0];
        if (user !== undefined) {
          throw inUse('network', path, user);
        }
      }
      const firewall = this.store.listFirewalls(project).find((f) => f.network === name);
      if (firewall !== undefined) {
        throw inUse('network', path, firewallPath(project, firewall.name));
      }
      const route = this.store.listRoutes(project).find((r) => r.network === name && r.kind === 'STATIC');
      if (route !== undefined) {
        throw inUse('network', path, routePath(project, route.name));
      }
      const subnets = this.store.listSubnetworks(project).filter((s) => s.network === name);
      const address = this.store.listAddresses(project).find((a) => a.network === name);
      if (address !== undefined) {
        throw inUse('network', path, addressPath(project, address.region, address.name));
      }
      // Auto mode subnets go with their network; custom subnets must be deleted first.
      const custom = current.autoCreateSubnetworks ? undefined : subnets[0];
      if (custom !== undefined) {
        throw inUse('network', path, subnetworkPath(project, custom.region, custom.name));
      }
      for (const subnet of subnets) {
        this.store.deleteSubnetwork(project, subnet.region, subnet.name);
      }
      for (const r of this.store.listRoutes(project).filter((r) => r.network === name)) {
        this.store.deleteRoute(project, r.name);
      }
      this.store.deleteNetwork(project, name);
      return current;
    });
    this.changed(project, name);
    return network;
  }

  // --- subnetworks ----------------------------------------------------------------------------

  getSubnetwork(project: string, region: string, name: string): SubnetworkRecord {
    const subnet = this.store.getSubnetwork(project, region, name);
    if (subnet === undefined) {
      throw notFound(subnetworkPath(project, region, name));
    }
    return subnet;
  }

  listSubnetworks(project: string, region?: string): SubnetworkRecord[] {
    return this.store.listSubnetworks(project, region);
  }

  subnetworksOf(project: string, network: string): SubnetworkRecord[] {
    return this.store.listSubnetworks(project).filter((s) => s.network === network);
  }

  insertSubnetwork(project: string, region: string, input: SubnetworkInput): SubnetworkRecord {
    const subnet = this.store.transaction(() => this.createSubnetwork(project, region, input, false));
    this.changed(project, subnet.network);
    return subnet;
  }

  private requireRegion(project: string, region: string): void {
    if (findRegion(region) === undefined) {
      throw notFound(`projects/${project}/regions/${region}`);
    }
  }

  private createSubnetwork(
    project: string,
    region: string,
    input: SubnetworkInput,
    automatic: boolean,
  ): SubnetworkRecord {
    this.requireRegion(project, region);
    const name = validateName(input.name);
    if (input.network === undefined || input.network === '') {
      throw new InvalidArgument(
        "Invalid value for field 'resource.network': ''. The network must be specified.",
        { reason: 'invalid' },
      );
    }
    const networkName = referencedName(input.network, 'networks');
    const network = this.store.getNetwork(project, networkName);
    if (network === undefined) {
      throw invalidField(
        'resource.network',
        input.network,
        'The referenced network resource cannot be found.',
      );
    }
    const rangeText = input.ipCidrRange ?? '';
    const range = this.validateRange(rangeText, 'resource.ipCidrRange');
    if (
      !automatic &&
      network.autoCreateSubnetworks &&
      cidrsOverlap(range, parseCidr(AUTO_MODE_RANGE) ?? range)
    ) {
      throw invalidField(
        'resource.ipCidrRange',
        rangeText,
        `Subnetworks of auto mode networks cannot use ranges in ${AUTO_MODE_RANGE}.`,
      );
    }
    if (this.store.getSubnetwork(project, region, name) !== undefined) {
      throw alreadyExists(subnetworkPath(project, region, name));
    }
    this.checkNoOverlap(project, networkName, range, rangeText);
    const subnet: SubnetworkRecord = {
      id: numericId(19),
      project,
      region,
      name,
      network: networkName,
      ipCidrRange: formatCidr(range),
      gatewayAddress: formatIp(gatewayOf(range)),
      privateIpGoogleAccess: input.privateIpGoogleAccess ?? false,
      fingerprint: '',
      creationTimestamp: this.now(),
    };
    if (input.description !== undefined) {
      subnet.description = input.description;
    }
    subnet.fingerprint = fingerprintOf(subnet);
    this.store.putSubnetwork(subnet);
    this.store.putRoute({
      id: numericId(19),
      project,
      name: `default-route-${hexId(8)}`,
      network: networkName,
      description: `Default local route to the subnetwork ${subnet.ipCidrRange}.`,
      destRange: subnet.ipCidrRange,
      priority: 0,
      kind: 'SUBNET',
      subnetwork: `${region}/${name}`,
      creationTimestamp: this.now(),
    });
    return subnet;
  }

  private validateRange(text: string, field: string): Cidr {
    const loose = parseCidr(text, false);
    if (loose === undefined || !text.includes('/')) {
      throw invalidField(field, text, 'Must be a CIDR range such as 10.0.0.0/24.');
    }
    const range = parseCidr(text);
    if (range === undefined) {
      throw invalidField(field, text, `The range has host bits set; did you mean ${formatCidr(loose)}?`);
    }
    if (range.prefix < 8 || range.prefix > 29) {
      throw invalidField(field, text, 'The prefix length must be between /8 and /29.');
    }
    if (!isValidSubnetRange(range)) {
      throw invalidField(
        field,
        text,
        'The range must be inside RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) or another range Google allows for subnets (100.64.0.0/10, 192.0.0.0/24, 192.0.2.0/24, 198.18.0.0/15, 198.51.100.0/24, 203.0.113.0/24, 240.0.0.0/4).',
      );
    }
    return range;
  }

  private checkNoOverlap(
    project: string,
    network: string,
    range: Cidr,
    text: string,
    except?: SubnetworkRecord,
  ): void {
    for (const other of this.subnetworksOf(project, network)) {
      if (except !== undefined && other.region === except.region && other.name === except.name) {
        continue;
      }
      const otherRange = parseCidr(other.ipCidrRange);
      if (otherRange !== undefined && cidrsOverlap(range, otherRange)) {
        throw new InvalidArgument(
          `Invalid IPCidrRange: ${text} conflicts with existing subnetwork '${other.name}' in region '${other.region}'.`,
          { reason: 'invalid' },
        );
      }
    }
    for (const route of this.store.listRoutes(project)) {
      const dest = parseCidr(route.destRange);
      if (
        route.network === network &&
        route.kind === 'STATIC' &&
        dest !== undefined &&
        cidrContains(range, dest)
      ) {
        throw new InvalidArgument(
          `Invalid IPCidrRange: ${text} conflicts with existing route '${route.name}' (${route.destRange}).`,
          { reason: 'invalid' },
        );
      }
    }
  }

  patchSubnetwork(
    project: string,
    region: string,
    name: string,
    input: SubnetworkInput & { fingerprint?: string },
  ): SubnetworkRecord {
    const subnet = this.store.transaction(() => {
      const current = this.getSubnetwork(project, region, name);
      if (input.fingerprint !== undefined && input.fingerprint !== current.fingerprint) {
        throw new ConditionNotMet(
          `Supplied fingerprint does not match current fingerprint of 'subnetworks/${name}'.`,
          { reason: 'conditionNotMet' },
        );
      }
      const next: SubnetworkRecord = { ...current };
      if (input.description !== undefined) {
        next.description = input.description;
      }
      if (input.privateIpGoogleAccess !== undefined) {
        next.privateIpGoogleAccess = input.privateIpGoogleAccess;
      }
      if (input.ipCidrRange !== undefined && input.ipCidrRange !== current.ipCidrRange) {
        return this.expand(current, input.ipCidrRange);
      }
      next.fingerprint = fingerprintOf(next);
      this.store.putSubnetwork(next);
      return next;
    });
    this.changed(project, subnet.network);
    return subnet;
  }

  setPrivateIpGoogleAccess(
    project: string,
    region: string,
    name: string,
    enabled: boolean,
  ): SubnetworkRecord {
    return this.patchSubnetwork(project, region, name, { privateIpGoogleAccess: enabled });
  }

  expandIpCidrRange(
    project: string,
    region: string,
    name: string,
    ipCidrRange: string | undefined,
  ): SubnetworkRecord {
    const subnet = this.store.transaction(() =>
      this.expand(this.getSubnetwork(project, region, name), ipCidrRange ?? ''),
    );
    this.changed(project, subnet.network);
    return subnet;
  }

  private expand(current: SubnetworkRecord, text: string): SubnetworkRecord {
    const range = this.validateRange(text, 'ipCidrRange');
    const old = parseCidr(current.ipCidrRange);
    if (old === undefined || !cidrContains(range, old) || range.prefix >= old.prefix) {
      throw invalidField(
        'ipCidrRange',
        text,
        `The new range must be larger than and contain the current range ${current.ipCidrRange}.`,
      );
    }
    const network = this.store.getNetwork(current.project, current.network);
    if (network?.autoCreateSubnetworks === true && range.prefix < 16) {
      throw invalidField(
        'ipCidrRange',
        text,
        'Subnetworks of auto mode networks can be expanded to /16 at most.',
      );
    }
    this.checkNoOverlap(current.project, current.network, range, text, current);
    const next: SubnetworkRecord = { ...current, ipCidrRange: formatCidr(range) };
    next.fingerprint = fingerprintOf(next);
    this.store.putSubnetwork(next);
    for (const route of this.store.listRoutes(current.project)) {
      if (route.kind === 'SUBNET' && route.subnetwork === `${current.region}/${current.name}`) {
        this.store.putRoute({
          ...route,
          destRange: next.ipCidrRange,
          description: `Default local route to the subnetwork ${next.ipCidrRange}.`,
        });
      }
    }
    return next;
  }

  deleteSubnetwork(project: string, region: string, name: string): SubnetworkRecord {
    const subnet = this.store.transaction(() => {
      const current = this.getSubnetwork(project, region, name);
      const path = subnetworkPath(project, region, name);
      const network = this.store.getNetwork(project, current.network);
      if (network?.autoCreateSubnetworks === true && current.name === network.name) {
        throw new InvalidArgument(
          `The subnetwork resource '${path}' belongs to an auto mode network and cannot be deleted.`,
          {
            reason: 'invalid',
          },
        );
      }
      const nic = this.store
        .listNics()
        .find((n) => n.project === project && n.region === region && n.subnetwork === name);
      if (nic !== undefined) {
        throw inUse('subnetwork', path, instancePath(project, nic.zone, nic.name));
      }
      const address = this.store.listAddresses(project, region).find((a) => a.subnetwork === name);
      if (address !== undefined) {
        throw inUse('subnetwork', path, addressPath(project, region, address.name));
      }
      this.store.deleteSubnetwork(project, region, name);
      for (const route of this.store.listRoutes(project)) {
        if (route.kind === 'SUBNET' && route.subnetwork === `${region}/${name}`) {
          this.store.deleteRoute(project, route.name);
        }
      }
      return current;
    });
    this.changed(project, subnet.network);
    return subnet;
  }

  // --- firewalls ------------------------------------------------------------------------------

  getFirewall(project: string, name: string): FirewallRecord {
    const rule = this.store.getFirewall(project, name);
    if (rule === undefined) {
      throw notFound(firewallPath(project, name));
    }
    return rule;
  }

  listFirewalls(project: string): FirewallRecord[] {
    return this.store.listFirewalls(project);
  }

  firewallsOf(project: string, network: string): FirewallRecord[] {
    return this.store.listFirewalls(project).filter((f) => f.network === network);
  }

  insertFirewall(project: string, input: FirewallInput): FirewallRecord {
    const rule = this.store.transaction(() => this.createFirewall(project, input));
    this.changed(project, rule.network);
    return rule;
  }

  private createFirewall(project: string, input: FirewallInput): FirewallRecord {
    const name = validateName(input.name);
    if (this.store.getFirewall(project, name) !== undefined) {
      throw alreadyExists(firewallPath(project, name));
    }
    const rule = this.buildFirewall(project, name, input, undefined);
    this.store.putFirewall(rule);
    return rule;
  }

  /** PATCH merges the given fields; PUT (`replace`) takes the body as the whole rule. */
  updateFirewall(project: string, name: string, input: FirewallInput, replace: boolean): FirewallRecord {
    const { rule, oldNetwork } = this.store.transaction(() => {
      const current = this.getFirewall(project, name);
      if (input.name !== undefined && input.name !== name) {
        throw invalidField('resource.name', input.name, 'The name of a firewall rule cannot be changed.');
      }
      let merged: FirewallInput;
      if (replace) {
        merged = { ...input, network: input.network ?? current.network };
      } else {
        merged = { ...stripFirewall(current), ...definedOnly(input) };
        // Setting one of allowed/denied in a patch replaces the other.
        if (input.allowed !== undefined && input.allowed.length > 0) {
          delete merged.denied;
        }
        if (input.denied !== undefined && input.denied.length > 0) {
          delete merged.allowed;
        }
      }
      const next = this.buildFirewall(project, name, merged, current);
      if (next.network !== current.network) {
        throw invalidField(
          'resource.network',
          merged.network ?? '',
          'The network of a firewall rule cannot be changed.',
        );
      }
      this.store.putFirewall(next);
      return { rule: next, oldNetwork: current.network };
    });
    this.changed(project, oldNetwork);
    return rule;
  }

  deleteFirewall(project: string, name: string): FirewallRecord {
    const rule = this.store.transaction(() => {
      const current = this.getFirewall(project, name);
      this.store.deleteFirewall(project, name);
      return current;
    });
    this.changed(project, rule.network);
    return rule;
  }

  private buildFirewall(
    project: string,
    name: string,
    input: FirewallInput,
    current: FirewallRecord | undefined,
  ): FirewallRecord {
    const networkRef = input.network ?? 'default';
    const network = referencedName(networkRef, 'networks');
    if (this.store.getNetwork(project, network) === undefined) {
      throw invalidField('resource.network', networkRef, 'The referenced network resource cannot be found.');
    }
    const direction = input.direction ?? 'INGRESS';
    if (direction !== 'INGRESS' && direction !== 'EGRESS') {
      throw invalidField('resource.direction', direction, 'Must be INGRESS or EGRESS.');
    }
    const priority = input.priority ?? 1000;
    if (!Number.isInteger(priority) || priority < 0 || priority > 65535) {
      throw invalidField('resource.priority', String(priority), 'Must be between 0 and 65535.');
    }
    const allowed = input.allowed ?? [];
    const denied = input.denied ?? [];
    if (allowed.length > 0 === denied.length > 0) {
      throw new InvalidArgument(
        "Invalid value for field 'resource': exactly one of 'allowed' or 'denied' must be specified.",
        { reason: 'invalid' },
      );
    }
    allowed.forEach((p, i) => {
      validateProtocol(p, `resource.allowed[${String(i)}]`);
    });
    denied.forEach((p, i) => {
      validateProtocol(p, `resource.denied[${String(i)}]`);
    });
    const ranges = (list: string[] | undefined, field: string): string[] =>
      (list ?? []).map((text, i) => {
        const cidr = parseCidr(text, false);
        if (cidr === undefined) {
          throw invalidField(`${field}[${String(i)}]`, text, 'Must be an IPv4 address or CIDR range.');
        }
        return text.includes('/') ? formatCidr(cidr) : text;
      });
    const tags = (list: string[] | undefined, field: string): string[] =>
      (list ?? []).map((tag, i) => validateName(tag, `${field}[${String(i)}]`));
    let sourceRanges = ranges(input.sourceRanges, 'resource.sourceRanges');
    let destinationRanges = ranges(input.destinationRanges, 'resource.destinationRanges');
    const sourceTags = tags(input.sourceTags, 'resource.sourceTags');
    const targetTags = tags(input.targetTags, 'resource.targetTags');
    const sourceServiceAccounts = input.sourceServiceAccounts ?? [];
    const targetServiceAccounts = input.targetServiceAccounts ?? [];
    if (targetTags.length > 0 && targetServiceAccounts.length > 0) {
      throw new InvalidArgument('targetTags and targetServiceAccounts cannot be used together.', {
        reason: 'invalid',
      });
    }
    if (sourceTags.length > 0 && sourceServiceAccounts.length > 0) {
      throw new InvalidArgument('sourceTags and sourceServiceAccounts cannot be used together.', {
        reason: 'invalid',
      });
    }
    if (direction === 'EGRESS') {
      if (sourceTags.length > 0 || sourceServiceAccounts.length > 0) {
        throw new InvalidArgument('Egress rules cannot use sourceTags or sourceServiceAccounts.', {
          reason: 'invalid',
        });
      }
      if (destinationRanges.length === 0) {
        destinationRanges = ['0.0.0.0/0'];
      }
    } else if (sourceRanges.length === 0 && sourceTags.length === 0 && sourceServiceAccounts.length === 0) {
      sourceRanges = ['0.0.0.0/0'];
    }
    const rule: FirewallRecord = {
      id: current?.id ?? numericId(19),
      project,
      name,
      network,
      direction,
      priority,
      disabled: input.disabled ?? false,
      logConfig: { enable: input.logConfig?.enable ?? false },
      creationTimestamp: current?.creationTimestamp ?? this.now(),
    };
    const description = input.description;
    if (description !== undefined && description !== '') {
      rule.description = description;
    }
    if (allowed.length > 0) {
      rule.allowed = allowed.map(normalizeProtocol);
    } else {
      rule.denied = denied.map(normalizeProtocol);
    }
    if (sourceRanges.length > 0) {
      rule.sourceRanges = sourceRanges;
    }
    if (destinationRanges.length > 0) {
      rule.destinationRanges = destinationRanges;
    }
    if (sourceTags.length > 0) {
      rule.sourceTags = sourceTags;
    }
    if (targetTags.length > 0) {
      rule.targetTags = targetTags;
    }
    if (sourceServiceAccounts.length > 0) {
      rule.sourceServiceAccounts = sourceServiceAccounts;
    }
    if (targetServiceAccounts.length > 0) {
      rule.targetServiceAccounts = targetServiceAccounts;
    }
    return rule;
  }

  // --- routes ---------------------------------------------------------------------------------

  getRoute(project: string, name: string): RouteRecord {
    const route = this.store.getRoute(project, name);
    if (route === undefined) {
      throw notFound(routePath(project, name));
    }
    return route;
  }

  listRoutes(project: string): RouteRecord[] {
    return this.store.listRoutes(project);
  }

  routesOf(project: string, network: string): RouteRecord[] {
    return this.store.listRoutes(project).filter((r) => r.network === network);
  }

  insertRoute(project: string, input: RouteInput): RouteRecord {
    const route = this.store.transaction(() => {
      const name = validateName(input.name);
      if (this.store.getRoute(project, name) !== undefined) {
        throw alreadyExists(routePath(project, name));
      }
      const networkRef = input.network ?? '';
      const network = referencedName(networkRef, 'networks');
      if (network === '' || this.store.getNetwork(project, network) === undefined) {
        throw invalidField(
          'resource.network',
          networkRef,
          'The referenced network resource cannot be found.',
        );
      }
      const destText = input.destRange ?? '';
      const dest = parseCidr(destText, false);
      if (dest === undefined || !destText.includes('/')) {
        throw invalidField('resource.destRange', destText, 'Must be a CIDR range.');
      }
      const priority = input.priority ?? 1000;
      if (!Number.isInteger(priority) || priority < 0 || priority > 65535) {
        throw invalidField('resource.priority', String(priority), 'Must be between 0 and 65535.');
      }
      const hops = [input.nextHopInstance, input.nextHopIp, input.nextHopGateway].filter(
        (h) => h !== undefined && h !== '',
      );
      if (hops.length !== 1) {
        throw new InvalidArgument(
          'Exactly one of nextHopInstance, nextHopIp or nextHopGateway must be specified (Nimbus supports these next hops).',
          {
            reason: 'invalid',
          },
        );
      }
      const subnets = this.subnetworksOf(project, network);
      for (const subnet of subnets) {
        const range = parseCidr(subnet.ipCidrRange);
        if (range !== undefined && cidrContains(range, dest)) {
          throw invalidField(
            'resource.destRange',
            destText,
            `The range is equal to or more specific than the subnetwork route of '${subnet.name}' (${subnet.ipCidrRange}).`,
          );
        }
      }
      const route: RouteRecord = {
        id: numericId(19),
        project,
        name,
        network,
        destRange: formatCidr(dest),
        priority,
        kind: 'STATIC',
        creationTimestamp: this.now(),
      };
      if (input.description !== undefined && input.description !== '') {
        route.description = input.description;
      }
      if (input.tags !== undefined && input.tags.length > 0) {
        route.tags = input.tags.map((t, i) => validateName(t, `resource.tags[${String(i)}]`));
      }
      if (input.nextHopGateway !== undefined && input.nextHopGateway !== '') {
        if (referencedName(input.nextHopGateway, 'gateways') !== DEFAULT_INTERNET_GATEWAY) {
          throw invalidField(
            'resource.nextHopGateway',
            input.nextHopGateway,
            `Only ${DEFAULT_INTERNET_GATEWAY} is supported.`,
          );
        }
        route.kind = 'DEFAULT_INTERNET';
      } else if (input.nextHopIp !== undefined && input.nextHopIp !== '') {
        const ip = parseIp(input.nextHopIp);
        const inside =
          ip !== undefined &&
          subnets.some((s) => {
            const range = parseCidr(s.ipCidrRange);
            return range !== undefined && containsIp(range, ip);
          });
        if (!inside) {
          throw invalidField(
            'resource.nextHopIp',
            input.nextHopIp,
            `The next hop must be an address in a subnetwork of '${network}'.`,
          );
        }
        route.nextHopIp = input.nextHopIp;
      } else if (input.nextHopInstance !== undefined) {
        const nic = this.nicOfInstanceRef(project, input.nextHopInstance);
        if (nic?.network !== network) {
          throw invalidField(
            'resource.nextHopInstance',
            input.nextHopInstance,
            `The instance must exist and have an interface in '${network}'.`,
          );
        }
        route.nextHopInstance = instancePath(project, nic.zone, nic.name);
      }
      this.store.putRoute(route);
      return route;
    });
    this.changed(project, route.network);
    return route;
  }

  private nicOfInstanceRef(project: string, ref: string): NicRecord | undefined {
    const match = /zones\/([^/]+)\/instances\/([^/]+)$/.exec(ref);
    const zone = match?.[1];
    const name = match?.[2] ?? ref;
    return this.store
      .listNics()
      .find((n) => n.project === project && n.name === name && (zone === undefined || n.zone === zone));
  }

  /** The next-hop address of a static route (an instance's current IP), if it resolves. */
  nextHopAddress(route: RouteRecord): string | undefined {
    if (route.nextHopIp !== undefined) {
      return route.nextHopIp;
    }
    if (route.nextHopInstance !== undefined) {
      return this.nicOfInstanceRef(route.project, route.nextHopInstance)?.networkIP;
    }
    return undefined;
  }

  deleteRoute(project: string, name: string): RouteRecord {
    const route = this.store.transaction(() => {
      const current = this.getRoute(project, name);
      if (current.kind === 'SUBNET') {
        throw new InvalidArgument(
          `The local route '${routePath(project, name)}' of a subnetwork cannot be deleted; delete the subnetwork instead.`,
          { reason: 'invalid' },
        );
      }
      this.store.deleteRoute(project, name);
      return current;
    });
    this.changed(project, route.network);
    return route;
  }

  // --- addresses ------------------------------------------------------------------------------

  getAddress(project: string, region: string, name: string): AddressRecord {
    const address = this.store.getAddress(project, region, name);
    if (address === undefined) {
      throw notFound(addressPath(project, region, name));
    }
    return address;
  }

  listAddresses(project: string, region?: string): AddressRecord[] {
    return this.store.listAddresses(project, region);
  }

  insertAddress(project: string, region: string, input: AddressInput): AddressRecord {
    return this.store.transaction(() => {
      this.requireRegion(project, region);
      const name = validateName(input.name);
      const type = input.addressType ?? 'EXTERNAL';
      if (type !== 'INTERNAL') {
        throw invalidField(
          'resource.addressType',
          type,
          'Nimbus reserves INTERNAL addresses only (external access is a port on 127.0.0.1).',
        );
      }
      if (input.purpose !== undefined && input.purpose !== 'GCE_ENDPOINT') {
        throw invalidField('resource.purpose', input.purpose, 'Only GCE_ENDPOINT is supported.');
      }
      if (this.store.getAddress(project, region, name) !== undefined) {
        throw alreadyExists(addressPath(project, region, name));
      }
      let subnet: SubnetworkRecord | undefined;
      if (input.subnetwork !== undefined && input.subnetwork !== '') {
        const ref = referencedRegional(input.subnetwork, 'subnetworks');
        subnet = this.store.getSubnetwork(project, ref.region ?? region, ref.name);
        if (subnet === undefined || subnet.region !== region) {
          throw invalidField(
            'resource.subnetwork',
            input.subnetwork,
            'The referenced subnetwork resource cannot be found in this region.',
          );
        }
      } else {
        const networkName = referencedName(input.network ?? 'default', 'networks');
        subnet = this.subnetworksOf(project, networkName).find((s) => s.region === region);
        if (subnet === undefined) {
          throw invalidField(
            'resource.subnetwork',
            '',
            `Network '${networkName}' has no subnetwork in region ${region}.`,
          );
        }
      }
      const ip = this.reserveIp(subnet, input.address, 'resource.address');
      const range = parseCidr(subnet.ipCidrRange);
      const address: AddressRecord = {
        id: numericId(19),
        project,
        region,
        name,
        address: ip,
        addressType: 'INTERNAL',
        purpose: 'GCE_ENDPOINT',
        network: subnet.network,
        subnetwork: subnet.name,
        prefixLength: range?.prefix ?? 32,
        users: [],
        creationTimestamp: this.now(),
      };
      if (input.description !== undefined && input.description !== '') {
        address.description = input.description;
      }
      this.store.putAddress(address);
      return address;
    });
  }

  deleteAddress(project: string, region: string, name: string): AddressRecord {
    return this.store.transaction(() => {
      const current = this.getAddress(project, region, name);
      const user = current.users[0];
      if (user !== undefined) {
        throw inUse('address', addressPath(project, region, name), user);
      }
      this.store.deleteAddress(project, region, name);
      return current;
    });
  }

  // --- IPAM -----------------------------------------------------------------------------------

  private usedAddresses(subnet: SubnetworkRecord): Set<string> {
    const used = new Set<string>([subnet.gatewayAddress]);
    for (const nic of this.store.listNics()) {
      if (nic.project === subnet.project && nic.network === subnet.network) {
        used.add(nic.networkIP);
      }
    }
    for (const address of this.store.listAddresses(subnet.project, subnet.region)) {
      if (address.subnetwork === subnet.name) {
        used.add(address.address);
      }
    }
    return used;
  }

  /** Picks `wanted` (validated, free) or the lowest free usable address of the subnet. */
  private reserveIp(subnet: SubnetworkRecord, wanted: string | undefined, field: string): string {
    const range = parseCidr(subnet.ipCidrRange);
    if (range === undefined) {
      throw new InvalidArgument(`Subnetwork '${subnet.name}' has an invalid range.`);
    }
    const used = this.usedAddresses(subnet);
    if (wanted !== undefined && wanted !== '') {
      const ip = parseIp(wanted);
      if (ip === undefined || ip < firstUsable(range) || ip > lastUsable(range)) {
        throw invalidField(
          field,
          wanted,
          `The address must be a usable address of subnetwork '${subnet.name}' (${subnet.ipCidrRange}).`,
        );
      }
      if (used.has(wanted)) {
        throw invalidField(field, wanted, 'The address is already in use.');
      }
      return wanted;
    }
    for (let ip = firstUsable(range); ip <= lastUsable(range); ip += 1) {
      const text = formatIp(ip);
      if (!used.has(text)) {
        return text;
      }
    }
    throw new InvalidArgument(`Subnetwork '${subnet.name}' (${subnet.ipCidrRange}) has no free addresses.`, {
      reason: 'ipSpaceExhausted',
    });
  }

  /**
   * The interface of an instance: the existing record (same address after stop/start) or a new one
   * with an address from the subnet. A requested address that is a RESERVED static address of the
   * subnet is taken over (the address becomes IN_USE).
   */
  allocateNic(instance: InstanceEndpoint, request: NicRequest): NicRecord {
    this.ensureProject(request.project);
    const nic = this.store.transaction(() => {
      const existing = this.store.getNic(instance.instanceId);
      const networkName = referencedName(request.network, 'networks');
      const network = this.store.getNetwork(request.project, networkName);
      if (network === undefined) {
        throw invalidField(
          'resource.networkInterfaces[0].network',
          request.network,
          'The referenced network resource cannot be found.',
        );
      }
      const subnetRef = referencedRegional(request.subnetwork, 'subnetworks');
      const region = subnetRef.region ?? request.region;
      const subnetName = subnetRef.name === '' ? networkName : subnetRef.name;
      const subnet = this.store.getSubnetwork(request.project, region, subnetName);
      if (subnet?.network !== networkName) {
        throw invalidField(
          'resource.networkInterfaces[0].subnetwork',
          request.subnetwork,
          `The referenced subnetwork resource cannot be found in network '${networkName}' and region ${region}.`,
        );
      }
      const base = {
        ...endpointFields(instance),
        network: networkName,
        region,
        subnetwork: subnet.name,
        attached: true,
      };
      if (
        existing !== undefined &&
        existing.network === networkName &&
        existing.subnetwork === subnet.name &&
        existing.region === region
      ) {
        const next: NicRecord = { ...existing, ...base };
        this.store.putNic(next);
        return next;
      }
      if (existing !== undefined) {
        this.releaseNicRecord(existing);
      }
      const staticAddress =
        request.networkIP === undefined
          ? undefined
          : this.store
              .listAddresses(request.project, region)
              .find((a) => a.subnetwork === subnet.name && a.address === request.networkIP);
      if (staticAddress !== undefined && staticAddress.users.length > 0) {
        throw invalidField(
          'resource.networkInterfaces[0].networkIP',
          request.networkIP ?? '',
          `The address is already used by '${staticAddress.users[0] ?? ''}'.`,
        );
      }
      const networkIP =
        staticAddress?.address ??
        this.reserveIp(subnet, request.networkIP, 'resource.networkInterfaces[0].networkIP');
      const next: NicRecord = { ...base, networkIP, ephemeral: request.networkIP === undefined };
      if (staticAddress !== undefined) {
        next.staticAddress = staticAddress.name;
        this.store.putAddress({
          ...staticAddress,
          users: [instancePath(instance.project, instance.zone, instance.name)],
        });
      }
      this.store.putNic(next);
      return next;
    });
    this.changed(nic.project, nic.network);
    return nic;
  }

  /** Updates tags/service accounts of an attached instance. */
  updateNicEndpoint(instance: InstanceEndpoint): NicRecord | undefined {
    const nic = this.store.transaction(() => {
      const existing = this.store.getNic(instance.instanceId);
      if (existing === undefined) {
        return undefined;
      }
      const next = { ...existing, ...endpointFields(instance) };
      this.store.putNic(next);
      return next;
    });
    if (nic !== undefined) {
      this.changed(nic.project, nic.network);
    }
    return nic;
  }

  /** Marks the interface detached (keepAddress) or releases it and its address. */
  releaseNic(instanceId: string, keepAddress: boolean): NicRecord | undefined {
    const nic = this.store.transaction(() => {
      const existing = this.store.getNic(instanceId);
      if (existing === undefined) {
        return undefined;
      }
      if (keepAddress) {
        this.store.putNic({ ...existing, attached: false });
      } else {
        this.releaseNicRecord(existing);
      }
      return existing;
    });
    if (nic !== undefined) {
      this.changed(nic.project, nic.network);
    }
    return nic;
  }

  private releaseNicRecord(nic: NicRecord): void {
    this.store.deleteNic(nic.instanceId);
    if (nic.staticAddress !== undefined) {
      const address = this.store.getAddress(nic.project, nic.region, nic.staticAddress);
      if (address !== undefined) {
        this.store.putAddress({ ...address, users: [] });
      }
    }
  }

  getNic(instanceId: string): NicRecord | undefined {
    return this.store.getNic(instanceId);
  }

  nicsOf(project: string, network: string): NicRecord[] {
    return this.store.listNics().filter((n) => n.project === project && n.network === network);
  }

  allNics(): NicRecord[] {
    return this.store.listNics();
  }

  findNetworkById(id: string): NetworkRecord | undefined {
    for (const nic of this.store.listNics()) {
      const network = this.store.getNetwork(nic.project, nic.network);
      if (network?.id === id) {
        return network;
      }
    }
    return undefined;
  }
}

function endpointFields(
  instance: InstanceEndpoint,
): Pick<NicRecord, 'instanceId' | 'project' | 'zone' | 'name' | 'tags' | 'serviceAccounts'> {
  return {
    instanceId: instance.instanceId,
    project: instance.project,
    zone: instance.zone,
    name: instance.name,
    tags: [...instance.tags],
    serviceAccounts: [...instance.serviceAccounts],
  };
}

function fingerprintOf(subnet: SubnetworkRecord): string {
  const { fingerprint: _ignored, ...rest } = subnet;
  return createHash('sha256').update(JSON.stringify(rest)).digest().subarray(0, 8).toString('base64');
}

function validateProtocol(protocol: FirewallProtocol, field: string): void {
  const name = protocol.IPProtocol.toLowerCase();
  const numeric = /^\d{1,3}$/.test(name) && Number(name) <= 255;
  if (!PROTOCOLS.has(name) && !numeric) {
    throw invalidField(
      `${field}.IPProtocol`,
      protocol.IPProtocol,
      'Must be tcp, udp, icmp, esp, ah, sctp, ipip, all or a protocol number.',
    );
  }
  const ports = protocol.ports ?? [];
  if (ports.length > 0 && !PORT_PROTOCOLS.has(name) && name !== '6' && name !== '17' && name !== '132') {
    throw invalidField(`${field}.ports`, ports.join(','), 'Ports can only be given for tcp, udp and sctp.');
  }
  ports.forEach((port, i) => {
    const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(port);
    const low = Number(match?.[1] ?? -1);
    const high = Number(match?.[2] ?? match?.[1] ?? -1);
    if (match === null || low > 65535 || high > 65535 || low > high) {
      throw invalidField(
        `${field}.ports[${String(i)}]`,
        port,
        'Must be a port (0-65535) or a range such as 1000-2000.',
      );
    }
  });
}

function normalizeProtocol(protocol: FirewallProtocol): FirewallProtocol {
  const out: FirewallProtocol = { IPProtocol: protocol.IPProtocol.toLowerCase() };
  if (protocol.ports !== undefined && protocol.ports.length > 0) {
    out.ports = [...protocol.ports];
  }
  return out;
}

function stripFirewall(rule: FirewallRecord): FirewallInput {
  const { id: _id, project: _project, creationTimestamp: _created, ...rest } = rule;
  return rest;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
