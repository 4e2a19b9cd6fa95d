import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerSpec } from '../../services/compute/contracts.ts';
import {
  buildOciConfig,
  cgroupHierarchies,
  CONTAINER_CAPABILITIES,
  hostsFileText,
  type CgroupHierarchies,
} from './oci-spec.ts';
import { CLONE_NEWUSER, deniedSyscalls, ENOSYS, EPERM } from './seccomp.ts';

const spec: ContainerSpec = {
  id: 'nimbus-123',
  hostname: 'vm-one',
  image: 'debian-12',
  diskDir: '/data/disks/123',
  cpus: 0.5,
  memoryMb: 1024,
  pids: 4096,
  serialLogPath: '/data/serial/123.log',
  hosts: ['169.254.169.254 metadata.google.internal metadata'],
};

function config(overrides: Partial<ContainerSpec> = {}, cgroups?: CgroupHierarchies) {
  return buildOciConfig({
    ...(cgroups !== undefined ? { cgroups } : {}),
    spec: { ...spec, ...overrides },
    rootfs: '/run/nimbus/runc/bundles/nimbus-123/rootfs',
    initArgv: ['/sbin/init'],
    hostsFile: '/run/h',
    hostnameFile: '/run/n',
    cgroupsPath: '/nimbus/nimbus-123',
  });
}

