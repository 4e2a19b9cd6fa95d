/**
 * Compute Engine engine benchmark (root; runc): the RuncRuntime that boots instances, against a bare
 * `runc run` of `true` (no overlay, no console, no init) measured in this run:
 *   - start -> running latency: busybox, and debian-12 (runc reports running; then systemd answers
 *     `systemctl is-system-running` with running/degraded);
 *   - exec round trip (`runc exec ID true` through RuncRuntime.exec);
 *   - memory of an idle instance (its cgroup's usage plus the private memory of its host-side console
 *     shim, measured beside a second instance so shared libpython pages count once) and the
 *     instances per GB of RAM that implies.
 *
 *   npm run bench:compute          (BENCH_RUNS=N, default 7)
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerSpec, ImageName } from '../src/services/compute/contracts.ts';
import { imageRootfs, runCommand } from '../src/platform/containers/images.ts';
import { RuncRuntime } from '../src/platform/containers/runtime.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? '7');
const work = mkdtempSync(join(tmpdir(), 'nimbus-bench-compute-'));
const runtime = new RuncRuntime({ stateDir: join(work, 'runc'), cgroupParent: 'nimbus-bench' });

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

let counter = 0;
function specFor(image: ImageName): ContainerSpec {
  counter += 1;
  const id = `bench-${process.pid}-${counter}`;
  return {
    id,
    hostname: `bench-${counter}`,
    image,
    diskDir: join(work, id, 'disk'),
    cpus: 2,
    memoryMb: 1024,
    pids: 4096,
    serialLogPath: join(work, id, 'serial.log'),
  };
}

async function execOut(id: string, argv: string[]): Promise<{ code: number; out: string }> {
  const session = await runtime.exec(id, argv, { tty: false });
  let out = '';
  session.onData((d) => {
    out += d.toString();
  });
  return { code: await session.exited, out };
}

/** A bare `runc run` of `true` in the busybox rootfs: read-only root, no overlay, no console. */
async function bareRuncRun(): Promise<number> {
  const bundle = join(work, 'bare');
  mkdirSync(bundle, { recursive: true });
  const config = {
    ociVersion: '1.0.2-dev',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/true'], env: ['PATH=/bin'], cwd: '/' },
    root: { path: imageRootfs('busybox', runtime.imageCacheDir), readonly: true },
    hostname: 'bare',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
    },
  };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
  const root = join(work, 'bare-state');
  counter += 1;
  return timed(() => runCommand('runc', ['--root', root, 'run', '--bundle', bundle, `bare-${counter}`]));
}

/** The console shim's memory: private (what one more instance adds) and RSS (incl. shared libpython). */
function shimMemory(initPid: number): { privateBytes: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${initPid}/stat`, 'utf8');
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const rollup = readFileSync(`/proc/${ppid}/smaps_rollup`, 'utf8');
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
  return { privateBytes: kib('Private_Clean') + kib('Private_Dirty'), rssBytes: kib('Rss') };
}

async function idleMemory(
  image: ImageName,
  settleMs: number,
): Promise<{ cgroup: number; shimPrivate: number; shimRss: number }> {
  // A companion instance first, so libpython's pages are shared as they are with many instances:
  // the measured instance's shim private memory is then what one more instance costs.
  const companion = specFor('busybox');
  await runtime.start(companion);
  const spec = specFor(image);
  await runtime.start(spec);
  try {
    if (image === 'debian-12') {
      await waitForSystemd(spec.id);
    }
    await sleep(settleMs);
    const pid = await runtime.initPid(spec.id);
    const shim = pid === undefined ? { privateBytes: 0, rssBytes: 0 } : shimMemory(pid);
    return {
      cgroup: await runtime.memoryUsageBytes(spec.id),
      shimPrivate: shim.privateBytes,
      shimRss: shim.rssBytes,
    };
  } finally {
    await runtime.stop(spec.id, 10_000);
    await runtime.stop(companion.id, 10_000);
  }
}

async function waitForSystemd(id: string): Promise<void> {
  for (;;) {
    const { out } = await execOut(id, ['systemctl', 'is-system-running']);
    if (['running', 'degraded'].includes(out.trim())) {
      return;
    }
    await sleep(20);
  }
}

function line(figure: string, value: string, ratio?: number): void {
  console.log(`${figure}: ${value}${ratio === undefined ? '' : ` (${ratio.toFixed(2)} x baseline)`}`);
}

async function main(): Promise<void> {
  const availability = await runtime.available();
  if (!availability.ok) {
    console.log(`compute bench skipped: ${availability.reason ?? '?'} (${availability.fix ?? ''})`);
    return;
  }
  for (const image of ['busybox', 'debian-12'] as const) {
    await runtime.ensureImage(image, (l) => {
      console.log(`# ${l}`);
    });
  }

  // Baseline: bare runc run true.
  await bareRuncRun();
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    bare.push(await bareRuncRun());
  }
  const baseline = median(bare);
  line('baseline runc run true', `${baseline.toFixed(1)} ms`);

  // busybox start -> running, and stop.
  const busyStart: number[] = [];
  const busyStop: number[] = [];
  for (let i = 0; i < RUNS; i += 1) {
    const spec = specFor('busybox');
    busyStart.push(await timed(() => runtime.start(spec)));
    busyStop.push(await timed(() => runtime.stop(spec.id, 5000)));
  }
  line('busybox start -> running', `${median(busyStart).toFixed(1)} ms`, median(busyStart) / baseline);
  line('busybox stop (SIGTERM, clean)', `${median(busyStop).toFixed(1)} ms`, median(busyStop) / baseline);

  // exec round trip in a running busybox.
  const spec = specFor('busybox');
  await runtime.start(spec);
  const execs: number[] = [];
  await execOut(spec.id, ['true']);
  for (let i = 0; i < RUNS * 3; i += 1) {
    execs.push(await timed(() => execOut(spec.id, ['true'])));
  }
  await runtime.stop(spec.id, 5000);
  line('exec round trip (runc exec true)', `${median(execs).toFixed(1)} ms`, median(execs) / baseline);

  // debian-12: runc running, then systemd up.
  const debRunning: number[] = [];
  const debBooted: number[] = [];
  const debStop: number[] = [];
  for (let i = 0; i < Math.min(RUNS, 3); i += 1) {
    const deb = specFor('debian-12');
    const started = performance.now();
    await runtime.start(deb);
    debRunning.push(performance.now() - started);
    await waitForSystemd(deb.id);
    debBooted.push(performance.now() - started);
    debStop.push(await timed(() => runtime.stop(deb.id, 10_000)));
  }
  line('debian-12 start -> running', `${median(debRunning).toFixed(1)} ms`, median(debRunning) / baseline);
  line('debian-12 start -> systemd up', `${median(debBooted).toFixed(1)} ms`, median(debBooted) / baseline);
  line('debian-12 stop (SIGRTMIN+3, clean)', `${median(debStop).toFixed(1)} ms`, median(debStop) / baseline);

  // Memory of idle instances.
  for (const image of ['busybox', 'debian-12'] as const) {
    const mem = await idleMemory(image, 1000);
    const perInstance = mem.cgroup + mem.shimPrivate;
    const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
    line(
      `${image} idle memory`,
      `${mib(perInstance)} MiB (cgroup ${mib(mem.cgroup)} + console shim private ${mib(mem.shimPrivate)}; shim RSS ${mib(mem.shimRss)} incl. shared libpython)`,
    );
    line(`${image} instances per GB of RAM`, `${Math.floor(1073741824 / perInstance)}`);
  }
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
