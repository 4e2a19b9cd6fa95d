/**
 * Compute Engine in the console: the seed walkthrough (dashboard -> create an e2-micro VM -> RUNNING ->
 * details and serial console -> SSH `uname -a` / `hostname` -> stop with the disk-cost warning ->
 * delete), and the create form's service account choice.
 */
import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ensureImage, isImageBuilt } from '../../src/platform/containers/images.ts';
import { findCommand } from '../../src/platform/host-packages.ts';
import { diskMonthlyUsd, formatUsd } from '../../console/src/pricing.ts';
import { computeUnavailable, openConsole, PROJECT, shot, skip, type ConsoleSession } from './harness.ts';

/** The spawned Nimbus gets no NIMBUS_* variables (test/nimbus-process.ts): it uses the default cache. */
const IMAGE_CACHE = join(homedir(), '.cache', 'nimbus', 'images');
const VM = 'seed-vm';
const STARTUP_LINE = 'hello from the seed walkthrough';

/**
 * The seed's boot image is Debian 12. It is built once (mmdebstrap from Debian's mirror, ~25-40 s)
 * into the shared cache; when it cannot be built here, the walkthrough uses BusyBox and says why.
 */
async function bootImage(): Promise<'Debian 12' | 'BusyBox'> {
  if (isImageBuilt('debian-12', IMAGE_CACHE)) {
    return 'Debian 12';
  }
  if (findCommand('mmdebstrap') === undefined) {
    console.log('# the walkthrough uses BusyBox: mmdebstrap is missing, so Debian 12 cannot be built here');
    return 'BusyBox';
  }
  const started = Date.now();
  try {
    await ensureImage('debian-12', () => undefined, IMAGE_CACHE);
    console.log(`# built the Debian 12 image in ${Math.round((Date.now() - started) / 1000)} s (cached now)`);
    return 'Debian 12';
  } catch (error) {
    console.log(
      `# the walkthrough uses BusyBox: building Debian 12 failed (${error instanceof Error ? error.message : String(error)})`,
    );
    return 'BusyBox';
  }
}

