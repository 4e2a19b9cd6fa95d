import assert from 'node:assert/strict';
import { verify, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { bearer, jsonCaller, startTestApp, type Json, type TestApp } from '../helpers.ts';

describe('IAM service accounts, keys and roles', () => {
  let t: TestApp;
  const call: ReturnType<typeof jsonCaller> = (...args) => jsonCaller(t)(...args);
  const email = 'robot-one@nimbus-local.iam.gserviceaccount.com';
  const sa = `/v1/projects/nimbus-local/serviceAccounts/${email}`;
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  it('creates, gets, lists and patches a service account', async () => {
    const created = await call('POST', '/v1/projects/nimbus-local/serviceAccounts', {
      accountId: 'robot-one',
      serviceAccount: { displayName: 'Robot One' },
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.email, email);
    assert.equal(created.body.name, `projects/nimbus-local/serviceAccounts/${email}`);
    assert.match(String(created.body.uniqueId), /^\d{21}$/);
    assert.equal(
      (await call('POST', '/v1/projects/nimbus-local/serviceAccounts', { accountId: 'robot-one' })).status,
      409,
    );
    const byDash = await call('GET', `/v1/projects/-/serviceAccounts/${email}`);
    assert.equal(byDash.body.displayName, 'Robot One');
    const byId = await call('GET', `/v1/projects/-/serviceAccounts/${String(created.body.uniqueId)}`);
    assert.equal(byId.body.email, email);
    const listed = await call('GET', '/v1/projects/nimbus-local/serviceAccounts');
    assert.deepEqual(
      (listed.body.accounts as Json[]).map((a) => a.email),
      [email],
    );
    const patched = await call('PATCH', sa, {
      serviceAccount: { description: 'does jobs' },
      updateMask: 'description',
    });
    assert.equal(patched.body.description, 'does jobs');
    assert.equal(patched.body.displayName, 'Robot One');
  });

  it('issues Google-format JSON keys and serves their public certificates', async () => {
    const created = await call('POST', `${sa}/keys`, {});
    assert.equal(created.status, 200);
    assert.equal(created.body.privateKeyType, 'TYPE_GOOGLE_CREDENTIALS_FILE');
    const file = JSON.parse(Buffer.from(String(created.body.privateKeyData), 'base64').toString()) as Json;
    assert.equal(file.type, 'service_account');
    assert.equal(file.client_email, email);
    assert.equal(file.project_id, 'nimbus-local');
    assert.match(String(file.private_key), /^-----BEGIN PRIVATE KEY-----/);
    assert.match(String(file.token_uri), /^http:\/\/localhost(:\d+)?\/token$/);
    const keyId = String(file.private_key_id);
    assert.equal(created.body.name, `projects/nimbus-local/serviceAccounts/${email}/keys/${keyId}`);

    const listed = await call('GET', `${sa}/keys`);
    assert.equal((listed.body.keys as Json[]).length, 1);
    assert.equal((listed.body.keys as Json[])[0]?.privateKeyData, undefined);
    const withCert = await call('GET', `${sa}/keys/${keyId}?publicKeyType=TYPE_X509_PEM_FILE`);
    const cert = new X509Certificate(Buffer.from(String(withCert.body.publicKeyData), 'base64'));
    assert.equal(cert.subject, `CN=${email}`);
    const certs = await t.app.inject({
      method: 'GET',
      url: `/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    });
    assert.ok(keyId in certs.json<Json>());

    assert.equal((await call('POST', `${sa}/keys/${keyId}:disable`, {})).status, 200);
    assert.equal((await call('GET', `${sa}/keys/${keyId}`)).body.disabled, true);
    assert.equal((await call('DELETE', `${sa}/keys/${keyId}`)).status, 200);
    assert.equal((await call('GET', `${sa}/keys/${keyId}`)).status, 404);
  });

  it('sets a policy on a service account', async () => {
    const set = await call('POST', `${sa}:setIamPolicy`, {
      policy: { bindings: [{ role: 'roles/iam.serviceAccountUser', members: ['user:dev@example.com'] }] },
    });
    assert.equal(set.status, 200);
    const got = await call('POST', `${sa}:getIamPolicy`, {});
    assert.deepEqual(got.body.bindings, [
      { role: 'roles/iam.serviceAccountUser', members: ['user:dev@example.com'] },
    ]);
  });

  it('disables, deletes and undeletes a service account', async () => {
    assert.equal((await call('POST', `${sa}:disable`, {})).status, 200);
    assert.equal((await call('GET', sa)).body.disabled, true);
    assert.equal((await call('POST', `${sa}:enable`, {})).status, 200);
    const before = await call('GET', sa);
    assert.equal((await call('DELETE', sa)).status, 200);
    assert.equal((await call('GET', sa)).status, 404);
    const restored = await call(
      'POST',
      `/v1/projects/-/serviceAccounts/${String(before.body.uniqueId)}:undelete`,
      {},
    );
    assert.equal((restored.body.restoredAccount as Json).email, email);
    assert.equal((await call('GET', sa)).status, 200);
  });

  it('lists predefined roles and manages custom roles', async () => {
    const roles = await call('GET', '/v1/roles?pageSize=300');
    const names = (roles.body.roles as Json[]).map((r) => r.name);
    for (const role of ['roles/owner', 'roles/editor', 'roles/viewer', 'roles/storage.objectViewer']) {
      assert.ok(names.includes(role), role);
    }
    const viewer = await call('GET', '/v1/roles/viewer');
    assert.ok((viewer.body.includedPermissions as string[]).includes('resourcemanager.projects.get'));
    assert.ok(
      !(viewer.body.includedPermissions as string[]).includes('resourcemanager.projects.setIamPolicy'),
    );

    const created = await call('POST', '/v1/projects/nimbus-local/roles', {
      roleId: 'bucketPeeker',
      role: { title: 'Bucket Peeker', includedPermissions: ['storage.buckets.get', 'storage.objects.list'] },
    });
    assert.equal(created.status, 200);
    assert.equal(created.body.name, 'projects/nimbus-local/roles/bucketPeeker');
    const bad = await call('POST', '/v1/projects/nimbus-local/roles', {
      roleId: 'broken',
      role: { includedPermissions: ['storage.buckets.fly'] },
    });
    assert.equal(bad.status, 400);
    const patched = await call('PATCH', '/v1/projects/nimbus-local/roles/bucketPeeker?updateMask=title', {
      title: 'Peeker',
    });
    assert.equal(patched.body.title, 'Peeker');
    assert.equal((await call('DELETE', '/v1/projects/nimbus-local/roles/bucketPeeker')).body.deleted, true);
    assert.equal((await call('GET', '/v1/projects/nimbus-local/roles')).body.roles, undefined);
    assert.equal(
      (await call('POST', '/v1/projects/nimbus-local/roles/bucketPeeker:undelete', {})).status,
      200,
    );
    assert.equal(((await call('GET', '/v1/projects/nimbus-local/roles')).body.roles as Json[]).length, 1);
  });

  it('grants through a custom role', async () => {
    await call('POST', '/v1/projects/nimbus-local/serviceAccounts', { accountId: 'peeker-bot' });
    const peeker = 'peeker-bot@nimbus-local.iam.gserviceaccount.com';
    await call('POST', '/v1/projects/nimbus-local/roles', {
      roleId: 'projectPeeker',
      role: { title: 'Project Peeker', includedPermissions: ['resourcemanager.projects.get'] },
    });
    const policy = (await call('POST', '/v1/projects/nimbus-local:getIamPolicy', {})).body as {
      bindings: { role: string; members: string[] }[];
      etag: string;
    };
    policy.bindings.push({
      role: 'projects/nimbus-local/roles/projectPeeker',
      members: [`serviceAccount:${peeker}`],
    });
    assert.equal((await call('POST', '/v1/projects/nimbus-local:setIamPolicy', { policy })).status, 200);
    const token = (
      await call('POST', `/v1/projects/-/serviceAccounts/${peeker}:generateAccessToken`, {
        // gcloud --impersonate-service-account sends a null list (proto3 JSON: unset).
        delegates: null,
        scope: ['https://www.googleapis.com/auth/cloud-platform'],
      })
    ).body.accessToken as string;
    const allowed = await t.app.inject({
      method: 'GET',
      url: '/v1/projects/nimbus-local',
      headers: bearer(token),
    });
    assert.equal(allowed.statusCode, 200);
    const denied = await t.app.inject({
      method: 'POST',
      url: '/v1/projects/nimbus-local:getIamPolicy',
      headers: bearer(token),
      payload: {},
    });
    assert.equal(denied.statusCode, 403);
    assert.match(
      denied.json<{ error: { message: string } }>().error.message,
      /resourcemanager\.projects\.getIamPolicy/,
    );
  });

  it('signs blobs and JWTs with a Google-managed key whose certificate is published', async () => {
    await call('POST', '/v1/projects/nimbus-local/serviceAccounts', { accountId: 'signer-bot' });
    const signer = 'signer-bot@nimbus-local.iam.gserviceaccount.com';
    const blob = Buffer.from('GOOG4-RSA-SHA256 string to sign');
    const signed = await call('POST', `/v1/projects/-/serviceAccounts/${signer}:signBlob`, {
      payload: blob.toString('base64'),
    });
    assert.equal(signed.status, 200);
    const certs = (
      await t.app.inject({ method: 'GET', url: `/robot/v1/metadata/x509/${encodeURIComponent(signer)}` })
    ).json<Record<string, string>>();
    const pem = certs[String(signed.body.keyId)];
    assert.ok(pem !== undefined);
    const publicKey = new X509Certificate(pem).publicKey;
    assert.equal(
      verify('sha256', blob, publicKey, Buffer.from(String(signed.body.signedBlob), 'base64')),
      true,
    );
    assert.equal(
      verify(
        'sha256',
        Buffer.from('other'),
        publicKey,
        Buffer.from(String(signed.body.signedBlob), 'base64'),
      ),
      false,
    );

    const keys = await call('GET', `/v1/projects/-/serviceAccounts/${signer}/keys?keyTypes=SYSTEM_MANAGED`);
    assert.equal((keys.body.keys as Json[]).length, 1);
    assert.equal((keys.body.keys as Json[])[0]?.privateKeyPem, undefined);

    const now = Math.floor(Date.now() / 1000);
    const jwt = await call('POST', `/v1/projects/-/serviceAccounts/${signer}:signJwt`, {
      payload: JSON.stringify({
        iss: signer,
        sub: signer,
        aud: 'https://example.test',
        iat: now,
        exp: now + 600,
      }),
    });
    assert.equal(jwt.body.keyId, signed.body.keyId);
    // A self-signed JWT is a bearer credential: the account has no grant, so 403 (not 401).
    const used = await t.app.inject({
      method: 'GET',
      url: '/v1/projects/nimbus-local',
      headers: bearer(String(jwt.body.signedJwt)),
    });
    assert.equal(used.statusCode, 403);
    assert.equal(
      (await call('POST', `/v1/projects/-/serviceAccounts/${signer}:signJwt`, { payload: '[1]' })).status,
      400,
    );
  });
});
