import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Principal } from '../../../core/auth.ts';
import { ManualClock } from '../../../core/clock.ts';
import { PermissionDenied } from '../../../core/errors.ts';
import type { HmacKeySecret } from '../hmac-keys.ts';
import type { ObjectRecord } from '../object-store.ts';
import type { ObjectMetadataInput } from '../objects.ts';
import type { BucketRecord } from '../store.ts';
import { S3Error } from './errors.ts';
import { encodePostPolicy, handlePostPolicyUpload, type PostPolicyDeps } from './post-policy.ts';
import { v4HmacSigningKey } from './signed-urls.ts';

const EMAIL = 'uploader@proj-1.iam.gserviceaccount.com';
const BUCKET = 'forms';
const NOW = Date.parse('2026-05-01T12:00:00Z');
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const hmacKey: HmacKeySecret = {
  accessId: 'GOOG1FORMKEY',
  secret: 'form-secret',
  serviceAccountEmail: EMAIL,
  projectId: 'proj-1',
  state: 'ACTIVE',
};

interface Stored {
  name: string;
  bytes: Buffer;
  metadata: ObjectMetadataInput;
}

function harness(options: { deny?: boolean } = {}) {
  const stored: Stored[] = [];
  const authorized: { principal: Principal; permission: string; resource: string }[] = [];
  const deps: PostPolicyDeps = {
    objects: {
      insertObject: async (input) => {
        const chunks: Buffer[] = [];
        for await (const chunk of input.source as Readable) {
          chunks.push(chunk as Buffer);
        }
        const bytes = Buffer.concat(chunks);
        stored.push({ name: input.name, bytes, metadata: input.metadata });
        const record: ObjectRecord = {
          bucket: input.bucket,
          name: input.name,
          generation: '1',
          metageneration: 1,
          storageClass: 'STANDARD',
          size: bytes.length,
          md5Hash: createHash('md5').update(bytes).digest('base64'),
          crc32c: 'AAAAAA==',
          timeCreated: '',
          updated: '',
          timeStorageClassUpdated: '',
          data: { kind: 'inline' },
        };
        return record;
      },
    },
    buckets: { getBucket: (name) => ({ name, projectId: 'proj-1' }) as BucketRecord },
    access: {
      authorize: (principal, permission, resource) => {
        if (options.deny === true) {
          throw new PermissionDenied(`${principal.email} does not have ${permission} access.`);
        }
        authorized.push({ principal, permission, resource });
      },
    },
    clock: new ManualClock(NOW),
    hmacKeys: { resolve: (id) => (id === hmacKey.accessId ? hmacKey : undefined) },
    serviceAccountKeys: {
      activeKeys: (email) =>
        email === EMAIL
          ? [{ keyId: 'k1', publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() }]
          : [],
    },
    anonymousPrincipal: () => ({ kind: 'anonymous', email: '', member: 'allUsers', scopes: [] }),
  };
  return { deps, stored, authorized };
}

/** A V4 HMAC-signed form: the policy lists every field given (exact match) plus `extra` conditions. */
function v4Form(
  fields: Record<string, string>,
  extra: unknown[] = [],
  expiresInMs = 600_000,
): Record<string, string> {
  const timestamp = new Date(NOW)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const all: Record<string, string> = {
    ...fields,
    'x-goog-algorithm': 'GOOG4-HMAC-SHA256',
    'x-goog-credential': `${hmacKey.accessId}/${timestamp.slice(0, 8)}/auto/storage/goog4_request`,
    'x-goog-date': timestamp,
  };
  const conditions = [
    ...extra,
    { bucket: BUCKET },
    ...Object.entries(all).map(([name, value]) => ({ [name]: value })),
  ];
  const policy = encodePostPolicy({ conditions, expiration: new Date(NOW + expiresInMs).toISOString() });
  const key = v4HmacSigningKey(
    hmacKey.secret,
    'GOOG4',
    timestamp.slice(0, 8),
    'auto',
    'storage',
    'goog4_request',
  );
  return { ...all, policy, 'x-goog-signature': createHmac('sha256', key).update(policy).digest('hex') };
}

function multipart(fields: Record<string, string>, file?: { filename: string; type?: string; data: Buffer }) {
  const boundary = '----nimbus-form-boundary';
  const parts: Buffer[] = Object.entries(fields).map(([name, value]) =>
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`),
  );
  if (file !== undefined) {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.filename}"\r\n` +
          `Content-Type: ${file.type ?? 'application/octet-stream'}\r\n\r\n`,
      ),
      file.data,
      Buffer.from('\r\n'),
    );
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: Readable.from([Buffer.concat(parts)]),
  };
}

