import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { childEnv, exited } from '../test/nimbus-process.ts';

/** The peer both storage benches measure: s3rver (npm) as a child process on a loopback port. */
export interface S3rver {
  port: number;
  version: string;
  stop: () => Promise<void>;
}

/** Starts s3rver on a free loopback port over `dir` (path-style, no virtual hosts). */
export async function startS3rver(dir: string): Promise<S3rver> {
  const require = createRequire(import.meta.url);
  const bin = require.resolve('s3rver/bin/s3rver.js');
  const version = (require('s3rver/package.json') as { version: string }).version;
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(
    process.execPath,
    [bin, '--directory', dir, '--address', '127.0.0.1', '--port', '0', '--no-vhost-buckets'],
    { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
    }
    await exited(child);
  };
  let output = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`s3rver did not start within 10 s: ${output}`));
    }, 10_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited (${String(code ?? signal)}): ${output}`));
    });
  });
  return { port, version, stop };
}
