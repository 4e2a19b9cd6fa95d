/**
 * SigV4 / GOOG4 / V2 HMAC authentication of the XML face, checked against AWS's published examples
 * (the AKIAIOSFODNN7EXAMPLE key and the signatures AWS documents for them), plus refusals.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { crc32 } from 'node:zlib';
import { describe, it } from 'node:test';
import { ManualClock } from '../../../core/clock.ts';
import type { Platform } from '../../../core/platform.ts';
import type { HmacKeyResolver, HmacKeySecret } from '../hmac-keys.ts';
import type { XmlAuthOutcome, XmlRequestInfo } from './auth.ts';
import { S3Error } from './errors.ts';
import { crc64nvme } from './aws-chunked.ts';
import { createHmacAuthenticator, deriveSigningKey, uriEncode } from './sigv4.ts';

const ACCESS_ID = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SCOPE = `${ACCESS_ID}/20130524/us-east-1/s3/aws4_request`;
const EXAMPLE_TIME = Date.parse('2013-05-24T00:00:00Z');

function keysWith(overrides: Partial<HmacKeySecret> = {}): HmacKeyResolver {
  const key: HmacKeySecret = {
    accessId: ACCESS_ID,
    secret: SECRET,
    serviceAccountEmail: 'uploader@demo.iam.gserviceaccount.com',
    projectId: 'demo',
    state: 'ACTIVE',
    ...overrides,
  };
  return { resolve: (id) => (id === key.accessId ? key : undefined) };
}

function authenticator(time = EXAMPLE_TIME, keys = keysWith()) {
  const clock = new ManualClock(time);
  return createHmacAuthenticator({ clock } as unknown as Platform, keys);
}

function request(
  method: string,
  rawPath: string,
  rawQuery: string,
  headers: IncomingHttpHeaders,
  bucket?: string,
): XmlRequestInfo {
  return { method, rawPath, rawQuery, headers, ...(bucket === undefined ? {} : { bucket }) };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) {
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts);
}

async function decode(outcome: XmlAuthOutcome | undefined, body: Buffer | Buffer[]): Promise<Buffer> {
  assert.ok(outcome?.decodeBody, 'the outcome frames the body');
  return readAll(outcome.decodeBody(Readable.from(Array.isArray(body) ? body : [body])));
}

async function refusal(promise: Promise<unknown>, code: string): Promise<S3Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof S3Error, `expected an S3Error, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

const getObjectHeaders = (signature: string): IncomingHttpHeaders => ({
  host: 'examplebucket.s3.amazonaws.com',
  range: 'bytes=0-9',
  'x-amz-content-sha256': EMPTY_SHA256,
  'x-amz-date': '20130524T000000Z',
  authorization: `AWS4-HMAC-SHA256 Credential=${SCOPE},SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=${signature}`,
});

describe('SigV4 with AWS documented examples', () => {
  it('accepts the GET Object example and acts as the key service account', async () => {
    const outcome = await authenticator().authenticate(
      request(
        'GET',
        '/test.txt',
        '',
        getObjectHeaders('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
      ),
    );
    assert.equal(outcome?.principal.kind, 'serviceAccount');
    assert.equal(outcome.principal.member, 'serviceAccount:uploader@demo.iam.gserviceaccount.com');
  });

  it('accepts the PUT Object example and verifies its payload hash', async () => {
    const body = Buffer.from('Welcome to Amazon S3.');
    const headers = {
      host: 'examplebucket.s3.amazonaws.com',
      date: 'Fri, 24 May 2013 00:00:00 GMT',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': '44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072',
      authorization: `AWS4-HMAC-SHA256 Credential=${SCOPE},SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd`,
    };
    const outcome = await authenticator().authenticate(request('PUT', '/test%24file.text', '', headers));
    assert.deepEqual(await decode(outcome, body), body);
    // The same signed request with other bytes: the body stream errors.
    const tampered = await authenticator().authenticate(request('PUT', '/test%24file.text', '', headers));
    await refusal(decode(tampered, Buffer.from('Welcome to Amazon S4.')), 'XAmzContentSHA256Mismatch');
  });

  it('accepts the GET Bucket Lifecycle and List Objects examples (query canonicalisation)', async () => {
    const headers = (signature: string) => ({
      host: 'examplebucket.s3.amazonaws.com',
      'x-amz-content-sha256': EMPTY_SHA256,
      'x-amz-date': '20130524T000000Z',
      authorization: `AWS4-HMAC-SHA256 Credential=${SCOPE},SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=${signature}`,
    });
    const lifecycle = await authenticator().authenticate(
      request(
        'GET',
        '/',
        'lifecycle',
        headers('fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543'),
      ),
    );
    assert.equal(lifecycle?.principal.kind, 'serviceAccount');
    const list = await authenticator().authenticate(
      request(
        'GET',
        '/',
        'max-keys=2&prefix=J',
        headers('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7'),
      ),
    );
    assert.equal(list?.principal.kind, 'serviceAccount');
  });

  it('accepts the presigned URL example within its lifetime', async () => {
    const query = [
      'X-Amz-Algorithm=AWS4-HMAC-SHA256',
      `X-Amz-Credential=${encodeURIComponent(SCOPE)}`,
      'X-Amz-Date=20130524T000000Z',
      'X-Amz-Expires=86400',
      'X-Amz-SignedHeaders=host',
      'X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404',
    ].join('&');
    const headers = { host: 'examplebucket.s3.amazonaws.com' };
    const outcome = await authenticator(EXAMPLE_TIME + 3600_000).authenticate(
      request('GET', '/test.txt', query, headers),
    );
    assert.equal(outcome?.principal.email, 'uploader@demo.iam.gserviceaccount.com');
    assert.equal(outcome.decodeBody, undefined);

    const expired = await refusal(
      authenticator(EXAMPLE_TIME + 86_401_000).authenticate(request('GET', '/test.txt', query, headers)),
      'AccessDenied',
    );
    assert.equal(expired.message, 'Request has expired');
    assert.equal(expired.status, 403);

    const tampered = await refusal(
      authenticator().authenticate(
        request('GET', '/test.txt', query.replace('Expires=86400', 'Expires=86399'), headers),
      ),
      'SignatureDoesNotMatch',
    );
    assert.match(tampered.details.CanonicalRequest ?? '', /X-Amz-Expires=86399/);
    await refusal(
      authenticator().authenticate(request('GET', '/other.txt', query, headers)),
      'SignatureDoesNotMatch',
    );
  });

  it('decodes the aws-chunked example and verifies every chunk signature', async () => {
    const headers = {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'content-length': '66824',
      'x-amz-decoded-content-length': '66560',
      authorization: `AWS4-HMAC-SHA256 Credential=${SCOPE},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`,
    };
    const chunk = (data: Buffer, signature: string) =>
      Buffer.concat([
        Buffer.from(`${data.length.toString(16)};chunk-signature=${signature}\r\n`),
        data,
        Buffer.from('\r\n'),
      ]);
    const body = Buffer.concat([
      chunk(Buffer.alloc(65536, 'a'), 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648'),
      chunk(Buffer.alloc(1024, 'a'), '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497'),
      chunk(Buffer.alloc(0), 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'),
    ]);
    assert.equal(body.length, 66824);
    const outcome = await authenticator().authenticate(
      request('PUT', '/examplebucket/chunkObject.txt', '', headers),
    );
    assert.equal(outcome?.decodedLength, 66560);
    // Fed in awkward pieces, so chunk headers and CRLFs straddle reads.
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < body.length; offset += 7001) {
      pieces.push(body.subarray(offset, offset + 7001));
    }
    assert.deepEqual(await decode(outcome, pieces), Buffer.alloc(66560, 'a'));

    const altered = Buffer.from(body);
    altered[100] = 'b'.charCodeAt(0);
    const again = await authenticator().authenticate(
      request('PUT', '/examplebucket/chunkObject.txt', '', headers),
    );
    await refusal(decode(again, altered), 'SignatureDoesNotMatch');
    const truncated = await authenticator().authenticate(
      request('PUT', '/examplebucket/chunkObject.txt', '', headers),
    );
    await refusal(decode(truncated, body.subarray(0, 70000 - 4000)), 'IncompleteBody');
  });

  it('accepts the V2 (HMAC-SHA1) GET example on a virtual-hosted bucket', async () => {
    const headers = {
      host: 'johnsmith.s3.amazonaws.com',
      date: 'Tue, 27 Mar 2007 19:36:42 +0000',
      authorization: `AWS ${ACCESS_ID}:bWq2s1WEIj+Ydj0vQ697zp+IXMU=`,
    };
    const outcome = await authenticator(Date.parse('2007-03-27T19:40:00Z')).authenticate(
      request('GET', '/photos/puppy.jpg', '', headers, 'johnsmith'),
    );
    assert.equal(outcome?.principal.kind, 'serviceAccount');
    await refusal(
      authenticator(Date.parse('2007-03-27T19:40:00Z')).authenticate(
        request('GET', '/photos/kitten.jpg', '', headers, 'johnsmith'),
      ),
      'SignatureDoesNotMatch',
    );
  });
});

describe('HMAC authentication refusals', () => {
  const goodGet = () =>
    request(
      'GET',
      '/test.txt',
      '',
      getObjectHeaders('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41'),
    );

  it('refuses a tampered signature with the string to sign and canonical request', async () => {
    const error = await refusal(
      authenticator().authenticate(
        request(
          'GET',
          '/test.txt',
          '',
          getObjectHeaders('f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb40'),
        ),
      ),
      'SignatureDoesNotMatch',
    );
    assert.equal(error.status, 403);
    assert.match(
      error.details.StringToSign ?? '',
      /^AWS4-HMAC-SHA256\n20130524T000000Z\n20130524\/us-east-1\/s3\/aws4_request\n/,
    );
    assert.match(error.details.CanonicalRequest ?? '', /^GET\n\/test.txt\n\nhost:examplebucket/);
  });

  it('refuses a request signed more than 15 minutes away from the server clock', async () => {
    const error = await refusal(
      authenticator(EXAMPLE_TIME + 16 * 60_000).authenticate(goodGet()),
      'RequestTimeTooSkewed',
    );
    assert.equal(error.status, 403);
    await refusal(authenticator(EXAMPLE_TIME - 16 * 60_000).authenticate(goodGet()), 'RequestTimeTooSkewed');
    assert.ok(await authenticator(EXAMPLE_TIME + 14 * 60_000).authenticate(goodGet()));
  });

  it('refuses unknown, inactive and deleted keys, and keys of disabled accounts', async () => {
    await refusal(
      authenticator(EXAMPLE_TIME, keysWith({ accessId: 'GOOG1OTHER' })).authenticate(goodGet()),
      'InvalidAccessKeyId',
    );
    await refusal(
      authenticator(EXAMPLE_TIME, keysWith({ state: 'INACTIVE' })).authenticate(goodGet()),
      'InvalidAccessKeyId',
    );
    await refusal(
      authenticator(EXAMPLE_TIME, keysWith({ state: 'DELETED' })).authenticate(goodGet()),
      'InvalidAccessKeyId',
    );
    await refusal(
      authenticator(EXAMPLE_TIME, keysWith({ serviceAccountDisabled: true })).authenticate(goodGet()),
      'AccessDenied',
    );
  });

  it('refuses presigned URLs valid for more than 7 days', async () => {
    const query = [
      'X-Amz-Algorithm=AWS4-HMAC-SHA256',
      `X-Amz-Credential=${encodeURIComponent(SCOPE)}`,
      'X-Amz-Date=20130524T000000Z',
      'X-Amz-Expires=604801',
      'X-Amz-SignedHeaders=host',
      'X-Amz-Signature=00',
    ].join('&');
    await refusal(
      authenticator().authenticate(request('GET', '/test.txt', query, { host: 'h' })),
      'AuthorizationQueryParametersError',
    );
  });

  it('ignores requests that use no HMAC scheme', async () => {
    assert.equal(
      await authenticator().authenticate(request('GET', '/b/o', '', { authorization: 'Bearer x' })),
      undefined,
    );
    assert.equal(
      await authenticator().authenticate(request('GET', '/b/o', 'X-Goog-Algorithm=GOOG4-RSA-SHA256', {})),
      undefined,
    );
  });
});

/** Signs like a client would (AWS4 or GOOG4 key derivation), for the flows AWS has no worked example of. */
function signV4(
  flavor: 'AWS4' | 'GOOG4',
  canonical: string,
  amzDate: string,
  region: string,
  service: string,
): { signature: string; key: Buffer; scope: string } {
  const terminator = flavor === 'AWS4' ? 'aws4_request' : 'goog4_request';
  const date = amzDate.slice(0, 8);
  const key = deriveSigningKey(SECRET, date, region, service, flavor, terminator);
  const scope = `${date}/${region}/${service}/${terminator}`;
  const toSign = [
    `${flavor}-HMAC-SHA256`,
    amzDate,
    scope,
    createHash('sha256').update(canonical).digest('hex'),
  ].join('\n');
  return { signature: createHmac('sha256', key).update(toSign).digest('hex'), key, scope };
}

