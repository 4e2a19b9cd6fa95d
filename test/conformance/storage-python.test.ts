/**
 * Google's official Python client (google-cloud-storage 3.x, installed into .venv by
 * scripts/bootstrap.sh from requirements-test.txt) against a started Nimbus: the round trip
 * `client.bucket(NAME)` -> `blob.upload_from_filename` -> `download_to_filename`, anonymously through
 * STORAGE_EMULATOR_HOST, then with a service-account key file made by keys.create (google-auth
 * fetches a token from the key's token_uri) on a server that enforces IAM. Sizes cover the
 * multipart upload and the resumable one the client switches to above 8 MiB.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestServer, tempDir, type TestApp, withBinding } from '../helpers.ts';
import { buildBundle, childEnv, runCli } from '../nimbus-process.ts';

const run = promisify(execFile);
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
const SCRIPT = fileURLToPath(new URL('./python/roundtrip.py', import.meta.url));
const PROJECT = 'nimbus-local';
const KiB = 1024;
const MiB = 1024 * KiB;
/** Above 8 MiB the Python client uploads with a resumable session instead of multipart. */
const LARGE = 9 * MiB + 123;
const TIMEOUT_MS = 120_000;

const SKIP = existsSync(PYTHON)
  ? false
  : `${PYTHON} is missing: run sh scripts/bootstrap.sh (it installs requirements-test.txt)`;
if (SKIP !== false) {
  console.log(`# storage-python: skipped: ${SKIP}`);
}

type Server = TestApp & { url: string; port: number };

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  userAgent: string;
}

interface Outcome {
  ok?: boolean;
  error?: string;
  code?: number;
  message?: string;
  project?: string;
  credentials?: string;
  size?: number;
  mediaLink?: string;
}

/** Records every request the server receives (the client's side of each exchange). */
function recordRequests(server: Server): Seen[] {
  const seen: Seen[] = [];
  server.app.server.on('request', (request: IncomingMessage) => {
    seen.push({
      method: request.method ?? '',
      url: request.url ?? '',
      authorization: request.headers.authorization,
      userAgent: request.headers['user-agent'] ?? '',
    });
  });
  return seen;
}

/** A clean environment: loopback only, no metadata probes, no inherited Google settings. */
function pythonEnv(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
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
    PYTHONUNBUFFERED: '1',
    ...extra,
  };
}

async function roundTrip(
  env: NodeJS.ProcessEnv,
  args: {
    bucket: string;
    object: string;
    source: string;
    target: string;
    endpoint?: string;
    create?: boolean;
    chunkSize?: number;
  },
): Promise<Outcome> {
  try {
    const { stdout } = await run(PYTHON, [SCRIPT, JSON.stringify(args)], {
      env,
      timeout: TIMEOUT_MS - 10_000,
      maxBuffer: 16 * MiB,
    });
    const last = stdout.trim().split('\n').pop() ?? '';
    return JSON.parse(last) as Outcome;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message?: string };
    assert.fail(`python failed: ${failed.message ?? ''}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`);
  }
}

function sameBytes(a: string, b: string): void {
  const left = readFileSync(a);
  const right = readFileSync(b);
  assert.equal(right.length, left.length, 'downloaded size');
  assert.ok(left.equals(right), 'downloaded bytes differ from the uploaded ones');
}

async function api(server: Server, method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.ownerToken}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
}

/**
 * Creates a service account with `role` on the project and its JSON key file, the way the seed's
 * walkthrough does without gcloud: `nimbus iam service-accounts create` and `... keys create`.
 */
