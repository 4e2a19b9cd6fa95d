import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, startTestApp, type TestApp } from '../helpers.ts';

/**
 * Policy and role etags are protobuf `bytes`: gcloud decodes them and sends them back in the
 * URL-safe base64 alphabet (`_` and `-` for `/` and `+`). Google treats both spellings as the same
 * etag; a read-modify-write through gcloud failed with 409 whenever an etag held `/` or `+`.
 */
describe('etags sent back in URL-safe base64', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  const call = async (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => {
    const res = await t.app.inject({ method, url, headers: bearer(t.ownerToken), payload });
    return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
  };
  const urlSafe = (etag: string): string => etag.replaceAll('+', '-').replaceAll('/', '_');
  const needsEscaping = (etag: string): boolean => /[+/]/.test(etag);

  it('accepts a policy etag re-encoded URL-safe and still rejects a stale one', async () => {
    const url = '/v1/projects/nimbus-local';
    let policy = (await call('POST', `${url}:getIamPolicy`, {})).body as {
      bindings: { role: string; members: string[] }[];
      etag: string;
    };
    const owner = policy.bindings;
    const viewer = { role: 'roles/viewer', members: ['user:someone@example.com'] };
    // Each write changes the etag; stop at one that holds '+' or '/' (about one write in three).
    for (let i = 0; i < 200 && !needsEscaping(policy.etag); i++) {
      const bindings = i % 2 === 0 ? [...owner, viewer] : owner;
      const res = await call('POST', `${url}:setIamPolicy`, { policy: { bindings, etag: policy.etag } });
      assert.equal(res.status, 200);
      policy = res.body as typeof policy;
    }
    assert.ok(needsEscaping(policy.etag), 'no etag with + or / in 200 writes');
    const stale = policy.etag;

    const res = await call('POST', `${url}:setIamPolicy`, {
      policy: { bindings: [...owner, viewer], etag: urlSafe(policy.etag).replace(/=+$/, '') },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));

    const conflict = await call('POST', `${url}:setIamPolicy`, {
      policy: { bindings: owner, etag: urlSafe(stale) },
    });
    assert.equal(conflict.status, 409);
  });

  it('accepts a role etag re-encoded URL-safe', async () => {
    const created = await call('POST', '/v1/projects/nimbus-local/roles', {
      roleId: 'etagRole',
      role: { title: 'T0', includedPermissions: ['iam.roles.get'] },
    });
    assert.equal(created.status, 200);
    let etag = created.body.etag as string;
    for (let i = 1; i < 200 && !needsEscaping(etag); i++) {
      const res = await call('PATCH', '/v1/projects/nimbus-local/roles/etagRole?updateMask=title', {
        title: `T${i}`,
        etag,
      });
      assert.equal(res.status, 200);
      etag = res.body.etag as string;
    }
    assert.ok(needsEscaping(etag), 'no etag with + or / in 200 writes');
    const res = await call('PATCH', '/v1/projects/nimbus-local/roles/etagRole?updateMask=title', {
      title: 'final',
      etag: urlSafe(etag),
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.title, 'final');
  });
});
