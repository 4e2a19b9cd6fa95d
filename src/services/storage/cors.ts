import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
  onSendAsyncHookHandler,
} from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { PermissionDenied } from '../../core/errors.ts';
import { paramsOf } from '../../core/http.ts';
import type { BucketsService } from './service.ts';
import type { BucketRecord } from './store.ts';

/** One entry of a bucket's `cors` list (storage#bucket). */
export const CorsRuleSchema = Type.Object(
  {
    origin: Type.Optional(Type.Array(Type.String())),
    method: Type.Optional(Type.Array(Type.String())),
    responseHeader: Type.Optional(Type.Array(Type.String())),
    maxAgeSeconds: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
export type CorsRule = Static<typeof CorsRuleSchema>;
export const CorsSchema = Type.Array(CorsRuleSchema);

/** Drops empty lists so the stored (and printed) rule looks like Google's. */
export function normalizeCors(rules: CorsRule[]): CorsRule[] {
  return rules.map((rule) => {
    const out: CorsRule = {};
    if (rule.origin !== undefined && rule.origin.length > 0) {
      out.origin = rule.origin;
    }
    if (rule.method !== undefined && rule.method.length > 0) {
      out.method = rule.method;
    }
    if (rule.responseHeader !== undefined && rule.responseHeader.length > 0) {
      out.responseHeader = rule.responseHeader;
    }
    if (rule.maxAgeSeconds !== undefined) {
      out.maxAgeSeconds = rule.maxAgeSeconds;
    }
    return out;
  });
}

/**
 * The first rule whose origins and methods match, as Google evaluates them (in order; `*` matches
 * any origin or method; methods compare case-insensitively).
 */
export function matchCors(
  bucket: BucketRecord | undefined,
  origin: string,
  method: string,
): CorsRule | undefined {
  const upper = method.toUpperCase();
  return bucket?.cors?.find(
    (rule) =>
      (rule.origin ?? []).some((allowed) => allowed === '*' || allowed === origin) &&
      (rule.method ?? []).some((allowed) => allowed === '*' || allowed.toUpperCase() === upper),
  );
}

/** Adds `value` to the reply's `Vary` header once. */
export function appendVary(reply: FastifyReply, value: string): void {
  const current = reply.getHeader('vary');
  const list = (Array.isArray(current) ? current.join(',') : String(current ?? ''))
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (!list.some((item) => item.toLowerCase() === value.toLowerCase())) {
    list.push(value);
  }
  reply.header('vary', list.join(', '));
}

function originOf(request: FastifyRequest): string | undefined {
  const origin = request.headers.origin;
  return typeof origin === 'string' && origin !== '' ? origin : undefined;
}

function sameOrigin(request: FastifyRequest, origin: string): boolean {
  try {
    return new URL(origin).host.toLowerCase() === request.host.toLowerCase();
  } catch {
    return false;
  }
}

function allowOrigin(rule: CorsRule, origin: string): string {
  return (rule.origin ?? []).includes('*') ? '*' : origin;
}

/**
 * Route options for object reads and writes: cross-origin requests pass app.ts's cross-site guard
 * (`crossOrigin`), and the bucket's CORS configuration decides instead. A cross-origin mutation no
 * rule allows is refused here (browsers would not let the page read the answer anyway, and the
 * emulator's anonymous owner must not be driven by any web page); reads go on, and matching
 * requests get `Access-Control-Allow-Origin`, `Access-Control-Expose-Headers` and `Vary: Origin`,
 * errors included.
 */
export function objectCorsOptions(buckets: BucketsService): {
  config: { crossOrigin: true };
  onRequest: onRequestAsyncHookHandler;
  onSend: onSendAsyncHookHandler;
} {
  const bucketOf = (request: FastifyRequest): BucketRecord | undefined =>
    buckets.findBucket(paramsOf(request).bucket ?? '');

  const onRequest: onRequestAsyncHookHandler = async (request) => {
    const origin = originOf(request);
    const mutating = !['GET', 'HEAD', 'OPTIONS'].includes(request.method);
    if (!mutating) {
      return;
    }
    const site = request.headers['sec-fetch-site'];
    const crossSite =
      origin === undefined ? site === 'cross-site' || site === 'same-site' : !sameOrigin(request, origin);
    if (
      crossSite &&
      (origin === undefined || matchCors(bucketOf(request), origin, request.method) === undefined)
    ) {
      throw new PermissionDenied(
        "Cross-origin request refused: no rule of the bucket's CORS configuration allows this origin and method.",
        { reason: 'forbidden' },
      );
    }
  };

  const onSend: onSendAsyncHookHandler = async (request, reply, payload) => {
    const origin = originOf(request);
    if (origin === undefined) {
      return payload;
    }
    const bucket = bucketOf(request);
    if (bucket?.cors === undefined || bucket.cors.length === 0) {
      return payload;
    }
    appendVary(reply, 'Origin');
    const rule = matchCors(bucket, origin, request.method);
    if (rule !== undefined) {
      reply.header('access-control-allow-origin', allowOrigin(rule, origin));
      if (rule.responseHeader !== undefined) {
        reply.header('access-control-expose-headers', rule.responseHeader.join(', '));
      }
    }
    return payload;
  };

  return { config: { crossOrigin: true }, onRequest, onSend };
}

/**
 * Preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) on object paths: 200, with
 * the CORS headers only when a rule of the bucket matches. Preflights carry no credentials, so these
 * routes skip authentication.
 */
export function registerCorsPreflight(app: FastifyInstance, buckets: BucketsService, paths: string[]): void {
  for (const url of paths) {
    app.options(url, { config: { public: true, crossOrigin: true } }, async (request, reply) => {
      const origin = originOf(request);
      const method = request.headers['access-control-request-method'];
      if (origin === undefined || typeof method !== 'string' || method === '') {
        return reply.code(200).send('');
      }
      const bucket = buckets.findBucket(paramsOf(request).bucket ?? '');
      if (bucket?.cors !== undefined && bucket.cors.length > 0) {
        appendVary(reply, 'Origin');
      }
      const rule = matchCors(bucket, origin, method);
      if (rule !== undefined) {
        reply.header('access-control-allow-origin', allowOrigin(rule, origin));
        reply.header('access-control-allow-methods', (rule.method ?? []).join(', '));
        if (rule.responseHeader !== undefined) {
          reply.header('access-control-allow-headers', rule.responseHeader.join(', '));
        }
        if (rule.maxAgeSeconds !== undefined) {
          reply.header('access-control-max-age', String(rule.maxAgeSeconds));
        }
      }
      return reply.code(200).send('');
    });
  }
}
