/**
 * Helpers for driving the real `nimbus` CLI as a child process (CLI tests, durability tests and
 * benchmarks). Everything talks to 127.0.0.1 only.
 */
import Database from 'better-sqlite3';
import { execFileSync, spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { existsSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = join(REPO_ROOT, 'bin', 'nimbus.js');
const BUNDLE = join(REPO_ROOT, 'dist', 'nimbus.js');

/** Builds dist/nimbus.js (what bin/nimbus.js runs). */
export function buildBundle(): void {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (!existsSync(BUNDLE) || statSync(BUNDLE).size === 0) {
    throw new Error('scripts/build.mjs did not produce dist/nimbus.js');
  }
}

/** The environment for children: no NIMBUS_* leaking in from the caller, no metadata probing. */
export function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('NIMBUS_') && !key.startsWith('CLOUDSDK_')) {
      env[key] = value;
    }
  }
  return { ...env, METADATA_SERVER_DETECTION: 'none', ...extra };
}

/** A port that was free a moment ago (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolvePort(port);
      });
    });
  });
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/** Runs `nimbus ARGS...` to completion (killed after `timeoutMs`). */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: options.env ?? childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = collectOutput(child);
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 20_000);
  const status = await exited(child);
  clearTimeout(timer);
  return { ...status, stdout: output.stdout, stderr: output.stderr };
}

/** Resolves when the child has exited (immediately when it already has). */
export async function exited(child: ChildProcess): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode };
  }
  return await new Promise<ExitStatus>((resolveExit) => {
    child.once('exit', (code, signal) => {
      resolveExit({ code, signal });
    });
  });
}

export interface HttpResult {
  status: number;
  body: string;
}

/** One HTTP request to 127.0.0.1 without keep-alive. */
export async function httpRequest(
  port: number,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 5000,
): Promise<HttpResult> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return await new Promise<HttpResult>((resolveResult, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        timeout: timeoutMs,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => {
          resolveResult({ status: res.statusCode ?? 0, body: text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => {
      req.destroy(new Error(`${method} ${path} timed out`));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

export interface NimbusProcess {
  child: ChildProcess;
  port: number;
  url: string;
  dataDir: string;
  /** Milliseconds from spawn until /_nimbus/health answered 200. */
  readyMs: number;
  stdout(): string;
  stderr(): string;
  /** Resolves once stdout matches `pattern` (rejects after `timeoutMs` or when the child exits). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and waits for the exit (SIGKILL after `timeoutMs`). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitStatus>;
}

/**
 * Spawns `nimbus start` on 127.0.0.1 and resolves once /_nimbus/health answers (polling every
 * few milliseconds, bounded by `timeoutMs`). Without `port` a free port is picked first; with
 * `port: 0` Nimbus picks one and the port is read from its ready line.
 */
export async function spawnNimbus(
  dataDir: string,
  options: { port?: number; args?: string[]; timeoutMs?: number } = {},
): Promise<NimbusProcess> {
  const requested = options.port ?? (await freePort());
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      CLI,
      'start',
      '--host',
      '127.0.0.1',
      '--port',
      String(requested),
      '--data-dir',
      dataDir,
      ...(options.args ?? []),
    ],
    { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = collectOutput(child);
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const proc: NimbusProcess = {
    child,
    port: requested,
    url: `http://127.0.0.1:${requested}`,
    dataDir,
    readyMs: 0,
    stdout: () => output.stdout,
    stderr: () => output.stderr,
    waitForOutput: async (pattern, timeoutMs = 10_000) => {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(output.stdout);
        if (match !== null) {
          return match[0];
        }
        if (gone() || performance.now() > deadline) {
          throw new Error(
            `nimbus output never matched ${String(pattern)}; stdout: ${output.stdout} stderr: ${output.stderr}`,
          );
        }
        await sleep(5);
      }
    },
    stop: async (signal = 'SIGTERM', timeoutMs = 10_000) => {
      if (!gone()) {
        child.kill(signal);
      }
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
      }, timeoutMs);
      const status = await exited(child);
      clearTimeout(timer);
      return status;
    },
  };
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = started + timeoutMs;
  try {
    if (requested === 0) {
      const line = await proc.waitForOutput(/Nimbus http:\/\/127\.0\.0\.1:(\d+) ready/, timeoutMs);
      proc.port = Number(/:(\d+) ready/.exec(line)?.[1]);
      proc.url = `http://127.0.0.1:${proc.port}`;
    }
    for (;;) {
      if (gone()) {
        throw new Error(
          `nimbus start exited (${String(child.exitCode ?? child.signalCode)}) before it was ready: ${output.stderr}`,
        );
      }
      try {
        const health = await httpRequest(proc.port, 'GET', '/_nimbus/health', undefined, 1000);
        if (health.status === 200) {
          break;
        }
      } catch {
        // Not listening yet.
      }
      if (performance.now() > deadline) {
        throw new Error(`nimbus was not ready within ${timeoutMs} ms: ${output.stderr}`);
      }
      await sleep(3);
    }
  } catch (error) {
    await proc.stop('SIGKILL');
    throw error;
  }
  proc.readyMs = performance.now() - started;
  return proc;
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** Accumulates a child's stdout and stderr as text (read the fields at any time). */
function collectOutput(child: ChildProcessByStdio<null, Readable, Readable>): {
  stdout: string;
  stderr: string;
} {
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
  });
  return output;
}

/** How a kill -9 run went. */
export interface KillRun {
  issued: number;
  acknowledged: number;
  /** Writes still in flight when the server was killed. */
  inFlightAtKill: number;
  killed: boolean;
  signal: NodeJS.Signals | null;
  refused: string[];
}

/**
 * Fires `write(i)` from `concurrency` workers (at most `max` writes, a bounded loop) and kill -9s the
 * server once `killAfterAcks` writes were acknowledged, while others are in flight. `write` answers
 * 'ack' (acknowledged; record it before returning), 'lost' (the connection died) or a refusal text.
 */
export async function killDuringWrites(
  server: NimbusProcess,
  options: { concurrency: number; max: number; killAfterAcks: number },
  write: (i: number) => Promise<'ack' | 'lost' | { refused: string }>,
): Promise<KillRun> {
  const run: KillRun = {
    issued: 0,
    acknowledged: 0,
    inFlightAtKill: -1,
    killed: false,
    signal: null,
    refused: [],
  };
  let inFlight = 0;
  const one = async (i: number): Promise<void> => {
    inFlight += 1;
    let outcome: Awaited<ReturnType<typeof write>>;
    try {
      outcome = await write(i);
    } finally {
      inFlight -= 1;
    }
    if (outcome === 'lost') {
      return;
    }
    if (outcome !== 'ack') {
      run.refused.push(outcome.refused);
      return;
    }
    run.acknowledged += 1;
    if (!run.killed && run.acknowledged >= options.killAfterAcks) {
      run.killed = true;
      run.inFlightAtKill = inFlight;
      server.child.kill('SIGKILL');
    }
  };
  const worker = async (): Promise<void> => {
    while (!run.killed && run.issued < options.max) {
      run.issued += 1;
      await one(run.issued);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  if (!run.killed) {
    server.child.kill('SIGKILL');
  }
  run.signal = (await exited(server.child)).signal;
  return run;
}

/** SQLite's integrity check of a data dir's metadata store ('ok' when intact). */
export function databaseIntegrity(dataDir: string): string {
  const db = new Database(join(dataDir, 'nimbus.db'));
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}
