import { STATUS_CODES } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, InvalidArgument } from './errors.ts';
import { randomToken } from './ids.ts';

/**
 * Google's JSON API batch (`POST /batch/API/VERSION`, `multipart/mixed` of `application/http`
 * parts), shared by every service whose clients batch (storage; compute: gcloud sends commands that
 * name several resources there).
 */

/** Google's limit on calls in one JSON API batch request. */
export const MAX_BATCH_PARTS = 100;
const BATCH_BODY_LIMIT = 32 * 1024 * 1024;
type InjectMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
const METHODS = new Set<string>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);
/** Headers of an inner request that describe the transport, not the call: recomputed or dropped. */
const HOP_HEADERS = new Set(['content-length', 'host', 'transfer-encoding', 'connection', 'keep-alive']);

/** One `application/http` part of a batch request. */
export interface BatchPart {
  contentId: string | undefined;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

/** RFC 2046 boundary characters (a space may not be the last one). */
const BOUNDARY_PATTERN = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

/**
 * The `boundary` parameter of a multipart Content-Type (quoted or not; apitools wraps it in single
 * quotes in the header only); undefined when absent or not a valid boundary.
 */
export function batchBoundary(contentType: string): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"\\]*)"|([^;\s]+))/i.exec(contentType);
  const raw = match?.[1] ?? match?.[2];
  const boundary = raw !== undefined && /^'.+'$/.test(raw) ? raw.slice(1, -1) : raw;
  return boundary !== undefined && BOUNDARY_PATTERN.test(boundary) ? boundary : undefined;
}

/** Splits a header block (`Name: value` lines) into lower-cased names. */
function parseHeaderLines(lines: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) {
      continue;
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}

/** `head\r\n\r\nrest` (or with bare LFs) -> [head lines, rest]. Text is latin1, so bytes survive. */
function splitHead(text: string): [string[], string] {
  const match = /\r?\n\r?\n/.exec(text);
  if (match === null) {
    return [text.split(/\r?\n/), ''];
  }
  return [text.slice(0, match.index).split(/\r?\n/), text.slice(match.index + match[0].length)];
}

/** The parts of a `multipart/mixed` batch body, each an HTTP request. Throws 400 on a bad envelope. */
export function parseBatchBody(
  contentType: string,
  body: Buffer,
  boundaryOf: (contentType: string) => string | undefined = batchBoundary,
  maxParts = MAX_BATCH_PARTS,
): BatchPart[] {
  const boundary = boundaryOf(contentType);
  if (boundary === undefined || !contentType.toLowerCase().startsWith('multipart/mixed')) {
    throw new InvalidArgument('A batch request must be multipart/mixed with a boundary.', {
      reason: 'invalid',
    });
  }
  const text = body.toString('latin1');
  const delimiter = `--${boundary}`;
  const chunks = text.split(delimiter);
  // chunks[0] is the preamble; the part after the close delimiter starts with `--`.
  const parts: BatchPart[] = [];
  for (const raw of chunks.slice(1)) {
    if (raw.startsWith('--')) {
      break;
    }
    const content = raw.replace(/^[ \t]*\r?\n/, '').replace(/\r?\n$/, '');
    if (content.trim() === '') {
      continue;
    }
    const [partHeadLines, http] = splitHead(content);
    const partHeaders = parseHeaderLines(partHeadLines);
    const [requestHead, requestBody] = splitHead(http.replace(/^(?:\r?\n)+/, ''));
    const requestLine = (requestHead[0] ?? '').trim().split(/\s+/);
    const contentId = partHeaders['content-id'];
    parts.push({
      contentId: contentId === undefined ? undefined : contentId.replace(/^<|>$/g, ''),
      method: (requestLine[0] ?? '').toUpperCase(),
      url: requestLine[1] ?? '',
      headers: parseHeaderLines(requestHead.slice(1)),
      body: Buffer.from(requestBody, 'latin1'),
    });
  }
  if (parts.length === 0) {
    throw new InvalidArgument('The batch request has no parts.', { reason: 'invalid' });
  }
  if (parts.length > maxParts) {
    throw new InvalidArgument(`A batch request may contain at most ${String(maxParts)} calls.`, {
      reason: 'invalid',
    });
  }
  return parts;
}

/** The path and query of an inner request URL (clients send absolute URLs or paths). */
function innerPath(url: string): string | undefined {
  if (url.startsWith('/')) {
    return url;
  }
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:'
      ? `${parsed.pathname}${parsed.search}`
      : undefined;
  } catch {
    return undefined;
  }
}

interface PartResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

function errorResponse(error: ApiError): PartResponse {
  return {
    status: error.httpStatus,
    headers: { 'content-type': 'application/json; charset=UTF-8' },
    body: Buffer.from(JSON.stringify(error.toJSON())),
  };
}

