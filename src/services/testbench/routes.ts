import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { paramsOf, parseBody } from '../../core/http.ts';
import type { RetryTests } from './retry-tests.ts';

const CreateBody = Type.Object(
  { instructions: Type.Optional(Type.Unknown()), transport: Type.Optional(Type.Unknown()) },
  { additionalProperties: false },
);

/**
 * The testbench's Retry Test API: `POST /retry_test`, `GET|DELETE /retry_test/{id}`,
 * `GET /retry_tests`, at the root (where Google's conformance runners look for it, next to the
 * storage endpoint) and under `/_nimbus/`. Public: the runners send no credentials.
 */
export function registerRetryTestRoutes(app: FastifyInstance, tests: RetryTests): void {
  const open = { config: { public: true } };
  for (const prefix of ['', '/_nimbus']) {
    app.post(`${prefix}/retry_test`, open, async (request) => {
      const body = parseBody(CreateBody, request.body, false);
      return tests.create(body.instructions, body.transport);
    });
    app.get(`${prefix}/retry_test/:id`, open, async (request) => tests.get(paramsOf(request).id ?? ''));
    app.delete(`${prefix}/retry_test/:id`, open, async (request, reply) => {
      tests.delete(paramsOf(request).id ?? '');
      return reply.code(200).send('');
    });
    app.get(`${prefix}/retry_tests`, open, async () => ({ retry_test: tests.list() }));
  }
}
