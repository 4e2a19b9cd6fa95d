/**
 * The real Google Cloud CLI (`gcloud`) against a Nimbus server started in-process: projects, IAM
 * policies, service accounts, keys, roles, and `gcloud auth activate-service-account` with a key
 * Nimbus issued. Every gcloud call gets the environment `GET /_nimbus/env` hands users, a private
 * CLOUDSDK_CONFIG, and a proxy that refuses everything but 127.0.0.1, so no traffic leaves the machine.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  findGcloud,
  gcloudSession,
  runGcloud,
  type GcloudResult,
  type GcloudTestServer,
} from '../gcloud-cli.ts';
import { bearer } from '../helpers.ts';

const GCLOUD = findGcloud();
const PROJECT = 'nimbus-local';
/** gcloud takes 1-2 s per call; a stuck call must fail the test, not hang it. */
const CALL_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;

interface LoggedRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  status: number;
}

interface IssuedToken {
  token: string;
  member: string;
  /** The request being served when the token was minted. */
  during: string;
}

interface Policy {
  version?: number;
  etag?: string;
  bindings?: { role: string; members: string[] }[];
}

interface ServiceAccount {
  name: string;
  email: string;
  uniqueId: string;
  projectId: string;
  displayName?: string;
  disabled?: boolean;
}

interface Key {
  name: string;
  keyType: string;
  keyAlgorithm: string;
  validAfterTime: string;
  validBeforeTime: string;
}

interface Role {
  name: string;
  title?: string;
  description?: string;
  stage?: string;
  etag?: string;
  includedPermissions?: string[];
}

function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function emailOf(accountId: string): string {
  return `${accountId}@${PROJECT}.iam.gserviceaccount.com`;
}

