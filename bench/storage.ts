/**
 * Storage benchmark: object PUT/GET through Nimbus's JSON API against a bare node:http server doing
 * the same durable work (stream to a temp file, fsync, rename; read the file back), both measured in
 * this run over loopback:
 *   - one large object (BENCH_BIG_MB, default 1024 MiB) PUT and GET, and Nimbus's RSS growth meanwhile;
 *   - 4 KiB objects PUT and GET at 16 connections (the baseline creates one fsync'd file per object),
 *     also against s3rver (npm devDependency, a child process on a loopback port with a temp
 *     directory; anonymous path-style PUT/GET of /bench-bucket/KEY; it does not fsync).
 *
 *   node --import tsx bench/storage.ts
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { buildBundle, spawnNimbus } from '../test/nimbus-process.ts';
import { startS3rver } from './s3rver.ts';

const BIG_MB = Number(process.env.BENCH_BIG_MB ?? '1024');
const SMALL_COUNT = Number(process.env.BENCH_SMALL_COUNT ?? '2000');
const CONCURRENCY = 16;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? '3');

interface BigResult {
  put: number;
  get: number;
  rssGrowthMiB: number;
}

interface SmallResult {
  put: number;
  get: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
const CHUNK = randomBytes(1024 * 1024);

interface Endpoint {
  port: number;
  put(name: string): string;
  get(name: string): string;
}

function rssKiB(pid: number | undefined): number {
  if (pid === undefined) {
    return 0;
  }
  try {
    const match = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
    return Number(match?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** A bare node:http object server doing durable file-per-object writes. */
async function startBaseline(dir: string): Promise<{ server: Server; endpoint: Endpoint }> {
  let counter = 0;
  const server = createServer((req, res) => {
    const name = encodeURIComponent(new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? '');
    const path = join(dir, name);
    if (req.method !== 'GET') {
      counter += 1;
      const temp = join(dir, `.tmp-${String(counter)}`);
      void (async () => {
        await pipeline(req, createWriteStream(temp));
        const handle = await open(temp, 'r+');
        await handle.sync();
        await handle.close();
        await rename(temp, path);
        res.end('{}');
      })();
      return;
    }
    const stream = createReadStream(path);
    stream.on('error', () => {
      res.statusCode = 404;
      res.end();
    });
    stream.pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    server,
    endpoint: {
      port,
      put: (name) => `/o?name=${encodeURIComponent(name)}`,
      get: (name) => `/o?name=${encodeURIComponent(name)}`,
    },
  };
}

function send(
  agent: Agent,
  port: number,
  method: string,
  path: string,
  body: Buffer | (() => AsyncIterable<Buffer>) | undefined,
  length?: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (length !== undefined) {
      headers['content-length'] = String(length);
    }
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers }, (res: IncomingMessage) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 300) {
          reject(new Error(`${method} ${path}: ${String(res.statusCode)}`));
        } else {
          resolve(bytes);
        }
      });
    });
    req.on('error', reject);
    if (body === undefined) {
      req.end();
    } else if (Buffer.isBuffer(body)) {
      req.end(body);
    } else {
      void pipeline(body(), req).catch(reject);
    }
  });
}

async function* bigBody(): AsyncIterable<Buffer> {
  for (let i = 0; i < BIG_MB; i++) {
    yield CHUNK;
  }
}

async function big(endpoint: Endpoint, pid: number | undefined, prefix: string): Promise<BigResult> {
  const agent = new Agent({ keepAlive: true });
  const before = rssKiB(pid);
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssKiB(pid));
  }, 50);
  let t0 = performance.now();
  await send(agent, endpoint.port, 'POST', endpoint.put(`${prefix}-big.bin`), bigBody, BIG_MB * CHUNK.length);
  const put = BIG_MB / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  const bytes = await send(agent, endpoint.port, 'GET', endpoint.get(`${prefix}-big.bin`), undefined);
  const get = bytes / 1024 / 1024 / ((performance.now() - t0) / 1000);
  clearInterval(sampler);
  agent.destroy();
  return { put, get, rssGrowthMiB: (peak - before) / 1024 };
}

async function small(endpoint: Endpoint, method: 'POST' | 'PUT', prefix: string): Promise<SmallResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const body = randomBytes(4096);
  const run = async (op: (i: number) => Promise<unknown>): Promise<number> => {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < SMALL_COUNT) {
          const i = next;
          next += 1;
          await op(i);
        }
      }),
    );
    return SMALL_COUNT / ((performance.now() - t0) / 1000);
  };
  const put = await run((i) =>
    send(agent, endpoint.port, method, endpoint.put(`${prefix}/small/${String(i)}`), body, body.length),
  );
  const get = await run((i) =>
    send(agent, endpoint.port, 'GET', endpoint.get(`${prefix}/small/${String(i)}`), undefined),
  );
  agent.destroy();
  return { put, get };
}

interface Peer {
  endpoint: Endpoint;
  version: string;
  stop(): Promise<void>;
}

