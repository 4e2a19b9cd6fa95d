/**
 * Hostile and malformed input to Cloud Storage objects: bad names, bad checksums, broken multipart
 * bodies, resumable sessions abused. Every refusal is a 4xx, nothing is stored, no file appears
 * outside DATA_DIR/blobs, and the server keeps answering.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative, sep } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import { bearer, startTestApp, tempDir, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'bad-input-objects';
const enc = encodeURIComponent;

function crcOf(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data) >>> 0);
  return out.toString('base64');
}

function md5Of(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

/** Every file (not directory) under `root`, relative to it (bounded depth). */
function walk(root: string, dir = root, depth = 0, out: string[] = []): string[] {
  if (depth > 12) {
    return out;
  }
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      walk(root, path, depth + 1, out);
    } else {
      out.push(relative(root, path));
    }
  }
  return out;
}

describe('Cloud Storage objects: bad input', () => {
  let t: TestApp;
  let root: string;
  let before0: Set<string>;

  const request = async (
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    url: string,
    options: { headers?: Record<string, string>; payload?: Buffer | string | object } = {},
  ): Promise<{ status: number; headers: Record<string, unknown>; body: Json }> => {
    const res = await t.app.inject({
      method,
      url,
      headers: { ...bearer(t.ownerToken), ...(options.headers ?? {}) },
      ...(options.payload === undefined ? {} : { payload: options.payload }),
    });
    let body: Json = {};
    if (String(res.headers['content-type'] ?? '').startsWith('application/json') && res.body !== '') {
      body = res.json<Json>();
    }
    return { status: res.statusCode, headers: res.headers, body };
  };

  const media = (name: string, data: Buffer, headers: Record<string, string> = {}, bucket = BUCKET) =>
    request('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${enc(name)}`, {
      headers: { 'content-type': 'application/octet-stream', ...headers },
      payload: data,
    });

  const listNames = async (): Promise<string[]> => {
    const res = await request('GET', `/storage/v1/b/${BUCKET}/o`);
    assert.equal(res.status, 200);
    return ((res.body.items ?? []) as Json[]).map((item) => String(item.name));
  };

  /** Blob files that hold object bytes (not temp files or resumable sessions). */
  const blobFiles = (): string[] =>
    walk(join(t.dataDir, 'blobs')).filter(
      (path) => !path.startsWith(`tmp${sep}`) && !path.startsWith(`uploads${sep}`),
    );

  const assertRefused = (res: { status: number; body: Json }, status: number, what: string): void => {
    assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
    const error = res.body.error as { code: number; errors: unknown[] } | undefined;
    assert.equal(error?.code, status, `${what}: Google error shape`);
  };

  before(async () => {
    root = tempDir('nimbus-bad-input-');
    const dataDir = join(root, 'data');
    mkdirSync(dataDir);
    t = await startTestApp({ dataDir });
    const created = await request('POST', `/storage/v1/b?project=${PROJECT}`, { payload: { name: BUCKET } });
    assert.equal(created.status, 200);
    before0 = new Set(walk(root));
  });

  after(async () => {
    await t.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses object names Google refuses, with 400 and nothing stored', async () => {
    const bad: [string, string][] = [
      ['.', 'dot'],
      ['..', 'dot-dot'],
      ['a\u0000b', 'NUL'],
      ['line\nbreak', 'LF'],
      ['carriage\rreturn', 'CR'],
      ['crlf\r\n', 'CRLF'],
      ['x'.repeat(1025), '1025 bytes'],
      ['€'.repeat(342), '1026 bytes of UTF-8'],
      ['.well-known/acme-challenge/token', 'acme challenge'],
    ];
    for (const [name, what] of bad) {
      assertRefused(await media(name, Buffer.from('x')), 400, `media ${what}`);
      const resumable = await request(
        'POST',
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=${enc(name)}`,
      );
      assertRefused(resumable, 400, `resumable ${what}`);
    }
    // A lone surrogate is not UTF-8.
    assertRefused(
      await request('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=%ED%A0%80`, {
        payload: Buffer.from('x'),
      }),
      400,
      'invalid UTF-8',
    );
    assert.deepEqual(await listNames(), []);
    // The limit is inclusive.
    const longest = 'y'.repeat(1024);
    assert.equal((await media(longest, Buffer.from('ok'))).status, 200);
    assert.equal((await request('DELETE', `/storage/v1/b/${BUCKET}/o/${longest}`)).status, 204);
  });

  it('treats ../ in names as plain characters: stored by name, never as a path', async () => {
    const names = ['../../escape', '../../../../../../tmp/nimbus-escape', 'a/../../b', '..\\..\\win'];
    for (const name of names) {
      const data = randomBytes(200 * 1024); // file-backed
      const res = await media(name, data);
      assert.equal(res.status, 200, `${name}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.name, name);
      const got = await t.app.inject({
        method: 'GET',
        url: `/storage/v1/b/${BUCKET}/o/${enc(name)}?alt=media`,
        headers: bearer(t.ownerToken),
      });
      assert.equal(got.statusCode, 200);
      assert.ok(got.rawPayload.equals(data));
    }
    assert.deepEqual((await listNames()).sort(), [...names].sort());
    // Unencoded dot segments in the URL do not reach other objects or files.
    for (const url of [
      `/storage/v1/b/${BUCKET}/o/../../../../etc/passwd`,
      `/storage/v1/b/${BUCKET}/o/..%2F..%2Fetc%2Fpasswd?alt=media`,
      `/download/storage/v1/b/${BUCKET}/o/%2E%2E%2F%2E%2E%2Fnimbus.db`,
    ]) {
      const res = await request('GET', url);
      assert.ok(res.status === 404 || res.status === 400, `${url}: ${res.status}`);
    }
    for (const name of names) {
      assert.equal((await request('DELETE', `/storage/v1/b/${BUCKET}/o/${enc(name)}`)).status, 204);
    }
    assert.deepEqual(await listNames(), []);
    assert.deepEqual(blobFiles(), [], 'deleted objects leave no blob files');
  });

  it('refuses invalid bucket names', async () => {
    for (const name of ['..', 'a/b', '../etc', 'UPPER', 'x', 'bad_bucket_', 'a\u0000bc', '-leading']) {
      const res = await request('POST', `/storage/v1/b?project=${PROJECT}`, { payload: { name } });
      assertRefused(res, 400, `bucket ${JSON.stringify(name)}`);
    }
    for (const bucket of ['..', '%2E%2E', 'no-such-bucket', '%2E%2E%2F%2E%2E']) {
      const res = await media('x', Buffer.from('x'), {}, bucket);
      assert.ok(res.status === 400 || res.status === 404, `upload to ${bucket}: ${res.status}`);
    }
  });

  it('refuses a media upload whose x-goog-hash does not match, storing nothing', async () => {
    for (const size of [1000, 300 * 1024]) {
      const data = randomBytes(size);
      const wrongCrc = await media(`crc-${size}`, data, {
        'x-goog-hash': `crc32c=${crcOf(Buffer.from('other'))}`,
      });
      assertRefused(wrongCrc, 400, `wrong crc32c, ${size} bytes`);
      const wrongMd5 = await media(`md5-${size}`, data, {
        'x-goog-hash': `md5=${md5Of(Buffer.from('other'))},crc32c=${crcOf(data)}`,
      });
      assertRefused(wrongMd5, 400, `wrong md5, ${size} bytes`);
      const garbage = await media(`garbage-${size}`, data, { 'x-goog-hash': 'md5=not-base64!!' });
      assertRefused(garbage, 400, `garbage md5, ${size} bytes`);
    }
    assert.deepEqual(await listNames(), []);
    assert.deepEqual(blobFiles(), [], 'refused uploads leave no blob files');
    // The right hashes are accepted.
    const data = randomBytes(300 * 1024);
    const ok = await media('right-hash', data, { 'x-goog-hash': `crc32c=${crcOf(data)},md5=${md5Of(data)}` });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await request('DELETE', `/storage/v1/b/${BUCKET}/o/right-hash`)).status, 204);
  });

  const multipartBody = (boundary: string, meta: object, data: Buffer, close = true): Buffer =>
    Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(meta)}\r\n` +
          `--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
      data,
      Buffer.from(close ? `\r\n--${boundary}--\r\n` : ''),
    ]);

  const multipart = (body: Buffer, boundary = 'b0undary') =>
    request('POST', `/upload/storage/v1/b/${BUCKET}/o?uploadType=multipart`, {
      headers: { 'content-type': `multipart/related; boundary=${boundary}` },
      payload: body,
    });

  it('refuses a multipart upload whose metadata hashes do not match', async () => {
    const data = randomBytes(150 * 1024);
    const crc = await multipart(multipartBody('b0undary', { name: 'mp-crc', crc32c: 'AAAAAA==' }, data));
    assertRefused(crc, 400, 'multipart wrong crc32c');
    const md5 = await multipart(
      multipartBody('b0undary', { name: 'mp-md5', md5Hash: md5Of(Buffer.from('x')) }, data),
    );
    assertRefused(md5, 400, 'multipart wrong md5');
    assert.deepEqual(await listNames(), []);
    assert.deepEqual(blobFiles(), []);
  });

  it('refuses truncated and malformed multipart bodies with 400', async () => {
    const data = randomBytes(5000);
    const full = multipartBody('b0undary', { name: 'mp-trunc' }, data);
    const cases: [string, Buffer, string?][] = [
      ['no closing delimiter', multipartBody('b0undary', { name: 'mp-trunc' }, data, false)],
      ['cut in the media', full.subarray(0, full.length - 2000)],
      ['cut in the metadata', full.subarray(0, 40)],
      ['empty body', Buffer.alloc(0)],
      ['wrong boundary', full, 'other-boundary'],
      [
        'only metadata',
        Buffer.from('--b0undary\r\nContent-Type: application/json\r\n\r\n{"name":"x"}\r\n--b0undary--'),
      ],
      ['metadata not JSON', multipartBody('b0undary', {}, data).subarray(0)],
    ];
    const notJson = Buffer.from(
      '--b0undary\r\nContent-Type: application/json\r\n\r\n{"name":\r\n--b0undary\r\n\r\nabc\r\n--b0undary--',
    );
    cases.push(['metadata not JSON', notJson]);
    const unknownField = multipartBody('b0undary', { name: 'mp-x', bogus: 1 }, data);
    cases.push(['unknown metadata field', unknownField]);
    for (const [what, body, boundary] of cases) {
      const res = await multipart(body, boundary);
      assertRefused(res, 400, what);
    }
    assert.deepEqual(await listNames(), []);
  });

  describe('resumable sessions', () => {
    const open = async (name: string, size?: number): Promise<string> => {
      const res = await request(
        'POST',
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=${name}`,
        {
          headers: size === undefined ? {} : { 'x-upload-content-length': String(size) },
        },
      );
      assert.equal(res.status, 200);
      return String(res.headers.location).replace(/^http:\/\/[^/]+/, '');
    };
    const put = (path: string, range: string, payload?: Buffer) =>
      request('PUT', path, {
        headers: { 'content-range': range },
        ...(payload === undefined ? {} : { payload }),
      });

    it('refuses a total that differs from the declared size', async () => {
      const path = await open('declared-10', 10);
      assertRefused(await put(path, 'bytes 0-19/20', randomBytes(20)), 400, 'total 20 vs declared 10');
      const status = await put(path, 'bytes */*');
      assert.equal(status.status, 308);
      assert.equal(status.headers.range, undefined, 'nothing was kept');
    });

    it('refuses a chunk that ends beyond the total size', async () => {
      const declared = await open('beyond-declared', 10);
      assertRefused(await put(declared, 'bytes 0-19/10', randomBytes(20)), 400, 'last byte beyond the total');
      assertRefused(await put(declared, 'bytes 0-19/*', randomBytes(20)), 400, 'more than declared');
      const status = await put(declared, 'bytes */*');
      assert.equal(status.status, 308, 'session still open');
      assert.equal(status.headers.range, undefined);
      const done = await put(declared, 'bytes 0-9/10', Buffer.from('0123456789'));
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.size, '10');
      assert.equal((await request('DELETE', `/storage/v1/b/${BUCKET}/o/beyond-declared`)).status, 204);

      const undeclared = await open('beyond-total');
      assertRefused(await put(undeclared, 'bytes 0-19/5', randomBytes(20)), 400, 'range past its own total');
      assert.deepEqual(await listNames(), []);
    });

    it('refuses a chunk larger than its Content-Range and keeps the session consistent', async () => {
      const data = randomBytes(40);
      const path = await open('too-long-chunk', 40);
      assertRefused(await put(path, 'bytes 0-9/40', data.subarray(0, 30)), 400, 'chunk longer than range');
      const status = await put(path, 'bytes */40');
      assert.equal(status.status, 308);
      const range = status.headers.range;
      const kept = typeof range === 'string' ? Number(/-(\d+)$/.exec(range)?.[1]) + 1 : 0;
      const done = await put(path, `bytes ${kept}-39/40`, data.subarray(kept));
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.crc32c, crcOf(data), 'the object has exactly the bytes sent');
      assert.equal((await request('DELETE', `/storage/v1/b/${BUCKET}/o/too-long-chunk`)).status, 204);
    });

    it('answers unknown and malformed upload ids with 404', async () => {
      for (const id of ['nope', 'A'.repeat(32), '..%2F..%2Fnimbus.db', '../../etc/passwd', '']) {
        const url = `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&upload_id=${id}`;
        const res = await put(url, 'bytes */*');
        if (id === '') {
          assertRefused(res, 400, 'missing upload_id');
        } else {
          assertRefused(res, 404, `upload_id ${id}`);
          assertRefused(await request('DELETE', url), 404, `cancel ${id}`);
        }
      }
    });

    it('refuses a malformed Content-Range with 400', async () => {
      const path = await open('bad-range');
      for (const range of ['bytes 5-2/10', 'bytes a-b/c', 'items 0-1/2', 'bytes 0-1']) {
        assertRefused(await put(path, range, Buffer.from('ab')), 400, range);
      }
      assert.equal((await request('DELETE', path)).status, 499);
    });
  });

  it('survives a resumable chunk cut off mid-body: the resent chunk gives the exact object', async () => {
    const address = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const port = Number(new URL(address).port);
    const data = randomBytes(400 * 1024);
    const path = await (async () => {
      const res = await request(
        'POST',
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=resumable&name=cut-off`,
        {
          headers: { 'x-upload-content-length': String(data.length) },
        },
      );
      return String(res.headers.location).replace(/^http:\/\/[^/]+/, '');
    })();
    // Announce 300 KiB, send 200 KiB, then drop the connection.
    await new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(
          `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${t.ownerToken}\r\n` +
            `Content-Range: bytes 0-${300 * 1024 - 1}/${data.length}\r\nContent-Length: ${300 * 1024}\r\n\r\n`,
        );
        socket.write(data.subarray(0, 200 * 1024), () => {
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 100);
        });
      });
      socket.on('error', () => {
        resolve();
      });
    });
    // Give the server a moment to see the abort (bounded).
    let received = -1;
    for (let i = 0; i < 50; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const status = await request('PUT', path, { headers: { 'content-range': `bytes */${data.length}` } });
      assert.equal(status.status, 308);
      const range = status.headers.range;
      received = typeof range === 'string' ? Number(/-(\d+)$/.exec(range)?.[1]) + 1 : 0;
      if (received === 0) {
        break;
      }
    }
    // Whatever the server kept, resending from there completes the exact object.
    const done = await request('PUT', path, {
      headers: { 'content-range': `bytes ${received}-${data.length - 1}/${data.length}` },
      payload: data.subarray(received),
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.crc32c, crcOf(data));
    assert.equal((await request('DELETE', `/storage/v1/b/${BUCKET}/o/cut-off`)).status, 204);
  });

  it('created no file outside DATA_DIR/blobs and still answers', async () => {
    const now = walk(root);
    const added = now.filter((path) => !before0.has(path));
    const dataPrefix = `data${sep}`;
    const outside = added.filter(
      (path) =>
        !path.startsWith(`${dataPrefix}blobs${sep}`) && !/^data[/\\]nimbus\.db(-wal|-shm)?$/.test(path),
    );
    assert.deepEqual(outside, []);
    const health = await request('GET', '/_nimbus/health');
    assert.equal(health.status, 200);
    assert.equal((await request('GET', `/storage/v1/b/${BUCKET}`)).status, 200);
  });
});
