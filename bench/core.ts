/**
 * Core benchmark: JSON metadata throughput and latency of `GET /v1/projects/nimbus-local` on a
 * started Nimbus against a bare node:http server answering the same bytes, both measured in this
 * run over loopback with keep-alive; plus `nimbus start` start-to-ready against a bare node:http
 * process's spawn-to-answer.
 *
 *   node --import tsx bench/core.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildBundle,
  childEnv,
  exited,
  freePort,
  httpRequest,
  sleep,
  spawnNimbus,
} from '../test/nimbus-process.ts';

const REQUESTS = 20_000;
const WARMUP = 3_000;
const CONCURRENCY = 32;
/** Nimbus and the baseline take turns in this many slices, so a noisy neighbour hits both alike. */
const SLICES = 5;
const START_RUNS = 5;
const PATH = '/v1/projects/nimbus-local';

/** One server under load: keep-alive connections, and what was measured so far. */
class Target {
  readonly agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, maxFreeSockets: CONCURRENCY });
  readonly latencies: number[] = [];
  seconds = 0;
  errors = 0;
  cpuSeconds = 0;

  constructor(
    readonly port: number,
    readonly pid: number | undefined,
  ) {}

  /** Fires `total` GETs over CONCURRENCY connections; `record` false for warm-up. */
  async load(total: number, record = true): Promise<void> {
    let issued = 0;
    const one = async (): Promise<void> => {
      await new Promise<void>((resolveOne) => {
        const t0 = performance.now();
        const finish = (ok: boolean): void => {
          if (record) {
            this.latencies.push(performance.now() - t0);
            this.errors += ok ? 0 : 1;
          }
          resolveOne();
        };
        const req = request({ host: '127.0.0.1', port: this.port, path: PATH, agent: this.agent }, (res) => {
          res.resume();
          res.on('end', () => {
            finish(res.statusCode === 200);
          });
        });
        req.on('error', () => {
          finish(false);
        });
        req.end();
      });
    };
    const worker = async (): Promise<void> => {
      while (issued < total) {
        issued += 1;
        await one();
      }
    };
    const cpuBefore = cpuSecondsOf(this.pid);
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (record) {
      this.seconds += (performance.now() - started) / 1000;
      this.cpuSeconds += cpuSecondsOf(this.pid) - cpuBefore;
    }
  }

  reqPerSec(): number {
    return this.latencies.length / this.seconds;
  }

  percentile(q: number): number {
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  }

  /** Server CPU (user + system) per request in microseconds, where /proc tells it. */
  cpuMicros(): number | undefined {
    return this.pid === undefined || !existsSync(`/proc/${this.pid}/stat`)
      ? undefined
      : (this.cpuSeconds / this.latencies.length) * 1e6;
  }
}

/** utime + stime of a process from /proc (Linux); 0 elsewhere. */
function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) {
    return 0;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5), counted after the command name: clock ticks (USER_HZ = 100).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

const RAW_SERVER = `
const http = require('node:http');
const body = Buffer.from(process.env.RAW_BODY, 'base64');
const type = process.env.RAW_TYPE;
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': type, 'content-length': body.length });
  res.end(body);
});
server.listen(Number(process.env.RAW_PORT || 0), '127.0.0.1', () => {
  process.stdout.write(String(server.address().port) + '\\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

async function startRaw(body: Buffer, type: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', RAW_SERVER], {
    env: childEnv({ RAW_BODY: body.toString('base64'), RAW_TYPE: type }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    let text = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (text.includes('\n')) {
        resolvePort(Number(text.trim()));
      }
    });
    child.once('exit', () => {
      reject(new Error('raw node:http server exited'));
    });
  });
  return { child, port };
}

async function fetchBytes(port: number): Promise<{ body: Buffer; type: string }> {
  return await new Promise((resolveFetch, reject) => {
    const req = request({ host: '127.0.0.1', port, path: PATH, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${PATH} answered ${res.statusCode ?? 0}`));
          return;
        }
        resolveFetch({ body: Buffer.concat(chunks), type: String(res.headers['content-type']) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Spawn of a bare node:http process until it answers (the floor for any Node server). */
async function rawStartToReady(): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', RAW_SERVER], {
    env: childEnv({ RAW_BODY: '', RAW_TYPE: 'application/json', RAW_PORT: String(port) }),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 5000; i++) {
    try {
      await httpRequest(port, 'GET', '/', undefined, 1000);
      break;
    } catch {
      await sleep(3);
    }
  }
  const ms = performance.now() - started;
  child.kill('SIGTERM');
  await exited(child);
  return ms;
}

