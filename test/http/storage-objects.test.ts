/**
 * Cloud Storage objects over the JSON API v1 through app.inject: uploads (media, multipart,
 * resumable), reads (metadata, alt=media, /download, ranges), preconditions, listing, versions,
 * delete, patch, and object names that need percent-encoding.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { bearer, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'objects-main';
const VERSIONED = 'objects-versioned';
const LISTING = 'objects-listing';

function crcOf(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data) >>> 0);
  return out.toString('base64');
}

function md5Of(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

const enc = encodeURIComponent;

/** Object blob files (`blobs/xx/ID`) under a data dir. */
function blobFileCount(dataDir: string): number {
  const root = join(dataDir, 'blobs');
  return readdirSync(root)
    .filter((dir) => /^[0-9a-f]{2}$/.test(dir))
    .reduce((n, dir) => n + readdirSync(join(root, dir)).length, 0);
}

describe('Cloud Storage objects (JSON API v1)', () => {
  let t: TestApp;

  interface Res {
    status: number;
    headers: Record<string, string | string[] | number | undefined>;
    raw: Buffer;
    body: Json;
  }

  const request = async (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    options: { headers?: Record<string, string>; payload?: Buffer | string | object } = {},
  ): Promise<Res> => {
    const res = await t.app.inject({
      method,
      url,
      headers: { ...bearer(t.ownerToken), ...(options.headers ?? {}) },
      ...(options.payload === undefined ? {} : { payload: options.payload }),
    });
    const raw = res.rawPayload;
    let body: Json = {};
    if (String(res.headers['content-type'] ?? '').startsWith('application/json') && raw.length > 0) {
      body = JSON.parse(raw.toString('utf8')) as Json;
    }
    return { status: res.statusCode, headers: res.headers, raw, body };
  };

  const media = (bucket: string, name: string, data: Buffer | string, query = '', headers = {}) =>
    request('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${enc(name)}${query}`, {
      headers: { 'content-type': 'application/octet-stream', ...headers },
      payload: typeof data === 'string' ? Buffer.from(data) : data,
    });

  const objectUrl = (bucket: string, name: string) => `/storage/v1/b/${bucket}/o/${enc(name)}`;

  const listAll = async (bucket: string, query: string): Promise<Json> => {
    const res = await request('GET', `/storage/v1/b/${bucket}/o?${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const namesOf = (body: Json): string[] => ((body.items ?? []) as Json[]).map((item) => String(item.name));

  before(async () => {
    t = await startTestApp();
    for (const [name, extra] of [
      [BUCKET, {}],
      [VERSIONED, { versioning: { enabled: true } }],
      [LISTING, {}],
    ] as const) {
      const res = await request('POST', `/storage/v1/b?project=${PROJECT}`, { payload: { name, ...extra } });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });
  after(async () => {
    await t.dispose();
  });

  describe('uploads', () => {
    it('stores a media upload inline (< 128 KiB) and reads it back', async () => {
      const data = randomBytes(4096);
      const files = blobFileCount(t.dataDir);
      const res = await media(BUCKET, 'small.bin', data, '', { 'content-type': 'image/png' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(blobFileCount(t.dataDir), files, 'an inline object has no blob file');
      const o = res.body;
      assert.equal(o.kind, 'storage#object');
      assert.equal(o.name, 'small.bin');
      assert.equal(o.bucket, BUCKET);
      assert.equal(o.size, '4096');
      assert.equal(o.contentType, 'image/png');
      assert.equal(o.crc32c, crcOf(data));
      assert.equal(o.md5Hash, md5Of(data));
      assert.equal(o.metageneration, '1');
      assert.match(String(o.generation), /^\d{16}$/);
      assert.equal(o.id, `${BUCKET}/small.bin/${String(o.generation)}`);

      const got = await request('GET', `${objectUrl(BUCKET, 'small.bin')}?alt=media`);
      assert.equal(got.status, 200);
      assert.ok(got.raw.equals(data));
      assert.equal(got.headers['content-type'], 'image/png');
      assert.equal(got.headers['x-goog-hash'], `crc32c=${crcOf(data)},md5=${md5Of(data)}`);
      assert.equal(got.headers['x-goog-generation'], o.generation);
      const meta = await request('GET', objectUrl(BUCKET, 'small.bin'));
      assert.equal(meta.status, 200);
      assert.equal(meta.body.size, '4096');
    });

    it('stores a media upload larger than 128 KiB in a file and reads it back', async () => {
      const data = randomBytes(300 * 1024 + 17);
      const files = blobFileCount(t.dataDir);
      const res = await media(BUCKET, 'big.bin', data);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(blobFileCount(t.dataDir), files + 1, 'a large object is one blob file');
      assert.equal(res.body.size, String(data.length));
      assert.equal(res.body.crc32c, crcOf(data));
      assert.equal(res.body.contentType, 'application/octet-stream');
      const got = await request('GET', `${objectUrl(BUCKET, 'big.bin')}?alt=media`);
      assert.equal(got.status, 200);
      assert.ok(got.raw.equals(data));
      assert.equal(got.headers['x-goog-hash'], `crc32c=${crcOf(data)},md5=${md5Of(data)}`);
      assert.equal(got.headers['x-goog-stored-content-length'], String(data.length));
      const download = await request('GET', `/download/storage/v1/b/${BUCKET}/o/big.bin`);
      assert.equal(download.status, 200);
      assert.ok(download.raw.equals(data));
    });

    it('takes a hand-built multipart/related upload', async () => {
      const data = Buffer.concat([Buffer.from('--not-the-boundary\r\n'), randomBytes(2000)]);
      const boundary = 'nimbus_boundary_42';
      const meta = {
        name: 'multi/part.dat',
        contentType: 'application/x-test',
        metadata: { color: 'blue' },
        md5Hash: md5Of(data),
        crc32c: crcOf(data),
      };
      const body = Buffer.concat([
        Buffer.from(
          `--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify(meta)}\r\n` +
            `--${boundary}\r\nContent-Type: text/plain\r\n\r\n`,
        ),
        data,
        Buffer.from(`\r\n--${boundary}--\r\n`),
      ]);
      const res = await request('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=multipart`, {
        headers: { 'content-type': `multipart/related; boundary=${boundary}` },
        payload: body,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.name, 'multi/part.dat');
      assert.equal(res.body.contentType, 'application/x-test');
      assert.deepEqual(res.body.metadata, { color: 'blue' });
      assert.equal(res.body.size, String(data.length));
      const got = await request('GET', `${objectUrl(BUCKET, 'multi/part.dat')}?alt=media`);
      assert.ok(got.raw.equals(data));
    });

    it('runs a resumable upload: initiate, chunks, status queries, final chunk', async () => {
      const data = randomBytes(512 * 1024 + 5);
      const init = await request('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable`, {
        headers: {
          host: 'localhost:9023',
          'content-type': 'application/json',
          'x-upload-content-type': 'application/x-resumed',
        },
        payload: { name: 'resumable/obj.bin', metadata: { k: 'v' } },
      });
      assert.equal(init.status, 200, JSON.stringify(init.body));
      const location = String(init.headers.location);
      assert.ok(location.startsWith(`http://localhost:9023/upload/storage/v1/b/${BUCKET}/o?`), location);
      const sessionPath = location.slice('http://localhost:9023'.length);
      assert.match(sessionPath, /upload_id=[\w-]+/);

      const put = (range: string, payload?: Buffer) =>
        request('PUT', sessionPath, {
          headers: { 'content-range': range, 'content-type': 'application/octet-stream' },
          ...(payload === undefined ? {} : { payload }),
        });

      // Nothing received yet: 308 without a Range header.
      const empty = await put('bytes */*');
      assert.equal(empty.status, 308);
      assert.equal(empty.headers.range, undefined);

      const CHUNK = 256 * 1024;
      const first = await put(`bytes 0-${CHUNK - 1}/*`, data.subarray(0, CHUNK));
      assert.equal(first.status, 308);
      assert.equal(first.headers.range, `bytes=0-${CHUNK - 1}`);

      const status = await put(`bytes */${data.length}`);
      assert.equal(status.status, 308);
      assert.equal(status.headers.range, `bytes=0-${CHUNK - 1}`);
      const status2 = await put('bytes */*');
      assert.equal(status2.status, 308);
      assert.equal(status2.headers.range, `bytes=0-${CHUNK - 1}`);

      // A resent overlapping chunk is fine.
      const second = await put(
        `bytes ${CHUNK}-${2 * CHUNK - 1}/${data.length}`,
        data.subarray(CHUNK, 2 * CHUNK),
      );
      assert.equal(second.status, 308);
      assert.equal(second.headers.range, `bytes=0-${2 * CHUNK - 1}`);

      const last = await put(
        `bytes ${2 * CHUNK}-${data.length - 1}/${data.length}`,
        data.subarray(2 * CHUNK),
      );
      assert.equal(last.status, 200, JSON.stringify(last.body));
      assert.equal(last.body.name, 'resumable/obj.bin');
      assert.equal(last.body.size, String(data.length));
      assert.equal(last.body.crc32c, crcOf(data));
      assert.equal(last.body.contentType, 'application/x-resumed');
      assert.deepEqual(last.body.metadata, { k: 'v' });

      const got = await request('GET', `${objectUrl(BUCKET, 'resumable/obj.bin')}?alt=media`);
      assert.ok(got.raw.equals(data));

      // The session is finished.
      assert.equal((await put(`bytes */${data.length}`)).status, 404);
    });

    it('answers a duplicate final chunk after completion with 404 and keeps the object', async () => {
      const data = Buffer.from('tiny resumable');
      const init = await request('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=tiny`, {
        headers: { 'x-upload-content-length': String(data.length) },
      });
      assert.equal(init.status, 200);
      const path = String(init.headers.location).replace(/^http:\/\/[^/]+/, '');
      const done = await request('PUT', path, { payload: data });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.size, String(data.length));
    });

    it('cancels a resumable session with DELETE -> 499, then 404', async () => {
      const init = await request(
        'POST',
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=cancelled`,
      );
      assert.equal(init.status, 200);
      const path = String(init.headers.location).replace(/^http:\/\/[^/]+/, '');
      const chunk = await request('PUT', path, {
        headers: { 'content-range': 'bytes 0-9/*' },
        payload: Buffer.alloc(10, 1),
      });
      assert.equal(chunk.status, 308);
      assert.equal((await request('DELETE', path)).status, 499);
      assert.equal((await request('DELETE', path)).status, 404);
      assert.equal((await request('PUT', path, { headers: { 'content-range': 'bytes */*' } })).status, 404);
      assert.equal((await request('GET', objectUrl(BUCKET, 'cancelled'))).status, 404);
    });
  });

  describe('reads', () => {
    const data = Buffer.from(Array.from({ length: 200 * 1024 }, (_, i) => i % 251));
    const small = Buffer.from('0123456789abcdefghij');

    before(async () => {
      assert.equal((await media(BUCKET, 'ranged-big', data)).status, 200);
      assert.equal((await media(BUCKET, 'ranged-small', small)).status, 200);
    });

    for (const [label, name] of [
      ['file-backed', 'ranged-big'],
      ['inline', 'ranged-small'],
    ] as const) {
      it(`serves byte ranges of a ${label} object (206, suffix, open-ended, 416)`, async () => {
        const content = name === 'ranged-big' ? data : small;
        const size = content.length;
        const get = (range: string, path = `${objectUrl(BUCKET, name)}?alt=media`) =>
          request('GET', path, { headers: { range } });

        const mid = await get('bytes=3-12');
        assert.equal(mid.status, 206);
        assert.equal(mid.headers['content-range'], `bytes 3-12/${size}`);
        assert.equal(mid.headers['content-length'], '10');
        assert.ok(mid.raw.equals(content.subarray(3, 13)));
        // The hash header describes the whole object, not the range.
        assert.equal(mid.headers['x-goog-hash'], `crc32c=${crcOf(content)},md5=${md5Of(content)}`);

        const suffix = await get('bytes=-5');
        assert.equal(suffix.status, 206);
        assert.equal(suffix.headers['content-range'], `bytes ${size - 5}-${size - 1}/${size}`);
        assert.ok(suffix.raw.equals(content.subarray(size - 5)));

        const bigSuffix = await get(`bytes=-${size + 100}`);
        assert.equal(bigSuffix.status, 206);
        assert.ok(bigSuffix.raw.equals(content));

        const open = await get(`bytes=${size - 3}-`);
        assert.equal(open.status, 206);
        assert.equal(open.headers['content-range'], `bytes ${size - 3}-${size - 1}/${size}`);
        assert.ok(open.raw.equals(content.subarray(size - 3)));

        const clamped = await get(`bytes=${size - 2}-${size + 1000}`);
        assert.equal(clamped.status, 206);
        assert.ok(clamped.raw.equals(content.subarray(size - 2)));

        const download = await get('bytes=0-0', `/download/storage/v1/b/${BUCKET}/o/${name}`);
        assert.equal(download.status, 206);
        assert.ok(download.raw.equals(content.subarray(0, 1)));

        const beyond = await get(`bytes=${size}-`);
        assert.equal(beyond.status, 416);
        assert.equal(beyond.headers['content-range'], `bytes */${size}`);
      });
    }

    it('answers conditional GETs: ifGenerationNotMatch -> 304, ifGenerationMatch mismatch -> 412', async () => {
      const meta = await request('GET', objectUrl(BUCKET, 'ranged-small'));
      const generation = String(meta.body.generation);
      const notModified = await request(
        'GET',
        `${objectUrl(BUCKET, 'ranged-small')}?ifGenerationNotMatch=${generation}`,
      );
      assert.equal(notModified.status, 304);
      assert.equal(notModified.raw.length, 0);
      const modified = await request(
        'GET',
        `${objectUrl(BUCKET, 'ranged-small')}?ifGenerationNotMatch=1&alt=media`,
      );
      assert.equal(modified.status, 200);
      assert.ok(modified.raw.equals(small));
      const wrong = await request('GET', `${objectUrl(BUCKET, 'ranged-small')}?ifGenerationMatch=1`);
      assert.equal(wrong.status, 412);
      const right = await request('GET', `${objectUrl(BUCKET, 'ranged-small')}?ifMetagenerationMatch=1`);
      assert.equal(right.status, 200);
      assert.equal((await request('GET', objectUrl(BUCKET, 'no-such-object'))).status, 404);
    });

    it('applies upload preconditions: ifGenerationMatch=0 on an existing object -> 412', async () => {
      const created = await media(BUCKET, 'cond', 'v1', '&ifGenerationMatch=0');
      assert.equal(created.status, 200);
      const again = await media(BUCKET, 'cond', 'v2', '&ifGenerationMatch=0');
      assert.equal(again.status, 412);
      const stale = await media(BUCKET, 'cond', 'v2', '&ifGenerationMatch=12345');
      assert.equal(stale.status, 412);
      const ok = await media(BUCKET, 'cond', 'v2', `&ifGenerationMatch=${String(created.body.generation)}`);
      assert.equal(ok.status, 200);
      const got = await request('GET', `${objectUrl(BUCKET, 'cond')}?alt=media`);
      assert.equal(got.raw.toString(), 'v2');
      // Resumable initiation checks the precondition up front.
      const init = await request(
        'POST',
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=cond&ifGenerationMatch=0`,
      );
      assert.equal(init.status, 412);
    });
  });

  describe('listing', () => {
    const names = [
      'a.txt',
      'dir/',
      'dir/b.txt',
      'dir/c.bin',
      'dir/sub/d.txt',
      'dir/sub/e.txt',
      'other/f.txt',
      'z.bin',
    ];
    before(async () => {
      for (const name of names) {
        assert.equal((await media(LISTING, name, name)).status, 200);
      }
    });

    it('lists everything in name order', async () => {
      assert.deepEqual(namesOf(await listAll(LISTING, '')), names);
    });

    it('lists with prefix and delimiter into items and prefixes', async () => {
      const top = await listAll(LISTING, 'delimiter=/');
      assert.deepEqual(namesOf(top), ['a.txt', 'z.bin']);
      assert.deepEqual(top.prefixes, ['dir/', 'other/']);
      const dir = await listAll(LISTING, 'delimiter=/&prefix=dir/');
      assert.deepEqual(namesOf(dir), ['dir/', 'dir/b.txt', 'dir/c.bin']);
      assert.deepEqual(dir.prefixes, ['dir/sub/']);
      const prefixed = await listAll(LISTING, 'prefix=dir/sub/');
      assert.deepEqual(namesOf(prefixed), ['dir/sub/d.txt', 'dir/sub/e.txt']);
      assert.equal(prefixed.prefixes, undefined);
    });

    it('includes objects named like the prefix with includeTrailingDelimiter', async () => {
      const top = await listAll(LISTING, 'delimiter=/&includeTrailingDelimiter=true');
      assert.deepEqual(namesOf(top), ['a.txt', 'dir/', 'z.bin']);
      assert.deepEqual(top.prefixes, ['dir/', 'other/']);
    });

    it('pages with maxResults and pageToken, every name exactly once', async () => {
      for (const pageSize of [1, 2, 3, 7]) {
        const seen: string[] = [];
        let token: string | undefined;
        for (let page = 0; page < 20; page++) {
          const body = await listAll(
            LISTING,
            `maxResults=${pageSize}${token === undefined ? '' : `&pageToken=${enc(token)}`}`,
          );
          const items = namesOf(body);
          assert.ok(items.length <= pageSize);
          seen.push(...items);
          token = body.nextPageToken as string | undefined;
          if (token === undefined) {
            break;
          }
        }
        assert.equal(token, undefined, 'paging ended');
        assert.deepEqual(seen, names, `maxResults=${pageSize}`);
      }
    });

    it('pages with a delimiter: items and prefixes each exactly once', async () => {
      const items: string[] = [];
      const prefixes: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < 20; page++) {
        const body = await listAll(
          LISTING,
          `delimiter=/&maxResults=1${token === undefined ? '' : `&pageToken=${enc(token)}`}`,
        );
        items.push(...namesOf(body));
        prefixes.push(...((body.prefixes ?? []) as string[]));
        token = body.nextPageToken as string | undefined;
        if (token === undefined) {
          break;
        }
      }
      assert.deepEqual(items, ['a.txt', 'z.bin']);
      assert.deepEqual(prefixes, ['dir/', 'other/']);
    });

    it('filters by startOffset, endOffset and matchGlob', async () => {
      assert.deepEqual(namesOf(await listAll(LISTING, 'startOffset=dir/c&endOffset=other/')), [
        'dir/c.bin',
        'dir/sub/d.txt',
        'dir/sub/e.txt',
      ]);
      assert.deepEqual(namesOf(await listAll(LISTING, 'startOffset=other/')), ['other/f.txt', 'z.bin']);
      assert.deepEqual(namesOf(await listAll(LISTING, 'endOffset=dir/')), ['a.txt']);
      assert.deepEqual(namesOf(await listAll(LISTING, `matchGlob=${enc('**/*.txt')}`)), [
        'dir/b.txt',
        'dir/sub/d.txt',
        'dir/sub/e.txt',
        'other/f.txt',
      ]);
      assert.deepEqual(namesOf(await listAll(LISTING, `matchGlob=${enc('*.txt')}`)), ['a.txt']);
      assert.deepEqual(namesOf(await listAll(LISTING, `matchGlob=${enc('**.txt')}`)), [
        'a.txt',
        'dir/b.txt',
        'dir/sub/d.txt',
        'dir/sub/e.txt',
        'other/f.txt',
      ]);
    });

    it('pages through a filtered listing without losing names', async () => {
      const seen: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < 20; page++) {
        const body = await listAll(
          LISTING,
          `matchGlob=${enc('**/*.txt')}&maxResults=1${token === undefined ? '' : `&pageToken=${enc(token)}`}`,
        );
        seen.push(...namesOf(body));
        token = body.nextPageToken as string | undefined;
        if (token === undefined) {
          break;
        }
      }
      assert.deepEqual(seen, ['dir/b.txt', 'dir/sub/d.txt', 'dir/sub/e.txt', 'other/f.txt']);
    });
  });

  describe('versions, delete, patch', () => {
    it('keeps noncurrent generations in a versioned bucket and lists them with versions=true', async () => {
      const v1 = await media(VERSIONED, 'doc', 'one');
      const v2 = await media(VERSIONED, 'doc', 'two');
      const other = await media(VERSIONED, 'other', 'x');
      assert.equal(v1.status, 200);
      assert.equal(v2.status, 200);
      assert.equal(other.status, 200);
      const g1 = String(v1.body.generation);
      const g2 = String(v2.body.generation);
      assert.ok(BigInt(g2) > BigInt(g1));

      assert.deepEqual(namesOf(await listAll(VERSIONED, '')), ['doc', 'other']);
      const versions = await listAll(VERSIONED, 'versions=true');
      const items = (versions.items as Json[]).map((i) => `${String(i.name)}#${String(i.generation)}`);
      assert.deepEqual(items, [`doc#${g1}`, `doc#${g2}`, `other#${String(other.body.generation)}`]);
      const old = (versions.items as Json[])[0] as Json;
      assert.ok(old.timeDeleted !== undefined);

      const oldBytes = await request('GET', `${objectUrl(VERSIONED, 'doc')}?alt=media&generation=${g1}`);
      assert.equal(oldBytes.raw.toString(), 'one');
      const current = await request('GET', `${objectUrl(VERSIONED, 'doc')}?alt=media`);
      assert.equal(current.raw.toString(), 'two');

      // Deleting a specific noncurrent generation removes just that one.
      assert.equal((await request('DELETE', `${objectUrl(VERSIONED, 'doc')}?generation=${g1}`)).status, 204);
      assert.equal((await request('GET', `${objectUrl(VERSIONED, 'doc')}?generation=${g1}`)).status, 404);
      assert.equal((await request('GET', objectUrl(VERSIONED, 'doc'))).status, 200);
      // Deleting the live one makes it noncurrent.
      assert.equal((await request('DELETE', objectUrl(VERSIONED, 'doc'))).status, 204);
      assert.equal((await request('GET', objectUrl(VERSIONED, 'doc'))).status, 404);
      const after = await listAll(VERSIONED, 'versions=true');
      const left = (after.items as Json[]).map((i) => `${String(i.name)}#${String(i.generation)}`);
      assert.deepEqual(left, [`doc#${g2}`, `other#${String(other.body.generation)}`]);
      assert.deepEqual(namesOf(await listAll(VERSIONED, '')), ['other']);
    });

    it('pages through versions=true listings with every generation exactly once', async () => {
      const bucket = 'objects-versions-paged';
      const created = await request('POST', `/storage/v1/b?project=${PROJECT}`, {
        payload: { name: bucket, versioning: { enabled: true } },
      });
      assert.equal(created.status, 200);
      const expected: string[] = [];
      for (const [name, count] of [
        ['a', 2],
        ['b', 1],
        ['c', 2],
        ['d', 1],
        ['e', 3],
      ] as const) {
        for (let i = 0; i < count; i++) {
          const up = await media(bucket, name, `${name}${i}`);
          expected.push(`${name}#${String(up.body.generation)}`);
        }
      }
      // c has no live generation any more: only noncurrent ones.
      assert.equal((await request('DELETE', objectUrl(bucket, 'c'))).status, 204);
      const all = await listAll(bucket, 'versions=true');
      const entry = (i: Json) => `${String(i.name)}#${String(i.generation)}`;
      assert.deepEqual((all.items as Json[]).map(entry), expected);
      for (const pageSize of [1, 2, 3, 4]) {
        const seen: string[] = [];
        let token: string | undefined;
        for (let page = 0; page < 30; page++) {
          const body = await listAll(
            bucket,
            `versions=true&maxResults=${pageSize}${token === undefined ? '' : `&pageToken=${enc(token)}`}`,
          );
          const items = ((body.items ?? []) as Json[]).map(entry);
          assert.ok(items.length <= pageSize, `page of ${items.length} > ${pageSize}`);
          seen.push(...items);
          token = body.nextPageToken as string | undefined;
          if (token === undefined) {
            break;
          }
        }
        assert.equal(token, undefined);
        assert.deepEqual(seen, expected, `versions=true&maxResults=${pageSize}`);
      }
      assert.deepEqual(
        ((await listAll(bucket, 'versions=true&prefix=e')).items as Json[]).map(entry),
        expected.filter((e) => e.startsWith('e#')),
      );
    });

    it('deletes with a generation in an unversioned bucket and refuses a wrong one', async () => {
      const created = await media(BUCKET, 'to-delete', 'bye');
      const generation = String(created.body.generation);
      assert.equal((await request('DELETE', `${objectUrl(BUCKET, 'to-delete')}?generation=1`)).status, 404);
      assert.equal(
        (await request('DELETE', `${objectUrl(BUCKET, 'to-delete')}?ifGenerationMatch=1`)).status,
        412,
      );
      assert.equal(
        (await request('DELETE', `${objectUrl(BUCKET, 'to-delete')}?generation=${generation}`)).status,
        204,
      );
      assert.equal((await request('GET', objectUrl(BUCKET, 'to-delete'))).status, 404);
      assert.equal((await request('DELETE', objectUrl(BUCKET, 'to-delete'))).status, 404);
    });

    it('patches metadata: metageneration bump, custom metadata merge, null removes a key', async () => {
      const created = await media(BUCKET, 'patched', 'data');
      assert.equal(created.status, 200);
      const first = await request('PATCH', objectUrl(BUCKET, 'patched'), {
        payload: { metadata: { a: '1', b: '2' }, contentType: 'text/plain', cacheControl: 'no-cache' },
      });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.metageneration, '2');
      assert.equal(first.body.generation, created.body.generation);
      assert.deepEqual(first.body.metadata, { a: '1', b: '2' });
      assert.equal(first.body.contentType, 'text/plain');
      assert.notEqual(first.body.etag, created.body.etag);

      const second = await request('PATCH', `${objectUrl(BUCKET, 'patched')}?ifMetagenerationMatch=2`, {
        payload: { metadata: { b: null, c: '3' } },
      });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(second.body.metageneration, '3');
      assert.deepEqual(second.body.metadata, { a: '1', c: '3' });
      assert.equal(second.body.cacheControl, 'no-cache');

      const stale = await request('PATCH', `${objectUrl(BUCKET, 'patched')}?ifMetagenerationMatch=2`, {
        payload: { metadata: { d: '4' } },
      });
      assert.equal(stale.status, 412);

      const cleared = await request('PATCH', objectUrl(BUCKET, 'patched'), { payload: { metadata: null } });
      assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
      assert.equal(cleared.body.metadata, undefined);

      const media2 = await request('GET', `${objectUrl(BUCKET, 'patched')}?alt=media`);
      assert.equal(media2.raw.toString(), 'data');
      assert.equal(media2.headers['content-type'], 'text/plain');
      assert.equal(media2.headers['cache-control'], 'no-cache');
    });
  });

  describe('object names', () => {
    const awkward = [
      'héllo wörld/日本語 ☃.txt',
      'with space',
      '100% sure',
      '%2F literally',
      'a/b/c',
      'hash#tag',
      'what?query=1&x',
      'plus+sign',
      'emoji 😀',
      '/leading/slash',
      'trailing/',
      'double//slash',
      'quote\'s "and" <tags>',
    ];
    it('round-trips names with unicode, spaces, %, /, #, ? through upload, get, list and delete', async () => {
      const bucket = LISTING.replace('listing', 'names');
      assert.equal(
        (await request('POST', `/storage/v1/b?project=${PROJECT}`, { payload: { name: bucket } })).status,
        200,
      );
      for (const name of awkward) {
        const up = await media(bucket, name, `content of ${name}`);
        assert.equal(up.status, 200, `${name}: ${JSON.stringify(up.body)}`);
        assert.equal(up.body.name, name);
        const meta = await request('GET', objectUrl(bucket, name));
        assert.equal(meta.status, 200, name);
        assert.equal(meta.body.name, name);
        const selfLink = String(meta.body.selfLink).replace(/^http:\/\/[^/]+/, '');
        assert.equal((await request('GET', selfLink)).body.name, name);
        const mediaLink = String(meta.body.mediaLink).replace(/^http:\/\/[^/]+/, '');
        const viaLink = await request('GET', mediaLink);
        assert.equal(viaLink.status, 200, name);
        assert.equal(viaLink.raw.toString(), `content of ${name}`);
        const download = await request('GET', `/download/storage/v1/b/${bucket}/o/${enc(name)}`);
        assert.equal(download.raw.toString(), `content of ${name}`);
      }
      const listed = namesOf(await listAll(bucket, ''));
      assert.deepEqual(
        listed,
        [...awkward].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      );
      for (const name of awkward) {
        assert.equal((await request('DELETE', objectUrl(bucket, name))).status, 204, name);
      }
      assert.deepEqual(namesOf(await listAll(bucket, '')), []);
    });
  });
});
