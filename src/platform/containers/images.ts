/**
 * Root filesystem images for Compute Engine instances, built once and cached in a directory shared
 * by every data dir and test run (`NIMBUS_IMAGE_CACHE`, default `~/.cache/nimbus/images`):
 *
 * - `busybox`: Debian's static busybox, its applet symlinks, /etc basics and an init script
 *   (built in well under a second);
 * - `debian-12`: `mmdebstrap --variant=minbase bookworm` plus systemd-sysv, openssh-server,
 *   iproute2, curl, python3 and ca-certificates (~25-40 s, once).
 *
 * Both carry the Nimbus guest agent (startup-script runner). A build goes to a temp dir that is
 * renamed into place, so a cached image is always complete; a lock file keeps concurrent processes
 * (parallel test files) from building the same image twice.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ImageName } from '../../services/compute/contracts.ts';
import { findCommand, type HostRequirement } from '../host-packages.ts';
import { BUSYBOX_INIT_SCRIPT, DEBIAN_UNITS, GUEST_AGENT_PATH, GUEST_AGENT_SCRIPT } from './guest-agent.ts';

/** Bump an image's version when its recipe changes: a new version is built beside the old one. */
const IMAGE_VERSIONS: Record<ImageName, number> = { busybox: 7, 'debian-12': 5 };

export const IMAGE_NAMES: readonly ImageName[] = ['busybox', 'debian-12'];

/** Packages added to Debian's minbase for the debian-12 image. */
export const DEBIAN_PACKAGES = [
  'systemd-sysv',
  'openssh-server',
  'iproute2',
  'curl',
  'python3',
  'ca-certificates',
  'procps',
  'iputils-ping',
];

/** Host commands each image build needs. */
export const IMAGE_REQUIREMENTS: Record<ImageName, HostRequirement[]> = {
  busybox: [{ command: 'busybox', debianPackage: 'busybox-static' }],
  'debian-12': [{ command: 'mmdebstrap', debianPackage: 'mmdebstrap' }],
};

/** The shared image cache directory. */
export function imageCacheDir(): string {
  const fromEnv = process.env.NIMBUS_IMAGE_CACHE;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'nimbus', 'images');
}

/** Directory of one built image (its `rootfs/` is the overlay's lower layer). */
export function imageDir(image: ImageName, cacheDir = imageCacheDir()): string {
  return join(cacheDir, `${image}-v${IMAGE_VERSIONS[image]}`);
}

export function imageRootfs(image: ImageName, cacheDir = imageCacheDir()): string {
  return join(imageDir(image, cacheDir), 'rootfs');
}

/** Init program of an image and the signal that shuts it down cleanly. */
export function imageInit(image: ImageName): { argv: string[]; stopSignal: string } {
  return image === 'debian-12'
    ? { argv: ['/sbin/init'], stopSignal: 'SIGRTMIN+3' }
    : { argv: ['/sbin/init'], stopSignal: 'SIGTERM' };
}

export function isImageBuilt(image: ImageName, cacheDir = imageCacheDir()): boolean {
  return existsSync(join(imageDir(image, cacheDir), 'image.json'));
}

/** Size in bytes recorded when the image was built (0 if unknown). */
export async function imageSizeBytes(image: ImageName, cacheDir = imageCacheDir()): Promise<number> {
  try {
    const info = JSON.parse(await readFile(join(imageDir(image, cacheDir), 'image.json'), 'utf8')) as {
      sizeBytes?: number;
    };
    return info.sizeBytes ?? 0;
  } catch {
    return 0;
  }
}

const inProcessBuilds = new Map<string, Promise<void>>();