function fmt(ms: number): string {
  return ms.toFixed(2);
}

async function main(): Promise<void> {
  buildBundle();
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-bench-'));
  const nimbus = await spawnNimbus(dataDir);
  let raw: { child: ChildProcess; port: number } | undefined;
  try {
    const { body, type } = await fetchBytes(nimbus.port);
    raw = await startRaw(body, type);
    const baseline = new Target(raw.port, raw.child.pid);
    const target = new Target(nimbus.port, nimbus.child.pid);

    await baseline.load(WARMUP, false);
    await target.load(WARMUP, false);
    for (let slice = 0; slice < SLICES; slice++) {
      await baseline.load(REQUESTS / SLICES);
      await target.load(REQUESTS / SLICES);
    }
    baseline.agent.destroy();
    target.agent.destroy();
    if (baseline.errors > 0 || target.errors > 0) {
      throw new Error(`errors during the run: nimbus ${target.errors}, raw ${baseline.errors}`);
    }
    const ratio = target.reqPerSec() / baseline.reqPerSec();
    console.log(
      `projects.get: ${REQUESTS} requests each, concurrency ${CONCURRENCY}, ${body.length}-byte body, keep-alive, ${SLICES} alternating slices`,
    );
    console.log(
      `projects.get throughput: ${Math.round(target.reqPerSec())} req/s (${ratio.toFixed(2)} x raw node:http at ${Math.round(baseline.reqPerSec())} req/s)`,
    );
    console.log(
      `projects.get p50/p99 latency: ${fmt(target.percentile(0.5))} ms / ${fmt(target.percentile(0.99))} ms (raw: ${fmt(baseline.percentile(0.5))} / ${fmt(baseline.percentile(0.99))})`,
    );
    const nimbusCpu = target.cpuMicros();
    const rawCpu = baseline.cpuMicros();
    if (nimbusCpu !== undefined && rawCpu !== undefined) {
      console.log(
        `projects.get server CPU per request: ${Math.round(nimbusCpu)} us (${(rawCpu / nimbusCpu).toFixed(2)} x raw node:http's efficiency at ${Math.round(rawCpu)} us)`,
      );
    }
  } finally {
    raw?.child.kill('SIGTERM');
    if (raw !== undefined) {
      await exited(raw.child);
    }
    await nimbus.stop('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }

  const fresh: number[] = [];
  const existing: number[] = [];
  const bare: number[] = [];
  const reused = mkdtempSync(join(tmpdir(), 'nimbus-bench-'));
  try {
    for (let i = 0; i < START_RUNS; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'nimbus-bench-'));
      const first = await spawnNimbus(dir);
      fresh.push(first.readyMs);
      await first.stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });

      const again = await spawnNimbus(reused);
      existing.push(again.readyMs);
      await again.stop('SIGTERM');

      bare.push(await rawStartToReady());
    }
  } finally {
    rmSync(reused, { recursive: true, force: true });
  }
  const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const base = avg(bare);
  console.log(
    `nimbus start to ready (new data dir): ${Math.round(avg(fresh))} ms avg of ${START_RUNS} (${(avg(fresh) / base).toFixed(2)} x bare node:http spawn-to-answer at ${Math.round(base)} ms)`,
  );
  console.log(
    `nimbus start to ready (existing data dir): ${Math.round(avg(existing))} ms avg of ${START_RUNS} (${(avg(existing) / base).toFixed(2)} x bare node:http)`,
  );
}

await main();
