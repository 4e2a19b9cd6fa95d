/**
 * rclone (Debian package, scripts/debian-packages.txt) against a `nimbus start` process with both of
 * its storage backends, each doing `copy`, `sync` and `check` of a small tree:
 *   - the S3 backend (`provider = Other`, `endpoint` = the XML face's S3 port, an HMAC key);
 *   - the Google Cloud Storage backend, whose `endpoint` option points at the JSON API
 *     (`http://127.0.0.1:PORT/storage/v1/`) and whose `service_account_file` is a Nimbus key
 *     (keys.create) with Nimbus's /token as token_uri.
 * Both see the same store: what rclone wrote through one backend checks clean through the other.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  PROJECT,
  awsEnv,
  findTool,
  runTool,
  startS3Nimbus,
  type RunResult,
  type S3Nimbus,
} from './s3-clients.ts';

const RCLONE = findTool('rclone', ['/usr/bin/rclone']);
const SKIP = RCLONE === undefined ? 'rclone is not installed (Debian package rclone)' : false;
if (SKIP !== false) {
  console.log(`# s3-rclone: skipped: ${SKIP}`);
}

const TREE = ['top.txt', 'empty.bin', 'sub/one.bin', 'sub/two.txt', 'sub/deeper/three.bin'];

function writeTree(root: string): void {
  for (const [i, name] of TREE.entries()) {
    mkdirSync(join(root, name, '..'), { recursive: true });
    writeFileSync(join(root, name), name === 'empty.bin' ? Buffer.alloc(0) : randomBytes(512 + i * 4096));
  }
}

describe('rclone S3 and Google Cloud Storage backends', { skip: SKIP }, () => {
  let s: S3Nimbus;
  let env: Record<string, string>;
  let tree: string;

  const rclone = async (...args: string[]): Promise<RunResult> =>
    await runTool(RCLONE ?? 'rclone', ['--config', join(s.work, 'rclone.conf'), ...args], env, 120_000);
  const ok = async (...args: string[]): Promise<string> => {
    const result = await rclone(...args);
    assert.equal(result.code, 0, `rclone ${args.join(' ')}: ${result.stderr}`);
    return `${result.stdout}${result.stderr}`;
  };

  before(async () => {
    s = await startS3Nimbus('rclone-test');
    // A key file for the GCS backend: token_uri is Nimbus's /token.
    const key = await s.json(
      'POST',
      `/v1/projects/${PROJECT}/serviceAccounts/${encodeURIComponent(s.accountEmail)}/keys`,
      {},
    );
    assert.equal(key.status, 200, JSON.stringify(key.body));
    const keyJson = Buffer.from(String(key.body.privateKeyData), 'base64').toString('utf8');
    assert.equal((JSON.parse(keyJson) as { token_uri: string }).token_uri, `${s.nimbus.url}/token`);
    const keyFile = join(s.work, 'key.json');
    writeFileSync(keyFile, keyJson);
    writeFileSync(
      join(s.work, 'rclone.conf'),
      [
        '[nimbus-s3]',
        'type = s3',
        'provider = Other',
        `endpoint = ${s.s3Url}`,
        `access_key_id = ${s.accessId}`,
        `secret_access_key = ${s.secret}`,
        'region = us-east-1',
        '',
        '[nimbus-gcs]',
        'type = google cloud storage',
        `service_account_file = ${keyFile}`,
        `endpoint = ${s.nimbus.url}/storage/v1/`,
        `project_number = ${PROJECT}`,
        '',
      ].join('\n'),
    );
    // rclone's S3 backend refuses a custom CA bundle on plain HTTP: awsEnv drops AWS_CA_BUNDLE.
    env = awsEnv(s, { RCLONE_CONFIG: join(s.work, 'rclone.conf') });
    tree = join(s.work, 'tree');
    writeTree(tree);
  });

  after(async () => {
    await s.dispose();
  });

  for (const remote of ['nimbus-s3', 'nimbus-gcs'] as const) {
    it(`${remote}: copy, check, sync (deleting and changing) and check again`, async () => {
      const bucket = `rclone-${remote.slice(7)}`;
      await ok('mkdir', `${remote}:${bucket}`);
      const copied = await ok('copy', tree, `${remote}:${bucket}/tree`, '-v');
      assert.match(
        copied,
        new RegExp(`Transferred:\\s+${String(TREE.length)} / ${String(TREE.length)}, 100%`),
      );
      assert.match(await ok('check', tree, `${remote}:${bucket}/tree`), /0 differences found/);
      // The objects are in the store the JSON API serves.
      const listed = await s.json('GET', `/storage/v1/b/${bucket}/o?prefix=tree/`);
      const names = ((listed.body.items as { name: string }[] | undefined) ?? [])
        .map((item) => item.name)
        .sort();
      assert.deepEqual(names, TREE.map((name) => `tree/${name}`).sort());

      // A second sync of an unchanged tree transfers nothing.
      const unchanged = await ok('sync', tree, `${remote}:${bucket}/tree`, '-v');
      assert.doesNotMatch(unchanged, /: Copied \(/);

      // Change one file, delete another: sync copies one and deletes one remotely.
      const local = join(s.work, `tree-${remote}`);
      await ok('copy', `${remote}:${bucket}/tree`, local);
      writeFileSync(join(local, 'sub/two.txt'), 'changed contents');
      rmSync(join(local, 'top.txt'));
      const synced = await ok('sync', local, `${remote}:${bucket}/tree`, '-v');
      assert.match(synced, /sub\/two\.txt: Copied \(replaced existing\)/);
      assert.match(synced, /top\.txt: Deleted/);
      assert.match(await ok('check', local, `${remote}:${bucket}/tree`), /0 differences found/);
      // check is able to fail: the original tree now differs.
      const differs = await rclone('check', tree, `${remote}:${bucket}/tree`);
      assert.notEqual(differs.code, 0);
      assert.match(differs.stderr, /2 differences found/);
    });
  }

  it('what the S3 backend wrote checks clean through the GCS backend and back', async () => {
    await ok('mkdir', 'nimbus-s3:rclone-cross');
    await ok('copy', tree, 'nimbus-s3:rclone-cross/from-s3');
    assert.match(await ok('check', tree, 'nimbus-gcs:rclone-cross/from-s3'), /0 differences found/);
    await ok('copy', tree, 'nimbus-gcs:rclone-cross/from-gcs');
    assert.match(await ok('check', tree, 'nimbus-s3:rclone-cross/from-gcs'), /0 differences found/);
    // Server-side listing through either backend agrees.
    const viaS3 = await ok('lsf', '-R', 'nimbus-s3:rclone-cross');
    const viaGcs = await ok('lsf', '-R', 'nimbus-gcs:rclone-cross');
    assert.equal(viaS3, viaGcs);
  });
});
