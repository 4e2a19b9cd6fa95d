/**
 * IAM Conditions with Google's Python client (google-cloud-storage, from requirements-test.txt):
 * the owner sets a conditional bucket binding with `bucket.set_iam_policy` at policy version 3, and
 * a service account, with a key file made by keys.create (google-auth fetches its token from the
 * key's token_uri), can download objects under the condition's prefix and nothing else.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, tempDir, type TestApp } from '../helpers.ts';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
const SCRIPT = fileURLToPath(new URL('./python/iam_conditions.py', import.meta.url));
const PROJECT = 'nimbus-local';
const BUCKET = 'py-conditions';
const TIMEOUT_MS = 120_000;

const SKIP = existsSync(PYTHON)
  ? false
  : `${PYTHON} is missing: run sh scripts/bootstrap.sh (it installs requirements-test.txt)`;

type Server = TestApp & { url: string; port: number };

async function api(
  server: Server,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.ownerToken}`, 'content-type': contentType },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

async function python(
  env: NodeJS.ProcessEnv,
  args: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  try {
    const { stdout } = await run(PYTHON, [SCRIPT, JSON.stringify(args)], {
      env,
      timeout: TIMEOUT_MS - 10_000,
    });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, unknown>;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message?: string };
    return assert.fail(
      `python failed: ${failed.message ?? ''}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`,
    );
  }
}

function pythonEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    CLOUDSDK_CONFIG: join(home, 'gcloud'),
    METADATA_SERVER_DETECTION: 'none',
    GCE_METADATA_HOST: '127.0.0.1:1',
    GCE_METADATA_IP: '127.0.0.1:1',
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    PYTHONDONTWRITEBYTECODE: '1',
    ...extra,
  };
}

describe('google-cloud-storage (Python) with a conditional bucket binding', { skip: SKIP }, () => {
  let server: Server;
  let dir: string;
  let member: string;
  let keyPath: string;

  before(async () => {
    dir = tempDir('nimbus-iam-conditions-');
    server = await startTestServer({ anonymous: 'none' });
    const created = await api(server, 'POST', `/storage/v1/b?project=${PROJECT}`, {
      name: BUCKET,
      iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    for (const name of ['uploads/a.txt', 'other/b.txt']) {
      const res = await api(
        server,
        'POST',
        `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}`,
        `data of ${name}`,
        'text/plain',
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const account = await api(server, 'POST', `/v1/projects/${PROJECT}/serviceAccounts`, {
      accountId: 'py-cond',
    });
    assert.equal(account.status, 200, JSON.stringify(account.body));
    const email = String(account.body.email);
    member = `serviceAccount:${email}`;
    const key = await api(server, 'POST', `/v1/projects/${PROJECT}/serviceAccounts/${email}/keys`, {});
    assert.equal(key.status, 200, JSON.stringify(key.body));
    keyPath = join(dir, 'key.json');
    writeFileSync(keyPath, Buffer.from(String(key.body.privateKeyData), 'base64'));
  });

  after(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads under the prefix only, after set_iam_policy at version 3', { timeout: TIMEOUT_MS }, async () => {
    const reader = pythonEnv(dir, { GOOGLE_APPLICATION_CREDENTIALS: keyPath });
    const objects = ['uploads/a.txt', 'other/b.txt'];
    const before = await python(reader, { action: 'read', endpoint: server.url, bucket: BUCKET, objects });
    assert.deepEqual(before.objects, { 'uploads/a.txt': 403, 'other/b.txt': 403 });

    const expression = `resource.name.startsWith("projects/_/buckets/${BUCKET}/objects/uploads/")`;
    const written = await python(pythonEnv(dir), {
      action: 'grant',
      endpoint: server.url,
      bucket: BUCKET,
      token: server.ownerToken,
      member,
      role: 'roles/storage.objectViewer',
      title: 'uploads only',
      expression,
    });
    assert.equal(written.version, 3, JSON.stringify(written));
    assert.deepEqual(written.bindings, [
      {
        role: 'roles/storage.objectViewer',
        members: [member],
        condition: { title: 'uploads only', expression },
      },
    ]);

    const after = await python(reader, { action: 'read', endpoint: server.url, bucket: BUCKET, objects });
    assert.equal(after.credentials, 'Credentials');
    assert.deepEqual(after.objects, { 'uploads/a.txt': 'data of uploads/a.txt', 'other/b.txt': 403 });
    // storage.objects.list is checked on the bucket: the object-prefix condition does not grant it.
    assert.equal(after.list, 403);

    const invalid = await python(pythonEnv(dir), {
      action: 'grant',
      endpoint: server.url,
      bucket: BUCKET,
      token: server.ownerToken,
      member,
      role: 'roles/storage.objectViewer',
      title: 'broken',
      expression: 'resource.name.startsWith(',
    });
    assert.equal(invalid.code, 400, JSON.stringify(invalid));
    assert.match(String(invalid.message), /Condition expression compilation failed/);
  });
});
