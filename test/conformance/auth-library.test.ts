/**
 * Google's official Node auth library (google-auth-library v9) against a started Nimbus: the
 * JWT-bearer grant, self-signed JWTs, the metadata server, STS token exchange and tokeninfo, plus
 * the ways a token stops working (expiry, disabled key, disabled account).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DefaultTransporter, GoogleAuth, JWT, OAuth2Client, type gaxios } from 'google-auth-library';
import { ManualClock } from '../../src/core/clock.ts';
import { startTestServer, tempDir, type TestApp, withBinding } from '../helpers.ts';

// Only the metadata case (a child process with its own environment) may use the metadata server.
process.env.METADATA_SERVER_DETECTION = 'none';

const run = promisify(execFile);
const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
/** gtoken (used by JWT) posts the JWT-bearer grant here; the URL is hard-coded in the library. */
const GOOGLE_TOKEN_URL = 'https://www.googleapis.com/oauth2/v4/token';
const PROJECT = 'nimbus-local';
/** The repository root, where the child process resolves google-auth-library. */
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Server = TestApp & { url: string; port: number };

interface ApiResult {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

interface KeyFile {
  private_key: string;
  private_key_id: string;
  client_email: string;
  token_uri: string;
}

interface ErrorBody {
  error: { code: number; status: string; message: string };
}

/**
 * Sends everything the library would send to Google's token endpoint to Nimbus's `/token`, and
 * refuses any request that would leave 127.0.0.1.
 */
class LoopbackTransporter extends DefaultTransporter {
  constructor(private readonly base: string) {
    super();
  }

