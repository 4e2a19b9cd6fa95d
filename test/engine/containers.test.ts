/**
 * The Compute Engine container engine (RuncRuntime) against the real kernel: runc system containers
 * from the cached busybox and debian-12 images. Needs root and runc (installed by bootstrap); skips
 * with a printed reason only where they are truly absent.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ContainerSpec, ExecSession } from '../../src/services/compute/contracts.ts';
import { runCommand } from '../../src/platform/containers/images.ts';
import { mountPoints, RuncRuntime } from '../../src/platform/containers/runtime.ts';
import { tempDir } from '../helpers.ts';

const runtime = new RuncRuntime({
  stateDir: tempDir('nimbus-runc-'),
  cgroupParent: 'nimbus-test',
});
const availability = await runtime.available();
const skip = availability.ok
  ? false
  : `container engine unavailable: ${availability.reason ?? '?'} (${availability.fix ?? ''})`;
if (skip !== false) {
  console.log(`# skipping container engine tests: ${skip}`);
}

const work = tempDir('nimbus-engine-');
let counter = 0;

function specFor(image: ContainerSpec['image'], overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  counter += 1;
  const id = `t${process.pid}-${counter}`;
  return {
    id,
    hostname: `vm-${counter}`,
    image,
    diskDir: join(work, id, 'disk'),
    cpus: 1,
    memoryMb: 128,
    pids: 256,
    serialLogPath: join(work, id, 'serial.log'),
    ...overrides,
  };
}

async function run(id: string, argv: string[], input?: string): Promise<{ code: number; out: string }> {
  const session = await runtime.exec(id, argv, { tty: false });
  let out = '';
  session.onData((d) => {
    out += d.toString();
  });
  if (input !== undefined) {
    session.write(input);
    session.write('');
  }
  return { code: await session.exited, out };
}

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(100);
  }
}

function serialLog(spec: ContainerSpec): string {
  return existsSync(spec.serialLogPath) ? readFileSync(spec.serialLogPath, 'utf8') : '';
}

async function waitForSerial(spec: ContainerSpec, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return waitFor(
    `${pattern.source} in ${spec.id}'s serial log:\n${serialLog(spec)}`,
    async () => (pattern.test(serialLog(spec)) ? serialLog(spec) : undefined),
    timeoutMs,
  );
}

/** Host pids whose cgroup (any v1 controller) is the container's. */
function processesInCgroup(id: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      if (readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(`/nimbus-test/${id}`)) {
        pids.push(Number(entry));
      }
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

async function assertNothingLeft(spec: ContainerSpec): Promise<void> {
  const points = [...(await mountPoints())].filter((p) => p.includes(spec.id));
  assert.deepEqual(points, [], 'no mounts left');
  for (const controller of ['memory', 'cpu', 'pids', 'freezer', 'devices']) {
    assert.equal(existsSync(runtime.cgroupDir(spec.id, controller)), false, `${controller} cgroup removed`);
  }
  assert.deepEqual(processesInCgroup(spec.id), [], 'no processes left');
  assert.equal(await runtime.state(spec.id), 'absent');
  assert.equal(
    (await runtime.list()).some((c) => c.id === spec.id),
    false,
  );
}

/**
 * A stand-in metadata server inside a network namespace created for the test (loopback only):
 * `python3 -m http.server` serving computeMetadata/v1/instance/attributes/startup-script.
 */
class TestMetadataNamespace {
  readonly name = `nimbus-test-md-${process.pid}-${(counter += 1)}`;
  readonly path = `/run/netns/${this.name}`;
  private server: ChildProcess | undefined;

  async start(attributes: Record<string, string>): Promise<void> {
    const root = join(work, `metadata-${this.name}`);
    const dir = join(root, 'computeMetadata/v1/instance/attributes');
    mkdirSync(dir, { recursive: true });
    for (const [key, value] of Object.entries(attributes)) {
      writeFileSync(join(dir, key), value);
    }
    await runCommand('ip', ['netns', 'add', this.name]);
    await runCommand('ip', ['netns', 'exec', this.name, 'ip', 'link', 'set', 'lo', 'up']);
    this.server = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.name,
        'python3',
        '-m',
        'http.server',
        '80',
        '--bind',
        '127.0.0.1',
        '--directory',
        root,
      ],
      { stdio: 'ignore' },
    );
    await waitFor('the test metadata server', async () => {
      try {
        await runCommand('ip', ['netns', 'exec', this.name, 'python3', '-c', CONNECT_CHECK]);
        return true;
      } catch {
        return undefined;
      }
    });
  }

  async stop(): Promise<void> {
    this.server?.kill('SIGKILL');
    await runCommand('ip', ['netns', 'del', this.name]).catch(() => undefined);
  }
}

