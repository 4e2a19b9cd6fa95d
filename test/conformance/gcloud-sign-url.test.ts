/**
 * `gcloud storage sign-url gs://B/O --duration 10m --private-key-file KEY.json` (the real Google
 * Cloud CLI, signing locally with a key Nimbus issued) yields a URL that Nimbus honours.
 *
 * Which host gcloud signs: `sign-url` always targets the XML API at the (hidden) property
 * `storage/gs_xml_endpoint_url` (default https://storage.googleapis.com) and signs that endpoint's
 * host, port included. Setting `CLOUDSDK_STORAGE_GS_XML_ENDPOINT_URL` to the XML face's path-style
 * endpoint (`AWS_ENDPOINT_URL_S3` from /_nimbus/env) makes gcloud emit a URL that points at Nimbus
 * and is signed for Nimbus's own host, so the URL is fetched exactly as printed: no Host rewriting.
 * The bucket's region (the credential scope's location) is looked up through the JSON API override.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startXmlPort } from '../../src/services/storage/xml/index.ts';
import { findGcloud, gcloudSession, type GcloudTestServer } from '../gcloud-cli.ts';
import { bearer, withBinding } from '../helpers.ts';

const GCLOUD = findGcloud();
const PROJECT = 'nimbus-local';
const BUCKET = 'gcloud-sign-url';
const OBJECT = 'reports/2026 q4.txt';
const CONTENT = Buffer.from('signed by gcloud\n');

describe('gcloud storage sign-url', { skip: GCLOUD === undefined ? 'gcloud not installed' : false }, () => {
  let t: GcloudTestServer;
  let keyPath: string;
  let s3Endpoint: string;

  const session = gcloudSession({
    prefix: 'nimbus-gcloud-sign-url-',
    timeoutMs: 120_000,
    // The XML face's own port (main.ts starts it after listening; test servers start it here).
    setup: async (server) => {
      if (server.platform.config.s3Port === undefined) {
        server.platform.config.s3Port = 0; // any free port, never a fixed one in tests
        await startXmlPort(server.platform);
      }
    },
  });
  const { gcloud } = session;

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: {
        ...bearer(t.ownerToken),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> };
  };

  const signUrl = async (...extra: string[]): Promise<string> => {
    const result = await gcloud([
      'storage',
      'sign-url',
      `gs://${BUCKET}/${OBJECT}`,
      '--duration',
      '10m',
      '--private-key-file',
      keyPath,
      ...extra,
      '--format=json',
    ]);
    assert.equal(result.code, 0, `gcloud storage sign-url failed:\n${result.stderr}`);
    const [entry] = JSON.parse(result.stdout) as { signed_url: string }[];
    assert.ok(entry !== undefined);
    return entry.signed_url;
  };

  before(async () => {
    await session.open();
    t = session.t;
    const { env } = session;
    s3Endpoint = env.AWS_ENDPOINT_URL_S3 ?? '';
    env.CLOUDSDK_STORAGE_GS_XML_ENDPOINT_URL = s3Endpoint;

    const account = await api('POST', `/v1/projects/${PROJECT}/serviceAccounts`, {
      accountId: 'gcloud-signer',
    });
    assert.equal(account.status, 200, JSON.stringify(account.body));
    const email = String(account.body.email);
    const key = await api('POST', `/v1/projects/${PROJECT}/serviceAccounts/${email}/keys`, {});
    assert.equal(key.status, 200, JSON.stringify(key.body));
    keyPath = join(session.dir, 'key.json');
    writeFileSync(keyPath, Buffer.from(String(key.body.privateKeyData), 'base64'));
    const policy = await api('POST', `/v1/projects/${PROJECT}:getIamPolicy`, {});
    const current = policy.body as { bindings?: { role: string; members: string[] }[]; etag?: string };
    const set = await api('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: {
        bindings: withBinding(current, 'roles/storage.objectViewer', `serviceAccount:${email}`),
        etag: current.etag,
      },
    });
    assert.equal(set.status, 200);
    assert.equal((await api('POST', `/storage/v1/b?project=${PROJECT}`, { name: BUCKET })).status, 200);
    const upload = await fetch(
      `${t.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(OBJECT)}`,
      { method: 'POST', headers: { ...bearer(t.ownerToken), 'content-type': 'text/plain' }, body: CONTENT },
    );
    assert.equal(upload.status, 200);
  });

  after(() => session.close());

  it('signs a URL for the XML face that returns the object', async () => {
    assert.match(s3Endpoint, /^http:\/\/127\.0\.0\.1:\d+$/);
    const url = await signUrl();
    assert.ok(url.startsWith(`${s3Endpoint}/${BUCKET}/reports/2026%20q4.txt?`), url);
    assert.match(url, /x-goog-algorithm=GOOG4-RSA-SHA256/);
    const res = await fetch(url);
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), CONTENT);
  });

  it('refuses the URL tampered with or used with another method', async () => {
    const url = await signUrl();
    const tampered = url.replace(
      /(x-goog-signature=)([0-9a-f])/,
      (_all, prefix: string, digit: string) => prefix + (digit === '0' ? '1' : '0'),
    );
    const bad = await fetch(tampered);
    assert.equal(bad.status, 403);
    assert.match(await bad.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
    const deleted = await fetch(url, { method: 'DELETE' });
    assert.equal(deleted.status, 403);
    assert.equal((await api('GET', `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(OBJECT)}`)).status, 200);
  });
});
