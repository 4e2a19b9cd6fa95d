/**
 * Google's official Node client (@google-cloud/storage 7.22.0) against a started Nimbus: buckets,
 * simple/multipart/resumable uploads, validated and ranged downloads, listing, metadata,
 * preconditions and object versioning. The client sends no Authorization header to a custom
 * endpoint, so the server's anonymous owner mode applies.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Bucket, GetFilesResponse, Storage as StorageClient } from '@google-cloud/storage';
import { startTestServer, tempDir, type TestApp } from '../helpers.ts';

// Set before the client is imported (dynamically, below): never probe the metadata server.
process.env.METADATA_SERVER_DETECTION = 'none';
delete process.env.STORAGE_EMULATOR_HOST;

const PROJECT = 'nimbus-local';
const MiB = 1024 * 1024;
/** Routes another engineer is adding (copy/rewrite/compose, bucket IAM): tested once served. */
const NO_ROUTE = /^The requested URL .* was not found/;

type Server = TestApp & { url: string; port: number };

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

/** Refuses any TCP connection that would leave 127.0.0.1 (the client must only talk to Nimbus). */
function loopbackOnly(): () => void {
  const proto = net.Socket.prototype as unknown as { connect: (...args: unknown[]) => net.Socket };
  const original = proto.connect;
  proto.connect = function (this: net.Socket, ...args: unknown[]): net.Socket {
    const first = args[0];
    const host = typeof first === 'object' && first !== null ? (first as { host?: unknown }).host : undefined;
    if (typeof host === 'string' && host !== '127.0.0.1' && host !== 'localhost') {
      throw new Error(`test refused a connection to ${host}`);
    }
    return original.apply(this, args);
  };
  return () => {
    proto.connect = original;
  };
}

/** The HTTP status of a client error (ApiError has `code`; gaxios errors carry `response.status`). */
function status(error: unknown): number | undefined {
  const { code, response } = error as { code?: unknown; response?: { status?: unknown } };
  if (typeof code === 'number') {
    return code;
  }
  return typeof response?.status === 'number' ? response.status : undefined;
}

async function rejectsWith(promise: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal(status(error), code, `expected ${code}, got ${String(error)}`);
    return true;
  });
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

