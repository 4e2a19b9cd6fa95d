import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.ts';
import { after, before, describe, it } from 'node:test';
import { openConsole, shot, skip, type ConsoleSession } from './harness.ts';

describe('console: Cloud Storage', { skip, timeout: 180_000 }, () => {
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
});
