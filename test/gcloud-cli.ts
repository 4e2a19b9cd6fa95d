/**
 * Running the real Google Cloud CLI against a test server: where gcloud is, the environment users get
 * from `GET /_nimbus/env` plus a private CLOUDSDK_CONFIG, and a proxy guard so that anything not
 * addressed to 127.0.0.1 fails instead of leaving the machine.
 */
import { execFile, execFileSync } from 'node:child_process';
import { bearer } from './helpers.ts';

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
