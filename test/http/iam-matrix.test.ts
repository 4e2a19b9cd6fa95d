/**
 * The basic-role matrix: three service accounts hold roles/viewer, roles/editor and roles/owner and
 * each calls the project, service-account, key, policy and custom-role methods. Every call must be
 * allowed or denied exactly as Google documents the basic roles: viewer reads (getIamPolicy
 * included); editor also changes state but cannot set policies, manage custom roles or delete the
 * project; owner can do everything.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { bearer, startTestApp, type TestApp, withBinding } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const ROLES = ['viewer', 'editor', 'owner'] as const;
type Basic = (typeof ROLES)[number];

interface GoogleError {
  error: { code: number; message: string; status: string; errors: { reason: string }[] };
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

async function call(
  t: TestApp,
  method: Method,
  url: string,
  token?: string,
  body?: unknown,
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method,
    url,
    headers: token === undefined ? {} : bearer(token),
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
}

function ok(res: LightMyRequestResponse, what: string): void {
  assert.ok(res.statusCode >= 200 && res.statusCode < 300, `${what}: ${res.statusCode} ${res.body}`);
}

function assertDenied(res: LightMyRequestResponse, permission: string | undefined, what: string): void {
  assert.equal(res.statusCode, 403, `${what}: ${res.body}`);
  const body = res.json<GoogleError>();
  assert.equal(body.error.code, 403);
  assert.equal(body.error.status, 'PERMISSION_DENIED');
  if (permission !== undefined) {
    assert.ok(body.error.message.includes(permission), `${what}: message should name ${permission}`);
  }
}

/** Adds `member` to `role` on a project as the local owner. */
async function grant(t: TestApp, project: string, member: string, role: string): Promise<void> {
  const current = await call(t, 'POST', `/v1/projects/${project}:getIamPolicy`, t.ownerToken, {});
  ok(current, 'getIamPolicy');
  const policy = current.json<{ bindings?: { role: string; members: string[] }[]; etag: string }>();
  const bindings = withBinding(policy, role, member);
  ok(
    await call(t, 'POST', `/v1/projects/${project}:setIamPolicy`, t.ownerToken, {
      policy: { bindings, etag: policy.etag },
    }),
    'setIamPolicy',
  );
}

async function createAccount(t: TestApp, accountId: string, token = t.ownerToken): Promise<string> {
  const res = await call(t, 'POST', `/v1/projects/${PROJECT}/serviceAccounts`, token, { accountId });
  ok(res, `create ${accountId}`);
  return res.json<{ email: string }>().email;
}

async function mintToken(t: TestApp, email: string): Promise<string> {
  const res = await call(
    t,
    'POST',
    `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`,
    t.ownerToken,
    { scope: ['https://www.googleapis.com/auth/cloud-platform'] },
  );
  ok(res, 'generateAccessToken');
  return res.json<{ accessToken: string }>().accessToken;
}

/** What each role's fixtures are called; every role gets its own so deletes do not interfere. */
interface Fixtures {
  token: string;
  /** A project on which the caller holds the same basic role (project calls, delete included). */
  project: string;
  /** A service account in nimbus-local the caller acts on. */
  target: string;
  /** A custom role in nimbus-local the caller acts on. */
  customRole: string;
}

interface Case {
  name: string;
  permission: string;
  /** Roles Google's basic roles allow this call for. */
  allowed: readonly Basic[];
  run(t: TestApp, f: Fixtures, role: Basic): Promise<LightMyRequestResponse>;
}

const VIEWER_UP = ['viewer', 'editor', 'owner'] as const;
const EDITOR_UP = ['editor', 'owner'] as const;
const OWNER_ONLY = ['owner'] as const;

const saPath = (f: Fixtures): string => `/v1/projects/${PROJECT}/serviceAccounts/${f.target}`;

