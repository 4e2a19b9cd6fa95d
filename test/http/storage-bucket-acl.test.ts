/**
 * Bucket ACLs (storage.bucketAccessControls), default object ACLs
 * (storage.defaultObjectAccessControls), the project's Cloud Storage service agent
 * (storage.projects.serviceAccount.get) and buckets.update (PUT), through app.inject.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, startTestApp, type Json, type Method, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const FINE = 'bacl-fine-bucket';
const UNIFORM = 'bacl-uniform-bucket';

describe('Cloud Storage bucket and default object ACLs (JSON API v1)', () => {
  let t: TestApp;
  let projectNumber = '';

  const call = async (
    method: Method,
    url: string,
    payload?: object,
    token: string | null = t.ownerToken,
  ): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url,
      headers: token === null ? {} : bearer(token),
      ...(payload === undefined ? {} : { payload }),
    });

  before(async () => {
    t = await startTestApp({ anonymous: 'none' });
    for (const [name, uniform] of [
      [FINE, false],
      [UNIFORM, true],
    ] as const) {
      const created = await call('POST', `/storage/v1/b?project=${PROJECT}`, {
        name,
        iamConfiguration: { uniformBucketLevelAccess: { enabled: uniform } },
      });
      assert.equal(created.statusCode, 200, created.body);
      projectNumber = String(created.json<Json>().projectNumber);
    }
  });
  after(async () => {
    await t.dispose();
  });

  for (const [segment, kind, listKind, roles] of [
    ['acl', 'storage#bucketAccessControl', 'storage#bucketAccessControls', ['READER', 'WRITER', 'OWNER']],
    ['defaultObjectAcl', 'storage#objectAccessControl', 'storage#objectAccessControls', ['READER', 'OWNER']],
  ] as const) {
    const base = `/storage/v1/b/${FINE}/${segment}`;

    it(`${segment}: lists the projectPrivate defaults of a new fine-grained bucket`, async () => {
      const listed = await call('GET', base);
      assert.equal(listed.statusCode, 200, listed.body);
      const body = listed.json<{ kind: string; items: Json[] }>();
      assert.equal(body.kind, listKind);
      assert.deepEqual(
        body.items.map((item) => [item.entity, item.role]),
        [
          [`project-owners-${projectNumber}`, 'OWNER'],
          [`project-editors-${projectNumber}`, 'OWNER'],
          [`project-viewers-${projectNumber}`, 'READER'],
        ],
      );
      assert.deepEqual(body.items[0]?.projectTeam, { projectNumber, team: 'owners' });
      assert.equal(body.items[0]?.kind, kind);
    });

    it(`${segment}: inserts, gets, updates, patches and deletes an entry`, async () => {
      const inserted = await call('POST', base, { entity: 'user-Someone@Example.com', role: 'READER' });
      assert.equal(inserted.statusCode, 200, inserted.body);
      assert.equal(inserted.json<Json>().entity, 'user-someone@example.com');
      assert.equal(inserted.json<Json>().email, 'someone@example.com');

      const entry = `${base}/${encodeURIComponent('user-someone@example.com')}`;
      assert.equal((await call('GET', entry)).json<Json>().role, 'READER');
      const updated = await call('PUT', entry, { role: 'OWNER' });
      assert.equal(updated.statusCode, 200, updated.body);
      assert.equal(updated.json<Json>().role, 'OWNER');
      const patched = await call('PATCH', entry, { role: roles[0] });
      assert.equal(patched.json<Json>().role, roles[0]);
      assert.notEqual(patched.json<Json>().etag, updated.json<Json>().etag);

      assert.equal((await call('DELETE', entry)).statusCode, 204);
      assert.equal((await call('GET', entry)).statusCode, 404);
      assert.equal((await call('DELETE', entry)).statusCode, 404);
      assert.equal((await call('PUT', entry, { role: 'OWNER' })).statusCode, 404);
    });

    it(`${segment}: refuses bad entities and roles with 400`, async () => {
      for (const payload of [
        { entity: 'nobody', role: 'READER' },
        { entity: 'allUsers', role: 'ADMIN' },
        { entity: 'allUsers' },
        { role: 'READER' },
      ]) {
        const answer = await call('POST', base, payload);
        assert.equal(answer.statusCode, 400, JSON.stringify(payload));
      }
      if (!roles.includes('WRITER' as never)) {
        assert.equal((await call('POST', base, { entity: 'allUsers', role: 'WRITER' })).statusCode, 400);
      }
    });

    it(`${segment}: is refused with 400 on a bucket with uniform bucket-level access`, async () => {
      const answer = await call('GET', `/storage/v1/b/${UNIFORM}/${segment}`);
      assert.equal(answer.statusCode, 400);
      assert.match(
        answer.json<{ error: { message: string } }>().error.message,
        /uniform bucket-level access/,
      );
    });

    it(`${segment}: needs the bucket's IAM permissions`, async () => {
      assert.equal((await call('GET', base, undefined, null)).statusCode, 403);
    });
  }

  it('a bucket created again under the same name starts from the default ACLs', async () => {
    const name = 'bacl-recreated';
    await call('POST', `/storage/v1/b?project=${PROJECT}`, { name });
    await call('POST', `/storage/v1/b/${name}/acl`, { entity: 'allUsers', role: 'READER' });
    assert.equal((await call('DELETE', `/storage/v1/b/${name}`)).statusCode, 204);
    await call('POST', `/storage/v1/b?project=${PROJECT}`, { name });
    const listed = (await call('GET', `/b/${name}/acl`)).json<{ items: Json[] }>();
    assert.ok(!listed.items.some((item) => item.entity === 'allUsers'));
  });

  it("returns the project's Cloud Storage service agent", async () => {
    for (const url of [
      `/storage/v1/projects/${PROJECT}/serviceAccount`,
      `/projects/${PROJECT}/serviceAccount`,
    ]) {
      const answer = await call('GET', url);
      assert.equal(answer.statusCode, 200, answer.body);
      assert.deepEqual(answer.json(), {
        kind: 'storage#serviceAccount',
        email_address: `service-${projectNumber}@gs-project-accounts.iam.gserviceaccount.com`,
      });
    }
    assert.equal((await call('GET', '/storage/v1/projects/no-such-project/serviceAccount')).statusCode, 404);
  });

  it('buckets.update (PUT) replaces the writable metadata and honours ifMetagenerationMatch', async () => {
    const name = 'bacl-updated';
    const created = await call('POST', `/storage/v1/b?project=${PROJECT}`, {
      name,
      labels: { keep: 'no', other: 'x' },
      cors: [{ origin: ['https://a.example'], method: ['GET'] }],
    });
    const metageneration = String(created.json<Json>().metageneration);
    const stale = await call('PUT', `/storage/v1/b/${name}?ifMetagenerationMatch=99`, { name, labels: {} });
    assert.equal(stale.statusCode, 412);
    const updated = await call('PUT', `/storage/v1/b/${name}?ifMetagenerationMatch=${metageneration}`, {
      ...created.json<Json>(),
      labels: { only: 'this' },
      cors: undefined,
    });
    assert.equal(updated.statusCode, 200, updated.body);
    const body = updated.json<Json>();
    assert.deepEqual(body.labels, { only: 'this' });
    assert.equal(body.cors, undefined);
    assert.equal(body.metageneration, String(Number(metageneration) + 1));
    const renamed = await call('PUT', `/storage/v1/b/${name}`, { name: 'another-name' });
    assert.equal(renamed.statusCode, 400);
  });
});
