/**
 * Shared setup for the S3-client conformance tests (aws cli, boto3, rclone, gsutil XML, cross-face):
 * a real `nimbus start` process with a dedicated `--s3-port` and `--anonymous none` (so every client
 * must really authenticate), a service account holding roles/storage.admin and an HMAC key of it,
 * made through the JSON API with the owner token `nimbus env` prints. Only 127.0.0.1 is contacted.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { selfSignedCertificate } from '../../src/platform/x509.ts';
import { tempDir } from '../helpers.ts';
import {
  buildBundle,
  childEnv,
  freePort,
  runCli,
  spawnNimbus,
  type NimbusProcess,
} from '../nimbus-process.ts';

const execFileAsync = promisify(execFile);

export const PROJECT = 'nimbus-local';

export interface S3Nimbus {
  nimbus: NimbusProcess;
  /** http://127.0.0.1:S3PORT (what `nimbus env` names as AWS_ENDPOINT_URL_S3). */
  s3Url: string;
  ownerToken: string;
  accountEmail: string;
  accessId: string;
  secret: string;
  /** A scratch directory removed by dispose(). */
  work: string;
  /** A JSON API call as the owner. */
  json(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  dispose(): Promise<void>;
}

let built = false;

/** Starts Nimbus as a process and provisions an HMAC key of a storage-admin service account. */
export async function startS3Nimbus(accountId: string): Promise<S3Nimbus> {
  if (!built) {
    buildBundle();
    built = true;
  }
  const dataDir = tempDir('nimbus-s3c-');
  const work = tempDir('nimbus-s3c-work-');
  const s3Port = await freePort();
  const nimbus = await spawnNimbus(dataDir, { args: ['--s3-port', String(s3Port), '--anonymous', 'none'] });
  try {
    const env = await runCli(['env', '--data-dir', dataDir]);
    assert.equal(env.code, 0, env.stderr);
    const ownerToken = /^export CLOUDSDK_AUTH_ACCESS_TOKEN='([^']+)'$/m.exec(env.stdout)?.[1];
    assert.ok(ownerToken !== undefined, env.stdout);
    const s3Url = `http://127.0.0.1:${String(s3Port)}`;
    assert.match(env.stdout, new RegExp(`^export AWS_ENDPOINT_URL_S3='${s3Url}'$`, 'm'));
    const json: S3Nimbus['json'] = async (method, path, body) => {
      const res = await fetch(`${nimbus.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${ownerToken}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
    };
    const account = await json('POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId });
    assert.equal(account.status, 200, JSON.stringify(account.body));
    const accountEmail = String(account.body.email);
    const policy = await json('POST', `/v1/projects/${PROJECT}:getIamPolicy`, {});
    const bindings = (policy.body.bindings as { role: string; members: string[] }[] | undefined) ?? [];
    bindings.push({ role: 'roles/storage.admin', members: [`serviceAccount:${accountEmail}`] });
    const set = await json('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: { bindings, etag: policy.body.etag },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const key = await json(
      'POST',
      `/storage/v1/projects/${PROJECT}/hmacKeys?serviceAccountEmail=${encodeURIComponent(accountEmail)}`,
    );
    assert.equal(key.status, 200, JSON.stringify(key.body));
    const accessId = (key.body.metadata as { accessId: string }).accessId;
    return {
      nimbus,
      s3Url,
      ownerToken,
      accountEmail,
      accessId,
      secret: String(key.body.secret),
      work,
      json,
      dispose: async () => {
        await nimbus.stop();
        rmSync(dataDir, { recursive: true, force: true });
        rmSync(work, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await nimbus.stop('SIGKILL');
    throw error;
  }
}

/** The first executable named `name` among `candidates` (absolute paths), else on PATH. */
export function findTool(name: string, candidates: string[] = []): string | undefined {
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore', timeout: 30_000 });
      return candidate;
    } catch {
      // Not this one.
    }
  }
  try {
    const path = execFileSync('which', [name], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return path === '' ? undefined : path;
  } catch {
    return undefined;
  }
}

/**
 * The environment of an AWS client: only endpoint and credentials, a private HOME and config file,
 * no instance-metadata probing.
 */
export function awsEnv(s: S3Nimbus, extra: Record<string, string> = {}): Record<string, string> {
  const home = join(s.work, 'home');
  mkdirSync(home, { recursive: true });
  const env = childEnv({
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'aws-credentials'),
    AWS_ENDPOINT_URL_S3: s.s3Url,
    AWS_ACCESS_KEY_ID: s.accessId,
    AWS_SECRET_ACCESS_KEY: s.secret,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    ...extra,
  });
  for (const key of [
    'AWS_PROFILE',
    'AWS_SESSION_TOKEN',
    'AWS_ENDPOINT_URL',
    'AWS_CA_BUNDLE',
    'http_proxy',
    'https_proxy',
  ]) {
    if (!(key in extra)) {
      Reflect.deleteProperty(env, key);
    }
  }
  return env;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool to completion; never throws for a non-zero exit (the result carries it). */
export async function runTool(
  file: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      env,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: unknown; stdout?: unknown; stderr?: unknown };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: typeof failed.stdout === 'string' ? failed.stdout : '',
      stderr: typeof failed.stderr === 'string' ? failed.stderr : String(error),
    };
  }
}

/**
 * A TLS terminator on 127.0.0.1 (throwaway self-signed certificate) piping each connection to
 * `targetPort`; `seen` accumulates the decrypted request bytes (head lines only matter) so a test can
 * check what a client sent, e.g. `Content-Encoding: aws-chunked` with a checksum trailer.
 */
export async function startTlsTerminator(
  targetPort: number,
): Promise<{ port: number; seen: () => string; close(): Promise<void> }> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Date.now();
  const cert = selfSignedCertificate({
    commonName: '127.0.0.1',
    serial: randomBytes(8),
    notBefore: now - 3_600_000,
    notAfter: now + 86_400_000,
    privateKey,
  });
  const sockets = new Set<Socket>();
  let seen = '';
  const server = createTlsServer(
    { key: privateKey.export({ type: 'pkcs8', format: 'pem' }), cert },
    (client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(client).add(upstream);
      client.on('close', () => sockets.delete(client));
      upstream.on('close', () => sockets.delete(upstream));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('data', (chunk: Buffer) => {
        // Keep request heads only (bodies are large and binary).
        const text = chunk.subarray(0, 4096).toString('latin1');
        if (/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(text)) {
          seen += text.split('\r\n\r\n')[0] ?? '';
          seen += '\n\n';
        }
      });
      client.pipe(upstream).pipe(client);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    seen: () => seen,
    close: async () => {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
}
