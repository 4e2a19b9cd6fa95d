import type { FastifyInstance } from 'fastify';
import { baseUrl, intParam, paramsOf, queryOf } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { presentBucket } from './presenters.ts';
import { lockRetentionPolicy } from './retention.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import type { BucketStore } from './store.ts';
import { bucketContext } from './access-context.ts';

/** storage.buckets.lockRetentionPolicy (under `/storage/v1` and at the root). */
export function registerRetentionRoutes(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
  store: BucketStore,
): void {
  for (const prefix of ['/storage/v1', '']) {
    app.post(`${prefix}/b/:bucket/lockRetentionPolicy`, async (request) => {
      const bucket = buckets.getBucket(paramsOf(request).bucket ?? '');
      platform.access.authorize(
        request.principal,
        'storage.buckets.update',
        bucketResource(bucket),
        bucketContext(bucket.name),
      );
      const query = queryOf(request);
      const locked = lockRetentionPolicy(
        store,
        bucket.name,
        intParam(query.ifMetagenerationMatch, 'ifMetagenerationMatch'),
        platform.clock.now(),
      );
      return presentBucket(locked, baseUrl(request));
    });
  }
}
