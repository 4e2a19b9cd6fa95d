import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../../core/platform.ts';
import { NetfabricDataplane } from './dataplane.ts';
import { registerVpcRoutes } from './routes.ts';
import { VpcService } from './service.ts';
import { VpcStore } from './store.ts';

/** The VPC module of one app: its domain service and the kernel dataplane behind it. */
export interface Vpc {
  service: VpcService;
  dataplane: NetfabricDataplane;
}

const byPlatform = new WeakMap<Platform, Vpc>();

/** The VPC module of `platform` (one per app), created on first use. */
export function vpcFor(platform: Platform): Vpc {
  let vpc = byPlatform.get(platform);
  if (vpc === undefined) {
    const service = new VpcService(new VpcStore(platform.store), platform.clock);
    const dataplane = new NetfabricDataplane(service, {
      dataDir: platform.config.dataDir,
      log: (message, error) => {
        platform.log.error({ err: error }, message);
      },
    });
    vpc = { service, dataplane };
    byPlatform.set(platform, vpc);
  }
  return vpc;
}

/**
 * Registers the VPC API (networks, subnetworks, firewalls, routes, addresses) on the compute plugin.
 * After a restart, networks with attached instances are rebuilt in the background once the app is
 * ready; relay agents stop when the app closes (namespaces stay for the instances).
 */
export function registerVpc(app: FastifyInstance, platform: Platform): Vpc {
  const vpc = vpcFor(platform);
  registerVpcRoutes(app, platform, vpc.service, () => vpc.dataplane.settle());
  app.addHook('onReady', async () => {
    if (vpc.service.allNics().some((nic) => nic.attached)) {
      vpc.dataplane.ready().catch((error: unknown) => {
        platform.log.warn({ err: error }, 'VPC dataplane: reconcile after start failed');
      });
    }
  });
  app.addHook('onClose', async () => {
    await vpc.dataplane.shutdown();
  });
  return vpc;
}

/**
 * The dataplane instances use (`VpcDataplane`), shared with the VPC API of the same app; undefined
 * where it can never work (not Linux, not root, or `ip`/`nft` missing with no apt to install them),
 * so instances fall back to a loopback-only namespace there.
 */
export function createVpcDataplane(platform: Platform): NetfabricDataplane | undefined {
  return NetfabricDataplane.possible() ? vpcFor(platform).dataplane : undefined;
}

/** Whether `network`/`subnetwork` exist in `region` (the instances API validates with it). */
export function vpcNetworkExists(platform: Platform) {
  return (project: string, network: string, region: string, subnetwork: string): boolean => {
    const service = vpcFor(platform).service;
    service.ensureProject(project);
    return service
      .listSubnetworks(project, region)
      .some((s) => s.network === network && s.name === subnetwork);
  };
}
