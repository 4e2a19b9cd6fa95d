/**
 * Cloud Storage managed folders (JSON API `managedFolders`) through app.inject: insert (names
 * normalised to a trailing '/', no parent needed, Google's name rules), get by escaped and unescaped
 * path, list with prefix and paging, delete (409 while the folder manages objects or folders unless
 * allowNonEmpty, objects kept), uniform bucket-level access required (412), IAM policies on a folder
 * (public members refused under public access prevention, grants on a folder reach it and its
 * managed children only), and managed folders deleted with their bucket.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, startTestApp, type Json, type Method, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'managed-folders-bucket';
const FINE = 'managed-folders-fine-grained';
const ENFORCED = 'managed-folders-enforced';

describe('Cloud Storage managed folders (JSON API v1)', () => {
  let t: TestApp;

  const call = async (
    method: Method,
    url: string,
    payload?: object | Buffer,
    token: string | undefined = t.ownerToken,
    headers: Record<string, string> = {},
  ): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url,
      headers: { ...(token === undefined ? {} : bearer(token)), ...headers },
      ...(payload === undefined ? {} : { payload }),
    });
  const json = (res: LightMyRequestResponse): Json => (res.body === '' ? {} : res.json<Json>());
  const reasonOf = (res: LightMyRequestResponse): string | undefined =>
    (json(res).error as { errors?: { reason: string }[] } | undefined)?.errors?.[0]?.reason;

  const createBucket = async (name: string, iamConfiguration: object): Promise<void> => {
    const res = await call('POST', `/storage/v1/b?project=${PROJECT}`, { name, iamConfiguration });
    assert.equal(res.statusCode, 200, res.body);
  };
  const createFolder = async (bucket: string, name: string): Promise<Json> => {
    const res = await call('POST', `/storage/v1/b/${bucket}/managedFolders`, { name });
    assert.equal(res.statusCode, 200, res.body);
    return json(res);
  };
  const upload = async (bucket: string, name: string): Promise<void> => {
    const res = await call(
      'POST',
      `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
      Buffer.from('data'),
      t.ownerToken,
      { 'content-type': 'text/plain' },
    );
    assert.equal(res.statusCode, 200, res.body);
  };
  const folderUrl = (bucket: string, name: string): string =>
    `/storage/v1/b/${bucket}/managedFolders/${encodeURIComponent(name)}`;

  const serviceAccountToken = async (accountId: string): Promise<{ email: string; token: string }> => {
    const created = await call('POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId });
    assert.equal(created.statusCode, 200, created.body);
    const email = json(created).email as string;
    const minted = await call('POST', `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`, {
      scope: ['https://www.googleapis.com/auth/cloud-platform'],
    });
    assert.equal(minted.statusCode, 200, minted.body);
    return { email, token: json(minted).accessToken as string };
  };

  before(async () => {
    t = await startTestApp({ anonymous: 'none' });
    await createBucket(BUCKET, { uniformBucketLevelAccess: { enabled: true } });
    await createBucket(FINE, {});
    await createBucket(ENFORCED, {
      uniformBucketLevelAccess: { enabled: true },
      publicAccessPrevention: 'enforced',
    });
  });
  after(async () => {
    await t.dispose();
  });

  it('creates a managed folder and answers a storage#managedFolder', async () => {
    const folder = await createFolder(BUCKET, 'reports/');
    assert.equal(folder.kind, 'storage#managedFolder');
    assert.equal(folder.id, `${BUCKET}/reports/`);
    assert.equal(folder.name, 'reports/');
    assert.equal(folder.bucket, BUCKET);
    assert.equal(folder.metageneration, '1');
    assert.match(folder.createTime as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(folder.updateTime, folder.createTime);
    assert.match(
      folder.selfLink as string,
      /\/storage\/v1\/b\/managed-folders-bucket\/managedFolders\/reports%2F$/,
    );
  });

  it('adds the trailing slash and needs no parent folder', async () => {
    const folder = await createFolder(BUCKET, 'teams/alpha/private');
    assert.equal(folder.name, 'teams/alpha/private/');
    const parent = await call('GET', folderUrl(BUCKET, 'teams/alpha/'));
    assert.equal(parent.statusCode, 404, parent.body);
    // The same name, with or without the slash, is taken.
    const again = await call('POST', `/storage/v1/b/${BUCKET}/managedFolders`, {
      name: 'teams/alpha/private/',
    });
    assert.equal(again.statusCode, 409, again.body);
    assert.equal(reasonOf(again), 'conflict');
  });

  it('refuses names Google refuses, a missing name and unknown fields with 400', async () => {
    const bad = [
      '',
      '/',
      'a//b/',
      '/leading/',
      '../',
      'a/./b/',
      '.well-known/acme-challenge/x/',
      'line\nfeed/',
      'd/'.repeat(16),
      `${'x'.repeat(1100)}/`,
    ];
    for (const name of bad) {
      const res = await call('POST', `/storage/v1/b/${BUCKET}/managedFolders`, { name });
      assert.equal(res.statusCode, 400, `${JSON.stringify(name)}: ${res.body}`);
      assert.equal((json(res).error as { code: number }).code, 400);
    }
    const deepest = await call('POST', `/storage/v1/b/${BUCKET}/managedFolders`, { name: 'd/'.repeat(15) });
    assert.equal(deepest.statusCode, 200, deepest.body);
    const missing = await call('POST', `/storage/v1/b/${BUCKET}/managedFolders`, {});
    assert.equal(missing.statusCode, 400, missing.body);
    const noBody = await call('POST', `/storage/v1/b/${BUCKET}/managedFolders`);
    assert.equal(noBody.statusCode, 400, noBody.body);
    const unknown = await call('POST', `/storage/v1/b/${BUCKET}/managedFolders`, {
      name: 'x/',
      color: 'red',
    });
    assert.equal(unknown.statusCode, 400, unknown.body);
    const badSize = await call('GET', `/storage/v1/b/${BUCKET}/managedFolders?pageSize=ten`);
    assert.equal(badSize.statusCode, 400, badSize.body);
    const badToken = await call('GET', `/storage/v1/b/${BUCKET}/managedFolders?pageToken=%%%`);
    assert.equal(badToken.statusCode, 400, badToken.body);
    const badFlag = await call('DELETE', `${folderUrl(BUCKET, 'reports/')}?allowNonEmpty=maybe`);
    assert.equal(badFlag.statusCode, 400, badFlag.body);
  });

  it('answers 404 for a missing bucket and 412 without uniform bucket-level access', async () => {
    for (const [method, url] of [
      ['POST', '/storage/v1/b/no-such-bucket-here/managedFolders'],
      ['GET', '/storage/v1/b/no-such-bucket-here/managedFolders'],
      ['GET', '/storage/v1/b/no-such-bucket-here/managedFolders/a'],
      ['DELETE', '/storage/v1/b/no-such-bucket-here/managedFolders/a'],
    ] as const) {
      const res = await call(method, url, method === 'POST' ? { name: 'a/' } : undefined);
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
    }
    const insert = await call('POST', `/storage/v1/b/${FINE}/managedFolders`, { name: 'a/' });
    assert.equal(insert.statusCode, 412, insert.body);
    assert.equal(reasonOf(insert), 'conditionNotMet');
    const list = await call('GET', `/storage/v1/b/${FINE}/managedFolders`);
    assert.equal(list.statusCode, 412, list.body);
  });

  it('gets a nested folder by its escaped or unescaped path, at /storage/v1 and the root', async () => {
    for (const url of [
      `/storage/v1/b/${BUCKET}/managedFolders/teams%2Falpha%2Fprivate`,
      `/storage/v1/b/${BUCKET}/managedFolders/teams%2Falpha%2Fprivate%2F`,
      `/storage/v1/b/${BUCKET}/managedFolders/teams/alpha/private/`,
      `/b/${BUCKET}/managedFolders/teams%2Falpha%2Fprivate`,
    ]) {
      const res = await call('GET', url);
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      assert.equal(json(res).name, 'teams/alpha/private/');
    }
    const missing = await call('GET', folderUrl(BUCKET, 'nothing/'));
    assert.equal(missing.statusCode, 404, missing.body);
    const stale = await call('GET', `${folderUrl(BUCKET, 'reports/')}?ifMetagenerationMatch=7`);
    assert.equal(stale.statusCode, 412, stale.body);
  });

  it('lists folders in name order, by prefix and page by page', async () => {
    const bucket = 'managed-folders-listing';
    await createBucket(bucket, { uniformBucketLevelAccess: { enabled: true } });
    const empty = await call('GET', `/storage/v1/b/${bucket}/managedFolders`);
    assert.equal(empty.statusCode, 200, empty.body);
    assert.deepEqual(json(empty), { kind: 'storage#managedFolders' });
    const names = ['b/', 'a/', 'a/x/', 'c/', 'a/y/'];
    for (const name of names) {
      await createFolder(bucket, name);
    }
    const all = json(await call('GET', `/storage/v1/b/${bucket}/managedFolders`));
    assert.equal(all.kind, 'storage#managedFolders');
    const items = all.items as Json[];
    assert.deepEqual(
      items.map((item) => item.name),
      ['a/', 'a/x/', 'a/y/', 'b/', 'c/'],
    );
    assert.ok(items.every((item) => item.kind === 'storage#managedFolder' && item.bucket === bucket));
    const prefixed = json(await call('GET', `/storage/v1/b/${bucket}/managedFolders?prefix=a/`));
    assert.deepEqual(
      (prefixed.items as Json[]).map((item) => item.name),
      ['a/', 'a/x/', 'a/y/'],
    );
    const seen: unknown[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const query = `pageSize=2${token === undefined ? '' : `&pageToken=${encodeURIComponent(token)}`}`;
      const page = json(await call('GET', `/storage/v1/b/${bucket}/managedFolders?${query}`));
      const pageItems = (page.items ?? []) as Json[];
      assert.ok(pageItems.length <= 2);
      seen.push(...pageItems.map((item) => item.name));
      token = page.nextPageToken as string | undefined;
      pages++;
    } while (token !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(seen, ['a/', 'a/x/', 'a/y/', 'b/', 'c/']);
    const byMaxResults = json(await call('GET', `/b/${bucket}/managedFolders?maxResults=1`));
    assert.deepEqual(
      (byMaxResults.items as Json[]).map((item) => item.name),
      ['a/'],
    );
    assert.equal(typeof byMaxResults.nextPageToken, 'string');
  });

  it('refuses to delete a folder that manages objects or folders unless allowNonEmpty', async () => {
    const bucket = 'managed-folders-deleting';
    await createBucket(bucket, { uniformBucketLevelAccess: { enabled: true } });
    await createFolder(bucket, 'data/');
    await createFolder(bucket, 'data/inner/');
    await createFolder(bucket, 'logs/');
    await upload(bucket, 'logs/today.txt');

    const withChild = await call('DELETE', folderUrl(bucket, 'data/'));
    assert.equal(withChild.statusCode, 409, withChild.body);
    assert.equal(reasonOf(withChild), 'conflict');
    const withObject = await call('DELETE', folderUrl(bucket, 'logs'));
    assert.equal(withObject.statusCode, 409, withObject.body);

    const precondition = await call('DELETE', `${folderUrl(bucket, 'data/inner/')}?ifMetagenerationMatch=2`);
    assert.equal(precondition.statusCode, 412, precondition.body);
    const inner = await call('DELETE', `${folderUrl(bucket, 'data/inner/')}?ifMetagenerationMatch=1`);
    assert.equal(inner.statusCode, 204, inner.body);
    const data = await call('DELETE', `/storage/v1/b/${bucket}/managedFolders/data/`);
    assert.equal(data.statusCode, 204, data.body);
    assert.equal((await call('GET', folderUrl(bucket, 'data/'))).statusCode, 404);
    const gone = await call('DELETE', folderUrl(bucket, 'data/'));
    assert.equal(gone.statusCode, 404, gone.body);

    const forced = await call('DELETE', `${folderUrl(bucket, 'logs/')}?allowNonEmpty=True`);
    assert.equal(forced.statusCode, 204, forced.body);
    assert.equal((await call('GET', folderUrl(bucket, 'logs/'))).statusCode, 404);
    // The objects stay, as a simulated folder.
    const object = await call('GET', `/storage/v1/b/${bucket}/o/${encodeURIComponent('logs/today.txt')}`);
    assert.equal(object.statusCode, 200, object.body);
  });

  it('keeps an IAM policy per folder and refuses public members under public access prevention', async () => {
    const url = `${folderUrl(BUCKET, 'reports/')}/iam`;
    const empty = await call('GET', url);
    assert.equal(empty.statusCode, 200, empty.body);
    const policy = json(empty);
    assert.equal(policy.kind, 'storage#policy');
    assert.equal(policy.resourceId, `projects/_/buckets/${BUCKET}/managedFolders/reports/`);
    assert.deepEqual(policy.bindings, []);

    const binding = { role: 'roles/storage.objectViewer', members: ['allUsers'] };
    const set = await call('PUT', url, { ...policy, bindings: [binding] });
    assert.equal(set.statusCode, 200, set.body);
    assert.deepEqual(json(set).bindings, [binding]);
    assert.notEqual(json(set).etag, policy.etag);
    assert.deepEqual(json(await call('GET', url)), json(set));
    const stale = await call('PUT', url, { etag: policy.etag, bindings: [] });
    assert.equal(stale.statusCode, 409, stale.body);
    const badRole = await call('PUT', url, {
      bindings: [{ role: 'roles/storage.noSuchRole', members: ['allUsers'] }],
    });
    assert.equal(badRole.statusCode, 400, badRole.body);
    const noFolder = await call('GET', `${folderUrl(BUCKET, 'nothing/')}/iam`);
    assert.equal(noFolder.statusCode, 404, noFolder.body);

    await createFolder(ENFORCED, 'shared/');
    const refused = await call('PUT', `${folderUrl(ENFORCED, 'shared/')}/iam`, { bindings: [binding] });
    assert.equal(refused.statusCode, 412, refused.body);
    assert.equal(reasonOf(refused), 'conditionNotMet');
    const allowed = await call('PUT', `${folderUrl(ENFORCED, 'shared/')}/iam`, {
      bindings: [{ role: 'roles/storage.objectViewer', members: [`projectViewer:${PROJECT}`] }],
    });
    assert.equal(allowed.statusCode, 200, allowed.body);
  });

  it('lets a folder grant reach that folder and its managed children, nothing else', async () => {
    const { email, token } = await serviceAccountToken('folder-robot');
    await createFolder(BUCKET, 'teams/alpha/');
    await createFolder(BUCKET, 'teams/beta/');
    const denied = await call('GET', folderUrl(BUCKET, 'teams/alpha/'), undefined, token);
    assert.equal(denied.statusCode, 403, denied.body);

    const url = `${folderUrl(BUCKET, 'teams/alpha/')}/iam`;
    const current = json(await call('GET', url));
    const set = await call('PUT', url, {
      ...current,
      bindings: [{ role: 'roles/storage.objectAdmin', members: [`serviceAccount:${email}`] }],
    });
    assert.equal(set.statusCode, 200, set.body);

    const own = await call('GET', folderUrl(BUCKET, 'teams/alpha/'), undefined, token);
    assert.equal(own.statusCode, 200, own.body);
    const child = await call('GET', folderUrl(BUCKET, 'teams/alpha/private/'), undefined, token);
    assert.equal(child.statusCode, 200, child.body);
    const created = await call(
      'POST',
      `/storage/v1/b/${BUCKET}/managedFolders`,
      { name: 'teams/alpha/new/' },
      token,
    );
    assert.equal(created.statusCode, 200, created.body);
    const sibling = await call('GET', folderUrl(BUCKET, 'teams/beta/'), undefined, token);
    assert.equal(sibling.statusCode, 403, sibling.body);
    const list = await call('GET', `/storage/v1/b/${BUCKET}/managedFolders`, undefined, token);
    assert.equal(list.statusCode, 403, list.body);
    const elsewhere = await call(
      'POST',
      `/storage/v1/b/${BUCKET}/managedFolders`,
      { name: 'teams/gamma/' },
      token,
    );
    assert.equal(elsewhere.statusCode, 403, elsewhere.body);

    const tested = await call(
      'GET',
      `${folderUrl(BUCKET, 'teams/alpha/private/')}/iam/testPermissions?permissions=storage.managedFolders.get&permissions=storage.buckets.delete`,
      undefined,
      token,
    );
    assert.equal(tested.statusCode, 200, tested.body);
    assert.deepEqual(json(tested), {
      kind: 'storage#testIamPermissionsResponse',
      permissions: ['storage.managedFolders.get'],
    });
    const none = await call(
      'GET',
      `${folderUrl(BUCKET, 'teams/beta/')}/iam/testPermissions?permissions=storage.managedFolders.get`,
      undefined,
      token,
    );
    assert.deepEqual(json(none), { kind: 'storage#testIamPermissionsResponse' });
    const noPermissions = await call('GET', `${folderUrl(BUCKET, 'teams/beta/')}/iam/testPermissions`);
    assert.equal(noPermissions.statusCode, 400, noPermissions.body);

    // A folder deleted and created again does not inherit the old policy.
    const removed = await call('DELETE', `${folderUrl(BUCKET, 'teams/alpha/')}?allowNonEmpty=true`);
    assert.equal(removed.statusCode, 204, removed.body);
    await createFolder(BUCKET, 'teams/alpha/');
    assert.deepEqual(json(await call('GET', url)).bindings, []);
    const after = await call('GET', folderUrl(BUCKET, 'teams/alpha/'), undefined, token);
    assert.equal(after.statusCode, 403, after.body);
  });

  it('deletes managed folders with their bucket', async () => {
    const bucket = 'managed-folders-doomed';
    await createBucket(bucket, { uniformBucketLevelAccess: { enabled: true } });
    await createFolder(bucket, 'keep/');
    const set = await call('PUT', `${folderUrl(bucket, 'keep/')}/iam`, {
      bindings: [{ role: 'roles/storage.objectViewer', members: [`projectViewer:${PROJECT}`] }],
    });
    assert.equal(set.statusCode, 200, set.body);
    await upload(bucket, 'keep/file.txt');
    const notEmpty = await call('DELETE', `/storage/v1/b/${bucket}`);
    assert.equal(notEmpty.statusCode, 409, notEmpty.body);
    assert.equal((await call('GET', folderUrl(bucket, 'keep/'))).statusCode, 200);

    const object = await call('DELETE', `/storage/v1/b/${bucket}/o/${encodeURIComponent('keep/file.txt')}`);
    assert.equal(object.statusCode, 204, object.body);
    const deleted = await call('DELETE', `/storage/v1/b/${bucket}`);
    assert.equal(deleted.statusCode, 204, deleted.body);

    await createBucket(bucket, { uniformBucketLevelAccess: { enabled: true } });
    const listed = json(await call('GET', `/storage/v1/b/${bucket}/managedFolders`));
    assert.deepEqual(listed, { kind: 'storage#managedFolders' });
    await createFolder(bucket, 'keep/');
    assert.deepEqual(json(await call('GET', `${folderUrl(bucket, 'keep/')}/iam`)).bindings, []);
  });

  it('lets a project viewer read folders but not create or delete them', async () => {
    const { email, token } = await serviceAccountToken('folder-viewer');
    const policy = json(await call('POST', `/v1/projects/${PROJECT}:getIamPolicy`, {}));
    const bindings = [
      ...((policy.bindings ?? []) as Json[]),
      { role: 'roles/viewer', members: [`serviceAccount:${email}`] },
    ];
    const set = await call('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: { ...policy, bindings },
    });
    assert.equal(set.statusCode, 200, set.body);

    assert.equal((await call('GET', folderUrl(BUCKET, 'reports/'), undefined, token)).statusCode, 200);
    assert.equal(
      (await call('GET', `/storage/v1/b/${BUCKET}/managedFolders`, undefined, token)).statusCode,
      200,
    );
    const create = await call('POST', `/storage/v1/b/${BUCKET}/managedFolders`, { name: 'viewer/' }, token);
    assert.equal(create.statusCode, 403, create.body);
    const remove = await call('DELETE', folderUrl(BUCKET, 'reports/'), undefined, token);
    assert.equal(remove.statusCode, 403, remove.body);
    const setIam = await call('PUT', `${folderUrl(BUCKET, 'reports/')}/iam`, { bindings: [] }, token);
    assert.equal(setIam.statusCode, 403, setIam.body);
    const anonymous = await t.app.inject({ method: 'GET', url: `/storage/v1/b/${BUCKET}/managedFolders` });
    assert.ok([401, 403].includes(anonymous.statusCode), anonymous.body);
  });
});
