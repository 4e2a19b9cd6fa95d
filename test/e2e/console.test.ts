/**
 * The web console end to end: Debian's chromium, driven by playwright-core, against a spawned Nimbus
 * (temp data dir) serving the built console. Screenshots land in a scratch dir, or with
 * NIMBUS_UPDATE_SCREENSHOTS=1 in docs/console/ (linked from docs/console.md).
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { tempDir } from '../helpers.ts';
import { buildBundle, REPO_ROOT, spawnNimbus, type NimbusProcess } from '../nimbus-process.ts';

const CHROMIUM = '/usr/bin/chromium';
const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
const ROUNDTRIP = join(REPO_ROOT, 'test', 'conformance', 'python', 'roundtrip.py');
const run = promisify(execFile);
let nimbusUrl = '';
// Every run saves its screenshots; NIMBUS_UPDATE_SCREENSHOTS=1 writes them over the ones the docs
// link (docs/console/), otherwise they go to a scratch directory so a test run leaves the tree clean.
const SHOTS =
  process.env.NIMBUS_UPDATE_SCREENSHOTS === '1'
    ? join(REPO_ROOT, 'docs', 'console')
    : join(tmpdir(), 'nimbus-console-screenshots');
const PROJECT = 'nimbus-local';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is absent (apt-get install chromium)`;
if (skip !== false) {
  console.log(`# skipping the console e2e tests: ${skip}`);
}

/** Builds console/dist when any console source is newer than it (as scripts/bootstrap.sh does). */
function buildConsole(): void {
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
  execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'console'],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

/**
 * The seed's snippet outside the browser: Google's Python client, with GOOGLE_APPLICATION_CREDENTIALS
 * set to the key file the console downloaded, creates a bucket and round-trips a blob in it.
 */
