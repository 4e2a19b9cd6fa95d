import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { NimbusError } from './core/errors.ts';

export type AnonymousMode = 'owner' | 'viewer' | 'none';

export interface NimbusConfig {
  host: string;
  port: number;
  dataDir: string;
  /** What an unauthenticated request may do. Default: owner on loopback, none elsewhere. */
  anonymous: AnonymousMode;
  /** The project created on first start and used by `nimbus env`. */
  defaultProject: string;
  /** Host names (without port) a request may address, besides loopback names and `host`. */
  allowedHosts: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Email of the local owner: the anonymous principal in owner mode and the holder of `nimbus env`'s token. */
  ownerEmail: string;
  /** Serves the Cloud Storage testbench's Retry Test API (`/retry_test`) and applies its faults. */
  testbench: boolean;
  /**
   * Port of the Cloud Storage XML (S3-compatible) face. Undefined: the main port + 1, or any free
   * port when that one is taken. Once listening, the port actually bound is written here.
   */
  s3Port?: number;
}

/** Every flag with its environment variable, default and help: the README table is this list. */
export const FLAGS = [
  { flag: '--host', env: 'NIMBUS_HOST', default: '127.0.0.1', help: 'address to listen on' },
  { flag: '--port', env: 'NIMBUS_PORT', default: '8080', help: 'port for every API and the console' },
  {
    flag: '--s3-port',
    env: 'NIMBUS_S3_PORT',
    default: 'port + 1',
    help: 'port for the Cloud Storage XML (S3-compatible) API, path-style; 0 = any free port',
  },
  { flag: '--data-dir', env: 'NIMBUS_DATA_DIR', default: '~/.nimbus', help: 'where all state is kept' },
  {
    flag: '--anonymous',
    env: 'NIMBUS_ANONYMOUS',
    default: 'owner on loopback, none otherwise',
    help: 'what requests without credentials may do: owner | viewer | none',
  },
  { flag: '--project', env: 'NIMBUS_PROJECT', default: 'nimbus-local', help: 'default project id' },
  {
    flag: '--allowed-hosts',
    env: 'NIMBUS_ALLOWED_HOSTS',
    default: '(loopback names)',
    help: 'comma-separated extra Host names accepted (DNS-rebinding guard)',
  },
  {
    flag: '--log-level',
    env: 'NIMBUS_LOG_LEVEL',
    default: 'info',
    help: 'fatal|error|warn|info|debug|trace|silent (logs go to DATA_DIR/logs/nimbus.log)',
  },
  {
    flag: '--testbench',
    env: 'NIMBUS_TESTBENCH',
    default: 'off',
    help: "serve the storage testbench's Retry Test API (/retry_test) and inject its faults; no value needed",
  },
] as const;

/** Flags that need no value (`--testbench` alone means on; `--testbench=false` turns it off). */
export const SWITCHES: readonly string[] = ['--testbench'];

function switchOn(flag: string, value: string): boolean {
  if (['1', 'true', 'yes', 'on'].includes(value.toLowerCase())) {
    return true;
  }
  if (['0', 'false', 'no', 'off'].includes(value.toLowerCase())) {
    return false;
  }
  throw badFlag(`${flag} must be true or false, not '${value}'`);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;

/** The XML face's port when `--s3-port` is not given: the main port + 1 (0 when the main port is 0). */
export function defaultS3Port(port: number): number {
  return port === 0 || port >= 65535 ? 0 : port + 1;
}

export function isLoopbackHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function badFlag(message: string): NimbusError {
  return new NimbusError('NIMBUS_ERR_BAD_FLAG', message);
}

/**
 * Parses `--flag value` / `--flag=value` arguments over NIMBUS_* environment variables over
 * defaults. The only place that reads process.env for configuration is the caller passing `env`.
 */
export function parseConfig(args: string[], env: Record<string, string | undefined>): NimbusConfig {
  const values = new Map<string, string>();
  for (const spec of FLAGS) {
    const fromEnv = env[spec.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      values.set(spec.flag, fromEnv);
    }
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    if (!FLAGS.some((spec) => spec.flag === flag)) {
      throw badFlag(`unknown flag '${arg}' (nimbus --help lists the flags)`);
    }
    let value = inline;
    if (value === undefined && SWITCHES.includes(flag ?? '')) {
      value = 'true';
    }
    if (value === undefined) {
      value = args[i + 1];
      i += 1;
    }
    if (value === undefined || value === '') {
      throw badFlag(`flag ${flag} needs a value`);
    }
    values.set(flag ?? '', value);
  }

  const host = values.get('--host') ?? '127.0.0.1';
  const portText = values.get('--port') ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw badFlag(`--port must be a number from 0 to 65535, not '${portText}'`);
  }
  const s3PortText = values.get('--s3-port');
  if (s3PortText !== undefined && (!/^\d+$/.test(s3PortText) || Number(s3PortText) > 65535)) {
    throw badFlag(`--s3-port must be a number from 0 to 65535, not '${s3PortText}'`);
  }
  const anonymousText = values.get('--anonymous') ?? (isLoopbackHost(host) ? 'owner' : 'none');
  if (anonymousText !== 'owner' && anonymousText !== 'viewer' && anonymousText !== 'none') {
    throw badFlag(`--anonymous must be owner, viewer or none, not '${anonymousText}'`);
  }
  const logLevel = values.get('--log-level') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw badFlag(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not '${logLevel}'`);
  }
  const defaultProject = values.get('--project') ?? 'nimbus-local';
  if (!PROJECT_ID.test(defaultProject)) {
    throw badFlag(
      `--project '${defaultProject}' is not a valid project id (6-30 lowercase letters, digits, hyphens; starts with a letter)`,
    );
  }
  const dataDirText = values.get('--data-dir') ?? '~/.nimbus';
  const dataDir = resolve(dataDirText.replace(/^~(?=$|\/)/, env.HOME ?? homedir()));
  const allowedHosts = (values.get('--allowed-hosts') ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  return {
    host,
    port,
    dataDir,
    anonymous: anonymousText,
    defaultProject,
    allowedHosts,
    logLevel: logLevel as NimbusConfig['logLevel'],
    ownerEmail: 'owner@nimbus.local',
    testbench: switchOn('--testbench', values.get('--testbench') ?? 'false'),
    ...(s3PortText === undefined ? {} : { s3Port: Number(s3PortText) }),
  };
}

/** A config for tests: temp data dir supplied by the caller, quiet logs. */
export function testConfig(dataDir: string, overrides: Partial<NimbusConfig> = {}): NimbusConfig {
  return { ...parseConfig(['--data-dir', dataDir, '--log-level', 'silent'], {}), ...overrides };
}
