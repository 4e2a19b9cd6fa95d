/**
 * netfabric: network namespaces, bridges, veth pairs, nftables and Unix-socket relays for VPC
 * networks (fabric.ts, nft.ts, relay.ts, relay-agent.mjs). The Compute VPC dataplane built on it
 * lives with the VPC resources it enforces; it is re-exported here for the engines loader.
 */
export { createVpcDataplane } from '../../services/compute/vpc/index.ts';
export { compileFirewall } from './nft.ts';
export { METADATA_ADDRESS, instanceNamespace, routerNamespace } from './fabric.ts';
