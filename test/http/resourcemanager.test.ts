import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { jsonCaller, startTestApp, type Json, type TestApp } from '../helpers.ts';

describe('Cloud Resource Manager', () => {
  let t: TestApp;
  const call: ReturnType<typeof jsonCaller> = (...args) => jsonCaller(t)(...args);
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  it('creates a project with v1 and makes the creator its owner', async () => {
    const created = await call('POST', '/v1/projects', {
      projectId: 'demo-app-1',
      name: 'Demo App',
      labels: { env: 'dev' },
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.done, true);
    const project = await call('GET', '/v1/projects/demo-app-1');
    assert.equal(project.body.name, 'Demo App');
    assert.equal(project.body.lifecycleState, 'ACTIVE');
    assert.match(String(project.body.projectNumber), /^\d{12}$/);
    assert.deepEqual(project.body.labels, { env: 'dev' });
    const policy = await call('POST', '/v1/projects/demo-app-1:getIamPolicy', {});
    assert.deepEqual(policy.body.bindings, [{ role: 'roles/owner', members: ['user:owner@nimbus.local'] }]);
  });

  it('refuses a duplicate or invalid project id', async () => {
    assert.equal((await call('POST', '/v1/projects', { projectId: 'demo-app-1' })).status, 409);
    const bad = await call('POST', '/v1/projects', { projectId: 'Bad_ID' });
    assert.equal(bad.status, 400);
    assert.equal((bad.body.error as Json).status, 'INVALID_ARGUMENT');
  });

  it('finds a project by number through v3 and by filter through v1', async () => {
    const v1 = await call('GET', '/v1/projects/demo-app-1');
    const number = String(v1.body.projectNumber);
    const v3 = await call('GET', `/v3/projects/${number}`);
    assert.equal(v3.body.projectId, 'demo-app-1');
    assert.equal(v3.body.name, `projects/${number}`);
    assert.equal(v3.body.state, 'ACTIVE');
    const filtered = await call('GET', '/v1/projects?filter=labels.env:dev');
    assert.deepEqual(
      (filtered.body.projects as Json[]).map((p) => p.projectId),
      ['demo-app-1'],
    );
    const search = await call('GET', '/v3/projects:search?query=id:demo-app-1');
    assert.equal((search.body.projects as Json[]).length, 1);
  });

  it('updates, deletes and undeletes', async () => {
    const updated = await call('PUT', '/v1/projects/demo-app-1', {
      name: 'Renamed App',
      labels: { env: 'prod' },
    });
    assert.equal(updated.body.name, 'Renamed App');
    assert.equal((await call('DELETE', '/v1/projects/demo-app-1')).status, 200);
    assert.equal((await call('GET', '/v1/projects/demo-app-1')).body.lifecycleState, 'DELETE_REQUESTED');
    const active = await call('GET', '/v1/projects?filter=lifecycleState:ACTIVE');
    assert.ok(!(active.body.projects as Json[]).some((p) => p.projectId === 'demo-app-1'));
    assert.equal((await call('POST', '/v1/projects/demo-app-1:undelete', {})).status, 200);
    assert.equal((await call('GET', '/v1/projects/demo-app-1')).body.lifecycleState, 'ACTIVE');
  });

  it('rejects a stale policy etag with 409 ABORTED', async () => {
    const first = await call('POST', '/v1/projects/nimbus-local:getIamPolicy', {});
    const policy = first.body as { bindings: { role: string; members: string[] }[]; etag: string };
    const set = await call('POST', '/v1/projects/nimbus-local:setIamPolicy', {
      policy: {
        bindings: [...policy.bindings, { role: 'roles/viewer', members: ['user:alice@example.com'] }],
        etag: policy.etag,
      },
    });
    assert.equal(set.status, 200);
    assert.notEqual(set.body.etag, policy.etag);
    const stale = await call('POST', '/v1/projects/nimbus-local:setIamPolicy', {
      policy: { bindings: policy.bindings, etag: policy.etag },
    });
    assert.equal(stale.status, 409);
    assert.equal((stale.body.error as Json).status, 'ABORTED');
  });

  it('refuses allUsers on a project and unknown roles', async () => {
    const allUsers = await call('POST', '/v1/projects/nimbus-local:setIamPolicy', {
      policy: { bindings: [{ role: 'roles/viewer', members: ['allUsers'] }] },
    });
    assert.equal(allUsers.status, 400);
    const role = await call('POST', '/v1/projects/nimbus-local:setIamPolicy', {
      policy: { bindings: [{ role: 'roles/nonsense', members: ['user:a@b.c'] }] },
    });
    assert.equal(role.status, 400);
  });

  it('answers testIamPermissions with the subset held', async () => {
    const res = await call('POST', '/v1/projects/nimbus-local:testIamPermissions', {
      permissions: ['resourcemanager.projects.get', 'made.up.permission'],
    });
    assert.deepEqual(res.body.permissions, ['resourcemanager.projects.get']);
  });
});
