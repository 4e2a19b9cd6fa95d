/**
 * The real `nimbus` CLI (the built bundle, bin/nimbus.js) as a child process: start, status, env,
 * reset, gcloud, signals and the one-line errors. Every server listens on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  buildBundle,
  freePort,
  httpRequest,
  runCli,
  spawnNimbus,
  type CliResult,
  type NimbusProcess,
} from '../nimbus-process.ts';

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-cli-'));
  dirs.push(dir);
  return dir;
}

/** Non-empty stderr lines. */
function stderrLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.trim() !== '');
}

function assertOneErrorLine(result: CliResult, code: string): void {
  assert.notEqual(result.code, 0, `exit code should not be 0 (stderr: ${result.stderr})`);
  assert.equal(result.signal, null);
  const lines = stderrLines(result);
  assert.equal(lines.length, 1, `exactly one stderr line, got: ${JSON.stringify(lines)}`);
  assert.match(lines[0] ?? '', new RegExp(`^nimbus: ${code}: `));
}

async function listenOn(port: number, host: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return server;
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
}

before(() => {
  buildBundle();
});

after(() => {
  for (const dir of dirs) {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('nimbus start, status, env, reset', () => {
  let nimbus: NimbusProcess;
  let dir: string;

  before(async () => {
    dir = dataDir();
    // --port 0: Nimbus picks the port and says which on its ready line.
    nimbus = await spawnNimbus(dir, { port: 0 });
    console.log(
      `nimbus start-to-ready (spawn until /_nimbus/health answers): ${nimbus.readyMs.toFixed(0)} ms`,
    );
  });

  after(async () => {
    await nimbus.stop('SIGTERM');
  });

  it('prints a ready line and the console URL, and reports start-to-ready', async () => {
    const ready = await nimbus.waitForOutput(/^Nimbus http:\/\/127\.0\.0\.1:\d+ ready in \d+ ms .*$/m);
    assert.match(
      ready,
      new RegExp(`^Nimbus ${nimbus.url} ready in \\d+ ms \\(data: ${dir}, anonymous: owner\\)$`),
    );
    await nimbus.waitForOutput(/^Console: {2}http:\/\/127\.0\.0\.1:\d+\/$/m);
    assert.match(nimbus.stdout(), new RegExp(`^Console: {2}${nimbus.url}/$`, 'm'));
    assert.ok(Number.isFinite(nimbus.readyMs) && nimbus.readyMs > 0);
    assert.equal(nimbus.stderr(), '');
    const health = await httpRequest(nimbus.port, 'GET', '/_nimbus/health');
    assert.deepEqual([health.status, JSON.parse(health.body)], [200, { status: 'ok' }]);
    // server.json tells the other commands where the server is.
    assert.ok(existsSync(join(dir, 'server.json')));
  });

  it('status: running, and each service ready', async () => {
    const result = await runCli(['status', '--data-dir', dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Nimbus is running at ${nimbus.url}$`, 'm'));
    for (const service of ['iam', 'cloudresourcemanager', 'metadata']) {
      assert.match(result.stdout, new RegExp(`^ {2}${service} +ready$`, 'm'));
    }
  });

  it('env: gcloud overrides and an owner token that works', async () => {
    const result = await runCli(['env', '--data-dir', dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM=/m);
    assert.match(
      result.stdout,
      new RegExp(`^export CLOUDSDK_API_ENDPOINT_OVERRIDES_IAM='${nimbus.url}/'$`, 'm'),
    );
    assert.match(result.stdout, /^export CLOUDSDK_CORE_PROJECT='nimbus-local'$/m);
    const token = /^export CLOUDSDK_AUTH_ACCESS_TOKEN='([^']+)'$/m.exec(result.stdout)?.[1];
    assert.ok(token !== undefined && token.split('.').length === 3, 'CLOUDSDK_AUTH_ACCESS_TOKEN is a JWT');
    const res = await fetch(`${nimbus.url}/v1/projects/nimbus-local`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
  });

  it('reset: a created service account is gone, the default project is back', async () => {
    const sa = '/v1/projects/nimbus-local/serviceAccounts/reset-me@nimbus-local.iam.gserviceaccount.com';
    const created = await httpRequest(nimbus.port, 'POST', '/v1/projects/nimbus-local/serviceAccounts', {
      accountId: 'reset-me',
    });
    assert.equal(created.status, 200, created.body);
    const project = await httpRequest(nimbus.port, 'POST', '/v1/projects', { projectId: 'reset-project' });
    assert.equal(project.status, 200, project.body);
    assert.equal((await httpRequest(nimbus.port, 'GET', sa)).status, 200);

    const result = await runCli(['reset', '--data-dir', dir]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /reset/);

    assert.equal((await httpRequest(nimbus.port, 'GET', sa)).status, 404);
    const gone = await httpRequest(nimbus.port, 'GET', '/v1/projects/reset-project');
    assert.ok(gone.status === 403 || gone.status === 404, `reset-project: ${gone.status}`);
    const back = await httpRequest(nimbus.port, 'GET', '/v1/projects/nimbus-local');
    assert.equal(back.status, 200);
    assert.equal((JSON.parse(back.body) as { projectId: string }).projectId, 'nimbus-local');
    // The server still runs after a reset.
    assert.equal(nimbus.child.exitCode, null);
  });

  it('refuses a second server on the same data dir', async () => {
    const result = await runCli(['start', '--port', '0', '--data-dir', dir]);
    assertOneErrorLine(result, 'NIMBUS_ERR_DATA_DIR');
    assert.match(result.stderr, /in use by the Nimbus server/);
  });

  it('gcloud --version runs the Google Cloud CLI with the environment', async (t) => {
    const which = spawnSync('sh', ['-c', 'command -v gcloud'], { encoding: 'utf8' });
    if (which.status !== 0) {
      console.log('skipped: gcloud is not installed (package google-cloud-cli)');
      t.skip('gcloud is not installed');
      return;
    }
    const version = await runCli(['gcloud', '--data-dir', dir, '--version'], { timeoutMs: 45_000 });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /Google Cloud SDK \d+/);
    // The environment reaches gcloud: its project is Nimbus's, its config dir is in the data dir.
    const project = await runCli(['gcloud', '--data-dir', dir, 'config', 'get-value', 'core/project'], {
      timeoutMs: 45_000,
    });
    assert.equal(project.code, 0, project.stderr);
    assert.equal(project.stdout.trim(), 'nimbus-local');
    assert.ok(existsSync(join(dir, 'gcloud')));
  });
});

describe('nimbus start errors: one stderr line, non-zero exit', () => {
  it('port in use by another listener', async () => {
    const port = await freePort();
    const holder = await listenOn(port, '127.0.0.1');
    try {
      const result = await runCli(['start', '--port', String(port), '--data-dir', dataDir()]);
      assertOneErrorLine(result, 'NIMBUS_ERR_PORT_IN_USE');
      assert.match(result.stderr, new RegExp(`port ${port}`));
      assert.equal(result.stdout, '');
    } finally {
      await closeServer(holder);
    }
  });

  it('port in use by a listener on all addresses', async () => {
    const port = await freePort();
    const holder = await listenOn(port, '0.0.0.0');
    try {
      const result = await runCli(['start', '--port', String(port), '--data-dir', dataDir()]);
      assertOneErrorLine(result, 'NIMBUS_ERR_PORT_IN_USE');
    } finally {
      await closeServer(holder);
    }
  });

  it('port in use by another Nimbus', async () => {
    const first = await spawnNimbus(dataDir());
    try {
      const result = await runCli(['start', '--port', String(first.port), '--data-dir', dataDir()]);
      assertOneErrorLine(result, 'NIMBUS_ERR_PORT_IN_USE');
      // The first server is unharmed.
      assert.equal((await httpRequest(first.port, 'GET', '/_nimbus/health')).status, 200);
    } finally {
      await first.stop('SIGTERM');
    }
  });

  for (const args of [['--bogus'], ['--port', 'abc'], ['--anonymous', 'maybe'], ['--port']]) {
    it(`bad flag: ${args.join(' ')}`, async () => {
      const result = await runCli(['start', ...args, '--data-dir', dataDir()]);
      assertOneErrorLine(result, 'NIMBUS_ERR_BAD_FLAG');
      assert.equal(result.stdout, '');
    });
  }

  it('bad flag on other commands too', async () => {
    for (const command of ['status', 'env', 'reset']) {
      assertOneErrorLine(await runCli([command, '--bogus']), 'NIMBUS_ERR_BAD_FLAG');
    }
  });

  it('unknown command', async () => {
    assertOneErrorLine(await runCli(['launch']), 'NIMBUS_ERR_BAD_COMMAND');
  });

  it('bad data dir: a path under a regular file', async () => {
    const file = join(dataDir(), 'a-file');
    writeFileSync(file, 'not a directory');
    const result = await runCli(['start', '--port', '0', '--data-dir', join(file, 'nimbus')]);
    assertOneErrorLine(result, 'NIMBUS_ERR_DATA_DIR');
    assert.equal(result.stdout, '');
  });

  it('status without a server: NIMBUS_ERR_NOT_RUNNING', async () => {
    const port = await freePort();
    const result = await runCli(['status', '--port', String(port), '--data-dir', dataDir()]);
    assertOneErrorLine(result, 'NIMBUS_ERR_NOT_RUNNING');
  });
});

describe('nimbus start shuts down cleanly on signals', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(signal, async () => {
      const dir = dataDir();
      const nimbus = await spawnNimbus(dir);
      await nimbus.waitForOutput(/^Point clients at Nimbus/m);
      assert.ok(existsSync(join(dir, 'server.json')));
      // An open keep-alive connection must not hold the shutdown up.
      assert.equal((await fetch(`${nimbus.url}/v1/projects/nimbus-local`)).status, 200);
      const status = await nimbus.stop(signal);
      assert.deepEqual(status, { code: 0, signal: null }, nimbus.stderr());
      assert.match(nimbus.stdout(), new RegExp(`^Nimbus stopping \\(${signal}\\)$`, 'm'));
      assert.equal(existsSync(join(dir, 'server.json')), false, 'server.json is removed');
      assert.equal(nimbus.stderr(), '');
      // The data dir is reusable at once.
      const again = await spawnNimbus(dir);
      assert.deepEqual(await again.stop('SIGTERM'), { code: 0, signal: null });
    });
  }
});