/** In order; the deletes come last so that earlier calls find their targets. */
const CASES: Case[] = [
  // Resource Manager: projects
  {
    name: 'projects.get',
    permission: 'resourcemanager.projects.get',
    allowed: VIEWER_UP,
    run: (t, f) => call(t, 'GET', `/v1/projects/${f.project}`, f.token),
  },
  {
    name: 'projects.update (PUT)',
    permission: 'resourcemanager.projects.update',
    allowed: EDITOR_UP,
    run: (t, f) =>
      call(t, 'PUT', `/v1/projects/${f.project}`, f.token, { name: 'Matrix Project', labels: { k: 'v' } }),
  },
  {
    name: 'projects.getIamPolicy',
    permission: 'resourcemanager.projects.getIamPolicy',
    allowed: VIEWER_UP,
    run: (t, f) => call(t, 'POST', `/v1/projects/${f.project}:getIamPolicy`, f.token, {}),
  },
  {
    name: 'projects.setIamPolicy',
    permission: 'resourcemanager.projects.setIamPolicy',
    allowed: OWNER_ONLY,
    run: async (t, f) => {
      // Re-sets the current policy, so a wrong allow changes nothing.
      const current = await call(t, 'POST', `/v1/projects/${f.project}:getIamPolicy`, t.ownerToken, {});
      return call(t, 'POST', `/v1/projects/${f.project}:setIamPolicy`, f.token, {
        policy: current.json<Record<string, unknown>>(),
      });
    },
  },
  // IAM: service accounts
  {
    name: 'serviceAccounts.create',
    permission: 'iam.serviceAccounts.create',
    allowed: EDITOR_UP,
    run: (t, f, role) =>
      call(t, 'POST', `/v1/projects/${PROJECT}/serviceAccounts`, f.token, { accountId: `made-by-${role}` }),
  },
  {
    name: 'serviceAccounts.list',
    permission: 'iam.serviceAccounts.list',
    allowed: VIEWER_UP,
    run: (t, f) => call(t, 'GET', `/v1/projects/${PROJECT}/serviceAccounts`, f.token),
  },
  {
    name: 'serviceAccounts.get',
    permission: 'iam.serviceAccounts.get',
    allowed: VIEWER_UP,
    run: (t, f) => call(t, 'GET', saPath(f), f.token),
  },
  {
    name: 'serviceAccounts.patch',
    permission: 'iam.serviceAccounts.update',
    allowed: EDITOR_UP,
    run: (t, f) =>
      call(t, 'PATCH', saPath(f), f.token, {
        serviceAccount: { displayName: 'patched' },
        updateMask: 'displayName',
      }),
  },
  {
    name: 'serviceAccounts.disable',
    permission: 'iam.serviceAccounts.disable',
    allowed: EDITOR_UP,
    run: (t, f) => call(t, 'POST', `${saPath(f)}:disable`, f.token, {}),
  },
  {
    name: 'serviceAccounts.enable',
    permission: 'iam.serviceAccounts.enable',
    allowed: EDITOR_UP,
    run: (t, f) => call(t, 'POST', `${saPath(f)}:enable`, f.token, {}),
  },
  {
    name: 'serviceAccountKeys.create',
    permission: 'iam.serviceAccountKeys.create',
    allowed: EDITOR_UP,
    run: (t, f) => call(t, 'POST', `${saPath(f)}/keys`, f.token, {}),
  },
  {
    name: 'serviceAccountKeys.list',
    permission: 'iam.serviceAccountKeys.list',
    allowed: VIEWER_UP,
    run: (t, f) => call(t, 'GET', `${saPath(f)}/keys`, f.token),
  },
  {
    name: 'serviceAccounts.getIamPolicy',
    permission: 'iam.serviceAccounts.getIamPolicy',
    allowed: VIEWER_UP,
    run: (t, f) => call(t, 'POST', `${saPath(f)}:getIamPolicy`, f.token, {}),
  },
  {
    name: 'serviceAccounts.setIamPolicy',
    permission: 'iam.serviceAccounts.setIamPolicy',
    allowed: OWNER_ONLY,
    run: (t, f) =>
      call(t, 'POST', `${saPath(f)}:setIamPolicy`, f.token, {
        policy: { bindings: [{ role: 'roles/iam.serviceAccountUser', members: ['user:dev@example.com'] }] },
      }),
  },
  // IAM: custom roles
  {
    name: 'roles.create',
    permission: 'iam.roles.create',
    allowed: OWNER_ONLY,
    run: (t, f, role) =>
      call(t, 'POST', `/v1/projects/${PROJECT}/roles`, f.token, {
        roleId: `madeBy_${role}`,
        role: { title: 'Made', includedPermissions: ['resourcemanager.projects.get'] },
      }),
  },
  {
    name: 'roles.list',
    permission: 'iam.roles.list',
    allowed: VIEWER_UP,
    run: (t, f) => call(t, 'GET', `/v1/projects/${PROJECT}/roles`, f.token),
  },
  {
    name: 'roles.get',
    permission: 'iam.roles.get',
    allowed: VIEWER_UP,
    run: (t, f) => call(t, 'GET', `/v1/${f.customRole}`, f.token),
  },
  {
    name: 'roles.patch',
    permission: 'iam.roles.update',
    allowed: OWNER_ONLY,
    run: (t, f) => call(t, 'PATCH', `/v1/${f.customRole}?updateMask=title`, f.token, { title: 'Renamed' }),
  },
  // Deletes last.
  {
    name: 'roles.delete',
    permission: 'iam.roles.delete',
    allowed: OWNER_ONLY,
    run: (t, f) => call(t, 'DELETE', `/v1/${f.customRole}`, f.token),
  },
  {
    name: 'serviceAccounts.delete',
    permission: 'iam.serviceAccounts.delete',
    allowed: EDITOR_UP,
    run: (t, f) => call(t, 'DELETE', saPath(f), f.token),
  },
  {
    name: 'projects.delete',
    permission: 'resourcemanager.projects.delete',
    allowed: OWNER_ONLY,
    run: (t, f) => call(t, 'DELETE', `/v1/projects/${f.project}`, f.token),
  },
];

