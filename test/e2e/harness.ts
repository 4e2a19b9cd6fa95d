/**
 * The console's end-to-end harness: Debian's chromium, driven by playwright-core, against a spawned
 * Nimbus (temp data dir) serving the built console. Each e2e file opens its own session, so the files
 * run in parallel and never see each other's resources. Screenshots land in a scratch dir, or with
 * NIMBUS_UPDATE_SCREENSHOTS=1 in docs/console/ (linked from docs/console.md).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { tempDir } from '../helpers.ts';
import { buildBundle, REPO_ROOT, spawnNimbus, type NimbusProcess } from '../nimbus-process.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const PROJECT = 'nimbus-local';
const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
const ROUNDTRIP = join(REPO_ROOT, 'test', 'conformance', 'python', 'roundtrip.py');
const run = promisify(execFile);
// Every run saves its screenshots; NIMBUS_UPDATE_SCREENSHOTS=1 writes them over the ones the docs
// link (docs/console/), otherwise they go to a scratch directory so a test run leaves the tree clean.
const SHOTS =
  process.env.NIMBUS_UPDATE_SCREENSHOTS === '1'
    ? join(REPO_ROOT, 'docs', 'console')
    : join(tmpdir(), 'nimbus-console-screenshots');

/** `false`, or why the e2e tests cannot run here (printed once per file). */
export const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install chromium)`;
if (skip !== false) {
  console.log(`# skipping the console e2e tests: ${skip}`);
}

/** Builds console/dist when any console source is newer than it (as scripts/bootstrap.sh does). */
export function buildConsole(): void {
  const index = join(REPO_ROOT, 'console', 'dist', 'index.html');
  const newest = (path: string): number => {
    const info = statSync(path);
    if (!info.isDirectory()) {
      return info.mtimeMs;
    }
    return Math.max(
      info.mtimeMs,
      ...execFileSync('find', [path, '-type', 'f'], { encoding: 'utf8' })
        .split('\n')
        .filter((f) => f !== '')
        .map((f) => statSync(f).mtimeMs),
    );
  };
  const sources = ['src', 'index.html', 'vite.config.ts'].map((p) => join(REPO_ROOT, 'console', p));
  if (existsSync(index) && Math.max(...sources.map(newest)) <= statSync(index).mtimeMs) {
    return;
  }
  // Two e2e files may get here at once: flock makes the second wait for the first's build.
  execFileSync(
    'flock',
    [
      join(tmpdir(), 'nimbus-console-build.lock'),
      process.execPath,
      join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      'console',
    ],
    { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

export interface ConsoleSession {
  nimbus: NimbusProcess;
  browser: Browser;
  context: BrowserContext;
  /** The first tab; dialogs (confirm) are accepted. */
  page: Page;
  /** The main navigation of `page`. */
  nav: () => ReturnType<Page['getByRole']>;
  /** A JSON API call as the owner (the token the console itself uses). */
  api: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;
  close: () => Promise<void>;
}

/** Builds what is stale, spawns Nimbus on a temp data dir and opens chromium on it. */
export async function openConsole(): Promise<ConsoleSession> {
  buildBundle();
  buildConsole();
  const dataDir = tempDir('nimbus-e2e-console-');
  const nimbus = await spawnNimbus(dataDir);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const context = await browser.newContext({
    locale: 'en-US',
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
  });
  context.setDefaultTimeout(20_000);
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    void dialog.accept();
  });
  let token: string | undefined;
  const api = async (
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: unknown }> => {
    if (token === undefined) {
      const env = (await (await fetch(`${nimbus.url}/_nimbus/env`)).json()) as Record<string, string>;
      token = env.CLOUDSDK_AUTH_ACCESS_TOKEN ?? '';
    }
    const response = await fetch(`${nimbus.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as unknown) };
  };
  return {
    nimbus,
    browser,
    context,
    page,
    nav: () => page.getByRole('navigation', { name: 'Main navigation' }),
    api,
    close: async () => {
      await browser.close();
      await nimbus.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Why Compute Engine cannot run VMs on this machine, or undefined when it can. */
export async function computeUnavailable(url: string): Promise<string | undefined> {
  const services = (await (await fetch(`${url}/_nimbus/services`)).json()) as {
    services: { name: string; state: string; reason?: string }[];
  };
  const compute = services.services.find((s) => s.name === 'compute');
  return compute?.state === 'ready' ? undefined : (compute?.reason ?? 'unavailable');
}

/**
 * The seed's snippet outside the browser: Google's Python client, with GOOGLE_APPLICATION_CREDENTIALS
 * set to the key file the console downloaded, round-trips a blob (`object`) in `bucket`.
 */
export async function pythonRoundTrip(
  url: string,
  keyFile: string,
  bucket: string,
  object: string,
): Promise<boolean> {
  if (!existsSync(PYTHON)) {
    console.log(`# skipping the Python client step: ${PYTHON} is missing (sh scripts/bootstrap.sh)`);
    return false;
  }
  const work = tempDir('nimbus-e2e-python-');
  try {
    const source = join(work, 'seed.txt');
    const target = join(work, 'seed.out');
    writeFileSync(source, 'uploaded with the key the console downloaded\n');
    const args = { bucket, object, source, target, endpoint: url };
    const { stdout } = await run(PYTHON, [ROUNDTRIP, JSON.stringify(args)], {
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: work,
        CLOUDSDK_CONFIG: join(work, 'gcloud'),
        METADATA_SERVER_DETECTION: 'none',
        GCE_METADATA_HOST: '127.0.0.1:1',
        GCE_METADATA_IP: '127.0.0.1:1',
        NO_PROXY: '127.0.0.1,localhost',
        PYTHONDONTWRITEBYTECODE: '1',
        GOOGLE_APPLICATION_CREDENTIALS: keyFile,
      },
    });
    const outcome = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    assert.equal(outcome.ok, true, stdout);
    assert.equal(outcome.credentials, 'Credentials', stdout);
    assert.deepEqual(readFileSync(target), readFileSync(source));
    assert.equal(outcome.project, PROJECT, stdout);
    return true;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
