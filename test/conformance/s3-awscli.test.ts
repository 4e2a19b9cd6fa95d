/**
 * The aws cli (Debian's `awscli` package, scripts/debian-packages.txt) against a `nimbus start`
 * process's XML face on its `--s3-port`, authenticated with an HMAC key of a storage-admin service
 * account: `s3 mb/cp/ls/rm/sync`, a 100 MiB multipart upload and download, `s3api` versioning and
 * conditional heads, and `s3 presign` URLs fetched over HTTP (a tampered one is refused).
 *
 * The client gets only endpoint and credential settings (AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, a region, a private HOME/AWS_CONFIG_FILE). Debian 12's aws cli 2.9 predates
 * AWS_ENDPOINT_URL_S3 (read since 2.13), so `--endpoint-url` carries the same value.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { awsEnv, findTool, runTool, startS3Nimbus, type RunResult, type S3Nimbus } from './s3-clients.ts';

const AWS = findTool('aws', ['/usr/bin/aws']);
const SKIP = AWS === undefined ? 'the aws cli is not installed (Debian package awscli)' : false;
if (SKIP !== false) {
  console.log(`# s3-awscli: skipped: ${SKIP}`);
}

const MIB = 1024 * 1024;

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

describe('aws cli against the XML face (HMAC SigV4)', { skip: SKIP }, () => {
  let s: S3Nimbus;
  let env: Record<string, string>;

  const aws = async (...args: string[]): Promise<RunResult> =>
    await runTool(AWS ?? 'aws', ['--endpoint-url', s.s3Url, ...args], env, 300_000);
  const ok = async (...args: string[]): Promise<string> => {
    const result = await aws(...args);
    assert.equal(result.code, 0, `aws ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    s = await startS3Nimbus('awscli-test');
    env = awsEnv(s);
    await ok('s3', 'mb', 's3://awscli-main');
  });

  after(async () => {
    await s.dispose();
  });

  it('s3 mb, cp up and down, ls, rm', async () => {
    assert.match(await ok('s3', 'ls'), /\sawscli-main$/m);
    const local = join(s.work, 'hello.txt');
    writeFileSync(local, 'hello from the aws cli\n');
    await ok('s3', 'cp', local, 's3://awscli-main/dir/hello.txt', '--only-show-errors');
    const listing = await ok('s3', 'ls', 's3://awscli-main/dir/');
    assert.match(listing, /\s23 hello\.txt$/m);
    const back = join(s.work, 'hello-back.txt');
    await ok('s3', 'cp', 's3://awscli-main/dir/hello.txt', back, '--only-show-errors');
    assert.equal(await sha256File(back), await sha256File(local));
    // The JSON face sees the same object.
    const meta = await s.json('GET', '/storage/v1/b/awscli-main/o/dir%2Fhello.txt');
    assert.equal(meta.status, 200);
    assert.equal(meta.body.size, '23');
    await ok('s3', 'rm', 's3://awscli-main/dir/hello.txt');
    // Nothing listed (the aws cli exits 1 when a listing matches nothing).
    const empty = await aws('s3', 'ls', 's3://awscli-main/dir/');
    assert.equal(empty.stdout, '');
    assert.equal(empty.stderr, '');
    const missing = await aws('s3', 'ls', 's3://awscli-no-such-bucket');
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /NoSuchBucket/);
  });

  it('s3 sync uploads a tree once; the second sync transfers nothing', async () => {
    const tree = join(s.work, 'tree');
    mkdirSync(join(tree, 'sub', 'deeper'), { recursive: true });
    const files = ['a.txt', 'b.bin', 'sub/c.txt', 'sub/deeper/d.txt'];
    for (const [i, name] of files.entries()) {
      writeFileSync(join(tree, name), randomBytes(100 + i * 1000));
    }
    const first = await ok('s3', 'sync', tree, 's3://awscli-main/tree', '--no-progress');
    assert.equal(first.match(/^upload: /gm)?.length, files.length, first);
    const second = await ok('s3', 'sync', tree, 's3://awscli-main/tree', '--no-progress');
    assert.equal(second.trim(), '', 'the second sync transferred something');
    const listed = await ok('s3', 'ls', 's3://awscli-main/tree/', '--recursive');
    assert.equal(listed.trim().split('\n').length, files.length, listed);
    // And down again into an empty directory: same bytes.
    const down = join(s.work, 'tree-down');
    await ok('s3', 'sync', 's3://awscli-main/tree', down, '--no-progress');
    for (const name of files) {
      assert.equal(await sha256File(join(down, name)), await sha256File(join(tree, name)), name);
    }
  });

  it('uploads 100 MiB as a multipart upload and downloads the same bytes', async () => {
    const big = join(s.work, 'big.bin');
    const out = createWriteStream(big);
    const chunk = randomBytes(MIB);
    for (let i = 0; i < 100; i += 1) {
      chunk.writeUInt32BE(i, 0);
      if (!out.write(chunk)) {
        await new Promise<void>((resolve) =>
          out.once('drain', () => {
            resolve();
          }),
        );
      }
    }
    await new Promise<void>((resolve, reject) => {
      out.end(resolve);
      out.once('error', reject);
    });
    await ok('s3', 'cp', big, 's3://awscli-main/big.bin', '--only-show-errors');
    const head = JSON.parse(
      await ok('s3api', 'head-object', '--bucket', 'awscli-main', '--key', 'big.bin'),
    ) as {
      ContentLength: number;
      ETag: string;
    };
    assert.equal(head.ContentLength, 100 * MIB);
    // The aws cli splits at 8 MiB: 13 parts, an S3 multipart ETag.
    assert.match(head.ETag, /^"[0-9a-f]{32}-13"$/);
    const meta = await s.json('GET', '/storage/v1/b/awscli-main/o/big.bin');
    assert.equal(meta.body.componentCount, 13);
    assert.equal(meta.body.md5Hash, undefined);
    const back = join(s.work, 'big-back.bin');
    await ok('s3', 'cp', 's3://awscli-main/big.bin', back, '--only-show-errors');
    assert.equal(await sha256File(back), await sha256File(big));
  });

  it('s3api versioning, list-object-versions and conditional head-object', async () => {
    await ok('s3', 'mb', 's3://awscli-versions');
    await ok(
      's3api',
      'put-bucket-versioning',
      '--bucket',
      'awscli-versions',
      '--versioning-configuration',
      'Status=Enabled',
    );
    const status = JSON.parse(await ok('s3api', 'get-bucket-versioning', '--bucket', 'awscli-versions')) as {
      Status?: string;
    };
    assert.equal(status.Status, 'Enabled');
    const local = join(s.work, 'v.txt');
    writeFileSync(local, 'one');
    await ok('s3', 'cp', local, 's3://awscli-versions/v.txt', '--only-show-errors');
    writeFileSync(local, 'two!');
    await ok('s3', 'cp', local, 's3://awscli-versions/v.txt', '--only-show-errors');
    const versions = JSON.parse(
      await ok('s3api', 'list-object-versions', '--bucket', 'awscli-versions', '--prefix', 'v.txt'),
    ) as { Versions: { Key: string; VersionId: string; IsLatest: boolean; Size: number }[] };
    assert.equal(versions.Versions.length, 2);
    assert.deepEqual(
      versions.Versions.map((v) => [v.Size, v.IsLatest]),
      [
        [4, true],
        [3, false],
      ],
    );
    const old = versions.Versions[1]?.VersionId ?? '';
    const oldCopy = join(s.work, 'v-old.txt');
    await ok(
      's3api',
      'get-object',
      '--bucket',
      'awscli-versions',
      '--key',
      'v.txt',
      '--version-id',
      old,
      oldCopy,
    );
    assert.equal(await sha256File(oldCopy), createHash('sha256').update('one').digest('hex'));

    const head = JSON.parse(
      await ok('s3api', 'head-object', '--bucket', 'awscli-versions', '--key', 'v.txt'),
    ) as {
      ETag: string;
    };
    assert.equal(head.ETag, `"${createHash('md5').update('two!').digest('hex')}"`);
    await ok(
      's3api',
      'head-object',
      '--bucket',
      'awscli-versions',
      '--key',
      'v.txt',
      '--if-match',
      head.ETag,
    );
    const mismatch = await aws(
      's3api',
      'head-object',
      '--bucket',
      'awscli-versions',
      '--key',
      'v.txt',
      '--if-match',
      '"0123456789abcdef0123456789abcdef"',
    );
    assert.notEqual(mismatch.code, 0);
    assert.match(mismatch.stderr, /\(412\)/);
    const unchanged = await aws(
      's3api',
      'head-object',
      '--bucket',
      'awscli-versions',
      '--key',
      'v.txt',
      '--if-none-match',
      head.ETag,
    );
    assert.notEqual(unchanged.code, 0);
    assert.match(unchanged.stderr, /\(304\)/);
    const missing = await aws('s3api', 'head-object', '--bucket', 'awscli-versions', '--key', 'nope');
    assert.match(missing.stderr, /\(404\)/);
  });

  it('s3 presign: the URL fetches the object; a tampered one is refused with 403', async () => {
    const local = join(s.work, 'shared.txt');
    writeFileSync(local, 'presigned bytes');
    await ok('s3', 'cp', local, 's3://awscli-main/shared.txt', '--only-show-errors');
    const url = (await ok('s3', 'presign', 's3://awscli-main/shared.txt', '--expires-in', '300')).trim();
    assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
    const got = await fetch(url);
    assert.equal(got.status, 200);
    assert.equal(await got.text(), 'presigned bytes');

    const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)?.[1] ?? '';
    const flipped = `${signature.startsWith('0') ? '1' : '0'}${signature.slice(1)}`;
    const tampered = await fetch(url.replace(signature, flipped));
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    // The signature is bound to the key: the same query on another object is refused too.
    const otherKey = await fetch(url.replace('/shared.txt?', '/big.bin?'));
    assert.equal(otherKey.status, 403);
    // Without its signature the query is refused (never anonymous access).
    const unsigned = await fetch(url.replace(/&X-Amz-Signature=[0-9a-f]{64}/, ''));
    assert.ok(unsigned.status === 400 || unsigned.status === 403, String(unsigned.status));
  });
});
