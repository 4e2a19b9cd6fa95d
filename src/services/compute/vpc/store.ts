import type { DocumentStore } from '../../../core/store.ts';

/** A VPC network (global). `selfLink`s are added by the presenters from the URL the client used. */
export interface NetworkRecord {
  id: string;
  project: string;
  name: string;
  description?: string;
  autoCreateSubnetworks: boolean;
  routingMode: 'REGIONAL' | 'GLOBAL';
  mtu: number;
  creationTimestamp: string;
}

export interface SubnetworkRecord {
  id: string;
  project: string;
  region: string;
  name: string;
  network: string;
  description?: string;
  ipCidrRange: string;
  gatewayAddress: string;
  privateIpGoogleAccess: boolean;
  fingerprint: string;
  creationTimestamp: string;
}

export interface FirewallProtocol {
  IPProtocol: string;
  ports?: string[];
}

export interface FirewallRecord {
  id: string;
  project: string;
  name: string;
  network: string;
  description?: string;
  direction: 'INGRESS' | 'EGRESS';
  priority: number;
  sourceRanges?: string[];
  destinationRanges?: string[];
  sourceTags?: string[];
  targetTags?: string[];
  sourceServiceAccounts?: string[];
  targetServiceAccounts?: string[];
  allowed?: FirewallProtocol[];
  denied?: FirewallProtocol[];
  disabled: boolean;
  logConfig: { enable: boolean };
  creationTimestamp: string;
}

export type RouteKind = 'SUBNET' | 'DEFAULT_INTERNET' | 'STATIC';

export interface RouteRecord {
  id: string;
  project: string;
  name: string;
  network: string;
  description?: string;
  destRange: string;
  priority: number;
  kind: RouteKind;
  /** SUBNET routes: the subnetwork (`REGION/NAME`) whose range they carry. */
  subnetwork?: string;
  /** STATIC routes: the next hop as given (instance link, or IP). */
  nextHopInstance?: string;
  nextHopIp?: string;
  tags?: string[];
  creationTimestamp: string;
}

export interface AddressRecord {
  id: string;
  project: string;
  region: string;
  name: string;
  description?: string;
  address: string;
  addressType: 'INTERNAL';
  purpose: 'GCE_ENDPOINT';
  network: string;
  subnetwork: string;
  prefixLength: number;
  /** Instance selfLink paths using it (`projects/P/zones/Z/instances/N`). */
  users: string[];
  creationTimestamp: string;
}

/** An instance's network interface as IPAM and the dataplane track it. */
export interface NicRecord {
  instanceId: string;
  project: string;
  zone: string;
  name: string;
  tags: string[];
  serviceAccounts: string[];
  network: string;
  region: string;
  subnetwork: string;
  networkIP: string;
  /** Whether the address came from IPAM (released on delete) or a static address/request. */
  ephemeral: boolean;
  /** The name of the static address it uses, if any. */
  staticAddress?: string;
  /** False while the instance is stopped: the address stays reserved, the namespace is gone. */
  attached: boolean;
}

const NETWORKS = 'compute/networks';
const SUBNETWORKS = 'compute/subnetworks';
const FIREWALLS = 'compute/firewalls';
const ROUTES = 'compute/routes';
const ADDRESSES = 'compute/addresses';
const NICS = 'compute/vpc-nics';
const PROJECTS = 'compute/vpc-projects';

/** Persistence for VPC resources; keys are `PROJECT/NAME` (global) or `PROJECT/REGION/NAME`. */
export class VpcStore {
  constructor(private readonly docs: DocumentStore) {}

  transaction<R>(fn: () => R): R {
    return this.docs.transaction(fn);
  }

  // --- networks
  getNetwork(project: string, name: string): NetworkRecord | undefined {
    return this.docs.get<NetworkRecord>(NETWORKS, `${project}/${name}`);
  }
  putNetwork(network: NetworkRecord): void {
    this.docs.put(NETWORKS, `${network.project}/${network.name}`, network);
  }
  deleteNetwork(project: string, name: string): boolean {
    return this.docs.delete(NETWORKS, `${project}/${name}`);
  }
  listNetworks(project: string): NetworkRecord[] {
    return this.docs.list<NetworkRecord>(NETWORKS, { prefix: `${project}/` });
  }

