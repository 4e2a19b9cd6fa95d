/**
 * `RuncRuntime`: Compute Engine instances as system containers run by Debian's `runc`.
 *
 * Per container (id `ID`), under the runtime's state dir (default `/run/nimbus/runc`):
 * - `state/` is runc's `--root` (runc's own state; `list` reads it to reconcile after a restart);
 * - `bundles/ID/` holds `config.json`, `rootfs/` (an overlayfs mount: lower = the cached image,
 *   upper + work = `spec.diskDir`, the persistent boot disk), the guest's /etc/hosts and
 *   /etc/hostname, and `nimbus.json` (image, stop signal).
 *
 * `start` launches a small console shim (see console-shim.ts) in its own session: it runs
 * `runc run -d --console-socket`, copies the container's console (a pty: systemd logs only to a real
 * console) into `spec.serialLogPath`, and as a child subreaper reaps the container's init (PID 1 of
 * these machines does not reap orphans). `stop` signals init (SIGRTMIN+3 for systemd, SIGTERM for
 * the busybox init), waits, kills what is left, `runc delete`s, unmounts the overlay and removes the
 * bundle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type {
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  ExecSession,
  ImageName,
} from '../../services/compute/contracts.ts';
import { checkHost, ensureHost, findCommand, type HostRequirement } from '../host-packages.ts';
import { ensureImage, imageCacheDir, imageInit, imageRootfs, runCommand } from './images.ts';
import { buildOciConfig, cgroupHierarchies, hostsFileText } from './oci-spec.ts';
import { CONSOLE_SHIM_PY } from './console-shim.ts';
import { startExec } from './pty.ts';

export const RUNTIME_REQUIREMENTS: HostRequirement[] = [
  { command: 'runc', debianPackage: 'runc' },
  { command: 'busybox', debianPackage: 'busybox-static' },
  { command: 'mmdebstrap', debianPackage: 'mmdebstrap' },
  { command: 'python3', debianPackage: 'python3' },
];

/** Container ids runc accepts that are also safe as file and cgroup names. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

const SIGNAL_NUMBERS: Record<string, number> = { SIGTERM: 15, SIGKILL: 9, 'SIGRTMIN+3': 37 };

export interface RuncRuntimeOptions {
  /** runc state and bundles (default `/run/nimbus/runc`, or `NIMBUS_RUNC_DIR`). */
  stateDir?: string;
  /** Image cache (default: `NIMBUS_IMAGE_CACHE` or `~/.cache/nimbus/images`). */
  imageCacheDir?: string;
  /** Parent cgroup of every container (default `nimbus`): containers live at `/<parent>/<id>`. */
  cgroupParent?: string;
  /** Install missing Debian packages in `available()` when root with apt (default true). */
  installMissing?: boolean;
}

interface BundleMeta {
  id: string;
  image: ImageName;
  stopSignal: string;
  rootfs: string;
  diskDir: string;
  serialLogPath: string;
  startedAt: string;
}

interface RuncStateJson {
  id: string;
  pid: number;
  status: string;
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

/** True while `pid` exists and is not a zombie. */
function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) {
    return false;
  }
  const stat = readFileSyncSafe(`/proc/${pid}/stat`);
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return stat !== '' && state !== 'Z' && state !== 'X';
}

function readFileSyncSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Mount points (decoded) currently in this mount namespace. */
export async function mountPoints(): Promise<Set<string>> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points = new Set<string>();
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined) {
      points.add(
        field.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))),
      );
    }
  }
  return points;
}

export class RuncRuntime implements ContainerRuntime {
  readonly stateDir: string;
  readonly runcRoot: string;
  readonly bundlesDir: string;
  readonly imageCacheDir: string;
  readonly cgroupParent: string;
  private readonly installMissing: boolean;
  private readonly shims = new Map<string, ChildProcess>();
  private runcPath = 'runc';
  private pythonPath = 'python3';

  constructor(options: RuncRuntimeOptions = {}) {
    this.stateDir = options.stateDir ?? process.env.NIMBUS_RUNC_DIR ?? '/run/nimbus/runc';
    this.runcRoot = join(this.stateDir, 'state');
    this.bundlesDir = join(this.stateDir, 'bundles');
    this.imageCacheDir = options.imageCacheDir ?? imageCacheDir();
    this.cgroupParent = options.cgroupParent ?? 'nimbus';
    this.installMissing = options.installMissing ?? true;
    this.runcPath = findCommand('runc') ?? 'runc';
    this.pythonPath = findCommand('python3') ?? 'python3';
  }