const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForNimbusTestsOnly0000000000000000000';
const CONNECT_CHECK = "import socket; socket.create_connection(('127.0.0.1', 80), 1).close()";
const METADATA_HOSTS = ['127.0.0.1 metadata.google.internal metadata'];

after(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(runtime.stateDir, { recursive: true, force: true });
});

describe('busybox system containers', { skip }, () => {
  const metadata = new TestMetadataNamespace();
  const spec = specFor('busybox', { memoryMb: 64, hosts: METADATA_HOSTS, netnsPath: metadata.path });

  before(async () => {
    await metadata.start({ 'startup-script': '#!/bin/sh\necho "hello from $(hostname)"\nexit 3\n' });
    await runtime.ensureImage('busybox');
    await runtime.start(spec);
  });

  after(async () => {
    await runtime.stop(spec.id, 2000).catch(() => undefined);
    await metadata.stop();
  });

  it('boots with the instance hostname', async () => {
    assert.equal(await runtime.state(spec.id), 'running');
    assert.deepEqual(await run(spec.id, ['hostname']), { code: 0, out: `${spec.hostname}\n` });
    assert.match((await run(spec.id, ['cat', '/etc/hosts'])).out, /metadata\.google\.internal/);
  });

  it('runs the startup-script from the metadata server and logs it to the serial console', async () => {
    const log = await waitForSerial(spec, /startup-script exit status/);
    assert.match(log, /google_metadata_script_runner: Found startup-script in metadata\./);
    assert.match(
      log,
      new RegExp(`google_metadata_script_runner: startup-script: hello from ${spec.hostname}`),
    );
    assert.match(log, /startup-script exit status 3/);
  });

  it('shows only its own processes', async () => {
    const { code, out } = await run(spec.id, ['ps', '-o', 'pid,args']);
    assert.equal(code, 0);
    const rows = out.trim().split('\n').slice(1);
    assert.match(rows[0] ?? '', /^\s*1\s+.*\/sbin\/init/);
    assert.ok(rows.length < 10, out);
    assert.ok(!/node|runc|python/.test(out), out);
  });

  it('cannot see the host files', async () => {
    const marker = join(work, 'host-marker');
    writeFileSync(marker, 'secret');
    const { code } = await run(spec.id, ['cat', marker]);
    assert.notEqual(code, 0);
    assert.notEqual((await run(spec.id, ['test', '-e', '/work/main/package.json'])).code, 0);
    assert.equal((await run(spec.id, ['test', '-x', '/bin/busybox'])).code, 0);
  });

  it('round-trips stdin, stdout and exit codes through exec', async () => {
    assert.deepEqual(await run(spec.id, ['cat'], 'hello\nworld\n'), { code: 0, out: 'hello\nworld\n' });
    assert.equal((await run(spec.id, ['sh', '-c', 'exit 7'])).code, 7);
    assert.notEqual((await run(spec.id, ['no-such-command'])).code, 0);
  });

  it('kills an exec session inside the container', async () => {
    const session = await runtime.exec(spec.id, ['sleep', '1000'], { tty: false });
    const sleeping = async () =>
      (await run(spec.id, ['ps', '-o', 'args'])).out.split('\n').some((l) => l.trim() === 'sleep 1000');
    await waitFor('sleep 1000 to run', async () => ((await sleeping()) ? true : undefined));
    session.kill();
    assert.notEqual(await session.exited, 0);
    await waitFor('sleep 1000 to be gone', async () => ((await sleeping()) ? undefined : true));
  });

  it('runs interactive tty sessions that follow window resizes', async () => {
    const session: ExecSession = await runtime.exec(spec.id, ['/bin/sh'], { tty: true, cols: 80, rows: 24 });
    let out = '';
    session.onData((d) => {
      out += d.toString();
    });
    // An interactive shell flushes input that arrives before its prompt (TCSAFLUSH): wait for it.
    await waitFor(
      `a prompt in ${JSON.stringify(out)}`,
      async () => (out.includes('# ') ? true : undefined),
      10_000,
    );
    session.write('stty size; tty\n');
    await waitFor(
      `stty size 24 80 in ${JSON.stringify(out)}`,
      async () => (/24 80/.test(out) ? true : undefined),
      10_000,
    );
    assert.match(out, /\/dev\/pts\/\d+/);
    session.resize(132, 43);
    // The resize reaches the inner pty through runc's SIGWINCH handler: ask until it shows.
    await waitFor(
      `stty size 43 132 in ${JSON.stringify(out)}`,
      async () => {
        session.write('stty size\n');
        await sleep(200);
        return /43 132/.test(out) ? true : undefined;
      },
      10_000,
    );
    session.write('exit 5\n');
    assert.equal(await session.exited, 5);
  });

  it('pauses (freezer) and resumes', async () => {
    await runtime.pause(spec.id);
    assert.equal(await runtime.state(spec.id), 'paused');
    const freezer = readFileSync(join(runtime.cgroupDir(spec.id, 'freezer'), 'freezer.state'), 'utf8');
    assert.equal(freezer.trim(), 'FROZEN');
    await runtime.resume(spec.id);
    assert.equal(await runtime.state(spec.id), 'running');
    assert.equal((await run(spec.id, ['true'])).code, 0);
  });

  it('kills a memory hog inside at the memory limit and nothing else', async () => {
    // dd allocates a 256 MB buffer and fills it: far above the 64 MB limit.
    const hog = await run(spec.id, ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=256M', 'count=1']);
    assert.notEqual(hog.code, 0, hog.out);
    const oom = readFileSync(join(runtime.cgroupDir(spec.id, 'memory'), 'memory.oom_control'), 'utf8');
    assert.match(oom, /oom_kill [1-9]/);
    assert.equal(await runtime.state(spec.id), 'running');
    assert.deepEqual(await run(spec.id, ['echo', 'still here']), { code: 0, out: 'still here\n' });
    assert.equal(
      Number.parseInt(
        readFileSync(join(runtime.cgroupDir(spec.id, 'memory'), 'memory.limit_in_bytes'), 'utf8'),
        10,
      ),
      64 * 1024 * 1024,
    );
  });

  it('applies the cpu and pids limits to its cgroup', async () => {
    const read = (controller: string, file: string) =>
      readFileSync(join(runtime.cgroupDir(spec.id, controller), file), 'utf8').trim();
    assert.equal(read('cpu', 'cpu.cfs_quota_us'), '100000');
    assert.equal(read('cpu', 'cpu.cfs_period_us'), '100000');
    assert.equal(read('pids', 'pids.max'), '256');
    // More processes than pids.max: forks fail inside, the container lives on.
    const bomb = await run(spec.id, [
      'sh',
      '-c',
      'for i in $(seq 300); do sleep 30 </dev/null >/dev/null 2>&1 & done',
    ]);
    assert.match(bomb.out, /can't fork|Resource temporarily unavailable/i);
    await run(spec.id, ['killall', 'sleep']);
    assert.deepEqual(await run(spec.id, ['echo', 'ok']), { code: 0, out: 'ok\n' });
  });

  it('lists the container for reconciliation', async () => {
    assert.deepEqual(
      (await runtime.list()).filter((c) => c.id === spec.id),
      [{ id: spec.id, state: 'running' }],
    );
  });
});

describe('stop and restart', { skip }, () => {
  it('stops cleanly, leaves no mounts, cgroups or processes, and keeps the disk', async () => {
    const spec = specFor('busybox');
    await runtime.start(spec);
    assert.equal((await run(spec.id, ['sh', '-c', 'echo kept > /root/file'])).code, 0);
    assert.ok(processesInCgroup(spec.id).length > 0);
    await runtime.stop(spec.id, 5000);
    await assertNothingLeft(spec);
    assert.match(serialLog(spec), /nimbus-init: shutting down/);
    assert.equal(readFileSync(join(spec.diskDir, 'upper/root/file'), 'utf8'), 'kept\n');

    await runtime.start(spec);
    assert.deepEqual(await run(spec.id, ['cat', '/root/file']), { code: 0, out: 'kept\n' });
    await runtime.stop(spec.id, 5000);
    await assertNothingLeft(spec);
    await runtime.stop(spec.id, 5000); // idempotent
  });

  it('kills an init that ignores the stop signal after the timeout', async () => {
    const spec = specFor('busybox');
    await runtime.start(spec);
    // A stopped (SIGSTOP) init cannot act on SIGTERM: stop must fall back to SIGKILL.
    const pid = await runtime.initPid(spec.id);
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGSTOP');
    await runtime.stop(spec.id, 300);
    await assertNothingLeft(spec);
  });

  it('is found, driven and stopped by a new runtime over the same state dir (Nimbus restart)', async () => {
    const spec = specFor('busybox');
    await runtime.start(spec);
    const restarted = new RuncRuntime({ stateDir: runtime.stateDir, cgroupParent: 'nimbus-test' });
    assert.deepEqual(
      (await restarted.list()).filter((c) => c.id === spec.id),
      [{ id: spec.id, state: 'running' }],
    );
    const session = await restarted.exec(spec.id, ['hostname'], { tty: false });
    let out = '';
    session.onData((d) => {
      out += d.toString();
    });
    assert.equal(await session.exited, 0);
    assert.equal(out, `${spec.hostname}\n`);
    await restarted.stop(spec.id, 5000);
    await assertNothingLeft(spec);
  });

  it('reports a guest that shut itself down as stopped until stop cleans up', async () => {
    const spec = specFor('busybox');
    await runtime.start(spec);
    await run(spec.id, ['kill', '-TERM', '1']);
    await waitFor('the guest to stop', async () =>
      (await runtime.state(spec.id)) === 'stopped' ? true : undefined,
    );
    await runtime.stop(spec.id, 1000);
    await assertNothingLeft(spec);
  });

  it('rejects an invalid container id and a second start of a running container', async () => {
    await assert.rejects(runtime.start({ ...specFor('busybox'), id: '../escape' }), /invalid container id/);
    const spec = specFor('busybox');
    await runtime.start(spec);
    await assert.rejects(runtime.start(spec), /already running/);
    await runtime.stop(spec.id, 2000);
    await assertNothingLeft(spec);
  });
});

describe('debian-12 system containers', { skip }, () => {
  const metadata = new TestMetadataNamespace();
  const spec = specFor('debian-12', { memoryMb: 512, hosts: METADATA_HOSTS, netnsPath: metadata.path });

  before(async () => {
    // Built once (~30 s) into the shared image cache; later runs reuse it.
    await runtime.ensureImage('debian-12', (line) => {
      if (!line.includes(': I: ') || line.includes('success')) {
        console.log(`# ${line}`);
      }
    });
    await metadata.start({
      'startup-script': '#!/bin/bash\necho "debian says $(hostname) $(id -u)"\n',
      'ssh-keys': `alice:${SSH_KEY} alice@example\n`,
    });
  });

  after(async () => {
    await runtime.stop(spec.id, 5000).catch(() => undefined);
    await metadata.stop();
  });

  it('boots systemd, runs the startup script, and stops with SIGRTMIN+3', async () => {
    await runtime.start(spec);
    const status = await waitFor('systemctl is-system-running to answer', async () => {
      const { out } = await run(spec.id, ['systemctl', 'is-system-running']);
      const answer = out.trim();
      return ['running', 'degraded'].includes(answer) ? answer : undefined;
    });
    assert.ok(['running', 'degraded'].includes(status));
    const log = await waitForSerial(spec, /Finished running startup scripts/);
    assert.match(log, /systemd 252/);
    assert.match(log, new RegExp(`startup-script: debian says ${spec.hostname} 0`));
    assert.equal((await run(spec.id, ['hostname'])).out.trim(), spec.hostname);
    assert.equal((await run(spec.id, ['test', '-e', '/etc/ssh/ssh_host_ed25519_key'])).code, 0);
    assert.deepEqual(await run(spec.id, ['cat', '/home/alice/.ssh/authorized_keys']), {
      code: 0,
      out: `${SSH_KEY} alice@example\n`,
    });
    await runtime.stop(spec.id, 10_000);
    assert.match(serialLog(spec), /Reached target .*System Power Off|Stopped target .*Multi-User System/);
    await assertNothingLeft(spec);
  });
});
