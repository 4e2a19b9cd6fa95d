import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { defaultS3Port } from '../../../config.ts';
import type { Platform } from '../../../core/platform.ts';
import { BlobStore } from '../../../platform/blobs.ts';
import type { HmacKeyResolver } from '../hmac-keys.ts';
import type { ObjectsService } from '../objects.ts';
import type { BucketsService } from '../service.ts';
import { S3PortListener } from './addressing.ts';
import { MultipartUploads } from './multipart.ts';
import { registerXmlRoutes } from './routes.ts';

export { rewriteStorageXmlUrl, virtualHostBucket, XML_PREFIX } from './addressing.ts';

const listeners = new WeakMap<Platform, S3PortListener>();

/**
 * The Cloud Storage XML API (S3-compatible) face: routes over the JSON face's buckets and objects,
 * multipart uploads (parts under BLOBS/xml-parts), and the dedicated S3 port (listening starts
 * with `startXmlPort`, after the main port listens).
 */
export async function registerXmlFace(
  app: FastifyInstance,
  platform: Platform,
  deps: {
    buckets: BucketsService;
    objects: ObjectsService;
    blobs: BlobStore;
    blobRoot: string;
    hmacKeys: HmacKeyResolver;
  },
): Promise<void> {
  const uploads = new MultipartUploads(
    platform.store,
    new BlobStore(join(deps.blobRoot, 'xml-parts')),
    deps.blobs,
    deps.objects,
    deps.buckets,
    platform.clock,
  );
  await registerXmlRoutes(
    app,
    platform,
    { platform, buckets: deps.buckets, objects: deps.objects, objectBlobs: deps.blobs, uploads },
    deps.hmacKeys,
  );
  const listener = new S3PortListener(app);
  listeners.set(platform, listener);
  app.addHook('onClose', async () => {
    await listener.close();
  });
  // Part files orphaned by a crash (written, never recorded) are removed in the background.
  const startedAt = Date.now();
  setImmediate(() => {
    uploads.sweepOrphanParts(startedAt).catch((error: unknown) => {
      platform.log.warn({ err: error }, 'orphaned multipart part sweep failed');
    });
  });
}

/**
 * Listens on the S3 port (`--s3-port`; by default the main port + 1, or any free port when that is
 * taken) and records the port bound in `config.s3Port` (what `AWS_ENDPOINT_URL_S3` names).
 */
export async function startXmlPort(platform: Platform): Promise<number | undefined> {
  const listener = listeners.get(platform);
  if (listener === undefined) {
    return undefined;
  }
  const explicit = platform.config.s3Port;
  const port = await listener.listen(
    platform.config.host,
    explicit ?? defaultS3Port(platform.config.port),
    explicit === undefined,
  );
  platform.config.s3Port = port;
  platform.log.info({ port }, 'Cloud Storage XML (S3) API listening');
  return port;
}
