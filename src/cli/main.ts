import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FLAGS, parseConfig, SWITCHES, type NimbusConfig } from '../config.ts';
import { clientBaseUrl, shellExports } from '../core/env.ts';
import { NimbusError } from '../core/errors.ts';
import { computeCommand } from './compute.ts';
import { IAM_HELP, iamCommand, splitIamArgs } from './iam.ts';
import { ownerTokenPath, serverInfoPath, startServer, type ServerInfo } from '../main.ts';

const HELP = `nimbus: a cloud on one machine that speaks Google Cloud's APIs

Usage:
  nimbus start [flags]         start every service on one port (console at /)
  nimbus status [flags]        show whether Nimbus runs and each service's state
  nimbus env [flags]           print shell exports that point Google's clients and gcloud at Nimbus
  nimbus gcloud ARGS...        run the installed Google Cloud CLI against Nimbus
  nimbus iam service-accounts create|list|keys create|keys list   (nimbus iam --help)
  nimbus compute ssh NAME [--zone Z] [--command CMD]   a shell (or one command) in an instance
  nimbus reset [flags]         wipe all state (through the running server, or the data dir)
  nimbus version

Flags (each also read from its environment variable):
${FLAGS.map((f) => `  ${f.flag.padEnd(16)} ${f.env.padEnd(22)} ${f.help} (default: ${f.default})`).join('\n')}
`;

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function runningServer(config: NimbusConfig): ServerInfo | undefined {
  const file = serverInfoPath(config.dataDir);
  if (!existsSync(file)) {
    return undefined;
  }
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as ServerInfo;
    process.kill(info.pid, 0);
    return info;
  } catch {
    return undefined;
  }
}

function serverUrl(config: NimbusConfig): string {
  return runningServer(config)?.url ?? clientBaseUrl(config);
}

/**
 * The owner's credential for calls to the server: NIMBUS_ACCESS_TOKEN, else the token file the
 * running server keeps in its data dir; none when neither exists (fine in owner-anonymous mode).
 */
function ownerToken(config: NimbusConfig, env: Record<string, string | undefined>): string | undefined {
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

async function call(url: string, init: RequestInit = {}, token?: string): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
    });
    if (response.status === 401 && token !== undefined) {
      // A stale token (the server was reset or restarted with new keys): try as anonymous, which
      // is the owner on loopback by default.
      response = await fetch(url, init);
    }
  } catch {
    throw new NimbusError(
      'NIMBUS_ERR_NOT_RUNNING',
      `Nimbus is not running at ${new URL(url).origin}: start it with 'nimbus start'`,
    );
  }
  const body = (await response.json()) as unknown;
  if (!response.ok) {
    const message = (body as { error?: { message?: string } }).error?.message ?? response.statusText;
    throw new NimbusError('NIMBUS_ERR_REQUEST', `${response.status}: ${message}`);
  }
  return body;
}

async function clientEnv(
  config: NimbusConfig,
  env: Record<string, string | undefined>,
): Promise<Record<string, string>> {
  return (await call(`${serverUrl(config)}/_nimbus/env`, {}, ownerToken(config, env))) as Record<
    string,
    string
  >;
}

