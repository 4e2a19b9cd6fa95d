/**
 * The seccomp filter of a Nimbus system container (OCI `linux.seccomp`).
 *
 * A deny-list on top of the capability set (see oci-spec.ts): everything a Linux distribution's
 * userland needs stays allowed (systemd, sshd, apt, shells, compilers: an allow-list that keeps
 * systemd booting would be long and would break on every new libc), and the calls that reach
 * host-global kernel state or are a large, rarely needed attack surface answer EPERM:
 *
 * - kernel code and the machine: module loading, kexec, reboot (systemd-shutdown then simply exits,
 *   which ends the container), swap, process accounting, port I/O, vm86;
 * - the clock (global, not namespaced): settimeofday, clock_settime, adjtimex, clock_adjtime;
 * - kernel keyrings (not namespaced): add_key, request_key, keyctl (systemd and pam_keyinit treat
 *   EPERM as "no keyring" and go on);
 * - eBPF, perf events, userfaultfd, io_uring, the kernel log (syslog), lookup_dcookie;
 * - open_by_handle_at (opens host files by handle: the "shocker" escape);
 * - new user namespaces (clone/unshare with CLONE_NEWUSER): the door to a fresh set of
 *   capabilities and most kernel exploits. clone3 passes its flags in memory a filter cannot read,
 *   so it answers ENOSYS and the C library falls back to clone, which is checked.
 *
 * Syscall names are resolved per architecture by runc (libseccomp); a name an architecture lacks
 * is skipped there. x86_64 with its 32-bit (x86) and x32 ABIs is listed, so a 32-bit binary cannot
 * take a side door.
 */

/** `SCMP_ACT_ERRNO` answers with this errno unless a rule says otherwise. */
export const EPERM = 1;
export const ENOSYS = 38;

/** `CLONE_NEWUSER` (linux/sched.h). */
export const CLONE_NEWUSER = 0x1000_0000;

export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: 'SCMP_CMP_MASKED_EQ' | 'SCMP_CMP_EQ' | 'SCMP_CMP_NE';
}

export interface SeccompRule {
  names: string[];
  action: 'SCMP_ACT_ERRNO' | 'SCMP_ACT_ALLOW';
  errnoRet?: number;
  args?: SeccompArg[];
}

export interface SeccompProfile {
  defaultAction: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  architectures: string[];
  syscalls: SeccompRule[];
}

export const SECCOMP_ARCHITECTURES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];

/** Refused with EPERM whatever their arguments, grouped by what they would reach. */
export const DENIED_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  'kernel modules': ['init_module', 'finit_module', 'delete_module', 'create_module', 'query_module'],
  'kernel replacement and power': ['kexec_load', 'kexec_file_load', 'reboot'],
  swap: ['swapon', 'swapoff'],
  clock: [
    'settimeofday',
    'stime',
    'clock_settime',
    'clock_settime64',
    'adjtimex',
    'clock_adjtime',
    'clock_adjtime64',
  ],
  keyrings: ['add_key', 'request_key', 'keyctl'],
  'eBPF and perf': ['bpf', 'perf_event_open'],
  'kernel log and profiling': ['syslog', 'lookup_dcookie', 'acct'],
  'hardware ports': ['iopl', 'ioperm', 'vm86', 'vm86old'],
  'file handles': ['open_by_handle_at'],
  'attack surface': ['userfaultfd', 'io_uring_setup', 'io_uring_enter', 'io_uring_register'],
  obsolete: ['uselib', 'get_kernel_syms', 'nfsservctl'],
};

/** Every name in DENIED_SYSCALLS, sorted. */
export function deniedSyscalls(): string[] {
  return Object.values(DENIED_SYSCALLS).flat().sort();
}

/** The profile: allow by default, refuse the calls above and new user namespaces. */
export function containerSeccompProfile(): SeccompProfile {
  const newUserNamespace: SeccompArg = {
    index: 0,
    value: CLONE_NEWUSER,
    valueTwo: CLONE_NEWUSER,
    op: 'SCMP_CMP_MASKED_EQ',
  };
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: [...SECCOMP_ARCHITECTURES],
    syscalls: [
      { names: deniedSyscalls(), action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      // clone(flags, ...) and unshare(flags) take the flags in the first argument on x86.
      { names: ['clone', 'unshare'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [newUserNamespace] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}
