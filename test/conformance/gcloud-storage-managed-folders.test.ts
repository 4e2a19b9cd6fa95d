/**
 * `gcloud storage managed-folders` (the real Google Cloud CLI) against a Nimbus server started
 * in-process: create (nested, no parent needed), list, describe, IAM bindings on a folder, delete,
 * and `gcloud storage rm -r gs://BUCKET`, which lists and deletes managed folders before the bucket
 * (on a bucket with uniform bucket-level access, and on one without, where the listing is a 412
 * that gcloud passes over).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findGcloud, gcloudSession } from '../gcloud-cli.ts';
import { bearer } from '../helpers.ts';

const GCLOUD = findGcloud();
const BUCKET = 'gcloud-managed-folders';
const FINE = 'gcloud-managed-folders-acl';

describe(
  'gcloud storage managed-folders against Nimbus',
  { skip: GCLOUD === undefined ? 'gcloud not installed' : false },
  () => {
    const session = gcloudSession({
      prefix: 'nimbus-gcloud-managed-folders-',
      command: ['storage'],
      timeoutMs: 120_000,
    });
    const { gcloud: run, ok } = session;
    const api = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
      const { t } = session;
      const res = await fetch(`${t.url}${path}`, { headers: bearer(t.ownerToken) });
      const text = await res.text();
      return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
    };
    const folderNames = async (bucket: string): Promise<string[]> => {
      const listed = await api(`/storage/v1/b/${bucket}/managedFolders`);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      return ((listed.body.items ?? []) as { name: string }[]).map((item) => item.name);
    };

    before(async () => {
      await session.open();
      await ok(['buckets', 'create', `gs://${BUCKET}`, '--uniform-bucket-level-access']);
    });

    after(() => session.close());

    it('creates nested managed folders without their parents, lists and describes them', async () => {
      await ok(['managed-folders', 'create', `gs://${BUCKET}/team/`, `gs://${BUCKET}/data/2024/raw/`]);
      assert.deepEqual(await folderNames(BUCKET), ['data/2024/raw/', 'team/']);

      const listed = await ok(['managed-folders', 'list', `gs://${BUCKET}`]);
      assert.match(listed.stdout, new RegExp(`gs://${BUCKET}/data/2024/raw/`));
      assert.match(listed.stdout, new RegExp(`gs://${BUCKET}/team/`));

      const described = JSON.parse(
        (await ok(['managed-folders', 'describe', `gs://${BUCKET}/data/2024/raw/`, '--format=json'])).stdout,
      ) as Record<string, unknown>;
      assert.equal(described.name, 'data/2024/raw/');
      assert.equal(described.bucket, BUCKET);
      assert.equal(String(described.metageneration), '1');

      const missing = await run(['managed-folders', 'describe', `gs://${BUCKET}/nothing/`]);
      assert.notEqual(missing.code, 0);
      const taken = await run(['managed-folders', 'create', `gs://${BUCKET}/team/`]);
      assert.notEqual(taken.code, 0);
    });

    it('sets and reads an IAM binding on a managed folder', async () => {
      await ok([
        'managed-folders',
        'add-iam-policy-binding',
        `gs://${BUCKET}/team/`,
        '--member=projectViewer:nimbus-local',
        '--role=roles/storage.objectViewer',
      ]);
      const policy = JSON.parse(
        (await ok(['managed-folders', 'get-iam-policy', `gs://${BUCKET}/team/`, '--format=json'])).stdout,
      ) as { bindings?: { role: string; members: string[] }[] };
      assert.deepEqual(policy.bindings, [
        { role: 'roles/storage.objectViewer', members: ['projectViewer:nimbus-local'] },
      ]);
      const stored = await api(`/storage/v1/b/${BUCKET}/managedFolders/team%2F/iam`);
      assert.deepEqual(stored.body.bindings, policy.bindings);
    });

    it('refuses to delete a managed folder that still holds an object', async () => {
      await ok(['managed-folders', 'create', `gs://${BUCKET}/scratch/`, `gs://${BUCKET}/scratch/inner/`]);
      const local = join(session.dir, 'scratch.txt');
      writeFileSync(local, 'scratch\n');
      await ok(['cp', local, `gs://${BUCKET}/scratch/inner/file.txt`]);
      const refused = await run(['managed-folders', 'delete', `gs://${BUCKET}/scratch/inner/`]);
      assert.notEqual(refused.code, 0, 'a managed folder holding an object was deleted');
      assert.match(refused.stderr, /not empty/);
      assert.deepEqual(await folderNames(BUCKET), ['data/2024/raw/', 'scratch/', 'scratch/inner/', 'team/']);
    });

    // gcloud finds a managed folder named by a folder URL through objects.list with
    // includeFoldersAsPrefixes=True.
    it('rm -r on a folder URL removes its objects and managed folders', async () => {
      await ok(['rm', '-r', `gs://${BUCKET}/scratch/`]);
      assert.deepEqual(await folderNames(BUCKET), ['data/2024/raw/', 'team/']);
    });

    it('deletes an empty managed folder', async () => {
      await ok(['managed-folders', 'create', `gs://${BUCKET}/empty/`]);
      await ok(['managed-folders', 'delete', `gs://${BUCKET}/empty/`]);
      assert.equal((await api(`/storage/v1/b/${BUCKET}/managedFolders/empty%2F`)).status, 404);
    });

    it('rm -r removes objects, managed folders and the bucket', async () => {
      const local = join(session.dir, 'note.txt');
      writeFileSync(local, 'note\n');
      await ok(['cp', local, `gs://${BUCKET}/team/note.txt`]);
      await ok(['cp', local, `gs://${BUCKET}/data/2024/raw/note.txt`]);
      await ok(['cp', local, `gs://${BUCKET}/top.txt`]);
      const removed = await ok(['rm', '-r', `gs://${BUCKET}`]);
      assert.match(removed.stderr, /Removing managed folders/);
      assert.match(removed.stderr, new RegExp(`Removing gs://${BUCKET}/team/`));
      const bucket = await api(`/storage/v1/b/${BUCKET}`);
      assert.equal(bucket.status, 404, JSON.stringify(bucket.body));
    });

    it('rm -r removes a bucket without uniform bucket-level access', async () => {
      await ok(['buckets', 'create', `gs://${FINE}`]);
      const local = join(session.dir, 'fine.txt');
      writeFileSync(local, 'fine\n');
      await ok(['cp', local, `gs://${FINE}/a/fine.txt`]);
      await ok(['rm', '-r', `gs://${FINE}`]);
      const bucket = await api(`/storage/v1/b/${FINE}`);
      assert.equal(bucket.status, 404, JSON.stringify(bucket.body));
    });
  },
);
