import type { FastifyInstance } from 'fastify';
import { registerBatchEndpoint } from '../../core/batch.ts';
import { multipartBoundary } from './multipart.ts';

export { MAX_BATCH_PARTS, parseBatchBody, renderBatchResponse, type BatchPart } from '../../core/batch.ts';

/** Cloud Storage's JSON API batch (`POST /batch/storage/v1`): the shared core endpoint. */
export async function registerBatchRoutes(app: FastifyInstance): Promise<void> {
  await registerBatchEndpoint(app, '/batch/storage/v1', { boundaryOf: multipartBoundary });
}
