/**
 * Cloud Storage uploads survive `kill -9`: every object whose upload was acknowledged reads back
 * byte-exact (crc32c) from a restarted server on the same data dir, and nothing appears that was
 * never sent. Loopback only; every loop is bounded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import {
  buildBundle,
  databaseIntegrity,
  httpRequest,
  killDuringWrites,
  spawnNimbus,
} from '../nimbus-process.ts';

const BUCKET = 'kill-nine-bucket';

function crcOf(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data) >>> 0);
  return out.toString('base64');
}

interface BinaryResult {
  status: number;
  body: Buffer;
}

/** One request to 127.0.0.1 without keep-alive, with a binary body either way. */
async function binaryRequest(
  port: number,
  method: string,
  path: string,
  body?: Buffer,
  timeoutMs = 10_000,
): Promise<BinaryResult> {
  return await new Promise<BinaryResult>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        timeout: timeoutMs,
        headers:
          body === undefined
            ? {}
            : { 'content-type': 'application/octet-stream', 'content-length': String(body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`${method} ${path} timed out`));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('Cloud Storage uploads survive kill -9', () => {
  before(() => {
    buildBundle();
  });

  it('keeps every acknowledged object byte-exact and invents none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nimbus-storage-kill-'));
    dirs.push(dir);
    const server = await spawnNimbus(dir);
    const created = await httpRequest(server.port, 'POST', '/storage/v1/b?project=nimbus-local', {
      name: BUCKET,
    });
    assert.equal(created.status, 200, created.body);

    const CONCURRENCY = 16;
    const MAX_UPLOADS = 400;
    const KILL_AFTER_ACKS = 120;
    /** crc32c of the body sent, per name, for every upload that was started. */
    const sent = new Map<string, string>();
    /** crc32c the server acknowledged, per name. */
    const acknowledged = new Map<string, string>();
    const uploadOne = async (i: number): Promise<'ack' | 'lost' | { refused: string }> => {
      const name = `obj/${String(i).padStart(5, '0')}${i % 3 === 0 ? '-large' : ''}`;
      const body = randomBytes(i % 3 === 0 ? 200 * 1024 : 4 * 1024);
      sent.set(name, crcOf(body));
      let result: BinaryResult;
      try {
        result = await binaryRequest(
          server.port,
          'POST',
          `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}`,
          body,
        );
      } catch {
        return 'lost'; // connection reset by the kill: not acknowledged
      }
      if (result.status !== 200) {
        return { refused: `${name}: ${result.status} ${result.body.toString('utf8').slice(0, 200)}` };
      }
      const object = JSON.parse(result.body.toString('utf8')) as { name: string; crc32c: string };
      assert.equal(object.name, name);
      assert.equal(object.crc32c, crcOf(body), `${name}: the server hashed what was sent`);
      acknowledged.set(name, object.crc32c);
      return 'ack';
    };
    const run = await killDuringWrites(
      server,
      { concurrency: CONCURRENCY, max: MAX_UPLOADS, killAfterAcks: KILL_AFTER_ACKS },
      uploadOne,
    );
    assert.equal(run.signal, 'SIGKILL');
    assert.deepEqual(run.refused, [], 'every upload before the kill succeeds');
    assert.ok(run.killed, `the kill came after ${KILL_AFTER_ACKS} acknowledged uploads`);
    assert.ok(run.inFlightAtKill > 0, 'uploads were in flight when the server was killed');
    console.log(
      `kill -9 after ${acknowledged.size} acknowledged uploads of ${run.issued} issued, ${run.inFlightAtKill} in flight`,
    );
    assert.equal(databaseIntegrity(dir), 'ok');

    const restarted = await spawnNimbus(dir);
    try {
      const port = restarted.port;
      // Every acknowledged object reads back with the acknowledged crc32c, computed over the bytes.
      for (const [name, crc] of acknowledged) {
        const path = `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}`;
        const meta = await binaryRequest(port, 'GET', path);
        assert.equal(meta.status, 200, `${name} was acknowledged but is missing after kill -9`);
        assert.equal((JSON.parse(meta.body.toString('utf8')) as { crc32c: string }).crc32c, crc, name);
        const data = await binaryRequest(port, 'GET', `${path}?alt=media`);
        assert.equal(data.status, 200, name);
        assert.equal(crcOf(data.body), crc, `${name}: bytes after kill -9`);
      }

      // Every listed object was sent (acknowledged or in flight), and is whole.
      const listed: { name: string; crc32c: string }[] = [];
      let token: string | undefined;
      for (let page = 0; page < 50; page++) {
        const res = await binaryRequest(
          port,
          'GET',
          `/storage/v1/b/${BUCKET}/o?maxResults=100${token === undefined ? '' : `&pageToken=${token}`}`,
        );
        assert.equal(res.status, 200);
        const body = JSON.parse(res.body.toString('utf8')) as {
          items?: { name: string; crc32c: string }[];
          nextPageToken?: string;
        };
        listed.push(...(body.items ?? []));
        token = body.nextPageToken;
        if (token === undefined) {
          break;
        }
      }
      assert.equal(token, undefined, 'listing ended');
      assert.equal(new Set(listed.map((o) => o.name)).size, listed.length, 'no name listed twice');
      for (const object of listed) {
        const sentCrc = sent.get(object.name);
        assert.ok(sentCrc !== undefined, `${object.name} is listed but was never sent`);
        assert.equal(object.crc32c, sentCrc, `${object.name}: listed with the crc32c of what was sent`);
        if (!acknowledged.has(object.name)) {
          const data = await binaryRequest(
            port,
            'GET',
            `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(object.name)}?alt=media`,
          );
          assert.equal(crcOf(data.body), sentCrc, `${object.name}: in-flight object is whole`);
        }
      }
      for (const name of acknowledged.keys()) {
        assert.ok(
          listed.some((o) => o.name === name),
          `${name} is acknowledged and listed`,
        );
      }
      // No half-written temp file survived the restart.
      assert.deepEqual(readdirSync(join(dir, 'blobs', 'tmp')), []);
      const blobRoot = join(dir, 'blobs');
      const blobFiles = readdirSync(blobRoot)
        .filter((sub) => /^[0-9a-f]{2}$/.test(sub))
        .reduce((n, sub) => n + readdirSync(join(blobRoot, sub)).length, 0);
      const largeListed = listed.filter((o) => o.name.endsWith('-large')).length;
      assert.ok(blobFiles >= largeListed, 'every listed large object has its blob file');
      console.log(`${blobFiles - largeListed} blob files of in-flight uploads are not referenced`);

      // And it takes new uploads.
      const next = await binaryRequest(
        port,
        'POST',
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=after-restart`,
        Buffer.from('still here'),
      );
      assert.equal(next.status, 200, next.body.toString('utf8'));
    } finally {
      assert.deepEqual(await restarted.stop('SIGTERM'), { code: 0, signal: null });
    }
  });
});
