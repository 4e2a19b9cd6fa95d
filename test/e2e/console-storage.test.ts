import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { after, before, describe, it } from 'node:test';
import { openConsole, shot, skip, type ConsoleSession } from './harness.ts';

const PROJECT = 'nimbus-local';
const PRIVATE_BUCKET = 'console-e2e-private';

describe('console: Cloud Storage', { skip, timeout: 300_000 }, () => {
  let session: ConsoleSession;
  let page: ConsoleSession['page'];
  before(async () => {
    session = await openConsole();
    page = session.page;
  });
  after(async () => {
    await session?.close();
  });

  it('creates a bucket, uploads files, browses a folder and downloads the same bytes', async () => {
    await page.goto(`${session.nimbus.url}/home`);
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
  it('creates a bucket with public access prevention enforced', async () => {
    await page.goto(`${session.nimbus.url}/storage/browser?project=${PROJECT}`);
    await page.getByRole('link', { name: 'console-e2e-bucket' }).waitFor();
    await page.getByLabel('Bucket name').fill(PRIVATE_BUCKET);
    await page.getByRole('radio', { name: 'Region', exact: true }).check();
    await page.getByLabel('Location', { exact: true }).selectOption('asia-northeast3');
    await page.getByLabel('Storage class').selectOption('NEARLINE');
    const prevent = page.getByRole('checkbox', { name: 'Prevent public access' });
    assert.equal(await prevent.isChecked(), true, 'public access prevention is on by default');
    assert.equal(await page.getByRole('radio', { name: 'Uniform (IAM only)' }).isChecked(), true);
    await shot(page, 'storage-create-bucket');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByText(`Bucket ${PRIVATE_BUCKET} created.`).waitFor();
    const row = page.getByRole('row', { name: new RegExp(PRIVATE_BUCKET) });
    await row.getByText('Not public (prevented)').waitFor();
    await row.getByText('NEARLINE').waitFor();
    await shot(page, 'storage-buckets');

    const { status, body } = await session.api('GET', `/storage/v1/b/${PRIVATE_BUCKET}`);
    assert.equal(status, 200);
    const bucket = body as {
      location: string;
      locationType: string;
      storageClass: string;
      iamConfiguration: { publicAccessPrevention: string; uniformBucketLevelAccess: { enabled: boolean } };
    };
    assert.equal(bucket.iamConfiguration.publicAccessPrevention, 'enforced');
    assert.equal(bucket.iamConfiguration.uniformBucketLevelAccess.enabled, true);
    assert.equal(bucket.location, 'ASIA-NORTHEAST3');
    assert.equal(bucket.locationType, 'region');
    assert.equal(bucket.storageClass, 'NEARLINE');
  });

  it('uploads dropped files, creates a folder, and shows an object with a working signed URL', async () => {
    await page.goto(`${session.nimbus.url}/storage/browser/${PRIVATE_BUCKET}?project=${PROJECT}`);
    await page.getByText('This folder is empty.').waitFor();
    const zone = page.getByRole('region', { name: /Drop files or folders here/ });
    const dataTransfer = await page.evaluateHandle(() => {
      const transfer = new DataTransfer();
      transfer.items.add(new File(['dropped alpha\n'], 'drop-a.txt', { type: 'text/plain' }));
      transfer.items.add(new File([new Uint8Array(3000).map((_, i) => i % 251)], 'drop-b.bin'));
      return transfer;
    });
    await zone.dispatchEvent('dragover', { dataTransfer });
    await zone.dispatchEvent('drop', { dataTransfer });
    await page.getByText('Uploaded 2 files.').waitFor();
    await page.getByRole('link', { name: 'drop-a.txt' }).waitFor();
    await page.getByRole('link', { name: 'drop-b.bin' }).waitFor();

    await page.getByRole('button', { name: 'Create folder' }).click();
    await page.getByLabel('Folder name').fill('reports');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('link', { name: 'reports/' }).waitFor();
    const folder = await session.api(
      'GET',
      `/storage/v1/b/${PRIVATE_BUCKET}/o/${encodeURIComponent('reports/')}`,
    );
    assert.equal(folder.status, 200);
    assert.equal((folder.body as { size: string }).size, '0');

    // A dropped folder (what Chromium hands over as FileSystemEntry trees, which a script cannot
    // build: the drop event carries a stand-in with the same shape) keeps its relative paths under
    // the folder being browsed.
    await page.getByRole('link', { name: 'reports/' }).click();
    await page.getByText('This folder is empty.').waitFor();
    // A string, not a function: the test runner's transform would add helpers the page lacks.
    await page.evaluate(`(() => {
      const file = (name, text) => ({
        isFile: true,
        isDirectory: false,
        name,
        file: (resolve) => resolve(new File([text], name, { type: 'text/plain' })),
      });
      const directory = (name, children) => ({
        isFile: false,
        isDirectory: true,
        name,
        createReader: () => {
          // Two batches, then an empty one, as readEntries answers.
          const batches = [children.slice(0, 1), children.slice(1), []];
          return { readEntries: (resolve) => resolve(batches.shift() ?? []) };
        },
      });
      const album = directory('album', [
        file('a.txt', 'first'),
        directory('sub', [file('b.txt', 'second'), file('c.txt', 'third')]),
      ]);
      const event = new DragEvent('drop', { bubbles: true, cancelable: true });
      Object.defineProperty(event, 'dataTransfer', {
        value: {
          types: ['Files'],
          files: [],
          items: [{ kind: 'file', webkitGetAsEntry: () => album, getAsFile: () => null }],
        },
      });
      document.querySelector('section.drop-zone').dispatchEvent(event);
    })()`);
    await page.getByText('Uploaded 3 files.').waitFor();
    await page.getByRole('link', { name: 'album/' }).waitFor();
    const listed = await session.api('GET', `/storage/v1/b/${PRIVATE_BUCKET}/o?prefix=reports/album/`);
    assert.deepEqual(
      ((listed.body as { items?: { name: string }[] }).items ?? []).map((item) => item.name),
      ['reports/album/a.txt', 'reports/album/sub/b.txt', 'reports/album/sub/c.txt'],
    );
    await page.getByRole('button', { name: 'Up one level' }).click();

    // The signer: a service account that may read the bucket.
    const created = await session.api('POST', `/v1/projects/${PROJECT}/serviceAccounts`, {
      accountId: 'console-url-signer',
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const signer = (created.body as { email: string }).email;
    const policy = await session.api('GET', `/storage/v1/b/${PRIVATE_BUCKET}/iam`);
    const granted = await session.api('PUT', `/storage/v1/b/${PRIVATE_BUCKET}/iam`, {
      ...(policy.body as object),
      bindings: [{ role: 'roles/storage.objectViewer', members: [`serviceAccount:${signer}`] }],
    });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));

    await page.getByRole('link', { name: 'drop-b.bin' }).click();
    await page.waitForURL(/\/storage\/browser\/_details\/console-e2e-private\/drop-b\.bin/);
    const meta = (await session.api('GET', `/storage/v1/b/${PRIVATE_BUCKET}/o/drop-b.bin`)).body as {
      size: string;
      crc32c: string;
      md5Hash: string;
      generation: string;
    };
    assert.equal(meta.size, '3000');
    const facts = page.getByRole('region', { name: 'Overview' });
    await facts.getByText('2.9 KiB (3000 bytes)').waitFor();
    await facts.getByText(meta.crc32c, { exact: true }).waitFor();
    await facts.getByText(meta.md5Hash, { exact: true }).waitFor();
    await facts.getByText(meta.generation, { exact: true }).waitFor();
    const crcHex = Buffer.from(meta.crc32c, 'base64').toString('hex');
    await facts.getByText(crcHex, { exact: true }).waitFor();
    await page
      .getByRole('region', { name: 'Access' })
      .getByText('No: public access prevention is enforced on the bucket')
      .waitFor();

    const signing = page.getByRole('region', { name: 'Signed URL' });
    await signing.getByLabel('Signing service account').selectOption(signer);
    await signing.getByLabel('Valid for').selectOption({ label: '1 hour' });
    await signing.getByRole('button', { name: 'Create signed URL' }).click();
    const field = signing.getByLabel(/^Signed URL, valid until/);
    await field.waitFor();
    const url = await field.inputValue();
    assert.match(url, /X-Goog-Algorithm=GOOG4-RSA-SHA256/);
    assert.match(url, /X-Goog-Expires=3600/);
    await page.evaluate(() => {
      window.scrollTo(0, 0);
    });
    await shot(page, 'storage-object-details');

    // Phone width: the details page and the object list fit without sideways scrolling.
    await page.setViewportSize({ width: 390, height: 800 });
    const overflow = () =>
      page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(await overflow(), 0);
    await page.goBack();
    await page.getByRole('link', { name: 'drop-a.txt' }).waitFor();
    assert.equal(await overflow(), 0);
    await page.setViewportSize({ width: 1280, height: 800 });

    // Fetched from outside the browser, with no credentials: the signature is what grants access.
    const expected = Buffer.from(new Uint8Array(3000).map((_, i) => i % 251));
    const response = await fetch(url);
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), expected);
    const tampered = url.replace(
      /(X-Goog-Signature=)([0-9a-f])/,
      (_all, head: string, digit: string) => head + (digit === '0' ? '1' : '0'),
    );
    assert.equal((await fetch(tampered)).status, 403);
  });

  it('uploads a 20 MiB file in resumable chunks with the same MD5', async () => {
    await page.goto(`${session.nimbus.url}/storage/browser/${PRIVATE_BUCKET}?project=${PROJECT}`);
    await page.getByRole('link', { name: 'drop-a.txt' }).waitFor();
    const big = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) {
      big.writeUInt32LE((i * 2654435761) >>> 0, i);
    }
    const chunks: string[] = [];
    const onRequest = (request: {
      method: () => string;
      url: () => string;
      headers: () => Record<string, string>;
    }) => {
      if (request.method() === 'PUT' && request.url().includes('uploadType=resumable')) {
        chunks.push(request.headers()['content-range'] ?? '');
      }
    };
    page.on('request', onRequest);
    await page
      .getByLabel('Upload files')
      .setInputFiles([{ name: 'big.bin', mimeType: 'application/octet-stream', buffer: big }]);
    await page.getByText('Uploaded 1 files.').waitFor({ timeout: 60_000 });
    page.off('request', onRequest);
    assert.deepEqual(chunks, [
      'bytes 0-8388607/20971520',
      'bytes 8388608-16777215/20971520',
      'bytes 16777216-20971519/20971520',
    ]);
    const meta = (await session.api('GET', `/storage/v1/b/${PRIVATE_BUCKET}/o/big.bin`)).body as {
      size: string;
      md5Hash: string;
    };
    assert.equal(meta.size, String(big.length));
    assert.equal(meta.md5Hash, createHash('md5').update(big).digest('base64'));
  });

  it('pages through a bucket of 10,050 objects one page at a time', async () => {
    const bucket = 'console-e2e-many';
    assert.equal(
      (await session.api('POST', `/storage/v1/b?project=${PROJECT}`, { name: bucket })).status,
      200,
    );
    const env = (await (await fetch(`${session.nimbus.url}/_nimbus/env`)).json()) as Record<string, string>;
    const token = env.CLOUDSDK_AUTH_ACCESS_TOKEN ?? '';
    const total = 10_050;
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < total; i = next++) {
        // The last three have names of their own, for the filter.
        const name =
          i < total - 3 ? `item-${String(i).padStart(5, '0')}.txt` : `report-${String(i - total + 4)}.txt`;
        const response = await fetch(
          `${session.nimbus.url}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${name}`,
          {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
            body: String(i),
          },
        );
        assert.equal(response.status, 200);
        await response.arrayBuffer();
      }
    };
    await Promise.all(Array.from({ length: 24 }, worker));

    await page.goto(`${session.nimbus.url}/storage/browser/${bucket}?project=${PROJECT}`);
    const table = page.getByRole('table', { name: `Objects in ${bucket}` });
    await table.getByRole('link', { name: 'item-00000.txt' }).waitFor();
    // One page (50 rows) is rendered, never the whole bucket.
    assert.equal(await table.locator('tbody tr').count(), 50);
    await page.getByRole('button', { name: 'Next page' }).click();
    await table.getByRole('link', { name: 'item-00050.txt' }).waitFor();
    assert.equal(await table.locator('tbody tr').count(), 50);
    await page.getByText('Page 2').waitFor();
    // The page still answers input: select a row and the bulk delete button counts it.
    await table.getByRole('checkbox', { name: 'Select: item-00051.txt' }).check();
    await page.getByRole('button', { name: 'Delete selected (1)' }).waitFor();
    await page.getByRole('button', { name: 'Previous page' }).click();
    await table.getByRole('link', { name: 'item-00000.txt' }).waitFor();
    await page.getByRole('button', { name: 'Delete selected (0)' }).waitFor();

    // The filter box lists by name prefix on the server (objects.list `prefix`) from the first page.
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Page 2').waitFor();
    const box = page.getByRole('searchbox', { name: 'Filter objects and folders' });
    const asked = page.waitForRequest(
      (r) => r.url().includes(`/b/${bucket}/o?`) && new URL(r.url()).searchParams.get('prefix') === 'report-',
    );
    await box.fill('report-');
    await asked;
    await page.waitForURL(/[?&]filter=report-(&|$)/);
    await table.getByRole('link', { name: 'report-1.txt' }).waitFor();
    const names = await table.locator('tbody tr td:nth-child(2)').allTextContents();
    assert.deepEqual(
      names.map((n) => n.trim()),
      ['report-1.txt', 'report-2.txt', 'report-3.txt'],
    );
    // Back on the first page: one page of results, no pager.
    assert.equal(await page.getByRole('button', { name: 'Previous page' }).count(), 0);
    await page.reload();
    await table.getByRole('link', { name: 'report-3.txt' }).waitFor();
    assert.equal(await table.locator('tbody tr').count(), 3);
    assert.equal(await box.inputValue(), 'report-');
    await box.fill('nothing-');
    await page.getByText('No results for this filter.').waitFor();
    assert.equal(await page.getByText('This folder is empty.').count(), 0);
    assert.equal(await table.count(), 0);
    await box.fill('');
    await table.getByRole('link', { name: 'item-00000.txt' }).waitFor();
    assert.equal(await table.locator('tbody tr').count(), 50);

    // Buckets by name prefix (buckets.list `prefix`), straight from a URL.
    await page.goto(`${session.nimbus.url}/storage/browser?project=${PROJECT}&filter=console-e2e-m`);
    const buckets = page.getByRole('table', { name: 'Buckets' });
    await buckets.getByRole('link', { name: bucket }).waitFor();
    assert.equal(await buckets.locator('tbody tr').count(), 1);
    assert.equal(await page.getByRole('searchbox', { name: 'Filter buckets' }).inputValue(), 'console-e2e-m');
  });

  it('edits bucket settings and deletes a folder with everything under it', async () => {
    const bucket = 'console-e2e-bucket';
    // Start from "not enforced", so the settings view is what turns prevention on.
    const reset = await session.api('PATCH', `/storage/v1/b/${bucket}`, {
      iamConfiguration: { publicAccessPrevention: 'inherited' },
    });
    assert.equal(reset.status, 200);
    await page.goto(`${session.nimbus.url}/storage/browser/${bucket}?project=${PROJECT}`);
    await page.getByRole('link', { name: 'Configuration' }).click();
    await page.waitForURL(/[?&]tab=configuration/);
    await page.getByRole('heading', { name: 'Bucket settings' }).waitFor();
    const prevent = page.getByRole('checkbox', { name: 'Prevent public access' });
    assert.equal(await prevent.isChecked(), false);
    await prevent.check();
    await page.getByRole('checkbox', { name: /object versioning/ }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Bucket settings saved.').waitFor();
    await shot(page, 'storage-bucket-settings');
    const got = await session.api('GET', `/storage/v1/b/${bucket}`);
    const settings = got.body as {
      iamConfiguration?: { publicAccessPrevention?: string };
      versioning?: { enabled?: boolean };
    };
    assert.equal(settings.iamConfiguration?.publicAccessPrevention, 'enforced');
    assert.equal(settings.versioning?.enabled, true);

    // docs/ holds note.txt and sub/deep.txt, sub/deeper.txt (uploaded by the first test).
    await page.getByRole('link', { name: 'Objects', exact: true }).click();
    const before = await session.api('GET', `/storage/v1/b/${bucket}/o?prefix=docs/`);
    assert.equal((before.body as { items?: unknown[] }).items?.length, 3);
    const asked = new Promise<string>((resolve) => {
      page.once('dialog', (dialog) => {
        resolve(dialog.message());
      });
    });
    await page.getByRole('button', { name: 'Delete: docs/' }).click();
    assert.match(await asked, /Delete folder docs\/ and the 3 objects under it\?/);
    await page.getByText('Deleted folder docs/ (3 objects).').waitFor();
    await page.getByRole('link', { name: 'docs/' }).waitFor({ state: 'detached' });
    const after = await session.api('GET', `/storage/v1/b/${bucket}/o?prefix=docs/`);
    assert.deepEqual((after.body as { items?: unknown[] }).items ?? [], []);
  });
});
