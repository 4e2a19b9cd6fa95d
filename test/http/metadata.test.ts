import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, startTestApp, type TestApp } from '../helpers.ts';

describe('metadata server on the host', () => {
  let t: TestApp;
  const md = (url: string, headers: Record<string, string> = { 'metadata-flavor': 'Google' }) =>
    t.app.inject({ method: 'GET', url: `/computeMetadata/v1/${url}`, headers });
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  it('requires Metadata-Flavor: Google and refuses forwarded requests', async () => {
    assert.equal((await md('project/project-id', {})).statusCode, 403);
    assert.equal(
      (await md('project/project-id', { 'metadata-flavor': 'Google', 'x-forwarded-for': '1.2.3.4' }))
        .statusCode,
      403,
    );
  });

  it('answers project ids as text with the Metadata-Flavor header', async () => {
    const res = await md('project/project-id');
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['metadata-flavor'], 'Google');
    assert.equal(res.body, 'nimbus-local');
    assert.match((await md('project/numeric-project-id')).body, /^\d{12}$/);
  });

  it('hands out a token that the APIs accept', async () => {
    const res = await md('instance/service-accounts/default/token');
    const token = res.json<{ access_token: string; token_type: string; expires_in: number }>();
    assert.equal(token.token_type, 'Bearer');
    assert.ok(token.expires_in > 0);
    const call = await t.app.inject({
      method: 'GET',
      url: '/v1/projects/nimbus-local',
      headers: bearer(token.access_token),
    });
    assert.equal(call.statusCode, 200);
    assert.equal((await md('instance/service-accounts/default/email')).body, 'owner@nimbus.local');
  });

  it('lists directories and renders recursive JSON', async () => {
    assert.match((await md('instance/service-accounts/')).body, /default\//);
    const tree = (await md('project/?recursive=true')).json<{ projectId: string }>();
    assert.equal(tree.projectId, 'nimbus-local');
  });

  it('gives no token when anonymous access is off', async () => {
    const closed = await startTestApp({ anonymous: 'none' });
    try {
      const res = await closed.app.inject({
        method: 'GET',
        url: '/computeMetadata/v1/instance/service-accounts/default/token',
        headers: { 'metadata-flavor': 'Google' },
      });
      assert.equal(res.statusCode, 404);
    } finally {
      await closed.dispose();
    }
  });
});
