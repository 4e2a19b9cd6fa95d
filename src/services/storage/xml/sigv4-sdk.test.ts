/**
 * The real AWS SDK for JavaScript v3 (`@aws-sdk/client-s3`, default checksum settings) signs requests
 * that the HMAC authenticator must accept: a custom request handler hands each signed request to it
 * (no network), including streaming `aws-chunked` uploads with trailing checksums, and a presigned URL
 * made by `@smithy/signature-v4` (the signer the SDK uses).
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { ManualClock } from '../../../core/clock.ts';
import type { Platform } from '../../../core/platform.ts';
import type { HmacKeyResolver } from '../hmac-keys.ts';
import type { XmlAuthOutcome, XmlRequestInfo } from './auth.ts';
import { S3Error } from './errors.ts';
import { createHmacAuthenticator } from './sigv4.ts';

const ACCESS_ID = 'GOOG1EXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMP';
const SECRET = 'bGoa+V7g/yqDXvKRqq+JTFn4uQZbPiQJo4pf9RzJ';

const keys: HmacKeyResolver = {
  resolve: (id) =>
    id === ACCESS_ID
      ? {
          accessId: ACCESS_ID,
          secret: SECRET,
          serviceAccountEmail: 'sdk@demo.iam.gserviceaccount.com',
          projectId: 'demo',
          state: 'ACTIVE',
        }
      : undefined,
};

interface SdkRequest {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null | undefined>;
  headers: Record<string, string>;
  body?: unknown;
}

function rawQueryOf(query: SdkRequest['query']): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(query ?? {})) {
    const values =
      value === null || value === undefined ? [undefined] : Array.isArray(value) ? value : [value];
    for (const v of values) {
      parts.push(
        v === undefined ? encodeURIComponent(name) : `${encodeURIComponent(name)}=${encodeURIComponent(v)}`,
      );
    }
  }
  return parts.join('&');
}

function bytesOf(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') {
    return Buffer.from(data, 'utf8');
  }
  return ArrayBuffer.isView(data)
    ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    : Buffer.from(data);
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) {
    return Buffer.alloc(0);
  }
  if (typeof body === 'string') {
    return Buffer.from(body);
  }
  if (body instanceof Uint8Array) {
    return Buffer.from(body);
  }
  if (body instanceof Readable) {
    const parts: Buffer[] = [];
    for await (const part of body) {
      parts.push(typeof part === 'string' ? Buffer.from(part) : (part as Buffer));
    }
    return Buffer.concat(parts);
  }
  throw new Error(`unexpected SDK body type ${typeof body}`);
}

/** An S3 client whose requests go to the authenticator; `seen` gets each outcome and decoded body. */
function clientFor(
  seen: {
    outcome: XmlAuthOutcome | undefined;
    wire: Buffer;
    decoded: Buffer;
    headers: Record<string, string>;
  }[],
) {
  const authenticator = createHmacAuthenticator(
    { clock: new ManualClock(Date.now()) } as unknown as Platform,
    keys,
  );
  return new S3Client({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_ID, secretAccessKey: SECRET },
    requestHandler: {
      handle: async (request: SdkRequest) => {
        const headers = Object.fromEntries(
          Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]),
        );
        const info: XmlRequestInfo = {
          method: request.method,
          rawPath: request.path,
          rawQuery: rawQueryOf(request.query),
          headers,
        };
        const outcome = await authenticator.authenticate(info);
        const wire = await bodyBytes(request.body);
        const decoded =
          outcome?.decodeBody === undefined
            ? wire
            : await bodyBytes(outcome.decodeBody(Readable.from([wire])));
        seen.push({ outcome, wire, decoded, headers });
        return {
          response: {
            statusCode: 200,
            headers: { etag: '"0"', 'content-length': '2' },
            body: Readable.from([Buffer.from('ok')]),
          },
        };
      },
    },
  });
}

