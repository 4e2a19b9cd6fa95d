/**
 * `gsutil` (the Cloud SDK's bundled gsutil 5.x) in JSON API mode against a Nimbus server started
 * in-process: mb, cp a file up and down (small and resumable), ls, ls -l, cat, cp -r a folder, rm.
 *
 * gsutil cannot speak plain HTTP to a JSON endpoint: gslib/gcs_json_api.py builds its base URL as
 * 'https://' + gs_json_host + ':' + gs_json_port with the scheme hard-coded, and boto's
 * `is_secure = False` only affects the XML API. So the test puts a loopback TLS terminator (a
 * throwaway self-signed certificate, `https_validate_certificates = False`) in front of Nimbus and
 * points gs_json_host/gs_json_port at it. gsutil also ignores gcloud's CLOUDSDK_AUTH_ACCESS_TOKEN, so
 * it authenticates with a Nimbus service-account key (`gs_service_key_file`) whose JWT-bearer grant
 * goes to Nimbus's /token (`[OAuth2] provider_token_uri`). Only 127.0.0.1 is ever contacted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server as TlsServer } from 'node:tls';
import { selfSignedCertificate } from '../../src/platform/x509.ts';
import { gcloudEnv, runGcloud, type GcloudResult } from '../gcloud-cli.ts';
import {
  bearer,
  startTestServer,
  tempDir,
  withBinding,
  type PolicyBindings,
  type TestApp,
} from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'gsutil-test-bucket';

function findGsutil(): string | undefined {
  try {
    const path = execFileSync('which', ['gsutil'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return path.trim() === '' ? undefined : path.trim();
  } catch {
    return undefined;
  }
}

const GSUTIL = findGsutil();

/** A TLS terminator on 127.0.0.1 that pipes every connection to `targetPort` as plain TCP. */
async function startTlsTerminator(targetPort: number): Promise<{ port: number; close(): Promise<void> }> {
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
  const server: TlsServer = createServer(
    { key: privateKey.export({ type: 'pkcs8', format: 'pem' }), cert },
    (client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(client).add(upstream);
      client.on('close', () => sockets.delete(client));
      upstream.on('close', () => sockets.delete(upstream));
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
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

describe(
  'gsutil (JSON API) against Nimbus',
  { skip: GSUTIL === undefined ? 'gsutil not installed' : false },
  () => {
    let t: TestApp & { url: string; port: number };
    let tls: { port: number; close(): Promise<void> };
    let work: string;
    let env: NodeJS.ProcessEnv;
    /** Storage JSON API requests Nimbus received from gsutil: "METHOD URL" and whether a bearer came. */
    const seen: { line: string; authorized: boolean }[] = [];

    const gsutil = async (...args: string[]): Promise<GcloudResult> => {
      const result = await runGcloud(GSUTIL ?? 'gsutil', args, env, 120_000);
      assert.equal(result.code, 0, `gsutil ${args.join(' ')} failed:\n${result.stderr}`);
      return result;
    };

    const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${t.url}${path}`, {
        method,
        headers: { ...bearer(t.ownerToken), 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      assert.equal(res.status, 200, `${method} ${path}: ${text}`);
      return (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>;
    };

    before(async () => {
      t = await startTestServer();
      t.app.server.prependListener('request', (req) => {
        const url = req.url ?? '';
        if ((req.headers['user-agent'] ?? '').includes('gsutil/') && url.includes('storage/v1/')) {
          seen.push({
            line: `${req.method ?? ''} ${url}`,
            authorized: (req.headers.authorization ?? '').startsWith('Bearer '),
          });
        }
      });
      tls = await startTlsTerminator(t.port);
      work = tempDir('nimbus-gsutil-');
      mkdirSync(join(work, 'config'));
      mkdirSync(join(work, 'state'));

      // A service account with storage.admin on the project, and its JSON key for gsutil.
      const account = await api('POST', `/v1/projects/${PROJECT}/serviceAccounts`, {
        accountId: 'gsutil-test',
      });
      const email = String(account.email);
      const policy = (await api('POST', `/v1/projects/${PROJECT}:getIamPolicy`, {})) as PolicyBindings;
      await api('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
        policy: {
          bindings: withBinding(policy, 'roles/storage.admin', `serviceAccount:${email}`),
          etag: policy.etag,
        },
      });
      const key = await api('POST', `/v1/projects/${PROJECT}/serviceAccounts/${email}/keys`, {});
      const keyFile = join(work, 'key.json');
      writeFileSync(keyFile, Buffer.from(String(key.privateKeyData), 'base64'), { mode: 0o600 });

      const boto = join(work, 'boto.cfg');
      writeFileSync(
        boto,
        [
          '[Credentials]',
          `gs_service_key_file = ${keyFile}`,
          'gs_json_host = 127.0.0.1',
          `gs_json_port = ${String(tls.port)}`,
          '',
          '[OAuth2]',
          `provider_token_uri = ${t.url}/token`,
          '',
          '[Boto]',
          'https_validate_certificates = False',
          'num_retries = 0',
          'max_retry_delay = 1',
          '',
          '[GSUtil]',
          'prefer_api = json',
          `default_project_id = ${PROJECT}`,
          `state_dir = ${join(work, 'state')}`,
          'software_update_check_period = 0',
          '',
        ].join('\n'),
      );
      env = { ...(await gcloudEnv(t.url, t.port, t.ownerToken, join(work, 'config'))), BOTO_CONFIG: boto };
    });

    after(async () => {
      await tls.close();
      await t.dispose();
      rmSync(work, { recursive: true, force: true });
    });

    it('makes a bucket and lists it', async () => {
      await gsutil('mb', '-l', 'us-east1', `gs://${BUCKET}`);
      const listed = (await gsutil('ls')).stdout.split('\n');
      assert.ok(listed.includes(`gs://${BUCKET}/`), listed.join('\n'));
      assert.ok(seen.some((s) => s.line.startsWith('POST /storage/v1/b?')));
      assert.ok(seen.length > 0 && seen.every((s) => s.authorized), 'gsutil sent a request without a bearer');
    });

    it('copies files up and down byte for byte (simple and resumable), ls -l and cat', async () => {
      const small = join(work, 'small.bin');
      const smallData = randomBytes(300_000);
      writeFileSync(small, smallData);
      await gsutil('cp', small, `gs://${BUCKET}/data/small.bin`);
      const big = join(work, 'big.bin');
      const bigData = randomBytes(10 * 1024 * 1024);
      writeFileSync(big, bigData);
      await gsutil('cp', big, `gs://${BUCKET}/data/big.bin`);
      assert.ok(
        seen.some((s) => s.line.includes('uploadType=resumable')),
        'big file did not use resumable',
      );

      await gsutil('cp', `gs://${BUCKET}/data/small.bin`, join(work, 'small.back'));
      assert.ok(readFileSync(join(work, 'small.back')).equals(smallData));
      await gsutil('cp', `gs://${BUCKET}/data/big.bin`, join(work, 'big.back'));
      assert.ok(readFileSync(join(work, 'big.back')).equals(bigData));

      const long = (await gsutil('ls', '-l', `gs://${BUCKET}/data/`)).stdout;
      assert.match(long, new RegExp(`^\\s*300000\\s+\\S+Z\\s+gs://${BUCKET}/data/small\\.bin$`, 'm'));
      assert.match(
        long,
        new RegExp(`^\\s*${String(bigData.length)}\\s+\\S+Z\\s+gs://${BUCKET}/data/big\\.bin$`, 'm'),
      );
      assert.match(long, new RegExp(`TOTAL: 2 objects, ${String(smallData.length + bigData.length)} bytes`));

      writeFileSync(join(work, 'hello.txt'), 'hello from gsutil\n');
      await gsutil('cp', join(work, 'hello.txt'), `gs://${BUCKET}/hello.txt`);
      assert.equal((await gsutil('cat', `gs://${BUCKET}/hello.txt`)).stdout, 'hello from gsutil\n');
    });

    it('copies a folder recursively and lists it', async () => {
      const tree = join(work, 'tree');
      mkdirSync(join(tree, 'a', 'b'), { recursive: true });
      const files = ['a/1.txt', 'a/b/2.txt', 'top.txt'];
      for (const file of files) {
        writeFileSync(join(tree, file), `content of ${file}\n`);
      }
      await gsutil('cp', '-r', tree, `gs://${BUCKET}/`);
      const listed = (await gsutil('ls', '-r', `gs://${BUCKET}/tree/**`)).stdout
        .split('\n')
        .filter((l) => l.startsWith('gs://'));
      assert.deepEqual(listed.sort(), files.map((f) => `gs://${BUCKET}/tree/${f}`).sort());
      assert.equal((await gsutil('cat', `gs://${BUCKET}/tree/a/b/2.txt`)).stdout, 'content of a/b/2.txt\n');
      const top = (await gsutil('ls', `gs://${BUCKET}`)).stdout.split('\n');
      assert.ok(top.includes(`gs://${BUCKET}/tree/`) && top.includes(`gs://${BUCKET}/data/`), top.join('\n'));
    });

    it('removes objects', async () => {
      await gsutil('rm', `gs://${BUCKET}/hello.txt`, `gs://${BUCKET}/data/small.bin`);
      const left = (await gsutil('ls', '-r', `gs://${BUCKET}/**`)).stdout;
      assert.ok(!left.includes('hello.txt') && !left.includes('small.bin'), left);
      assert.ok(left.includes(`gs://${BUCKET}/data/big.bin`), left);
      const missing = await runGcloud(GSUTIL ?? 'gsutil', ['cat', `gs://${BUCKET}/hello.txt`], env, 120_000);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /No URLs matched/);
    });
  },
);
