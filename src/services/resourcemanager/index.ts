import type { ServicePlugin } from '../../core/platform.ts';
import { registerProjectRoutes } from './routes.ts';
import type { ProjectsService } from './service.ts';

export { ProjectsService, validateLabels } from './service.ts';
export { ProjectStore } from './store.ts';

/** Cloud Resource Manager (projects). */
export function resourceManagerPlugin(projects: ProjectsService): ServicePlugin {
  return {
    name: 'cloudresourcemanager',
    title: 'Cloud Resource Manager',
    gcloudOverrides: { CLOUDRESOURCEMANAGER: '/' },
    register(app, platform) {
      registerProjectRoutes(app, platform, projects);
    },
  };
}