describe('GOOG4-HMAC-SHA256 and trailers', () => {
  it('accepts a GOOG4 header signature with x-goog names and refuses it with AWS4 key derivation', async () => {
    const amzDate = '20130524T000000Z';
    const canonical = [
      'GET',
      `/bucket/${uriEncode('a key+x.txt')}`,
      'alt=media',
      'host:storage.googleapis.com\nx-goog-content-sha256:UNSIGNED-PAYLOAD\nx-goog-date:20130524T000000Z\n',
      'host;x-goog-content-sha256;x-goog-date',
      'UNSIGNED-PAYLOAD',
    ].join('\n');
    const headers = (flavor: 'AWS4' | 'GOOG4') => {
      const { signature, scope } = signV4(flavor, canonical, amzDate, 'auto', 'storage');
      return {
        host: 'storage.googleapis.com',
        'x-goog-date': amzDate,
        'x-goog-content-sha256': 'UNSIGNED-PAYLOAD',
        authorization: `GOOG4-HMAC-SHA256 Credential=${ACCESS_ID}/${scope.replace('aws4_request', 'goog4_request')}, SignedHeaders=host;x-goog-content-sha256;x-goog-date, Signature=${signature}`,
      };
    };
    const outcome = await authenticator().authenticate(
      request('GET', '/bucket/a%20key%2Bx.txt', 'alt=media', headers('GOOG4')),
    );
    assert.equal(outcome?.principal.kind, 'serviceAccount');
    await refusal(
      authenticator().authenticate(request('GET', '/bucket/a%20key%2Bx.txt', 'alt=media', headers('AWS4'))),
      'SignatureDoesNotMatch',
    );
  });

  it('accepts a GOOG4 presigned query (X-Goog-* parameters) and refuses it once expired', async () => {
    const amzDate = '20130524T000000Z';
    const scope = `20130524/auto/storage/goog4_request`;
    const query = [
      'X-Goog-Algorithm=GOOG4-HMAC-SHA256',
      `X-Goog-Credential=${encodeURIComponent(`${ACCESS_ID}/${scope}`)}`,
      `X-Goog-Date=${amzDate}`,
      'X-Goog-Expires=600',
      'X-Goog-SignedHeaders=host',
    ].join('&');
    const canonical = [
      'GET',
      '/bucket/obj',
      query,
      'host:storage.googleapis.com\n',
      'host',
      'UNSIGNED-PAYLOAD',
    ].join('\n');
    const { signature } = signV4('GOOG4', canonical, amzDate, 'auto', 'storage');
    const signed = `${query}&X-Goog-Signature=${signature}`;
    const headers = { host: 'storage.googleapis.com' };
    const outcome = await authenticator().authenticate(request('GET', '/bucket/obj', signed, headers));
    assert.equal(outcome?.principal.kind, 'serviceAccount');
    const expired = await refusal(
      authenticator(EXAMPLE_TIME + 601_000).authenticate(request('GET', '/bucket/obj', signed, headers)),
      'AccessDenied',
    );
    assert.equal(expired.message, 'Request has expired');
    await refusal(
      authenticator().authenticate(request('PUT', '/bucket/obj', signed, headers)),
      'SignatureDoesNotMatch',
    );
  });

  it('accepts a V2 GOOG1 header (boto/gsutil) with x-goog headers and a sub-resource', async () => {
    const headers = {
      host: '127.0.0.1:9000',
      'content-type': 'text/plain',
      'content-md5': 'XrY7u+Ae7tCTyyK7j1rNww==',
      'x-goog-date': 'Fri, 24 May 2013 00:00:00 GMT',
      'x-goog-meta-b': 'two',
      'x-goog-meta-a': '  one  ',
    };
    const toSign =
      'PUT\nXrY7u+Ae7tCTyyK7j1rNww==\ntext/plain\n\nx-goog-date:Fri, 24 May 2013 00:00:00 GMT\nx-goog-meta-a:one\nx-goog-meta-b:two\n/bkt/obj%20x?acl';
    const signature = createHmac('sha1', SECRET).update(toSign).digest('base64');
    const outcome = await authenticator().authenticate(
      request('PUT', '/bkt/obj%20x', 'acl&foo=bar', {
        ...headers,
        authorization: `GOOG1 ${ACCESS_ID}:${signature}`,
      }),
    );
    assert.equal(outcome?.principal.kind, 'serviceAccount');
    const refused = await refusal(
      authenticator().authenticate(
        request('PUT', '/bkt/obj%20x', 'acl', {
          ...headers,
          'x-goog-meta-a': 'changed',
          authorization: `GOOG1 ${ACCESS_ID}:${signature}`,
        }),
      ),
      'SignatureDoesNotMatch',
    );
    assert.match(refused.details.StringToSign ?? '', /x-goog-meta-a:changed/);
  });

  it('decodes STREAMING-UNSIGNED-PAYLOAD-TRAILER bodies and checks the crc32 trailer', async () => {
    const data = Buffer.from('hello trailer world');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(data));
    const body = (checksum: string) =>
      Buffer.from(
        `${data.length.toString(16)}\r\n${data.toString()}\r\n0\r\nx-amz-checksum-crc32:${checksum}\r\n\r\n`,
      );
    const amzDate = '20130524T000000Z';
    const signedHeaders = 'host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-trailer';
    const baseHeaders = {
      host: 'localhost',
      'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'x-amz-date': amzDate,
      'x-amz-decoded-content-length': String(data.length),
      'x-amz-trailer': 'x-amz-checksum-crc32',
    };
    const canonical = [
      'PUT',
      '/b/o',
      '',
      `host:localhost\nx-amz-content-sha256:STREAMING-UNSIGNED-PAYLOAD-TRAILER\nx-amz-date:${amzDate}\nx-amz-decoded-content-length:${String(data.length)}\nx-amz-trailer:x-amz-checksum-crc32\n`,
      signedHeaders,
      'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    ].join('\n');
    const { signature, scope } = signV4('AWS4', canonical, amzDate, 'us-east-1', 's3');
    const headers = {
      ...baseHeaders,
      authorization: `AWS4-HMAC-SHA256 Credential=${ACCESS_ID}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`,
    };
    const outcome = await authenticator().authenticate(request('PUT', '/b/o', '', headers));
    assert.deepEqual(await decode(outcome, body(crc.toString('base64'))), data);
    const bad = await authenticator().authenticate(request('PUT', '/b/o', '', headers));
    await refusal(decode(bad, body('AAAAAA==')), 'BadDigest');
  });

  it('computes CRC-64/NVME (its published check value)', () => {
    const checksum = crc64nvme();
    checksum.update(Buffer.from('1234'));
    checksum.update(Buffer.from('56789'));
    assert.equal(Buffer.from(checksum.digest(), 'base64').toString('hex'), 'ae8b14860a799888');
  });

  it('answers malformed credentials and bodies with S3 errors, never anything else', async () => {
    const malformedHeaders = [
      'AWS4-HMAC-SHA256',
      'AWS4-HMAC-SHA256 Credential=',
      'AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=x',
      `AWS4-HMAC-SHA256 Credential=${ACCESS_ID}/2013/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x`,
      `AWS4-HMAC-SHA256 Credential=${SCOPE.replace('aws4_request', 'goog4_request')}, SignedHeaders=host, Signature=x`,
      `AWS4-HMAC-SHA256 Credential=${SCOPE}, SignedHeaders=, Signature=`,
      'GOOG4-HMAC-SHA256 Credential=%%%/\u0000, SignedHeaders=;;;, Signature=\u00ff',
      `AWS ${ACCESS_ID}:`,
      'AWS :sig',
    ];
    for (const authorization of malformedHeaders) {
      await assert.rejects(
        authenticator().authenticate(
          request('GET', '/b/%ZZ/%', 'a=%&b', { authorization, 'x-amz-date': '20130524T000000Z' }),
        ),
        (error: unknown) => error instanceof S3Error && error.status >= 400 && error.status < 500,
        authorization,
      );
    }
    const malformedQueries = [
      'X-Amz-Algorithm=AWS4-HMAC-SHA256',
      'X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256',
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(SCOPE)}&X-Amz-Date=yesterday&X-Amz-Expires=1&X-Amz-SignedHeaders=host&X-Amz-Signature=0`,
      `X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${encodeURIComponent(SCOPE)}&X-Amz-Date=20130524T000000Z&X-Amz-Expires=-5&X-Amz-SignedHeaders=host&X-Amz-Signature=0`,
      'AWSAccessKeyId=x&Signature=y&Expires=soon',
    ];
    for (const query of malformedQueries) {
      await assert.rejects(
        authenticator().authenticate(request('GET', '/b/o', query, { host: 'h' })),
        (error: unknown) => error instanceof S3Error && error.status >= 400 && error.status < 500,
        query,
      );
    }
    // Streaming bodies that are not aws-chunked at all.
    const headers = {
      host: 's3.amazonaws.com',
      'x-amz-date': '20130524T000000Z',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'content-encoding': 'aws-chunked',
      'content-length': '66824',
      'x-amz-decoded-content-length': '66560',
      authorization: `AWS4-HMAC-SHA256 Credential=${SCOPE},SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9`,
    };
    for (const body of [
      'zz;chunk-signature=00\r\n',
      'a'.repeat(10_000),
      '10000\r\nabc',
      '0;chunk-signature=ab\r\n\r\n',
    ]) {
      const outcome = await authenticator().authenticate(
        request('PUT', '/examplebucket/chunkObject.txt', '', headers),
      );
      await assert.rejects(
        decode(outcome, Buffer.from(body)),
        (error: unknown) => error instanceof S3Error && error.status >= 400 && error.status < 500,
        body.slice(0, 30),
      );
    }
  });
});