  // --- subnetworks
  getSubnetwork(project: string, region: string, name: string): SubnetworkRecord | undefined {
    return this.docs.get<SubnetworkRecord>(SUBNETWORKS, `${project}/${region}/${name}`);
  }
  putSubnetwork(subnet: SubnetworkRecord): void {
    this.docs.put(SUBNETWORKS, `${subnet.project}/${subnet.region}/${subnet.name}`, subnet);
  }
  deleteSubnetwork(project: string, region: string, name: string): boolean {
    return this.docs.delete(SUBNETWORKS, `${project}/${region}/${name}`);
  }
  /** Subnetworks of a project, optionally of one region. */
  listSubnetworks(project: string, region?: string): SubnetworkRecord[] {
    const prefix = region === undefined ? `${project}/` : `${project}/${region}/`;
    return this.docs.list<SubnetworkRecord>(SUBNETWORKS, { prefix });
  }

  // --- firewalls
  getFirewall(project: string, name: string): FirewallRecord | undefined {
    return this.docs.get<FirewallRecord>(FIREWALLS, `${project}/${name}`);
  }
  putFirewall(rule: FirewallRecord): void {
    this.docs.put(FIREWALLS, `${rule.project}/${rule.name}`, rule);
  }
  deleteFirewall(project: string, name: string): boolean {
    return this.docs.delete(FIREWALLS, `${project}/${name}`);
  }
  listFirewalls(project: string): FirewallRecord[] {
    return this.docs.list<FirewallRecord>(FIREWALLS, { prefix: `${project}/` });
  }

  // --- routes
  getRoute(project: string, name: string): RouteRecord | undefined {
    return this.docs.get<RouteRecord>(ROUTES, `${project}/${name}`);
  }
  putRoute(route: RouteRecord): void {
    this.docs.put(ROUTES, `${route.project}/${route.name}`, route);
  }
  deleteRoute(project: string, name: string): boolean {
    return this.docs.delete(ROUTES, `${project}/${name}`);
  }
  listRoutes(project: string): RouteRecord[] {
    return this.docs.list<RouteRecord>(ROUTES, { prefix: `${project}/` });
  }

  // --- addresses
  getAddress(project: string, region: string, name: string): AddressRecord | undefined {
    return this.docs.get<AddressRecord>(ADDRESSES, `${project}/${region}/${name}`);
  }
  putAddress(address: AddressRecord): void {
    this.docs.put(ADDRESSES, `${address.project}/${address.region}/${address.name}`, address);
  }
  deleteAddress(project: string, region: string, name: string): boolean {
    return this.docs.delete(ADDRESSES, `${project}/${region}/${name}`);
  }
  listAddresses(project: string, region?: string): AddressRecord[] {
    const prefix = region === undefined ? `${project}/` : `${project}/${region}/`;
    return this.docs.list<AddressRecord>(ADDRESSES, { prefix });
  }

  // --- instance interfaces
  getNic(instanceId: string): NicRecord | undefined {
    return this.docs.get<NicRecord>(NICS, instanceId);
  }
  putNic(nic: NicRecord): void {
    this.docs.put(NICS, nic.instanceId, nic);
  }
  deleteNic(instanceId: string): boolean {
    return this.docs.delete(NICS, instanceId);
  }
  listNics(): NicRecord[] {
    return this.docs.list<NicRecord>(NICS);
  }

  // --- per-project bootstrap marker (the default network is created once per project)
  projectInitialized(project: string): boolean {
    return this.docs.get<{ project: string }>(PROJECTS, project) !== undefined;
  }
  markProjectInitialized(project: string): void {
    this.docs.put(PROJECTS, project, { project });
  }
}
