import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PROJECT, openConsole, pythonRoundTrip, shot, skip, type ConsoleSession } from './harness.ts';

describe('console: IAM and service accounts', { skip, timeout: 180_000 }, () => {
  let session: ConsoleSession;
  let page: ConsoleSession['page'];
  before(async () => {
    session = await openConsole();
    page = session.page;
  });
  after(async () => {
    await session?.close();
  });

  it('creates a service account, adds a JSON key and downloads it, then cleans up', async () => {
    await page.goto(`${session.nimbus.url}/home`);
    const nav = session.nav();
    await nav.getByRole('link', { name: 'Service accounts' }).click();
    await page.waitForURL(/\/iam-admin\/serviceaccounts\?project=nimbus-local$/);
    await page.getByLabel('Service account ID').fill('console-e2e');
    await page.getByLabel('Display name').fill('Console e2e');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const email = `console-e2e@${PROJECT}.iam.gserviceaccount.com`;
    const row = page.getByRole('row', { name: new RegExp(email.replace(/\./g, '\\.')) });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /Enabled/);

    // The IAM API has no list filter: the box narrows the page on screen, and says so.
    const box = page.getByRole('searchbox', { name: 'Filter service accounts' });
    assert.match((await box.getAttribute('placeholder')) ?? '', /this page/);
    await box.fill('CONSOLE E2E');
    await page.waitForURL(/[?&]filter=CONSOLE(\+|%20)E2E$/);
    await row.waitFor();
    assert.equal(await page.getByRole('table', { name: 'Service accounts' }).locator('tbody tr').count(), 1);
    await box.fill('zzz-none');
    await page.getByText('No results for this filter on this page.').waitFor();
    await row.waitFor({ state: 'detached' });
    await box.fill('');
    await row.waitFor();

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
    const nav2 = session.nav();
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
    // The seed's snippet, outside the browser, with the downloaded key: a blob into the seed's bucket,
    // which the console then lists.
    const created = await session.api('POST', `/storage/v1/b?project=${PROJECT}`, { name: 'awesome-gcp' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    if (await pythonRoundTrip(session.nimbus.url, path, 'awesome-gcp', 'models/model.pkl')) {
      await page.goto(
        `${session.nimbus.url}/storage/browser/awesome-gcp?project=${PROJECT}&prefix=models%2F`,
      );
      await page.getByRole('row', { name: /model\.pkl/ }).waitFor();
      await page.goBack();
    }
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
});