async function pythonRoundTrip(keyFile: string, email: string): Promise<void> {
  if (!existsSync(PYTHON)) {
    console.log(`# skipping the Python client step: ${PYTHON} is missing (sh scripts/bootstrap.sh)`);
    return;
  }
  const work = tempDir('nimbus-e2e-python-');
  try {
    const source = join(work, 'seed.txt');
    const target = join(work, 'seed.out');
    writeFileSync(source, 'uploaded with the key the console downloaded\n');
    const args = {
      bucket: 'console-e2e-python',
      object: 'seed.txt',
      source,
      target,
      endpoint: nimbusUrl,
      create: true,
    };
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
    assert.equal(outcome.project, PROJECT, `${stdout} (${email})`);
    // Leave the project as the storage test expects it (no buckets).
    const env = (await (await fetch(`${nimbusUrl}/_nimbus/env`)).json()) as Record<string, string>;
    const auth = { authorization: `Bearer ${env.CLOUDSDK_AUTH_ACCESS_TOKEN ?? ''}` };
    const bucketUrl = `${nimbusUrl}/storage/v1/b/console-e2e-python`;
    assert.equal((await fetch(`${bucketUrl}/o/seed.txt`, { method: 'DELETE', headers: auth })).status, 204);
    assert.equal((await fetch(bucketUrl, { method: 'DELETE', headers: auth })).status, 204);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

describe('web console (headless chromium)', { skip, timeout: 180_000 }, () => {
  let nimbus: NimbusProcess;
  let dataDir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    buildBundle();
    buildConsole();
    dataDir = tempDir('nimbus-e2e-console-');
    nimbus = await spawnNimbus(dataDir);
    nimbusUrl = nimbus.url;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    context = await browser.newContext({
      locale: 'en-US',
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
    });
    context.setDefaultTimeout(20_000);
    page = await context.newPage();
    page.on('dialog', (dialog) => {
      void dialog.accept();
    });
  });

  after(async () => {
    await browser?.close();
    await nimbus?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('opens the dashboard with the project name, id and number', async () => {
    await page.goto(`${nimbus.url}/`);
    await page.waitForURL(/\/home\?project=nimbus-local$/);
    assert.equal(await page.getByTestId('project-id').textContent(), PROJECT);
    assert.notEqual((await page.getByTestId('project-name').textContent()) ?? '', '');
    assert.match((await page.getByTestId('project-number').textContent()) ?? '', /^\d+$/);
    // Services with their state, and counts from the list calls.
    const storageRow = page.getByRole('row', { name: /Cloud Storage/ });
    await storageRow.getByText('0 buckets').waitFor();
    await page
      .getByRole('row', { name: /Identity and Access Management/ })
      .getByText(/\d+ service accounts/)
      .waitFor();
    // Services the console has no page for yet say so in the navigation.
    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    assert.match((await nav.getByRole('link', { name: /Cloud Run/ }).textContent()) ?? '', /not built yet/);
    await shot(page, 'home');

    // Create a project, land on it, then pick the first one again with the project picker.
    await page.getByText('Create project').click();
    await page.getByLabel('Project ID', { exact: true }).fill('console-e2e-project');
    await page.getByLabel('Project name', { exact: true }).fill('Console e2e project');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.waitForURL(/project=console-e2e-project$/);
    await page.getByTestId('project-id').getByText('console-e2e-project').waitFor();
    assert.equal(await page.getByTestId('project-name').textContent(), 'Console e2e project');
    await page.getByLabel('Project', { exact: true }).selectOption(PROJECT);
    await page.waitForURL(/project=nimbus-local$/);
    await page.getByTestId('project-id').getByText(PROJECT).waitFor();
  });

  it('switches to Korean and translates the navigation', async () => {
    await page.getByLabel('Language').selectOption('ko');
    const nav = page.getByRole('navigation', { name: '주 메뉴' });
    await nav.getByRole('link', { name: '홈' }).waitFor();
    await nav.getByRole('link', { name: /IAM 및 관리자/ }).waitFor();
    await nav.getByRole('link', { name: /VPC 네트워크/ }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'ko');
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), '대시보드');
    await shot(page, 'home-ko');
    // The choice sticks across a reload; switch back for the next tests.
    await page.reload();
    await page.getByRole('heading', { name: '대시보드' }).waitFor();
    await page.getByLabel('언어').selectOption('en');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  });

  it('creates a service account, adds a JSON key and downloads it, then cleans up', async () => {
    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    await nav.getByRole('link', { name: 'Service accounts' }).click();
    await page.waitForURL(/\/iam-admin\/serviceaccounts\?project=nimbus-local$/);
    await page.getByLabel('Service account ID').fill('console-e2e');
    await page.getByLabel('Display name').fill('Console e2e');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const email = `console-e2e@${PROJECT}.iam.gserviceaccount.com`;
    const row = page.getByRole('row', { name: new RegExp(email.replace(/\./g, '\\.')) });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Enabled/);

    await row.getByRole('button', { name: `Manage keys: ${email}` }).click();
    await page.getByText('No keys.').waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Add key (JSON)' }).click(),
    ]);
    assert.match(download.suggestedFilename(), /^nimbus-local-[0-9a-f]{12}\.json$/);
    const path = await download.path();
    const keyFile = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
    assert.equal(keyFile.type, 'service_account');
    assert.equal(keyFile.client_email, email);
    assert.equal(keyFile.project_id, PROJECT);
    assert.match(keyFile.private_key ?? '', /BEGIN PRIVATE KEY/);
    const keyRow = page.getByRole('row', { name: new RegExp(keyFile.private_key_id ?? 'missing') });
    await keyRow.waitFor();
    await shot(page, 'service-accounts');

    // Grant the account Owner on the project (IAM page), check it through the API, then remove it.
    const nav2 = page.getByRole('navigation', { name: 'Main navigation' });
    await nav2.getByRole('link', { name: 'IAM', exact: true }).click();
    await page.waitForURL(/\/iam-admin\/iam\?project=nimbus-local$/);
    await page.getByLabel('Principal', { exact: true }).fill(`serviceAccount:${email}`);
    await page.getByLabel('Role', { exact: true }).selectOption('roles/owner');
    await page.getByRole('button', { name: 'Save' }).click();
    const grantRow = page.getByRole('row', {
      name: new RegExp(`serviceAccount:${email.replace(/\./g, '\\.')}.*roles/owner`),
    });
    await grantRow.waitFor();
    await shot(page, 'iam');
    const policy = await page.evaluate(async () => {
      const env = (await (await fetch('/_nimbus/env')).json()) as Record<string, string>;
      const response = await fetch('/v1/projects/nimbus-local:getIamPolicy', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${env.CLOUDSDK_AUTH_ACCESS_TOKEN ?? ''}`,
          'content-type': 'application/json',
        },
        body: '{}',
      });
      return (await response.json()) as { bindings?: { role: string; members?: string[] }[] };
    });
    const owners = policy.bindings?.find((b) => b.role === 'roles/owner')?.members ?? [];
    assert.ok(owners.includes(`serviceAccount:${email}`), JSON.stringify(policy));
    await pythonRoundTrip(path, email);
    await grantRow.getByRole('button', { name: /^Remove/ }).click();
    await grantRow.waitFor({ state: 'detached' });

    await nav2.getByRole('link', { name: 'Service accounts' }).click();
    await row.getByRole('button', { name: `Manage keys: ${email}` }).click();
    await keyRow.getByRole('button', { name: /Delete/ }).click();
    await page.getByText('No keys.').waitFor();
    await row.getByRole('button', { name: `Disable: ${email}` }).click();
    await row.getByText('Disabled').waitFor();
    await row.getByRole('button', { name: `Delete: ${email}` }).click();
    await row.waitFor({ state: 'detached' });
  });

  it('creates a bucket, uploads files, browses a folder and downloads the same bytes', async () => {
    await page
      .getByRole('navigation', { name: 'Main navigation' })
      .getByRole('link', { name: 'Cloud Storage' })
      .click();
    await page.getByText('This project has no buckets yet.').waitFor();
    await page.getByLabel('Bucket name').fill('console-e2e-bucket');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('link', { name: 'console-e2e-bucket' }).click();
    await page.getByText('This folder is empty.').waitFor();

    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7) % 256));
    await page.getByLabel('Upload files').setInputFiles([
      { name: 'data.bin', mimeType: 'application/octet-stream', buffer: bytes },
      { name: 'hello.txt', mimeType: 'text/plain', buffer: Buffer.from('hello from the console\n') },
    ]);
    await page.getByText('Uploaded 2 files.').waitFor();
    await page.getByRole('row', { name: /hello\.txt/ }).waitFor();

    // A whole folder (webkitdirectory): names keep the folder's relative paths.
    const uploads = tempDir('nimbus-e2e-upload-');
    const folder = join(uploads, 'docs');
    mkdirSync(join(folder, 'sub'), { recursive: true });
    writeFileSync(join(folder, 'note.txt'), 'note');
    writeFileSync(join(folder, 'sub', 'deep.txt'), 'deep');
    writeFileSync(join(folder, 'sub', 'deeper.txt'), 'deeper');
    await page.getByLabel('Upload folder').setInputFiles(folder);
    await page.getByText('Uploaded 3 files.').waitFor();
    rmSync(uploads, { recursive: true, force: true });
    await page.getByRole('link', { name: 'docs/' }).click();
    await page.waitForURL(/prefix=docs%2F/);
    await page.getByRole('row', { name: /note\.txt/ }).waitFor();
    await page.getByRole('link', { name: 'sub/' }).waitFor();
    await page.getByRole('button', { name: 'Up one level' }).click();
    const dataRow = page.getByRole('row', { name: /data\.bin/ });
    await dataRow.waitFor();
    await shot(page, 'storage-objects');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      dataRow.getByRole('button', { name: 'Download: data.bin' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'data.bin');
    assert.deepEqual(readFileSync(await download.path()), bytes);

    await dataRow.getByRole('button', { name: 'Delete: data.bin' }).click();
    await dataRow.waitFor({ state: 'detached' });
  });

  it('lists VM instances and offers the create form with machine shapes', async () => {
    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    await nav.getByRole('link', { name: 'VM instances' }).click();
    await page.getByText('This project has no VM instances yet.').waitFor();
    const machineType = page.getByLabel('Machine type', { exact: true });
    await machineType.locator('option[value="e2-micro"]').waitFor({ state: 'attached' });
    assert.equal(await machineType.inputValue(), 'e2-micro');
    assert.match(
      (await machineType.locator('option[value="e2-micro"]').textContent()) ?? '',
      /^e2-micro \(\d+ vCPU, [\d.]+ GB memory\)$/,
    );
    assert.equal(await page.getByLabel('Zone', { exact: true }).inputValue(), 'asia-northeast3-a');
    await shot(page, 'vm-instances');

    // A tiny BusyBox VM: create, RUNNING, stop (the disk-cost warning), delete.
    const services = (await (await fetch(`${nimbus.url}/_nimbus/services`)).json()) as {
      services: { name: string; state: string; reason?: string }[];
    };
    const compute = services.services.find((s) => s.name === 'compute');
    if (compute?.state !== 'ready') {
      console.log(
        `# skipping the VM lifecycle in the console: Compute Engine is ${compute?.reason ?? 'unavailable'}`,
      );
      return;
    }
    await page.getByLabel('Name', { exact: true }).fill('console-vm');
    await page.getByLabel('Boot image', { exact: true }).selectOption({ label: 'BusyBox' });
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const row = page.getByRole('row', { name: /console-vm/ });
    await row.getByRole('cell', { name: 'RUNNING', exact: true }).waitFor({ timeout: 60_000 });
    await shot(page, 'vm-instances');

    // SSH opens a terminal window (xterm.js over the terminal WebSocket): run two commands in it.
    const [terminal] = await Promise.all([
      page.waitForEvent('popup'),
      row.getByRole('button', { name: 'SSH: console-vm' }).click(),
    ]);
    await terminal.getByTestId('ssh-status').getByText('Connected').waitFor();
    const screen = terminal.locator('.xterm-rows');
    await terminal.locator('.xterm-helper-textarea').focus();
    await terminal.keyboard.type('uname -a\n');
    await terminal.keyboard.type('hostname\n');
    // `hostname` prints a row of its own; `uname -a` names the host too.
    await screen
      .locator(':scope > div')
      .filter({ hasText: /^\s*console-vm\s*$/ })
      .first()
      .waitFor();
    assert.match((await screen.textContent()) ?? '', /Linux console-vm /);
    await terminal.setViewportSize({ width: 900, height: 600 });
    await shot(terminal, 'ssh');
    await terminal.keyboard.type('exit\n');
    await terminal
      .getByTestId('ssh-status')
      .getByText(/Session ended|Connection closed/)
      .waitFor();
    await terminal.close();

    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
    });
    await row.getByRole('button', { name: 'Stop: console-vm' }).click();
    await row.getByRole('cell', { name: 'TERMINATED', exact: true }).waitFor({ timeout: 60_000 });
    assert.match(dialogs[0] ?? '', /disks are still billed/);
    await row.getByRole('button', { name: 'Delete: console-vm' }).click();
    await row.waitFor({ state: 'detached', timeout: 60_000 });
  });

  it('lists VPC networks, subnets, firewall rules and routes', async () => {
    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    await nav.getByRole('link', { name: 'VPC network' }).click();
    await page
      .getByRole('table', { name: 'VPC networks' })
      .getByRole('row', { name: /default/ })
      .waitFor();
    const tabs = page.getByRole('navigation', { name: 'VPC network' });
    await tabs.getByRole('link', { name: 'Subnets' }).click();
    await page.waitForURL(/\/networking\/subnets\?project=nimbus-local$/);
    const subnet = page.getByRole('table', { name: 'Subnets' }).getByRole('row', { name: /asia-northeast3/ });
    await subnet.waitFor();
    assert.match((await subnet.textContent()) ?? '', /\d+\.\d+\.\d+\.\d+\/\d+/);
    await shot(page, 'vpc-subnets');
    await tabs.getByRole('link', { name: 'Firewall' }).click();
    await page
      .getByRole('table', { name: 'Firewall' })
      .or(page.getByText('This project has no firewall rules.'))
      .waitFor();
    await tabs.getByRole('link', { name: 'Routes' }).click();
    await page
      .getByRole('table', { name: 'Routes' })
      .getByRole('row', { name: /default/ })
      .first()
      .waitFor();
  });

  it('says plainly when a page is not built yet', async () => {
    const nav = page.getByRole('navigation', { name: 'Main navigation' });
    await nav.getByRole('link', { name: /Cloud Run/ }).click();
    await page.getByText('The console page for Cloud Run is not built yet.').waitFor();
    await page.setViewportSize({ width: 390, height: 800 });
    await nav.getByRole('link', { name: /^Home/ }).click();
    await page.getByTestId('project-id').waitFor();
    await shot(page, 'home-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('works from the keyboard', async () => {
    await page.goto(`${nimbus.url}/home`);
    await page.getByTestId('project-id').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    // Tab through the top bar into the navigation, then follow a link with Enter.
    let label = '';
    for (let i = 0; i < 20 && label !== 'Cloud Storage'; i += 1) {
      await page.keyboard.press('Tab');
      label = (await page.evaluate(() => document.activeElement?.textContent)) ?? '';
    }
    assert.equal(label, 'Cloud Storage');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/storage\/browser\?project=nimbus-local$/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');
  });
});
