import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROJECT, openConsole, shot, skip, type ConsoleSession } from './harness.ts';

describe('console shell: dashboard, languages, layout, keyboard', { skip, timeout: 180_000 }, () => {
  let session: ConsoleSession;
  let page: ConsoleSession['page'];
  before(async () => {
    session = await openConsole();
    page = session.page;
  });
  after(async () => {
    await session?.close();
  });

  it('opens the dashboard with the project name, id and number', async () => {
    await page.goto(`${session.nimbus.url}/`);
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
    const nav = session.nav();
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

  it('says plainly when a page is not built yet', async () => {
    const nav = session.nav();
    await nav.getByRole('link', { name: /Cloud Run/ }).click();
    await page.getByText('The console page for Cloud Run is not built yet.').waitFor();
    await page.setViewportSize({ width: 390, height: 800 });
    await nav.getByRole('link', { name: /^Home/ }).click();
    await page.getByTestId('project-id').waitFor();
    await shot(page, 'home-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('works from the keyboard', async () => {
    await page.goto(`${session.nimbus.url}/home`);
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
