/**
 * Bucket CORS: the `cors` field on buckets.insert/patch, preflights and actual requests on object
 * reads and uploads, and control APIs that still refuse cross-origin mutations and send no CORS
 * headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'cors-main';
const OPEN = 'cors-open';
const PLAIN = 'cors-none';
const APP_ORIGIN = 'http://app.example:3000';
const EVIL = 'http://evil.example';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

const RULES = [
  {
    origin: [APP_ORIGIN],
    method: ['GET', 'HEAD', 'POST', 'PUT'],
    responseHeader: ['Content-Type', 'x-goog-generation'],
    maxAgeSeconds: 3600,
  },
];

function corsHeaders(res: LightMyRequestResponse): string[] {
  return Object.keys(res.headers).filter((name) => name.startsWith('access-control-'));
}

describe('Cloud Storage bucket CORS', () => {
  let t: TestApp;

  const call = (
    method: Method,
    url: string,
    headers: Record<string, string> = {},
    payload?: string | Buffer | object,
  ): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url,
      headers: { ...bearer(t.ownerToken), ...headers },
      ...(payload === undefined ? {} : { payload }),
    });

  const upload = (bucket: string, name: string, headers: Record<string, string> = {}) =>
    call(
      'POST',
      `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
      { 'content-type': 'text/plain', ...headers },
      'hello cors',
    );

  before(async () => {
    t = await startTestApp();
    for (const body of [
      { name: BUCKET, cors: RULES },
      { name: OPEN, cors: [{ origin: ['*'], method: ['GET'] }] },
      { name: PLAIN },
    ]) {
      const res = await call('POST', `/storage/v1/b?project=${PROJECT}`, {}, body);
      assert.equal(res.statusCode, 200, res.body);
    }
    for (const bucket of [BUCKET, OPEN, PLAIN]) {
      assert.equal((await upload(bucket, 'a.txt')).statusCode, 200);
    }
  });
  after(async () => {
    await t.dispose();
  });

  describe('bucket resource', () => {
    it('stores and prints cors on insert, replaces it on patch and removes it with []', async () => {
      const got = await call('GET', `/storage/v1/b/${BUCKET}`);
      assert.deepEqual(got.json<Json>().cors, RULES);

      const name = 'cors-patched';
      assert.equal((await call('POST', `/storage/v1/b?project=${PROJECT}`, {}, { name })).statusCode, 200);
      assert.equal((await call('GET', `/storage/v1/b/${name}`)).json<Json>().cors, undefined);
      const rules = [{ origin: ['*'], method: ['GET'], responseHeader: [], maxAgeSeconds: 60 }];
      const patched = await call('PATCH', `/storage/v1/b/${name}`, {}, { cors: rules });
      assert.equal(patched.statusCode, 200, patched.body);
      // Empty lists are not printed, as on Google.
      assert.deepEqual(patched.json<Json>().cors, [{ origin: ['*'], method: ['GET'], maxAgeSeconds: 60 }]);
      assert.equal(patched.json<Json>().metageneration, '2');
      const labelsOnly = await call('PATCH', `/storage/v1/b/${name}`, {}, { labels: { a: 'b' } });
      assert.deepEqual(labelsOnly.json<Json>().cors, [{ origin: ['*'], method: ['GET'], maxAgeSeconds: 60 }]);
      const cleared = await call('PATCH', `/storage/v1/b/${name}`, {}, { cors: [] });
      assert.equal(cleared.json<Json>().cors, undefined);
      assert.equal((await call('GET', `/storage/v1/b/${name}`)).json<Json>().cors, undefined);
    });

    it('rejects malformed cors rules with 400', async () => {
      for (const cors of [
        [{ origin: 'http://a.example' }],
        [{ origin: ['x'], methods: ['GET'] }],
        [{ maxAgeSeconds: 'soon' }],
        { origin: ['x'] },
      ]) {
        const res = await call('PATCH', `/storage/v1/b/${BUCKET}`, {}, { cors });
        assert.equal(res.statusCode, 400, JSON.stringify(cors));
        assert.equal(res.json<{ error: { status: string } }>().error.status, 'INVALID_ARGUMENT');
      }
      assert.deepEqual((await call('GET', `/storage/v1/b/${BUCKET}`)).json<Json>().cors, RULES);
    });
  });

  describe('preflight', () => {
    const preflight = (url: string, origin: string, method: string, extra: Record<string, string> = {}) =>
      t.app.inject({
        method: 'OPTIONS',
        url,
        headers: { origin, 'access-control-request-method': method, ...extra },
      });

    it('answers a matching preflight on object reads and uploads with the rule', async () => {
      for (const url of [
        `/storage/v1/b/${BUCKET}/o/a.txt`,
        `/b/${BUCKET}/o/a.txt`,
        `/download/storage/v1/b/${BUCKET}/o/a.txt`,
        `/upload/storage/v1/b/${BUCKET}/o`,
        `/resumable/upload/storage/v1/b/${BUCKET}/o`,
      ]) {
        const res = await preflight(url, APP_ORIGIN, 'PUT', {
          'access-control-request-headers': 'content-type',
        });
        assert.equal(res.statusCode, 200, url);
        assert.equal(res.headers['access-control-allow-origin'], APP_ORIGIN, url);
        assert.equal(res.headers['access-control-allow-methods'], 'GET, HEAD, POST, PUT');
        assert.equal(res.headers['access-control-allow-headers'], 'Content-Type, x-goog-generation');
        assert.equal(res.headers['access-control-max-age'], '3600');
        assert.match(String(res.headers.vary), /Origin/);
      }
    });

    it('answers `*` for a wildcard origin', async () => {
      const res = await preflight(`/storage/v1/b/${OPEN}/o/a.txt`, 'http://any.example', 'GET');
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.equal(res.headers['access-control-allow-methods'], 'GET');
      assert.equal(res.headers['access-control-max-age'], undefined);
    });

    it('answers 200 without CORS headers when no rule matches', async () => {
      const url = `/storage/v1/b/${BUCKET}/o/a.txt`;
      for (const res of [
        await preflight(url, EVIL, 'GET'),
        await preflight(url, APP_ORIGIN, 'DELETE'),
        await preflight(`/storage/v1/b/${OPEN}/o/a.txt`, APP_ORIGIN, 'PUT'),
        await preflight(`/storage/v1/b/${PLAIN}/o/a.txt`, APP_ORIGIN, 'GET'),
        await preflight('/storage/v1/b/no-such-bucket-cors/o/a.txt', APP_ORIGIN, 'GET'),
        await t.app.inject({ method: 'OPTIONS', url, headers: { origin: APP_ORIGIN } }),
      ]) {
        assert.equal(res.statusCode, 200);
        assert.deepEqual(corsHeaders(res), []);
      }
    });
  });

  describe('actual requests', () => {
    it('adds Allow-Origin, Expose-Headers and Vary on matching object reads', async () => {
      for (const url of [
        `/storage/v1/b/${BUCKET}/o/a.txt?alt=media`,
        `/storage/v1/b/${BUCKET}/o/a.txt`,
        `/download/storage/v1/b/${BUCKET}/o/a.txt?alt=media`,
      ]) {
        const res = await call('GET', url, { origin: APP_ORIGIN });
        assert.equal(res.statusCode, 200, url);
        assert.equal(res.headers['access-control-allow-origin'], APP_ORIGIN, url);
        assert.equal(res.headers['access-control-expose-headers'], 'Content-Type, x-goog-generation');
        assert.match(String(res.headers.vary), /Origin/);
      }
      const media = await call('GET', `/storage/v1/b/${BUCKET}/o/a.txt?alt=media`, { origin: APP_ORIGIN });
      assert.equal(media.body, 'hello cors');
      const open = await call('GET', `/storage/v1/b/${OPEN}/o/a.txt?alt=media`, {
        origin: 'http://x.example',
      });
      assert.equal(open.headers['access-control-allow-origin'], '*');
      assert.equal(open.headers['access-control-expose-headers'], undefined);
    });

    it('adds CORS headers to errors on object routes too (the page can read them)', async () => {
      const res = await call('GET', `/storage/v1/b/${BUCKET}/o/missing.txt`, { origin: APP_ORIGIN });
      assert.equal(res.statusCode, 404);
      assert.equal(res.headers['access-control-allow-origin'], APP_ORIGIN);
    });

    it('serves reads from other origins without CORS headers (the browser blocks them)', async () => {
      for (const [bucket, origin] of [
        [BUCKET, EVIL],
        [PLAIN, APP_ORIGIN],
      ] as const) {
        const res = await call('GET', `/storage/v1/b/${bucket}/o/a.txt?alt=media`, { origin });
        assert.equal(res.statusCode, 200);
        assert.deepEqual(corsHeaders(res), []);
      }
    });

    it('accepts cross-origin uploads a rule allows, and refuses others with 403', async () => {
      const ok = await upload(BUCKET, 'from-app.txt', { origin: APP_ORIGIN });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.headers['access-control-allow-origin'], APP_ORIGIN);
      assert.equal(ok.json<Json>().name, 'from-app.txt');

      for (const [bucket, origin] of [
        [BUCKET, EVIL],
        [OPEN, EVIL],
        [PLAIN, APP_ORIGIN],
        [BUCKET, 'null'],
      ] as const) {
        const res = await upload(bucket, 'evil.txt', { origin });
        assert.equal(res.statusCode, 403, `${bucket} ${origin}`);
        assert.match(res.json<{ error: { message: string } }>().error.message, /CORS/);
        assert.equal(res.headers['access-control-allow-origin'], undefined);
        const sec = await upload(bucket, 'evil.txt', { 'sec-fetch-site': 'cross-site' });
        assert.equal(sec.statusCode, 403);
      }
      // A rule allows POST but not DELETE: a cross-origin resumable cancel is refused.
      const cancel = await call('DELETE', `/upload/storage/v1/b/${BUCKET}/o?upload_id=x`, {
        origin: APP_ORIGIN,
      });
      assert.equal(cancel.statusCode, 403);
      for (const bucket of [BUCKET, OPEN, PLAIN]) {
        const missing = await call('GET', `/storage/v1/b/${bucket}/o/evil.txt`);
        assert.equal(missing.statusCode, 404, bucket);
      }
      // Same-origin and non-browser uploads are unaffected.
      const same = await upload(PLAIN, 'same.txt', {
        origin: 'http://localhost:8080',
        host: 'localhost:8080',
      });
      assert.equal(same.statusCode, 200, same.body);
    });

    it('runs a cross-origin resumable upload allowed by the rule', async () => {
      const start = await call(
        'POST',
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=resumable.txt`,
        { origin: APP_ORIGIN, 'content-type': 'application/json' },
        '{}',
      );
      assert.equal(start.statusCode, 200, start.body);
      const location = new URL(String(start.headers.location));
      const put = await call('PUT', `${location.pathname}${location.search}`, { origin: APP_ORIGIN }, 'abc');
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(put.headers['access-control-allow-origin'], APP_ORIGIN);
      assert.equal(put.json<Json>().size, '3');
    });
  });

  describe('control APIs', () => {
    it('keep refusing cross-origin mutations and never send CORS headers, whatever the bucket says', async () => {
      for (const [method, url, payload] of [
        ['PATCH', `/storage/v1/b/${OPEN}`, { labels: { x: 'y' } }],
        ['POST', `/storage/v1/b?project=${PROJECT}`, { name: 'cors-evil' }],
        ['DELETE', `/storage/v1/b/${OPEN}/o/a.txt`, undefined],
        ['PATCH', `/storage/v1/b/${BUCKET}/o/a.txt`, { metadata: { x: 'y' } }],
        ['PUT', `/storage/v1/b/${BUCKET}/iam`, { bindings: [] }],
      ] as const) {
        const res = await call(method, url, { origin: APP_ORIGIN }, payload);
        assert.equal(res.statusCode, 403, `${method} ${url}`);
        assert.match(res.json<{ error: { message: string } }>().error.message, /Cross-origin/);
        assert.deepEqual(corsHeaders(res), []);
      }
      for (const url of [
        `/storage/v1/b/${BUCKET}`,
        `/storage/v1/b/${BUCKET}/o`,
        `/storage/v1/b?project=${PROJECT}`,
      ]) {
        const get = await call('GET', url, { origin: APP_ORIGIN });
        assert.equal(get.statusCode, 200, url);
        assert.deepEqual(corsHeaders(get), [], url);
        const options = await t.app.inject({
          method: 'OPTIONS',
          url,
          headers: { origin: APP_ORIGIN, 'access-control-request-method': 'GET' },
        });
        assert.ok(options.statusCode < 500, url);
        assert.deepEqual(corsHeaders(options), [], url);
      }
      assert.equal((await call('GET', `/storage/v1/b/${BUCKET}/o/a.txt`)).json<Json>().metadata, undefined);
    });
  });
});
