import { spawn } from 'node:child_process';
import { findCommand } from '../host-packages.ts';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a host tool (ip, nft) with optional stdin; never throws, the result carries the exit code. */
export function runCommand(command: string, args: string[], input?: string): Promise<CommandResult> {
  const path = findCommand(command) ?? command;
  return new Promise((resolve) => {
    const child = spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', (error) => {
      resolve({ code: -1, stdout: '', stderr: error.message });
    });
    child.once('close', (code) => {
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** Like runCommand, but a non-zero exit is an error naming the command and its stderr. */
export async function mustRun(command: string, args: string[], input?: string): Promise<string> {
  const result = await runCommand(command, args, input);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')}: ${result.stderr.trim() || `exit ${String(result.code)}`}`);
  }
  return result.stdout;
}
