/**
 * `gcloud storage` (the real Google Cloud CLI) against a Nimbus server started in-process: buckets,
 * cp local <-> gs:// (small, a 500-file folder tree, a 200 MiB resumable file), ls, cat, du, objects
 * describe/update, rsync (a second run transfers nothing), rm -r.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findGcloud, gcloudSession } from '../gcloud-cli.ts';

const GCLOUD = findGcloud();
const BUCKET = 'gcloud-storage-test';

describe(
  'gcloud storage against Nimbus',
  { skip: GCLOUD === undefined ? 'gcloud not installed' : false },
  () => {
    const uploads: string[] = [];
    let work: string;

    const session = gcloudSession({
      prefix: 'nimbus-gcloud-storage-',
      command: ['storage'],
      timeoutMs: 120_000,
      setup: (t, dir) => {
        t.app.server.prependListener('request', (req) => {
          if (req.method === 'POST' && (req.url ?? '').includes('/upload/storage/v1/')) {
            uploads.push(req.url ?? '');
          }
        });
        work = dir;
      },
    });
    const { gcloud, ok } = session;

    before(() => session.open());
    after(() => session.close());

    it('creates, lists and describes a bucket', async () => {
      await ok(['buckets', 'create', `gs://${BUCKET}`, '--location=asia-northeast3']);
      const listed = await ok(['buckets', 'list', '--format=value(name)']);
      assert.ok(listed.stdout.split('\n').includes(BUCKET));
      const described = JSON.parse(
        (await ok(['buckets', 'describe', `gs://${BUCKET}`, '--format=json'])).stdout,
      ) as {
        name: string;
        location: string;
      };
      assert.equal(described.name, BUCKET);
      assert.equal(described.location, 'ASIA-NORTHEAST3');
    });

    it('copies a file up and down, cats and describes it', async () => {
      const local = join(work, 'hello.txt');
      writeFileSync(local, 'hello from gcloud\n');
      await ok(['cp', local, `gs://${BUCKET}/docs/hello.txt`]);
      assert.equal((await ok(['cat', `gs://${BUCKET}/docs/hello.txt`])).stdout, 'hello from gcloud\n');
      const back = join(work, 'hello.back');
      await ok(['cp', `gs://${BUCKET}/docs/hello.txt`, back]);
      assert.equal(readFileSync(back, 'utf8'), 'hello from gcloud\n');
      await ok(['objects', 'update', `gs://${BUCKET}/docs/hello.txt`, '--content-type=text/markdown']);
      const described = JSON.parse(
        (await ok(['objects', 'describe', `gs://${BUCKET}/docs/hello.txt`, '--format=json'])).stdout,
      ) as { content_type?: string; contentType?: string; size: number | string };
      assert.equal(described.content_type ?? described.contentType, 'text/markdown');
      assert.equal(Number(described.size), 18);
    });

    it('copies a folder tree recursively and lists it', async () => {
      const tree = join(work, 'tree');
      for (const dir of ['a', 'a/b', 'c']) {
        mkdirSync(join(tree, dir), { recursive: true });
      }
      // 500 files, as a course's dataset folder might be.
      const files = [
        ...Array.from({ length: 200 }, (_, i) => `a/${String(i)}.txt`),
        ...Array.from({ length: 200 }, (_, i) => `a/b/${String(i)}.txt`),
        ...Array.from({ length: 99 }, (_, i) => `c/${String(i)}.txt`),
        'top.txt',
      ];
      for (const file of files) {
        writeFileSync(join(tree, file), `content of ${file}\n`);
      }
      await ok(['cp', '-r', tree, `gs://${BUCKET}/`]);
      const listed = (await ok(['ls', '-r', `gs://${BUCKET}/tree/**`])).stdout
        .split('\n')
        .filter((l) => l.startsWith('gs://'));
      assert.deepEqual(listed.sort(), files.map((f) => `gs://${BUCKET}/tree/${f}`).sort());
      const du = (await ok(['du', '-s', `gs://${BUCKET}/tree`])).stdout;
      const expected = files.reduce((sum, f) => sum + `content of ${f}\n`.length, 0);
      assert.match(du, new RegExp(`^${String(expected)}\\s`));
    });

    it('rsyncs a folder, and a second rsync transfers nothing', async () => {
      const tree = join(work, 'tree');
      await ok(['rsync', '-r', tree, `gs://${BUCKET}/mirror`]);
      const before = uploads.length;
      await ok(['rsync', '-r', tree, `gs://${BUCKET}/mirror`]);
      assert.equal(uploads.length, before, 'the second rsync uploaded again');
      writeFileSync(join(tree, 'new.txt'), 'new\n');
      await ok(['rsync', '-r', tree, `gs://${BUCKET}/mirror`]);
      assert.equal(uploads.length, before + 1);
    });

    it('uploads and downloads a 200 MiB file through resumable uploads', async () => {
      const big = join(work, 'big.bin');
      const data = randomBytes(200 * 1024 * 1024);
      writeFileSync(big, data);
      await ok(['cp', big, `gs://${BUCKET}/big.bin`]);
      assert.ok(uploads.some((u) => u.includes('uploadType=resumable')));
      const back = join(work, 'big.back');
      await ok(['cp', `gs://${BUCKET}/big.bin`, back]);
      assert.ok(readFileSync(back).equals(data));
    });

    it('moves an object', async () => {
      await ok(['mv', `gs://${BUCKET}/docs/hello.txt`, `gs://${BUCKET}/moved/hello.txt`]);
      assert.equal((await ok(['cat', `gs://${BUCKET}/moved/hello.txt`])).stdout, 'hello from gcloud\n');
      const gone = await gcloud(['cat', `gs://${BUCKET}/docs/hello.txt`]);
      assert.notEqual(gone.code, 0);
    });

    it('removes objects recursively', async () => {
      await ok(['rm', '-r', `gs://${BUCKET}/mirror`]);
      const left = (await ok(['ls', `gs://${BUCKET}`])).stdout;
      assert.ok(!left.includes('/mirror/'));
      assert.ok(left.includes(`gs://${BUCKET}/moved/`));
    });
  },
);
