import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { computeUnavailable, openConsole, shot, skip, type ConsoleSession } from './harness.ts';

describe('console: Compute Engine', { skip, timeout: 180_000 }, () => {
  let session: ConsoleSession;
  let page: ConsoleSession['page'];
  before(async () => {
    session = await openConsole();
    page = session.page;
  });
  after(async () => {
    await session?.close();
  });

  it('lists VM instances and offers the create form with machine shapes', async () => {
    await page.goto(`${session.nimbus.url}/home`);
    await session.nav().getByRole('link', { name: 'VM instances' }).click();
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
    const unavailable = await computeUnavailable(session.nimbus.url);
    if (unavailable !== undefined) {
      console.log(`# skipping the VM lifecycle in the console: Compute Engine is ${unavailable}`);
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
});
