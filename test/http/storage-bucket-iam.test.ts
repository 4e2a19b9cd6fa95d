/**
 * Bucket IAM (storage.buckets.getIamPolicy / setIamPolicy / testIamPermissions) through app.inject,
 * and that bucket bindings are enforced on object calls: `allUsers` makes objects public, a
 * service account granted roles on one bucket can use that bucket and no other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { injector, type Method, startTestApp, withBinding, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const PUBLIC = 'iam-public-bucket';
const PRIVATE = 'iam-private-bucket';

describe('Cloud Storage bucket IAM (JSON API v1)', () => {
  let t: TestApp;

  const call = injector(() => t);

  const owner = (method: Method, url: string, payload?: object) => call(method, url, t.ownerToken, payload);

  const upload = async (bucket: string, name: string, text: string, token = t.ownerToken) =>
    call('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${name}`, token, Buffer.from(text), {
      'content-type': 'text/plain',
    });

  const grant = async (bucket: string, role: string, member: string): Promise<Json> => {
    const current = (await owner('GET', `/storage/v1/b/${bucket}/iam`)).json<Json>();
    const res = await owner('PUT', `/storage/v1/b/${bucket}/iam`, {
      ...current,
      bindings: withBinding(current, role, member),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Json>();
  };

  const serviceAccountToken = async (accountId: string): Promise<{ email: string; token: string }> => {
    const created = await owner('POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId });
    assert.equal(created.statusCode, 200, created.body);
    const email = created.json<{ email: string }>().email;
    const minted = await owner('POST', `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`, {
      scope: ['https://www.googleapis.com/auth/cloud-platform'],
    });
    assert.equal(minted.statusCode, 200, minted.body);
    return { email, token: minted.json<{ accessToken: string }>().accessToken };
  };

  before(async () => {
    t = await startTestApp({ anonymous: 'none' });
    for (const name of [PUBLIC, PRIVATE]) {
      const res = await owner('POST', `/storage/v1/b?project=${PROJECT}`, { name });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((await upload(name, 'hello.txt', `hello from ${name}`)).statusCode, 200);
    }
  });
  after(async () => {
    await t.dispose();
  });

  it('returns a storage#policy for a bucket without one', async () => {
    for (const prefix of ['/storage/v1', '']) {
      const res = await owner('GET', `${prefix}/b/${PRIVATE}/iam`);
      assert.equal(res.statusCode, 200, res.body);
      const policy = res.json<Json>();
      assert.equal(policy.kind, 'storage#policy');
      assert.equal(policy.resourceId, `projects/_/buckets/${PRIVATE}`);
      assert.equal(policy.version, 1);
      assert.equal(typeof policy.etag, 'string');
      assert.deepEqual(policy.bindings, []);
    }
  });

  it('sets a policy, changes the etag and refuses a stale etag with 409', async () => {
    const before = (await owner('GET', `/storage/v1/b/${PRIVATE}/iam`)).json<Json>();
    const set = await owner('PUT', `/b/${PRIVATE}/iam`, {
      kind: 'storage#policy',
      resourceId: `projects/_/buckets/${PRIVATE}`,
      etag: before.etag,
      bindings: [{ role: 'roles/storage.legacyBucketReader', members: ['projectViewer:nimbus-local'] }],
    });
    assert.equal(set.statusCode, 200, set.body);
    const policy = set.json<Json>();
    assert.equal(policy.kind, 'storage#policy');
    assert.notEqual(policy.etag, before.etag);
    assert.deepEqual(policy.bindings, [
      { role: 'roles/storage.legacyBucketReader', members: ['projectViewer:nimbus-local'] },
    ]);
    const read = (await owner('GET', `/storage/v1/b/${PRIVATE}/iam`)).json<Json>();
    assert.deepEqual(read, policy);
    const stale = await owner('PUT', `/storage/v1/b/${PRIVATE}/iam`, { etag: before.etag, bindings: [] });
    assert.equal(stale.statusCode, 409, stale.body);
    const unknownRole = await owner('PUT', `/storage/v1/b/${PRIVATE}/iam`, {
      bindings: [{ role: 'roles/storage.noSuchRole', members: ['allUsers'] }],
    });
    assert.equal(unknownRole.statusCode, 400);
    const unknownField = await owner('PUT', `/storage/v1/b/${PRIVATE}/iam`, { bindings: [], extra: 1 });
    assert.equal(unknownField.statusCode, 400);
  });

  it('allUsers roles/storage.objectViewer makes objects readable without credentials', async () => {
    const denied = await call('GET', `/storage/v1/b/${PUBLIC}/o/hello.txt?alt=media`, undefined);
    assert.equal(denied.statusCode, 403, denied.body);
    const policy = await grant(PUBLIC, 'roles/storage.objectViewer', 'allUsers');
    assert.deepEqual(policy.bindings, [{ role: 'roles/storage.objectViewer', members: ['allUsers'] }]);

    const media = await call('GET', `/storage/v1/b/${PUBLIC}/o/hello.txt?alt=media`, undefined);
    assert.equal(media.statusCode, 200, media.body);
    assert.equal(media.body, `hello from ${PUBLIC}`);
    const download = await call('GET', `/download/storage/v1/b/${PUBLIC}/o/hello.txt`, undefined);
    assert.equal(download.statusCode, 200);
    const list = await call('GET', `/b/${PUBLIC}/o`, undefined);
    assert.equal(list.statusCode, 200, list.body);
    // Viewing grants no writes, and the other bucket stays private.
    const anonymousUpload = await call(
      'POST',
      `/upload/storage/v1/b/${PUBLIC}/o?uploadType=media&name=anon.txt`,
      undefined,
      Buffer.from('x'),
      { 'content-type': 'text/plain' },
    );
    assert.equal(anonymousUpload.statusCode, 403, anonymousUpload.body);
    const other = await call('GET', `/storage/v1/b/${PRIVATE}/o/hello.txt?alt=media`, undefined);
    assert.equal(other.statusCode, 403);
    // Nor may an anonymous caller read or change the bucket's policy.
    assert.equal((await call('GET', `/storage/v1/b/${PUBLIC}/iam`, undefined)).statusCode, 403);
    assert.equal(
      (await call('PUT', `/storage/v1/b/${PUBLIC}/iam`, undefined, { bindings: [] })).statusCode,
      403,
    );

    // Removing the binding makes the object private again.
    const current = (await owner('GET', `/storage/v1/b/${PUBLIC}/iam`)).json<Json>();
    const cleared = await owner('PUT', `/storage/v1/b/${PUBLIC}/iam`, { etag: current.etag, bindings: [] });
    assert.equal(cleared.statusCode, 200, cleared.body);
    const again = await call('GET', `/storage/v1/b/${PUBLIC}/o/hello.txt?alt=media`, undefined);
    assert.equal(again.statusCode, 403);
  });

  it('bucket bindings grant a service account object access on that bucket only', async () => {
    const { email, token } = await serviceAccountToken('bucket-writer');
    assert.equal((await upload(PRIVATE, 'sa.txt', 'nope', token)).statusCode, 403);
    await grant(PRIVATE, 'roles/storage.objectAdmin', `serviceAccount:${email}`);
    assert.equal((await upload(PRIVATE, 'sa.txt', 'written by sa', token)).statusCode, 200);
    const read = await call('GET', `/storage/v1/b/${PRIVATE}/o/sa.txt?alt=media`, token);
    assert.equal(read.body, 'written by sa');
    // Copy needs get on the source bucket: PUBLIC grants the account nothing.
    const copyIn = await call(
      'POST',
      `/storage/v1/b/${PUBLIC}/o/hello.txt/copyTo/b/${PRIVATE}/o/copied.txt`,
      token,
    );
    assert.equal(copyIn.statusCode, 403, copyIn.body);
    // ... and create on the destination bucket.
    const copyOut = await call(
      'POST',
      `/storage/v1/b/${PRIVATE}/o/sa.txt/copyTo/b/${PUBLIC}/o/copied.txt`,
      token,
    );
    assert.equal(copyOut.statusCode, 403, copyOut.body);
    const within = await call(
      'POST',
      `/storage/v1/b/${PRIVATE}/o/sa.txt/copyTo/b/${PRIVATE}/o/copied.txt`,
      token,
    );
    assert.equal(within.statusCode, 200, within.body);
    const composed = await call('POST', `/storage/v1/b/${PRIVATE}/o/both.txt/compose`, token, {
      sourceObjects: [{ name: 'sa.txt' }, { name: 'copied.txt' }],
    });
    assert.equal(composed.statusCode, 200, composed.body);
    // objectAdmin holds no bucket IAM permissions.
    assert.equal((await call('GET', `/storage/v1/b/${PRIVATE}/iam`, token)).statusCode, 403);
  });

  it('testPermissions answers the subset the caller holds', async () => {
    const { email, token } = await serviceAccountToken('bucket-viewer');
    await grant(PRIVATE, 'roles/storage.objectViewer', `serviceAccount:${email}`);
    const query =
      'permissions=storage.objects.get&permissions=storage.objects.create&permissions=storage.buckets.setIamPolicy';
    const held = await call('GET', `/storage/v1/b/${PRIVATE}/iam/testPermissions?${query}`, token);
    assert.equal(held.statusCode, 200, held.body);
    assert.deepEqual(held.json(), {
      kind: 'storage#testIamPermissionsResponse',
      permissions: ['storage.objects.get'],
    });
    const all = await owner('GET', `/b/${PRIVATE}/iam/testPermissions?${query}`);
    assert.deepEqual(all.json<Json>().permissions, [
      'storage.objects.get',
      'storage.objects.create',
      'storage.buckets.setIamPolicy',
    ]);
    const none = await call(
      'GET',
      `/storage/v1/b/${PRIVATE}/iam/testPermissions?permissions=storage.objects.delete`,
      token,
    );
    assert.deepEqual(none.json(), { kind: 'storage#testIamPermissionsResponse' });
    const missing = await owner('GET', `/storage/v1/b/${PRIVATE}/iam/testPermissions`);
    assert.equal(missing.statusCode, 400);
  });

  it('a bucket deleted and created again does not inherit the old policy', async () => {
    const name = 'iam-recreated-bucket';
    assert.equal((await owner('POST', `/storage/v1/b?project=${PROJECT}`, { name })).statusCode, 200);
    await grant(name, 'roles/storage.objectViewer', 'allUsers');
    assert.equal((await owner('DELETE', `/storage/v1/b/${name}`)).statusCode, 204);
    assert.equal((await owner('POST', `/storage/v1/b?project=${PROJECT}`, { name })).statusCode, 200);
    const policy = (await owner('GET', `/storage/v1/b/${name}/iam`)).json<Json>();
    assert.deepEqual(policy.bindings, []);
  });

  it('answers 404 for the policy of a missing bucket', async () => {
    assert.equal((await owner('GET', '/storage/v1/b/no-such-bucket-iam/iam')).statusCode, 404);
  });
});