/** At phone width (390 px) the page must not scroll sideways: tables and the console scroll inside. */
async function assertFitsPhone(page: ConsoleSession['page'], name: string): Promise<void> {
  await page.setViewportSize({ width: 390, height: 800 });
  const overflowing = await page.evaluate(() =>
    document.documentElement.scrollWidth <= window.innerWidth
      ? []
      : [...document.querySelectorAll('main *')]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
          .map((e) => `${e.tagName}.${e.className}`)
          .slice(0, 8),
  );
  assert.deepEqual(overflowing, [], name);
  await shot(page, `${name}-phone`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

describe('console: Compute Engine', { skip, timeout: 420_000 }, () => {
  let session: ConsoleSession;
  let page: ConsoleSession['page'];
  let projectNumber = '';
  before(async () => {
    session = await openConsole();
    page = session.page;
    const project = await session.api('GET', `/v1/projects/${PROJECT}`);
    projectNumber = (project.body as { projectNumber?: string }).projectNumber ?? '';
  });
  after(async () => {
    await session?.close();
  });

  it('walks the seed: dashboard, create an e2-micro VM, serial console, SSH, stop, delete', async () => {
    // The dashboard names the project.
    await page.goto(`${session.nimbus.url}/home`);
    assert.equal(await page.getByTestId('project-id').textContent(), PROJECT);
    const projectName = (await page.getByTestId('project-name').textContent()) ?? '';
    assert.notEqual(projectName.trim(), '');
    console.log(`# project: ${projectName} (${PROJECT}, number ${projectNumber})`);

    // VM instances through the navigation: an empty list and the create form with its defaults.
    await session.nav().getByRole('link', { name: 'VM instances' }).click();
    await page.getByRole('heading', { name: 'VM instances', level: 1 }).waitFor();
    await page.getByText('This project has no VM instances yet.').waitFor();
    const machineType = page.getByLabel('Machine type', { exact: true });
    await machineType.locator('option[value="e2-micro"]').waitFor({ state: 'attached' });
    assert.equal(await machineType.inputValue(), 'e2-micro');
    assert.match(
      (await machineType.locator('option[value="e2-micro"]').textContent()) ?? '',
      /^e2-micro \(\d+ vCPU, [\d.]+ GB memory\)$/,
    );
    assert.equal(await page.getByLabel('Region', { exact: true }).inputValue(), 'asia-northeast3');
    const zone = page.getByLabel('Zone', { exact: true });
    assert.equal(await zone.inputValue(), 'asia-northeast3-a');
    // Zones follow the region.
    const zones = await zone.locator('option').allTextContents();
    assert.ok(zones.length > 1, zones.join(','));
    assert.ok(
      zones.every((z) => z.startsWith('asia-northeast3-')),
      zones.join(','),
    );
    const image = page.getByLabel('Boot image', { exact: true });
    assert.equal(await image.locator('option:checked').textContent(), 'Debian 12');

    const unavailable = await computeUnavailable(session.nimbus.url);
    if (unavailable !== undefined) {
      console.log(`# skipping the VM lifecycle of the walkthrough: Compute Engine is ${unavailable}`);
      await shot(page, 'vm-create');
      return;
    }
    const imageLabel = await bootImage();

    // Create the VM (a startup script marks its serial console).
    await page.getByLabel('Name', { exact: true }).fill(VM);
    await image.selectOption({ label: imageLabel });
    await page.getByLabel('Startup script', { exact: true }).fill(`#!/bin/sh\necho "${STARTUP_LINE}"`);
    await page.getByRole('form', { name: 'Create instance' }).scrollIntoViewIfNeeded();
    await shot(page, 'vm-create');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const row = page.getByRole('row', { name: new RegExp(VM) });
    await row.getByRole('cell', { name: 'RUNNING', exact: true }).waitFor({ timeout: 120_000 });
    const cells = await row.getByRole('cell').allTextContents();
    assert.equal(cells[1], 'asia-northeast3-a');
    assert.equal(cells[2], 'e2-micro');
    assert.match(cells[3] ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    await shot(page, 'vm-instances');
    await assertFitsPhone(page, 'vm-instances');

    // Its details page: shape, service account, and the serial console showing the boot.
    await row.getByRole('link', { name: VM, exact: true }).click();
    await page.waitForURL(/\/compute\/instances\/details\/asia-northeast3-a\/seed-vm\?project=/);
    await page.getByRole('heading', { name: VM, level: 1 }).waitFor();
    assert.equal(await page.getByTestId('vm-status').textContent(), 'RUNNING');
    // The shape comes from the machine type resource.
    await page
      .getByTestId('vm-machine-type')
      .getByText(/^e2-micro \(2 vCPU, 1\.0 GB memory\)$/)
      .waitFor();
    assert.equal(
      await page.getByTestId('vm-service-account').textContent(),
      `${projectNumber}-compute@developer.gserviceaccount.com`,
    );
    const startupRow = page
      .getByRole('table', { name: 'Metadata' })
      .getByRole('row', { name: /startup-script/ });
    assert.match((await startupRow.textContent()) ?? '', new RegExp(STARTUP_LINE));
    const serial = page.getByTestId('serial-output');
    // The guest agent runs the startup script at boot and logs its output to the serial console.
    await serial
      .getByText(`google_metadata_script_runner: startup-script: ${STARTUP_LINE}`)
      .waitFor({ timeout: 60_000 });
    const bootLog = (await serial.textContent()) ?? '';
    if (imageLabel === 'Debian 12') {
      assert.match(bootLog, /Debian GNU\/Linux 12|systemd/);
    }
    // Tall enough to show the facts and the serial console in one picture.
    await page.setViewportSize({ width: 1280, height: 1500 });
    await shot(page, 'vm-details');
    await assertFitsPhone(page, 'vm-details');

    // SSH opens a terminal window (xterm.js over the terminal WebSocket): run two commands in it.
    const [terminal] = await Promise.all([
      page.waitForEvent('popup'),
      page.getByRole('button', { name: `SSH: ${VM}` }).click(),
    ]);
    await terminal.getByTestId('ssh-status').getByText('Connected').waitFor();
    const screen = terminal.locator('.xterm-rows');
    await terminal.locator('.xterm-helper-textarea').focus();
    const rows = screen.locator(':scope > div');
    await terminal.keyboard.type('uname -a\n');
    // `uname -a` names the host (wait for it, so `hostname` is not typed ahead into its output).
    await rows
      .filter({ hasText: new RegExp(`^Linux ${VM} `) })
      .first()
      .waitFor();
    await terminal.keyboard.type('hostname\n');
    // `hostname` prints a row of its own.
    await rows
      .filter({ hasText: new RegExp(`^\\s*${VM}\\s*$`) })
      .first()
      .waitFor();
    assert.match((await screen.textContent()) ?? '', new RegExp(`Linux ${VM} `));
    await terminal.setViewportSize({ width: 900, height: 600 });
    await shot(terminal, 'ssh');
    await terminal.keyboard.type('exit\n');
    await terminal
      .getByTestId('ssh-status')
      .getByText(/Session ended|Connection closed/)
      .waitFor();
    await terminal.close();

    // Stop: the confirmation warns that the disks are still billed; the stopped page says it too.
    const dialogs: string[] = [];
    const record = (dialog: { message: () => string }): void => {
      dialogs.push(dialog.message());
    };
    page.on('dialog', record);
    await page.getByRole('button', { name: `Stop: ${VM}` }).click();
    await page.getByTestId('vm-status').getByText('TERMINATED', { exact: true }).waitFor({ timeout: 60_000 });
    assert.match(dialogs[0] ?? '', /disks are still billed/);
    // With a list price for the boot disk, the warning says what it costs a month.
    const disk = await session.api(
      'GET',
      `/compute/v1/projects/${PROJECT}/zones/asia-northeast3-a/disks/${VM}`,
    );
    const { sizeGb, type } = disk.body as { sizeGb: string; type: string };
    const monthly = diskMonthlyUsd(type.split('/').pop() ?? '', Number(sizeGb), 'asia-northeast3');
    if (monthly === undefined) {
      console.log(`# no list price for the ${type} disk: the stop warning has no amount`);
    } else {
      assert.ok((dialogs[0] ?? '').includes(`cost about ${formatUsd(monthly, 'en')} a month`), dialogs[0]);
    }
    assert.match((await page.getByTestId('vm-stopped-notice').textContent()) ?? '', /disks are still billed/);

    // Back to the list: delete it there, and its row goes.
    await page.getByRole('link', { name: 'VM instances' }).first().click();
    const stopped = page.getByRole('row', { name: new RegExp(VM) });
    await stopped.getByRole('cell', { name: 'TERMINATED', exact: true }).waitFor();
    await stopped.getByRole('button', { name: `Delete: ${VM}` }).click();
    await stopped.waitFor({ state: 'detached', timeout: 60_000 });
    assert.match(dialogs[1] ?? '', new RegExp(`Delete ${VM}`));
    page.off('dialog', record);
    const gone = await session.api(
      'GET',
      `/compute/v1/projects/${PROJECT}/zones/asia-northeast3-a/instances/${VM}`,
    );
    assert.equal(gone.status, 404);
    // Its details page now says the instance is gone.
    await page.goto(
      `${session.nimbus.url}/compute/instances/details/asia-northeast3-a/${VM}?project=${PROJECT}`,
    );
    await page
      .getByRole('alert')
      .getByText(`The instance ${VM} does not exist (any more) in asia-northeast3-a.`)
      .waitFor();
  });

  it('offers the default compute service account and creates a VM with no service account', async () => {
    await page.goto(`${session.nimbus.url}/compute/instances?project=${PROJECT}`);
    const account = page.getByLabel('Service account', { exact: true });
    const defaultEmail = `${projectNumber}-compute@developer.gserviceaccount.com`;
    await account.locator('option', { hasText: defaultEmail }).waitFor({ state: 'attached' });
    assert.match((await account.locator('option:checked').textContent()) ?? '', new RegExp(defaultEmail));
    const choices = await account.locator('option').allTextContents();
    assert.equal(choices.at(-1), 'No service account');
    const fullAccess = page.getByLabel('Allow full access to all Cloud APIs');
    assert.equal(await fullAccess.isEnabled(), true);
    await account.selectOption({ label: 'No service account' });
    // Without an account there are no scopes to choose.
    assert.equal(await fullAccess.isDisabled(), true);

    const unavailable = await computeUnavailable(session.nimbus.url);
    if (unavailable !== undefined) {
      console.log(`# skipping the create with no service account: Compute Engine is ${unavailable}`);
      return;
    }
    await page.getByLabel('Name', { exact: true }).fill('no-sa-vm');
    await page.getByLabel('Boot image', { exact: true }).selectOption({ label: 'BusyBox' });
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const row = page.getByRole('row', { name: /no-sa-vm/ });
    await row.getByRole('cell', { name: 'RUNNING', exact: true }).waitFor({ timeout: 60_000 });
    const path = `/compute/v1/projects/${PROJECT}/zones/asia-northeast3-a/instances/no-sa-vm`;
    const created = await session.api('GET', path);
    assert.equal(created.status, 200);
    const body = created.body as { serviceAccounts?: unknown[] };
    assert.deepEqual(body.serviceAccounts ?? [], []);

    // The filter box asks Compute for `name:"TEXT"` (filtered on the server) and keeps it in the URL.
    const list = page.getByRole('table', { name: 'VM instances' });
    const filterBox = page.getByRole('searchbox', { name: 'Filter VM instances' });
    const filtered = page.waitForRequest(
      (r) =>
        r.url().includes('/aggregated/instances?') &&
        new URL(r.url()).searchParams.get('filter') === 'name:"no-sa"',
    );
    await filterBox.fill('no-sa');
    await filtered;
    await page.waitForURL(/[?&]filter=no-sa(&|$)/);
    await list.getByRole('row', { name: /no-sa-vm/ }).waitFor();
    await filterBox.fill('zzz-none');
    await page.getByText('No results for this filter.').waitFor();
    assert.equal(await list.count(), 0);
    await filterBox.fill('');
    await page.waitForURL((url) => !url.searchParams.has('filter'));
    await row.waitFor();

    // Its details page says so.
    await row.getByRole('link', { name: 'no-sa-vm', exact: true }).click();
    assert.equal(await page.getByTestId('vm-service-account').textContent(), 'No service account');
    await page.getByRole('button', { name: 'Delete: no-sa-vm' }).click();
    // Deleting from the details page returns to the list, which drops the row when it is gone.
    await page.getByRole('heading', { name: 'VM instances', level: 1 }).waitFor();
    for (let tries = 0; (await session.api('GET', path)).status !== 404; tries++) {
      assert.ok(tries < 120, 'the instance was not deleted');
      await page.waitForTimeout(500);
    }
    await page
      .getByRole('table', { name: 'VM instances' })
      .or(page.getByText('This project has no VM instances yet.'))
      .waitFor();
    await page.getByRole('row', { name: /no-sa-vm/ }).waitFor({ state: 'detached' });
    assert.equal((await session.api('GET', path)).status, 404);
  });
});
