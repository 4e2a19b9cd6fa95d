import { join } from 'node:path';
import type { ServicePlugin } from '../../core/platform.ts';
import { BlobStore, UploadFiles } from '../../platform/blobs.ts';
import { registerBatchRoutes } from './batch-routes.ts';
import { registerBucketAclRoutes } from './bucket-acl-routes.ts';
import { registerBucketUpdateRoutes } from './bucket-update-routes.ts';
import { registerBucketIamRoutes } from './bucket-iam-routes.ts';
import { registerCopyRoutes } from './copy-routes.ts';
import { registerHmacKeys } from './hmac-keys.ts';
import {
  LifecycleExecutor,
  registerLifecycleExecutor,
  startLifecycleTimer,
  stopLifecycleTimers,
} from './lifecycle.ts';
import { GroupCommit } from '../../platform/group-commit.ts';
import { registerManagedFolderRoutes } from './managed-folders-routes.ts';
import { ManagedFoldersService } from './managed-folders-service.ts';
import { ManagedFolderStore } from './managed-folders-store.ts';
import { registerNotifications } from './notifications.ts';
import { registerObjectRoutes } from './object-routes.ts';
import { ObjectStore } from './object-store.ts';
import { ObjectsService, sweepOrphanBlobs } from './objects.ts';
import { registerRetentionRoutes } from './retention-routes.ts';
import { registerStorageRoutes } from './routes.ts';
import { BucketsService } from './service.ts';
import { BucketStore } from './store.ts';
import { registerUploadRoutes } from './upload-routes.ts';
import { registerXmlFace, startXmlPort } from './xml/index.ts';

export { BucketsService, validateBucketName } from './service.ts';
export { BucketStore, type BucketRecord } from './store.ts';
export { ObjectsService } from './objects.ts';
export { lifecycleExecutorOf, type LifecycleRun } from './lifecycle.ts';

/** Cloud Storage JSON API v1: buckets, objects, uploads (media, multipart, resumable). */
export const storagePlugin: ServicePlugin = {
  name: 'storage',
  title: 'Cloud Storage',
  gcloudOverrides: { STORAGE: '/storage/v1/' },
  clientEnv: (base) => ({ STORAGE_EMULATOR_HOST: base }),
  async register(app, platform) {
    const bucketStore = new BucketStore(platform.store);
    const buckets = new BucketsService(bucketStore, platform.clock);
    const blobRoot = join(platform.config.dataDir, 'blobs');
    const objectStore = new ObjectStore(platform.store);
    const blobs = new BlobStore(blobRoot);
    const objects = new ObjectsService(
      objectStore,
      blobs,
      buckets,
      platform.clock,
      platform.events,
      new GroupCommit(platform.store),
    );
    registerLifecycleExecutor(
      platform,
      new LifecycleExecutor(bucketStore, objectStore, objects, platform.clock, platform.events),
    );
    registerStorageRoutes(app, platform, buckets, objects);
    registerObjectRoutes(app, platform, buckets, objects);
    registerCopyRoutes(app, platform, buckets, objects);
    registerBucketIamRoutes(app, platform, buckets);
    registerBucketAclRoutes(app, platform, buckets);
    registerBucketUpdateRoutes(app, platform, buckets, objects);
    registerRetentionRoutes(app, platform, buckets, bucketStore);
    registerNotifications(app, platform, buckets);
    registerManagedFolderRoutes(
      app,
      platform,
      buckets,
      new ManagedFoldersService(
        new ManagedFolderStore(platform.store),
        platform.clock,
        (bucket, prefix) => objectStore.listLive(bucket, prefix, undefined, 1).length > 0,
      ),
    );
    const hmacKeys = registerHmacKeys(app, platform);
    await registerBatchRoutes(app);
    await registerUploadRoutes(app, platform, buckets, objects, new UploadFiles(join(blobRoot, 'uploads')));
    // The XML (S3-compatible) face over the same buckets and objects.
    await registerXmlFace(app, platform, { buckets, objects, blobs, blobRoot, hmacKeys });
    // Blob files orphaned by a crash (renamed, never committed) are removed in the background.
    const startedAt = Date.now();
    setImmediate(() => {
      sweepOrphanBlobs(blobs, objectStore, startedAt).then(
        (removed) => {
          if (removed > 0) {
            platform.log.info({ removed }, 'removed orphaned blob files');
          }
        },
        (error: unknown) => {
          platform.log.warn({ err: error }, 'orphaned blob sweep failed');
        },
      );
    });
  },
  // Bucket lifecycle rules are evaluated periodically (tests call runLifecycle() directly).
  async start(platform) {
    await startXmlPort(platform);
    startLifecycleTimer(platform);
  },
  stop() {
    stopLifecycleTimers();
  },
};