describe('OCI config for a system container', () => {
  it('maps machine-type limits to cgroup memory, cpu quota/shares and pids', () => {
    const { resources } = config().linux;
    assert.equal(resources.memory.limit, 1024 * 1024 * 1024);
    assert.equal(resources.cpu.quota, 50_000);
    assert.equal(resources.cpu.period, 100_000);
    assert.equal(resources.cpu.shares, 512);
    assert.equal(resources.pids.limit, 4096);
  });

  it('lets shared-core types burst to cpus while sharing by cpuShare', () => {
    const { cpu } = config({ cpus: 2, cpuShare: 0.25 }).linux.resources;
    assert.equal(cpu.quota, 200_000);
    assert.equal(cpu.shares, 256);
    assert.throws(() => config({ cpuShare: 0 }), RangeError);
  });

  it('joins the dataplane network namespace when given, else gets a private one', () => {
    const joined = config({ netnsPath: '/run/netns/nimbus-i-1' }).linux.namespaces;
    assert.deepEqual(
      joined.find((n) => n.type === 'network'),
      { type: 'network', path: '/run/netns/nimbus-i-1' },
    );
    const own = config().linux.namespaces;
    assert.deepEqual(
      own.find((n) => n.type === 'network'),
      { type: 'network' },
    );
    assert.deepEqual(own.map((n) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  });

  it('boots init on a console with container=oci, tmpfs /run and a writable cgroup mount', () => {
    const c = config();
    assert.equal(c.process.terminal, true);
    assert.ok(c.process.env.includes('container=oci'));
    assert.deepEqual(c.process.args, ['/sbin/init']);
    assert.equal(c.hostname, 'vm-one');
    const byDestination = new Map(c.mounts.map((m) => [m.destination, m]));
    for (const dir of ['/run', '/run/lock', '/tmp']) {
      assert.equal(byDestination.get(dir)?.type, 'tmpfs', dir);
    }
    assert.ok(byDestination.get('/sys/fs/cgroup')?.options?.includes('rw'));
    assert.equal(byDestination.get('/etc/hosts')?.source, '/run/h');
  });

  it('keeps root inside from the host: no CAP_SYS_ADMIN, no inheritable set, setuid only where needed', () => {
    const { capabilities, noNewPrivileges } = config().process;
    assert.ok(CONTAINER_CAPABILITIES.includes('CAP_NET_ADMIN'));
    assert.ok(CONTAINER_CAPABILITIES.includes('CAP_SETUID'));
    for (const cap of [
      'CAP_SYS_ADMIN',
      'CAP_SYS_MODULE',
      'CAP_SYS_RAWIO',
      'CAP_SYS_TIME',
      'CAP_SYS_BOOT',
      'CAP_SYS_PTRACE',
      'CAP_SYSLOG',
      'CAP_MAC_ADMIN',
      'CAP_DAC_READ_SEARCH',
    ]) {
      for (const set of ['bounding', 'effective', 'permitted'] as const) {
        assert.ok(!capabilities[set].includes(cap), `${cap} in ${set}`);
      }
    }
    assert.deepEqual(capabilities.bounding, CONTAINER_CAPABILITIES);
    assert.deepEqual(capabilities.inheritable, []);
    assert.equal(noNewPrivileges, false, 'debian-12 keeps su and setuid programs');
    assert.equal(config({ image: 'busybox' }).process.noNewPrivileges, true);
  });

  it('installs a seccomp filter that refuses host-global syscalls with EPERM on every x86 ABI', () => {
    const { seccomp } = config().linux;
    assert.equal(seccomp.defaultAction, 'SCMP_ACT_ALLOW');
    assert.deepEqual(seccomp.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const unconditional = seccomp.syscalls.filter((r) => r.args === undefined);
    const refused = (name: string) =>
      unconditional.find((r) => r.names.includes(name) && r.action === 'SCMP_ACT_ERRNO')?.errnoRet;
    for (const name of [
      'kexec_load',
      'kexec_file_load',
      'init_module',
      'finit_module',
      'delete_module',
      'bpf',
      'perf_event_open',
      'keyctl',
      'add_key',
      'request_key',
      'open_by_handle_at',
      'reboot',
      'swapon',
      'swapoff',
      'settimeofday',
      'clock_settime',
      'adjtimex',
      'acct',
      'lookup_dcookie',
      'iopl',
      'ioperm',
      'userfaultfd',
      'io_uring_setup',
      'syslog',
    ]) {
      assert.equal(refused(name), EPERM, name);
    }
    assert.equal(refused('clone3'), ENOSYS, 'clone3 makes libc fall back to clone');
    // Everything a distribution needs stays allowed.
    for (const name of ['ptrace', 'mount', 'chroot', 'setns', 'name_to_handle_at', 'clone', 'unshare']) {
      assert.equal(refused(name), undefined, name);
    }
    assert.deepEqual(deniedSyscalls(), [...new Set(deniedSyscalls())].sort(), 'no duplicates');
    const newUserNs = seccomp.syscalls.find((r) => r.args !== undefined);
    assert.deepEqual(newUserNs?.names, ['clone', 'unshare']);
    assert.equal(newUserNs.errnoRet, EPERM);
    assert.deepEqual(newUserNs.args, [
      { index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' },
    ]);
  });

  it('masks kernel-revealing /proc and /sys paths and keeps /proc/sys and /sys read-only', () => {
    const c = config();
    for (const path of [
      '/proc/kcore',
      '/proc/keys',
      '/proc/timer_list',
      '/proc/sched_debug',
      '/sys/firmware',
    ]) {
      assert.ok(c.linux.maskedPaths.includes(path), path);
    }
    for (const path of ['/proc/sys', '/proc/sysrq-trigger', '/proc/bus', '/proc/irq', '/proc/fs']) {
      assert.ok(c.linux.readonlyPaths.includes(path), path);
    }
    assert.ok(c.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'));
    assert.ok(c.linux.namespaces.some((n) => n.type === 'cgroup'));
  });

  it('bind-mounts its own controller cgroups read-only, and its cgroup2 part for systemd', () => {
    const c = config({}, { controllers: ['cpu,cpuacct', 'memory', 'pids'], unified: true });
    const at = (destination: string) => c.mounts.findIndex((m) => m.destination === destination);
    const memory = c.mounts[at('/sys/fs/cgroup/memory')];
    assert.deepEqual(memory, {
      destination: '/sys/fs/cgroup/memory',
      type: 'bind',
      source: '/sys/fs/cgroup/memory/nimbus/nimbus-123',
      options: ['rbind', 'rprivate', 'ro', 'nosuid', 'noexec', 'nodev'],
    });
    assert.equal(
      c.mounts[at('/sys/fs/cgroup/cpu,cpuacct')]?.source,
      '/sys/fs/cgroup/cpu,cpuacct/nimbus/nimbus-123',
    );
    assert.ok(at('/sys/fs/cgroup') < at('/sys/fs/cgroup/memory'), 'mounted over the cgroup mount');
    assert.equal(at('/sys/fs/cgroup/systemd'), -1, "systemd's hierarchy stays writable");
    assert.deepEqual(c.mounts[at('/sys/fs/cgroup/unified')], {
      destination: '/sys/fs/cgroup/unified',
      type: 'cgroup2',
      source: 'cgroup2',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'],
    });
    assert.ok(at('/sys/fs/cgroup') < at('/sys/fs/cgroup/unified'));
    assert.equal(config().mounts.filter((m) => m.destination.startsWith('/sys/fs/cgroup/')).length, 0);
    assert.equal(
      config({}, { controllers: [], unified: false }).mounts.filter((m) =>
        m.destination.startsWith('/sys/fs/cgroup/'),
      ).length,
      0,
    );
  });

  it('finds the v1 controller hierarchies and a hybrid cgroup2 in mountinfo, not named hierarchies', () => {
    const mountinfo = [
      '25 22 0:22 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
      '26 25 0:23 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
      '28 25 0:25 / /sys/fs/cgroup/systemd rw,relatime - cgroup systemd rw,name=systemd',
      '29 25 0:26 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
      '30 25 0:27 / /sys/fs/cgroup/misc rw,relatime - cgroup cgroup rw,misc',
      '31 25 0:28 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
      '32 25 0:23 / /mnt/memory rw,relatime - cgroup cgroup rw,memory',
      '',
    ].join('\n');
    assert.deepEqual(cgroupHierarchies(mountinfo), {
      controllers: ['cpu,cpuacct', 'memory', 'pids'],
      unified: true,
    });
    assert.deepEqual(cgroupHierarchies('36 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n'), {
      controllers: [],
      unified: false,
    });
  });

  it('writes the hostname and the extra hosts lines into /etc/hosts', () => {
    const text = hostsFileText(spec);
    assert.match(text, /^127\.0\.1\.1\tvm-one$/m);
    assert.match(text, /^169\.254\.169\.254 metadata\.google\.internal metadata$/m);
  });

  it('rejects limits the kernel would refuse', () => {
    assert.throws(() => config({ cpus: 0 }), RangeError);
    assert.throws(() => config({ memoryMb: 4 }), RangeError);
    assert.throws(() => config({ pids: 1.5 }), RangeError);
  });
});
