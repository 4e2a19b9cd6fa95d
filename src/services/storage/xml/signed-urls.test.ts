import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../core/clock.ts';
import { MemoryDocumentStore } from '../../../platform/memory-store.ts';
import { IamStore } from '../../iam/index.ts';
import type { HmacKeySecret } from '../hmac-keys.ts';
import type { XmlRequestInfo } from './auth.ts';
import { S3Error } from './errors.ts';
import {
  canonicalQueryString,
  createSignedUrlAuthenticator,
  encodeRfc3986,
  iamServiceAccountKeys,
  v2StringToSign,
  v4CanonicalRequest,
  v4HmacSigningKey,
  v4StringToSign,
} from './signed-urls.ts';

const EMAIL = 'signer@proj-1.iam.gserviceaccount.com';
const HOST = 'bucket.localhost:4443';
const START = Date.parse('2026-03-01T10:00:00Z');
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();

const hmacKey: HmacKeySecret = {
  accessId: 'GOOG1EXAMPLEACCESSID',
  secret: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0',
  serviceAccountEmail: EMAIL,
  projectId: 'proj-1',
  state: 'ACTIVE',
};
const hmacKeys = {
  resolve: (accessId: string) => (accessId === hmacKey.accessId ? hmacKey : undefined),
};

function setup(options: { keyDisabled?: boolean; accountDisabled?: boolean } = {}) {
  const store = new MemoryDocumentStore();
  const iam = new IamStore(store);
  const accountName = `projects/proj-1/serviceAccounts/${EMAIL}`;
  iam.insertAccount({
    name: accountName,
    projectId: 'proj-1',
    uniqueId: '1',
    email: EMAIL,
    displayName: '',
    description: '',
    disabled: options.accountDisabled === true,
    etag: '',
    createTime: '',
  });
  iam.putKey({
    name: `${accountName}/keys/k1`,
    keyId: 'k1',
    email: EMAIL,
    accountUniqueId: '1',
    publicKeyPem,
    certificatePem: '',
    validAfterTime: '2020-01-01T00:00:00Z',
    validBeforeTime: '9999-12-31T23:59:59Z',
    keyAlgorithm: 'KEY_ALG_RSA_2048',
    keyOrigin: 'GOOGLE_PROVIDED',
    keyType: 'USER_MANAGED',
    disabled: options.keyDisabled === true,
  });
  const clock = new ManualClock(START);
  const auth = createSignedUrlAuthenticator({ clock, store }, hmacKeys);
  return { clock, auth };
}

function timestampOf(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** A V4 signed request, signed the way Google's client libraries do. */
function signV4(options: {
  algorithm: 'GOOG4-RSA-SHA256' | 'GOOG4-HMAC-SHA256';
  method?: string;
  path?: string;
  prefix?: 'X-Goog-' | 'X-Amz-';
  expires?: number;
  at?: number;
  extraQuery?: [string, string][];
  headers?: Record<string, string>;
}): XmlRequestInfo {
  const prefix = options.prefix ?? 'X-Goog-';
  const timestamp = timestampOf(options.at ?? START);
  const scope = `${timestamp.slice(0, 8)}/auto/storage/goog4_request`;
  const id = options.algorithm === 'GOOG4-RSA-SHA256' ? EMAIL : hmacKey.accessId;
  const headers = new Map<string, string>([['host', HOST.replace(/:\d+$/, '')]]);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    headers.set(name.toLowerCase(), value);
  }
  const query: [string, string][] = [
    [`${prefix}Algorithm`, options.algorithm],
    [`${prefix}Credential`, `${id}/${scope}`],
    [`${prefix}Date`, timestamp],
    [`${prefix}Expires`, String(options.expires ?? 900)],
    [`${prefix}SignedHeaders`, [...headers.keys()].sort().join(';')],
    ...(options.extraQuery ?? []),
  ];
  const method = options.method ?? 'GET';
  const path = options.path ?? '/dir/object%20name.txt';
  const canonical = v4CanonicalRequest({
    method,
    path,
    query,
    headers,
    payloadHash: headers.get('x-goog-content-sha256') ?? 'UNSIGNED-PAYLOAD',
  });
  const stringToSign = v4StringToSign(options.algorithm, timestamp, scope, canonical);
  const signature =
    options.algorithm === 'GOOG4-RSA-SHA256'
      ? sign('sha256', Buffer.from(stringToSign), privateKey).toString('hex')
      : createHmac(
          'sha256',
          v4HmacSigningKey(
            hmacKey.secret,
            'GOOG4',
            timestamp.slice(0, 8),
            'auto',
            'storage',
            'goog4_request',
          ),
        )
          .update(stringToSign)
          .digest('hex');
  return {
    method,
    rawPath: path,
    rawQuery: `${canonicalQueryString(query)}&${prefix}Signature=${signature}`,
    headers: { host: HOST, ...options.headers },
    bucket: 'bucket',
  };
}