describe('gcloud CLI against Nimbus', { skip: GCLOUD === undefined ? 'gcloud not installed' : false }, () => {
  let t: GcloudTestServer;
  let configRoot: string;
  /** Environment for gcloud acting as the local owner (CLOUDSDK_AUTH_ACCESS_TOKEN). */
  let ownerEnv: NodeJS.ProcessEnv;
  const requests: LoggedRequest[] = [];
  const issued: IssuedToken[] = [];

  const session = gcloudSession({
    setup: (server) => {
      t = server;
      // Observe every request (first listener, before Fastify's) and every token Nimbus mints.
      t.app.server.prependListener('request', (req, res) => {
        const entry: LoggedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          authorization: req.headers.authorization,
          status: 0,
        };
        requests.push(entry);
        res.on('finish', () => {
          entry.status = res.statusCode;
        });
      });
      const tokens = t.platform.tokens;
      const issue = tokens.issueAccessToken.bind(tokens);
      tokens.issueAccessToken = (principal, options) => {
        const result = issue(principal, options);
        const current = requests.at(-1);
        issued.push({
          token: result.accessToken,
          member: principal.member,
          during: current === undefined ? '' : `${current.method} ${current.url.split('?')[0] ?? ''}`,
        });
        return result;
      };
    },
  });

  const gcloud = (args: string[], env: NodeJS.ProcessEnv = ownerEnv): Promise<GcloudResult> =>
    runGcloud(GCLOUD ?? 'gcloud', args, env, CALL_TIMEOUT_MS);

  /** Runs a command that must succeed and parses its `--format=json` output. */
  const gcloudJson = async <T>(args: string[], env: NodeJS.ProcessEnv = ownerEnv): Promise<T> => {
    const result = await gcloud([...args, '--format=json'], env);
    assert.equal(result.code, 0, `gcloud ${args.join(' ')} failed:\n${result.stderr}`);
    return (result.stdout.trim() === '' ? null : JSON.parse(result.stdout)) as T;
  };

  const gcloudOk = async (args: string[], env: NodeJS.ProcessEnv = ownerEnv): Promise<GcloudResult> => {
    const result = await gcloud(args, env);
    assert.equal(result.code, 0, `gcloud ${args.join(' ')} failed:\n${result.stderr}`);
    return result;
  };

  /** Test setup through the REST API (what is under test is gcloud's part of each flow). */
  const createAccount = async (accountId: string): Promise<string> => {
    const res = await fetch(`${t.url}/v1/projects/${PROJECT}/serviceAccounts`, {
      method: 'POST',
      headers: { ...bearer(t.ownerToken), 'content-type': 'application/json' },
      body: JSON.stringify({ accountId, serviceAccount: { displayName: accountId } }),
    });
    assert.equal(res.status, 200, await res.text());
    return emailOf(accountId);
  };

  const projectPolicy = (): Promise<Policy> => gcloudJson<Policy>(['projects', 'get-iam-policy', PROJECT]);

  const membersOf = (policy: Policy, role: string): string[] =>
    (policy.bindings ?? []).filter((b) => b.role === role).flatMap((b) => b.members);

  before(async () => {
    await session.open();
    t = session.t;
    configRoot = session.dir;
    ownerEnv = session.env;
  });

  after(() => session.close());

  it('gets the gcloud environment from GET /_nimbus/env', () => {
    assert.equal(ownerEnv.CLOUDSDK_CORE_PROJECT, PROJECT);
    assert.equal(ownerEnv.CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM, `${t.url}/`);
    assert.equal(ownerEnv.CLOUDSDK_API_ENDPOINT_OVERRIDES_CLOUDRESOURCEMANAGER, `${t.url}/`);
    assert.equal(ownerEnv.CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS, `${t.url}/`);
    assert.equal(ownerEnv.CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE, `${t.url}/compute/v1/`);
    assert.equal(ownerEnv.CLOUDSDK_AUTH_TOKEN_HOST, `${t.url}/token`);
    assert.equal(ownerEnv.CLOUDSDK_CORE_DISABLE_USAGE_REPORTING, 'true');
    assert.equal(ownerEnv.CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK, 'true');
    const token = ownerEnv.CLOUDSDK_AUTH_ACCESS_TOKEN ?? '';
    assert.equal(jwtClaims(token).sub, `user:${t.config.ownerEmail}`);
  });

  it('lists and describes projects', { timeout: TEST_TIMEOUT_MS }, async () => {
    const projects = await gcloudJson<{ projectId: string; lifecycleState: string }[]>(['projects', 'list']);
    assert.deepEqual(
      projects.map((p) => p.projectId),
      [PROJECT],
    );
    assert.equal(projects[0]?.lifecycleState, 'ACTIVE');

    const project = await gcloudJson<{
      projectId: string;
      projectNumber: string;
      name: string;
      lifecycleState: string;
      parent: { type: string; id: string };
    }>(['projects', 'describe', PROJECT]);
    assert.equal(project.projectId, PROJECT);
    assert.equal(project.name, PROJECT);
    assert.equal(project.lifecycleState, 'ACTIVE');
    assert.match(project.projectNumber, /^\d+$/);
    assert.equal(project.parent.type, 'organization');

    const missing = await gcloud(['projects', 'describe', 'no-such-project-1']);
    assert.notEqual(missing.code, 0);
  });

  it('reads and changes the project IAM policy', { timeout: TEST_TIMEOUT_MS }, async () => {
    const email = await createAccount('policy-robot');
    const member = `serviceAccount:${email}`;

    const initial = await projectPolicy();
    assert.deepEqual(membersOf(initial, 'roles/owner'), [`user:${t.config.ownerEmail}`]);
    assert.deepEqual(membersOf(initial, 'roles/viewer'), []);

    const added = await gcloudJson<Policy>([
      'projects',
      'add-iam-policy-binding',
      PROJECT,
      `--member=${member}`,
      '--role=roles/viewer',
    ]);
    assert.deepEqual(membersOf(added, 'roles/viewer'), [member]);
    assert.deepEqual(membersOf(added, 'roles/owner'), [`user:${t.config.ownerEmail}`]);
    // gcloud sends version 3; a policy without conditions is version 1, as on Google.
    assert.equal(added.version, 1);
    assert.notEqual(added.etag, initial.etag);
    assert.deepEqual(membersOf(await projectPolicy(), 'roles/viewer'), [member]);

    const removed = await gcloudJson<Policy>([
      'projects',
      'remove-iam-policy-binding',
      PROJECT,
      `--member=${member}`,
      '--role=roles/viewer',
    ]);
    assert.deepEqual(membersOf(removed, 'roles/viewer'), []);
    const final = await projectPolicy();
    assert.deepEqual(membersOf(final, 'roles/viewer'), []);
    assert.deepEqual(membersOf(final, 'roles/owner'), [`user:${t.config.ownerEmail}`]);
  });

  it(
    'creates, lists, describes, disables and deletes service accounts',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const email = emailOf('robot-one');
      const created = await gcloudJson<ServiceAccount>([
        'iam',
        'service-accounts',
        'create',
        'robot-one',
        '--display-name=Robot One',
      ]);
      assert.equal(created.email, email);
      assert.equal(created.name, `projects/${PROJECT}/serviceAccounts/${email}`);
      assert.equal(created.projectId, PROJECT);
      assert.equal(created.displayName, 'Robot One');
      assert.match(created.uniqueId, /^\d{21}$/);

      const listed = await gcloudJson<ServiceAccount[]>(['iam', 'service-accounts', 'list']);
      const entry = listed.find((a) => a.email === email);
      assert.ok(entry, `robot-one missing from ${JSON.stringify(listed)}`);
      assert.equal(entry.displayName, 'Robot One');
      assert.notEqual(entry.disabled, true);

      const described = await gcloudJson<ServiceAccount>(['iam', 'service-accounts', 'describe', email]);
      assert.equal(described.uniqueId, created.uniqueId);
      assert.notEqual(described.disabled, true);

      await gcloudOk(['iam', 'service-accounts', 'disable', email, '--quiet']);
      const disabled = await gcloudJson<ServiceAccount>(['iam', 'service-accounts', 'describe', email]);
      assert.equal(disabled.disabled, true);

      await gcloudOk(['iam', 'service-accounts', 'delete', email, '--quiet']);
      const after = await gcloudJson<ServiceAccount[] | null>(['iam', 'service-accounts', 'list']);
      assert.equal(
        (after ?? []).some((a) => a.email === email),
        false,
      );
      const gone = await gcloud(['iam', 'service-accounts', 'describe', email]);
      assert.notEqual(gone.code, 0);
      assert.match(gone.stderr, /NOT_FOUND|does not exist|not found/i);
    },
  );

  it('creates, lists and deletes service-account keys', { timeout: TEST_TIMEOUT_MS }, async () => {
    const email = await createAccount('key-robot');
    const keyPath = join(configRoot, 'key-robot.json');
    await gcloudOk(['iam', 'service-accounts', 'keys', 'create', keyPath, '--iam-account', email]);

    const keyFile = JSON.parse(readFileSync(keyPath, 'utf8')) as Record<string, string>;
    assert.deepEqual(Object.keys(keyFile).sort(), [
      'auth_provider_x509_cert_url',
      'auth_uri',
      'client_email',
      'client_id',
      'client_x509_cert_url',
      'private_key',
      'private_key_id',
      'project_id',
      'token_uri',
      'type',
      'universe_domain',
    ]);
    assert.equal(keyFile.type, 'service_account');
    assert.equal(keyFile.project_id, PROJECT);
    assert.equal(keyFile.client_email, email);
    assert.match(keyFile.client_id ?? '', /^\d{21}$/);
    assert.match(keyFile.private_key_id ?? '', /^[0-9a-f]{40}$/);
    assert.match(
      keyFile.private_key ?? '',
      /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/,
    );
    assert.equal(keyFile.token_uri, `${t.url}/token`);
    assert.equal(
      keyFile.client_x509_cert_url,
      `${t.url}/robot/v1/metadata/x509/${encodeURIComponent(email)}`,
    );
    const keyId = keyFile.private_key_id ?? '';

    const keys = await gcloudJson<Key[]>(['iam', 'service-accounts', 'keys', 'list', '--iam-account', email]);
    const key = keys.find((k) => k.name.endsWith(`/keys/${keyId}`));
    assert.ok(key, `key ${keyId} missing from ${JSON.stringify(keys)}`);
    assert.equal(key.name, `projects/${PROJECT}/serviceAccounts/${email}/keys/${keyId}`);
    assert.equal(key.keyType, 'USER_MANAGED');
    assert.equal(key.keyAlgorithm, 'KEY_ALG_RSA_2048');
    assert.match(key.validAfterTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(key.validBeforeTime, '9999-12-31T23:59:59Z');

    await gcloudOk(['iam', 'service-accounts', 'keys', 'delete', keyId, '--iam-account', email, '--quiet']);
    const remaining = await gcloudJson<Key[] | null>([
      'iam',
      'service-accounts',
      'keys',
      'list',
      '--iam-account',
      email,
    ]);
    assert.equal(
      (remaining ?? []).some((k) => k.name.endsWith(`/keys/${keyId}`)),
      false,
    );
  });

  it(
    'lists and describes predefined roles and creates a custom role',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const roles = await gcloudJson<Role[]>(['iam', 'roles', 'list']);
      const names = roles.map((r) => r.name);
      for (const name of ['roles/owner', 'roles/editor', 'roles/viewer', 'roles/iam.serviceAccountUser']) {
        assert.ok(names.includes(name), `${name} missing from roles list`);
      }
      assert.ok(roles.every((r) => r.includedPermissions === undefined));

      const viewer = await gcloudJson<Role>(['iam', 'roles', 'describe', 'roles/viewer']);
      assert.equal(viewer.name, 'roles/viewer');
      assert.equal(viewer.title, 'Viewer');
      assert.equal(viewer.stage, 'GA');
      const viewerPermissions = viewer.includedPermissions ?? [];
      assert.ok(viewerPermissions.includes('resourcemanager.projects.get'));
      assert.equal(viewerPermissions.includes('iam.serviceAccounts.create'), false);

      const created = await gcloudJson<Role>([
        'iam',
        'roles',
        'create',
        'myRole',
        '--project',
        PROJECT,
        '--permissions=iam.roles.get',
        '--title=T',
      ]);
      const name = `projects/${PROJECT}/roles/myRole`;
      assert.equal(created.name, name);
      assert.equal(created.title, 'T');
      assert.equal(created.description, undefined);
      assert.deepEqual(created.includedPermissions, ['iam.roles.get']);
      assert.equal(created.stage, 'ALPHA');

      const described = await gcloudJson<Role>(['iam', 'roles', 'describe', 'myRole', '--project', PROJECT]);
      assert.deepEqual(described, created);
    },
  );

  it('activates a service-account key and acts as that account', { timeout: TEST_TIMEOUT_MS }, async () => {
    const email = await createAccount('acting-robot');
    const member = `serviceAccount:${email}`;
    const keyPath = join(configRoot, 'acting-robot.json');
    await gcloudOk(['iam', 'service-accounts', 'keys', 'create', keyPath, '--iam-account', email]);
    const keyId = (JSON.parse(readFileSync(keyPath, 'utf8')) as { private_key_id: string }).private_key_id;
    await gcloudOk([
      'projects',
      'add-iam-policy-binding',
      PROJECT,
      `--member=${member}`,
      '--role=roles/viewer',
    ]);

    // A config of its own and no CLOUDSDK_AUTH_ACCESS_TOKEN, which would override the account.
    const saConfig = join(configRoot, 'service-account');
    mkdirSync(saConfig);
    const saEnv: NodeJS.ProcessEnv = { ...ownerEnv, CLOUDSDK_CONFIG: saConfig };
    delete saEnv.CLOUDSDK_AUTH_ACCESS_TOKEN;

    const firstRequest = requests.length;
    await gcloudOk(['auth', 'activate-service-account', '--key-file', keyPath], saEnv);
    const accounts = await gcloudJson<{ account: string; status: string }[]>(['auth', 'list'], saEnv);
    assert.deepEqual(
      accounts.filter((a) => a.status === 'ACTIVE').map((a) => a.account),
      [email],
    );

    const project = await gcloudJson<{ projectId: string }>(['projects', 'describe', PROJECT], saEnv);
    assert.equal(project.projectId, PROJECT);

    // The call was made with a token Nimbus's /token endpoint minted for this account and key.
    const describeCall = requests
      .slice(firstRequest)
      .find((r) => r.method === 'GET' && r.url.startsWith(`/v1/projects/${PROJECT}?`));
    assert.ok(describeCall, 'gcloud projects describe did not reach Nimbus');
    assert.equal(describeCall.status, 200);
    const used = /^Bearer (\S+)$/.exec(describeCall.authorization ?? '')?.[1] ?? '';
    const mint = issued.find((i) => i.token === used);
    assert.ok(mint, 'the token gcloud used was not minted by Nimbus');
    assert.equal(mint.during, 'POST /token');
    assert.equal(mint.member, member);
    const claims = jwtClaims(used);
    assert.equal(claims.sub, member);
    assert.equal(claims.sak, keyId);
    assert.ok(
      requests.slice(firstRequest).some((r) => r.method === 'POST' && r.url === '/token' && r.status === 200),
    );

    // roles/viewer does not carry iam.serviceAccounts.create.
    const denied = await gcloud(['iam', 'service-accounts', 'create', 'not-allowed', '--log-http'], saEnv);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /"status":\s*"PERMISSION_DENIED"/);
    assert.match(denied.stderr, /iam\.serviceAccounts\.create/);
    const createCall = requests
      .slice(firstRequest)
      .find((r) => r.method === 'POST' && r.url.startsWith(`/v1/projects/${PROJECT}/serviceAccounts?`));
    assert.ok(createCall, 'gcloud iam service-accounts create did not reach Nimbus');
    assert.equal(createCall.status, 403);
    assert.equal(createCall.authorization, describeCall.authorization);

    // The owner's environment is unaffected: the account was not created.
    const listed = await gcloudJson<ServiceAccount[]>(['iam', 'service-accounts', 'list']);
    assert.equal(
      listed.some((a) => a.email === emailOf('not-allowed')),
      false,
    );
  });
});
