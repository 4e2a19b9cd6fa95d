import type { ServicePlugin } from '../../core/platform.ts';
import { registerLongRunningRoutes } from './routes.ts';

/** google.longrunning operations and locations shared by the v1/v2 APIs. */
export const longRunningPlugin: ServicePlugin = {
  name: 'longrunning',
  title: 'Operations (google.longrunning)',
  register(app, platform) {
    registerLongRunningRoutes(app, platform);
  },
};