/** s3rver (bench/s3rver.ts) with the bucket the small-object runs use. */
async function startS3rverPeer(dir: string): Promise<Peer> {
  const { port, version, stop } = await startS3rver(dir);
  try {
    const created = await fetch(`http://127.0.0.1:${String(port)}/bench-bucket`, { method: 'PUT' });
    if (!created.ok) {
      throw new Error(`s3rver bucket create failed: ${String(created.status)} ${await created.text()}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const path = (name: string): string => `/bench-bucket/${name.split('/').map(encodeURIComponent).join('/')}`;
  return { endpoint: { port, put: path, get: path }, version, stop };
}

async function main(): Promise<void> {
  buildBundle();
  const baseDir = mkdtempSync(join(tmpdir(), 'nimbus-bench-raw-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-bench-storage-'));
  const s3Dir = mkdtempSync(join(tmpdir(), 'nimbus-bench-s3rver-'));
  const baseline = await startBaseline(baseDir);
  const nimbus = await spawnNimbus(dataDir);
  let s3rver: Peer | undefined;
  let s3rverError = '';
  try {
    s3rver = await startS3rverPeer(s3Dir);
  } catch (error) {
    s3rverError = error instanceof Error ? error.message : String(error);
  }
  try {
    const created = await fetch(`${nimbus.url}/storage/v1/b?project=nimbus-local`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bench-bucket' }),
    });
    if (!created.ok) {
      throw new Error(`bucket create failed: ${String(created.status)}`);
    }
    const nimbusEndpoint: Endpoint = {
      port: nimbus.port,
      put: (name) => `/upload/storage/v1/b/bench-bucket/o?uploadType=media&name=${encodeURIComponent(name)}`,
      get: (name) => `/download/storage/v1/b/bench-bucket/o/${encodeURIComponent(name)}?alt=media`,
    };
    // Rounds interleave the servers, and each figure is the median over rounds: on a shared 2-core
    // machine one disturbed run otherwise decides a ratio.
    const rounds: {
      rawBig: BigResult;
      nimBig: BigResult;
      rawSmall: SmallResult;
      nimSmall: SmallResult;
      s3Small: SmallResult | undefined;
    }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const prefix = `r${String(round)}`;
      rounds.push({
        rawBig: await big(baseline.endpoint, process.pid, prefix),
        nimBig: await big(nimbusEndpoint, nimbus.child.pid, prefix),
        rawSmall: await small(baseline.endpoint, 'PUT', prefix),
        nimSmall: await small(nimbusEndpoint, 'POST', prefix),
        s3Small: s3rver === undefined ? undefined : await small(s3rver.endpoint, 'PUT', prefix),
      });
    }
    const rawBig = {
      put: median(rounds.map((r) => r.rawBig.put)),
      get: median(rounds.map((r) => r.rawBig.get)),
    };
    const nimBig = {
      put: median(rounds.map((r) => r.nimBig.put)),
      get: median(rounds.map((r) => r.nimBig.get)),
      rssGrowthMiB: Math.max(...rounds.map((r) => r.nimBig.rssGrowthMiB)),
    };
    const rawSmall = {
      put: median(rounds.map((r) => r.rawSmall.put)),
      get: median(rounds.map((r) => r.rawSmall.get)),
    };
    const nimSmall = {
      put: median(rounds.map((r) => r.nimSmall.put)),
      get: median(rounds.map((r) => r.nimSmall.get)),
    };
    const s3Rounds = rounds.flatMap((r) => (r.s3Small === undefined ? [] : [r.s3Small]));
    const s3Small =
      s3Rounds.length === 0
        ? undefined
        : { put: median(s3Rounds.map((r) => r.put)), get: median(s3Rounds.map((r) => r.get)) };
    const ratio = (a: number, b: number): string => (a / b).toFixed(2);
    console.log(
      `storage bench: ${String(BIG_MB)} MiB object; ${String(SMALL_COUNT)} x 4 KiB objects at ${String(CONCURRENCY)} connections; median of ${String(ROUNDS)} interleaved rounds`,
    );
    console.log(
      `big PUT: ${nimBig.put.toFixed(0)} MiB/s (${ratio(nimBig.put, rawBig.put)} x raw node:http fsync'd file at ${rawBig.put.toFixed(0)} MiB/s)`,
    );
    console.log(
      `big GET: ${nimBig.get.toFixed(0)} MiB/s (${ratio(nimBig.get, rawBig.get)} x raw at ${rawBig.get.toFixed(0)} MiB/s)`,
    );
    console.log(`nimbus RSS growth during big PUT+GET: ${nimBig.rssGrowthMiB.toFixed(1)} MiB`);
    const peer = (ours: number, theirs: number | undefined): string =>
      theirs === undefined ? '' : `, ${ratio(ours, theirs)} x s3rver at ${theirs.toFixed(0)} obj/s`;
    console.log(
      `4 KiB durable PUT: ${nimSmall.put.toFixed(0)} obj/s (${ratio(nimSmall.put, rawSmall.put)} x raw fsync'd file-per-object at ${rawSmall.put.toFixed(0)} obj/s${peer(nimSmall.put, s3Small?.put)})`,
    );
    console.log(
      `4 KiB GET: ${nimSmall.get.toFixed(0)} obj/s (${ratio(nimSmall.get, rawSmall.get)} x raw at ${rawSmall.get.toFixed(0)} obj/s${peer(nimSmall.get, s3Small?.get)})`,
    );
    console.log(
      s3rver === undefined
        ? `s3rver peer: not measured: ${s3rverError}`
        : `s3rver peer: s3rver ${s3rver.version} as a child process, anonymous path-style PUT/GET; its store writes files without fsync, so its PUTs are not durable`,
    );
  } finally {
    await s3rver?.stop();
    await nimbus.stop();
    baseline.server.close();
    rmSync(baseDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(s3Dir, { recursive: true, force: true });
  }
}

await main();
