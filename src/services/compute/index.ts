import type { ServicePlugin } from '../../core/platform.ts';
import { registerComputeRoutes } from './routes.ts';

/** Compute Engine API v1 (regions, zones and operations so far; instances come with the compute issue). */
export const computePlugin: ServicePlugin = {
  name: 'compute',
  title: 'Compute Engine',
  gcloudOverrides: { COMPUTE: '/compute/v1/' },
  register(app, platform) {
    registerComputeRoutes(app, platform);
  },
};
