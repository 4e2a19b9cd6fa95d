import { registerBatchEndpoint } from '../../core/batch.ts';
import type { ServicePlugin } from '../../core/platform.ts';
import { instancesServiceOf, instancesStatus, registerInstances, startInstances } from './instances.ts';
import { registerComputeRoutes } from './routes.ts';
import { registerVpc, vpcFor } from './vpc/index.ts';

/** Compute Engine API v1: zones, regions, machine types, images, disks, instances, VPC networks. */
export const computePlugin: ServicePlugin = {
  name: 'compute',
  title: 'Compute Engine',
  gcloudOverrides: { COMPUTE: '/compute/v1/' },
  async register(app, platform) {
    registerComputeRoutes(app, platform);
    registerVpc(app, platform);
    await registerInstances(app, platform);
    // gcloud sends commands that name several resources (`firewall-rules delete a b`) as one batch.
    await registerBatchEndpoint(app, '/batch/compute/v1', { maxParts: 1000 });
  },
  status: (platform) => instancesStatus(platform),
  start: (platform) => {
    startInstances(platform);
  },
  async reset(platform) {
    await instancesServiceOf(platform)?.wipe();
    await vpcFor(platform)
      .dataplane.teardownAll()
      .catch((error: unknown) => {
        platform.log.warn({ err: error }, 'reset: VPC namespaces not removed');
      });
  },
};
