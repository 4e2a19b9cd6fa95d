import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** A command an engine needs on the host and the Debian package that provides it. */
export interface HostRequirement {
  command: string;
  debianPackage: string;
}

export interface HostCheck {
  ok: boolean;
  missing: HostRequirement[];
  /** A sentence saying what is missing (when not ok). */
  reason?: string;
  /** The command that fixes it (when not ok). */
  fix?: string;
}

/** Absolute path of `command` on PATH (plus the sbin directories root's PATH has), or undefined. */
export function findCommand(command: string, path = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (dir === '') {
      continue;
    }
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export function checkHost(requirements: HostRequirement[]): HostCheck {
  const missing = requirements.filter((r) => findCommand(r.command) === undefined);
  if (missing.length === 0) {
    return { ok: true, missing };
  }
  const packages = [...new Set(missing.map((r) => r.debianPackage))].join(' ');
  return {
    ok: false,
    missing,
    reason: `missing ${missing.map((r) => r.command).join(', ')}`,
    fix: `apt-get install ${packages} (as root)`,
  };
}

function run(command: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.once('error', () => {
      resolve(-1);
    });
    child.once('exit', (code) => {
      resolve(code ?? -1);
    });
  });
}

/**
 * Installs the Debian packages of missing requirements when it can (root and apt-get present), then
 * checks again. Never throws: the result says what is still missing and how to fix it.
 */
export async function ensureHost(requirements: HostRequirement[]): Promise<HostCheck> {
  const first = checkHost(requirements);
  if (first.ok || process.getuid?.() !== 0 || findCommand('apt-get') === undefined) {
    return first;
  }
  const packages = [...new Set(first.missing.map((r) => r.debianPackage))];
  const install = [
    '-o',
    'DPkg::Lock::Timeout=600',
    'install',
    '-y',
    '-qq',
    '--no-install-recommends',
    ...packages,
  ];
  if ((await run('apt-get', install)) !== 0) {
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update', '-qq']);
    await run('apt-get', install);
  }
  return checkHost(requirements);
}