/** Runs one part through the server, authenticated as the batch request was. */
async function execute(
  app: FastifyInstance,
  request: FastifyRequest,
  part: BatchPart,
): Promise<PartResponse> {
  const path = innerPath(part.url);
  if (!METHODS.has(part.method) || path === undefined) {
    return errorResponse(
      new InvalidArgument(`Invalid request line in batch part: '${part.method} ${part.url}'.`, {
        reason: 'invalid',
      }),
    );
  }
  if (path.startsWith('/batch/') || path.startsWith('/upload/')) {
    return errorResponse(
      new InvalidArgument(`'${path.split('?')[0] ?? ''}' cannot be called in a batch request.`, {
        reason: 'invalid',
      }),
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(part.headers)) {
    if (!HOP_HEADERS.has(name)) {
      headers[name] = value;
    }
  }
  headers.host = request.headers.host ?? 'localhost';
  const outerAuth = request.headers.authorization;
  const query = request.query as Record<string, unknown> | undefined;
  const outerToken = typeof query?.access_token === 'string' ? `Bearer ${query.access_token}` : undefined;
  if (headers.authorization === undefined && (outerAuth ?? outerToken) !== undefined) {
    headers.authorization = outerAuth ?? outerToken ?? '';
  }
  const hasBody = part.body.length > 0 && part.method !== 'GET' && part.method !== 'HEAD';
  if (hasBody && headers['content-type'] === undefined) {
    headers['content-type'] = 'application/json';
  } else if (!hasBody) {
    // Clients label bodiless calls (DELETE) application/json; an empty JSON body would be a 400.
    delete headers['content-type'];
  }
  const res = await app.inject({
    method: part.method as InjectMethod,
    url: path,
    headers,
    ...(hasBody ? { payload: part.body } : {}),
  });
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) {
    if (value !== undefined && !['connection', 'keep-alive', 'transfer-encoding', 'date'].includes(name)) {
      out[name] = Array.isArray(value) ? value.join(', ') : String(value);
    }
  }
  return { status: res.statusCode, headers: out, body: res.rawPayload };
}

/** The `multipart/mixed` answer: one `application/http` part per call, in order. */
export function renderBatchResponse(
  boundary: string,
  parts: { contentId: string; response: PartResponse }[],
): Buffer {
  const chunks: Buffer[] = [];
  for (const { contentId, response } of parts) {
    const lines = [
      `--${boundary}`,
      'Content-Type: application/http',
      `Content-ID: <response-${contentId}>`,
      '',
      `HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? 'Unknown'}`,
    ];
    for (const [name, value] of Object.entries(response.headers)) {
      if (name !== 'content-length') {
        lines.push(`${name}: ${value}`);
      }
    }
    lines.push(`content-length: ${response.body.length}`, '', '');
    chunks.push(Buffer.from(lines.join('\r\n'), 'latin1'), response.body, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

export interface BatchEndpointOptions {
  /** Boundary parser of the outer Content-Type (default `batchBoundary`). */
  boundaryOf?: (contentType: string) => string | undefined;
  /** Calls allowed in one batch (default 100, Storage's limit; Compute allows 1000). */
  maxParts?: number;
}

/**
 * A JSON API batch endpoint (e.g. `POST /batch/storage/v1`, `/batch/compute/v1`): each
 * `application/http` part is run in order through the same server with the batch's credentials, so
 * IAM applies per call and one failing call does not fail the others. Registered in its own context
 * with a raw body parser.
 */
export async function registerBatchEndpoint(
  app: FastifyInstance,
  path: string,
  options: BatchEndpointOptions = {},
): Promise<void> {
  await app.register(async (batch) => {
    batch.removeAllContentTypeParsers();
    batch.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: BATCH_BODY_LIMIT },
      (_request, body, done) => {
        done(null, body);
      },
    );

    batch.post(path, async (request, reply) => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      const parts = parseBatchBody(
        request.headers['content-type'] ?? '',
        body,
        options.boundaryOf,
        options.maxParts,
      );
      const results: { contentId: string; response: PartResponse }[] = [];
      for (const [index, part] of parts.entries()) {
        let response: PartResponse;
        try {
          response = await execute(app, request, part);
        } catch (error) {
          request.log.error({ err: error }, 'batch part failed');
          response = errorResponse(
            new ApiError(500, 'INTERNAL', `Internal error. Request id: ${request.id}`, {
              reason: 'backendError',
            }),
          );
        }
        results.push({ contentId: part.contentId ?? String(index + 1), response });
      }
      const boundary = `batch_${randomToken(12)}`;
      return reply
        .code(200)
        .header('content-type', `multipart/mixed; boundary=${boundary}`)
        .send(renderBatchResponse(boundary, results));
    });
  });
}
