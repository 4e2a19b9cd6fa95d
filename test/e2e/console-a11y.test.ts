import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PROJECT, computeUnavailable, openConsole, skip, type ConsoleSession } from './harness.ts';

/** What one page breaks of the console's accessibility and layout rules ([] when nothing). */
interface Audit {
  unnamed: string[];
  h1: number;
  lang: string;
  imagesWithoutAlt: string[];
  scrollWidth: number;
  clientWidth: number;
}

type Page = ConsoleSession['page'];

/** Runs in the page: controls without an accessible name, h1 count, html[lang], images without alt, widths. */
function audit(): Audit {
  const textOf = (ids: string): string =>
    ids
      .split(/\s+/)
      .map((id) => document.getElementById(id)?.textContent ?? '')
      .join(' ')
      .trim();
  const nameOf = (element: HTMLElement): string => {
    const label = element.getAttribute('aria-label') ?? '';
    if (label.trim() !== '') {
      return label;
    }
    const labelledBy = element.getAttribute('aria-labelledby');
    if (labelledBy !== null && textOf(labelledBy) !== '') {
      return textOf(labelledBy);
    }
    const labels =
      element instanceof HTMLInputElement ||
      element instanceof HTMLSelectElement ||
      element instanceof HTMLTextAreaElement ||
      element instanceof HTMLButtonElement
        ? [...(element.labels ?? [])]
        : [];
    const fromLabels = labels.map((l) => l.textContent ?? '').join(' ');
    if (fromLabels.trim() !== '') {
      return fromLabels;
    }
    if (element instanceof HTMLButtonElement) {
      return element.textContent ?? '';
    }
    if (element instanceof HTMLInputElement && ['submit', 'button', 'reset'].includes(element.type)) {
      return element.value;
    }
    return element.getAttribute('title') ?? '';
  };
  const describeElement = (element: Element): string =>
    `${element.tagName.toLowerCase()}${element.id === '' ? '' : `#${element.id}`}${
      element.getAttribute('name') === null ? '' : `[name=${element.getAttribute('name') ?? ''}]`
    } in ${element.parentElement?.outerHTML.slice(0, 160) ?? ''}`;
  const unnamed = [...document.querySelectorAll<HTMLElement>('input, select, textarea, button')]
    .filter((element) => !(element instanceof HTMLInputElement && element.type === 'hidden'))
    .filter((element) => nameOf(element).trim() === '')
    .map(describeElement);
  return {
    unnamed,
    h1: document.querySelectorAll('h1').length,
    lang: document.documentElement.getAttribute('lang') ?? '',
    imagesWithoutAlt: [...document.querySelectorAll('img')]
      .filter((image) => !image.hasAttribute('alt'))
      .map(describeElement),
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  };
}

/** Waits until the page has its heading and nothing says "Loading…". */
async function settled(page: Page): Promise<void> {
  await page.locator('h1').first().waitFor();
  await page.waitForFunction(
    () =>
      ![...document.querySelectorAll('[role=status]')].some((element) =>
        (element.textContent ?? '').startsWith('Loading'),
      ),
  );
}

async function check(page: Page, what: string): Promise<void> {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 800 });
    // Let layout settle at the new width (two animation frames).
    await page.evaluate(
      () =>
        new Promise<void>((resolve) => {
          requestAnimationFrame(() => {
            requestAnimationFrame(() => {
              resolve();
            });
          });
        }),
    );
    const result = await page.evaluate(audit);
    const at = `${what} at ${String(width)} px`;
    assert.deepEqual(result.unnamed, [], `${at}: controls without an accessible name`);
    assert.equal(result.h1, 1, `${at}: h1 count`);
    assert.notEqual(result.lang, '', `${at}: html[lang]`);
    assert.deepEqual(result.imagesWithoutAlt, [], `${at}: images without alt`);
    if (width === 390) {
      assert.ok(
        result.scrollWidth <= result.clientWidth + 1,
        `${at}: the page scrolls sideways (${String(result.scrollWidth)} > ${String(result.clientWidth)})`,
      );
    }
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

describe('console accessibility and phone width: every page', { skip, timeout: 180_000 }, () => {
  let session: ConsoleSession;
  let page: Page;
  const bucket = 'a11y-e2e-bucket';
  const zone = 'asia-northeast3-a';
  const instances = `/compute/v1/projects/${PROJECT}/zones/${zone}/instances`;
  let vm = false;

  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const r = await session.api(method, path, body);
    assert.ok(r.status < 300, `${method} ${path}: ${String(r.status)} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const visit = async (route: string): Promise<void> => {
    const separator = route.includes('?') ? '&' : '?';
    await page.goto(`${session.nimbus.url}${route}${separator}project=${PROJECT}`);
    await settled(page);
  };

  before(async () => {
    session = await openConsole();
    page = session.page;
    // tsx names the functions it compiles with a `__name` helper that the page does not have.
    await session.context.addInitScript({ content: 'globalThis.__name = (f) => f;' });
    await api('POST', `/storage/v1/b?project=${PROJECT}`, { name: bucket, location: 'ASIA-NORTHEAST3' });
    // A JSON body is fine: the object's bytes are the JSON text.
    await api('POST', `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=docs%2Fhello.txt`, 'hello');
    await api('POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId: 'a11y-e2e-account' });
    const why = await computeUnavailable(session.nimbus.url);
    if (why === undefined) {
      await api('POST', instances, {
        name: 'a11y-e2e-vm',
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
      vm = true;
    } else {
      console.log(`# skipping the VM details page: Compute Engine is unavailable (${why})`);
    }
  });
  after(async () => {
    if (vm) {
      await session.api('DELETE', `${instances}/a11y-e2e-vm`);
    }
    await session?.close();
  });

  it('dashboard, VM instances (list, create form, details) and a page not built yet', async () => {
    await visit('/home');
    // The audit itself sees what it looks for: an unnamed input and an image without alt.
    const probe = await page.evaluate(() => {
      const input = document.createElement('input');
      input.id = 'a11y-probe';
      const image = document.createElement('img');
      image.id = 'a11y-probe-image';
      document.body.append(input, image);
      return true;
    });
    assert.equal(probe, true);
    const caught = await page.evaluate(audit);
    assert.equal(caught.unnamed.filter((element) => element.startsWith('input#a11y-probe')).length, 1);
    assert.equal(caught.imagesWithoutAlt.filter((element) => element.startsWith('img#a11y-probe')).length, 1);
    await page.evaluate(() => {
      document.getElementById('a11y-probe')?.remove();
      document.getElementById('a11y-probe-image')?.remove();
    });
    await check(page, 'dashboard');
    await visit('/compute/instances');
    await page.getByRole('heading', { name: 'Create instance' }).waitFor();
    await check(page, 'VM instances and the create form');
    if (vm) {
      await visit(`/compute/instances/details/${zone}/a11y-e2e-vm`);
      await page.getByTestId('vm-status').waitFor();
      await check(page, 'VM details');
    }
    await visit('/services/run');
    await check(page, 'not built yet');
  });

  it('VPC network: networks, subnets, firewall rules and routes, with their create forms', async () => {
    const tabs: [string, string][] = [
      ['/networking/networks', 'Create VPC network'],
      ['/networking/subnets', 'Add subnet'],
      ['/networking/firewalls', 'Create firewall rule'],
      ['/networking/routes', 'Create route'],
    ];
    for (const [route, create] of tabs) {
      await visit(route);
      await check(page, route);
      await page.getByRole('button', { name: create, exact: true }).click();
      await page.getByRole('heading', { name: create, exact: true }).waitFor();
      await check(page, `${route} with "${create}" open`);
    }
  });

  it('Cloud Storage: buckets, objects of a bucket, a folder, object details', async () => {
    await visit('/storage/browser');
    await page.getByRole('link', { name: bucket }).waitFor();
    await check(page, 'buckets');
    await visit(`/storage/browser/${bucket}`);
    await page.getByRole('link', { name: 'docs/' }).waitFor();
    await page.getByRole('button', { name: 'Create folder' }).click();
    await check(page, 'objects with the create-folder form');
    await visit(`/storage/browser/${bucket}?prefix=docs%2F`);
    await page.getByRole('link', { name: 'hello.txt' }).waitFor();
    await check(page, 'objects of a folder');
    await visit(`/storage/browser/${bucket}?tab=configuration`);
    await page.getByRole('button', { name: 'Save' }).waitFor();
    await check(page, 'bucket configuration');
    await visit(`/storage/browser/_details/${bucket}/docs/hello.txt`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await check(page, 'object details');
  });

  it('IAM: principals, service accounts and a key panel', async () => {
    await visit('/iam-admin/iam');
    await page.getByRole('table').waitFor();
    await check(page, 'IAM principals');
    await visit('/iam-admin/serviceaccounts');
    const email = `a11y-e2e-account@${PROJECT}.iam.gserviceaccount.com`;
    await page.getByRole('button', { name: `Manage keys: ${email}` }).click();
    await page.getByRole('heading', { name: new RegExp(email) }).waitFor();
    await settled(page);
    await check(page, 'service accounts with the keys panel');
  });
});
