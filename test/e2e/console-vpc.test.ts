import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openConsole, shot, skip, type ConsoleSession } from './harness.ts';

describe('console: VPC network', { skip, timeout: 180_000 }, () => {
  let session: ConsoleSession;
  let page: ConsoleSession['page'];
  before(async () => {
    session = await openConsole();
    page = session.page;
  });
  after(async () => {
    await session?.close();
  });

  it('lists VPC networks, subnets, firewall rules and routes', async () => {
    await page.goto(`${session.nimbus.url}/home`);
    const nav = session.nav();
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
});
