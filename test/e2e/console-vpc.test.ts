/**
 * VPC network in the console: the default network's lists, then a custom-mode network managed end to
 * end (network + first subnet in one form, refused delete while in use, description edit, Private
 * Google Access, range expansion, a firewall rule created and edited, a static route, and deleting it
 * all), each step confirmed through the API.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openConsole, PROJECT, shot, skip, type ConsoleSession } from './harness.ts';

const BASE = `/compute/v1/projects/${PROJECT}`;
const NETWORK = 'shop-net';
const SUBNET = 'shop-seoul';
const RULE = 'shop-allow-8080';
const ROUTE = 'shop-egress';

type Json = Record<string, unknown>;

describe('console: VPC network', { skip, timeout: 240_000 }, () => {
  let session: ConsoleSession;
  let page: ConsoleSession['page'];
  before(async () => {
    session = await openConsole();
    page = session.page;
  });
  after(async () => {
    await session?.close();
  });

  const get = async (path: string): Promise<{ status: number; body: Json }> => {
    const r = await session.api('GET', `${BASE}/${path}`);
    return { status: r.status, body: r.body as Json };
  };
  const tabs = () => page.getByRole('navigation', { name: 'VPC network' });
  const status = (text: string) => page.getByRole('status').filter({ hasText: text });

  it('lists VPC networks, subnets, firewall rules and routes', async () => {
    await page.goto(`${session.nimbus.url}/home`);
    const nav = session.nav();
    await nav.getByRole('link', { name: 'VPC network' }).click();
    await page
      .getByRole('table', { name: 'VPC networks' })
      .getByRole('row', { name: /default/ })
      .waitFor();
    await tabs().getByRole('link', { name: 'Subnets' }).click();
    await page.waitForURL(/\/networking\/subnets\?project=nimbus-local$/);
    const subnet = page.getByRole('table', { name: 'Subnets' }).getByRole('row', { name: /asia-northeast3/ });
    await subnet.waitFor();
    assert.match((await subnet.textContent()) ?? '', /\d+\.\d+\.\d+\.\d+\/\d+/);
    await tabs().getByRole('link', { name: 'Firewall' }).click();
    await page
      .getByRole('table', { name: 'Firewall' })
      .getByRole('row', { name: /default-allow-ssh/ })
      .waitFor();
    await tabs().getByRole('link', { name: 'Routes' }).click();
    await page
      .getByRole('table', { name: 'Routes' })
      .getByRole('row', { name: /default/ })
      .first()
      .waitFor();
  });

  it('creates a custom network with a subnet, edits and refuses to delete it while in use', async () => {
    await page.goto(`${session.nimbus.url}/networking/networks?project=${PROJECT}`);
    await page.getByRole('button', { name: 'Create VPC network' }).click();
    const form = page.getByRole('form', { name: 'Create VPC network' });
    await form.getByLabel('Name', { exact: true }).fill(NETWORK);
    await form.getByLabel('Description', { exact: true }).fill('shop tier');
    assert.equal(await form.getByRole('radio', { name: 'Custom' }).isChecked(), true);
    await form.getByLabel('Subnet name').fill(SUBNET);
    await form.getByLabel('Region').selectOption('asia-northeast3');
    await form.getByLabel('Internal IP range').fill('10.20.0.0/24');
    await shot(page, 'vpc-create');
    // A subnet the API refuses leaves the network created; fixing the range and retrying adds the subnet.
    await form.getByLabel('Internal IP range').fill('10.20.0.0/33');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('alert').filter({ hasText: 'Must be a CIDR range' }).waitFor();
    assert.equal((await get(`global/networks/${NETWORK}`)).status, 200);
    await form.getByLabel('Internal IP range').fill('10.20.0.0/24');
    await form.getByRole('button', { name: 'Create' }).click();
    await status(`Created ${NETWORK}.`).waitFor();
    await form.waitFor({ state: 'detached' });
    const table = page.getByRole('table', { name: 'VPC networks' });
    const row = table.getByRole('row', { name: new RegExp(`^${NETWORK} `) });
    await row.waitFor();
    assert.deepEqual((await row.getByRole('cell').allTextContents()).slice(0, 5), [
      NETWORK,
      'Custom',
      '1',
      '1460',
      'shop tier',
    ]);
    await shot(page, 'vpc-networks');

    const network = await get(`global/networks/${NETWORK}`);
    assert.equal(network.body.autoCreateSubnetworks, false);
    const subnet = await get(`regions/asia-northeast3/subnetworks/${SUBNET}`);
    assert.equal(subnet.body.ipCidrRange, '10.20.0.0/24');
    assert.equal(subnet.body.privateIpGoogleAccess, false);
    assert.match(String(subnet.body.network), new RegExp(`/networks/${NETWORK}$`));

    // Google refuses to delete a network its subnet still uses; the console shows why.
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
    });
    await row.getByRole('button', { name: `Delete: ${NETWORK}` }).click();
    await page.getByRole('alert').filter({ hasText: 'is already being used by' }).waitFor();
    assert.equal((await get(`global/networks/${NETWORK}`)).status, 200);
    assert.match(dialogs[0] ?? '', new RegExp(`^Delete the network ${NETWORK}\\?`));

    // Inline edit of description and MTU (networks.patch).
    await row.getByRole('button', { name: `Edit: ${NETWORK}` }).click();
    const edit = page.getByRole('form', { name: `Edit network ${NETWORK}` });
    await edit.getByLabel('Description').fill('shop tier, Seoul');
    await edit.getByLabel('MTU').fill('1500');
    await edit.getByRole('button', { name: 'Save' }).click();
    await status(`Saved ${NETWORK}.`).waitFor();
    await table.getByRole('row', { name: /shop tier, Seoul/ }).waitFor();
    const edited = await get(`global/networks/${NETWORK}`);
    assert.equal(edited.body.description, 'shop tier, Seoul');
    assert.equal(edited.body.mtu, 1500);
  });

  it('turns Private Google Access on and expands the subnet range', async () => {
    await tabs().getByRole('link', { name: 'Subnets' }).click();
    const table = page.getByRole('table', { name: 'Subnets' });
    const row = table.getByRole('row', { name: new RegExp(`^${SUBNET} `) });
    await row.waitFor();
    assert.match(
      (await row.textContent()) ?? '',
      /asia-northeast3.*shop-net.*10\.20\.0\.0\/24.*10\.20\.0\.1/,
    );
    const access = row.getByRole('checkbox', { name: `Private Google Access: ${SUBNET}` });
    assert.equal(await access.isChecked(), false);
    await access.click();
    await status(`Private Google Access is on for ${SUBNET}.`).waitFor();
    // The list reloads after the operation: the row then shows the subnet as the API has it.
    await row.getByRole('checkbox', { name: `Private Google Access: ${SUBNET}`, checked: true }).waitFor();
    assert.match((await row.textContent()) ?? '', /On/);
    assert.equal(
      (await get(`regions/asia-northeast3/subnetworks/${SUBNET}`)).body.privateIpGoogleAccess,
      true,
    );

    // A smaller range is refused with Google's message; a larger one is taken.
    await row.getByRole('button', { name: `Expand IP range: ${SUBNET}` }).click();
    const range = row.getByLabel(`New IP range of ${SUBNET}`);
    await range.fill('10.20.0.0/25');
    await row.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').filter({ hasText: 'must be larger than' }).waitFor();
    await range.fill('10.20.0.0/23');
    await row.getByRole('button', { name: 'Save' }).click();
    await status(`The range of ${SUBNET} is now 10.20.0.0/23.`).waitFor();
    await table.getByRole('row', { name: new RegExp(`^${SUBNET} .*10\\.20\\.0\\.0/23`) }).waitFor();
    assert.equal(
      (await get(`regions/asia-northeast3/subnetworks/${SUBNET}`)).body.ipCidrRange,
      '10.20.0.0/23',
    );
    await row.scrollIntoViewIfNeeded();
    await shot(page, 'vpc-subnets');
  });

  it('creates a firewall rule and edits its ports', async () => {
    await tabs().getByRole('link', { name: 'Firewall' }).click();
    await page.getByRole('button', { name: 'Create firewall rule' }).click();
    const form = page.getByRole('form', { name: 'Create firewall rule' });
    await form.getByLabel('Name', { exact: true }).fill(RULE);
    await form.getByLabel('Network').selectOption(NETWORK);
    await form.getByLabel('Direction').selectOption('INGRESS');
    await form.getByRole('radio', { name: 'Allow' }).check();
    await form.getByLabel('Source IPv4 ranges').fill('10.0.0.0/8');
    // Unreadable protocols are caught before any request.
    await form.getByLabel('Protocols and ports').fill('tcp:http');
    await form.getByRole('button', { name: 'Create' }).click();
    await form.getByText('Write protocols and ports as').waitFor();
    assert.equal((await get(`global/firewalls/${RULE}`)).status, 404);
    await form.getByLabel('Protocols and ports').fill('tcp:8080');
    await form.getByRole('button', { name: 'Create' }).click();
    await status(`Created ${RULE}.`).waitFor();
    const table = page.getByRole('table', { name: 'Firewall' });
    const row = table.getByRole('row', { name: new RegExp(`^${RULE} `) });
    await row.waitFor();
    assert.match(
      (await row.textContent()) ?? '',
      /shop-net.*Ingress.*1000.*from 10\.0\.0\.0\/8.*Allow tcp:8080/,
    );
    const created = await get(`global/firewalls/${RULE}`);
    assert.deepEqual(created.body.allowed, [{ IPProtocol: 'tcp', ports: ['8080'] }]);
    assert.deepEqual(created.body.sourceRanges, ['10.0.0.0/8']);
    assert.match(String(created.body.network), new RegExp(`/networks/${NETWORK}$`));

    await row.getByRole('button', { name: `Edit: ${RULE}` }).click();
    const edit = page.getByRole('form', { name: `Edit firewall rule ${RULE}` });
    assert.equal(await edit.getByLabel('Protocols and ports').inputValue(), 'tcp:8080');
    assert.equal(await edit.getByLabel('Name', { exact: true }).isDisabled(), true);
    await edit.getByLabel('Protocols and ports').fill('tcp:8080,8443');
    await edit.getByRole('button', { name: 'Save' }).click();
    await status(`Saved ${RULE}.`).waitFor();
    await table.getByRole('row', { name: /Allow tcp:8080,8443/ }).waitFor();
    const edited = await get(`global/firewalls/${RULE}`);
    assert.deepEqual(edited.body.allowed, [{ IPProtocol: 'tcp', ports: ['8080', '8443'] }]);
    assert.deepEqual(edited.body.sourceRanges, ['10.0.0.0/8']);
    await shot(page, 'vpc-firewall');
  });

  it('filters firewall rules by name on the server and keeps the filter in the URL', async () => {
    await tabs().getByRole('link', { name: 'Firewall' }).click();
    const table = page.getByRole('table', { name: 'Firewall' });
    await table.getByRole('row', { name: /default-allow-ssh/ }).waitFor();
    const box = page.getByRole('searchbox', { name: 'Filter firewall rules' });
    const asked = page.waitForRequest(
      (r) =>
        r.url().includes('/global/firewalls?') &&
        new URL(r.url()).searchParams.get('filter') === 'name:"shop"',
    );
    // Typing goes on in the box after the URL has taken the first letters (focus stays).
    await box.fill('sh');
    await page.waitForURL(/[?&]filter=sh$/);
    await page.keyboard.type('op');
    await asked;
    await page.waitForURL(/\/networking\/firewalls\?project=nimbus-local&filter=shop$/);
    await table.getByRole('row', { name: /default-allow-ssh/ }).waitFor({ state: 'detached' });
    const only = async (): Promise<void> => {
      await table.getByRole('row', { name: new RegExp(`^${RULE} `) }).waitFor();
      assert.equal(await table.locator('tbody tr').count(), 1);
    };
    await only();
    // A reload keeps the filter (box and list).
    await page.reload();
    await only();
    assert.equal(await box.inputValue(), 'shop');
    // No match: its own text, not the empty-collection one.
    await box.fill('no-such-rule');
    await page.getByText('No results for this filter.').waitFor();
    assert.equal(await table.count(), 0);
    assert.equal(await page.getByText('This project has no firewall rules.').count(), 0);
    // Cleared: the whole list again, and the URL without the filter.
    await box.fill('');
    await table.getByRole('row', { name: /default-allow-ssh/ }).waitFor();
    await page.waitForURL(/\/networking\/firewalls\?project=nimbus-local$/);
  });

  it('creates a static route and deletes it; subnet routes cannot be deleted', async () => {
    await tabs().getByRole('link', { name: 'Routes' }).click();
    await page.getByRole('button', { name: 'Create route' }).click();
    const form = page.getByRole('form', { name: 'Create route' });
    await form.getByLabel('Name', { exact: true }).fill(ROUTE);
    await form.getByLabel('Network').selectOption(NETWORK);
    await form.getByLabel('Destination IP range').fill('192.168.50.0/24');
    await form.getByLabel('Priority').fill('800');
    await form.getByLabel('Next hop').selectOption('gateway');
    await form.getByRole('button', { name: 'Create' }).click();
    await status(`Created ${ROUTE}.`).waitFor();
    const table = page.getByRole('table', { name: 'Routes' });
    const row = table.getByRole('row', { name: new RegExp(`^${ROUTE} `) });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /192\.168\.50\.0\/24.*800.*Default internet gateway/);
    const created = await get(`global/routes/${ROUTE}`);
    assert.equal(created.body.destRange, '192.168.50.0/24');
    assert.match(String(created.body.nextHopGateway), /default-internet-gateway$/);

    const subnetRoute = table.getByRole('row', { name: /10\.20\.0\.0\/23/ });
    assert.match((await subnetRoute.textContent()) ?? '', /Deleted with its subnet/);
    assert.equal(await subnetRoute.getByRole('button').count(), 0);
    await row.scrollIntoViewIfNeeded();
    await shot(page, 'vpc-routes');

    await row.getByRole('button', { name: `Delete: ${ROUTE}` }).click();
    await status(`Deleted ${ROUTE}.`).waitFor();
    await row.waitFor({ state: 'detached' });
    assert.equal((await get(`global/routes/${ROUTE}`)).status, 404);
  });

  it('deletes the firewall rule, the subnet and the network', async () => {
    await tabs().getByRole('link', { name: 'Firewall' }).click();
    const rule = page
      .getByRole('table', { name: 'Firewall' })
      .getByRole('row', { name: new RegExp(`^${RULE} `) });
    await rule.getByRole('button', { name: `Delete: ${RULE}` }).click();
    await status(`Deleted ${RULE}.`).waitFor();
    await rule.waitFor({ state: 'detached' });
    assert.equal((await get(`global/firewalls/${RULE}`)).status, 404);

    await tabs().getByRole('link', { name: 'Subnets' }).click();
    const subnet = page
      .getByRole('table', { name: 'Subnets' })
      .getByRole('row', { name: new RegExp(`^${SUBNET} `) });
    await subnet.getByRole('button', { name: `Delete: ${SUBNET}` }).click();
    await status(`Deleted ${SUBNET}.`).waitFor();
    await subnet.waitFor({ state: 'detached' });
    assert.equal((await get(`regions/asia-northeast3/subnetworks/${SUBNET}`)).status, 404);

    await tabs().getByRole('link', { name: 'VPC networks' }).click();
    const network = page
      .getByRole('table', { name: 'VPC networks' })
      .getByRole('row', { name: new RegExp(`^${NETWORK} `) });
    await network.getByRole('button', { name: `Delete: ${NETWORK}` }).click();
    await status(`Deleted ${NETWORK}.`).waitFor();
    await network.waitFor({ state: 'detached' });
    assert.equal((await get(`global/networks/${NETWORK}`)).status, 404);
    const routes = (await get('global/routes')).body.items as Json[];
    assert.equal(
      routes.some((r) => String(r.network).endsWith(`/networks/${NETWORK}`)),
      false,
      'the network takes its default route along',
    );
  });

  it('fits the create forms at phone width', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    try {
      for (const [tab, button] of [
        ['networks', 'Create VPC network'],
        ['subnets', 'Add subnet'],
        ['firewalls', 'Create firewall rule'],
        ['routes', 'Create route'],
      ] as const) {
        await page.goto(`${session.nimbus.url}/networking/${tab}?project=${PROJECT}`);
        await page.getByRole('button', { name: button }).click();
        const form = page.getByRole('form', { name: button });
        await form.waitFor();
        const box = await form.boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 390, `${tab}: ${JSON.stringify(box)}`);
        const pageWidth = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(pageWidth <= 390, `${tab}: the page is ${String(pageWidth)} px wide`);
      }
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  });
});
