import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import WebSocket from 'ws';
import { FLAGS, parseConfig, type NimbusConfig } from '../config.ts';
import { clientBaseUrl } from '../core/env.ts';
import { NimbusError } from '../core/errors.ts';
import { ownerTokenPath, serverInfoPath } from '../main.ts';

export const COMPUTE_HELP = `nimbus compute ssh NAME [--zone ZONE] [--project PROJECT] [--command CMD]
nimbus compute ssh NAME --print-ssh [--user USER]   (alias: --tunnel)

Opens a shell in a running instance (the same terminal backend as the console's), or runs CMD and
exits with its exit code. Without --zone, the instance is found by name in any zone.
--print-ssh prints how to reach the instance's sshd through its external access config, as a ready
command: ssh USER@NATIP (NATIP is the instance's own loopback address, 127.77.x.y; '-p PORT' is added
when port 22 could not be bound there). A real sshd, keys from ssh-keys metadata: 'gcloud compute
ssh NAME' works too.
Nimbus flags (--port, --data-dir...) select the server.`;

interface SshArgs {
  name: string;
  zone?: string;
  project?: string;
  command?: string;
  user?: string;
  printSsh: boolean;
  nimbusFlags: string[];
}

function parseSshArgs(args: string[]): SshArgs {
  const own: Record<string, string> = {};
  const nimbusFlags: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    const value = (): string => {
      if (inline !== undefined) {
        return inline;
      }
      i += 1;
      const next = args[i];
      if (next === undefined) {
        throw new NimbusError('NIMBUS_ERR_BAD_FLAG', `${flag} needs a value`);
      }
      return next;
    };
    if (flag === '--zone' || flag === '--command' || flag === '--project' || flag === '--user') {
      own[flag.slice(2)] = value();
    } else if (flag === '--print-ssh' || flag === '--tunnel') {
      own['print-ssh'] = 'true';
    } else if (FLAGS.some((f) => f.flag === flag)) {
      nimbusFlags.push(`${flag}=${value()}`);
    } else if (arg.startsWith('--')) {
      throw new NimbusError('NIMBUS_ERR_BAD_FLAG', `unknown flag '${arg}' (nimbus compute --help)`);
    } else {
      positional.push(arg);
    }
  }
  const name = positional[0];
  if (name === undefined || positional.length > 1) {
    throw new NimbusError('NIMBUS_ERR_BAD_COMMAND', `usage: ${COMPUTE_HELP.split('\n')[0] ?? ''}`);
  }
  const parsed: SshArgs = { name, nimbusFlags, printSsh: own['print-ssh'] === 'true' };
  if (own.user !== undefined) {
    parsed.user = own.user;
  }
  if (own.zone !== undefined) {
    parsed.zone = own.zone;
  }
  if (own.project !== undefined) {
    parsed.project = own.project;
  }
  if (own.command !== undefined) {
    parsed.command = own.command;
  }
  return parsed;
}

function serverUrlOf(config: NimbusConfig): string {
  try {
    const info = JSON.parse(readFileSync(serverInfoPath(config.dataDir), 'utf8')) as { url?: string };
    return info.url ?? clientBaseUrl(config);
  } catch {
    return clientBaseUrl(config);
  }
}

function tokenOf(config: NimbusConfig, env: Record<string, string | undefined>): string | undefined {
  const fromEnv = env.NIMBUS_ACCESS_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') {
    return fromEnv;
  }
  try {
    return readFileSync(ownerTokenPath(config.dataDir), 'utf8').trim();
  } catch {
    return undefined;
  }
}

