import type { ServicePlugin } from '../../core/platform.ts';
import { registerAdminRoutes, type AdminContext } from './routes.ts';

export function adminPlugin(admin: AdminContext): ServicePlugin {
  return {
    name: 'nimbus',
    title: 'Nimbus control plane',
    register(app, platform) {
      registerAdminRoutes(app, platform, admin);
    },
  };
}