describe('HMAC authenticator with the AWS SDK v3 signer', () => {
  it('accepts a PutObject of a buffer and a GetObject', async () => {
    const seen: Parameters<typeof clientFor>[0] = [];
    const client = clientFor(seen);
    await client.send(
      new PutObjectCommand({ Bucket: 'b', Key: 'dir/a key+1.txt', Body: Buffer.from('hello sdk') }),
    );
    await client.send(new GetObjectCommand({ Bucket: 'b', Key: 'dir/a key+1.txt', Range: 'bytes=0-3' }));
    assert.equal(seen.length, 2);
    assert.equal(seen[0]?.outcome?.principal.member, 'serviceAccount:sdk@demo.iam.gserviceaccount.com');
    assert.equal(seen[0]?.decoded.toString(), 'hello sdk');
    assert.equal(seen[1]?.outcome?.principal.kind, 'serviceAccount');
  });

  it('accepts a streaming upload (aws-chunked with a trailing checksum) and decodes it', async () => {
    const seen: Parameters<typeof clientFor>[0] = [];
    const client = clientFor(seen);
    const data = Buffer.alloc(200_000, 'z');
    await client.send(
      new PutObjectCommand({
        Bucket: 'b',
        Key: 'stream.bin',
        Body: Readable.from([data.subarray(0, 70_000), data.subarray(70_000)]),
        ContentLength: data.length,
      }),
    );
    const entry = seen[0];
    assert.ok(entry);
    const mode = entry.headers['x-amz-content-sha256'] ?? '';
    assert.match(mode, /^STREAMING-/, `the SDK sent ${mode}`);
    assert.ok(entry.headers['x-amz-trailer'], 'a trailing checksum is announced');
    assert.equal(entry.outcome?.decodedLength, data.length);
    assert.deepEqual(entry.decoded, data);
    assert.notDeepEqual(entry.wire, data);
  });

  for (const algorithm of ['CRC32C', 'SHA256', 'CRC64NVME'] as const) {
    it(`verifies a streaming upload with a ${algorithm} trailer`, async () => {
      const seen: Parameters<typeof clientFor>[0] = [];
      const client = clientFor(seen);
      const data = Buffer.from('x'.repeat(100_000) + 'tail');
      await client.send(
        new PutObjectCommand({
          Bucket: 'b',
          Key: `k-${algorithm}`,
          Body: Readable.from([data]),
          ContentLength: data.length,
          ChecksumAlgorithm: algorithm,
        }),
      );
      const entry = seen[0];
      assert.equal(entry?.headers['x-amz-trailer'], `x-amz-checksum-${algorithm.toLowerCase()}`);
      assert.deepEqual(entry.decoded, data);
    });
  }

  it('refuses requests signed with the wrong secret', async () => {
    const authenticator = createHmacAuthenticator(
      { clock: new ManualClock(Date.now()) } as unknown as Platform,
      keys,
    );
    let error: unknown;
    const client = new S3Client({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      forcePathStyle: true,
      credentials: { accessKeyId: ACCESS_ID, secretAccessKey: `${SECRET.slice(1)}x` },
      requestHandler: {
        handle: async (request: SdkRequest) => {
          const headers = Object.fromEntries(
            Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), v]),
          );
          try {
            await authenticator.authenticate({
              method: request.method,
              rawPath: request.path,
              rawQuery: rawQueryOf(request.query),
              headers,
            });
          } catch (caught) {
            error = caught;
          }
          return { response: { statusCode: 200, headers: {}, body: Readable.from([Buffer.from('')]) } };
        },
      },
    });
    await client.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' })).catch(() => undefined);
    assert.ok(error instanceof S3Error);
    assert.equal(error.code, 'SignatureDoesNotMatch');
  });

  it('accepts a URL presigned by @smithy/signature-v4 and refuses it once expired', async () => {
    const signer = new SignatureV4({
      service: 's3',
      region: 'us-east-1',
      credentials: { accessKeyId: ACCESS_ID, secretAccessKey: SECRET },
      sha256: class {
        private readonly hash;
        constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
          this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
        }
        update(data: string | ArrayBuffer | ArrayBufferView) {
          this.hash.update(bytesOf(data));
        }
        digest() {
          return Promise.resolve(new Uint8Array(this.hash.digest()));
        }
      },
      uriEscapePath: false,
    });
    const signingDate = new Date('2026-03-01T10:00:00Z');
    const presigned = await signer.presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: '127.0.0.1',
        port: 9000,
        path: '/b/photos/cat%20one.jpg',
        query: {},
        headers: { host: '127.0.0.1:9000', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      // As @aws-sdk/s3-request-presigner does: the payload is UNSIGNED-PAYLOAD and that header is
      // neither signed nor hoisted into the query, so a plain GET (curl) can use the URL.
      {
        expiresIn: 600,
        signingDate,
        unsignableHeaders: new Set(['x-amz-content-sha256']),
        unhoistableHeaders: new Set(['x-amz-content-sha256']),
      },
    );
    const request: XmlRequestInfo = {
      method: 'GET',
      rawPath: presigned.path,
      rawQuery: rawQueryOf(presigned.query),
      headers: { host: '127.0.0.1:9000' },
    };
    const at = (ms: number) =>
      createHmacAuthenticator({ clock: new ManualClock(ms) } as unknown as Platform, keys);
    const ok = await at(signingDate.getTime() + 60_000).authenticate(request);
    assert.equal(ok?.principal.kind, 'serviceAccount');
    await assert.rejects(
      at(signingDate.getTime() + 601_000).authenticate(request),
      (error: unknown) => error instanceof S3Error && error.message === 'Request has expired',
    );
  });
});
