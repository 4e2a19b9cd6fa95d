/**
 * Object ACLs (storage.objectAccessControls and predefinedAcl on uploads) through app.inject, on a
 * fine-grained bucket where they grant reads IAM does not, and on a bucket with uniform
 * bucket-level access where every ACL call is refused with 400.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { injector, type Method, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const FINE = 'acl-fine-bucket';
const UNIFORM = 'acl-uniform-bucket';

describe('Cloud Storage object ACLs (JSON API v1)', () => {
  let t: TestApp;

  const call = injector(() => t);

  const owner = (method: Method, url: string, payload?: object) => call(method, url, t.ownerToken, payload);

  const upload = async (bucket: string, name: string, text: string, query = '') =>
    call(
      'POST',
      `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}${query}`,
      t.ownerToken,
      Buffer.from(text),
      { 'content-type': 'text/plain' },
    );

  const multipart = async (bucket: string, metadata: object, text: string) => {
    const boundary = 'acl-test-boundary';
    const body = [
      `--${boundary}`,
      'content-type: application/json; charset=UTF-8',
      '',
      JSON.stringify(metadata),
      `--${boundary}`,
      'content-type: text/plain',
      '',
      text,
      `--${boundary}--`,
      '',
    ].join('\r\n');
    return call('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=multipart`, t.ownerToken, body, {
      'content-type': `multipart/related; boundary=${boundary}`,
    });
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

  const objectUrl = (bucket: string, name: string) => `/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}`;

  const reason = (res: LightMyRequestResponse): string | undefined =>
    res.json<{ error: { errors: { reason: string }[] } }>().error.errors[0]?.reason;

  before(async () => {
    t = await startTestApp({ anonymous: 'none' });
    const fine = await owner('POST', `/storage/v1/b?project=${PROJECT}`, { name: FINE });
    assert.equal(fine.statusCode, 200, fine.body);
    const uniform = await owner('POST', `/storage/v1/b?project=${PROJECT}`, {
      name: UNIFORM,
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
    });
    assert.equal(uniform.statusCode, 200, uniform.body);
  });
  after(async () => {
    await t.dispose();
  });

  it('an allUsers READER entry makes one object public, and removing it makes it private again', async () => {
    const name = 'dir/a b.txt';
    assert.equal((await upload(FINE, name, 'public soon')).statusCode, 200);
    assert.equal((await call('GET', `${objectUrl(FINE, name)}?alt=media`, undefined)).statusCode, 403);
    assert.equal((await call('GET', objectUrl(FINE, name), undefined)).statusCode, 403);

    // The default ACL (projectPrivate), listed under both path prefixes.
    for (const prefix of ['/storage/v1', '']) {
      const list = await owner('GET', `${prefix}/b/${FINE}/o/${encodeURIComponent(name)}/acl`);
      assert.equal(list.statusCode, 200, list.body);
      const body = list.json<{ kind: string; items: Json[] }>();
      assert.equal(body.kind, 'storage#objectAccessControls');
      assert.ok(body.items.some((item) => String(item.entity).startsWith('project-owners-')));
    }

    const added = await owner('POST', `${objectUrl(FINE, name)}/acl`, { entity: 'allUsers', role: 'READER' });
    assert.equal(added.statusCode, 200, added.body);
    const entry = added.json<Json>();
    assert.equal(entry.kind, 'storage#objectAccessControl');
    assert.equal(entry.entity, 'allUsers');
    assert.equal(entry.role, 'READER');
    assert.equal(entry.bucket, FINE);
    assert.equal(entry.object, name);
    assert.equal(typeof entry.generation, 'string');
    assert.equal(entry.id, `${FINE}/${name}/${String(entry.generation)}/allUsers`);
    assert.equal(typeof entry.etag, 'string');
    assert.match(
      String(entry.selfLink),
      /\/storage\/v1\/b\/acl-fine-bucket\/o\/dir%2Fa%20b\.txt\/acl\/allUsers$/,
    );

    const media = await call('GET', `${objectUrl(FINE, name)}?alt=media`, undefined);
    assert.equal(media.statusCode, 200, media.body);
    assert.equal(media.body, 'public soon');
    const metadata = await call('GET', objectUrl(FINE, name), undefined);
    assert.equal(metadata.statusCode, 200, metadata.body);
    assert.equal(metadata.json<Json>().name, name);
    const download = await call('GET', `/download${objectUrl(FINE, name)}`, undefined);
    assert.equal(download.statusCode, 200);
    // Reading an object grants nothing else: not its ACL, not the bucket's other objects.
    assert.equal((await call('GET', `${objectUrl(FINE, name)}/acl`, undefined)).statusCode, 403);
    assert.equal((await call('GET', `/storage/v1/b/${FINE}/o`, undefined)).statusCode, 403);

    const got = await owner('GET', `${objectUrl(FINE, name)}/acl/allUsers`);
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.json<Json>().role, 'READER');

    const removed = await owner('DELETE', `${objectUrl(FINE, name)}/acl/allUsers`);
    assert.equal(removed.statusCode, 204, removed.body);
    assert.equal((await call('GET', `${objectUrl(FINE, name)}?alt=media`, undefined)).statusCode, 403);
    assert.equal((await owner('GET', `${objectUrl(FINE, name)}/acl/allUsers`)).statusCode, 404);
    assert.equal((await owner('DELETE', `${objectUrl(FINE, name)}/acl/allUsers`)).statusCode, 404);
  });

  it('user- and allAuthenticatedUsers entries grant reads to signed-in callers; PATCH/PUT change roles', async () => {
    const { email, token } = await serviceAccountToken('acl-reader');
    assert.equal((await upload(FINE, 'shared.txt', 'for one account')).statusCode, 200);
    const url = objectUrl(FINE, 'shared.txt');
    assert.equal((await call('GET', `${url}?alt=media`, token)).statusCode, 403);

    const entity = `user-${email}`;
    const added = await owner('POST', `${url}/acl`, { entity, role: 'READER' });
    assert.equal(added.statusCode, 200, added.body);
    assert.equal(added.json<Json>().email, email);
    assert.equal((await call('GET', `${url}?alt=media`, token)).body, 'for one account');
    assert.equal((await call('GET', `${url}?alt=media`, undefined)).statusCode, 403);

    const patched = await owner('PATCH', `${url}/acl/${encodeURIComponent(entity)}`, { role: 'OWNER' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json<Json>().role, 'OWNER');
    assert.notEqual(patched.json<Json>().etag, added.json<Json>().etag);
    const put = await owner('PUT', `${url}/acl/${encodeURIComponent(entity)}`, { entity, role: 'READER' });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(put.json<Json>().role, 'READER');

    const badRole = await owner('POST', `${url}/acl`, { entity: 'allUsers', role: 'WRITER' });
    assert.equal(badRole.statusCode, 400, badRole.body);
    const badEntity = await owner('POST', `${url}/acl`, { entity: 'everyone', role: 'READER' });
    assert.equal(badEntity.statusCode, 400, badEntity.body);
    assert.equal((await owner('PATCH', `${url}/acl/allUsers`, { role: 'READER' })).statusCode, 404);
    assert.equal((await owner('GET', `${objectUrl(FINE, 'missing.txt')}/acl`)).statusCode, 404);

    // Multipart metadata may carry an acl.
    const withAcl = await multipart(
      FINE,
      { name: 'authenticated.txt', acl: [{ entity: 'allAuthenticatedUsers', role: 'READER' }] },
      'any signed-in caller',
    );
    assert.equal(withAcl.statusCode, 200, withAcl.body);
    const authUrl = objectUrl(FINE, 'authenticated.txt');
    assert.equal((await call('GET', `${authUrl}?alt=media`, token)).body, 'any signed-in caller');
    assert.equal((await call('GET', `${authUrl}?alt=media`, undefined)).statusCode, 403);
  });

  it('predefinedAcl=publicRead on upload makes the object public; a new generation starts private', async () => {
    const res = await upload(FINE, 'predefined.txt', 'public at once', '&predefinedAcl=publicRead');
    assert.equal(res.statusCode, 200, res.body);
    const url = objectUrl(FINE, 'predefined.txt');
    const media = await call('GET', `${url}?alt=media`, undefined);
    assert.equal(media.statusCode, 200, media.body);
    assert.equal(media.body, 'public at once');
    const list = (await owner('GET', `${url}/acl`)).json<{ items: Json[] }>();
    assert.deepEqual(
      list.items.map((item) => [item.entity, item.role]).sort(),
      [
        ['allUsers', 'READER'],
        [`user-${t.platform.ownerPrincipal().email.toLowerCase()}`, 'OWNER'],
      ].sort(),
    );

    // objects.patch with predefinedAcl replaces the ACL (file.makePrivate() sends acl: null too).
    const patched = await call('PATCH', `${url}?predefinedAcl=projectPrivate`, t.ownerToken, { acl: null });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal((await call('GET', `${url}?alt=media`, undefined)).statusCode, 403);
    const relisted = (await owner('GET', `${url}/acl`)).json<{ items: Json[] }>();
    assert.ok(!relisted.items.some((item) => item.entity === 'allUsers'));
    assert.equal((await owner('PATCH', `${url}/acl/allUsers`, { role: 'READER' })).statusCode, 404);
    assert.equal((await owner('POST', `${url}/acl`, { entity: 'allUsers', role: 'READER' })).statusCode, 200);

    assert.equal((await upload(FINE, 'predefined.txt', 'private again')).statusCode, 200);
    assert.equal((await call('GET', `${url}?alt=media`, undefined)).statusCode, 403);

    const unknown = await upload(FINE, 'bad-acl.txt', 'x', '&predefinedAcl=everyone');
    assert.equal(unknown.statusCode, 400, unknown.body);
    assert.equal((await owner('GET', objectUrl(FINE, 'bad-acl.txt'))).statusCode, 404);
  });

  it('an encoded object name ending in /acl is an object, not its ACL', async () => {
    assert.equal((await upload(FINE, 'x/acl', 'named acl')).statusCode, 200);
    const res = await owner('GET', objectUrl(FINE, 'x/acl'));
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<Json>().name, 'x/acl');
  });

  it('a bucket with uniform bucket-level access refuses every ACL call and predefinedAcl with 400', async () => {
    assert.equal((await upload(UNIFORM, 'u.txt', 'uniform')).statusCode, 200);
    const url = objectUrl(UNIFORM, 'u.txt');
    const refused: [Method, string, object?][] = [
      ['GET', `${url}/acl`],
      ['POST', `${url}/acl`, { entity: 'allUsers', role: 'READER' }],
      ['GET', `${url}/acl/allUsers`],
      ['PUT', `${url}/acl/allUsers`, { entity: 'allUsers', role: 'READER' }],
      ['PATCH', `${url}/acl/allUsers`, { role: 'READER' }],
      ['DELETE', `${url}/acl/allUsers`],
    ];
    for (const [method, path, body] of refused) {
      const res = await owner(method, path, body);
      assert.equal(res.statusCode, 400, `${method} ${path}: ${res.body}`);
      assert.equal(reason(res), 'invalid');
      assert.match(res.json<{ error: { message: string } }>().error.message, /uniform bucket-level access/);
    }

    const predefined = await upload(UNIFORM, 'p.txt', 'x', '&predefinedAcl=publicRead');
    assert.equal(predefined.statusCode, 400, predefined.body);
    assert.equal(reason(predefined), 'invalid');
    assert.match(
      predefined.json<{ error: { message: string } }>().error.message,
      /^Cannot insert legacy ACL for an object when uniform bucket-level access is enabled\./,
    );
    assert.equal((await owner('GET', objectUrl(UNIFORM, 'p.txt'))).statusCode, 404);
    const withAcl = await multipart(
      UNIFORM,
      { name: 'm.txt', acl: [{ entity: 'allUsers', role: 'READER' }] },
      'x',
    );
    assert.equal(withAcl.statusCode, 400, withAcl.body);
    const patch = await call('PATCH', `${url}?predefinedAcl=publicRead`, t.ownerToken, {});
    assert.equal(patch.statusCode, 400, patch.body);
    // An empty acl asks for nothing and is accepted.
    assert.equal((await multipart(UNIFORM, { name: 'm.txt', acl: [] }, 'x')).statusCode, 200);
    // Anonymous callers still get 403 (IAM alone decides).
    assert.equal((await call('GET', `${url}?alt=media`, undefined)).statusCode, 403);
  });
});
