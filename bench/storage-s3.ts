/**
 * S3 benchmark of Nimbus's Cloud Storage XML face (a `nimbus start` process, `--s3-port`,
 * `--anonymous none`, an HMAC key of a storage-admin service account) against s3rver (npm
 * devDependency, a child process on a loopback port, credentials S3RVER/S3RVER) as the peer and a
 * raw `node:http` baseline, all measured in this run over loopback:
 *   - the aws cli (Debian `awscli`) copying one BENCH_S3_MB (default 1024) MiB file up (multipart,
 *     8 MiB parts) and down; the baseline streams the same bytes with one node:http PUT (to a file,
 *     fsync'd) and GET, the ceiling a single-stream client could reach;
 *   - 4 KiB PUT and GET ops/s at 16 keep-alive connections (BENCH_S3_COUNT objects, default 2000),
 *     each request SigV4-signed (payload sha256) by a small signer in this file; the baseline does
 *     durable file-per-object writes, unsigned.
 *
 *   BENCH_S3_MB=256 node --import tsx bench/storage-s3.ts
 */
import { execFile } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { awsEnv, findTool, startS3Nimbus } from '../test/conformance/s3-clients.ts';
import { startS3rver } from './s3rver.ts';

const run = promisify(execFile);
const BIG_MB = Number(process.env.BENCH_S3_MB ?? '1024');
const SMALL_COUNT = Number(process.env.BENCH_S3_COUNT ?? '2000');
const CONCURRENCY = 16;
const REGION = 'us-east-1';

interface Target {
  name: string;
  port: number;
  bucket: string;
  credentials?: { id: string; secret: string };
}

