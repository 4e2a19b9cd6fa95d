/**
 * The Cloud Storage XML API (S3-compatible) face over real sockets: path-style on the dedicated S3
 * port, virtual-hosted style (`BUCKET.localhost`) on either port, bucket configuration mapped onto
 * the JSON face's fields, listing markers, checksums, conditions, multipart validation, tagging and
 * authentication refusals. Anonymous requests act as the owner (loopback default).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startXmlPort } from '../../src/services/storage/xml/index.ts';
import { parseConfig } from '../../src/config.ts';
import { bearer, startTestApp, startTestServer, withBinding, type TestApp } from '../helpers.ts';

const MIB = 1024 * 1024;
const PROJECT = 'nimbus-local';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

function send(
  port: number,
  method: string,
  path: string,
  options: { host?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: { host: options.host ?? `127.0.0.1:${String(port)}`, ...(options.headers ?? {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function codeOf(answer: Answer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(answer.text)?.[1];
}

function texts(answer: Answer, element: string): string[] {
  return [...answer.text.matchAll(new RegExp(`<${element}(?: [^>]*)?>([^<]*)</${element}>`, 'g'))].map(
    (match) => match[1] ?? '',
  );
}

function md5Base64(data: Buffer | string): string {
  return createHash('md5').update(data).digest('base64');
}

describe('Cloud Storage XML API (S3-compatible) over HTTP', () => {
  let t: TestApp & { url: string; port: number };
  let s3Port: number;
  const s3 = (method: string, path: string, options?: Parameters<typeof send>[3]) =>
    send(s3Port, method, path, options);

  before(async () => {
    t = await startTestServer({ s3Port: 0 });
    s3Port = (await startXmlPort(t.platform)) ?? 0;
  });

  after(async () => {
    await t.dispose();
  });

  it('serves path-style on the S3 port and virtual-hosted style on both ports', async () => {
    assert.equal((await s3('PUT', '/xml-addressing')).status, 200);
    assert.equal((await s3('PUT', '/xml-addressing/path.txt', { body: 'by path' })).status, 200);
    const hosted = await send(t.port, 'PUT', '/hosted.txt', {
      host: `xml-addressing.localhost:${String(t.port)}`,
      body: 'by host',
    });
    assert.equal(hosted.status, 200, hosted.text);
    assert.equal((await s3('GET', '/xml-addressing/hosted.txt')).text, 'by host');
    const viaS3Host = await send(s3Port, 'GET', '/path.txt', {
      host: `xml-addressing.s3.localhost:${String(s3Port)}`,
    });
    assert.equal(viaS3Host.text, 'by path');
    const listed = await send(t.port, 'GET', '/?list-type=2', { host: 'xml-addressing.localhost' });
    assert.deepEqual(texts(listed, 'Key'), ['hosted.txt', 'path.txt']);
    // storage.localhost is the JSON API's host, not a bucket.
    const json = await send(t.port, 'GET', '/storage/v1/b/xml-addressing/o', {
      host: `storage.localhost:${String(t.port)}`,
      headers: bearer(t.ownerToken),
    });
    assert.equal(json.status, 200);
    assert.equal((JSON.parse(json.text) as { items: unknown[] }).items.length, 2);
    const env = await send(t.port, 'GET', '/_nimbus/env', { headers: bearer(t.ownerToken) });
    assert.equal(
      (JSON.parse(env.text) as Record<string, string>).AWS_ENDPOINT_URL_S3,
      `http://127.0.0.1:${String(s3Port)}`,
    );
  });

  it('takes the S3 port from --s3-port, or the main port + 1 when free', async () => {
    assert.equal(parseConfig(['--port', '9000'], {}).s3Port, undefined);
    assert.equal(parseConfig(['--s3-port', '9100'], {}).s3Port, 9100);
    assert.equal(parseConfig([], { NIMBUS_S3_PORT: '0' }).s3Port, 0);
    assert.throws(() => parseConfig(['--s3-port', 'abc'], {}), /--s3-port must be a number/);
    // The default port (main + 1) is taken: any free port instead; an explicit taken port is an error.
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const taken = (holder.address() as { port: number }).port;
    const fallback = await startTestApp({ port: taken - 1 });
    const explicit = await startTestApp({ s3Port: taken });
    try {
      const bound = await startXmlPort(fallback.platform);
      assert.ok(bound !== undefined && bound !== taken && bound > 0);
      assert.equal(fallback.platform.config.s3Port, bound);
      await assert.rejects(startXmlPort(explicit.platform), /NIMBUS_ERR_PORT_IN_USE|already in use/);
    } finally {
      await fallback.dispose();
      await explicit.dispose();
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('answers bucket errors with S3 codes', async () => {
    assert.equal((await s3('PUT', '/xml-bucket-errors')).status, 200);
    assert.equal(codeOf(await s3('PUT', '/xml-bucket-errors')), 'BucketAlreadyOwnedByYou');
    assert.equal(codeOf(await s3('PUT', '/Bad_Name')), 'InvalidBucketName');
    assert.equal(codeOf(await s3('GET', '/xml-no-such-bucket?list-type=2')), 'NoSuchBucket');
    assert.equal((await s3('HEAD', '/xml-no-such-bucket')).status, 404);
    await s3('PUT', '/xml-bucket-errors/k', { body: 'x' });
    const notEmpty = await s3('DELETE', '/xml-bucket-errors');
    assert.equal(notEmpty.status, 409);
    assert.equal(codeOf(notEmpty), 'BucketNotEmpty');
    const location = await s3('GET', '/xml-bucket-errors?location');
    assert.deepEqual(texts(location, 'LocationConstraint'), ['US']);
    const created = await s3('PUT', '/xml-bucket-eu', {
      body: '<CreateBucketConfiguration><LocationConstraint>EU</LocationConstraint></CreateBucketConfiguration>',
    });
    assert.equal(created.status, 200);
    assert.deepEqual(texts(await s3('GET', '/xml-bucket-eu?location'), 'LocationConstraint'), ['EU']);
  });

  it('maps versioning, CORS and lifecycle onto the JSON bucket fields', async () => {
    await s3('PUT', '/xml-config');
    assert.equal(texts(await s3('GET', '/xml-config?versioning'), 'Status').length, 0);
    await s3('PUT', '/xml-config?versioning', {
      body: '<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>',
    });
    assert.equal(codeOf(await s3('GET', '/xml-config?cors')), 'NoSuchCORSConfiguration');
    const cors = await s3('PUT', '/xml-config?cors', {
      body: '<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>',
    });
    assert.equal(cors.status, 200, cors.text);
    const lifecycle = await s3('PUT', '/xml-config?lifecycle', {
      body: '<LifecycleConfiguration><Rule><ID>old</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays></NoncurrentVersionExpiration></Rule><Rule><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
    });
    assert.equal(lifecycle.status, 200, lifecycle.text);
    const bucket = await t.app.inject({
      method: 'GET',
      url: '/storage/v1/b/xml-config',
      headers: bearer(t.ownerToken),
    });
    const body = bucket.json<Record<string, unknown>>();
    assert.deepEqual(body.versioning, { enabled: true });
    assert.deepEqual(body.cors, [
      {
        origin: ['https://app.example'],
        method: ['GET', 'PUT'],
        responseHeader: ['ETag'],
        maxAgeSeconds: 600,
      },
    ]);
    assert.deepEqual(body.lifecycle, {
      rule: [
        { action: { type: 'Delete' }, condition: { matchesPrefix: ['logs/'], age: 30 } },
        {
          action: { type: 'Delete' },
          condition: { matchesPrefix: ['logs/'], isLive: false, daysSinceNoncurrentTime: 7 },
        },
      ],
    });
    assert.deepEqual(texts(await s3('GET', '/xml-config?cors'), 'AllowedMethod'), ['GET', 'PUT']);
    assert.deepEqual(texts(await s3('GET', '/xml-config?lifecycle'), 'Days'), ['30']);
    const preflight = await s3('OPTIONS', '/xml-config/any', {
      headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' },
    });
    assert.equal(preflight.status, 200);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example');
    assert.equal((await s3('DELETE', '/xml-config?cors')).status, 204);
    assert.equal((await s3('DELETE', '/xml-config?lifecycle')).status, 204);
    assert.equal(codeOf(await s3('GET', '/xml-config?lifecycle')), 'NoSuchLifecycleConfiguration');
  });

  it('verifies Content-MD5 and x-amz-checksum-crc32c and keeps nothing on a mismatch', async () => {
    await s3('PUT', '/xml-digests');
    const ok = await s3('PUT', '/xml-digests/good', {
      body: 'payload',
      headers: { 'content-md5': md5Base64('payload') },
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.etag, `"${createHash('md5').update('payload').digest('hex')}"`);
    const bad = await s3('PUT', '/xml-digests/bad', {
      body: 'payload',
      headers: { 'content-md5': md5Base64('other') },
    });
    assert.equal(bad.status, 400);
    assert.equal(codeOf(bad), 'BadDigest');
    assert.equal(
      codeOf(await s3('PUT', '/xml-digests/bad', { body: 'p', headers: { 'content-md5': 'short' } })),
      'InvalidDigest',
    );
    const crc = await s3('PUT', '/xml-digests/bad', {
      body: 'payload',
      headers: { 'x-amz-checksum-crc32c': 'AAAAAA==' },
    });
    assert.equal(codeOf(crc), 'BadDigest');
    assert.equal((await s3('HEAD', '/xml-digests/bad')).status, 404);
  });

  it('applies read and write conditions', async () => {
    await s3('PUT', '/xml-conditions');
    const put = await s3('PUT', '/xml-conditions/doc', {
      body: 'v1',
      headers: { 'x-goog-meta-owner': 'ann' },
    });
    const etag = String(put.headers.etag);
    const generation = String(put.headers['x-goog-generation']);
    const got = await s3('GET', '/xml-conditions/doc', { headers: { 'x-goog-api-version': '2' } });
    assert.equal(got.headers['x-goog-meta-owner'], 'ann');
    assert.equal(
      (await s3('GET', '/xml-conditions/doc', { headers: { 'if-none-match': etag } })).status,
      304,
    );
    assert.equal(
      (await s3('GET', '/xml-conditions/doc', { headers: { 'if-match': '"other"' } })).status,
      412,
    );
    const future = new Date(Date.now() + 3600_000).toUTCString();
    const past = new Date(Date.now() - 3600_000).toUTCString();
    assert.equal(
      (await s3('GET', '/xml-conditions/doc', { headers: { 'if-modified-since': future } })).status,
      304,
    );
    assert.equal(
      (await s3('GET', '/xml-conditions/doc', { headers: { 'if-unmodified-since': past } })).status,
      412,
    );
    assert.equal(
      (await s3('GET', '/xml-conditions/doc', { headers: { 'x-goog-if-generation-match': '1' } })).status,
      412,
    );
    const stale = await s3('PUT', '/xml-conditions/doc', {
      body: 'v2',
      headers: { 'x-goog-if-generation-match': '1' },
    });
    assert.equal(codeOf(stale), 'PreconditionFailed');
    const fresh = await s3('PUT', '/xml-conditions/doc', {
      body: 'v2',
      headers: { 'x-goog-if-generation-match': generation },
    });
    assert.equal(fresh.status, 200);
    assert.equal(
      (await s3('PUT', '/xml-conditions/doc', { body: 'v3', headers: { 'if-match': etag } })).status,
      412,
    );
    const range = await s3('GET', '/xml-conditions/doc', { headers: { range: 'bytes=5-' } });
    assert.equal(range.status, 416);
    assert.equal(codeOf(range), 'InvalidRange');
    assert.equal(range.headers['content-range'], 'bytes */2');
  });

  it('lists v1 with markers, delimiters and url encoding', async () => {
    await s3('PUT', '/xml-list-v1');
    for (const key of ['a b.txt', 'dir/1', 'dir/2', 'dir2/x', 'z']) {
      await s3('PUT', `/xml-list-v1/${encodeURIComponent(key)}`, { body: key });
    }
    const first = await s3('GET', '/xml-list-v1?delimiter=/&max-keys=2');
    assert.deepEqual(texts(first, 'Key'), ['a b.txt']);
    assert.deepEqual(texts(first, 'Prefix').slice(1), ['dir/']);
    assert.deepEqual(texts(first, 'IsTruncated'), ['true']);
    const marker = texts(first, 'NextMarker')[0] ?? '';
    assert.equal(marker, 'dir/');
    const second = await s3(
      'GET',
      `/xml-list-v1?delimiter=/&max-keys=2&marker=${encodeURIComponent(marker)}`,
    );
    assert.deepEqual(texts(second, 'Prefix').slice(1), ['dir2/']);
    assert.deepEqual(texts(second, 'Key'), ['z']);
    assert.deepEqual(texts(second, 'IsTruncated'), ['false']);
    const encoded = await s3('GET', '/xml-list-v1?encoding-type=url&prefix=a');
    assert.deepEqual(texts(encoded, 'Key'), ['a%20b.txt']);
    assert.equal(codeOf(await s3('GET', '/xml-list-v1?max-keys=-1')), 'InvalidArgument');
    assert.equal(
      codeOf(await s3('GET', '/xml-list-v1?list-type=2&continuation-token=%%%')),
      'InvalidArgument',
    );
  });

  it('validates CompleteMultipartUpload: part order, ETags and the 5 MiB minimum', async () => {
    await s3('PUT', '/xml-multipart');
    const created = await s3('POST', '/xml-multipart/obj?uploads');
    const uploadId = texts(created, 'UploadId')[0] ?? '';
    const big = randomBytes(5 * MIB);
    const p1 = String(
      (await s3('PUT', `/xml-multipart/obj?partNumber=1&uploadId=${uploadId}`, { body: big })).headers.etag,
    );
    const p2 = String(
      (await s3('PUT', `/xml-multipart/obj?partNumber=2&uploadId=${uploadId}`, { body: 'tiny' })).headers
        .etag,
    );
    const p3 = String(
      (await s3('PUT', `/xml-multipart/obj?partNumber=3&uploadId=${uploadId}`, { body: 'last' })).headers
        .etag,
    );
    const complete = (parts: [number, string][]) =>
      s3('POST', `/xml-multipart/obj?uploadId=${uploadId}`, {
        body: `<CompleteMultipartUpload>${parts.map(([n, e]) => `<Part><PartNumber>${String(n)}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`,
      });
    assert.equal(
      codeOf(
        await complete([
          [2, p2],
          [1, p1],
        ]),
      ),
      'InvalidPartOrder',
    );
    assert.equal(
      codeOf(
        await complete([
          [1, p1],
          [2, '"0000"'],
        ]),
      ),
      'InvalidPart',
    );
    assert.equal(
      codeOf(
        await complete([
          [1, p1],
          [4, p3],
        ]),
      ),
      'InvalidPart',
    );
    assert.equal(
      codeOf(
        await complete([
          [1, p1],
          [2, p2],
          [3, p3],
        ]),
      ),
      'EntityTooSmall',
    );
    assert.equal(codeOf(await complete([])), 'MalformedXML');
    for (const bad of ['0', '10001', 'abc', '-1', '1.5', '']) {
      const answer = await s3('PUT', `/xml-multipart/obj?partNumber=${bad}&uploadId=${uploadId}`, {
        body: 'x',
      });
      assert.equal(answer.status, 400, `partNumber=${bad}`);
      assert.equal(codeOf(answer), 'InvalidArgument');
    }
    assert.equal(
      codeOf(await s3('PUT', '/xml-multipart/obj?partNumber=1&uploadId=nope', { body: 'x' })),
      'NoSuchUpload',
    );
    const done = await complete([
      [1, p1],
      [3, p3],
    ]);
    assert.equal(done.status, 200, done.text);
    const object = await t.app.inject({
      method: 'GET',
      url: '/storage/v1/b/xml-multipart/o/obj',
      headers: bearer(t.ownerToken),
    });
    assert.equal(object.json<{ componentCount: number }>().componentCount, 2);
    assert.equal(object.json<{ size: string }>().size, String(big.length + 4));
    assert.equal(codeOf(await s3('DELETE', `/xml-multipart/obj?uploadId=${uploadId}`)), 'NoSuchUpload');
  });

  it('stores tags from x-amz-tagging and the tagging sub-resource', async () => {
    await s3('PUT', '/xml-tags');
    await s3('PUT', '/xml-tags/t', { body: 'x', headers: { 'x-amz-tagging': 'a=1&b=two%20words' } });
    const tagged = await s3('GET', '/xml-tags/t?tagging');
    assert.deepEqual(texts(tagged, 'Key'), ['a', 'b']);
    assert.deepEqual(texts(tagged, 'Value'), ['1', 'two words']);
    assert.equal((await s3('HEAD', '/xml-tags/t')).headers['x-amz-tagging-count'], '2');
    const tooMany = Array.from(
      { length: 11 },
      (_, i) => `<Tag><Key>k${String(i)}</Key><Value>v</Value></Tag>`,
    ).join('');
    assert.equal(
      codeOf(
        await s3('PUT', '/xml-tags/t?tagging', { body: `<Tagging><TagSet>${tooMany}</TagSet></Tagging>` }),
      ),
      'InvalidTag',
    );
    assert.equal((await s3('DELETE', '/xml-tags/t?tagging')).status, 204);
    assert.deepEqual(texts(await s3('GET', '/xml-tags/t?tagging'), 'Key'), []);
  });

  it('refuses credentials it cannot verify and enforces IAM on bearer tokens', async () => {
    await s3('PUT', '/xml-auth');
    await s3('PUT', '/xml-auth/o', { body: 'secret' });
    const unknown = await s3('GET', '/xml-auth/o', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assert.equal(unknown.status, 403);
    assert.equal(codeOf(unknown), 'AccessDenied');
    assert.equal(
      (await s3('GET', '/xml-auth/o', { headers: { authorization: 'Bearer not-a-token' } })).status,
      401,
    );
    // A viewer (by project IAM) may read but not write.
    const account = await t.app.inject({
      method: 'POST',
      url: `/v1/projects/${PROJECT}/serviceAccounts`,
      headers: bearer(t.ownerToken),
      payload: { accountId: 'xml-viewer' },
    });
    const email = account.json<{ email: string }>().email;
    const policy = await t.app.inject({
      method: 'POST',
      url: `/v1/projects/${PROJECT}:getIamPolicy`,
      headers: bearer(t.ownerToken),
      payload: {},
    });
    const granted = await t.app.inject({
      method: 'POST',
      url: `/v1/projects/${PROJECT}:setIamPolicy`,
      headers: bearer(t.ownerToken),
      payload: {
        policy: {
          bindings: withBinding(policy.json(), 'roles/storage.objectViewer', `serviceAccount:${email}`),
          etag: policy.json<{ etag: string }>().etag,
        },
      },
    });
    assert.equal(granted.statusCode, 200, granted.body);
    const token = t.platform.tokens.issueAccessToken({
      kind: 'serviceAccount',
      email,
      member: `serviceAccount:${email}`,
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    }).accessToken;
    assert.equal((await s3('GET', '/xml-auth/o', { headers: bearer(token) })).text, 'secret');
    const write = await s3('PUT', '/xml-auth/o', { headers: bearer(token), body: 'overwritten' });
    assert.equal(write.status, 403);
    assert.equal(codeOf(write), 'AccessDenied');
    assert.equal((await s3('GET', '/xml-auth/o')).text, 'secret');
  });

  it('never answers bad input with a 5xx', async () => {
    await s3('PUT', '/xml-fuzz');
    await s3('PUT', '/xml-fuzz/keep', { body: 'kept' });
    const documents = [
      '',
      '<',
      '<Delete>',
      '<Delete><Object><Key>k</Key></Object>',
      '<Delete><Object></Object></Delete>',
      '<?xml version="1.0"?><Wrong/>',
      '<Delete>&bogus;</Delete>',
      '<Delete><Object><Key>a</Key></Object></Delete><Extra/>',
      '<a>'.repeat(100) + '</a>'.repeat(100),
      Buffer.from([0xff, 0xfe, 0x00, 0x3c]).toString('latin1'),
      '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>',
    ];
    const targets: [string, string][] = [
      ['POST', '/xml-fuzz?delete'],
      ['PUT', '/xml-fuzz?versioning'],
      ['PUT', '/xml-fuzz?cors'],
      ['PUT', '/xml-fuzz?lifecycle'],
      ['PUT', '/xml-fuzz/keep?tagging'],
      ['POST', '/xml-fuzz/keep?uploadId=nope'],
      ['PUT', '/xml-fuzz-new'],
    ];
    for (const [method, path] of targets) {
      for (const body of documents) {
        const answer = await s3(method, path, { body });
        assert.ok(
          answer.status < 500,
          `${method} ${path} ${JSON.stringify(body)} -> ${String(answer.status)} ${answer.text}`,
        );
      }
    }
    const odd: [string, string, Record<string, string>][] = [
      ['GET', '/xml-fuzz/%E0%A4%A', {}],
      ['GET', '/xml-fuzz/keep?versionId=abc', {}],
      ['GET', '/xml-fuzz/keep', { 'x-goog-if-generation-match': 'NaN' }],
      ['PUT', '/xml-fuzz/copy', { 'x-amz-copy-source': 'nonsense' }],
      ['PUT', '/xml-fuzz/copy', { 'x-amz-copy-source': '/xml-fuzz/missing' }],
      ['PUT', '/xml-fuzz/copy', { 'x-amz-copy-source': '/%ZZ/x' }],
      ['PUT', '/xml-fuzz/k2', { 'x-amz-storage-class': 'PLATINUM' }],
      ['PUT', '/xml-fuzz/k2', { 'x-amz-tagging': 'a=1&a=2' }],
      ['PUT', '/xml-fuzz/k2', { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': '4' }],
      ['GET', '/xml-fuzz?list-type=2&max-keys=99999999999999999999', {}],
      ['GET', '/xml-fuzz?uploads&max-uploads=x', {}],
      ['GET', '/xml-fuzz?versions&version-id-marker=x&key-marker=a', {}],
      ['GET', '/xml-fuzz?encoding-type=base64', {}],
      ['GET', `/xml-fuzz/${'k'.repeat(3000)}`, {}],
      ['PATCH', '/xml-fuzz/keep', {}],
      ['POST', '/xml-fuzz', {}],
      ['GET', '/xml-fuzz?policy', {}],
      ['PUT', '/xml-fuzz/k3', { 'x-amz-meta-big': 'v'.repeat(20_000) }],
    ];
    for (const [method, path, headers] of odd) {
      const answer = await s3(method, path, { headers, body: method === 'PUT' ? 'body' : undefined });
      assert.ok(
        (answer.status >= 400 && answer.status < 500) || answer.status === 501,
        `${method} ${path} ${JSON.stringify(headers).slice(0, 80)} -> ${String(answer.status)} ${answer.text}`,
      );
    }
    // A Range header S3 cannot parse is ignored: the whole object.
    assert.equal((await s3('GET', '/xml-fuzz/keep', { headers: { range: 'bytes=abc' } })).text, 'kept');
  });
});
