import type { ServicePlugin } from '../../core/platform.ts';
import { registerMetadataRoutes } from './routes.ts';

export const metadataPlugin: ServicePlugin = {
  name: 'metadata',
  title: 'Metadata server',
  register(app, platform) {
    registerMetadataRoutes(app, platform);
  },
};
