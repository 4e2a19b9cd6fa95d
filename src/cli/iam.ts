import { writeFileSync } from 'node:fs';
import { SWITCHES } from '../config.ts';
import { NimbusError } from '../core/errors.ts';

/**
 * `nimbus iam ...`: the service-account steps of the seed walkthrough for users without the Google
 * Cloud CLI (same REST calls gcloud makes, as the local owner of the running server).
 */
export const IAM_HELP = `Usage:
  nimbus iam service-accounts create NAME [--display-name TEXT]
  nimbus iam service-accounts list
  nimbus iam service-accounts keys create KEY_FILE --iam-account EMAIL
  nimbus iam service-accounts keys list --iam-account EMAIL
(plus any nimbus flag, e.g. --port, --data-dir, --project)`;

/** What an iam subcommand needs from the CLI: the server, the owner's token, the project. */
export interface IamContext {
  baseUrl: string;
  token: string;
  project: string;
  out(line: string): void;
}

interface Parsed {
  positional: string[];
  options: Map<string, string>;
}

const OWN_OPTIONS = ['--display-name', '--iam-account'];

/** Splits this command's own options from the rest (which are nimbus flags). */
export function splitIamArgs(args: string[]): { own: string[]; nimbusFlags: string[] } {
  const own: string[] = [];
  const nimbusFlags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    if (!arg.startsWith('--') || arg === '--help') {
      own.push(arg);
    } else if (OWN_OPTIONS.includes(name)) {
      own.push(arg);
      if (!arg.includes('=')) {
        own.push(args[++i] ?? '');
      }
    } else {
      nimbusFlags.push(arg);
      if (!arg.includes('=') && !SWITCHES.includes(arg)) {
        nimbusFlags.push(args[++i] ?? '');
      }
    }
  }
  return { own, nimbusFlags };
}

function parse(args: string[]): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq > 0) {
        options.set(arg.slice(0, eq), arg.slice(eq + 1));
      } else {
        options.set(arg, args[++i] ?? '');
      }
    } else {
      positional.push(arg);
    }
  }
  return { positional, options };
}

function usage(message: string): NimbusError {
  return new NimbusError('NIMBUS_ERR_BAD_COMMAND', `${message}\n${IAM_HELP}`);
}

async function api(
  ctx: IamContext,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  let response: Response;
  try {
    response = await fetch(`${ctx.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${ctx.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new NimbusError(
      'NIMBUS_ERR_NOT_RUNNING',
      `Nimbus is not running at ${ctx.baseUrl}: start it with 'nimbus start'`,
    );
  }
  const parsed = (await response.json()) as Record<string, unknown>;
  if (!response.ok) {
    const message = (parsed as { error?: { message?: string } }).error?.message ?? response.statusText;
    throw new NimbusError('NIMBUS_ERR_REQUEST', `${response.status}: ${message}`);
  }
  return parsed;
}

function accountPath(ctx: IamContext, email: string): string {
  return `/v1/projects/${encodeURIComponent(ctx.project)}/serviceAccounts/${encodeURIComponent(email)}`;
}

export async function iamCommand(args: string[], ctx: IamContext): Promise<number> {
  const { positional, options } = parse(args);
  const [group, verb, third, fourth] = positional;
  if (group !== 'service-accounts') {
    throw usage(`unknown iam command '${group ?? ''}'`);
  }
  if (verb === 'create') {
    if (third === undefined || positional.length !== 3) {
      throw usage('service-accounts create takes one NAME');
    }
    const created = await api(
      ctx,
      'POST',
      `/v1/projects/${encodeURIComponent(ctx.project)}/serviceAccounts`,
      {
        accountId: third,
        serviceAccount: { displayName: options.get('--display-name') ?? '' },
      },
    );
    ctx.out(`Created service account [${String(created.email)}].`);
    return 0;
  }
  if (verb === 'list') {
    const listed = await api(ctx, 'GET', `/v1/projects/${encodeURIComponent(ctx.project)}/serviceAccounts`);
    const accounts = (listed.accounts ?? []) as { email: string; displayName?: string; disabled?: boolean }[];
    ctx.out(`${'DISPLAY NAME'.padEnd(30)} ${'EMAIL'.padEnd(60)} DISABLED`);
    for (const account of accounts) {
      ctx.out(
        `${(account.displayName ?? '').padEnd(30)} ${account.email.padEnd(60)} ${String(account.disabled === true)}`,
      );
    }
    return 0;
  }
  if (verb === 'keys') {
    const email = options.get('--iam-account');
    if (email === undefined || email === '') {
      throw usage('keys commands need --iam-account EMAIL');
    }
    if (third === 'create') {
      if (fourth === undefined || positional.length !== 4) {
        throw usage('keys create takes one KEY_FILE');
      }
      const key = await api(ctx, 'POST', `${accountPath(ctx, email)}/keys`, {});
      const keyFile = Buffer.from(String(key.privateKeyData), 'base64').toString('utf8');
      writeFileSync(fourth, keyFile, { mode: 0o600 });
      const id = String(key.name).split('/').pop() ?? '';
      ctx.out(`created key [${id}] of type [json] as [${fourth}] for [${email}]`);
      return 0;
    }
    if (third === 'list') {
      const listed = await api(ctx, 'GET', `${accountPath(ctx, email)}/keys`);
      const keys = (listed.keys ?? []) as {
        name: string;
        validAfterTime?: string;
        validBeforeTime?: string;
      }[];
      ctx.out(`${'KEY_ID'.padEnd(42)} ${'CREATED_AT'.padEnd(22)} EXPIRES_AT`);
      for (const key of keys) {
        ctx.out(
          `${(key.name.split('/').pop() ?? '').padEnd(42)} ${(key.validAfterTime ?? '').padEnd(22)} ${key.validBeforeTime ?? ''}`,
        );
      }
      return 0;
    }
  }
  throw usage(`unknown service-accounts command '${[verb, third].filter((x) => x !== undefined).join(' ')}'`);
}
