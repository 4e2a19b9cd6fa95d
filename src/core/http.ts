import type { FastifyRequest } from 'fastify';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { InvalidArgument, NotFound } from './errors.ts';

/** Validates a JSON body against a TypeBox schema, answering as Google does for bad payloads. */
export function parseBody<S extends TSchema>(schema: S, body: unknown, allowEmpty = true): Static<S> {
  const value = body === undefined || body === null || body === '' ? (allowEmpty ? {} : undefined) : body;
  if (value === undefined) {
    throw new InvalidArgument('Request body is required.', { reason: 'required' });
  }
  if (Value.Check(schema, value)) {
    return value;
  }
  const first = Value.Errors(schema, value).First();
  const path = first?.path.replace(/^\//, '').replaceAll('/', '.') ?? '';
  if (first?.type === ValueErrorType.ObjectAdditionalProperties) {
    // The error's path ends with the unknown field: `Unknown name "bar" at 'serviceAccount'`.
    const segments = path.split('.');
    const unknown = segments.pop() ?? '';
    const parent = segments.join('.');
    const at = parent === '' ? '' : ` at '${parent}'`;
    throw new InvalidArgument(
      `Invalid JSON payload received. Unknown name "${unknown}"${at}: Cannot find field.`,
      {
        reason: 'invalid',
      },
    );
  }
  throw new InvalidArgument(
    `Invalid JSON payload received. Invalid value at '${path === '' ? '(root)' : path}': ${first?.message ?? 'invalid'}.`,
    { reason: 'invalid' },
  );
}

/** Reads an optional integer query parameter. */
export function intParam(value: unknown, name: string): number | undefined {
  if (value === undefined || value === '') {
    return undefined;
  }
  const text =
    typeof value === 'number' ? String(value) : typeof value === 'string' ? value : JSON.stringify(value);
  if (!/^-?\d+$/.test(text)) {
    throw new InvalidArgument(`Invalid value for ${name}: '${text}' is not an integer.`, {
      reason: 'invalid',
    });
  }
  return Number(text);
}

export function stringParam(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Splits a path segment carrying a custom method (`NAME:getIamPolicy`) into its parts. The name
 * part may itself contain ':'? Google names never do, so the last ':' separates.
 */
export function splitCustomMethod(segment: string): { name: string; method: string | undefined } {
  const at = segment.lastIndexOf(':');
  return at < 0
    ? { name: segment, method: undefined }
    : { name: segment.slice(0, at), method: segment.slice(at + 1) };
}

export function unknownMethod(method: string | undefined, path: string): NotFound {
  return new NotFound(`Method not found: ${method === undefined ? path : `:${method}`}`, {
    reason: 'notFound',
  });
}

/** The base URL a client used to reach us (scheme://host[:port]), for selfLinks and Location headers. */
export function baseUrl(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

export type Query = Record<string, string | undefined>;

export function queryOf(request: FastifyRequest): Query {
  return (request.query ?? {}) as Query;
}

export type Params = Record<string, string>;

export function paramsOf(request: FastifyRequest): Params {
  return request.params as Params;
}