async function refused(promise: Promise<unknown>): Promise<S3Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof S3Error, String(error));
    return error;
  }
  assert.fail('expected a refusal');
}

describe('V4 signed URLs', () => {
  it('ignores requests that carry no signed-URL parameters', async () => {
    const { auth } = setup();
    assert.equal(
      await auth.authenticate({ method: 'GET', rawPath: '/o', rawQuery: 'prefix=a', headers: {} }),
      undefined,
    );
  });

  it('accepts RSA and HMAC signatures, X-Goog- and X-Amz- spellings; the signer is the principal', async () => {
    const { auth } = setup();
    const rsa = await auth.authenticate(signV4({ algorithm: 'GOOG4-RSA-SHA256' }));
    assert.deepEqual(
      { member: rsa?.principal.member, keyId: rsa?.principal.keyId },
      { member: `serviceAccount:${EMAIL}`, keyId: 'k1' },
    );
    const hmac = await auth.authenticate(signV4({ algorithm: 'GOOG4-HMAC-SHA256' }));
    assert.equal(hmac?.principal.member, `serviceAccount:${EMAIL}`);
    const amz = await auth.authenticate(signV4({ algorithm: 'GOOG4-HMAC-SHA256', prefix: 'X-Amz-' }));
    assert.equal(amz?.principal.email, EMAIL);
  });

  it('accepts a URL that carries extra query parameters and signed headers', async () => {
    const { auth } = setup();
    const request = signV4({
      algorithm: 'GOOG4-RSA-SHA256',
      extraQuery: [['response-content-disposition', 'attachment; filename="a b.txt"']],
      headers: { 'x-goog-meta-color': '  blue   green ' },
    });
    assert.ok(await auth.authenticate(request));
    // The signed header must be sent with its signed value.
    const changed = await refused(
      auth.authenticate({ ...request, headers: { ...request.headers, 'x-goog-meta-color': 'red' } }),
    );
    assert.equal(changed.code, 'SignatureDoesNotMatch');
  });

  it('refuses expired, not-yet-valid, too-long and malformed URLs with Google-shaped errors', async () => {
    const { auth, clock } = setup();
    const request = signV4({ algorithm: 'GOOG4-HMAC-SHA256', expires: 60 });
    clock.advance(60_000);
    const expired = await refused(auth.authenticate(request));
    assert.deepEqual([expired.status, expired.code], [400, 'ExpiredToken']);
    clock.set(START - 120_000);
    const early = await refused(auth.authenticate(request));
    assert.deepEqual([early.status, early.code], [403, 'AccessDenied']);
    clock.set(START);
    const tooLong = await refused(
      auth.authenticate(signV4({ algorithm: 'GOOG4-HMAC-SHA256', expires: 604801 })),
    );
    assert.deepEqual([tooLong.status, tooLong.code], [400, 'MalformedSecurityHeader']);
    for (const rawQuery of [
      'X-Goog-Algorithm=GOOG4-RSA-SHA256',
      request.rawQuery.replace(/X-Goog-Date=\d{8}T\d{6}Z/, 'X-Goog-Date=yesterday'),
      request.rawQuery.replace(/X-Goog-Expires=\d+/, 'X-Goog-Expires=-5'),
      request.rawQuery.replace(/X-Goog-SignedHeaders=host/, 'X-Goog-SignedHeaders=content-type'),
      request.rawQuery.replace(/X-Goog-Signature=[0-9a-f]+/, 'X-Goog-Signature=zz%ZZ'),
      request.rawQuery.replace(/X-Goog-Credential=[^&]+/, 'X-Goog-Credential=%E0%A4%A'),
      request.rawQuery.replace(/X-Goog-Algorithm=[^&]+/, 'X-Goog-Algorithm=MD5'),
    ]) {
      const error = await refused(auth.authenticate({ ...request, rawQuery }));
      assert.equal(error.status, 400, `${rawQuery}: ${error.code}`);
      assert.equal(error.code, 'MalformedSecurityHeader');
    }
  });

  it('refuses a tampered path, method, host or signature', async () => {
    const { auth } = setup();
    for (const algorithm of ['GOOG4-RSA-SHA256', 'GOOG4-HMAC-SHA256'] as const) {
      const request = signV4({ algorithm });
      for (const tampered of [
        { ...request, rawPath: '/dir/other.txt' },
        { ...request, method: 'PUT' },
        { ...request, headers: { host: 'other.localhost:4443' } },
        {
          ...request,
          rawQuery: request.rawQuery.replace(
            /Signature=(.)/,
            (_all, c: string) => `Signature=${c === 'a' ? 'b' : 'a'}`,
          ),
        },
      ]) {
        const error = await refused(auth.authenticate(tampered));
        assert.deepEqual([error.status, error.code], [403, 'SignatureDoesNotMatch']);
      }
    }
  });

  it('refuses unknown, disabled or inactive signers', async () => {
    const request = signV4({ algorithm: 'GOOG4-RSA-SHA256' });
    for (const options of [{ keyDisabled: true }, { accountDisabled: true }]) {
      const { auth } = setup(options);
      const error = await refused(auth.authenticate(request));
      assert.equal(error.status, 403);
    }
    const { auth } = setup();
    const hmac = signV4({ algorithm: 'GOOG4-HMAC-SHA256' });
    const unknown = await refused(
      auth.authenticate({ ...hmac, rawQuery: hmac.rawQuery.replace(hmacKey.accessId, 'GOOG1UNKNOWN') }),
    );
    assert.deepEqual([unknown.status, unknown.code], [403, 'InvalidAccessKeyId']);
    hmacKey.state = 'INACTIVE';
    try {
      const inactive = await refused(auth.authenticate(hmac));
      assert.deepEqual([inactive.status, inactive.code], [403, 'InvalidAccessKeyId']);
    } finally {
      hmacKey.state = 'ACTIVE';
    }
  });

  it('checks a signed x-goog-content-sha256 against the body', async () => {
    const { auth } = setup();
    const body = Buffer.from('payload');
    const request = signV4({
      algorithm: 'GOOG4-RSA-SHA256',
      method: 'PUT',
      headers: { 'x-goog-content-sha256': createHash('sha256').update(body).digest('hex') },
    });
    const outcome = await auth.authenticate(request);
    assert.ok(outcome?.decodeBody);
    assert.equal(await text(outcome.decodeBody(Readable.from([body]))), 'payload');
    await assert.rejects(text(outcome.decodeBody(Readable.from([Buffer.from('other')]))), /does not match/);
  });

  it('finds keys through IAM: only active keys of active accounts', () => {
    const store = new MemoryDocumentStore();
    const clock = new ManualClock(START);
    assert.deepEqual(iamServiceAccountKeys(store, clock).activeKeys(EMAIL), []);
    assert.deepEqual(iamServiceAccountKeys(store, clock).activeKeys('not-an-account'), []);
  });
});