async function accountWithKey(server: Server, accountId: string, role: string, dir: string): Promise<string> {
  const flags = ['--port', String(server.port), '--data-dir', dir, '--project', PROJECT];
  // anonymous=none: the CLI acts as the owner with the owner's token (a started server also
  // writes it to DATA_DIR/owner.token, which the CLI reads by itself).
  const env = childEnv({ NIMBUS_ACCESS_TOKEN: server.ownerToken });
  const created = await runCli(['iam', 'service-accounts', 'create', accountId, ...flags], { env });
  assert.equal(created.code, 0, created.stderr);
  const email = `${accountId}@${PROJECT}.iam.gserviceaccount.com`;
  assert.match(created.stdout, new RegExp(`Created service account \\[${email.replace(/\./g, '\\.')}\\]`));
  const policy = await api(server, 'POST', `/v1/projects/${PROJECT}:getIamPolicy`, {});
  assert.equal(policy.status, 200, JSON.stringify(policy.body));
  const current = policy.body as { bindings?: { role: string; members: string[] }[]; etag?: string };
  const set = await api(server, 'POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
    policy: { bindings: withBinding(current, role, `serviceAccount:${email}`), etag: current.etag },
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  const path = join(dir, `${accountId}.json`);
  const key = await runCli(
    ['iam', 'service-accounts', 'keys', 'create', path, '--iam-account', email, ...flags],
    { env },
  );
  assert.equal(key.code, 0, key.stderr);
  assert.match(key.stdout, /created key \[[0-9a-f]+\] of type \[json\]/);
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as { token_uri: string; client_email: string };
  assert.equal(parsed.token_uri, `${server.url}/token`);
  assert.equal(parsed.client_email, email);
  return path;
}

function file(dir: string, name: string, size: number): string {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(size));
  return path;
}

describe('google-cloud-storage (Python) via STORAGE_EMULATOR_HOST, anonymous', { skip: SKIP }, () => {
  let server: Server;
  let dir: string;
  let seen: Seen[];
  let env: NodeJS.ProcessEnv;
  const bucket = `py-anon-${process.pid}`;

  before(async () => {
    dir = tempDir('nimbus-storage-python-');
    server = await startTestServer();
    seen = recordRequests(server);
    env = pythonEnv(dir, { STORAGE_EMULATOR_HOST: server.url, GOOGLE_CLOUD_PROJECT: PROJECT });
  });

  after(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'creates the bucket, uploads folder/file.bin (multipart) and downloads it unchanged',
    { timeout: TIMEOUT_MS },
    async () => {
      const source = file(dir, 'small.bin', 300 * KiB + 7);
      const target = join(dir, 'small.out');
      const outcome = await roundTrip(env, {
        bucket,
        object: 'folder/file.bin',
        source,
        target,
        create: true,
      });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(outcome.credentials, 'AnonymousCredentials');
      assert.equal(outcome.size, 300 * KiB + 7);
      sameBytes(source, target);
      const python = seen.filter((r) => r.userAgent.includes('gcloud-python/'));
      assert.ok(python.length > 0);
      // STORAGE_EMULATOR_HOST means anonymous: the client sends no credentials at all.
      assert.ok(python.every((r) => r.authorization === undefined));
      // buckets.insert (the Python client keeps the /storage/v1 prefix; the Node one drops it).
      assert.ok(
        python.some((r) => r.method === 'POST' && /^(\/storage\/v1)?\/b\?project=nimbus-local/.test(r.url)),
      );
      assert.ok(seen.some((r) => r.method === 'POST' && r.url.includes('uploadType=multipart')));
      assert.ok(
        seen.some(
          (r) =>
            r.method === 'GET' && r.url.startsWith(`/download/storage/v1/b/${bucket}/o/folder%2Ffile.bin`),
        ),
      );
      const listed = await api(server, 'GET', `/storage/v1/b/${bucket}/o`);
      assert.deepEqual(
        (listed.body.items as { name: string }[]).map((o) => o.name),
        ['folder/file.bin'],
      );
    },
  );

  it(
    'uploads a file over 8 MiB with a resumable session and downloads it unchanged',
    { timeout: TIMEOUT_MS },
    async () => {
      const source = file(dir, 'large.bin', LARGE);
      const target = join(dir, 'large.out');
      const outcome = await roundTrip(env, { bucket, object: 'folder/large.bin', source, target });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(outcome.size, LARGE);
      sameBytes(source, target);
      assert.ok(seen.some((r) => r.method === 'POST' && r.url.includes('uploadType=resumable')));
      assert.ok(seen.some((r) => r.method === 'PUT' && r.url.includes('upload_id=')));
    },
  );
});

