/**
 * OCI runtime `config.json` for a Nimbus system container (an instance's boot): the recipe measured
 * in DESIGN.md section 9 — own pid/mount/uts/ipc/cgroup namespaces, the network namespace the VPC
 * dataplane wired (or a private one with loopback only), cgroup cpu/memory/pids limits, tmpfs on
 * /run, /run/lock and /tmp, a read-write cgroup mount (systemd needs it), `container=oci`.
 *
 * Isolation (docs/services/compute.md, "Isolation"): Docker's default capabilities plus
 * CAP_NET_ADMIN (iproute2 inside the instance's own network namespace) and no CAP_SYS_ADMIN
 * (systemd 252 boots without it: measured), an empty inheritable set, the seccomp deny-list of
 * seccomp.ts, masked and read-only /proc and /sys paths, and the instance's own v1 controller
 * cgroups (memory, cpu, pids, devices, ...) bind-mounted read-only over the cgroup mount so root
 * inside cannot raise its own limits; only systemd's named hierarchy and (hybrid hosts) its part of
 * cgroup2 stay writable.
 */
import type { ContainerSpec } from '../../services/compute/contracts.ts';
import { containerSeccompProfile, type SeccompProfile } from './seccomp.ts';

/**
 * Docker's default capability set (enough for apt, sshd and systemd) plus CAP_NET_ADMIN for
 * iproute2. Deliberately without CAP_SYS_ADMIN (mount, cgroup device rules, namespaces: with it,
 * root inside is root on the host), CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME, CAP_SYS_BOOT,
 * CAP_SYS_PTRACE, CAP_SYSLOG, CAP_MAC_ADMIN, CAP_DAC_READ_SEARCH.
 */
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
  'CAP_NET_ADMIN',
];

/**
 * cgroup v1 controllers runc places a container in (a hierarchy named after other controllers is
 * left alone: the bind mount below needs the container's directory to exist in it).
 */
const RUNC_V1_CONTROLLERS = new Set([
  'blkio',
  'cpu',
  'cpuacct',
  'cpuset',
  'devices',
  'freezer',
  'hugetlb',
  'memory',
  'net_cls',
  'net_prio',
  'perf_event',
  'pids',
  'rdma',
]);

/** How the host mounts cgroups below /sys/fs/cgroup (from `/proc/self/mountinfo`). */
export interface CgroupHierarchies {
  /**
   * The v1 controller hierarchies mounted at `/sys/fs/cgroup/NAME`, as NAME (e.g. `memory`,
   * `cpu,cpuacct`): the ones whose files hold an instance's limits. Named hierarchies
   * (`name=systemd`) and cgroup2 are not controllers and are not listed.
   */
  controllers: string[];
  /** cgroup2 is mounted at /sys/fs/cgroup/unified (systemd's "hybrid" layout). */
  unified: boolean;
}

export function cgroupHierarchies(mountinfo: string): CgroupHierarchies {
  const names: string[] = [];
  let unified = false;
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    const mountPoint = before?.split(' ')[4];
    const [fsType, , superOptions] = after?.split(' ') ?? [];
    if (fsType === 'cgroup2' && mountPoint === '/sys/fs/cgroup/unified') {
      unified = true;
    }
    if (fsType !== 'cgroup' || mountPoint === undefined || superOptions === undefined) {
      continue;
    }
    const name = /^\/sys\/fs\/cgroup\/([a-z_,]+)$/.exec(mountPoint)?.[1];
    const controllers = superOptions.split(',').filter((o) => RUNC_V1_CONTROLLERS.has(o));
    if (name !== undefined && controllers.length > 0 && !superOptions.includes('name=')) {
      if (name.split(',').every((c) => RUNC_V1_CONTROLLERS.has(c)) && !names.includes(name)) {
        names.push(name);
      }
    }
  }
  return { controllers: names.sort(), unified };
}

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
    seccomp: SeccompProfile;
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
  /**
   * The host's cgroup layout (`cgroupHierarchies`). Each v1 controller hierarchy is bind-mounted
   * read-only from the container's own cgroup directory over the cgroup mount (none on cgroup v2).
   * With a hybrid host's cgroup2 at /sys/fs/cgroup/unified, the container's part of it is mounted
   * there read-write: systemd learns from it when a unit's cgroup empties (without it, a stop job
   * can wait forever for a unit whose processes are gone); systemd mounted it itself while it had
   * CAP_SYS_ADMIN. No controller is enabled in it on a hybrid host: it only tracks processes.
   */
  cgroups?: CgroupHierarchies;
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
    // Root inside could otherwise write its own memory.limit_in_bytes, pids.max, cfs quota.
    ...(input.cgroups?.unified === true
      ? [
          {
            destination: '/sys/fs/cgroup/unified',
            type: 'cgroup2',
            source: 'cgroup2',
            options: ['nosuid', 'noexec', 'nodev', 'relatime', 'rw'],
          },
        ]
      : []),
    ...(input.cgroups?.controllers ?? []).map((name): OciMount => ({
      destination: `/sys/fs/cgroup/${name}`,
      type: 'bind',
      source: `/sys/fs/cgroup/${name}${input.cgroupsPath}`,
      options: ['rbind', 'rprivate', 'ro', 'nosuid', 'noexec', 'nodev'],
    })),
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
        // Empty, as in current Docker: nothing reaches a non-root program through execve.
        inheritable: [],
      },
      // debian-12 keeps setuid programs working (su, passwd, a user's ping; sudo once installed);
      // busybox ships none, so no program inside may gain privileges at all.
      noNewPrivileges: spec.image === 'busybox',
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
        '/sys/devices/virtual/powercap',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      seccomp: containerSeccompProfile(),
    },
  };
}
