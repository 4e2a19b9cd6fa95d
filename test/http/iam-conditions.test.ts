/**
 * IAM Conditions through app.inject: conditional role bindings (policy version 3) grant when their
 * CEL expression holds for the call, on bucket and project policies, with Google's resource names
 * (`projects/_/buckets/B/objects/O`), `request.time` on the server's clock, and Google's 400s for
 * expressions that do not compile and for conditions in a policy that is not version 3.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { injector, type Method, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'cond-bucket';
const OTHER = 'cond-other-bucket';
const START = Date.parse('2026-06-15T10:00:00Z');

interface Binding {
  role: string;
  members: string[];
  condition?: { expression: string; title: string };
}

describe('IAM Conditions', () => {
  let t: TestApp;
  let now = START;

  const call = injector(() => t);

  const owner = (method: Method, url: string, payload?: object) => call(method, url, t.ownerToken, payload);

  const upload = async (bucket: string, name: string, token = t.ownerToken) =>
    call(
      'POST',
      `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
      token,
      Buffer.from(`data of ${name}`),
      {
        'content-type': 'text/plain',
      },
    );

  const read = async (bucket: string, name: string, token: string) =>
    call('GET', `/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media`, token);

  /** Replaces the bucket's policy with `bindings` (version 3). */
  const setBucketPolicy = async (bucket: string, bindings: Binding[], version = 3) =>
    owner('PUT', `/storage/v1/b/${bucket}/iam`, { version, bindings });

  const serviceAccount = async (accountId: string): Promise<{ member: string; token: string }> => {
    const created = await owner('POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId });
    assert.equal(created.statusCode, 200, created.body);
    const email = created.json<{ email: string }>().email;
    const minted = await owner('POST', `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`, {
      scope: ['https://www.googleapis.com/auth/cloud-platform'],
    });
    assert.equal(minted.statusCode, 200, minted.body);
    return { member: `serviceAccount:${email}`, token: minted.json<{ accessToken: string }>().accessToken };
  };

  before(async () => {
    t = await startTestApp({ anonymous: 'none' }, { now: () => now });
    for (const bucket of [BUCKET, OTHER]) {
      const res = await owner('POST', `/storage/v1/b?project=${PROJECT}`, {
        name: bucket,
        iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
      });
      assert.equal(res.statusCode, 200, res.body);
      for (const name of ['uploads/x.txt', 'other/y.txt']) {
        assert.equal((await upload(bucket, name)).statusCode, 200);
      }
    }
  });
  after(async () => {
    await t.dispose();
  });

  it('grants a bucket role conditioned on an object prefix to those objects only', async () => {
    const sa = await serviceAccount('cond-prefix');
    const res = await setBucketPolicy(BUCKET, [
      {
        role: 'roles/storage.objectViewer',
        members: [sa.member],
        condition: {
          title: 'uploads only',
          expression: `resource.name.startsWith("projects/_/buckets/${BUCKET}/objects/uploads/")`,
        },
      },
    ]);
    assert.equal(res.statusCode, 200, res.body);
    const policy = res.json<Json>();
    assert.equal(policy.version, 3);
    const bindings = policy.bindings as Binding[];
    assert.equal(bindings[0]?.condition?.title, 'uploads only');

    const allowed = await read(BUCKET, 'uploads/x.txt', sa.token);
    assert.equal(allowed.statusCode, 200, allowed.body);
    assert.equal(allowed.body, 'data of uploads/x.txt');
    // Metadata too (storage.objects.get on the object).
    assert.equal((await call('GET', `/storage/v1/b/${BUCKET}/o/uploads%2Fx.txt`, sa.token)).statusCode, 200);
    // Outside the prefix, and objects.list (checked on the bucket, as Google documents): denied.
    assert.equal((await read(BUCKET, 'other/y.txt', sa.token)).statusCode, 403);
    assert.equal((await call('GET', `/storage/v1/b/${BUCKET}/o?prefix=uploads/`, sa.token)).statusCode, 403);
    // The same object name in another bucket: the condition names this bucket.
    assert.equal((await read(OTHER, 'uploads/x.txt', sa.token)).statusCode, 403);
    // Viewer only: writing under the prefix is still denied.
    assert.equal((await upload(BUCKET, 'uploads/new.txt', sa.token)).statusCode, 403);
    // The XML API (virtual-hosted style) sees the same names.
    const host = { host: `${BUCKET}.localhost` };
    const xml = await call('GET', '/uploads/x.txt', sa.token, undefined, host);
    assert.equal(xml.statusCode, 200, xml.body);
    assert.equal(xml.body, 'data of uploads/x.txt');
    assert.equal((await call('GET', '/other/y.txt', sa.token, undefined, host)).statusCode, 403);
  });

  it('writes under a prefix with objectAdmin conditioned on it, and lists with a Bucket-type clause', async () => {
    const sa = await serviceAccount('cond-writer');
    const prefix = `projects/_/buckets/${OTHER}/objects/uploads/`;
    const res = await setBucketPolicy(OTHER, [
      {
        role: 'roles/storage.objectAdmin',
        members: [sa.member],
        condition: {
          title: 'uploads and listing',
          expression: `resource.name.startsWith("${prefix}") || resource.type == "storage.googleapis.com/Bucket"`,
        },
      },
    ]);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await upload(OTHER, 'uploads/new.txt', sa.token)).statusCode, 200);
    assert.equal((await upload(OTHER, 'other/new.txt', sa.token)).statusCode, 403);
    const deleted = await call('DELETE', `/storage/v1/b/${OTHER}/o/uploads%2Fnew.txt`, sa.token);
    assert.equal(deleted.statusCode, 204, deleted.body);
    assert.equal((await call('DELETE', `/storage/v1/b/${OTHER}/o/other%2Fy.txt`, sa.token)).statusCode, 403);
    const listed = await call('GET', `/storage/v1/b/${OTHER}/o`, sa.token);
    assert.equal(listed.statusCode, 200, listed.body);
    assert.ok((listed.json<{ items: unknown[] }>().items.length ?? 0) >= 2);
  });

  it('ends temporary access at the request.time the condition names (server clock)', async () => {
    const sa = await serviceAccount('cond-expiring');
    const until = new Date(START + 30 * 60_000).toISOString();
    const res = await setBucketPolicy(BUCKET, [
      {
        role: 'roles/storage.objectViewer',
        members: [sa.member],
        condition: { title: 'expires', expression: `request.time < timestamp("${until}")` },
      },
    ]);
    assert.equal(res.statusCode, 200, res.body);
    now = START + 29 * 60_000;
    assert.equal((await read(BUCKET, 'other/y.txt', sa.token)).statusCode, 200);
    now = START + 31 * 60_000;
    assert.equal((await read(BUCKET, 'other/y.txt', sa.token)).statusCode, 403);
    now = START;
  });

  it('grants nothing through an expired binding and through a future one from the start', async () => {
    const expired = await serviceAccount('cond-past');
    const current = await serviceAccount('cond-future');
    const res = await setBucketPolicy(BUCKET, [
      {
        role: 'roles/storage.objectViewer',
        members: [expired.member],
        condition: { title: 'past', expression: 'request.time < timestamp("2020-01-01T00:00:00Z")' },
      },
      {
        role: 'roles/storage.objectViewer',
        members: [current.member],
        condition: { title: 'future', expression: 'request.time < timestamp("2100-01-01T00:00:00Z")' },
      },
    ]);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal((await read(BUCKET, 'uploads/x.txt', expired.token)).statusCode, 403);
    assert.equal((await read(BUCKET, 'uploads/x.txt', current.token)).statusCode, 200);
    const tested = await call(
      'GET',
      `/storage/v1/b/${BUCKET}/iam/testPermissions?permissions=storage.objects.get`,
      expired.token,
    );
    assert.equal(tested.statusCode, 200);
    assert.equal(tested.json<Json>().permissions, undefined);
  });

  it('applies conditional project bindings to the resource being accessed', async () => {
    const sa = await serviceAccount('cond-project');
    const policy = (
      await owner('POST', `/v1/projects/${PROJECT}:getIamPolicy`, { options: { requestedPolicyVersion: 3 } })
    ).json<Json>();
    const bindings = [
      ...((policy.bindings ?? []) as Binding[]),
      {
        role: 'roles/storage.objectViewer',
        members: [sa.member],
        condition: {
          title: 'one bucket',
          expression: `resource.type == "storage.googleapis.com/Object" && resource.name.extract("projects/_/buckets/{b}/") == "${OTHER}"`,
        },
      },
    ];
    const res = await owner('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: { version: 3, bindings, etag: policy.etag },
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json<Json>().version, 3);
    assert.equal((await read(OTHER, 'other/y.txt', sa.token)).statusCode, 200);
    assert.equal((await read(BUCKET, 'other/y.txt', sa.token)).statusCode, 403);
  });

  it('refuses expressions that do not compile with 400 INVALID_ARGUMENT', async () => {
    const sa = await serviceAccount('cond-invalid');
    for (const expression of [
      'resource.name.startsWith("a"',
      'resource.name = "a"',
      'nosuch.attr == 1',
      '',
    ]) {
      const res = await setBucketPolicy(BUCKET, [
        { role: 'roles/storage.objectViewer', members: [sa.member], condition: { title: 'bad', expression } },
      ]);
      assert.equal(res.statusCode, 400, `${expression}: ${res.body}`);
      const error = res.json<{ error: { message: string } }>().error;
      assert.match(
        error.message,
        expression === ''
          ? /non-empty expression/
          : /Condition expression compilation failed: ERROR: <input>:1:\d+:/,
      );
    }
    const project = await owner('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: {
        version: 3,
        bindings: [
          { role: 'roles/viewer', members: [sa.member], condition: { title: 'x', expression: '1 +' } },
        ],
      },
    });
    assert.equal(project.statusCode, 400, project.body);
    assert.equal(project.json<{ error: { status: string } }>().error.status, 'INVALID_ARGUMENT');
  });

  it('requires policy version 3 for conditions and accepts only versions 0, 1 and 3', async () => {
    const sa = await serviceAccount('cond-version');
    const binding: Binding = {
      role: 'roles/storage.objectViewer',
      members: [sa.member],
      condition: { title: 't', expression: 'true' },
    };
    const v1 = await setBucketPolicy(BUCKET, [binding], 1);
    assert.equal(v1.statusCode, 400, v1.body);
    assert.match(v1.json<{ error: { message: string } }>().error.message, /version 3/);
    assert.equal((await setBucketPolicy(BUCKET, [binding], 2)).statusCode, 400);
    // Without conditions any valid version is accepted and the answer is version 1.
    const plain = await setBucketPolicy(
      BUCKET,
      [{ role: 'roles/storage.objectViewer', members: [sa.member] }],
      3,
    );
    assert.equal(plain.statusCode, 200, plain.body);
    assert.equal(plain.json<Json>().version, 1);
  });

  it('answers getIamPolicy below version 3 with withcond role names and no conditions', async () => {
    const sa = await serviceAccount('cond-read');
    const binding: Binding = {
      role: 'roles/storage.objectViewer',
      members: [sa.member],
      condition: { title: 'uploads', expression: 'resource.name.startsWith("projects/_/buckets/x")' },
    };
    assert.equal((await setBucketPolicy(BUCKET, [binding])).statusCode, 200);
    const v3 = await owner('GET', `/storage/v1/b/${BUCKET}/iam?optionsRequestedPolicyVersion=3`);
    assert.equal(v3.statusCode, 200, v3.body);
    const full = v3.json<{ version: number; bindings: Binding[] }>();
    assert.equal(full.version, 3);
    assert.deepEqual(full.bindings[0]?.condition, binding.condition);
    for (const url of [
      `/storage/v1/b/${BUCKET}/iam`,
      `/storage/v1/b/${BUCKET}/iam?optionsRequestedPolicyVersion=1`,
    ]) {
      const v1 = await owner('GET', url);
      assert.equal(v1.statusCode, 200, v1.body);
      const plain = v1.json<{ version: number; bindings: Binding[] }>();
      assert.equal(plain.version, 1);
      assert.match(plain.bindings[0]?.role ?? '', /^roles\/storage\.objectViewer_withcond_[0-9a-f]{20}$/);
      assert.equal(plain.bindings[0]?.condition, undefined);
    }
    assert.equal(
      (await owner('GET', `/storage/v1/b/${BUCKET}/iam?optionsRequestedPolicyVersion=2`)).statusCode,
      400,
    );
    // Projects read the version from the request body.
    const current = (
      await owner('POST', `/v1/projects/${PROJECT}:getIamPolicy`, { options: { requestedPolicyVersion: 3 } })
    ).json<{ etag: string; bindings?: Binding[] }>();
    const withCondition = await owner('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: {
        version: 3,
        etag: current.etag,
        bindings: [
          ...(current.bindings ?? []),
          { role: 'roles/viewer', members: [sa.member], condition: { title: 't', expression: 'true' } },
        ],
      },
    });
    assert.equal(withCondition.statusCode, 200, withCondition.body);
    const project1 = (await owner('POST', `/v1/projects/${PROJECT}:getIamPolicy`, {})).json<{
      bindings: Binding[];
    }>();
    assert.ok(
      project1.bindings.some((b) => /^roles\/viewer_withcond_/.test(b.role)),
      JSON.stringify(project1),
    );
    const project3 = (
      await owner('POST', `/v1/projects/${PROJECT}:getIamPolicy`, { options: { requestedPolicyVersion: 3 } })
    ).json<{ bindings: Binding[] }>();
    assert.ok(project3.bindings.some((b) => b.role === 'roles/viewer' && b.condition !== undefined));
  });

  it('refuses conditions on a bucket without uniform bucket-level access', async () => {
    const sa = await serviceAccount('cond-fine');
    const fine = await owner('POST', `/storage/v1/b?project=${PROJECT}`, { name: 'cond-fine-grained' });
    assert.equal(fine.statusCode, 200, fine.body);
    const refused = await setBucketPolicy('cond-fine-grained', [
      {
        role: 'roles/storage.objectViewer',
        members: [sa.member],
        condition: { title: 't', expression: 'true' },
      },
    ]);
    assert.equal(refused.statusCode, 400, refused.body);
    assert.match(refused.json<{ error: { message: string } }>().error.message, /uniform bucket-level access/);
  });

  it('keeps conditional bucket bindings granting while public access prevention is enforced', async () => {
    const sa = await serviceAccount('cond-pap');
    assert.equal((await upload(OTHER, 'uploads/kept.txt')).statusCode, 200);
    const patched = await owner('PATCH', `/storage/v1/b/${OTHER}`, {
      iamConfiguration: { publicAccessPrevention: 'enforced' },
    });
    assert.equal(patched.statusCode, 200, patched.body);
    const set = await setBucketPolicy(OTHER, [
      {
        role: 'roles/storage.objectViewer',
        members: [sa.member],
        condition: {
          title: 'uploads',
          expression: `resource.name.startsWith("projects/_/buckets/${OTHER}/objects/uploads/")`,
        },
      },
    ]);
    assert.equal(set.statusCode, 200, set.body);
    const got = await read(OTHER, 'uploads/kept.txt', sa.token);
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.body, 'data of uploads/kept.txt');
  });
});
