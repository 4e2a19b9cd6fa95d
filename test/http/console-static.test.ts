import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestApp, tempDir, type TestApp } from '../helpers.ts';

/** Serving the web console's build (console/dist) at `/`, with a stand-in build in a temp dir. */
describe('web console files', () => {
  let t: TestApp;
  let dir: string;
  const saved = process.env.NIMBUS_CONSOLE_DIR;
  before(async () => {
    dir = tempDir('nimbus-console-');
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>console</title><div id="root"></div>');
    writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1);');
    writeFileSync(join(dir, 'assets', 'index-abc123.css'), 'body{}');
    process.env.NIMBUS_CONSOLE_DIR = dir;
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) {
      delete process.env.NIMBUS_CONSOLE_DIR;
    } else {
      process.env.NIMBUS_CONSOLE_DIR = saved;
    }
  });

  it('serves index.html at / without caching it', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(res.body, /<div id="root">/);
  });

  it('serves hashed assets with their content type, cached for good', async () => {
    const js = await t.app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    assert.equal(js.statusCode, 200);
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    assert.match(String(js.headers['cache-control']), /immutable/);
    assert.equal(js.body, 'console.log(1);');
    const css = await t.app.inject({ method: 'GET', url: '/assets/index-abc123.css' });
    assert.match(String(css.headers['content-type']), /^text\/css/);
    const head = await t.app.inject({ method: 'HEAD', url: '/assets/index-abc123.js' });
    assert.equal(head.statusCode, 200);
  });

  it('answers client-side routes with index.html (SPA fallback)', async () => {
    for (const url of ['/home', '/iam-admin/serviceaccounts?project=nimbus-local', '/storage/browser/b1']) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.match(res.body, /<div id="root">/, url);
    }
  });

  it('keeps Google-shaped 404s on API paths and unknown files', async () => {
    for (const url of [
      '/v1/nothing/here',
      '/storage/v1/nope',
      '/assets/missing.js',
      '/nope',
      '/_nimbus/nope',
    ]) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.equal(res.json<{ error: { status: string } }>().error.status, 'NOT_FOUND', url);
    }
  });

  it('never leaves the build directory', async () => {
    for (const url of [
      '/assets/../../etc/passwd',
      '/assets/%2e%2e/%2e%2e/etc/passwd',
      '/assets/%00x',
      '/%E0%A4%A',
    ]) {
      const res = await t.app.inject({ method: 'GET', url });
      // Fastify answers a malformed escape with 400 before routing; everything else is a 404.
      assert.equal(res.statusCode, url === '/%E0%A4%A' ? 400 : 404, url);
    }
  });

  it('leaves the APIs alone', async () => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/projects/nimbus-local',
      headers: { authorization: `Bearer ${t.ownerToken}` },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json<{ projectId: string }>().projectId, 'nimbus-local');
  });
});

describe('web console not built', () => {
  it('keeps the status page at /', async () => {
    const saved = process.env.NIMBUS_CONSOLE_DIR;
    const empty = tempDir('nimbus-console-empty-');
    process.env.NIMBUS_CONSOLE_DIR = empty;
    const t = await startTestApp();
    try {
      const res = await t.app.inject({ method: 'GET', url: '/' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /The web console is not built yet/);
      const route = await t.app.inject({ method: 'GET', url: '/home' });
      assert.equal(route.statusCode, 404);
    } finally {
      await t.dispose();
      rmSync(empty, { recursive: true, force: true });
      if (saved === undefined) {
        delete process.env.NIMBUS_CONSOLE_DIR;
      } else {
        process.env.NIMBUS_CONSOLE_DIR = saved;
      }
    }
  });
});
