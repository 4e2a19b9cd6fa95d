import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  diskMonthlyUsd,
  formatUsd,
  HOURS_PER_MONTH,
  machineHourlyUsd,
  storageMonthlyUsd,
} from '../../console/src/pricing.ts';
import { PROJECT, computeUnavailable, openConsole, shot, skip, type ConsoleSession } from './harness.ts';

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

  it('estimates the monthly cost from list prices: VMs by type, stopped VMs’ disks, storage', async () => {
    const costCard = page.getByRole('region', { name: 'Estimated monthly cost' });
    const total = page.getByTestId('cost-total');
    const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
      const r = await session.api(method, path, body);
      assert.ok(r.status < 300, `${method} ${path}: ${String(r.status)} ${JSON.stringify(r.body)}`);
      return r.body as Record<string, unknown>;
    };
    const dashboard = async (): Promise<void> => {
      await page.goto(`${session.nimbus.url}/home?project=${PROJECT}`);
      await total.waitFor();
    };

    // An empty project costs nothing; the card says where its prices come from and when.
    await dashboard();
    assert.equal(await total.textContent(), '$0.00');
    await costCard.getByText(/Nothing billable in this project yet/).waitFor();
    await costCard.getByText(/read on \d{4}-\d{2}-\d{2}/).waitFor();
    assert.equal(
      await costCard.getByRole('link', { name: /VM instance pricing/ }).getAttribute('href'),
      'https://cloud.google.com/compute/vm-instance-pricing',
    );

    // A bucket in Seoul with one object: a Standard storage line priced from its bytes.
    const bucket = 'cost-estimate-e2e';
    await api('POST', `/storage/v1/b?project=${PROJECT}`, { name: bucket, location: 'ASIA-NORTHEAST3' });
    const object = await api('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=seed.json`, {
      text: 'x'.repeat(5000),
    });
    const bytes = Number(object.size);
    assert.ok(bytes > 5000);
    const storageAmount = formatUsd(
      storageMonthlyUsd('STANDARD', 'ASIA-NORTHEAST3', bytes) ?? Number.NaN,
      'en',
    );

    const why = await computeUnavailable(session.nimbus.url);
    if (why !== undefined) {
      console.log(`# skipping the VM part of the cost estimate: Compute Engine is unavailable (${why})`);
      await dashboard();
      const storageRow = costCard.getByRole('row', { name: /STANDARD · ASIA-NORTHEAST3/ });
      assert.match((await storageRow.textContent()) ?? '', /buckets: 1/);
      assert.equal(await storageRow.getByRole('cell').last().textContent(), storageAmount);
      await shot(page, 'home-cost');
      await api('DELETE', `/storage/v1/b/${bucket}/o/seed.json`);
      await api('DELETE', `/storage/v1/b/${bucket}`);
      return;
    }

    // An e2-micro VM in asia-northeast3-a, created through the API, until it is RUNNING.
    const zone = 'asia-northeast3-a';
    const instancePath = `/compute/v1/projects/${PROJECT}/zones/${zone}/instances`;
    await api('POST', instancePath, {
      name: 'cost-e2e-vm',
      machineType: `zones/${zone}/machineTypes/e2-micro`,
      disks: [
        {
          boot: true,
          autoDelete: true,
          initializeParams: { sourceImage: 'projects/nimbus-images/global/images/family/busybox' },
        },
      ],
      networkInterfaces: [{ network: 'global/networks/default' }],
    });
    const waitForStatus = async (status: string): Promise<Record<string, unknown>> => {
      let instance: Record<string, unknown> = {};
      for (let i = 0; i < 240 && instance.status !== status; i += 1) {
        instance = await api('GET', `${instancePath}/cost-e2e-vm`);
        if (instance.status !== status) {
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }
      assert.equal(instance.status, status);
      return instance;
    };
    const vm = await waitForStatus('RUNNING');
    const bootSource = (vm.disks as { source?: string }[] | undefined)?.[0]?.source ?? '';
    const bootDisk = await api(
      'GET',
      `/compute/v1/projects/${PROJECT}/zones/${zone}/disks/${bootSource.split('/').pop() ?? ''}`,
    );
    const diskType = String(bootDisk.type).split('/').pop() ?? '';
    const diskAmount = diskMonthlyUsd(diskType, Number(bootDisk.sizeGb), 'asia-northeast3');
    assert.ok(diskAmount !== undefined, `no list price for ${diskType}`);
    const vmAmount = (machineHourlyUsd('e2-micro', 'asia-northeast3') ?? Number.NaN) * HOURS_PER_MONTH;

    // The dashboard lists the running e2-micro, its boot disk and the bucket, and adds them up.
    await dashboard();
    const vmRow = costCard.getByRole('row', { name: /e2-micro · asia-northeast3/ });
    assert.equal(await vmRow.getByRole('cell').last().textContent(), formatUsd(vmAmount, 'en'));
    assert.match((await vmRow.textContent()) ?? '', /1 × \$0\.0107\/hour × 730 hours/);
    const diskRow = costCard.getByRole('row', { name: new RegExp(`${diskType} · asia-northeast3`) });
    assert.equal(await diskRow.getByRole('cell').last().textContent(), formatUsd(diskAmount, 'en'));
    const storageRow = costCard.getByRole('row', { name: /STANDARD · ASIA-NORTHEAST3/ });
    assert.equal(await storageRow.getByRole('cell').last().textContent(), storageAmount);
    const storageExact = storageMonthlyUsd('STANDARD', 'ASIA-NORTHEAST3', bytes) ?? 0;
    assert.equal(await total.textContent(), formatUsd(vmAmount + diskAmount + storageExact, 'en'));
    await shot(page, 'home-cost');

    // Stopped: no more vCPU and memory, but the disk is still billed, with the seed's warning.
    await api('POST', `${instancePath}/cost-e2e-vm/stop`);
    await waitForStatus('TERMINATED');
    await dashboard();
    await costCard.getByText(/Stopped VMs still pay for their disks/).waitFor();
    const stoppedRow = costCard.getByRole('row', { name: /cost-e2e-vm \(asia-northeast3-a\)/ });
    assert.equal(await stoppedRow.getByRole('cell').last().textContent(), formatUsd(diskAmount, 'en'));
    assert.equal(await costCard.getByRole('row', { name: /e2-micro/ }).count(), 0);
    assert.equal(await total.textContent(), formatUsd(diskAmount + storageExact, 'en'));

    // Clean up: the VM (and its auto-delete boot disk), the object and the bucket.
    await api('DELETE', `${instancePath}/cost-e2e-vm`);
    for (
      let i = 0;
      i < 240 && (await session.api('GET', `${instancePath}/cost-e2e-vm`)).status !== 404;
      i += 1
    ) {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.equal((await session.api('GET', `${instancePath}/cost-e2e-vm`)).status, 404);
    await api('DELETE', `/storage/v1/b/${bucket}/o/seed.json`);
    await api('DELETE', `/storage/v1/b/${bucket}`);
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
