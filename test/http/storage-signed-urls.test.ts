/**
 * Cloud Storage signed URLs made by the official Node client (`file.getSignedUrl`) with a key that
 * Nimbus issued (IAM `keys.create`), fetched from the XML face: virtual-hosted style on the main
 * port (`cname: http://BUCKET.localhost:PORT`, the client signs the host without its port) and
 * path-style on the XML face's own port (`apiEndpoint` = `AWS_ENDPOINT_URL_S3` from /_nimbus/env).
 * The server runs on a ManualClock; the client signs with `accessibleAt` = that clock's time.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Storage } from '@google-cloud/storage';
import { ManualClock } from '../../src/core/clock.ts';
import { startXmlPort } from '../../src/services/storage/xml/index.ts';
import {
  canonicalQueryString,
  v4CanonicalRequest,
  v4HmacSigningKey,
  v4StringToSign,
} from '../../src/services/storage/xml/signed-urls.ts';
import { bearer, startTestServer, type TestApp, withBinding } from '../helpers.ts';

process.env.METADATA_SERVER_DETECTION = 'none';

const PROJECT = 'nimbus-local';
const BUCKET = 'signed-url-bucket';
const CONTENT = Buffer.from('signed bytes \u00e9\n');

type Server = TestApp & { url: string; port: number };

interface KeyFile {
  client_email: string;
  private_key: string;
  private_key_id: string;
}

interface Reply {
  status: number;
  body: Buffer;
  headers: Record<string, string | string[] | undefined>;
}

/** Sends a request to 127.0.0.1 with the URL's Host header (so `*.localhost` needs no resolver). */
function send(
  url: string,
  method = 'GET',
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: target.port,
        method,
        path: `${target.pathname}${target.search}`,
        headers: {
          host: target.host,
          ...headers,
          ...(body === undefined ? {} : { 'content-length': String(body.length) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function api(server: Server, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      ...bearer(server.ownerToken),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

async function createKey(server: Server, accountId: string): Promise<KeyFile> {
  const account = await api(server, 'POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId });
  assert.equal(account.status, 200, JSON.stringify(account.body));
  const email = String(account.body.email);
  const key = await api(server, 'POST', `/v1/projects/${PROJECT}/serviceAccounts/${email}/keys`, {});
  assert.equal(key.status, 200, JSON.stringify(key.body));
  return JSON.parse(Buffer.from(String(key.body.privateKeyData), 'base64').toString('utf8')) as KeyFile;
}

function errorCode(reply: Reply): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(reply.body.toString('utf8'))?.[1];
}

function tamper(url: string): string {
  return url.replace(
    /(X-Goog-Signature=)([0-9a-f])/,
    (_all, prefix: string, digit: string) => prefix + (digit === '0' ? '1' : '0'),
  );
}

describe('signed URLs from the Node client', () => {
  let server: Server;
  let clock: ManualClock;
  let signer: KeyFile;
  let outsider: KeyFile;
  let s3Endpoint: string;

  const storageFor = (key: KeyFile, apiEndpoint: string) =>
    new Storage({
      projectId: PROJECT,
      apiEndpoint,
      credentials: { client_email: key.client_email, private_key: key.private_key },
    });

  before(async () => {
    clock = new ManualClock(Date.now());
    server = await startTestServer({}, clock);
    signer = await createKey(server, 'url-signer');
    outsider = await createKey(server, 'url-outsider');
    const policy = await api(server, 'POST', `/v1/projects/${PROJECT}:getIamPolicy`, {});
    const current = policy.body as { bindings?: { role: string; members: string[] }[]; etag?: string };
    const set = await api(server, 'POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: {
        bindings: withBinding(current, 'roles/storage.objectAdmin', `serviceAccount:${signer.client_email}`),
        etag: current.etag,
      },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(
      (await api(server, 'POST', `/storage/v1/b?project=${PROJECT}`, { name: BUCKET })).status,
      200,
    );
    const upload = await fetch(
      `${server.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=dir/hello.txt`,
      {
        method: 'POST',
        headers: { ...bearer(server.ownerToken), 'content-type': 'text/plain' },
        body: CONTENT,
      },
    );
    assert.equal(upload.status, 200);
    // The XML face's own port (main.ts starts it after listening; test servers start it here).
    if (server.platform.config.s3Port === undefined) {
      server.platform.config.s3Port = 0; // any free port, never a fixed one in tests
      await startXmlPort(server.platform);
    }
    const env = (await (
      await fetch(`${server.url}/_nimbus/env`, { headers: bearer(server.ownerToken) })
    ).json()) as Record<string, string>;
    s3Endpoint = env.AWS_ENDPOINT_URL_S3 ?? '';
  });

  after(async () => {
    await server.dispose();
  });

  it('a V4 read URL (virtual-hosted) returns the bytes', async () => {
    const [url] = await storageFor(signer, server.url)
      .bucket(BUCKET)
      .file('dir/hello.txt')
      .getSignedUrl({
        version: 'v4',
        action: 'read',
        accessibleAt: clock.now(),
        expires: clock.now() + 10 * 60 * 1000,
        cname: `http://${BUCKET}.localhost:${String(server.port)}`,
      });
    assert.match(url, /X-Goog-Algorithm=GOOG4-RSA-SHA256/);
    const reply = await send(url);
    assert.equal(reply.status, 200, reply.body.toString());
    assert.deepEqual(reply.body, CONTENT);
  });

  it('a V4 read URL (path-style on the XML port) returns the bytes', async () => {
    assert.match(s3Endpoint, /^http:\/\/127\.0\.0\.1:\d+/);
    const [url] = await storageFor(signer, s3Endpoint)
      .bucket(BUCKET)
      .file('dir/hello.txt')
      .getSignedUrl({
        version: 'v4',
        action: 'read',
        accessibleAt: clock.now(),
        expires: clock.now() + 10 * 60 * 1000,
      });
    assert.ok(url.startsWith(`${s3Endpoint}/${BUCKET}/dir/hello.txt?`), url);
    const reply = await send(url);
    assert.equal(reply.status, 200, reply.body.toString());
    assert.deepEqual(reply.body, CONTENT);
  });

  it('a V4 write URL stores the object; the JSON API reads the same bytes', async () => {
    const [url] = await storageFor(signer, server.url)
      .bucket(BUCKET)
      .file('uploaded.bin')
      .getSignedUrl({
        version: 'v4',
        action: 'write',
        accessibleAt: clock.now(),
        expires: clock.now() + 10 * 60 * 1000,
        contentType: 'application/octet-stream',
        cname: `http://${BUCKET}.localhost:${String(server.port)}`,
      });
    const bytes = Buffer.from([0, 1, 2, 3, 255, 254]);
    const put = await send(url, 'PUT', bytes, { 'content-type': 'application/octet-stream' });
    assert.equal(put.status, 200, put.body.toString());
    const read = await fetch(`${server.url}/storage/v1/b/${BUCKET}/o/uploaded.bin?alt=media`, {
      headers: bearer(server.ownerToken),
    });
    assert.equal(read.status, 200);
    assert.deepEqual(Buffer.from(await read.arrayBuffer()), bytes);
  });

  it('a V2 read URL returns the bytes', async () => {
    const [url] = await storageFor(signer, server.url)
      .bucket(BUCKET)
      .file('dir/hello.txt')
      .getSignedUrl({
        version: 'v2',
        action: 'read',
        accessibleAt: clock.now(),
        expires: clock.now() + 10 * 60 * 1000,
        cname: `http://${BUCKET}.localhost:${String(server.port)}`,
      });
    assert.match(url, /GoogleAccessId=/);
    const reply = await send(url);
    assert.equal(reply.status, 200, reply.body.toString());
    assert.deepEqual(reply.body, CONTENT);
  });

  it('refuses a tampered URL, another object, another method, and an expired URL', async () => {
    const [url] = await storageFor(signer, server.url)
      .bucket(BUCKET)
      .file('dir/hello.txt')
      .getSignedUrl({
        version: 'v4',
        action: 'read',
        accessibleAt: clock.now(),
        expires: clock.now() + 60 * 1000,
        cname: `http://${BUCKET}.localhost:${String(server.port)}`,
      });
    const tampered = await send(tamper(url));
    assert.equal(tampered.status, 403);
    assert.equal(errorCode(tampered), 'SignatureDoesNotMatch');

    const otherObject = await send(url.replace('/dir/hello.txt?', '/uploaded.bin?'));
    assert.equal(otherObject.status, 403);
    assert.equal(errorCode(otherObject), 'SignatureDoesNotMatch');

    const deleted = await send(url, 'DELETE');
    assert.equal(deleted.status, 403);
    assert.equal(errorCode(deleted), 'SignatureDoesNotMatch');
    const still = await api(server, 'GET', `/storage/v1/b/${BUCKET}/o/dir%2Fhello.txt`);
    assert.equal(still.status, 200);

    clock.advance(61 * 1000);
    const expired = await send(url);
    assert.equal(expired.status, 400);
    assert.equal(errorCode(expired), 'ExpiredToken');
  });

  it('the signer is the principal: an account without storage roles is denied', async () => {
    const [url] = await storageFor(outsider, server.url)
      .bucket(BUCKET)
      .file('dir/hello.txt')
      .getSignedUrl({
        version: 'v4',
        action: 'read',
        accessibleAt: clock.now(),
        expires: clock.now() + 60 * 1000,
        cname: `http://${BUCKET}.localhost:${String(server.port)}`,
      });
    const reply = await send(url);
    assert.equal(reply.status, 403);
    assert.equal(errorCode(reply), 'AccessDenied');
  });

  it('a disabled key no longer verifies', async () => {
    const [url] = await storageFor(signer, server.url)
      .bucket(BUCKET)
      .file('dir/hello.txt')
      .getSignedUrl({
        version: 'v4',
        action: 'read',
        accessibleAt: clock.now(),
        expires: clock.now() + 60 * 1000,
        cname: `http://${BUCKET}.localhost:${String(server.port)}`,
      });
    assert.equal((await send(url)).status, 200);
    const keyName = `/v1/projects/${PROJECT}/serviceAccounts/${signer.client_email}/keys/${signer.private_key_id}`;
    assert.equal((await api(server, 'POST', `${keyName}:disable`, {})).status, 200);
    const reply = await send(url);
    assert.equal(reply.status, 403);
    assert.equal((await api(server, 'POST', `${keyName}:enable`, {})).status, 200);
  });

  it('a V4 POST policy form from generateSignedPostPolicyV4 uploads through the XML face', async () => {
    const [{ fields }] = await storageFor(signer, server.url)
      .bucket(BUCKET)
      .file('forms/${filename}')
      .generateSignedPostPolicyV4({
        expires: clock.now() + 10 * 60 * 1000,
        fields: { 'x-goog-meta-source': 'form', success_action_status: '201' },
        conditions: [['content-length-range', 1, 1024]],
      });
    const postForm = (file: Buffer, overrides: Record<string, string> = {}) => {
      const form = new FormData();
      for (const [name, value] of Object.entries({ ...fields, ...overrides })) {
        form.append(name, value);
      }
      form.append('file', new Blob([new Uint8Array(file)], { type: 'text/csv' }), 'report.csv');
      return fetch(`${s3Endpoint}/${BUCKET}`, { method: 'POST', body: form });
    };
    const bytes = Buffer.from('a,b\n1,2\n');
    const res = await postForm(bytes);
    const body = await res.text();
    assert.equal(res.status, 201, body);
    assert.match(body, /<Key>forms\/report\.csv<\/Key>/);
    const stored = await api(
      server,
      'GET',
      `/storage/v1/b/${BUCKET}/o/${encodeURIComponent('forms/report.csv')}`,
    );
    assert.equal(stored.status, 200);
    assert.equal(stored.body.size, String(bytes.length));
    assert.equal(stored.body.contentType, 'text/csv');
    assert.deepEqual(stored.body.metadata, { source: 'form' });

    const tooBig = await postForm(Buffer.alloc(2048));
    assert.equal(tooBig.status, 400);
    assert.match(await tooBig.text(), /<Code>EntityTooLarge<\/Code>/);
    const tampered = await postForm(bytes, { 'x-goog-meta-source': 'forged' });
    assert.equal(tampered.status, 403);
    clock.advance(11 * 60 * 1000);
    const expired = await postForm(bytes);
    assert.equal(expired.status, 403);
    assert.match(await expired.text(), /Policy expired/);
  });

  it('a V2 POST policy (generateSignedPostPolicyV2) uploads as the signer', async () => {
    const [policy] = await storageFor(signer, server.url)
      .bucket(BUCKET)
      .file('v2-form.txt')
      .generateSignedPostPolicyV2({ expires: clock.now() + 10 * 60 * 1000 });
    const form = new FormData();
    form.append('key', 'v2-form.txt');
    form.append('GoogleAccessId', signer.client_email);
    form.append('policy', policy.base64);
    form.append('signature', policy.signature);
    form.append('file', new Blob(['v2 body']), 'x.txt');
    const res = await fetch(`${s3Endpoint}/${BUCKET}`, { method: 'POST', body: form });
    assert.equal(res.status, 204, await res.clone().text());
    const read = await fetch(`${server.url}/storage/v1/b/${BUCKET}/o/v2-form.txt?alt=media`, {
      headers: bearer(server.ownerToken),
    });
    assert.equal(await read.text(), 'v2 body');
  });

  it('answers malformed signed-URL parameters with a 4xx S3 error, never a 5xx', async () => {
    const credential = encodeURIComponent(`${signer.client_email}/20260101/auto/storage/goog4_request`);
    const v4 = `X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=${credential}&X-Goog-SignedHeaders=host`;
    const queries = [
      'X-Goog-Algorithm=GOOG4-RSA-SHA256',
      `${v4}&X-Goog-Date=20261399T999999Z&X-Goog-Expires=60&X-Goog-Signature=00`,
      `${v4}&X-Goog-Date=20260101T000000Z&X-Goog-Expires=9999999&X-Goog-Signature=00`,
      `${v4}&X-Goog-Date=20260101T000000Z&X-Goog-Expires=60&X-Goog-Signature=${'f'.repeat(8000)}`,
      `X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=%ZZ%E0&X-Goog-Date=20260101T000000Z&X-Goog-Expires=60&X-Goog-SignedHeaders=host&X-Goog-Signature=00`,
      `X-Goog-Algorithm=RSA-MD5&X-Goog-Credential=${credential}&X-Goog-Date=20260101T000000Z&X-Goog-Expires=60&X-Goog-SignedHeaders=host&X-Goog-Signature=00`,
      'GoogleAccessId=nobody%40x.iam.gserviceaccount.com&Expires=abc&Signature=!!!',
      'GoogleAccessId=nobody%40x.iam.gserviceaccount.com&Expires=99999999999&Signature=AAAA',
      `GoogleAccessId=${encodeURIComponent(signer.client_email)}&Expires=99999999999&Signature=${'A'.repeat(344)}`,
    ];
    for (const query of queries) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const reply = await send(
          `${s3Endpoint}/${BUCKET}/dir/hello.txt?${query}`,
          method,
          method === 'PUT' ? Buffer.from('x') : undefined,
        );
        assert.ok(
          reply.status >= 400 && reply.status < 500,
          `${method} ${query.slice(0, 80)}: ${String(reply.status)}`,
        );
        assert.ok(errorCode(reply) !== undefined, `${method} ${query.slice(0, 80)}: no S3 error code`);
      }
    }
    const still = await fetch(`${server.url}/storage/v1/b/${BUCKET}/o/dir%2Fhello.txt?alt=media`, {
      headers: bearer(server.ownerToken),
    });
    assert.deepEqual(Buffer.from(await still.arrayBuffer()), CONTENT);
  });

  it('HMAC keys sign V4 (GOOG4-HMAC-SHA256) and V2 URLs for their service account', async () => {
    const created = await api(
      server,
      'POST',
      `/storage/v1/projects/${PROJECT}/hmacKeys?serviceAccountEmail=${encodeURIComponent(signer.client_email)}`,
    );
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const accessId = (created.body.metadata as { accessId: string }).accessId;
    const secret = String(created.body.secret);
    const host = `${BUCKET}.localhost:${String(server.port)}`;
    const path = '/dir/hello.txt';

    // V4, as Google's docs define it for HMAC keys (signing key from "GOOG4" + secret).
    const timestamp = new Date(clock.now())
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const scope = `${timestamp.slice(0, 8)}/auto/storage/goog4_request`;
    const query: [string, string][] = [
      ['X-Goog-Algorithm', 'GOOG4-HMAC-SHA256'],
      ['X-Goog-Credential', `${accessId}/${scope}`],
      ['X-Goog-Date', timestamp],
      ['X-Goog-Expires', '300'],
      ['X-Goog-SignedHeaders', 'host'],
    ];
    const canonical = v4CanonicalRequest({
      method: 'GET',
      path,
      query,
      headers: new Map([['host', host]]),
      payloadHash: 'UNSIGNED-PAYLOAD',
    });
    const signingKey = v4HmacSigningKey(
      secret,
      'GOOG4',
      timestamp.slice(0, 8),
      'auto',
      'storage',
      'goog4_request',
    );
    const signature = createHmac('sha256', signingKey)
      .update(v4StringToSign('GOOG4-HMAC-SHA256', timestamp, scope, canonical))
      .digest('hex');
    const v4 = await send(
      `http://${host}${path}?${canonicalQueryString(query)}&X-Goog-Signature=${signature}`,
    );
    assert.equal(v4.status, 200, v4.body.toString());
    assert.deepEqual(v4.body, CONTENT);

    // V2 with an HMAC key: base64 HMAC-SHA1 over the V2 string to sign.
    const expires = String(Math.floor(clock.now() / 1000) + 300);
    const v2Signature = createHmac('sha1', secret)
      .update(`GET\n\n\n${expires}\n/${BUCKET}${path}`)
      .digest('base64');
    const v2Url = `http://${host}${path}?GoogleAccessId=${accessId}&Expires=${expires}&Signature=${encodeURIComponent(v2Signature)}`;
    const v2 = await send(v2Url);
    assert.equal(v2.status, 200, v2.body.toString());
    const wrongMethod = await send(v2Url, 'DELETE');
    assert.equal(wrongMethod.status, 403);
  });
});