async function findZone(
  base: string,
  project: string,
  name: string,
  headers: Record<string, string>,
): Promise<string> {
  let response: Response;
  try {
    response = await fetch(`${base}/compute/v1/projects/${project}/aggregated/instances`, { headers });
  } catch {
    throw new NimbusError(
      'NIMBUS_ERR_NOT_RUNNING',
      `Nimbus is not running at ${base}: start it with 'nimbus start'`,
    );
  }
  const body = (await response.json()) as {
    items?: Record<string, { instances?: { name: string }[] }>;
    error?: { message?: string };
  };
  if (!response.ok) {
    throw new NimbusError('NIMBUS_ERR_REQUEST', `${String(response.status)}: ${body.error?.message ?? ''}`);
  }
  for (const [scope, entry] of Object.entries(body.items ?? {})) {
    if ((entry.instances ?? []).some((i) => i.name === name)) {
      return scope.replace(/^zones\//, '');
    }
  }
  throw new NimbusError('NIMBUS_ERR_REQUEST', `no instance named '${name}' in project ${project}`);
}

/** Where the instance's port 22 is forwarded (`accessConfigs[0]`: natIP and nimbusForwardedPorts). */
async function sshEndpoint(
  base: string,
  project: string,
  zone: string,
  name: string,
  headers: Record<string, string>,
): Promise<{ address: string; port: number }> {
  const response = await fetch(`${base}/compute/v1/projects/${project}/zones/${zone}/instances/${name}`, {
    headers,
  });
  const body = (await response.json()) as {
    status?: string;
    networkInterfaces?: {
      accessConfigs?: { natIP?: string; nimbusForwardedPorts?: { port: number; hostPort: number }[] }[];
    }[];
    error?: { message?: string };
  };
  if (!response.ok) {
    throw new NimbusError('NIMBUS_ERR_REQUEST', `${String(response.status)}: ${body.error?.message ?? ''}`);
  }
  const accessConfig = body.networkInterfaces?.[0]?.accessConfigs?.[0];
  if (accessConfig === undefined) {
    throw new NimbusError(
      'NIMBUS_ERR_REQUEST',
      `instance '${name}' has no external access config, so no host address leads to it: add one with 'gcloud compute instances add-access-config ${name} --zone ${zone}'`,
    );
  }
  const port = accessConfig.nimbusForwardedPorts?.find((f) => f.port === 22)?.hostPort;
  const address = accessConfig.natIP;
  if (port === undefined || address === undefined || address === '') {
    throw new NimbusError(
      'NIMBUS_ERR_REQUEST',
      `instance '${name}' is ${body.status ?? 'not running'}: its port 22 is forwarded only while it runs`,
    );
  }
  return { address, port };
}

/** `nimbus compute ssh NAME`: a terminal (or one command) in an instance over the WebSocket backend. */
async function ssh(
  args: string[],
  env: Record<string, string | undefined>,
  output: (data: Buffer) => void,
): Promise<number> {
  const parsed = parseSshArgs(args);
  const config = parseConfig(parsed.nimbusFlags, env);
  const base = serverUrlOf(config);
  const token = tokenOf(config, env);
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const project = parsed.project ?? config.defaultProject;
  const zone = parsed.zone ?? (await findZone(base, project, parsed.name, headers));
  if (parsed.printSsh) {
    const { address, port } = await sshEndpoint(base, project, zone, parsed.name, headers);
    const user = parsed.user ?? env.USER ?? userInfo().username;
    const portFlag = port === 22 ? '' : `-p ${String(port)} `;
    output(Buffer.from(`ssh ${portFlag}${user}@${address}\n`));
    return 0;
  }
  const query = new URLSearchParams();
  const interactive = parsed.command === undefined;
  if (parsed.command !== undefined) {
    query.set('command', parsed.command);
  } else if (process.stdout.isTTY) {
    query.set('cols', String(process.stdout.columns));
    query.set('rows', String(process.stdout.rows));
  }
  const url = `${base.replace(/^http/, 'ws')}/compute/v1/projects/${project}/zones/${zone}/instances/${parsed.name}/ssh?${query.toString()}`;

  return await new Promise<number>((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    const stdin = process.stdin;
    let raw = false;
    const restore = (): void => {
      if (raw && stdin.isTTY) {
        stdin.setRawMode(false);
      }
      stdin.pause();
      process.stdout.off('resize', onResize);
    };
    const onResize = (): void => {
      socket.send(
        JSON.stringify({ type: 'resize', cols: process.stdout.columns, rows: process.stdout.rows }),
      );
    };
    socket.on('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        let message = Buffer.concat(chunks).toString('utf8');
        try {
          message = (JSON.parse(message) as { error?: { message?: string } }).error?.message ?? message;
        } catch {
          // not JSON: print as is
        }
        reject(new NimbusError('NIMBUS_ERR_REQUEST', `${String(response.statusCode)}: ${message}`));
      });
    });
    socket.on('error', (error) => {
      restore();
      reject(new NimbusError('NIMBUS_ERR_NOT_RUNNING', `cannot reach Nimbus at ${base}: ${error.message}`));
    });
    socket.on('open', () => {
      if (interactive) {
        if (stdin.isTTY) {
          stdin.setRawMode(true);
          raw = true;
          process.stdout.on('resize', onResize);
        }
        stdin.on('data', (data: Buffer) => {
          socket.send(data, { binary: true });
        });
        stdin.resume();
      }
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        output(data);
        return;
      }
      const message = JSON.parse(data.toString('utf8')) as { type?: string; code?: number; message?: string };
      if (message.type === 'exit') {
        restore();
        resolve(message.code ?? 0);
      } else if (message.type === 'error') {
        restore();
        reject(new NimbusError('NIMBUS_ERR_REQUEST', message.message ?? 'the session failed'));
      }
    });
    socket.on('close', () => {
      restore();
      resolve(255);
    });
  });
}

/**
 * `nimbus compute ...`: only `ssh` (everything else is gcloud's: `nimbus gcloud compute ...`).
 * The instance's output goes to `output` (stdout by default).
 */
export async function computeCommand(
  args: string[],
  env: Record<string, string | undefined>,
  output: (data: Buffer) => void = (data) => {
    process.stdout.write(data);
  },
): Promise<number> {
  const [verb, ...rest] = args;
  if (verb === undefined || verb === '--help' || verb === '-h' || rest.includes('--help')) {
    process.stdout.write(`${COMPUTE_HELP}\n`);
    return 0;
  }
  if (verb !== 'ssh') {
    throw new NimbusError(
      'NIMBUS_ERR_BAD_COMMAND',
      `unknown command 'compute ${verb}': Nimbus adds only 'compute ssh'; use 'nimbus gcloud compute ...' for the rest`,
    );
  }
  return await ssh(rest, env, output);
}