describe('IAM basic-role matrix', () => {
  let t: TestApp;
  const fixtures = new Map<Basic, Fixtures>();

  before(async () => {
    t = await startTestApp();
    for (const role of ROLES) {
      const caller = await createAccount(t, `caller-${role}`);
      const member = `serviceAccount:${caller}`;
      const project = `matrix-${role}`;
      ok(await call(t, 'POST', '/v1/projects', t.ownerToken, { projectId: project }), 'create project');
      await grant(t, PROJECT, member, `roles/${role}`);
      await grant(t, project, member, `roles/${role}`);
      const target = await createAccount(t, `target-${role}`);
      const created = await call(t, 'POST', `/v1/projects/${PROJECT}/roles`, t.ownerToken, {
        roleId: `fixture_${role}`,
        role: { title: 'Fixture', includedPermissions: ['iam.roles.get'] },
      });
      ok(created, 'create fixture role');
      fixtures.set(role, {
        token: await mintToken(t, caller),
        project,
        target,
        customRole: created.json<{ name: string }>().name,
      });
    }
  });
  after(async () => {
    await t.dispose();
  });

  it('allows and denies every call exactly as Google documents basic roles', async () => {
    const wrongAllows: string[] = [];
    const wrongDenies: string[] = [];
    const badDenials: string[] = [];
    let allowedCount = 0;
    let deniedCount = 0;
    for (const role of ROLES) {
      const f = fixtures.get(role);
      assert.ok(f !== undefined);
      for (const c of CASES) {
        const res = await c.run(t, f, role);
        const expected = c.allowed.includes(role);
        const allowed = res.statusCode >= 200 && res.statusCode < 300;
        const label = `${role} ${c.name} -> ${res.statusCode}`;
        if (allowed) {
          allowedCount += 1;
        } else {
          deniedCount += 1;
        }
        if (allowed && !expected) {
          wrongAllows.push(label);
        } else if (!allowed && expected) {
          wrongDenies.push(`${label} ${res.body}`);
        } else if (!allowed) {
          try {
            assertDenied(res, c.permission, label);
          } catch (error) {
            badDenials.push(error instanceof Error ? error.message : String(error));
          }
        }
      }
    }
    assert.equal(wrongAllows.length, 0, `wrong allows: ${wrongAllows.join('; ')}`);
    assert.deepEqual(wrongDenies, [], 'wrong denies');
    assert.deepEqual(badDenials, [], 'denials without PERMISSION_DENIED naming the permission');
    const expectedAllowed = ROLES.reduce(
      (n, role) => n + CASES.filter((c) => c.allowed.includes(role)).length,
      0,
    );
    assert.equal(allowedCount, expectedAllowed);
    assert.equal(allowedCount + deniedCount, ROLES.length * CASES.length);
    // viewer: 8 reads; editor: 15; owner: all 21.
    assert.deepEqual([allowedCount, deniedCount], [44, 19]);
  });

  it('testIamPermissions reports the same permissions the calls were checked against', async () => {
    const permissions = [...new Set(CASES.map((c) => c.permission))].filter((p) =>
      p.startsWith('resourcemanager.'),
    );
    for (const role of ROLES) {
      const token = fixtures.get(role)?.token;
      const res = await call(t, 'POST', `/v1/projects/${PROJECT}:testIamPermissions`, token, { permissions });
      ok(res, 'testIamPermissions');
      const expected = CASES.filter((c) => permissions.includes(c.permission) && c.allowed.includes(role))
        .map((c) => c.permission)
        .sort();
      assert.deepEqual(
        [...(res.json<{ permissions?: string[] }>().permissions ?? [])].sort(),
        expected,
        role,
      );
    }
  });

  it('a request without a token acts as the configured anonymous principal (owner on loopback)', async () => {
    assert.equal(t.config.anonymous, 'owner');
    const created = await call(t, 'POST', '/v1/projects', undefined, { projectId: 'anon-made' });
    ok(created, 'anonymous create');
    const policy = await call(t, 'POST', '/v1/projects/anon-made:getIamPolicy', undefined, {});
    ok(policy, 'anonymous getIamPolicy');
    const owners = policy.json<{ bindings: { role: string; members: string[] }[] }>().bindings;
    assert.deepEqual(
      owners.find((b) => b.role === 'roles/owner')?.members,
      [`user:${t.config.ownerEmail}`],
      'the anonymous caller is the local owner',
    );
    ok(await call(t, 'DELETE', '/v1/projects/anon-made'), 'anonymous delete');
  });

  it('a garbage token is 401 with WWW-Authenticate, never anonymous', async () => {
    for (const headers of [
      { authorization: 'Bearer garbage' },
      { authorization: 'Bearer a.b.c' },
      { authorization: 'Basic dXNlcjpwYXNz' },
      { authorization: 'Bearer' },
    ]) {
      const res = await t.app.inject({ method: 'GET', url: `/v1/projects/${PROJECT}`, headers });
      assert.equal(res.statusCode, 401, `${headers.authorization}: ${res.body}`);
      assert.equal(res.json<GoogleError>().error.status, 'UNAUTHENTICATED');
      assert.match(String(res.headers['www-authenticate']), /^Bearer/);
    }
    const viaQuery = await call(t, 'GET', `/v1/projects/${PROJECT}?access_token=garbage`);
    assert.equal(viaQuery.statusCode, 401);
  });
});