function flipFirst(hex: string): string {
  return `${hex.startsWith('0') ? '1' : '0'}${hex.slice(1)}`;
}

async function refusal(promise: Promise<unknown>): Promise<S3Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof S3Error, String(error));
    return error;
  }
  assert.fail('expected a refusal');
}

describe('POST policy uploads', () => {
  it('stores the file under the key (with ${filename}) with the form metadata, as the signer', async () => {
    const { deps, stored, authorized } = harness();
    const form = v4Form(
      { 'content-type': 'text/plain', 'cache-control': 'no-cache', 'x-goog-meta-owner': 'ana' },
      [['starts-with', '$key', 'uploads/']],
    );
    const data = Buffer.from('hello form\r\n--not-a-boundary\r\n');
    const response = await handlePostPolicyUpload(
      {
        bucket: BUCKET,
        ...multipart({ key: 'uploads/${filename}', ...form }, { filename: 'notes é.txt', data }),
      },
      deps,
    );
    assert.equal(response.status, 204);
    assert.equal(response.headers.etag, `"${createHash('md5').update(data).digest('hex')}"`);
    assert.equal(stored[0]?.name, 'uploads/notes é.txt');
    assert.deepEqual(stored[0]?.bytes, data);
    assert.deepEqual(stored[0]?.metadata, {
      contentType: 'text/plain',
      cacheControl: 'no-cache',
      metadata: { owner: 'ana' },
    });
    assert.deepEqual(
      authorized.map((a) => [a.principal.member, a.permission, a.resource]),
      [[`serviceAccount:${EMAIL}`, 'storage.objects.create', `projects/proj-1/buckets/${BUCKET}`]],
    );
  });

  it('answers success_action_status 201 with a PostResponse, 200 empty, and redirects with 303', async () => {
    const { deps } = harness();
    const file = { filename: 'a.bin', data: Buffer.from('x') };
    const created = await handlePostPolicyUpload(
      {
        bucket: BUCKET,
        url: 'http://forms.localhost:8080/',
        ...multipart(v4Form({ key: 'a.bin', success_action_status: '201' }), file),
      },
      deps,
    );
    assert.equal(created.status, 201);
    assert.match(
      created.body,
      /<PostResponse><Location>http:\/\/forms\.localhost:8080\/a\.bin<\/Location><Bucket>forms<\/Bucket><Key>a\.bin<\/Key>/,
    );
    const ok = await handlePostPolicyUpload(
      { bucket: BUCKET, ...multipart(v4Form({ key: 'a.bin', success_action_status: '200' }), file) },
      deps,
    );
    assert.deepEqual([ok.status, ok.body], [200, '']);
    const redirect = await handlePostPolicyUpload(
      {
        bucket: BUCKET,
        ...multipart(v4Form({ key: 'a.bin', success_action_redirect: 'https://app.example/done?x=1' }), file),
      },
      deps,
    );
    assert.equal(redirect.status, 303);
    const location = new URL(redirect.headers.location ?? '');
    assert.deepEqual(
      [location.searchParams.get('x'), location.searchParams.get('bucket'), location.searchParams.get('key')],
      ['1', BUCKET, 'a.bin'],
    );
  });

  it('accepts a V2 RSA policy (GoogleAccessId + signature)', async () => {
    const { deps, stored } = harness();
    const policy = encodePostPolicy({
      conditions: [{ bucket: BUCKET }, ['eq', '$key', 'v2.txt']],
      expiration: new Date(NOW + 60_000).toISOString(),
    });
    const signature = sign('sha256', Buffer.from(policy), privateKey).toString('base64');
    const response = await handlePostPolicyUpload(
      {
        bucket: BUCKET,
        ...multipart(
          { key: 'v2.txt', GoogleAccessId: EMAIL, policy, signature },
          { filename: 'x', data: Buffer.from('v2') },
        ),
      },
      deps,
    );
    assert.equal(response.status, 204);
    assert.equal(stored[0]?.name, 'v2.txt');
  });

  it('refuses a tampered signature, an expired policy, a failed condition and an unlisted field', async () => {
    const { deps, stored } = harness();
    const file = { filename: 'f', data: Buffer.from('data') };
    const good = v4Form({ key: 'k' });
    const tampered = await refusal(
      handlePostPolicyUpload(
        {
          bucket: BUCKET,
          ...multipart({ ...good, 'x-goog-signature': flipFirst(good['x-goog-signature'] ?? '') }, file),
        },
        deps,
      ),
    );
    assert.deepEqual([tampered.status, tampered.code], [403, 'SignatureDoesNotMatch']);
    const expired = await refusal(
      handlePostPolicyUpload({ bucket: BUCKET, ...multipart(v4Form({ key: 'k' }, [], -1), file) }, deps),
    );
    assert.deepEqual([expired.status, expired.code], [403, 'AccessDenied']);
    assert.match(expired.message, /Policy expired/);
    const wrongPrefix = await refusal(
      handlePostPolicyUpload(
        {
          bucket: BUCKET,
          ...multipart(v4Form({ key: 'k' }, [['starts-with', '$content-type', 'image/']]), file),
        },
        deps,
      ),
    );
    assert.equal(wrongPrefix.code, 'AccessDenied');
    const extra = await refusal(
      handlePostPolicyUpload(
        { bucket: BUCKET, ...multipart({ ...v4Form({ key: 'k' }), acl: 'public-read' }, file) },
        deps,
      ),
    );
    assert.match(extra.message, /Extra input fields: acl/);
    const otherBucket = await refusal(
      handlePostPolicyUpload({ bucket: 'other-bucket', ...multipart(v4Form({ key: 'k' }), file) }, deps),
    );
    assert.equal(otherBucket.code, 'AccessDenied');
    assert.equal(stored.length, 0);
  });

  it('enforces content-length-range on the streamed file', async () => {
    const { deps, stored } = harness();
    const form = v4Form({ key: 'sized' }, [['content-length-range', 2, 4]]);
    const tooBig = await refusal(
      handlePostPolicyUpload(
        { bucket: BUCKET, ...multipart(form, { filename: 'f', data: Buffer.alloc(5) }) },
        deps,
      ),
    );
    assert.deepEqual([tooBig.status, tooBig.code], [400, 'EntityTooLarge']);
    const tooSmall = await refusal(
      handlePostPolicyUpload(
        { bucket: BUCKET, ...multipart(form, { filename: 'f', data: Buffer.alloc(1) }) },
        deps,
      ),
    );
    assert.equal(tooSmall.code, 'EntityTooSmall');
    const fits = await handlePostPolicyUpload(
      { bucket: BUCKET, ...multipart(form, { filename: 'f', data: Buffer.alloc(4) }) },
      deps,
    );
    assert.equal(fits.status, 204);
    assert.equal(stored.at(-1)?.bytes.length, 4);
  });

  it('answers malformed forms with 400, unsigned forms act as the anonymous principal, IAM decides', async () => {
    const { deps, authorized } = harness();
    const noFile = await refusal(
      handlePostPolicyUpload({ bucket: BUCKET, ...multipart(v4Form({ key: 'k' })) }, deps),
    );
    assert.deepEqual([noFile.status, noFile.code], [400, 'InvalidArgument']);
    const notMultipart = await refusal(
      handlePostPolicyUpload(
        { bucket: BUCKET, headers: { 'content-type': 'text/plain' }, body: Readable.from(['x']) },
        deps,
      ),
    );
    assert.equal(notMultipart.status, 400);
    const badPolicy = await refusal(
      handlePostPolicyUpload(
        {
          bucket: BUCKET,
          ...multipart(
            { ...v4Form({ key: 'k' }), policy: 'bm90IGpzb24=' },
            { filename: 'f', data: Buffer.from('x') },
          ),
        },
        deps,
      ),
    );
    assert.equal(badPolicy.status, 403);
    const anonymous = await handlePostPolicyUpload(
      { bucket: BUCKET, ...multipart({ key: 'public.txt' }, { filename: 'f', data: Buffer.from('x') }) },
      deps,
    );
    assert.equal(anonymous.status, 204);
    assert.equal(authorized.at(-1)?.principal.member, 'allUsers');
    const denied = harness({ deny: true });
    await assert.rejects(
      handlePostPolicyUpload(
        { bucket: BUCKET, ...multipart(v4Form({ key: 'k' }), { filename: 'f', data: Buffer.from('x') }) },
        denied.deps,
      ),
      PermissionDenied,
    );
    assert.equal(denied.stored.length, 0);
  });

  it('answers a body cut off inside the file with 400, storing nothing', async () => {
    const { deps, stored } = harness();
    const full = multipart(v4Form({ key: 'cut' }), { filename: 'f', data: Buffer.alloc(100_000, 1) });
    const chunks: Buffer[] = [];
    for await (const chunk of full.body) {
      chunks.push(chunk as Buffer);
    }
    const whole = Buffer.concat(chunks);
    const cut = await refusal(
      handlePostPolicyUpload(
        {
          bucket: BUCKET,
          headers: full.headers,
          body: Readable.from([whole.subarray(0, whole.length - 5000)]),
        },
        deps,
      ),
    );
    assert.deepEqual([cut.status, cut.code], [400, 'MalformedPOSTRequest']);
    assert.equal(stored.length, 0);
  });
});
