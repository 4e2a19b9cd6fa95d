/**
 * OCI runtime `config.json` for a Nimbus system container (an instance's boot): the recipe measured
 * in DESIGN.md section 9 — own pid/mount/uts/ipc/cgroup namespaces, the network namespace the VPC
 * dataplane wired (or a private one with loopback only), cgroup cpu/memory/pids limits, tmpfs on
 * /run, /run/lock and /tmp, a read-write cgroup mount (systemd needs it), `container=oci`, and
 * Docker's default capabilities plus CAP_SYS_ADMIN and CAP_NET_ADMIN (systemd, iproute2, apt).
 */
import type { ContainerSpec } from '../../services/compute/contracts.ts';

/** Docker's default capability set (enough for apt and sshd) plus what systemd and iproute2 need. */
export const CONTAINER_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
  'CAP_SYS_ADMIN',
  'CAP_NET_ADMIN',
];

/** CFS period used for the cpu quota (the kernel's default). */
export const CPU_PERIOD_US = 100_000;

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'inheritable', string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    cgroupsPath: string;
    resources: {
      devices: { allow: boolean; access: string }[];
      memory: { limit: number };
      cpu: { shares: number; quota: number; period: number };
      pids: { limit: number };
    };
    namespaces: { type: string; path?: string }[];
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

export interface OciConfigInput {
  spec: ContainerSpec;
  /** Absolute path of the mounted root filesystem (the overlay). */
  rootfs: string;
  /** Init argv (PID 1). */
  initArgv: string[];
  /** Host files bind-mounted over the guest's /etc/hosts and /etc/hostname. */
  hostsFile: string;
  hostnameFile: string;
  /** cgroup path (absolute, below each controller's root). */
  cgroupsPath: string;
}

/** The `/etc/hosts` text of an instance: loopback names, its hostname, and `spec.hosts`. */
export function hostsFileText(spec: ContainerSpec): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `127.0.1.1\t${spec.hostname}`,
    ...(spec.hosts ?? []),
    '',
  ].join('\n');
}

export function buildOciConfig(input: OciConfigInput): OciConfig {
  const { spec } = input;
  if (!Number.isFinite(spec.cpus) || spec.cpus <= 0) {
    throw new RangeError(`cpus must be positive, got ${spec.cpus}`);
  }
  if (spec.cpuShare !== undefined && (!Number.isFinite(spec.cpuShare) || spec.cpuShare <= 0)) {
    throw new RangeError(`cpuShare must be positive, got ${spec.cpuShare}`);
  }
  if (!Number.isInteger(spec.memoryMb) || spec.memoryMb < 16) {
    throw new RangeError(`memoryMb must be an integer >= 16, got ${spec.memoryMb}`);
  }
  if (!Number.isInteger(spec.pids) || spec.pids < 16) {
    throw new RangeError(`pids must be an integer >= 16, got ${spec.pids}`);
  }
  const tmpfs = (destination: string, options: string[]): OciMount => ({
    destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options,
  });
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    tmpfs('/dev', ['nosuid', 'strictatime', 'mode=755', 'size=65536k']),
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'],
    },
    tmpfs('/run', ['nosuid', 'nodev', 'mode=755', 'size=65536k']),
    tmpfs('/run/lock', ['nosuid', 'nodev', 'noexec', 'mode=1777', 'size=5120k']),
    tmpfs('/tmp', ['nosuid', 'nodev', 'mode=1777']),
    {
      destination: '/etc/hosts',
      type: 'bind',
      source: input.hostsFile,
      options: ['rbind', 'rprivate', 'rw'],
    },
    {
      destination: '/etc/hostname',
      type: 'bind',
      source: input.hostnameFile,
      options: ['rbind', 'rprivate', 'rw'],
    },
  ];
  const namespaces: { type: string; path?: string }[] = [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'cgroup' },
    spec.netnsPath === undefined ? { type: 'network' } : { type: 'network', path: spec.netnsPath },
  ];
  return {
    ociVersion: '1.0.2-dev',
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: input.initArgv,
      env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'container=oci',
        'TERM=linux',
      ],
      cwd: '/',
      capabilities: {
        bounding: CONTAINER_CAPABILITIES,
        effective: CONTAINER_CAPABILITIES,
        permitted: CONTAINER_CAPABILITIES,
        inheritable: CONTAINER_CAPABILITIES,
      },
      noNewPrivileges: false,
    },
    root: { path: input.rootfs, readonly: false },
    hostname: spec.hostname,
    mounts,
    linux: {
      cgroupsPath: input.cgroupsPath,
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        memory: { limit: spec.memoryMb * 1024 * 1024 },
        cpu: {
          shares: Math.max(2, Math.round(1024 * (spec.cpuShare ?? spec.cpus))),
          quota: Math.max(1000, Math.round(spec.cpus * CPU_PERIOD_US)),
          period: CPU_PERIOD_US,
        },
        pids: { limit: spec.pids },
      },
      namespaces,
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
}