describe('@google-cloud/storage against Nimbus', () => {
  let server: Server;
  let storage: StorageClient;
  let restoreNet: () => void;
  let dir: string;
  const seen: Seen[] = [];
  let counter = 0;
  const bucketName = (): string => `conf-${process.pid}-${++counter}`;

  /** Whether the server has a route for method+path (an unrouted URL is Nimbus's generic 404). */
  const served = async (method: 'GET' | 'POST', path: string): Promise<boolean> => {
    const res = await server.app.inject({ method, url: path, payload: method === 'POST' ? {} : undefined });
    const body = res.json<{ error?: { message?: string } }>();
    return !(res.statusCode === 404 && NO_ROUTE.test(body.error?.message ?? ''));
  };

  before(async () => {
    restoreNet = loopbackOnly();
    dir = tempDir('nimbus-storage-node-');
    server = await startTestServer();
    // A request log (the client's side of every exchange), for assertions and diagnosis.
    server.app.server.on('request', (request: IncomingMessage) => {
      seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers });
    });
    const { Storage } = await import('@google-cloud/storage');
    storage = new Storage({ apiEndpoint: server.url, projectId: PROJECT });
  });

  after(async () => {
    await server.dispose();
    restoreNet();
  });

  it('buckets: create, get, getMetadata, setMetadata, list, delete (non-empty fails)', async () => {
    const name = bucketName();
    const [bucket] = await storage.createBucket(name, { location: 'US' });
    assert.equal(bucket.name, name);
    const [exists] = await bucket.exists();
    assert.equal(exists, true);

    const [got] = await storage.bucket(name).get();
    assert.equal(got.metadata.name, name);
    const [metadata] = await bucket.getMetadata();
    assert.equal(metadata.location, 'US');
    assert.equal(metadata.storageClass, 'STANDARD');
    assert.equal(metadata.metageneration, '1');

    const [patched] = await bucket.setMetadata({
      labels: { env: 'test', team: 'nimbus' },
      versioning: { enabled: true },
    });
    assert.deepEqual(patched.labels, { env: 'test', team: 'nimbus' });
    assert.equal(patched.versioning?.enabled, true);
    const [reread] = await bucket.getMetadata();
    assert.equal(reread.metageneration, '2');
    assert.deepEqual(reread.labels, { env: 'test', team: 'nimbus' });
    await bucket.setLabels({ env: 'prod' });
    const [labels] = await bucket.getLabels();
    assert.deepEqual(labels, { env: 'prod', team: 'nimbus' });

    await rejectsWith(storage.createBucket(name), 409);

    const [buckets] = await storage.getBuckets({ prefix: 'conf-' });
    assert.ok(buckets.some((b) => b.name === name));

    await bucket.file('keep.txt').save('x');
    await rejectsWith(bucket.delete(), 409);
    await bucket.file('keep.txt').delete();
    // With versioning on, the deleted object lives on as a noncurrent version.
    await rejectsWith(bucket.delete(), 409);
    await bucket.deleteFiles({ versions: true });
    await bucket.delete();
    const [gone] = await bucket.exists();
    assert.equal(gone, false);
    await rejectsWith(storage.bucket(name).getMetadata(), 404);
  });

  it('bucket lifecycle: addLifecycleRule, read back, and the rule runs', async () => {
    const [bucket] = await storage.createBucket(bucketName());
    await bucket.addLifecycleRule({
      action: { type: 'Delete' },
      condition: { age: 30, matchesPrefix: ['tmp/'] },
    });
    await bucket.addLifecycleRule({
      action: { type: 'SetStorageClass', storageClass: 'NEARLINE' },
      condition: { age: 60 },
    });
    const [metadata] = await bucket.getMetadata();
    const rules = metadata.lifecycle?.rule ?? [];
    assert.equal(rules.length, 2);
    assert.equal(rules[0]?.action.type, 'Delete');
    assert.deepEqual(rules[0]?.condition.matchesPrefix, ['tmp/']);
    assert.equal(rules[1]?.action.storageClass, 'NEARLINE');
    await bucket.setMetadata({ lifecycle: null });
    const [cleared] = await bucket.getMetadata();
    assert.equal(cleared.lifecycle?.rule?.length ?? 0, 0);
  });

  describe('objects', () => {
    let bucket: Bucket;

    before(async () => {
      [bucket] = await storage.createBucket(bucketName());
    });

    it('save: multipart (resumable:false) and default, then download and exists', async () => {
      const small = bucket.file('dir/small.txt');
      const before = seen.length;
      await small.save('hello nimbus', { resumable: false, contentType: 'text/plain' });
      assert.ok(
        seen.slice(before).some((r) => r.method === 'POST' && r.url.includes('uploadType=multipart')),
        'resumable:false uses a multipart upload',
      );
      const [data] = await small.download();
      assert.equal(data.toString(), 'hello nimbus');
      const [meta] = await small.getMetadata();
      assert.equal(meta.contentType, 'text/plain');
      assert.equal(meta.size, '12');
      assert.equal(meta.md5Hash, md5(Buffer.from('hello nimbus')));

      const payload = randomBytes(300 * 1024);
      const plain = bucket.file('dir/default.bin');
      await plain.save(payload);
      const [back] = await plain.download();
      assert.ok(back.equals(payload));
      assert.deepEqual(await plain.exists(), [true]);
      assert.deepEqual(await bucket.file('dir/missing').exists(), [false]);
      await rejectsWith(bucket.file('dir/missing').download(), 404);
    });

    it('a large resumable upload in chunks (bucket.upload) and streamed (createWriteStream)', async () => {
      const big = randomBytes(20 * MiB + 12345);
      const path = join(dir, 'big.bin');
      writeFileSync(path, big);

      const before = seen.length;
      const [file] = await bucket.upload(path, {
        destination: 'big/chunked.bin',
        resumable: true,
        chunkSize: 8 * MiB,
        validation: 'crc32c',
      });
      const puts = seen.slice(before).filter((r) => r.method === 'PUT' && r.url.includes('upload_id='));
      assert.equal(puts.length, 3, 'three 8 MiB-bounded chunks');
      assert.ok(puts.every((r) => /^bytes \d+-\d+\/(\d+|\*)$/.test(String(r.headers['content-range']))));
      const [meta] = await file.getMetadata();
      assert.equal(Number(meta.size), big.length);
      assert.equal(meta.md5Hash, md5(big));

      // The default resumable mode: one streamed PUT with `Content-Range: bytes 0-*/*`.
      const streamed = bucket.file('big/streamed.bin');
      await new Promise<void>((resolve, reject) => {
        const out = streamed.createWriteStream({ resumable: true, validation: 'md5' });
        out.on('error', reject).on('finish', resolve);
        out.end(big);
      });
      const [streamedMeta] = await streamed.getMetadata();
      assert.equal(Number(streamedMeta.size), big.length);

      const [whole] = await file.download({ validation: 'crc32c' });
      assert.ok(whole.equals(big));
      const [whole2] = await streamed.download({ validation: 'md5' });
      assert.ok(whole2.equals(big));
    });

    it('downloads: validated whole and by byte range', async () => {
      const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
      const file = bucket.file('ranges.txt');
      await file.save(data, { resumable: false, validation: 'crc32c' });
      const [crc] = await file.download({ validation: 'crc32c' });
      assert.ok(crc.equals(data));
      const [viaMd5] = await file.download({ validation: 'md5' });
      assert.ok(viaMd5.equals(data));
      const [middle] = await file.download({ start: 10, end: 15 });
      assert.equal(middle.toString(), 'abcdef');
      const [tail] = await file.download({ start: 30 });
      assert.equal(tail.toString(), 'uvwxyz');
      const [head] = await file.download({ end: 3 });
      assert.equal(head.toString(), '0123');
    });

    it('checksums: validated uploads are kept; a wrong declared hash is refused by the server', async () => {
      const data = randomBytes(64 * 1024);
      for (const validation of ['crc32c', 'md5'] as const) {
        for (const resumable of [false, true]) {
          const file = bucket.file(`checked/${validation}-${resumable}`);
          await file.save(data, { resumable, validation });
          // The client deletes an upload whose returned hash does not match: it must still be there.
          assert.deepEqual(await file.exists(), [true]);
          const [meta] = await file.getMetadata();
          assert.equal(meta.md5Hash, md5(data));
        }
      }
      const wrong = bucket.file('checked/wrong-md5');
      await rejectsWith(
        wrong.save(data, {
          resumable: false,
          validation: false,
          metadata: { md5Hash: md5(Buffer.from('other')) },
        }),
        400,
      );
      assert.deepEqual(await wrong.exists(), [false]);

      // A resumable session finished with a wrong X-Goog-Hash is refused too, as on Google.
      const resumable = bucket.file('checked/wrong-resumable');
      const [uri] = await resumable.createResumableUpload();
      assert.ok(uri.startsWith(`${server.url}/upload/storage/v1/b/`), uri);
      const refused = await fetch(uri, {
        method: 'PUT',
        headers: {
          'content-range': `bytes 0-${data.length - 1}/${data.length}`,
          'x-goog-hash': `md5=${md5(Buffer.from('x'))}`,
        },
        body: data,
      });
      assert.equal(refused.status, 400);
      assert.deepEqual(await resumable.exists(), [false]);
    });

    it('getFiles: prefix, delimiter and manual paging', async () => {
      const listing = (await storage.createBucket(bucketName()))[0];
      const names = ['a/1.txt', 'a/2.txt', 'a/sub/3.txt', 'b/4.txt', 'c.txt', 'd.txt', 'e.txt'];
      for (const name of names) {
        await listing.file(name).save(name, { resumable: false });
      }
      const [underA] = await listing.getFiles({ prefix: 'a/' });
      assert.deepEqual(
        underA.map((f) => f.name),
        ['a/1.txt', 'a/2.txt', 'a/sub/3.txt'],
      );

      const [top, , response] = await listing.getFiles({ delimiter: '/', autoPaginate: false });
      assert.deepEqual(
        top.map((f) => f.name),
        ['c.txt', 'd.txt', 'e.txt'],
      );
      assert.deepEqual((response as { prefixes?: string[] }).prefixes, ['a/', 'b/']);
      const [, , nested] = await listing.getFiles({ prefix: 'a/', delimiter: '/', autoPaginate: false });
      assert.deepEqual((nested as { prefixes?: string[] }).prefixes, ['a/sub/']);

      const pages: string[][] = [];
      let query: { autoPaginate: false; maxResults: number; pageToken?: string } | null = {
        autoPaginate: false,
        maxResults: 3,
      };
      while (query !== null) {
        const response: GetFilesResponse = await listing.getFiles(query);
        const [files, next] = response;
        pages.push(files.map((f) => f.name));
        query = (next as typeof query | null) ?? null;
      }
      assert.deepEqual(pages, [names.slice(0, 3), names.slice(3, 6), names.slice(6)]);

      await listing.deleteFiles();
      await listing.delete();
    });

    it('file metadata: getMetadata, setMetadata (custom metadata, contentType)', async () => {
      const file = bucket.file('meta.json');
      await file.save('{}', {
        resumable: false,
        metadata: { contentType: 'application/json', metadata: { a: '1' } },
      });
      const [meta] = await file.getMetadata();
      assert.equal(meta.contentType, 'application/json');
      assert.deepEqual(meta.metadata, { a: '1' });
      assert.equal(meta.metageneration, '1');

      const [updated] = await file.setMetadata({ contentType: 'text/plain', metadata: { b: '2' } });
      assert.equal(updated.contentType, 'text/plain');
      assert.deepEqual(updated.metadata, { a: '1', b: '2' });
      assert.equal(updated.metageneration, '2');
      const [removed] = await file.setMetadata({ metadata: { a: null } });
      assert.deepEqual(removed.metadata, { b: '2' });
      const [reread] = await file.getMetadata();
      assert.equal(reread.contentType, 'text/plain');
      assert.equal(reread.metageneration, '3');
    });

    it('preconditions: ifGenerationMatch 0 on an existing object, ifMetagenerationMatch', async () => {
      const file = bucket.file('guarded.txt');
      await file.save('one', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
      await rejectsWith(
        file.save('two', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
        412,
      );
      await rejectsWith(
        file.save('two', { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } }),
        412,
      );
      const [meta] = await file.getMetadata();
      await rejectsWith(file.setMetadata({ metadata: { x: 'y' } }, { ifMetagenerationMatch: 99 }), 412);
      const [ok] = await file.setMetadata(
        { metadata: { x: 'y' } },
        { ifMetagenerationMatch: Number(meta.metageneration) },
      );
      assert.equal(ok.metageneration, '2');
      await file.save('two', {
        resumable: false,
        preconditionOpts: { ifGenerationMatch: Number(meta.generation) },
      });
      const [data] = await file.download();
      assert.equal(data.toString(), 'two');
      await rejectsWith(file.delete({ ifGenerationMatch: Number(meta.generation) }), 412);
    });

    it('versioning: both generations listed, the old one downloadable, delete', async () => {
      const [versioned] = await storage.createBucket(bucketName(), { versioning: { enabled: true } });
      const file = versioned.file('v.txt');
      await file.save('first', { resumable: false });
      const [first] = await file.getMetadata();
      await file.save('second', { resumable: false });
      const [second] = await file.getMetadata();
      assert.notEqual(first.generation, second.generation);

      const [all] = await versioned.getFiles({ versions: true });
      assert.deepEqual(
        all.map((f) => [f.name, String(f.metadata.generation)]),
        [
          ['v.txt', String(first.generation)],
          ['v.txt', String(second.generation)],
        ],
      );
      const [liveOnly] = await versioned.getFiles();
      assert.equal(liveOnly.length, 1);

      const [old] = await versioned.file('v.txt', { generation: Number(first.generation) }).download();
      assert.equal(old.toString(), 'first');
      const [current] = await file.download();
      assert.equal(current.toString(), 'second');

      await file.delete();
      assert.deepEqual(await file.exists(), [false]);
      const [afterDelete] = await versioned.getFiles({ versions: true });
      assert.equal(afterDelete.length, 2);
      await versioned.file('v.txt', { generation: Number(first.generation) }).delete();
      await versioned.file('v.txt', { generation: Number(second.generation) }).delete();
      const [empty] = await versioned.getFiles({ versions: true });
      assert.equal(empty.length, 0);
      await versioned.delete();
    });

    it('copy, move and compose', async (t) => {
      if (!(await served('POST', `/storage/v1/b/${bucket.name}/o/a/rewriteTo/b/${bucket.name}/o/b`))) {
        t.skip('the rewrite route is not registered yet');
        return;
      }
      const source = bucket.file('copy/source.txt');
      await source.save('copied bytes', { resumable: false, metadata: { metadata: { k: 'v' } } });
      const [copy] = await source.copy(bucket.file('copy/dest.txt'));
      const [copied] = await copy.download();
      assert.equal(copied.toString(), 'copied bytes');
      const [copyMeta] = await copy.getMetadata();
      assert.deepEqual(copyMeta.metadata, { k: 'v' });

      await copy.move('copy/moved.txt');
      const [moved] = await bucket.file('copy/moved.txt').download();
      assert.equal(moved.toString(), 'copied bytes');
      assert.deepEqual(await bucket.file('copy/dest.txt').exists(), [false]);

      await bucket.file('copy/part2.txt').save(' and more', { resumable: false });
      const [composed] = await bucket.combine(
        [bucket.file('copy/moved.txt'), bucket.file('copy/part2.txt')],
        'copy/composed.txt',
      );
      const [whole] = await composed.download({ validation: 'crc32c' });
      assert.equal(whole.toString(), 'copied bytes and more');
      const [meta] = await composed.getMetadata();
      assert.equal(meta.componentCount, 2);
    });

    it('bucket IAM: getPolicy and setPolicy', async (t) => {
      if (!(await served('GET', `/storage/v1/b/${bucket.name}/iam`))) {
        t.skip('the bucket IAM routes are not registered yet');
        return;
      }
      const [policy] = await bucket.iam.getPolicy();
      const bindings = [
        ...(policy.bindings ?? []),
        { role: 'roles/storage.objectViewer', members: ['allUsers'] },
      ];
      const [updated] = await bucket.iam.setPolicy({ ...policy, bindings });
      assert.ok(
        updated.bindings.some(
          (b) => b.role === 'roles/storage.objectViewer' && b.members.includes('allUsers'),
        ),
      );
      const [reread] = await bucket.iam.getPolicy();
      assert.ok(reread.bindings.some((b) => b.role === 'roles/storage.objectViewer'));
      const [allowed] = await bucket.iam.testPermissions(['storage.objects.get', 'storage.buckets.delete']);
      assert.deepEqual(allowed, { 'storage.objects.get': true, 'storage.buckets.delete': true });
    });
  });
});
