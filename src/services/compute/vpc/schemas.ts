import { Type, type TProperties } from '@sinclair/typebox';

/** Request bodies of the VPC methods (Compute API v1 field names). Output-only fields are accepted and ignored. */
const OUTPUT_ONLY: TProperties = {
  kind: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  creationTimestamp: Type.Optional(Type.String()),
  selfLink: Type.Optional(Type.String()),
  selfLinkWithId: Type.Optional(Type.String()),
};

function resource(properties: TProperties) {
  return Type.Object({ ...OUTPUT_ONLY, ...properties }, { additionalProperties: false });
}

export const NetworkBody = resource({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  autoCreateSubnetworks: Type.Optional(Type.Boolean()),
  routingConfig: Type.Optional(
    Type.Object(
      {
        routingMode: Type.Optional(Type.String()),
        bgpBestPathSelectionMode: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
  ),
  mtu: Type.Optional(Type.Integer()),
  IPv4Range: Type.Optional(Type.String()),
  subnetworks: Type.Optional(Type.Array(Type.String())),
  gatewayIPv4: Type.Optional(Type.String()),
  networkFirewallPolicyEnforcementOrder: Type.Optional(Type.String()),
  enableUlaInternalIpv6: Type.Optional(Type.Boolean()),
});

export const SubnetworkBody = resource({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  network: Type.Optional(Type.String()),
  ipCidrRange: Type.Optional(Type.String()),
  privateIpGoogleAccess: Type.Optional(Type.Boolean()),
  region: Type.Optional(Type.String()),
  fingerprint: Type.Optional(Type.String()),
  gatewayAddress: Type.Optional(Type.String()),
  purpose: Type.Optional(Type.String()),
  stackType: Type.Optional(Type.String()),
  role: Type.Optional(Type.String()),
  secondaryIpRanges: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 0 })),
  logConfig: Type.Optional(Type.Unknown()),
  privateIpv6GoogleAccess: Type.Optional(Type.String()),
});

const Protocol = Type.Object(
  { IPProtocol: Type.String(), ports: Type.Optional(Type.Array(Type.String())) },
  { additionalProperties: false },
);

export const FirewallBody = resource({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  network: Type.Optional(Type.String()),
  direction: Type.Optional(Type.String()),
  priority: Type.Optional(Type.Integer()),
  sourceRanges: Type.Optional(Type.Array(Type.String())),
  destinationRanges: Type.Optional(Type.Array(Type.String())),
  sourceTags: Type.Optional(Type.Array(Type.String())),
  targetTags: Type.Optional(Type.Array(Type.String())),
  sourceServiceAccounts: Type.Optional(Type.Array(Type.String())),
  targetServiceAccounts: Type.Optional(Type.Array(Type.String())),
  allowed: Type.Optional(Type.Array(Protocol)),
  denied: Type.Optional(Type.Array(Protocol)),
  disabled: Type.Optional(Type.Boolean()),
  logConfig: Type.Optional(
    Type.Object(
      { enable: Type.Optional(Type.Boolean()), metadata: Type.Optional(Type.String()) },
      { additionalProperties: false },
    ),
  ),
});

export const RouteBody = resource({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  network: Type.Optional(Type.String()),
  destRange: Type.Optional(Type.String()),
  priority: Type.Optional(Type.Integer()),
  nextHopInstance: Type.Optional(Type.String()),
  nextHopIp: Type.Optional(Type.String()),
  nextHopGateway: Type.Optional(Type.String()),
  tags: Type.Optional(Type.Array(Type.String())),
});

export const AddressBody = resource({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  address: Type.Optional(Type.String()),
  addressType: Type.Optional(Type.String()),
  purpose: Type.Optional(Type.String()),
  subnetwork: Type.Optional(Type.String()),
  network: Type.Optional(Type.String()),
  prefixLength: Type.Optional(Type.Integer()),
  networkTier: Type.Optional(Type.String()),
  ipVersion: Type.Optional(Type.String()),
  region: Type.Optional(Type.String()),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
});

export const ExpandBody = Type.Object(
  { ipCidrRange: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

export const PrivateAccessBody = Type.Object(
  { privateIpGoogleAccess: Type.Optional(Type.Boolean()) },
  { additionalProperties: false },
);