  async available(): Promise<{ ok: boolean; reason?: string; fix?: string }> {
    if (process.platform !== 'linux') {
      return { ok: false, reason: 'Compute Engine needs Linux (namespaces, cgroups, overlayfs)' };
    }
    if (process.getuid?.() !== 0) {
      return {
        ok: false,
        reason: 'Compute Engine needs root (runc system containers, overlayfs mounts, cgroups)',
        fix: 'run Nimbus as root (sudo nimbus start)',
      };
    }
    const check = this.installMissing
      ? await ensureHost(RUNTIME_REQUIREMENTS)
      : checkHost(RUNTIME_REQUIREMENTS);
    if (!check.ok) {
      return {
        ok: false,
        ...(check.reason ? { reason: check.reason } : {}),
        ...(check.fix ? { fix: check.fix } : {}),
      };
    }
    this.runcPath = findCommand('runc') ?? 'runc';
    this.pythonPath = findCommand('python3') ?? 'python3';
    const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
    if (!filesystems.includes('overlay')) {
      return { ok: false, reason: 'the kernel has no overlayfs', fix: 'modprobe overlay (as root)' };
    }
    return { ok: true };
  }

  ensureImage(image: ImageName, onProgress?: (line: string) => void): Promise<void> {
    return ensureImage(image, onProgress, this.imageCacheDir);
  }

  private bundleDir(id: string): string {
    return join(this.bundlesDir, id);
  }

  private runc(args: string[]): Promise<{ stdout: string; stderr: string }> {
    return runCommand(this.runcPath, ['--root', this.runcRoot, ...args]);
  }

  private async runcState(id: string): Promise<RuncStateJson | undefined> {
    if (!existsSync(join(this.runcRoot, id))) {
      return undefined;
    }
    try {
      const { stdout } = await this.runc(['state', id]);
      return JSON.parse(stdout) as RuncStateJson;
    } catch {
      return undefined;
    }
  }