describe('google-cloud-storage (Python) with a key file and IAM enforced', { skip: SKIP }, () => {
  let server: Server;
  let dir: string;
  let seen: Seen[];
  let writerEnv: NodeJS.ProcessEnv;
  let viewerEnv: NodeJS.ProcessEnv;
  const bucket = `py-iam-${process.pid}`;

  before(async () => {
    buildBundle();
    dir = tempDir('nimbus-storage-python-iam-');
    server = await startTestServer({ anonymous: 'none' });
    seen = recordRequests(server);
    const created = await api(server, 'POST', `/storage/v1/b?project=${PROJECT}`, { name: bucket });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const writerKey = await accountWithKey(server, 'py-writer', 'roles/storage.objectAdmin', dir);
    const viewerKey = await accountWithKey(server, 'py-viewer', 'roles/viewer', dir);
    writerEnv = pythonEnv(dir, { GOOGLE_APPLICATION_CREDENTIALS: writerKey });
    viewerEnv = pythonEnv(dir, { GOOGLE_APPLICATION_CREDENTIALS: viewerKey });
  });

  after(async () => {
    await server?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'an objectAdmin account gets a token from token_uri and round-trips folder/file.bin',
    { timeout: TIMEOUT_MS },
    async () => {
      const source = file(dir, 'small.bin', 64 * KiB + 1);
      const target = join(dir, 'small.out');
      const outcome = await roundTrip(writerEnv, {
        bucket,
        object: 'folder/file.bin',
        source,
        target,
        endpoint: server.url,
      });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(outcome.project, PROJECT);
      assert.equal(outcome.credentials, 'Credentials');
      sameBytes(source, target);
      assert.ok(
        seen.some((r) => r.method === 'POST' && r.url === '/token'),
        'no token request reached /token',
      );
      const uploads = seen.filter((r) => r.url.startsWith(`/upload/storage/v1/b/${bucket}/o`));
      assert.ok(uploads.length > 0);
      assert.ok(uploads.every((r) => r.authorization?.startsWith('Bearer ') === true));
    },
  );

  it(
    'an objectAdmin account uploads a file over 8 MiB in resumable chunks',
    { timeout: TIMEOUT_MS },
    async () => {
      const source = file(dir, 'large.bin', LARGE);
      const target = join(dir, 'large.out');
      const outcome = await roundTrip(writerEnv, {
        bucket,
        object: 'folder/large.bin',
        source,
        target,
        endpoint: server.url,
        chunkSize: 4 * MiB,
      });
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      assert.equal(outcome.size, LARGE);
      sameBytes(source, target);
      const chunks = seen.filter((r) => r.method === 'PUT' && r.url.includes('upload_id='));
      assert.ok(chunks.length >= 3, `expected 3 chunks, saw ${chunks.length}`);
    },
  );

  it(
    'a viewer account gets 403 Forbidden on upload (multipart and resumable)',
    { timeout: TIMEOUT_MS },
    async () => {
      for (const [name, size] of [
        ['denied.bin', 10 * KiB],
        ['denied-large.bin', LARGE],
      ] as const) {
        const source = file(dir, name, size);
        const outcome = await roundTrip(viewerEnv, {
          bucket,
          object: `folder/${name}`,
          source,
          target: join(dir, `${name}.out`),
          endpoint: server.url,
        });
        assert.equal(outcome.error, 'Forbidden', JSON.stringify(outcome));
        assert.equal(outcome.code, 403);
      }
      const listed = await api(server, 'GET', `/storage/v1/b/${bucket}/o`);
      const names = ((listed.body.items ?? []) as { name: string }[]).map((o) => o.name);
      assert.ok(!names.some((n) => n.includes('denied')), names.join(','));
    },
  );
});
