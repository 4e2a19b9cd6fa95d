/**
 * Decompressive transcoding: objects stored with `contentEncoding: gzip` are served decompressed
 * unless the request accepts gzip or the object says `Cache-Control: no-transform`; Range is
 * ignored when transcoding.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'transcoding-main';
const TEXT = Buffer.from('Decompressive transcoding. '.repeat(400));
const GZ = gzipSync(TEXT);
/** Large enough to be stored as a blob file rather than inline. */
const BIG = Buffer.concat([randomBytes(64 * 1024).toString('hex'), 'tail'].map((s) => Buffer.from(s)));
const BIG_GZ = gzipSync(BIG);

describe('Cloud Storage decompressive transcoding', () => {
  let t: TestApp;

  const get = (url: string, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> =>
    t.app.inject({ method: 'GET', url, headers: { ...bearer(t.ownerToken), ...headers } });

  const mediaUrl = (name: string) => `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}?alt=media`;

  const multipart = async (resource: Json, data: Buffer): Promise<Json> => {
    const boundary = 'transcoding-boundary';
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\ncontent-type: application/json\r\n\r\n${JSON.stringify(resource)}\r\n` +
          `--${boundary}\r\ncontent-type: application/octet-stream\r\n\r\n`,
      ),
      data,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await t.app.inject({
      method: 'POST',
      url: `/upload/storage/v1/b/${BUCKET}/o?uploadType=multipart`,
      headers: { ...bearer(t.ownerToken), 'content-type': `multipart/related; boundary=${boundary}` },
      payload: body,
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Json>();
  };

  const assertTranscoded = (res: LightMyRequestResponse, expected: Buffer, stored: Buffer, what: string) => {
    assert.equal(res.statusCode, 200, what);
    assert.ok(res.rawPayload.equals(expected), `${what}: decompressed body`);
    assert.equal(res.headers['content-encoding'], undefined, what);
    assert.equal(res.headers['content-length'], undefined, what);
    assert.equal(res.headers['content-range'], undefined, what);
    assert.equal(res.headers['x-goog-stored-content-encoding'], 'gzip', what);
    assert.equal(res.headers['x-goog-stored-content-length'], String(stored.length), what);
    assert.equal(res.headers.warning, '214 UploadServer gzipped', what);
    assert.match(String(res.headers.vary), /Accept-Encoding/, what);
  };

  before(async () => {
    t = await startTestApp();
    const res = await t.app.inject({
      method: 'POST',
      url: `/storage/v1/b?project=${PROJECT}`,
      headers: bearer(t.ownerToken),
      payload: { name: BUCKET },
    });
    assert.equal(res.statusCode, 200, res.body);
    const media = await t.app.inject({
      method: 'POST',
      url: `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=text.txt&contentEncoding=gzip`,
      headers: { ...bearer(t.ownerToken), 'content-type': 'text/plain' },
      payload: GZ,
    });
    assert.equal(media.statusCode, 200, media.body);
    assert.equal(media.json<Json>().contentEncoding, 'gzip');
    await multipart({ name: 'big.txt', contentType: 'text/plain', contentEncoding: 'gzip' }, BIG_GZ);
    await multipart(
      {
        name: 'raw.txt',
        contentType: 'text/plain',
        contentEncoding: 'gzip',
        cacheControl: 'public, no-transform',
      },
      GZ,
    );
    await multipart({ name: 'plain.txt', contentType: 'text/plain' }, TEXT);
  });
  after(async () => {
    await t.dispose();
  });

  it('serves a gzip object decompressed to a client that does not accept gzip', async () => {
    for (const url of [
      mediaUrl('text.txt'),
      `/b/${BUCKET}/o/text.txt?alt=media`,
      `/download/storage/v1/b/${BUCKET}/o/text.txt?alt=media`,
    ]) {
      assertTranscoded(await get(url), TEXT, GZ, url);
      assertTranscoded(await get(url, { 'accept-encoding': 'identity' }), TEXT, GZ, `${url} identity`);
      assertTranscoded(await get(url, { 'accept-encoding': 'br, gzip;q=0' }), TEXT, GZ, `${url} q=0`);
    }
    const res = await get(mediaUrl('text.txt'));
    assert.equal(res.headers['content-type'], 'text/plain');
    // Hashes describe the stored (compressed) bytes, as on Google.
    assert.equal(res.headers['x-goog-generation'] !== undefined, true);
    assertTranscoded(await get(mediaUrl('big.txt')), BIG, BIG_GZ, 'big.txt');
  });

  it('serves the stored bytes with Content-Encoding: gzip when the client accepts gzip', async () => {
    for (const accept of ['gzip', 'gzip, deflate, br', 'deflate;q=0.5, GZIP;q=0.8']) {
      const res = await get(mediaUrl('text.txt'), { 'accept-encoding': accept });
      assert.equal(res.statusCode, 200, accept);
      assert.ok(res.rawPayload.equals(GZ), accept);
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(res.headers['content-length'], String(GZ.length));
      assert.equal(res.headers['x-goog-stored-content-encoding'], 'gzip');
      assert.equal(res.headers.warning, undefined);
      assert.match(String(res.headers.vary), /Accept-Encoding/);
    }
  });

  it('ignores Range when transcoding, and ranges over the stored bytes otherwise', async () => {
    const whole = await get(mediaUrl('text.txt'), { range: 'bytes=0-9' });
    assertTranscoded(whole, TEXT, GZ, 'range');
    const unsatisfiable = await get(mediaUrl('text.txt'), { range: `bytes=${GZ.length + 10}-` });
    assertTranscoded(unsatisfiable, TEXT, GZ, 'range past the end');

    const partial = await get(mediaUrl('text.txt'), { range: 'bytes=0-9', 'accept-encoding': 'gzip' });
    assert.equal(partial.statusCode, 206);
    assert.ok(partial.rawPayload.equals(GZ.subarray(0, 10)));
    assert.equal(partial.headers['content-range'], `bytes 0-9/${GZ.length}`);
    assert.equal(partial.headers['content-encoding'], 'gzip');
  });

  it('always serves Cache-Control: no-transform objects as stored', async () => {
    for (const headers of [{}, { 'accept-encoding': 'gzip' }] as Record<string, string>[]) {
      const res = await get(mediaUrl('raw.txt'), headers);
      assert.equal(res.statusCode, 200);
      assert.ok(res.rawPayload.equals(GZ));
      assert.equal(res.headers['content-encoding'], 'gzip');
      assert.equal(res.headers['cache-control'], 'public, no-transform');
      assert.equal(res.headers.warning, undefined);
    }
    const range = await get(mediaUrl('raw.txt'), { range: 'bytes=2-5' });
    assert.equal(range.statusCode, 206);
    assert.ok(range.rawPayload.equals(GZ.subarray(2, 6)));
  });

  it('leaves objects without gzip encoding and metadata reads alone', async () => {
    const plain = await get(mediaUrl('plain.txt'), { range: 'bytes=0-4' });
    assert.equal(plain.statusCode, 206);
    assert.equal(plain.body, TEXT.subarray(0, 5).toString());
    assert.equal(plain.headers['x-goog-stored-content-encoding'], 'identity');
    assert.equal(plain.headers.vary, undefined);

    const meta = await get(`/storage/v1/b/${BUCKET}/o/text.txt`);
    assert.equal(meta.statusCode, 200);
    assert.equal(meta.json<Json>().contentEncoding, 'gzip');
    assert.equal(meta.json<Json>().size, String(GZ.length));
  });

  it('serves stored bytes that are not gzip at all as stored', async () => {
    await multipart({ name: 'liar.txt', contentType: 'text/plain', contentEncoding: 'gzip' }, TEXT);
    const res = await get(mediaUrl('liar.txt'));
    assert.equal(res.statusCode, 200);
    assert.ok(res.rawPayload.equals(TEXT));
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers.warning, undefined);
    const empty = await multipart({ name: 'empty.gz', contentEncoding: 'gzip' }, Buffer.alloc(0));
    assert.equal(empty.size, '0');
    const got = await get(mediaUrl('empty.gz'));
    assert.equal(got.statusCode, 200);
    assert.equal(got.rawPayload.length, 0);
    // The server keeps answering.
    assertTranscoded(await get(mediaUrl('text.txt')), TEXT, GZ, 'after a bad object');
  });
});
