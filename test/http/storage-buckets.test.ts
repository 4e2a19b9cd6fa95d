import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { clientEnvironment } from '../../src/core/env.ts';
import { bearer, jsonCaller, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';

interface StorageError {
  error: { code: number; message: string; errors: { domain: string; reason: string; message: string }[] };
}

function errorOf(body: Json): StorageError['error'] {
  return (body as unknown as StorageError).error;
}

describe('Cloud Storage buckets (JSON API v1)', () => {
  let t: TestApp;
  const call: ReturnType<typeof jsonCaller> = (...args) => jsonCaller(t)(...args);
  const create = (name: string, extra: object = {}) =>
    call('POST', `/storage/v1/b?project=${PROJECT}`, { name, ...extra });

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  it('inserts a bucket and prints it as Google does', async () => {
    const created = await create('photos-1', {
      location: 'europe-west1',
      labels: { team: 'media' },
      versioning: { enabled: true },
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
    });
    assert.equal(created.status, 200);
    const b = created.body;
    assert.equal(b.kind, 'storage#bucket');
    assert.equal(b.id, 'photos-1');
    assert.equal(b.name, 'photos-1');
    assert.equal(b.selfLink, 'http://localhost:80/storage/v1/b/photos-1');
    assert.match(String(b.projectNumber), /^\d{12}$/);
    assert.equal(b.metageneration, '1');
    assert.equal(b.location, 'EUROPE-WEST1');
    assert.equal(b.locationType, 'region');
    assert.equal(b.storageClass, 'STANDARD');
    assert.equal(b.etag, 'CAE=');
    assert.deepEqual(b.labels, { team: 'media' });
    assert.deepEqual(b.versioning, { enabled: true });
    assert.match(String(b.timeCreated), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(b.updated, b.timeCreated);
    const iam = b.iamConfiguration as { uniformBucketLevelAccess: { enabled: boolean; lockedTime: string } };
    assert.equal(iam.uniformBucketLevelAccess.enabled, true);
    assert.ok(Date.parse(iam.uniformBucketLevelAccess.lockedTime) > Date.parse(String(b.timeCreated)));
  });

  it('defaults location to the US multi-region and the class to STANDARD', async () => {
    const created = await create('defaults-bucket');
    assert.equal(created.body.location, 'US');
    assert.equal(created.body.locationType, 'multi-region');
    assert.equal(created.body.storageClass, 'STANDARD');
    assert.equal(created.body.labels, undefined);
    const nearline = await create('cold-bucket', { storageClass: 'nearline', location: 'us-east1' });
    assert.equal(nearline.body.storageClass, 'NEARLINE');
  });

  it('builds selfLink from the base URL the client used', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/storage/v1/b/defaults-bucket',
      headers: { ...bearer(t.ownerToken), host: '127.0.0.1:4443' },
    });
    assert.equal(res.json<Json>().selfLink, 'http://127.0.0.1:4443/storage/v1/b/defaults-bucket');
  });

  it('rejects names that break Google bucket naming rules with 400 invalid', async () => {
    for (const name of [
      'ab',
      'a'.repeat(64),
      'Upper-case',
      '-starts-with-dash',
      'ends-with-dash-',
      'has space',
      '192.168.5.4',
      'goog-bucket',
      'my.google.bucket',
      'bad..dots',
    ]) {
      const res = await create(name);
      assert.equal(res.status, 400, name);
      const error = errorOf(res.body);
      assert.equal(error.errors[0]?.reason, 'invalid', name);
      assert.equal(error.errors[0]?.domain, 'global', name);
    }
    for (const name of ['abc', 'a'.repeat(63), 'with_underscore-and.dots', '0-digits-9']) {
      assert.equal((await create(name)).status, 200, name);
    }
  });

  it('rejects unknown storage classes, bad labels and unknown fields', async () => {
    assert.equal((await create('class-bucket', { storageClass: 'FROZEN' })).status, 400);
    assert.equal((await create('label-bucket', { labels: { 'Bad Key': 'v' } })).status, 400);
    const unknown = await create('field-bucket', { colour: 'blue' });
    assert.equal(unknown.status, 400);
    assert.match(errorOf(unknown.body).message, /Unknown name "colour"/);
    const noProject = await call('POST', '/storage/v1/b', { name: 'no-project-bucket' });
    assert.equal(noProject.status, 400);
    assert.equal(errorOf(noProject.body).errors[0]?.reason, 'required');
  });

  it('answers a duplicate name with 409 conflict, in the owner wording for the owner', async () => {
    const dup = await create('photos-1');
    assert.equal(dup.status, 409);
    const error = errorOf(dup.body);
    assert.equal(error.code, 409);
    assert.equal(error.errors[0]?.reason, 'conflict');
    assert.equal(error.errors[0]?.domain, 'global');
    assert.equal(
      error.message,
      'Your previous request to create the named bucket succeeded and you already own it.',
    );
  });

  it('answers an unknown bucket with 404 notFound', async () => {
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await call(method, '/storage/v1/b/no-such-bucket', method === 'PATCH' ? {} : undefined);
      assert.equal(res.status, 404, method);
      const error = errorOf(res.body);
      assert.equal(error.message, 'The specified bucket does not exist.');
      assert.equal(error.errors[0]?.reason, 'notFound');
      assert.equal(error.errors[0]?.domain, 'global');
    }
  });

  it('lists the project buckets in name order with maxResults, pageToken and prefix', async () => {
    const all = await call('GET', `/storage/v1/b?project=${PROJECT}`);
    assert.equal(all.status, 200);
    assert.equal(all.body.kind, 'storage#buckets');
    const names = (all.body.items as Json[]).map((b) => b.name);
    assert.deepEqual(names, [...names].sort());
    assert.ok(names.includes('photos-1') && names.includes('abc'));

    const seen: unknown[] = [];
    let token: string | undefined;
    do {
      const page = await call(
        'GET',
        `/storage/v1/b?project=${PROJECT}&maxResults=2${token === undefined ? '' : `&pageToken=${token}`}`,
      );
      const items = page.body.items as Json[];
      assert.ok(items.length <= 2);
      seen.push(...items.map((b) => b.name));
      token = page.body.nextPageToken as string | undefined;
    } while (token !== undefined);
    assert.deepEqual(seen, names);

    const prefixed = await call('GET', `/storage/v1/b?project=${PROJECT}&prefix=c`);
    assert.deepEqual(
      (prefixed.body.items as Json[]).map((b) => b.name),
      ['cold-bucket'],
    );
    const none = await call('GET', `/storage/v1/b?project=${PROJECT}&prefix=zzz`);
    assert.deepEqual(none.body, { kind: 'storage#buckets' });
  });

  it('patches labels, versioning and storage class and bumps metageneration', async () => {
    const patched = await call('PATCH', '/storage/v1/b/photos-1', {
      labels: { team: null, env: 'prod' },
      versioning: { enabled: false },
      storageClass: 'COLDLINE',
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.body.labels, { env: 'prod' });
    assert.deepEqual(patched.body.versioning, { enabled: false });
    assert.equal(patched.body.storageClass, 'COLDLINE');
    assert.equal(patched.body.metageneration, '2');
    assert.equal(patched.body.etag, 'CAI=');
    const read = await call('GET', '/storage/v1/b/photos-1');
    assert.deepEqual(read.body, patched.body);
  });

  it('enforces ifMetagenerationMatch and ifMetagenerationNotMatch', async () => {
    const stale = await call('PATCH', '/storage/v1/b/photos-1?ifMetagenerationMatch=1', {
      labels: { a: 'b' },
    });
    assert.equal(stale.status, 412);
    assert.equal(errorOf(stale.body).errors[0]?.reason, 'conditionNotMet');
    assert.equal((await call('GET', '/storage/v1/b/photos-1?ifMetagenerationMatch=1')).status, 412);
    assert.equal((await call('GET', '/storage/v1/b/photos-1?ifMetagenerationMatch=2')).status, 200);
    assert.equal(
      (await call('PATCH', '/storage/v1/b/photos-1?ifMetagenerationNotMatch=2', { labels: {} })).status,
      412,
    );
    const notModified = await t.app.inject({
      method: 'GET',
      url: '/storage/v1/b/photos-1?ifMetagenerationNotMatch=2',
      headers: bearer(t.ownerToken),
    });
    assert.equal(notModified.statusCode, 304);
    const badDelete = await t.app.inject({
      method: 'DELETE',
      url: '/storage/v1/b/photos-1?ifMetagenerationMatch=7',
      headers: bearer(t.ownerToken),
    });
    assert.equal(badDelete.statusCode, 412);
    assert.equal((await call('GET', '/storage/v1/b/photos-1')).body.metageneration, '2');
  });

  it('serves the same routes without the /storage/v1 prefix and deletes with 204', async () => {
    const created = await call('POST', `/b?project=${PROJECT}`, { name: 'short-path' });
    assert.equal(created.status, 200);
    assert.equal(created.body.selfLink, 'http://localhost:80/storage/v1/b/short-path');
    assert.equal((await call('GET', '/b/short-path')).body.name, 'short-path');
    assert.ok(((await call('GET', `/b?project=${PROJECT}`)).body.items as Json[]).length > 1);
    assert.equal((await call('PATCH', '/b/short-path', { labels: { k: 'v' } })).body.metageneration, '2');
    const deleted = await t.app.inject({
      method: 'DELETE',
      url: '/b/short-path?ifMetagenerationMatch=2',
      headers: bearer(t.ownerToken),
    });
    assert.equal(deleted.statusCode, 204);
    assert.equal(deleted.body, '');
    assert.equal((await call('GET', '/storage/v1/b/short-path')).status, 404);
    assert.equal((await create('short-path')).status, 200, 'the name is free again');
  });

  it('authorizes with storage.buckets.* permissions through project policies', async () => {
    const account = async (id: string, role: string | undefined, project = PROJECT): Promise<string> => {
      const made = await call('POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId: id });
      const email = String(made.body.email);
      if (role !== undefined) {
        const policy = await call('POST', `/v1/projects/${project}:getIamPolicy`, {});
        const bindings = (policy.body.bindings as Json[] | undefined) ?? [];
        bindings.push({ role, members: [`serviceAccount:${email}`] });
        const set = await call('POST', `/v1/projects/${project}:setIamPolicy`, {
          policy: { bindings, etag: policy.body.etag },
        });
        assert.equal(set.status, 200);
      }
      const token = await call('POST', `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`, {
        scope: ['https://www.googleapis.com/auth/cloud-platform'],
      });
      return String(token.body.accessToken);
    };
    const viewer = jsonCaller(t, await account('bucket-viewer', 'roles/viewer'));
    const nobody = jsonCaller(t, await account('bucket-nobody', undefined));
    assert.equal((await call('POST', '/v1/projects', { projectId: 'other-project' })).status, 200);
    const outsider = jsonCaller(t, await account('bucket-outsider', 'roles/editor', 'other-project'));

    assert.equal((await viewer('GET', '/storage/v1/b/abc')).status, 200);
    assert.equal((await viewer('GET', `/storage/v1/b?project=${PROJECT}`)).status, 200);
    const denied = await viewer('POST', `/storage/v1/b?project=${PROJECT}`, { name: 'viewer-bucket' });
    assert.equal(denied.status, 403);
    assert.match(errorOf(denied.body).message, /storage\.buckets\.create/);
    assert.equal((await viewer('PATCH', '/storage/v1/b/abc', { labels: { a: 'b' } })).status, 403);
    assert.equal((await t.app.inject({ method: 'DELETE', url: '/storage/v1/b/abc' })).statusCode, 204);
    assert.equal((await viewer('DELETE', '/storage/v1/b/cold-bucket')).status, 403);
    assert.equal((await nobody('GET', '/storage/v1/b/cold-bucket')).status, 403);
    assert.equal((await nobody('GET', `/storage/v1/b?project=${PROJECT}`)).status, 403);

    // Someone else's name: the editor of another project is told it is taken, not that they own it.
    const taken = await outsider('POST', '/storage/v1/b?project=other-project', { name: 'cold-bucket' });
    assert.equal(taken.status, 409);
    assert.equal(errorOf(taken.body).errors[0]?.reason, 'conflict');
    assert.match(errorOf(taken.body).message, /not available/);
    const own = await outsider('POST', '/storage/v1/b?project=other-project', { name: 'outsider-bucket' });
    assert.equal(own.status, 200);
    assert.equal((await outsider('GET', '/storage/v1/b/cold-bucket')).status, 403);
    const outsiderList = await outsider('GET', '/storage/v1/b?project=other-project');
    assert.deepEqual(
      (outsiderList.body.items as Json[]).map((b) => b.name),
      ['outsider-bucket'],
    );
  });

  it('puts STORAGE_EMULATOR_HOST and the gcloud storage override in nimbus env', () => {
    const env = clientEnvironment('http://127.0.0.1:8080', t.config, t.plugins, 'token');
    assert.equal(env.STORAGE_EMULATOR_HOST, 'http://127.0.0.1:8080');
    assert.equal(env.CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE, 'http://127.0.0.1:8080/storage/v1/');
  });
});