  private async readMeta(id: string): Promise<BundleMeta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.bundleDir(id), 'nimbus.json'), 'utf8')) as BundleMeta;
    } catch {
      return undefined;
    }
  }

  async start(spec: ContainerSpec): Promise<void> {
    if (!CONTAINER_ID.test(spec.id)) {
      throw new Error(`invalid container id ${JSON.stringify(spec.id)}`);
    }
    const current = await this.state(spec.id);
    if (current === 'running' || current === 'paused') {
      throw new Error(`container ${spec.id} is already ${current}`);
    }
    await this.ensureImage(spec.image);
    // Leftovers of an unclean end (Nimbus or the host died): remove them before booting again.
    await this.cleanup(spec.id);

    const bundle = this.bundleDir(spec.id);
    const rootfs = join(bundle, 'rootfs');
    const upper = join(spec.diskDir, 'upper');
    const work = join(spec.diskDir, 'work');
    await Promise.all([
      mkdir(rootfs, { recursive: true }),
      mkdir(upper, { recursive: true }),
      mkdir(work, { recursive: true }),
      mkdir(this.runcRoot, { recursive: true }),
      mkdir(dirname(spec.serialLogPath), { recursive: true }),
    ]);
    const lower = await this.pinnedLower(spec);
    await runCommand('mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
      rootfs,
    ]);
    try {
      const init = imageInit(spec.image);
      const hostsFile = join(bundle, 'hosts');
      const hostnameFile = join(bundle, 'hostname');
      const config = buildOciConfig({
        spec,
        rootfs,
        initArgv: init.argv,
        hostsFile,
        hostnameFile,
        cgroupsPath: `/${this.cgroupParent}/${spec.id}`,
        cgroups: cgroupHierarchies(await readFile('/proc/self/mountinfo', 'utf8')),
      });
      const meta: BundleMeta = {
        id: spec.id,
        image: spec.image,
        stopSignal: init.stopSignal,
        rootfs,
        diskDir: spec.diskDir,
        serialLogPath: spec.serialLogPath,
        startedAt: new Date().toISOString(),
      };
      await Promise.all([
        writeFile(hostsFile, hostsFileText(spec)),
        writeFile(hostnameFile, `${spec.hostname}\n`),
        writeFile(join(bundle, 'config.json'), JSON.stringify(config, null, 2)),
        writeFile(join(bundle, 'nimbus.json'), JSON.stringify(meta)),
      ]);
      await this.launch(spec, bundle);
    } catch (err) {
      await this.cleanup(spec.id);
      throw err;
    }
  }

  /**
   * The image root a disk was created from: recorded in the disk at first boot, so a disk keeps its
   * base layer when a newer image version is built later (as a Compute Engine disk keeps its image).
   */
  private async pinnedLower(spec: ContainerSpec): Promise<string> {
    const record = join(spec.diskDir, 'image-rootfs');
    const pinned = (await readFile(record, 'utf8').catch(() => '')).trim();
    if (pinned !== '' && existsSync(pinned)) {
      return pinned;
    }
    const lower = imageRootfs(spec.image, this.imageCacheDir);
    await writeFile(record, `${lower}\n`);
    return lower;
  }

  /** Writes the console shim script (once per runtime). */
  private async shimScript(): Promise<string> {
    const path = join(this.stateDir, 'console-shim.py');
    const current = await readFile(path, 'utf8').catch(() => '');
    if (current !== CONSOLE_SHIM_PY) {
      await mkdir(this.stateDir, { recursive: true });
      await writeFile(`${path}.tmp`, CONSOLE_SHIM_PY);
      await rename(`${path}.tmp`, path);
    }
    return path;
  }

  /** Starts the console shim (which runs `runc run -d`) and waits until init runs. */
  private async launch(spec: ContainerSpec, bundle: string): Promise<void> {
    const script = await this.shimScript();
    const logFd = openSync(spec.serialLogPath, 'a');
    const offset = statSync(spec.serialLogPath).size;
    let shim: ChildProcess;
    try {
      shim = spawn(
        this.pythonPath,
        ['-I', '-S', script, this.runcPath, this.runcRoot, bundle, spec.id, spec.serialLogPath],
        { detached: true, stdio: ['ignore', 'ignore', logFd] },
      );
    } finally {
      closeSync(logFd);
    }
    shim.unref();
    this.shims.set(spec.id, shim);
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let spawnError: Error | undefined;
    shim.once('error', (err) => {
      spawnError = err;
    });
    shim.once('exit', (code, signal) => {
      exited = { code, signal };
      if (this.shims.get(spec.id) === shim) {
        this.shims.delete(spec.id);
      }
    });
    // runc writes init.pid (atomically) once the container runs: cheaper to watch than `runc state`.
    const pidFile = join(bundle, 'init.pid');
    for (let wait = 1; ; wait = Math.min(wait * 2, 20)) {
      if (spawnError !== undefined) {
        throw spawnError;
      }
      const pid = Number.parseInt(readFileSyncSafe(pidFile), 10);
      if (processAlive(pid)) {
        return;
      }
      if (exited !== undefined) {
        const output = await readTail(spec.serialLogPath, offset);
        throw new Error(
          `container ${spec.id} did not start (exit ${exited.code ?? exited.signal ?? '?'}): ${output.trim()}`,
        );
      }
      await sleep(wait);
    }
  }

  async stop(id: string, timeoutMs: number): Promise<void> {
    const meta = await this.readMeta(id);
    let state = await this.runcState(id);
    if (state?.status === 'paused') {
      await this.runc(['resume', id]).catch(() => undefined);
      state = await this.runcState(id);
    }
    if (state !== undefined && state.status !== 'stopped' && processAlive(state.pid)) {
      const signal = SIGNAL_NUMBERS[meta?.stopSignal ?? 'SIGTERM'] ?? 15;
      await this.runc(['kill', id, String(signal)]).catch(() => undefined);
      const deadline = Date.now() + Math.max(0, timeoutMs);
      while (processAlive(state.pid) && Date.now() < deadline) {
        await sleep(20);
      }
      if (processAlive(state.pid)) {
        await this.runc(['kill', '--all', id, 'KILL']).catch(() => undefined);
        const killDeadline = Date.now() + 5000;
        while (processAlive(state.pid) && Date.now() < killDeadline) {
          await sleep(10);
        }
      }
    }
    await this.cleanup(id);
  }

  /**
   * Removes whatever is left of a container that no longer runs: waits briefly for the console
   * shim to drain the console and exit, then `runc delete --force`, unmounts the overlay, removes the
   * bundle. Safe to call for absent containers.
   */
  private async cleanup(id: string): Promise<void> {
    const shim = this.shims.get(id);
    if (shim !== undefined && shim.exitCode === null && shim.signalCode === null) {
      await Promise.race([new Promise((resolve) => shim.once('exit', resolve)), sleep(3000)]);
    }
    const state = await this.runcState(id);
    if (state !== undefined) {
      if (state.status === 'paused') {
        await this.runc(['resume', id]).catch(() => undefined);
      }
      await this.runc(['delete', '--force', id]).catch(() => undefined);
    }
    const bundle = this.bundleDir(id);
    const rootfs = join(bundle, 'rootfs');
    if ((await mountPoints()).has(rootfs)) {
      try {
        await runCommand('umount', [rootfs]);
      } catch {
        await runCommand('umount', ['-l', rootfs]);
      }
    }
    await rm(bundle, { recursive: true, force: true });
  }

  async pause(id: string): Promise<void> {
    await this.runc(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.runc(['resume', id]);
  }

  async state(id: string): Promise<ContainerState> {
    const state = await this.runcState(id);
    if (state !== undefined) {
      switch (state.status) {
        case 'running':
        case 'created':
          return processAlive(state.pid) ? 'running' : 'stopped';
        case 'paused':
          return 'paused';
        default:
          return 'stopped';
      }
    }
    return existsSync(this.bundleDir(id)) ? 'stopped' : 'absent';
  }

  async exec(
    id: string,
    argv: string[],
    options: { tty: boolean; cols?: number; rows?: number; env?: string[] },
  ): Promise<ExecSession> {
    if (argv.length === 0) {
      throw new Error('exec needs a command');
    }
    const state = await this.state(id);
    if (state !== 'running') {
      throw new Error(`container ${id} is ${state}, not running`);
    }
    const execDir = join(this.bundleDir(id), 'exec');
    await mkdir(execDir, { recursive: true });
    const pidFile = join(execDir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.pid`);
    const session = startExec({
      runc: this.runcPath,
      globalArgs: ['--root', this.runcRoot],
      id,
      argv,
      tty: options.tty,
      ...(options.cols !== undefined ? { cols: options.cols } : {}),
      ...(options.rows !== undefined ? { rows: options.rows } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      pidFile,
    });
    void session.exited.finally(() => rm(pidFile, { force: true }));
    return session;
  }

  async list(): Promise<{ id: string; state: ContainerState }[]> {
    const ids = new Set<string>();
    for (const dir of [this.runcRoot, this.bundlesDir]) {
      for (const entry of await readdir(dir).catch(() => [] as string[])) {
        if (CONTAINER_ID.test(entry)) {
          ids.add(entry);
        }
      }
    }
    const result: { id: string; state: ContainerState }[] = [];
    for (const id of [...ids].sort()) {
      result.push({ id, state: await this.state(id) });
    }
    return result;
  }

  /** Host pid of the container's init (undefined when not running). */
  async initPid(id: string): Promise<number | undefined> {
    const state = await this.runcState(id);
    return state !== undefined && processAlive(state.pid) ? state.pid : undefined;
  }

  /** The container's cgroup directory under a v1 controller (e.g. `memory`). */
  cgroupDir(id: string, controller: string): string {
    return join('/sys/fs/cgroup', controller, this.cgroupParent, id);
  }

  /** Memory charged to the container's cgroup (bytes; 0 when unknown). */
  async memoryUsageBytes(id: string): Promise<number> {
    const text = await readFile(join(this.cgroupDir(id, 'memory'), 'memory.usage_in_bytes'), 'utf8').catch(
      () => '0',
    );
    return Number.parseInt(text.trim(), 10) || 0;
  }
}

async function readTail(path: string, offset: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(offset, size - 4000);
    const buffer = Buffer.alloc(Math.max(0, size - start));
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}
