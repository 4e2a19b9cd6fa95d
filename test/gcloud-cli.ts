/**
 * Running the real Google Cloud CLI against a test server: where gcloud is, the environment users get
 * from `GET /_nimbus/env` plus a private CLOUDSDK_CONFIG, and a proxy guard so that anything not
 * addressed to 127.0.0.1 fails instead of leaving the machine; and `gcloudSession()`, the server,
 * work dir, environment and runners that every gcloud conformance suite sets up.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { bearer, startTestServer, tempDir } from './helpers.ts';

export function findGcloud(): string | undefined {
  try {
    const path = execFileSync('which', ['gcloud'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return path.trim() === '' ? undefined : path.trim();
  } catch {
    return undefined;
  }
}

export interface GcloudResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment for gcloud acting as the local owner against the server at `url`. */
export async function gcloudEnv(
  url: string,
  port: number,
  ownerToken: string,
  configDir: string,
): Promise<NodeJS.ProcessEnv> {
  const res = await fetch(`${url}/_nimbus/env`, { headers: bearer(ownerToken) });
  if (res.status !== 200) {
    throw new Error(`GET /_nimbus/env: ${String(res.status)}`);
  }
  const nimbusEnv = (await res.json()) as Record<string, string>;
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !/^(CLOUDSDK_|GOOGLE_|GCE_|METADATA_SERVER_DETECTION$|BOTO_|(HTTPS?|ALL|NO)_PROXY$)/i.test(key),
    ),
  );
  const guard = 'http://127.0.0.1:9';
  return {
    ...inherited,
    ...nimbusEnv,
    CLOUDSDK_CONFIG: configDir,
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    METADATA_SERVER_DETECTION: 'none',
    GCE_METADATA_HOST: `127.0.0.1:${String(port)}`,
    GCE_METADATA_IP: `127.0.0.1:${String(port)}`,
    HTTP_PROXY: guard,
    HTTPS_PROXY: guard,
    http_proxy: guard,
    https_proxy: guard,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  };
}

export function runGcloud(
  gcloud: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 60_000,
): Promise<GcloudResult> {
  return new Promise((resolve) => {
    execFile(
      gcloud,
      args,
      { env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export type GcloudTestServer = Awaited<ReturnType<typeof startTestServer>>;

export interface GcloudSessionOptions {
  /** Prefix of the temp work dir; gcloud's config dir is DIR/config. */
  prefix?: string;
  /** Arguments put before every call's own, e.g. `['storage']`. */
  command?: string[];
  /** Whether every call ends with `--quiet` (default false). */
  quiet?: boolean;
  /** Variables on top of gcloudEnv's; a function gets the work dir. */
  env?: Record<string, string> | ((dir: string) => Record<string, string>);
  /** Per-call timeout unless a call gives its own (default 60 s). */
  timeoutMs?: number;
  serverOptions?: Parameters<typeof startTestServer>[0];
  /** Runs once the server listens and the work dir exists, before the environment is read. */
  setup?: (t: GcloudTestServer, dir: string) => Promise<void> | void;
}

export interface GcloudSession {
  /** The server, the environment and the work dir; they throw until `open()` has run. */
  readonly t: GcloudTestServer;
  readonly env: NodeJS.ProcessEnv;
  readonly dir: string;
  /** Starts the server, makes the work dir and reads the environment (call it from `before`). */
  open(): Promise<void>;
  readonly gcloud: (args: string[], timeoutMs?: number) => Promise<GcloudResult>;
  /** Like gcloud, asserting exit 0 with gcloud's stderr in the message. */
  readonly ok: (args: string[], timeoutMs?: number) => Promise<GcloudResult>;
  /** Runs `args --format=json`, which must succeed, and parses its output. */
  readonly json: <T>(args: string[]) => Promise<T>;
  /** Closes the server and removes the work dir (call it from `after`). */
  close(): Promise<void>;
}

/**
 * One gcloud test session: a test server, a temp work dir with gcloud's config in it, the
 * environment for the local owner, and gcloud/ok/json runners bound to them. Made synchronously so
 * that a suite can take the runners apart up front; `open()` and `close()` go in before/after.
 */
export function gcloudSession(options: GcloudSessionOptions = {}): GcloudSession {
  const binary = findGcloud() ?? 'gcloud';
  const command = options.command ?? [];
  const defaultTimeout = options.timeoutMs ?? 60_000;
  let state: { t: GcloudTestServer; env: NodeJS.ProcessEnv; dir: string } | undefined;
  let dirMade: string | undefined;
  const opened = (): { t: GcloudTestServer; env: NodeJS.ProcessEnv; dir: string } => {
    if (state === undefined) {
      throw new Error('the gcloud session is not open');
    }
    return state;
  };
  const gcloud = (args: string[], timeoutMs = defaultTimeout): Promise<GcloudResult> =>
    runGcloud(
      binary,
      [...command, ...args, ...(options.quiet === true ? ['--quiet'] : [])],
      opened().env,
      timeoutMs,
    );
  const ok = async (args: string[], timeoutMs?: number): Promise<GcloudResult> => {
    const result = await gcloud(args, timeoutMs);
    assert.equal(result.code, 0, `gcloud ${[...command, ...args].join(' ')} failed:\n${result.stderr}`);
    return result;
  };
  return {
    get t() {
      return opened().t;
    },
    get env() {
      return opened().env;
    },
    get dir() {
      return opened().dir;
    },
    async open() {
      const t = await startTestServer(options.serverOptions);
      const dir = tempDir(options.prefix ?? 'nimbus-gcloud-');
      dirMade = dir;
      mkdirSync(join(dir, 'config'));
      await options.setup?.(t, dir);
      const extra = typeof options.env === 'function' ? options.env(dir) : (options.env ?? {});
      const env = { ...(await gcloudEnv(t.url, t.port, t.ownerToken, join(dir, 'config'))), ...extra };
      state = { t, env, dir };
    },
    gcloud,
    ok,
    json: async <T>(args: string[]): Promise<T> =>
      JSON.parse((await ok([...args, '--format=json'])).stdout) as T,
    async close() {
      await state?.t.dispose();
      if (dirMade !== undefined) {
        rmSync(dirMade, { recursive: true, force: true });
      }
      state = undefined;
    },
  };
}
