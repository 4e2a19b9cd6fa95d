/**
 * Public access prevention (`iamConfiguration.publicAccessPrevention`) through app.inject: stored from
 * buckets.insert / patch / update, validated, and enforced as Google does (412 conditionNotMet for new
 * public grants, existing public grants silenced while enforced and working again once inherited);
 * plus the setting through the official Node client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { Storage } from '@google-cloud/storage';
import {
  injector,
  type Method,
  startTestApp,
  startTestServer,
  withBinding,
  type Json,
  type TestApp,
} from '../helpers.ts';

const PROJECT = 'nimbus-local';
const PUBLIC_REFUSED =
  'The member bindings allUsers and allAuthenticatedUsers are not allowed since public access prevention is enforced.';

interface ErrorBody {
  error: { code: number; message: string; errors: { reason: string }[] };
}

describe('Cloud Storage public access prevention (JSON API v1)', () => {
  let t: TestApp;

  const call = injector(() => t);
  const owner = (method: Method, url: string, payload?: object) => call(method, url, t.ownerToken, payload);
  const anonymousRead = (bucket: string, name: string) =>
    call('GET', `/storage/v1/b/${bucket}/o/${name}?alt=media`, undefined);
  const upload = async (bucket: string, name: string, query = '') =>
    call(
      'POST',
      `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${name}${query}`,
      t.ownerToken,
      Buffer.from(`hello from ${bucket}`),
      { 'content-type': 'text/plain' },
    );
  const createBucket = async (name: string, iamConfiguration?: Json): Promise<Json> => {
    const res = await owner('POST', `/storage/v1/b?project=${PROJECT}`, {
      name,
      ...(iamConfiguration === undefined ? {} : { iamConfiguration }),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<Json>();
  };
  const preventionOf = (bucket: Json): unknown =>
    (bucket.iamConfiguration as { publicAccessPrevention?: unknown } | undefined)?.publicAccessPrevention;
  const setPrevention = async (bucket: string, value: string): Promise<LightMyRequestResponse> =>
    owner('PATCH', `/storage/v1/b/${bucket}`, { iamConfiguration: { publicAccessPrevention: value } });
  const assertRefused = (res: LightMyRequestResponse): void => {
    assert.equal(res.statusCode, 412, res.body);
    const body = res.json<ErrorBody>();
    assert.equal(body.error.errors[0]?.reason, 'conditionNotMet');
    assert.equal(body.error.message, PUBLIC_REFUSED);
  };
  const grant = async (bucket: string, role: string, member: string): Promise<LightMyRequestResponse> => {
    const current = (await owner('GET', `/storage/v1/b/${bucket}/iam`)).json<Json>();
    return owner('PUT', `/storage/v1/b/${bucket}/iam`, {
      ...current,
      bindings: withBinding(current, role, member),
    });
  };

  before(async () => {
    t = await startTestApp({ anonymous: 'none' });
  });
  after(async () => {
    await t.dispose();
  });

  it('stores the setting from insert, patch and update, and prints it', async () => {
    assert.equal(preventionOf(await createBucket('pap-default')), 'inherited');
    const enforced = await createBucket('pap-insert', { publicAccessPrevention: 'enforced' });
    assert.equal(preventionOf(enforced), 'enforced');
    assert.equal(preventionOf((await owner('GET', '/storage/v1/b/pap-insert')).json<Json>()), 'enforced');

    const patched = await setPrevention('pap-default', 'enforced');
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(preventionOf(patched.json<Json>()), 'enforced');
    // A patch that does not name it keeps it.
    const labelled = await owner('PATCH', '/storage/v1/b/pap-default', { labels: { a: 'b' } });
    assert.equal(preventionOf(labelled.json<Json>()), 'enforced');
    // `unspecified`, the setting's older name, means inherited.
    assert.equal(preventionOf((await setPrevention('pap-default', 'unspecified')).json<Json>()), 'inherited');

    // buckets.update (PUT) sets it too, and keeps it when the body names it again.
    const current = (await owner('GET', '/storage/v1/b/pap-default')).json<Json>();
    const put = await owner('PUT', '/storage/v1/b/pap-default', {
      ...current,
      iamConfiguration: { publicAccessPrevention: 'enforced' },
    });
    assert.equal(put.statusCode, 200, put.body);
    assert.equal(preventionOf(put.json<Json>()), 'enforced');
    const list = (await owner('GET', `/storage/v1/b?project=${PROJECT}&prefix=pap-`)).json<{
      items: Json[];
    }>();
    assert.deepEqual(
      list.items.map((bucket) => [bucket.name, preventionOf(bucket)]),
      [
        ['pap-default', 'enforced'],
        ['pap-insert', 'enforced'],
      ],
    );
  });

  it('refuses any other value with 400 invalid', async () => {
    for (const res of [
      await owner('POST', `/storage/v1/b?project=${PROJECT}`, {
        name: 'pap-bad',
        iamConfiguration: { publicAccessPrevention: 'on' },
      }),
      await setPrevention('pap-insert', 'ENFORCED'),
      await owner('PUT', '/storage/v1/b/pap-insert', {
        name: 'pap-insert',
        iamConfiguration: { publicAccessPrevention: '' },
      }),
    ]) {
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json<ErrorBody>().error.errors[0]?.reason, 'invalid');
    }
    assert.equal((await owner('GET', '/storage/v1/b/pap-bad')).statusCode, 404);
    assert.equal(preventionOf((await owner('GET', '/storage/v1/b/pap-insert')).json<Json>()), 'enforced');
  });

  it('refuses public IAM bindings on an enforced bucket with 412 conditionNotMet', async () => {
    for (const member of ['allUsers', 'allAuthenticatedUsers']) {
      assertRefused(await grant('pap-insert', 'roles/storage.objectViewer', member));
    }
    const policy = (await owner('GET', '/storage/v1/b/pap-insert/iam')).json<Json>();
    assert.deepEqual(policy.bindings, []);
  });

  it('silences an existing allUsers binding while enforced and restores it when inherited', async () => {
    await createBucket('pap-iam');
    assert.equal((await upload('pap-iam', 'hello.txt')).statusCode, 200);
    assert.equal((await anonymousRead('pap-iam', 'hello.txt')).statusCode, 403);
    assert.equal((await grant('pap-iam', 'roles/storage.objectViewer', 'allUsers')).statusCode, 200);
    const open = await anonymousRead('pap-iam', 'hello.txt');
    assert.equal(open.statusCode, 200, open.body);
    assert.equal(open.body, 'hello from pap-iam');

    assert.equal((await setPrevention('pap-iam', 'enforced')).statusCode, 200);
    assert.equal((await anonymousRead('pap-iam', 'hello.txt')).statusCode, 403);
    // The binding is kept (as on Google): the policy still shows it.
    const policy = (await owner('GET', '/storage/v1/b/pap-iam/iam')).json<{
      bindings: { role: string; members: string[] }[];
    }>();
    assert.deepEqual(policy.bindings, [{ role: 'roles/storage.objectViewer', members: ['allUsers'] }]);

    assert.equal((await setPrevention('pap-iam', 'inherited')).statusCode, 200);
    assert.equal((await anonymousRead('pap-iam', 'hello.txt')).statusCode, 200);
  });

  it('keeps non-public bucket grants working while enforced', async () => {
    await createBucket('pap-grants', { publicAccessPrevention: 'enforced' });
    assert.equal((await upload('pap-grants', 'hello.txt')).statusCode, 200);
    const created = await owner('POST', `/v1/projects/${PROJECT}/serviceAccounts`, {
      accountId: 'pap-reader',
    });
    assert.equal(created.statusCode, 200, created.body);
    const email = created.json<{ email: string }>().email;
    const minted = await owner('POST', `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`, {
      scope: ['https://www.googleapis.com/auth/cloud-platform'],
    });
    const token = minted.json<{ accessToken: string }>().accessToken;
    const read = () => call('GET', '/storage/v1/b/pap-grants/o/hello.txt?alt=media', token);
    assert.equal((await read()).statusCode, 403);
    assert.equal(
      (await grant('pap-grants', 'roles/storage.objectViewer', `serviceAccount:${email}`)).statusCode,
      200,
    );
    const granted = await read();
    assert.equal(granted.statusCode, 200, granted.body);
    // Lifting and enforcing again keeps it.
    assert.equal((await setPrevention('pap-grants', 'inherited')).statusCode, 200);
    assert.equal((await setPrevention('pap-grants', 'enforced')).statusCode, 200);
    assert.equal((await read()).statusCode, 200);
    // The owner still manages the bucket; deleting it drops both policies.
    assert.equal((await owner('DELETE', '/storage/v1/b/pap-grants/o/hello.txt')).statusCode, 204);
    assert.equal((await owner('DELETE', '/storage/v1/b/pap-grants')).statusCode, 204);
    await createBucket('pap-grants', { publicAccessPrevention: 'enforced' });
    assert.equal((await upload('pap-grants', 'hello.txt')).statusCode, 200);
    assert.equal((await read()).statusCode, 403);
  });

  it('refuses public ACLs and predefined ACLs on an enforced fine-grained bucket', async () => {
    await createBucket('pap-acl');
    assert.equal((await upload('pap-acl', 'open.txt', '&predefinedAcl=publicRead')).statusCode, 200);
    assert.equal((await anonymousRead('pap-acl', 'open.txt')).statusCode, 200);

    assert.equal((await setPrevention('pap-acl', 'enforced')).statusCode, 200);
    // The ACL made before stays on the object but no longer grants anything.
    assert.equal((await anonymousRead('pap-acl', 'open.txt')).statusCode, 403);
    const acl = (await owner('GET', '/storage/v1/b/pap-acl/o/open.txt/acl')).json<{ items: Json[] }>();
    assert.ok(acl.items.some((entry) => entry.entity === 'allUsers'));

    assertRefused(await upload('pap-acl', 'new.txt', '&predefinedAcl=publicRead'));
    assertRefused(await upload('pap-acl', 'new.txt', '&predefinedAcl=authenticatedRead'));
    assert.equal((await owner('GET', '/storage/v1/b/pap-acl/o/new.txt')).statusCode, 404);
    assert.equal((await upload('pap-acl', 'private.txt', '&predefinedAcl=private')).statusCode, 200);
    assertRefused(
      await owner('PATCH', '/storage/v1/b/pap-acl/o/private.txt', {
        acl: [{ entity: 'allAuthenticatedUsers', role: 'READER' }],
      }),
    );
    for (const url of [
      '/storage/v1/b/pap-acl/o/private.txt/acl',
      '/storage/v1/b/pap-acl/acl',
      '/storage/v1/b/pap-acl/defaultObjectAcl',
    ]) {
      assertRefused(await owner('POST', url, { entity: 'allUsers', role: 'READER' }));
    }
    assertRefused(await owner('PUT', '/storage/v1/b/pap-acl/o/open.txt/acl/allUsers', { role: 'OWNER' }));
    // Other entities are fine, and removing the public entry is allowed.
    const user = await owner('POST', '/storage/v1/b/pap-acl/o/private.txt/acl', {
      entity: 'user-someone@example.com',
      role: 'READER',
    });
    assert.equal(user.statusCode, 200, user.body);
    assert.equal((await owner('DELETE', '/storage/v1/b/pap-acl/o/open.txt/acl/allUsers')).statusCode, 204);

    // Inherited again: public ACLs may be granted and work.
    assert.equal((await setPrevention('pap-acl', 'inherited')).statusCode, 200);
    assert.equal(
      (await owner('POST', '/storage/v1/b/pap-acl/o/open.txt/acl', { entity: 'allUsers', role: 'READER' }))
        .statusCode,
      200,
    );
    assert.equal((await anonymousRead('pap-acl', 'open.txt')).statusCode, 200);
  });
});

describe('public access prevention through the official Node client', () => {
  let server: TestApp & { url: string };
  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.dispose();
  });

  it('bucket.setMetadata enforces and lifts it', async () => {
    const storage = new Storage({ apiEndpoint: server.url, projectId: PROJECT });
    const [bucket] = await storage.createBucket('pap-node-client');
    assert.equal(bucket.metadata.iamConfiguration?.publicAccessPrevention, 'inherited');
    await bucket.setMetadata({ iamConfiguration: { publicAccessPrevention: 'enforced' } });
    const [enforced] = await bucket.getMetadata();
    assert.equal(enforced.iamConfiguration?.publicAccessPrevention, 'enforced');
    await assert.rejects(
      bucket.iam.setPolicy({ bindings: [{ role: 'roles/storage.objectViewer', members: ['allUsers'] }] }),
      (error: { code?: unknown; message?: unknown }) =>
        error.code === 412 && error.message === PUBLIC_REFUSED,
    );
    await bucket.setMetadata({ iamConfiguration: { publicAccessPrevention: 'inherited' } });
    const [lifted] = await bucket.getMetadata();
    assert.equal(lifted.iamConfiguration?.publicAccessPrevention, 'inherited');
    await bucket.iam.setPolicy({ bindings: [{ role: 'roles/storage.objectViewer', members: ['allUsers'] }] });
  });
});
