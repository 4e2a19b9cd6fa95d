import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestApp, type TestApp } from '../helpers.ts';

describe('server basics', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  it('answers health without credentials', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/_nimbus/health' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
  });

  it('creates the default project on first start', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/v1/projects/nimbus-local' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json<{ projectId: string }>().projectId, 'nimbus-local');
  });

  it('answers unknown paths with a Google-shaped 404', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/nope' });
    assert.equal(res.statusCode, 404);
    const body = res.json<{ error: { code: number; status: string; errors: { reason: string }[] } }>();
    assert.equal(body.error.code, 404);
    assert.equal(body.error.status, 'NOT_FOUND');
    assert.equal(body.error.errors[0]?.reason, 'notFound');
  });
});