/** Builds `image` into the cache unless it is there; concurrent callers share one build. */
export function ensureImage(
  image: ImageName,
  onProgress: (line: string) => void = () => undefined,
  cacheDir = imageCacheDir(),
): Promise<void> {
  if (isImageBuilt(image, cacheDir)) {
    return Promise.resolve();
  }
  const key = imageDir(image, cacheDir);
  let build = inProcessBuilds.get(key);
  if (build === undefined) {
    build = buildWithLock(image, onProgress, cacheDir).finally(() => {
      inProcessBuilds.delete(key);
    });
    inProcessBuilds.set(key, build);
  }
  return build;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

async function buildWithLock(
  image: ImageName,
  onProgress: (line: string) => void,
  cacheDir: string,
): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const lockPath = `${imageDir(image, cacheDir)}.lock`;
  let announcedWait = false;
  for (;;) {
    if (isImageBuilt(image, cacheDir)) {
      return;
    }
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw err;
      }
    }
    const owner = Number.parseInt(await readFile(lockPath, 'utf8').catch(() => ''), 10);
    if (Number.isFinite(owner) && owner > 0 && !pidAlive(owner)) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (!announcedWait) {
      onProgress(`image ${image}: waiting for another process (pid ${owner}) building it`);
      announcedWait = true;
    }
    await sleep(250);
  }
  try {
    // We hold the lock: any temp dir of this image is left over from a build that died.
    for (const entry of await readdir(cacheDir)) {
      if (entry.startsWith(`.build-${image}-`)) {
        await rm(join(cacheDir, entry), { recursive: true, force: true });
      }
    }
    if (!isImageBuilt(image, cacheDir)) {
      await buildImage(image, onProgress, cacheDir);
    }
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

async function buildImage(
  image: ImageName,
  onProgress: (line: string) => void,
  cacheDir: string,
): Promise<void> {
  const missing = IMAGE_REQUIREMENTS[image].filter((r) => findCommand(r.command) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `cannot build image ${image}: missing ${missing.map((r) => r.command).join(', ')} ` +
        `(apt-get install ${missing.map((r) => r.debianPackage).join(' ')})`,
    );
  }
  const started = Date.now();
  const finalDir = imageDir(image, cacheDir);
  const tempDir = join(cacheDir, `.build-${image}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tempDir, { recursive: true });
  const rootfs = join(tempDir, 'rootfs');
  try {
    onProgress(`image ${image}: building in ${tempDir}`);
    if (image === 'busybox') {
      await buildBusybox(rootfs);
    } else {
      await buildDebian(rootfs, onProgress);
    }
    const sizeBytes = await duBytes(rootfs);
    await writeFile(
      join(tempDir, 'image.json'),
      JSON.stringify({ image, version: IMAGE_VERSIONS[image], builtAt: new Date().toISOString(), sizeBytes }),
    );
    await rm(finalDir, { recursive: true, force: true });
    await rename(tempDir, finalDir);
    onProgress(
      `image ${image}: ready in ${((Date.now() - started) / 1000).toFixed(1)} s ` +
        `(${(sizeBytes / 1e6).toFixed(1)} MB) at ${finalDir}`,
    );
  } catch (err) {
    await rm(tempDir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** Runs a command; resolves with its output, rejects with its stderr tail on failure. */
export function runCommand(
  command: string,
  args: string[],
  onLine?: (line: string) => void,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    if (onLine !== undefined) {
      createInterface({ input: child.stderr }).on('line', (line) => {
        stderr = (stderr + line + '\n').slice(-8000);
        onLine(line);
      });
    } else {
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-8000);
      });
    }
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) {
        resolve({ stdout, stderr });
      } else {
        const status = code === null ? `signal ${String(signal)}` : `exit ${code}`;
        reject(new Error(`${command} ${args.join(' ')}: ${status}: ${stderr.trim().slice(-2000)}`));
      }
    });
  });
}

async function duBytes(dir: string): Promise<number> {
  try {
    const { stdout } = await runCommand('du', ['-sb', dir]);
    return Number.parseInt(stdout.split('\t')[0] ?? '0', 10) || 0;
  } catch {
    return 0;
  }
}

const ETC_FILES: Record<string, string> = {
  'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  'etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  'etc/shadow': 'root:*:19000:0:99999:7:::\n',
  'etc/hosts': '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  'etc/hostname': 'localhost\n',
  'etc/nsswitch.conf': 'hosts: files dns\n',
  'etc/os-release':
    'NAME="Nimbus busybox"\nID=busybox\nPRETTY_NAME="Nimbus busybox (Debian busybox-static)"\n',
  'etc/profile': 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1="\\h:\\w# "\n',
};

async function buildBusybox(rootfs: string): Promise<void> {
  const busybox = findCommand('busybox');
  if (busybox === undefined) {
    throw new Error('busybox not found');
  }
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/sbin', 'etc', 'proc', 'sys', 'dev']) {
    await mkdir(join(rootfs, dir), { recursive: true });
  }
  for (const dir of ['tmp', 'run', 'root', 'var/log', 'var/tmp', 'home', 'mnt']) {
    await mkdir(join(rootfs, dir), { recursive: true });
    await chmod(join(rootfs, dir), dir.endsWith('tmp') ? 0o1777 : dir === 'root' ? 0o700 : 0o755);
  }
  await copyFile(busybox, join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  const { stdout } = await runCommand(busybox, ['--list-full']);
  for (const applet of stdout.split('\n')) {
    const path = applet.trim();
    if (path === '' || path === 'bin/busybox' || path === 'sbin/init' || path === 'linuxrc') {
      continue;
    }
    const target = join(rootfs, path);
    await mkdir(dirname(target), { recursive: true });
    if (!existsSync(target)) {
      await symlink('/bin/busybox', target);
    }
  }
  for (const [path, text] of Object.entries(ETC_FILES)) {
    await writeFile(join(rootfs, path), text, { mode: path === 'etc/shadow' ? 0o600 : 0o644 });
  }
  await writeFile(join(rootfs, 'sbin/init'), BUSYBOX_INIT_SCRIPT, { mode: 0o755 });
  await writeFile(join(rootfs, GUEST_AGENT_PATH.slice(1)), GUEST_AGENT_SCRIPT, { mode: 0o755 });
}

async function buildDebian(rootfs: string, onProgress: (line: string) => void): Promise<void> {
  const hooksDir = join(dirname(rootfs), 'files');
  await mkdir(join(hooksDir, 'units'), { recursive: true });
  await writeFile(join(hooksDir, 'nimbus-guest-agent'), GUEST_AGENT_SCRIPT, { mode: 0o755 });
  for (const [unit, text] of Object.entries(DEBIAN_UNITS)) {
    await writeFile(join(hooksDir, 'units', unit), text);
  }
  const units = Object.keys(DEBIAN_UNITS);
  const customize = [
    `install -m 0755 ${hooksDir}/nimbus-guest-agent "$1${GUEST_AGENT_PATH}"`,
    ...units.map(
      (u) =>
        `install -m 0644 ${hooksDir}/units/${u} "$1/etc/systemd/system/${u}" && ` +
        `ln -sf /etc/systemd/system/${u} "$1/etc/systemd/system/multi-user.target.wants/${u}"`,
    ),
    // Fresh host keys per instance (google-guest-agent.service generates them at boot).
    'rm -f "$1"/etc/ssh/ssh_host_*',
    // Units that cannot work in a container and only make boot "degraded".
    'for u in systemd-remount-fs.service getty@tty1.service console-getty.service ' +
      'systemd-firstboot.service; do ln -sf /dev/null "$1/etc/systemd/system/$u"; done',
    'echo "debian" > "$1/etc/hostname"',
    'rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*',
  ];
  const args = [
    '--variant=minbase',
    `--include=${DEBIAN_PACKAGES.join(',')}`,
    '--aptopt=Apt::Install-Recommends "false"',
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    ...customize.map((hook) => `--customize-hook=${hook}`),
    'bookworm',
    rootfs,
  ];
  onProgress(`image debian-12: mmdebstrap --variant=minbase bookworm (+ ${DEBIAN_PACKAGES.join(', ')})`);
  await runCommand('mmdebstrap', args, (line) => {
    if (line.trim() !== '') {
      onProgress(`image debian-12: ${line}`);
    }
  });
  await rm(hooksDir, { recursive: true, force: true });
}
