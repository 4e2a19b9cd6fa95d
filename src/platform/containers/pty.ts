/**
 * Exec sessions inside a running container, always through `runc exec` so the process joins the
 * container's namespaces *and* cgroup (a shell entered with nsenter would escape the memory limit).
 *
 * - one-shot (no tty): `runc exec` with pipes; stdout and stderr both reach `onData`.
 * - interactive (tty): `runc exec -t` started inside a pty from `@lydell/node-pty`. runc allocates
 *   the container-side pty, puts its own stdin (our pty) in raw mode and copies bytes both ways; on
 *   `resize` the kernel sends SIGWINCH to runc, which applies the new size to the inner pty (measured:
 *   `stty size` inside follows). No file descriptor passing is needed.
 *
 * `kill` signals the process inside (its host pid comes from runc's `--pid-file`), not just runc.
 */
import { spawn as spawnProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { spawn as spawnPty } from '@lydell/node-pty';
import type { ExecSession } from '../../services/compute/contracts.ts';

export interface RuncExecInput {
  runc: string;
  /** runc global args (e.g. `--root DIR`). */
  globalArgs: string[];
  id: string;
  argv: string[];
  tty: boolean;
  cols?: number;
  rows?: number;
  env?: string[];
  /** Where runc writes the exec'd process's host pid. */
  pidFile: string;
  cwd?: string;
}

class Listeners {
  private readonly listeners: ((data: Buffer) => void)[] = [];
  private readonly pending: Buffer[] = [];

  add(listener: (data: Buffer) => void): void {
    this.listeners.push(listener);
    // Output that arrived before anyone listened is delivered to the first listener.
    for (const chunk of this.pending.splice(0)) {
      listener(chunk);
    }
  }

  emit(data: Buffer): void {
    if (this.listeners.length === 0) {
      this.pending.push(data);
      return;
    }
    for (const listener of this.listeners) {
      listener(data);
    }
  }
}

async function killInside(pidFile: string, signal: NodeJS.Signals): Promise<void> {
  const pid = Number.parseInt(await readFile(pidFile, 'utf8').catch(() => ''), 10);
  if (Number.isInteger(pid) && pid > 1) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function execArgs(input: RuncExecInput): string[] {
  const env = ['HOME=/root', ...(input.tty ? ['TERM=xterm-256color'] : []), ...(input.env ?? [])].flatMap(
    (e) => ['--env', e],
  );
  return [
    ...input.globalArgs,
    'exec',
    ...(input.tty ? ['--tty'] : []),
    '--pid-file',
    input.pidFile,
    '--cwd',
    input.cwd ?? '/',
    ...env,
    input.id,
    ...input.argv,
  ];
}

/** Starts `runc exec` and returns the session once the process is spawned. */
export function startExec(input: RuncExecInput): ExecSession {
  return input.tty ? startTtyExec(input) : startPipeExec(input);
}

function startPipeExec(input: RuncExecInput): ExecSession {
  const child = spawnProcess(input.runc, execArgs(input), { stdio: ['pipe', 'pipe', 'pipe'] });
  const listeners = new Listeners();
  child.stdout.on('data', (chunk: Buffer) => {
    listeners.emit(chunk);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    listeners.emit(chunk);
  });
  child.stdin.on('error', () => undefined);
  const exited = new Promise<number>((resolve) => {
    child.once('error', () => {
      resolve(127);
    });
    child.once('close', (code, signal) => {
      resolve(code ?? (signal === null ? 1 : 128 + signalNumber(signal)));
    });
  });
  return {
    write(data) {
      if (data.length === 0) {
        child.stdin.end();
      } else {
        child.stdin.write(data);
      }
    },
    onData(listener) {
      listeners.add(listener);
    },
    resize() {
      // no tty: nothing to resize
    },
    exited,
    kill() {
      void killInside(input.pidFile, 'SIGKILL');
      child.kill('SIGTERM');
    },
  };
}

function startTtyExec(input: RuncExecInput): ExecSession {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' };
  const pty = spawnPty(input.runc, execArgs(input), {
    name: 'xterm-256color',
    cols: input.cols ?? 80,
    rows: input.rows ?? 24,
    env,
    encoding: null,
  });
  const listeners = new Listeners();
  pty.onData((data: string | Buffer) => {
    listeners.emit(typeof data === 'string' ? Buffer.from(data) : data);
  });
  let done = false;
  const exited = new Promise<number>((resolve) => {
    pty.onExit(({ exitCode, signal }) => {
      done = true;
      resolve(signal !== undefined && signal > 0 && exitCode === 0 ? 128 + signal : exitCode);
    });
  });
  return {
    write(data) {
      if (!done) {
        pty.write(typeof data === 'string' ? data : data.toString('utf8'));
      }
    },
    onData(listener) {
      listeners.add(listener);
    },
    resize(cols, rows) {
      if (!done && cols > 0 && rows > 0) {
        pty.resize(Math.floor(cols), Math.floor(rows));
      }
    },
    exited,
    kill() {
      void killInside(input.pidFile, 'SIGKILL');
      if (!done) {
        pty.kill('SIGHUP');
      }
    },
  };
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return numbers[signal] ?? 0;
}