export async function main(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(HELP);
      return 0;
    case 'version':
    case '--version':
      out('nimbus 0.1.0');
      return 0;
    case 'start': {
      const config = parseConfig(rest, env);
      // Handlers first, so a signal that arrives while starting still shuts down cleanly.
      const signalled = new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', () => {
          resolve('SIGINT');
        });
        process.once('SIGTERM', () => {
          resolve('SIGTERM');
        });
      });
      const stop = await startServer(config, out);
      const signal = await signalled;
      out(`Nimbus stopping (${signal})`);
      await stop();
      out('Nimbus stopped.');
      // Whatever still holds the event loop (a client's open connection...) must not keep us alive.
      setTimeout(() => {
        process.exit(0);
      }, 3000).unref();
      return 0;
    }
    case 'status': {
      const config = parseConfig(rest, env);
      const url = serverUrl(config);
      const services = (await call(`${url}/_nimbus/services`)) as {
        services: { name: string; state: string; reason?: string; fix?: string }[];
      };
      out(`Nimbus is running at ${url}`);
      for (const s of services.services) {
        out(
          `  ${s.name.padEnd(22)} ${s.state}${s.reason === undefined ? '' : `: ${s.reason}`}${s.fix === undefined ? '' : ` (fix: ${s.fix})`}`,
        );
      }
      return 0;
    }
    case 'env': {
      const config = parseConfig(rest, env);
      out(shellExports(await clientEnv(config, env)));
      return 0;
    }
    case 'reset': {
      const config = parseConfig(rest, env);
      if (runningServer(config) !== undefined) {
        await call(`${serverUrl(config)}/_nimbus/reset`, { method: 'POST' }, ownerToken(config, env));
        out('Nimbus state reset (server still running).');
      } else {
        for (const entry of ['nimbus.db', 'nimbus.db-wal', 'nimbus.db-shm', 'gcloud']) {
          rmSync(join(config.dataDir, entry), { recursive: true, force: true });
        }
        out(`Nimbus state in ${config.dataDir} removed.`);
      }
      return 0;
    }
    case 'gcloud': {
      const flags: string[] = [];
      const args = [...rest];
      // Leading Nimbus flags (--port, --data-dir...) are ours; the rest goes to gcloud.
      while (
        args[0] !== undefined &&
        FLAGS.some((f) => args[0] === f.flag || args[0]?.startsWith(`${f.flag}=`))
      ) {
        const flag = args.shift() ?? '';
        flags.push(flag);
        if (!flag.includes('=') && !SWITCHES.includes(flag)) {
          flags.push(args.shift() ?? '');
        }
      }
      const config = parseConfig(flags, env);
      const gcloudConfig = join(config.dataDir, 'gcloud');
      mkdirSync(gcloudConfig, { recursive: true });
      const childEnv = { ...process.env, ...(await clientEnv(config, env)), CLOUDSDK_CONFIG: gcloudConfig };
      return await new Promise<number>((resolve) => {
        const child = spawn('gcloud', args, { stdio: 'inherit', env: childEnv });
        child.on('error', () => {
          process.stderr.write(
            'nimbus: gcloud is not installed (install the Google Cloud CLI, package google-cloud-cli)\n',
          );
          resolve(127);
        });
        child.on('exit', (code) => {
          resolve(code ?? 1);
        });
      });
    }
    case 'iam': {
      const { own, nimbusFlags } = splitIamArgs(rest);
      if (own.length === 0 || own.includes('--help') || own.includes('-h')) {
        out(IAM_HELP);
        return 0;
      }
      const config = parseConfig(nimbusFlags, env);
      const vars = await clientEnv(config, env);
      const explicitProject =
        nimbusFlags.some((f) => f === '--project' || f.startsWith('--project=')) ||
        (env.NIMBUS_PROJECT ?? '') !== '';
      return await iamCommand(own, {
        baseUrl: serverUrl(config),
        token: ownerToken(config, env) ?? vars.CLOUDSDK_AUTH_ACCESS_TOKEN ?? '',
        project: explicitProject
          ? config.defaultProject
          : (vars.CLOUDSDK_CORE_PROJECT ?? config.defaultProject),
        out,
      });
    }
    case 'compute':
      return await computeCommand(rest, env);
    default:
      throw new NimbusError(
        'NIMBUS_ERR_BAD_COMMAND',
        `unknown command '${command}' (nimbus --help lists them)`,
      );
  }
}

/** The one stderr line a failed command prints: `nimbus: CODE: message`. */
export function errorLine(error: unknown): string {
  if (error instanceof NimbusError) {
    return `nimbus: ${error.code}: ${error.message.replace(/\s*\n\s*/g, ' ')}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  const where = error instanceof Error ? /\n\s*at (.*)/.exec(error.stack ?? '')?.[1] : undefined;
  return `nimbus: unexpected error: ${message.replace(/\s*\n\s*/g, ' ')}${where === undefined ? '' : ` (at ${where})`}`;
}

export function run(): void {
  main(process.argv.slice(2), process.env).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${errorLine(error)}\n`);
      // Exit now: a half-started server must not linger (stderr is synchronous for files and pipes).
      process.exit(error instanceof NimbusError ? 2 : 1);
    },
  );
}