describe('anonymous modes', () => {
  it('--anonymous none denies every anonymous API call with 403', async () => {
    const t = await startTestApp({ anonymous: 'none' });
    try {
      assertDenied(await call(t, 'GET', `/v1/projects/${PROJECT}`), 'resourcemanager.projects.get', 'get');
      assertDenied(
        await call(t, 'GET', `/v1/projects/${PROJECT}/serviceAccounts`),
        'iam.serviceAccounts.list',
        'list',
      );
      assertDenied(
        await call(t, 'POST', `/v1/projects/${PROJECT}/serviceAccounts`, undefined, {
          accountId: 'anon-none',
        }),
        'iam.serviceAccounts.create',
        'create',
      );
      assertDenied(
        await call(t, 'POST', '/v1/projects', undefined, { projectId: 'anon-none' }),
        'resourcemanager.projects.create',
        'create project',
      );
      const listed = await call(t, 'GET', '/v1/projects');
      assert.deepEqual(listed.json<{ projects: unknown[] }>().projects, [], 'lists nothing');
      // Health stays public, and the owner's token still works.
      assert.equal((await call(t, 'GET', '/_nimbus/health')).statusCode, 200);
      ok(await call(t, 'GET', `/v1/projects/${PROJECT}`, t.ownerToken), 'owner token');
      // The metadata server has no default account to hand out.
      const metadata = await t.app.inject({
        method: 'GET',
        url: '/computeMetadata/v1/instance/service-accounts/default/token',
        headers: { 'metadata-flavor': 'Google' },
      });
      assert.equal(metadata.statusCode, 404);
    } finally {
      await t.dispose();
    }
  });

  it('--anonymous viewer allows reads only', async () => {
    const t = await startTestApp({ anonymous: 'viewer' });
    try {
      const email = await createAccount(t, 'viewer-target');
      const sa = `/v1/projects/${PROJECT}/serviceAccounts/${email}`;
      for (const [method, url] of [
        ['GET', `/v1/projects/${PROJECT}`],
        ['POST', `/v1/projects/${PROJECT}:getIamPolicy`],
        ['GET', `/v1/projects/${PROJECT}/serviceAccounts`],
        ['GET', sa],
        ['GET', `${sa}/keys`],
        ['POST', `${sa}:getIamPolicy`],
        ['GET', `/v1/projects/${PROJECT}/roles`],
      ] as const) {
        ok(await call(t, method, url, undefined, method === 'POST' ? {} : undefined), `${method} ${url}`);
      }
      const writes: [Method, string, string, unknown][] = [
        ['PUT', `/v1/projects/${PROJECT}`, 'resourcemanager.projects.update', { name: 'changed' }],
        [
          'POST',
          `/v1/projects/${PROJECT}:setIamPolicy`,
          'resourcemanager.projects.setIamPolicy',
          { policy: {} },
        ],
        ['DELETE', `/v1/projects/${PROJECT}`, 'resourcemanager.projects.delete', undefined],
        [
          'POST',
          `/v1/projects/${PROJECT}/serviceAccounts`,
          'iam.serviceAccounts.create',
          { accountId: 'anon-viewer' },
        ],
        ['PATCH', sa, 'iam.serviceAccounts.update', { serviceAccount: {}, updateMask: 'displayName' }],
        ['POST', `${sa}:disable`, 'iam.serviceAccounts.disable', {}],
        ['POST', `${sa}/keys`, 'iam.serviceAccountKeys.create', {}],
        ['POST', `${sa}:setIamPolicy`, 'iam.serviceAccounts.setIamPolicy', { policy: {} }],
        ['DELETE', sa, 'iam.serviceAccounts.delete', undefined],
        ['POST', `/v1/projects/${PROJECT}/roles`, 'iam.roles.create', { roleId: 'anonRole' }],
        ['POST', `${sa}:generateAccessToken`, 'iam.serviceAccounts.getAccessToken', {}],
      ];
      for (const [method, url, permission, body] of writes) {
        assertDenied(await call(t, method, url, undefined, body), permission, `${method} ${url}`);
      }
      ok(await call(t, 'GET', sa, t.ownerToken), 'the account is untouched');
    } finally {
      await t.dispose();
    }
  });
});