  override request<T>(opts: gaxios.GaxiosOptions): gaxios.GaxiosPromise<T> {
    const target = String(opts.url ?? '');
    const url = target === GOOGLE_TOKEN_URL ? `${this.base}/token` : target;
    if (!url.startsWith('http://127.0.0.1:')) {
      return Promise.reject(new Error(`test refused a request to ${target}`));
    }
    return super.request<T>({ ...opts, url });
  }
}

async function api(server: Server, method: string, path: string, token?: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token !== undefined) {
    headers.authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const parsed = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  return { status: res.status, body: parsed, headers: res.headers } satisfies ApiResult;
}

async function createAccount(server: Server, accountId: string): Promise<string> {
  const res = await api(server, 'POST', `/v1/projects/${PROJECT}/serviceAccounts`, server.ownerToken, {
    accountId,
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const email = res.body.email;
  assert.equal(email, `${accountId}@${PROJECT}.iam.gserviceaccount.com`);
  return email;
}

async function createKey(server: Server, email: string): Promise<KeyFile> {
  const res = await api(
    server,
    'POST',
    `/v1/projects/${PROJECT}/serviceAccounts/${email}/keys`,
    server.ownerToken,
    {},
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(typeof res.body.privateKeyData, 'string');
  const keyFile = JSON.parse(
    Buffer.from(String(res.body.privateKeyData), 'base64').toString('utf8'),
  ) as KeyFile;
  assert.equal(keyFile.client_email, email);
  assert.ok(String(res.body.name).endsWith(`/keys/${keyFile.private_key_id}`));
  return keyFile;
}

/** Adds `member` to `role` on the project with a read-modify-write of its policy. */
async function grant(server: Server, member: string, role: string): Promise<void> {
  const current = await api(server, 'POST', `/v1/projects/${PROJECT}:getIamPolicy`, server.ownerToken, {});
  assert.equal(current.status, 200);
  const policy = current.body as { bindings?: { role: string; members: string[] }[]; etag?: string };
  const bindings = withBinding(policy, role, member);
  const res = await api(server, 'POST', `/v1/projects/${PROJECT}:setIamPolicy`, server.ownerToken, {
    policy: { bindings, etag: policy.etag },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/**
 * A JWT client for a key. `selfSigned` sets `useJWTAccessWithScope` (a property, not a constructor
 * option: GoogleAuth sets it the same way), so the client signs its own bearer JWTs with the scope.
 */
function jwtFor(server: Server, key: KeyFile, selfSigned = false): JWT {
  const client = new JWT({
    email: key.client_email,
    key: key.private_key,
    keyId: key.private_key_id,
    scopes: [CLOUD_PLATFORM],
    transporter: new LoopbackTransporter(server.url),
  });
  client.useJWTAccessWithScope = selfSigned;
  return client;
}

async function accessTokenOf(client: JWT): Promise<string> {
  const { token } = await client.getAccessToken();
  assert.equal(typeof token, 'string');
  return token ?? '';
}

function jwtParts(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [h = '', c = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

function assertUnauthenticated(res: ApiResult): void {
  assert.equal(res.status, 401, JSON.stringify(res.body));
  assert.equal((res.body as unknown as ErrorBody).error.status, 'UNAUTHENTICATED');
  assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
}

describe('google-auth-library against Nimbus', () => {
  let server: Server;
  let robot: string;
  let robotKey: KeyFile;

  before(async () => {
    server = await startTestServer();
    robot = await createAccount(server, 'auth-robot');
    robotKey = await createKey(server, robot);
  });
  after(async () => {
    await server.dispose();
  });

  it('issues key files whose token_uri points at Nimbus', () => {
    assert.equal(robotKey.token_uri, `${server.url}/token`);
    assert.match(robotKey.private_key, /^-----BEGIN PRIVATE KEY-----/);
  });

  it('JWT-bearer grant: /token answers, the token is 403 until granted and 200 after', async () => {
    const client = jwtFor(server, robotKey);
    const token = await accessTokenOf(client);
    // A Nimbus access token, not the self-signed assertion.
    assert.notEqual(jwtParts(token).header.kid, robotKey.private_key_id);

    const denied = await api(server, 'GET', `/v1/projects/${PROJECT}`, token);
    assert.equal(denied.status, 403, JSON.stringify(denied.body));
    const error = (denied.body as unknown as ErrorBody).error;
    assert.equal(error.status, 'PERMISSION_DENIED');
    assert.match(error.message, /resourcemanager\.projects\.get/);

    await grant(server, `serviceAccount:${robot}`, 'roles/viewer');
    const allowed = await api(server, 'GET', `/v1/projects/${PROJECT}`, token);
    assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
    assert.equal(allowed.body.projectId, PROJECT);

    // The library's own request path (Authorization added by the client) works too.
    const viaClient = await client.request<{ projectId: string }>({
      url: `${server.url}/v1/projects/${PROJECT}`,
    });
    assert.equal(viaClient.data.projectId, PROJECT);

    // Viewer only: a write with the same token is refused.
    const write = await api(server, 'POST', `/v1/projects/${PROJECT}/serviceAccounts`, token, {
      accountId: 'not-allowed',
    });
    assert.equal(write.status, 403);
  });

  it('accepts a self-signed JWT (useJWTAccessWithScope) as a bearer token', async () => {
    const client = jwtFor(server, robotKey, true);
    const headers = await client.getRequestHeaders(`${server.url}/v1/projects/${PROJECT}`);
    const authorization = headers.Authorization ?? '';
    assert.match(authorization, /^Bearer /);
    const token = authorization.slice('Bearer '.length);
    const { header, claims } = jwtParts(token);
    assert.equal(header.kid, robotKey.private_key_id);
    assert.equal(claims.iss, robot);
    assert.equal(claims.scope, CLOUD_PLATFORM);

    const res = await api(server, 'GET', `/v1/projects/${PROJECT}`, token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.projectId, PROJECT);
  });

  it('accepts a self-signed JWT with an audience and no scopes', async () => {
    const client = new JWT({
      email: robotKey.client_email,
      key: robotKey.private_key,
      keyId: robotKey.private_key_id,
      transporter: new LoopbackTransporter(server.url),
    });
    const audience = `${server.url}/`;
    const headers = await client.getRequestHeaders(audience);
    const token = (headers.Authorization ?? '').replace(/^Bearer /, '');
    assert.equal(jwtParts(token).claims.aud, audience);
    const res = await api(server, 'GET', `/v1/projects/${PROJECT}`, token);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  it('rejects a self-signed JWT whose signature does not match the key', async () => {
    const other = await createKey(server, robot);
    const forged = new JWT({
      email: robot,
      key: other.private_key,
      keyId: robotKey.private_key_id,
      scopes: [CLOUD_PLATFORM],
      transporter: new LoopbackTransporter(server.url),
    });
    forged.useJWTAccessWithScope = true;
    const headers = await forged.getRequestHeaders(`${server.url}/`);
    const token = (headers.Authorization ?? '').replace(/^Bearer /, '');
    assertUnauthenticated(await api(server, 'GET', `/v1/projects/${PROJECT}`, token));
  });

  it('tokeninfo returns the email and scope of a valid token', async () => {
    const token = await accessTokenOf(jwtFor(server, robotKey));
    const res = await api(server, 'GET', `/tokeninfo?access_token=${encodeURIComponent(token)}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.email, robot);
    assert.equal(res.body.scope, CLOUD_PLATFORM);
    assert.ok(Number(res.body.expires_in) > 3000);

    // The library's getTokenInfo posts the token in the Authorization header.
    const oauth = new OAuth2Client({
      endpoints: { tokenInfoUrl: `${server.url}/tokeninfo` },
      transporter: new LoopbackTransporter(server.url),
    });
    const info = await oauth.getTokenInfo(token);
    assert.equal(info.email, robot);
    assert.deepEqual(info.scopes, [CLOUD_PLATFORM]);

    const bad = await api(server, 'GET', '/tokeninfo?access_token=not-a-token');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'invalid_token');
  });

  it('rejects tokens obtained with a key once the key is disabled (and the key itself)', async () => {
    const key = await createKey(server, robot);
    const token = await accessTokenOf(jwtFor(server, key));
    assert.equal((await api(server, 'GET', `/v1/projects/${PROJECT}`, token)).status, 200);

    const keyPath = `/v1/projects/${PROJECT}/serviceAccounts/${robot}/keys/${key.private_key_id}`;
    const disable = await api(server, 'POST', `${keyPath}:disable`, server.ownerToken, {});
    assert.equal(disable.status, 200, JSON.stringify(disable.body));

    assertUnauthenticated(await api(server, 'GET', `/v1/projects/${PROJECT}`, token));
    // The disabled key can no longer obtain a token or sign a usable JWT.
    await assert.rejects(accessTokenOf(jwtFor(server, key)), /invalid_grant/);
    const selfSigned = await jwtFor(server, key, true).getRequestHeaders(`${server.url}/`);
    const jwt = (selfSigned.Authorization ?? '').replace(/^Bearer /, '');
    assertUnauthenticated(await api(server, 'GET', `/v1/projects/${PROJECT}`, jwt));
    // Tokens from the account's other keys are unaffected.
    const other = await accessTokenOf(jwtFor(server, robotKey));
    assert.equal((await api(server, 'GET', `/v1/projects/${PROJECT}`, other)).status, 200);
  });

  it('rejects the tokens of a disabled service account', async () => {
    const email = await createAccount(server, 'auth-disabled');
    const key = await createKey(server, email);
    await grant(server, `serviceAccount:${email}`, 'roles/viewer');
    const viaKey = await accessTokenOf(jwtFor(server, key));
    const minted = await api(
      server,
      'POST',
      `/v1/projects/-/serviceAccounts/${email}:generateAccessToken`,
      server.ownerToken,
      { scope: [CLOUD_PLATFORM] },
    );
    assert.equal(minted.status, 200, JSON.stringify(minted.body));
    const viaIamCredentials = String(minted.body.accessToken);
    for (const token of [viaKey, viaIamCredentials]) {
      assert.equal((await api(server, 'GET', `/v1/projects/${PROJECT}`, token)).status, 200);
    }

    const accountPath = `/v1/projects/${PROJECT}/serviceAccounts/${email}`;
    assert.equal((await api(server, 'POST', `${accountPath}:disable`, server.ownerToken, {})).status, 200);
    for (const token of [viaKey, viaIamCredentials]) {
      assertUnauthenticated(await api(server, 'GET', `/v1/projects/${PROJECT}`, token));
    }
    await assert.rejects(accessTokenOf(jwtFor(server, key)), /invalid_grant/);

    assert.equal((await api(server, 'POST', `${accountPath}:enable`, server.ownerToken, {})).status, 200);
    assert.equal((await api(server, 'GET', `/v1/projects/${PROJECT}`, viaKey)).status, 200);
  });

  it('STS: an external_account credential file yields a working token', async () => {
    const email = await createAccount(server, 'auth-federated');
    await grant(server, `serviceAccount:${email}`, 'roles/viewer');
    const idToken = await api(
      server,
      'POST',
      `/v1/projects/-/serviceAccounts/${email}:generateIdToken`,
      server.ownerToken,
      { audience: 'https://nimbus.test/federation', includeEmail: true },
    );
    assert.equal(idToken.status, 200, JSON.stringify(idToken.body));

    const dir = tempDir('nimbus-sts-');
    try {
      const subjectFile = join(dir, 'subject-token');
      writeFileSync(subjectFile, String(idToken.body.token));
      const credentialFile = join(dir, 'external-account.json');
      writeFileSync(
        credentialFile,
        JSON.stringify({
          type: 'external_account',
          audience:
            '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/nimbus/providers/nimbus',
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          token_url: `${server.url}/v1/token`,
          credential_source: { file: subjectFile },
        }),
      );
      const auth = new GoogleAuth({
        keyFilename: credentialFile,
        scopes: [CLOUD_PLATFORM],
        clientOptions: { transporter: new LoopbackTransporter(server.url) },
      });
      const client = await auth.getClient();
      assert.equal(client.constructor.name, 'IdentityPoolClient');
      const token = await auth.getAccessToken();
      assert.equal(typeof token, 'string');

      const info = await api(server, 'GET', `/tokeninfo?access_token=${encodeURIComponent(token ?? '')}`);
      assert.equal(info.status, 200);
      assert.equal(info.body.email, email);

      const res = await client.request<{ projectId: string }>({
        url: `${server.url}/v1/projects/${PROJECT}`,
      });
      assert.equal(res.data.projectId, PROJECT);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('STS refuses a subject token it cannot verify', async () => {
    const res = await fetch(`${server.url}/v1/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: 'a.b.c',
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      }).toString(),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
  });

  it('metadata server: GoogleAuth gets a Nimbus token and the project id', async () => {
    // A child process gets the metadata variables, an empty HOME (no application default
    // credentials) and a PATH without gcloud (GoogleAuth asks gcloud for a project id).
    const dir = tempDir('nimbus-metadata-');
    try {
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      symlinkSync(process.execPath, join(bin, 'node'));
      const script = `
        import { GoogleAuth } from 'google-auth-library';
        const auth = new GoogleAuth({ scopes: ['${CLOUD_PLATFORM}'] });
        const token = await auth.getAccessToken();
        const projectId = await auth.getProjectId();
        const client = await auth.getClient();
        const credentials = await auth.getCredentials();
        console.log(JSON.stringify({ token, projectId, client: client.constructor.name, email: credentials.client_email }));
      `;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: REPO_ROOT,
        timeout: 30_000,
        env: {
          PATH: bin,
          HOME: dir,
          CLOUDSDK_CONFIG: join(dir, 'gcloud'),
          GCE_METADATA_HOST: `127.0.0.1:${server.port}`,
          METADATA_SERVER_DETECTION: 'assume-present',
        },
      });
      const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
        token: string;
        projectId: string;
        client: string;
        email: string;
      };
      assert.equal(out.client, 'Compute');
      assert.equal(out.projectId, PROJECT);
      assert.equal(out.email, server.config.ownerEmail);

      const info = await api(server, 'GET', `/tokeninfo?access_token=${encodeURIComponent(out.token)}`);
      assert.equal(info.status, 200);
      assert.equal(info.body.email, server.config.ownerEmail);
      const res = await api(server, 'GET', `/v1/projects/${PROJECT}`, out.token);
      assert.equal(res.status, 200);
      assert.equal(res.body.projectId, PROJECT);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('token expiry (manual clock)', () => {
  const clock = new ManualClock(Date.now());
  let server: Server;

  before(async () => {
    server = await startTestServer({}, clock);
  });
  after(async () => {
    await server.dispose();
  });

  it('rejects an expired access token with 401', async () => {
    const email = await createAccount(server, 'auth-expiry');
    const key = await createKey(server, email);
    await grant(server, `serviceAccount:${email}`, 'roles/viewer');
    const token = await accessTokenOf(jwtFor(server, key));
    assert.equal((await api(server, 'GET', `/v1/projects/${PROJECT}`, token)).status, 200);

    clock.advance(3599 * 1000);
    assert.equal((await api(server, 'GET', `/v1/projects/${PROJECT}`, token)).status, 200);
    clock.advance(2 * 1000);
    const expired = await api(server, 'GET', `/v1/projects/${PROJECT}`, token);
    assertUnauthenticated(expired);
    assert.match((expired.body as unknown as ErrorBody).error.message, /expired/);

    const info = await api(server, 'GET', `/tokeninfo?access_token=${encodeURIComponent(token)}`);
    assert.equal(info.status, 400);
  });
});
