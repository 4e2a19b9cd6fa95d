import type { ServicePlugin } from '../../core/platform.ts';
import { registerStorageRoutes } from './routes.ts';
import { BucketsService } from './service.ts';
import { BucketStore } from './store.ts';

export { BucketsService, validateBucketName } from './service.ts';
export { BucketStore, type BucketRecord } from './store.ts';

/** Cloud Storage JSON API v1 (buckets so far; objects come next). */
export const storagePlugin: ServicePlugin = {
  name: 'storage',
  title: 'Cloud Storage',
  gcloudOverrides: { STORAGE: '/storage/v1/' },
  clientEnv: (base) => ({ STORAGE_EMULATOR_HOST: base }),
  register(app, platform) {
    registerStorageRoutes(app, platform, new BucketsService(new BucketStore(platform.store), platform.clock));
  },
};
