/**
 * storage.objects.copy, storage.objects.rewrite and storage.objects.compose through app.inject:
 * inline (< 128 KiB) and file-backed objects, metadata overrides, source and destination
 * preconditions, multi-call rewrites with rewriteToken, compose's crc32c and componentCount.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { bearer, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const SRC = 'copy-source';
const DST = 'copy-destination';
const MIB = 1024 * 1024;

function crcOf(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data) >>> 0);
  return out.toString('base64');
}

function md5Of(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

const enc = encodeURIComponent;

describe('Cloud Storage copy, rewrite and compose (JSON API v1)', () => {
  let t: TestApp;

  const request = async (
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    url: string,
    options: { headers?: Record<string, string>; payload?: Buffer | object } = {},
  ): Promise<{ status: number; raw: Buffer; body: Json; headers: Record<string, unknown> }> => {
    const res = await t.app.inject({
      method,
      url,
      headers: { ...bearer(t.ownerToken), ...(options.headers ?? {}) },
      ...(options.payload === undefined ? {} : { payload: options.payload }),
    });
    const raw = res.rawPayload;
    const json = String(res.headers['content-type'] ?? '').startsWith('application/json');
    const body = json && raw.length > 0 ? (JSON.parse(raw.toString('utf8')) as Json) : {};
    return { status: res.statusCode, raw, body, headers: res.headers };
  };

  const upload = async (bucket: string, name: string, data: Buffer, contentType = 'text/plain') => {
    const res = await request('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${enc(name)}`, {
      headers: { 'content-type': contentType },
      payload: data,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  const download = async (bucket: string, name: string): Promise<Buffer> => {
    const res = await request('GET', `/storage/v1/b/${bucket}/o/${enc(name)}?alt=media`);
    assert.equal(res.status, 200, res.raw.toString());
    return res.raw;
  };

  const storedKind = (bucket: string, name: string): string | undefined =>
    t.platform.store.get<{ data: { kind: string } }>('storage/objects', `${bucket}/${name}`)?.data.kind;

  const copyUrl = (verb: 'copyTo' | 'rewriteTo', from: string, to: string, prefix = '/storage/v1') =>
    `${prefix}/b/${SRC}/o/${enc(from)}/${verb}/b/${DST}/o/${enc(to)}`;

  before(async () => {
    t = await startTestApp();
    for (const name of [SRC, DST]) {
      const res = await request('POST', `/storage/v1/b?project=${PROJECT}`, { payload: { name } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });
  after(async () => {
    await t.dispose();
  });

  describe('copy', () => {
    it('copies a small (inline) object to another bucket with its metadata', async () => {
      const data = randomBytes(1000);
      const source = await upload(SRC, 'dir/small.txt', data, 'text/csv');
      const res = await request('POST', copyUrl('copyTo', 'dir/small.txt', 'copies/small.txt'));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.kind, 'storage#object');
      assert.equal(res.body.bucket, DST);
      assert.equal(res.body.name, 'copies/small.txt');
      assert.equal(res.body.contentType, 'text/csv');
      assert.equal(res.body.size, '1000');
      assert.equal(res.body.md5Hash, source.md5Hash);
      assert.equal(res.body.crc32c, source.crc32c);
      assert.notEqual(res.body.generation, source.generation);
      assert.equal(storedKind(DST, 'copies/small.txt'), 'inline');
      assert.ok((await download(DST, 'copies/small.txt')).equals(data));
    });

    it('copies a large (file-backed) object and the copy outlives the source', async () => {
      const data = randomBytes(300 * 1024 + 5);
      await upload(SRC, 'big.bin', data, 'application/octet-stream');
      const res = await request('POST', copyUrl('copyTo', 'big.bin', 'big-copy.bin', ''));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.size, String(data.length));
      assert.equal(res.body.crc32c, crcOf(data));
      assert.equal(res.body.md5Hash, md5Of(data));
      assert.equal(storedKind(DST, 'big-copy.bin'), 'file');
      // The copy has its own bytes: deleting the source leaves it readable.
      assert.equal((await request('DELETE', `/storage/v1/b/${SRC}/o/big.bin`)).status, 204);
      assert.ok((await download(DST, 'big-copy.bin')).equals(data));
    });

    it('overrides metadata fields given in the body and keeps the others', async () => {
      const data = Buffer.from('hello metadata');
      await upload(SRC, 'meta.txt', data, 'text/plain');
      const patched = await request('PATCH', `/storage/v1/b/${SRC}/o/meta.txt`, {
        payload: { metadata: { a: '1' }, cacheControl: 'no-cache' },
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      const res = await request('POST', copyUrl('copyTo', 'meta.txt', 'meta-copy.txt'), {
        payload: { contentType: 'text/html' },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.contentType, 'text/html');
      assert.equal(res.body.cacheControl, 'no-cache');
      assert.deepEqual(res.body.metadata, { a: '1' });
      assert.equal(res.body.metageneration, '1');
    });

    it('copies a given sourceGeneration and checks source and destination preconditions', async () => {
      const first = await upload(SRC, 'gen.txt', Buffer.from('one'));
      const second = await upload(SRC, 'gen.txt', Buffer.from('two'));
      // Without versioning the first generation is gone.
      const gone = await request(
        'POST',
        `${copyUrl('copyTo', 'gen.txt', 'gen-copy.txt')}?sourceGeneration=${String(first.generation)}`,
      );
      assert.equal(gone.status, 404);
      const bad = await request(
        'POST',
        `${copyUrl('copyTo', 'gen.txt', 'gen-copy.txt')}?ifSourceGenerationMatch=${String(first.generation)}`,
      );
      assert.equal(bad.status, 412, JSON.stringify(bad.body));
      const good = await request(
        'POST',
        `${copyUrl('copyTo', 'gen.txt', 'gen-copy.txt')}?ifSourceGenerationMatch=${String(second.generation)}&ifGenerationMatch=0`,
      );
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.equal((await download(DST, 'gen-copy.txt')).toString(), 'two');
      // ifGenerationMatch=0: only when the destination does not exist yet.
      const again = await request(
        'POST',
        `${copyUrl('copyTo', 'gen.txt', 'gen-copy.txt')}?ifGenerationMatch=0`,
      );
      assert.equal(again.status, 412);
      const sourceMeta = await request(
        'POST',
        `${copyUrl('copyTo', 'gen.txt', 'gen-copy.txt')}?ifSourceMetagenerationMatch=7`,
      );
      assert.equal(sourceMeta.status, 412);
    });

    it('answers 404 for a missing source or destination bucket', async () => {
      assert.equal((await request('POST', copyUrl('copyTo', 'nope.txt', 'x.txt'))).status, 404);
      await upload(SRC, 'exists.txt', Buffer.from('x'));
      const res = await request(
        'POST',
        `/storage/v1/b/${SRC}/o/exists.txt/copyTo/b/no-such-bucket-zz/o/x.txt`,
      );
      assert.equal(res.status, 404);
    });

    it('keeps percent-encoded names apart from the copyTo separator', async () => {
      const name = 'a/copyTo/b/c d?.txt';
      await upload(SRC, name, Buffer.from('tricky'));
      const res = await request('POST', copyUrl('copyTo', name, 'out/é #1.txt'));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.name, 'out/é #1.txt');
      assert.equal((await download(DST, 'out/é #1.txt')).toString(), 'tricky');
    });
  });

  describe('rewrite', () => {
    it('rewrites a small object in one call', async () => {
      const data = randomBytes(2048);
      await upload(SRC, 'rw-small.bin', data);
      const res = await request('POST', copyUrl('rewriteTo', 'rw-small.bin', 'rw-small-out.bin'), {
        payload: { contentType: 'application/x-test' },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.kind, 'storage#rewriteResponse');
      assert.equal(res.body.done, true);
      assert.equal(res.body.totalBytesRewritten, '2048');
      assert.equal(res.body.objectSize, '2048');
      assert.equal(res.body.rewriteToken, undefined);
      const resource = res.body.resource as Json;
      assert.equal(resource.name, 'rw-small-out.bin');
      assert.equal(resource.contentType, 'application/x-test');
      assert.equal(resource.crc32c, crcOf(data));
      assert.ok((await download(DST, 'rw-small-out.bin')).equals(data));
    });

    it('completes over several calls with maxBytesRewrittenPerCall and rewriteToken', async () => {
      const data = randomBytes(3 * MIB + 4321);
      await upload(SRC, 'rw-big.bin', data);
      const base = `${copyUrl('rewriteTo', 'rw-big.bin', 'rw-big-out.bin')}?maxBytesRewrittenPerCall=${MIB}`;
      let token: string | undefined;
      const progress: string[] = [];
      let final: Json | undefined;
      for (let call = 0; call < 10 && final === undefined; call++) {
        const url = token === undefined ? base : `${base}&rewriteToken=${enc(token)}`;
        const res = await request('POST', url);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.objectSize, String(data.length));
        progress.push(String(res.body.totalBytesRewritten));
        if (res.body.done === true) {
          final = res.body;
        } else {
          assert.equal(res.body.resource, undefined);
          token = String(res.body.rewriteToken);
          // The destination appears only when the rewrite is done.
          const missing = await request('GET', `/storage/v1/b/${DST}/o/rw-big-out.bin`);
          assert.equal(missing.status, 404);
        }
      }
      assert.deepEqual(progress, [String(MIB), String(2 * MIB), String(3 * MIB), String(data.length)]);
      assert.ok(final !== undefined);
      assert.equal((final.resource as Json).crc32c, crcOf(data));
      assert.equal(storedKind(DST, 'rw-big-out.bin'), 'file');
      assert.ok((await download(DST, 'rw-big-out.bin')).equals(data));
    });

    it('refuses a token for another object and a chunk size that is not a multiple of 1 MiB', async () => {
      const data = randomBytes(2 * MIB + 1);
      await upload(SRC, 'rw-token.bin', data);
      const base = `${copyUrl('rewriteTo', 'rw-token.bin', 'rw-token-out.bin')}?maxBytesRewrittenPerCall=${MIB}`;
      const first = await request('POST', base);
      assert.equal(first.body.done, false);
      const token = String(first.body.rewriteToken);
      const other = await request(
        'POST',
        `${copyUrl('rewriteTo', 'rw-token.bin', 'elsewhere.bin')}?maxBytesRewrittenPerCall=${MIB}&rewriteToken=${enc(token)}`,
      );
      assert.equal(other.status, 400);
      const garbage = await request('POST', `${base}&rewriteToken=not-a-token`);
      assert.equal(garbage.status, 400);
      const odd = await request(
        'POST',
        `${copyUrl('rewriteTo', 'rw-token.bin', 'rw-token-out.bin')}?maxBytesRewrittenPerCall=1000`,
      );
      assert.equal(odd.status, 400);
    });

    it('fails with 412 when a destination precondition does not hold', async () => {
      await upload(SRC, 'rw-pre.txt', Buffer.from('pre'));
      await upload(DST, 'rw-pre-out.txt', Buffer.from('already here'));
      const res = await request(
        'POST',
        `${copyUrl('rewriteTo', 'rw-pre.txt', 'rw-pre-out.txt')}?ifGenerationMatch=0`,
      );
      assert.equal(res.status, 412, JSON.stringify(res.body));
      assert.equal((await download(DST, 'rw-pre-out.txt')).toString(), 'already here');
    });
  });

  describe('compose', () => {
    const composeUrl = (name: string, prefix = '/storage/v1') => `${prefix}/b/${SRC}/o/${enc(name)}/compose`;

    it('concatenates inline and file-backed sources; crc32c is that of the concatenation', async () => {
      const parts = [randomBytes(100), randomBytes(200 * 1024), randomBytes(7), Buffer.alloc(0)];
      for (const [i, part] of parts.entries()) {
        await upload(SRC, `part-${i}`, part);
      }
      const res = await request('POST', composeUrl('composed/all.bin'), {
        payload: {
          kind: 'storage#composeRequest',
          sourceObjects: parts.map((_, i) => ({ name: `part-${i}` })),
          destination: { contentType: 'application/x-composed', metadata: { k: 'v' } },
        },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const whole = Buffer.concat(parts);
      assert.equal(res.body.size, String(whole.length));
      assert.equal(res.body.crc32c, crcOf(whole));
      assert.equal(res.body.componentCount, 4);
      assert.equal(res.body.md5Hash, undefined);
      assert.equal(res.body.contentType, 'application/x-composed');
      assert.deepEqual(res.body.metadata, { k: 'v' });
      assert.equal(storedKind(SRC, 'composed/all.bin'), 'file');
      const got = await request('GET', `/storage/v1/b/${SRC}/o/${enc('composed/all.bin')}?alt=media`);
      assert.ok(got.raw.equals(whole));
      assert.equal(got.headers['x-goog-hash'], `crc32c=${crcOf(whole)}`);
    });

    it('sums componentCount of composite sources and stays inline when small', async () => {
      await upload(SRC, 'c-a', Buffer.from('aa'));
      await upload(SRC, 'c-b', Buffer.from('bb'));
      const first = await request('POST', composeUrl('c-ab', ''), {
        payload: { sourceObjects: [{ name: 'c-a' }, { name: 'c-b' }] },
      });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.componentCount, 2);
      const second = await request('POST', composeUrl('c-abab'), {
        payload: { sourceObjects: [{ name: 'c-ab' }, { name: 'c-ab' }, { name: 'c-a' }] },
      });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(second.body.componentCount, 5);
      assert.equal(second.body.crc32c, crcOf(Buffer.from('aabbaabbaa')));
      assert.equal(storedKind(SRC, 'c-abab'), 'inline');
      // Copying a composite object keeps it composite.
      const copy = await request('POST', copyUrl('copyTo', 'c-abab', 'c-abab-copy'));
      assert.equal(copy.body.componentCount, 5);
      assert.equal(copy.body.md5Hash, undefined);
    });

    it('checks source generations and preconditions, and destination preconditions', async () => {
      const a = await upload(SRC, 'p-a', Buffer.from('A'));
      const wrong = await request('POST', composeUrl('p-out'), {
        payload: { sourceObjects: [{ name: 'p-a', objectPreconditions: { ifGenerationMatch: '1' } }] },
      });
      assert.equal(wrong.status, 412, JSON.stringify(wrong.body));
      const missingGeneration = await request('POST', composeUrl('p-out'), {
        payload: { sourceObjects: [{ name: 'p-a', generation: '1' }] },
      });
      assert.equal(missingGeneration.status, 404);
      const right = await request('POST', `${composeUrl('p-out')}?ifGenerationMatch=0`, {
        payload: {
          sourceObjects: [
            {
              name: 'p-a',
              generation: a.generation,
              objectPreconditions: { ifGenerationMatch: a.generation },
            },
          ],
        },
      });
      assert.equal(right.status, 200, JSON.stringify(right.body));
      const exists = await request('POST', `${composeUrl('p-out')}?ifGenerationMatch=0`, {
        payload: { sourceObjects: [{ name: 'p-a' }] },
      });
      assert.equal(exists.status, 412);
      const missing = await request('POST', composeUrl('p-out2'), {
        payload: { sourceObjects: [{ name: 'p-a' }, { name: 'no-such-part' }] },
      });
      assert.equal(missing.status, 404);
    });

    it('accepts 32 sources and refuses 33 or none with 400', async () => {
      await upload(SRC, 'one', Buffer.from('1'));
      const ok = await request('POST', composeUrl('thirty-two'), {
        payload: { sourceObjects: Array.from({ length: 32 }, () => ({ name: 'one' })) },
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.size, '32');
      assert.equal(ok.body.componentCount, 32);
      const tooMany = await request('POST', composeUrl('thirty-three'), {
        payload: { sourceObjects: Array.from({ length: 33 }, () => ({ name: 'one' })) },
      });
      assert.equal(tooMany.status, 400, JSON.stringify(tooMany.body));
      const none = await request('POST', composeUrl('none'), { payload: { sourceObjects: [] } });
      assert.equal(none.status, 400);
      const unknownField = await request('POST', composeUrl('bad'), {
        payload: { sourceObjects: [{ name: 'one', bucket: SRC }] },
      });
      assert.equal(unknownField.status, 400);
    });

    it('answers 404 for an unknown POST method on an object', async () => {
      const res = await request('POST', `/storage/v1/b/${SRC}/o/one/frobnicate`);
      assert.equal(res.status, 404);
    });
  });
});