/** AWS SigV4 header signing (service s3, payload sha256), enough for path-style PUT/GET. */
function sigv4Headers(target: Target, method: string, path: string, body: Buffer): Record<string, string> {
  const headers: Record<string, string> = { 'content-length': String(body.length) };
  if (target.credentials === undefined) {
    return headers;
  }
  const now = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = now.slice(0, 8);
  const payloadHash = createHash('sha256').update(body).digest('hex');
  headers.host = `127.0.0.1:${String(target.port)}`;
  headers['x-amz-date'] = now;
  headers['x-amz-content-sha256'] = payloadHash;
  const names = Object.keys(headers).sort();
  const canonical = [
    method,
    path,
    '',
    ...names.map((name) => `${name}:${headers[name] ?? ''}`),
    '',
    names.join(';'),
    payloadHash,
  ].join('\n');
  const scope = `${day}/${REGION}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', now, scope, createHash('sha256').update(canonical).digest('hex')].join(
    '\n',
  );
  let key: Buffer = createHmac('sha256', `AWS4${target.credentials.secret}`).update(day).digest();
  for (const part of [REGION, 's3', 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${target.credentials.id}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

function send(
  agent: Agent,
  target: Target,
  method: 'PUT' | 'GET',
  name: string,
  body: Buffer,
): Promise<number> {
  const path =
    target.name === 'baseline' ? `/o?name=${encodeURIComponent(name)}` : `/${target.bucket}/${name}`;
  const payload = method === 'PUT' ? body : Buffer.alloc(0);
  const headers = sigv4Headers(target, method, path, payload);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: target.port, method, path, agent, headers },
      (res: IncomingMessage) => {
        let bytes = 0;
        let text = '';
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (text.length < 500) {
            text += chunk.toString('utf8');
          }
        });
        res.on('end', () => {
          if ((res.statusCode ?? 500) >= 300) {
            reject(new Error(`${target.name} ${method} ${path}: ${String(res.statusCode)} ${text}`));
          } else {
            resolve(bytes);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(method === 'PUT' ? payload : undefined);
  });
}

/** 4 KiB PUTs then GETs of SMALL_COUNT objects at CONCURRENCY connections: ops/s each. */
async function smallOps(target: Target): Promise<{ put: number; get: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const body = randomBytes(4096);
  const phase = async (method: 'PUT' | 'GET'): Promise<number> => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < SMALL_COUNT) {
          const i = next;
          next += 1;
          const got = await send(agent, target, method, `small/${String(i)}`, body);
          if (method === 'GET' && got !== body.length) {
            throw new Error(`${target.name}: GET small/${String(i)} returned ${String(got)} bytes`);
          }
        }
      }),
    );
    return SMALL_COUNT / ((performance.now() - started) / 1000);
  };
  const put = await phase('PUT');
  const get = await phase('GET');
  agent.destroy();
  return { put, get };
}

/** The raw node:http baseline: durable file-per-object PUT (stream, fsync, rename) and GET. */
async function startBaseline(dir: string): Promise<{ server: Server; port: number }> {
  let counter = 0;
  const server = createServer((req, res) => {
    const name = encodeURIComponent(new URL(req.url ?? '/', 'http://x').searchParams.get('name') ?? '');
    const path = join(dir, name);
    if (req.method === 'PUT') {
      counter += 1;
      const temp = join(dir, `.tmp-${String(counter)}`);
      void (async () => {
        await pipeline(req, createWriteStream(temp));
        const handle = await open(temp, 'r+');
        await handle.sync();
        await handle.close();
        await rename(temp, path);
        res.end();
      })().catch(() => {
        res.statusCode = 500;
        res.end();
      });
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
  return { server, port: typeof address === 'object' && address !== null ? address.port : 0 };
}

/** The baseline's big transfer: one streamed PUT of the file, then one GET: seconds each. */
async function baselineBig(port: number, file: string): Promise<{ up: number; down: number }> {
  const agent = new Agent({ keepAlive: true });
  const size = statSync(file).size;
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: '/o?name=big',
        agent,
        headers: { 'content-length': String(size) },
      },
      (res) => {
        res.resume();
        res.on('end', resolve);
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
  const up = (performance.now() - started) / 1000;
  const downStarted = performance.now();
  const out = `${file}.baseline-down`;
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path: '/o?name=big', agent }, (res) => {
      pipeline(res, createWriteStream(out)).then(resolve, reject);
    });
    req.on('error', reject);
    req.end();
  });
  const down = (performance.now() - downStarted) / 1000;
  rmSync(out, { force: true });
  agent.destroy();
  return { up, down };
}

async function writeBigFile(path: string): Promise<void> {
  const out = createWriteStream(path);
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < BIG_MB; i += 1) {
    chunk.writeUInt32BE(i, 0);
    if (!out.write(chunk)) {
      await new Promise<void>((resolve) =>
        out.once('drain', () => {
          resolve();
        }),
      );
    }
  }
  await new Promise<void>((resolve, reject) => {
    out.end(resolve);
    out.once('error', reject);
  });
}

function fmt(value: number, unit: string, baseline: number, higherIsBetter: boolean): string {
  const ratio = higherIsBetter ? value / baseline : baseline / value;
  return `${value.toFixed(unit === 'MiB/s' ? 1 : 0)} ${unit} (${ratio.toFixed(2)} x baseline)`;
}

async function main(): Promise<void> {
  const aws = findTool('aws', ['/usr/bin/aws']);
  if (aws === undefined) {
    throw new Error('the aws cli is missing: apt-get install awscli (scripts/debian-packages.txt)');
  }
  const work = mkdtempSync(join(tmpdir(), 'nimbus-bench-s3-'));
  const nimbus = await startS3Nimbus('bench-s3');
  const s3rver = await startS3rver(join(work, 's3rver'));
  const baseline = await startBaseline(mkdtempSync(join(work, 'baseline-')));
  try {
    const nimbusTarget: Target = {
      name: 'nimbus',
      port: Number(new URL(nimbus.s3Url).port),
      bucket: 'bench-s3',
      credentials: { id: nimbus.accessId, secret: nimbus.secret },
    };
    const s3rverTarget: Target = {
      name: 's3rver',
      port: s3rver.port,
      bucket: 'bench-s3',
      credentials: { id: 'S3RVER', secret: 'S3RVER' },
    };
    const baselineTarget: Target = { name: 'baseline', port: baseline.port, bucket: '' };
    const bigFile = join(work, 'big.bin');
    await writeBigFile(bigFile);

    const cli = async (target: Target, ...args: string[]): Promise<number> => {
      const env = awsEnv(nimbus, {
        AWS_ENDPOINT_URL_S3: `http://127.0.0.1:${String(target.port)}`,
        AWS_ACCESS_KEY_ID: target.credentials?.id ?? '',
        AWS_SECRET_ACCESS_KEY: target.credentials?.secret ?? '',
      });
      const started = performance.now();
      await run(aws, ['--endpoint-url', `http://127.0.0.1:${String(target.port)}`, ...args], {
        env,
        maxBuffer: 16 * 1024 * 1024,
      });
      return (performance.now() - started) / 1000;
    };
    const transfers = async (target: Target): Promise<{ up: number; down: number }> => {
      await cli(target, 's3', 'mb', `s3://${target.bucket}`);
      const up = await cli(
        target,
        's3',
        'cp',
        bigFile,
        `s3://${target.bucket}/big.bin`,
        '--only-show-errors',
      );
      const down = await cli(
        target,
        's3',
        'cp',
        `s3://${target.bucket}/big.bin`,
        `${bigFile}.${target.name}-down`,
        '--only-show-errors',
      );
      if (statSync(`${bigFile}.${target.name}-down`).size !== BIG_MB * 1024 * 1024) {
        throw new Error(`${target.name}: the download has the wrong size`);
      }
      rmSync(`${bigFile}.${target.name}-down`, { force: true });
      return { up, down };
    };

    const baseBig = await baselineBig(baseline.port, bigFile);
    const nimbusBig = await transfers(nimbusTarget);
    const s3rverBig = await transfers(s3rverTarget);
    const baseSmall = await smallOps(baselineTarget);
    const nimbusSmall = await smallOps(nimbusTarget);
    const s3rverSmall = await smallOps(s3rverTarget);

    const mbps = (seconds: number): number => BIG_MB / seconds;
    console.log(
      `S3 bench: ${String(BIG_MB)} MiB file, ${String(SMALL_COUNT)} x 4 KiB objects at ${String(CONCURRENCY)} connections`,
    );
    console.log(
      `baseline node:http single-stream PUT: ${mbps(baseBig.up).toFixed(1)} MiB/s, GET: ${mbps(baseBig.down).toFixed(1)} MiB/s`,
    );
    console.log(
      `baseline node:http 4 KiB PUT: ${baseSmall.put.toFixed(0)} ops/s, GET: ${baseSmall.get.toFixed(0)} ops/s`,
    );
    for (const [name, bigResult, smallResult] of [
      ['nimbus', nimbusBig, nimbusSmall],
      [`s3rver ${s3rver.version}`, s3rverBig, s3rverSmall],
    ] as const) {
      console.log(
        `${name} aws cli multipart upload: ${fmt(mbps(bigResult.up), 'MiB/s', mbps(baseBig.up), true)}`,
      );
      console.log(
        `${name} aws cli download: ${fmt(mbps(bigResult.down), 'MiB/s', mbps(baseBig.down), true)}`,
      );
      console.log(`${name} 4 KiB PUT (SigV4): ${fmt(smallResult.put, 'ops/s', baseSmall.put, true)}`);
      console.log(`${name} 4 KiB GET (SigV4): ${fmt(smallResult.get, 'ops/s', baseSmall.get, true)}`);
    }
    console.log(
      `nimbus vs s3rver: upload ${(s3rverBig.up / nimbusBig.up).toFixed(2)} x, download ${(s3rverBig.down / nimbusBig.down).toFixed(2)} x, ` +
        `4 KiB PUT ${(nimbusSmall.put / s3rverSmall.put).toFixed(2)} x, GET ${(nimbusSmall.get / s3rverSmall.get).toFixed(2)} x`,
    );
    console.log(
      'notes: Nimbus fsyncs every object and part; s3rver does not fsync; the baseline fsyncs each PUT.',
    );
  } finally {
    baseline.server.close();
    await s3rver.stop();
    await nimbus.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