describe('V2 signed URLs', () => {
  function signV2(
    options: { method?: string; expires?: number; hmac?: boolean; bucketInPath?: boolean } = {},
  ) {
    const expires = String(options.expires ?? START / 1000 + 600);
    const stringToSign = v2StringToSign({
      method: options.method ?? 'GET',
      contentMd5: '',
      contentType: '',
      expires,
      extensionHeaders: '',
      resource: `/bucket/${encodeRfc3986('dir/a b.txt', true)}`,
    });
    const signature =
      options.hmac === true
        ? createHmac('sha1', hmacKey.secret).update(stringToSign).digest('base64')
        : sign('sha256', Buffer.from(stringToSign), privateKey).toString('base64');
    const accessId = options.hmac === true ? hmacKey.accessId : EMAIL;
    const request: XmlRequestInfo = {
      method: options.method ?? 'GET',
      rawPath: options.bucketInPath === true ? '/bucket/dir/a%20b.txt' : '/dir/a%20b.txt',
      rawQuery: `GoogleAccessId=${encodeURIComponent(accessId)}&Expires=${expires}&Signature=${encodeURIComponent(signature)}`,
      headers: { host: options.bucketInPath === true ? '127.0.0.1:9000' : HOST },
      bucket: 'bucket',
    };
    return request;
  }

  it('accepts RSA (virtual-hosted and path-style) and HMAC V2 URLs', async () => {
    const { auth } = setup();
    assert.equal((await auth.authenticate(signV2()))?.principal.keyId, 'k1');
    assert.equal((await auth.authenticate(signV2({ bucketInPath: true })))?.principal.email, EMAIL);
    assert.equal((await auth.authenticate(signV2({ hmac: true })))?.principal.email, EMAIL);
  });

  it('refuses expired, tampered and wrong-method V2 URLs', async () => {
    const { auth, clock } = setup();
    const request = signV2();
    const wrongMethod = await refused(auth.authenticate({ ...request, method: 'DELETE' }));
    assert.deepEqual([wrongMethod.status, wrongMethod.code], [403, 'SignatureDoesNotMatch']);
    const otherPath = await refused(auth.authenticate({ ...request, rawPath: '/dir/b.txt' }));
    assert.equal(otherPath.code, 'SignatureDoesNotMatch');
    clock.advance(600_000);
    const expired = await refused(auth.authenticate(request));
    assert.deepEqual([expired.status, expired.code], [403, 'AccessDenied']);
    assert.match(expired.message, /Request has expired/);
  });
});
