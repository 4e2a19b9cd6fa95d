/**
 * JSON API batch requests (`POST /batch/storage/v1`, multipart/mixed of application/http parts)
 * through app.inject: parts run in order with the batch's credentials, each answered in its own
 * part, and one failing part does not fail the others.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'batch-main';
const BOUNDARY = '===============7330845974216740156==';

interface InnerRequest {
  method: string;
  url: string;
  body?: object;
  id?: string;
}

interface InnerResponse {
  contentId: string | undefined;
  partType: string | undefined;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A batch body as the Python client builds it (CRLF lines, `<id+n>` Content-IDs). */
function batchBody(requests: InnerRequest[]): string {
  const lines: string[] = [];
  requests.forEach((request, index) => {
    const payload = request.body === undefined ? '' : JSON.stringify(request.body);
    lines.push(
      `--${BOUNDARY}`,
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      `Content-ID: <${request.id ?? `abc+${index + 1}`}>`,
      '',
      `${request.method} ${request.url} HTTP/1.1`,
      'Content-Type: application/json',
      'Accept: application/json',
      `Content-Length: ${Buffer.byteLength(payload)}`,
      '',
      payload,
    );
  });
  lines.push(`--${BOUNDARY}--`, '');
  return lines.join('\r\n');
}

/** Splits a multipart/mixed batch answer into its inner HTTP responses. */
function parseBatchResponse(contentType: string, body: string): InnerResponse[] {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  assert.ok(boundary !== undefined, contentType);
  const out: InnerResponse[] = [];
  for (const raw of body.split(`--${boundary}`).slice(1)) {
    if (raw.startsWith('--')) {
      break;
    }
    const [partHead = '', http = ''] = raw.replace(/^\r\n/, '').split(/\r\n\r\n(.*)/s);
    const partHeaders = Object.fromEntries(
      partHead
        .split('\r\n')
        .map((line) => [line.split(':')[0]?.toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    ) as Record<string, string>;
    const [head = '', inner = ''] = http.split(/\r\n\r\n(.*)/s);
    const [statusLine = '', ...headerLines] = head.split('\r\n');
    const headers = Object.fromEntries(
      headerLines.map((line) => [
        line.split(':')[0]?.toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
    ) as Record<string, string>;
    const length = Number(headers['content-length'] ?? '0');
    assert.match(statusLine, /^HTTP\/1\.1 \d{3} \S/);
    out.push({
      contentId: partHeaders['content-id'],
      partType: partHeaders['content-type'],
      status: Number(statusLine.split(' ')[1]),
      headers,
      body: Buffer.from(inner).subarray(0, length).toString(),
    });
  }
  return out;
}

describe('Cloud Storage JSON API batch', () => {
  let t: TestApp;

  const upload = async (name: string, text: string) => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}`,
      headers: { ...bearer(t.ownerToken), 'content-type': 'text/plain' },
      payload: text,
    });
    assert.equal(res.statusCode, 200, res.body);
  };

  const batch = async (requests: InnerRequest[], headers: Record<string, string> = bearer(t.ownerToken)) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/batch/storage/v1',
      headers: { ...headers, 'content-type': `multipart/mixed; boundary="${BOUNDARY}"` },
      payload: batchBody(requests),
    });
    assert.equal(res.statusCode, 200, res.body);
    const contentType = String(res.headers['content-type']);
    assert.match(contentType, /^multipart\/mixed; boundary=/);
    return parseBatchResponse(contentType, res.body);
  };

  const exists = async (name: string): Promise<boolean> => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}`,
      headers: bearer(t.ownerToken),
    });
    return res.statusCode === 200;
  };

  before(async () => {
    t = await startTestApp({ anonymous: 'viewer' });
    const res = await t.app.inject({
      method: 'POST',
      url: `/storage/v1/b?project=${PROJECT}`,
      headers: bearer(t.ownerToken),
      payload: { name: BUCKET },
    });
    assert.equal(res.statusCode, 200, res.body);
  });
  after(async () => {
    await t.dispose();
  });

  it('runs a GET, a PATCH and a DELETE in order, a 404 part failing alone', async () => {
    await upload('one.txt', 'one');
    await upload('dir/two.txt', 'two');
    const parts = await batch([
      { method: 'GET', url: `/storage/v1/b/${BUCKET}/o/one.txt` },
      {
        method: 'PATCH',
        url: `http://storage.googleapis.com/storage/v1/b/${BUCKET}/o/one.txt?alt=json`,
        body: { metadata: { batch: 'yes' } },
      },
      { method: 'DELETE', url: `/storage/v1/b/${BUCKET}/o/no-such-object.txt` },
      { method: 'DELETE', url: `/storage/v1/b/${BUCKET}/o/${encodeURIComponent('dir/two.txt')}` },
      { method: 'GET', url: `/b/${BUCKET}/o/one.txt` },
    ]);
    assert.deepEqual(
      parts.map((p) => p.status),
      [200, 200, 404, 204, 200],
    );
    assert.deepEqual(
      parts.map((p) => p.contentId),
      ['<response-abc+1>', '<response-abc+2>', '<response-abc+3>', '<response-abc+4>', '<response-abc+5>'],
    );
    assert.ok(parts.every((p) => p.partType === 'application/http'));
    const got = JSON.parse(parts[0]?.body ?? '') as Json;
    assert.equal(got.name, 'one.txt');
    assert.equal(got.metageneration, '1');
    assert.match(parts[0]?.headers['content-type'] ?? '', /^application\/json/);
    const patched = JSON.parse(parts[1]?.body ?? '') as Json;
    assert.deepEqual(patched.metadata, { batch: 'yes' });
    assert.equal(patched.metageneration, '2');
    const missing = JSON.parse(parts[2]?.body ?? '') as { error: { code: number } };
    assert.equal(missing.error.code, 404);
    assert.equal(parts[3]?.body, '');
    // The last GET saw the PATCH before it: parts run in order.
    assert.equal((JSON.parse(parts[4]?.body ?? '') as Json).metageneration, '2');
    assert.equal(await exists('dir/two.txt'), false);
    assert.equal(await exists('one.txt'), true);
  });

  it('applies IAM to each part with the batch credentials', async () => {
    await upload('guarded.txt', 'guarded');
    // Without credentials the caller is an implicit viewer: reads succeed, deletes are denied.
    const parts = await batch(
      [
        { method: 'GET', url: `/storage/v1/b/${BUCKET}/o/guarded.txt` },
        { method: 'DELETE', url: `/storage/v1/b/${BUCKET}/o/guarded.txt` },
      ],
      {},
    );
    assert.deepEqual(
      parts.map((p) => p.status),
      [200, 403],
    );
    assert.equal(await exists('guarded.txt'), true);
    const owner = await batch([{ method: 'DELETE', url: `/storage/v1/b/${BUCKET}/o/guarded.txt` }]);
    assert.equal(owner[0]?.status, 204);
    assert.equal(await exists('guarded.txt'), false);
  });

  it('numbers parts without a Content-ID and answers bad request lines in their part', async () => {
    const body = [
      `--${BOUNDARY}`,
      'Content-Type: application/http',
      '',
      `GET /storage/v1/b/${BUCKET} HTTP/1.1`,
      '',
      '',
      `--${BOUNDARY}`,
      'Content-Type: application/http',
      '',
      'FROB /storage/v1/b HTTP/1.1',
      '',
      '',
      `--${BOUNDARY}--`,
      '',
    ].join('\r\n');
    const res = await t.app.inject({
      method: 'POST',
      url: '/batch/storage/v1',
      headers: { ...bearer(t.ownerToken), 'content-type': `multipart/mixed; boundary=${BOUNDARY}` },
      payload: body,
    });
    assert.equal(res.statusCode, 200, res.body);
    const parts = parseBatchResponse(String(res.headers['content-type']), res.body);
    assert.deepEqual(
      parts.map((p) => [p.contentId, p.status]),
      [
        ['<response-1>', 200],
        ['<response-2>', 400],
      ],
    );
  });

  it('rejects a body that is not multipart/mixed, an empty batch, and more than 100 parts', async () => {
    const json = await t.app.inject({
      method: 'POST',
      url: '/batch/storage/v1',
      headers: bearer(t.ownerToken),
      payload: { not: 'a batch' },
    });
    assert.equal(json.statusCode, 400);
    assert.equal(json.json<{ error: { code: number } }>().error.code, 400);
    const empty = await t.app.inject({
      method: 'POST',
      url: '/batch/storage/v1',
      headers: { ...bearer(t.ownerToken), 'content-type': `multipart/mixed; boundary=${BOUNDARY}` },
      payload: `--${BOUNDARY}--\r\n`,
    });
    assert.equal(empty.statusCode, 400);
    const many = Array.from({ length: 101 }, () => ({ method: 'GET', url: `/storage/v1/b/${BUCKET}` }));
    const tooMany = await t.app.inject({
      method: 'POST',
      url: '/batch/storage/v1',
      headers: { ...bearer(t.ownerToken), 'content-type': `multipart/mixed; boundary=${BOUNDARY}` },
      payload: batchBody(many),
    });
    assert.equal(tooMany.statusCode, 400);
    const hundred = await batch(many.slice(0, 100));
    assert.equal(hundred.length, 100);
    assert.ok(hundred.every((p) => p.status === 200));
  });
});
