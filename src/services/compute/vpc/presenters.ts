import { computeLink } from '../presenters.ts';
import { addressPath, firewallPath, networkPath, routePath, subnetworkPath } from './service.ts';
import type { AddressRecord, FirewallRecord, NetworkRecord, RouteRecord, SubnetworkRecord } from './store.ts';

type Wire = Record<string, unknown>;

function withDescription(out: Wire, description: string | undefined): Wire {
  if (description !== undefined) {
    out.description = description;
  }
  return out;
}

export function presentNetwork(base: string, network: NetworkRecord, subnets: SubnetworkRecord[]): Wire {
  const path = networkPath(network.project, network.name);
  return withDescription(
    {
      kind: 'compute#network',
      id: network.id,
      creationTimestamp: network.creationTimestamp,
      name: network.name,
      selfLink: computeLink(base, path),
      selfLinkWithId: computeLink(base, `projects/${network.project}/global/networks/${network.id}`),
      autoCreateSubnetworks: network.autoCreateSubnetworks,
      subnetworks: subnets.map((s) => computeLink(base, subnetworkPath(s.project, s.region, s.name))),
      routingConfig: { routingMode: network.routingMode },
      mtu: network.mtu,
      networkFirewallPolicyEnforcementOrder: 'AFTER_CLASSIC_FIREWALL',
    },
    network.description,
  );
}

export function presentSubnetwork(base: string, subnet: SubnetworkRecord): Wire {
  return withDescription(
    {
      kind: 'compute#subnetwork',
      id: subnet.id,
      creationTimestamp: subnet.creationTimestamp,
      name: subnet.name,
      network: computeLink(base, networkPath(subnet.project, subnet.network)),
      ipCidrRange: subnet.ipCidrRange,
      gatewayAddress: subnet.gatewayAddress,
      region: computeLink(base, `projects/${subnet.project}/regions/${subnet.region}`),
      selfLink: computeLink(base, subnetworkPath(subnet.project, subnet.region, subnet.name)),
      privateIpGoogleAccess: subnet.privateIpGoogleAccess,
      fingerprint: subnet.fingerprint,
      purpose: 'PRIVATE',
      stackType: 'IPV4_ONLY',
    },
    subnet.description,
  );
}

export function presentFirewall(base: string, rule: FirewallRecord): Wire {
  const out: Wire = {
    kind: 'compute#firewall',
    id: rule.id,
    creationTimestamp: rule.creationTimestamp,
    name: rule.name,
    network: computeLink(base, networkPath(rule.project, rule.network)),
    priority: rule.priority,
    direction: rule.direction,
  };
  withDescription(out, rule.description);
  for (const field of [
    'sourceRanges',
    'destinationRanges',
    'sourceTags',
    'targetTags',
    'sourceServiceAccounts',
    'targetServiceAccounts',
    'allowed',
    'denied',
  ] as const) {
    const value = rule[field];
    if (value !== undefined) {
      out[field] = value;
    }
  }
  out.logConfig = rule.logConfig;
  out.disabled = rule.disabled;
  out.selfLink = computeLink(base, firewallPath(rule.project, rule.name));
  return out;
}

export function presentRoute(base: string, route: RouteRecord): Wire {
  const out: Wire = {
    kind: 'compute#route',
    id: route.id,
    creationTimestamp: route.creationTimestamp,
    name: route.name,
    network: computeLink(base, networkPath(route.project, route.network)),
    destRange: route.destRange,
    priority: route.priority,
  };
  withDescription(out, route.description);
  if (route.tags !== undefined) {
    out.tags = route.tags;
  }
  switch (route.kind) {
    case 'SUBNET':
      out.nextHopNetwork = computeLink(base, networkPath(route.project, route.network));
      out.routeType = 'SUBNET';
      break;
    case 'DEFAULT_INTERNET':
      out.nextHopGateway = computeLink(
        base,
        `projects/${route.project}/global/gateways/default-internet-gateway`,
      );
      out.routeType = 'STATIC';
      break;
    case 'STATIC':
      if (route.nextHopInstance !== undefined) {
        out.nextHopInstance = computeLink(base, route.nextHopInstance);
      }
      if (route.nextHopIp !== undefined) {
        out.nextHopIp = route.nextHopIp;
      }
      out.routeType = 'STATIC';
      break;
  }
  out.selfLink = computeLink(base, routePath(route.project, route.name));
  return out;
}

export function presentAddress(base: string, address: AddressRecord): Wire {
  const out: Wire = {
    kind: 'compute#address',
    id: address.id,
    creationTimestamp: address.creationTimestamp,
    name: address.name,
    address: address.address,
    status: address.users.length > 0 ? 'IN_USE' : 'RESERVED',
    region: computeLink(base, `projects/${address.project}/regions/${address.region}`),
    selfLink: computeLink(base, addressPath(address.project, address.region, address.name)),
    networkTier: 'PREMIUM',
    addressType: address.addressType,
    purpose: address.purpose,
    subnetwork: computeLink(base, subnetworkPath(address.project, address.region, address.subnetwork)),
    prefixLength: address.prefixLength,
    ipVersion: 'IPV4',
  };
  withDescription(out, address.description);
  if (address.users.length > 0) {
    out.users = address.users.map((u) => computeLink(base, u));
  }
  return out;
}
