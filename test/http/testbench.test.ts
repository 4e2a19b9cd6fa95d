/**
 * The storage testbench's Retry Test API (`--testbench`): resource CRUD, and each kind of fault as
 * a raw HTTP client sees it on the wire (error status, connection reset, broken download stream,
 * resumable upload cut after N KiB, truncated final response).
 */
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../../src/config.ts';
import { classifyStorageRequest } from '../../src/services/testbench/classify.ts';
import { startTestApp, startTestServer, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const KiB = 1024;

interface RawAnswer {
  status?: number;
  headers?: IncomingHttpHeaders;
  body: Buffer;
  /** The socket error or premature close the client saw, if any. */
  error?: string;
}

/** One request over a fresh connection, reporting whatever arrived before a failure. */
async function raw(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<RawAnswer> {
  return await new Promise((resolve) => {
    const parts: Buffer[] = [];
    let answer: RawAnswer = { body: Buffer.alloc(0) };
    const done = (error?: string): void => {
      resolve({ ...answer, body: Buffer.concat(parts), ...(error === undefined ? {} : { error }) });
    };
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      answer = { status: res.statusCode, headers: res.headers, body: Buffer.alloc(0) };
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => {
        done();
      });
      res.on('aborted', () => {
        done('aborted');
      });
      res.on('error', (error) => {
        done((error as NodeJS.ErrnoException).code ?? error.message);
      });
    });
    req.on('error', (error) => {
      done((error as NodeJS.ErrnoException).code ?? error.message);
    });
    req.end(body);
  });
}

function json(answer: RawAnswer): Json {
  return JSON.parse(answer.body.toString('utf8')) as Json;
}

describe('storage testbench Retry Test API', () => {
  let server: TestApp & { url: string; port: number };

  const createTest = async (instructions: Record<string, string[]>): Promise<string> => {
    const answer = await raw(
      server.port,
      'POST',
      '/retry_test',
      { 'content-type': 'application/json' },
      JSON.stringify({ instructions }),
    );
    assert.equal(answer.status, 200, answer.body.toString());
    return json(answer).id as string;
  };
  const completed = async (id: string): Promise<boolean> =>
    json(await raw(server.port, 'GET', `/retry_test/${id}`)).completed as boolean;

  const createBucket = async (name: string): Promise<void> => {
    const answer = await raw(
      server.port,
      'POST',
      `/storage/v1/b?project=${PROJECT}`,
      { 'content-type': 'application/json' },
      JSON.stringify({ name }),
    );
    assert.equal(answer.status, 200, answer.body.toString());
  };
  const putObject = async (bucket: string, name: string, data: Buffer): Promise<void> => {
    const answer = await raw(
      server.port,
      'POST',
      `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${name}`,
      { 'content-type': 'application/octet-stream' },
      data,
    );
    assert.equal(answer.status, 200, answer.body.toString());
  };

  before(async () => {
    server = await startTestServer({ testbench: true });
    await createBucket('tb-bucket');
  });
  after(async () => {
    await server.dispose();
  });

  it('creates, reads, lists and deletes retry tests (at the root and under /_nimbus)', async () => {
    const created = await raw(
      server.port,
      'POST',
      '/retry_test',
      { 'content-type': 'application/json' },
      JSON.stringify({ instructions: { 'storage.buckets.list': ['return-503'] }, transport: 'HTTP' }),
    );
    assert.equal(created.status, 200);
    const test = json(created);
    assert.match(test.id as string, /^[0-9a-f]{32}$/);
    assert.deepEqual(test.instructions, { 'storage.buckets.list': ['return-503'] });
    assert.equal(test.completed, false);
    assert.equal(test.transport, 'HTTP');

    const read = await raw(server.port, 'GET', `/_nimbus/retry_test/${test.id as string}`);
    assert.deepEqual(json(read), test);
    const listed = json(await raw(server.port, 'GET', '/retry_tests')).retry_test as Json[];
    assert.ok(listed.some((item) => item.id === test.id));

    assert.equal((await raw(server.port, 'DELETE', `/retry_test/${test.id as string}`)).status, 200);
    const gone = await raw(server.port, 'GET', `/retry_test/${test.id as string}`);
    assert.equal(gone.status, 404);
    assert.equal((json(gone).error as Json).status, 'NOT_FOUND');
  });

  it('refuses unknown methods, malformed instructions and the gRPC transport with 400', async () => {
    for (const body of [
      { instructions: { 'storage.buckets.frobnicate': ['return-503'] } },
      { instructions: { 'storage.buckets.list': ['return-sometimes'] } },
      { instructions: { 'storage.buckets.list': ['return-200'] } },
      { instructions: { 'storage.buckets.list': 'return-503' } },
      { instructions: {} },
      {},
      { instructions: { 'storage.buckets.list': ['return-503'] }, transport: 'GRPC' },
    ]) {
      const answer = await raw(
        server.port,
        'POST',
        '/retry_test',
        { 'content-type': 'application/json' },
        JSON.stringify(body),
      );
      assert.equal(answer.status, 400, JSON.stringify(body));
      assert.equal((json(answer).error as Json).status, 'INVALID_ARGUMENT');
    }
  });

  it('answers return-NNN with that status and a Google JSON error, once per instruction', async () => {
    const id = await createTest({ 'storage.buckets.list': ['return-503', 'return-400'] });
    const headers = { 'x-retry-test-id': id };
    const first = await raw(server.port, 'GET', `/storage/v1/b?project=${PROJECT}`, headers);
    assert.equal(first.status, 503);
    assert.deepEqual((json(first).error as Json).code, 503);
    assert.equal((json(first).error as Json).status, 'UNAVAILABLE');
    assert.equal(await completed(id), false);
    // Other methods under the same test are untouched.
    assert.equal((await raw(server.port, 'GET', '/storage/v1/b/tb-bucket', headers)).status, 200);
    const second = await raw(server.port, 'GET', `/b?project=${PROJECT}`, headers);
    assert.equal(second.status, 400);
    assert.equal(await completed(id), true);
    const third = await raw(server.port, 'GET', `/storage/v1/b?project=${PROJECT}`, headers);
    assert.equal(third.status, 200);
    assert.equal((json(third).items as Json[])[0]?.name, 'tb-bucket');
  });

  it('resets the connection for return-reset-connection, before the method runs', async () => {
    const id = await createTest({ 'storage.buckets.insert': ['return-reset-connection'] });
    const answer = await raw(
      server.port,
      'POST',
      `/storage/v1/b?project=${PROJECT}`,
      { 'x-retry-test-id': id, 'content-type': 'application/json' },
      JSON.stringify({ name: 'tb-reset' }),
    );
    assert.equal(answer.status, undefined);
    assert.equal(answer.error, 'ECONNRESET');
    assert.equal(await completed(id), true);
    assert.equal((await raw(server.port, 'GET', '/storage/v1/b/tb-reset')).status, 404);
  });

  it('breaks a download after N KiB for return-broken-stream-after-NK', async () => {
    const data = Buffer.alloc(300 * KiB, 7);
    await putObject('tb-bucket', 'big.bin', data);
    const id = await createTest({ 'storage.objects.get': ['return-broken-stream-after-256K'] });
    // The metadata read does not carry the object's bytes: the instruction waits for a download.
    const metadata = await raw(server.port, 'GET', '/storage/v1/b/tb-bucket/o/big.bin', {
      'x-retry-test-id': id,
    });
    assert.equal(metadata.status, 200);
    assert.equal(await completed(id), false);

    const broken = await raw(server.port, 'GET', '/storage/v1/b/tb-bucket/o/big.bin?alt=media', {
      'x-retry-test-id': id,
    });
    assert.equal(broken.status, 200);
    assert.equal(broken.headers?.['content-length'], String(data.length));
    assert.ok(broken.error !== undefined, 'the client must see the stream break');
    assert.equal(broken.body.length, 256 * KiB);
    assert.equal(await completed(id), true);

    const whole = await raw(server.port, 'GET', '/download/storage/v1/b/tb-bucket/o/big.bin', {
      'x-retry-test-id': id,
    });
    assert.equal(whole.error, undefined);
    assert.ok(whole.body.equals(data));
  });

  it('breaks any response after a few bytes for return-broken-stream', async () => {
    const id = await createTest({ 'storage.buckets.get': ['return-broken-stream'] });
    const answer = await raw(server.port, 'GET', '/storage/v1/b/tb-bucket', { 'x-retry-test-id': id });
    assert.equal(answer.status, 200);
    assert.ok(answer.error !== undefined);
    assert.equal(answer.body.length, 4);
    assert.equal(await completed(id), true);
  });

  it('keeps the first N KiB of a resumable chunk, then fails it, for return-503-after-NK', async () => {
    const data = Buffer.alloc(512 * KiB);
    for (let i = 0; i < data.length; i++) {
      data[i] = i % 251;
    }
    const id = await createTest({ 'storage.objects.insert': ['return-503-after-256K'] });
    const headers = { 'x-retry-test-id': id };
    const start = await raw(
      server.port,
      'POST',
      '/upload/storage/v1/b/tb-bucket/o?uploadType=resumable&name=resumed.bin',
      { ...headers, 'content-type': 'application/json' },
      '{}',
    );
    assert.equal(start.status, 200);
    const location = new URL(start.headers?.location ?? '');
    const session = `${location.pathname}${location.search}`;

    const failed = await raw(
      server.port,
      'PUT',
      session,
      { ...headers, 'content-range': `bytes 0-${data.length - 1}/${data.length}` },
      data,
    );
    assert.equal(failed.status, 503, failed.body.toString());
    assert.equal(await completed(id), true);

    const status = await raw(server.port, 'PUT', session, {
      ...headers,
      'content-range': `bytes */${data.length}`,
    });
    assert.equal(status.status, 308);
    assert.equal(status.headers?.range, `bytes=0-${256 * KiB - 1}`);

    const rest = await raw(
      server.port,
      'PUT',
      session,
      { ...headers, 'content-range': `bytes ${256 * KiB}-${data.length - 1}/${data.length}` },
      data.subarray(256 * KiB),
    );
    assert.equal(rest.status, 200, rest.body.toString());
    assert.equal(json(rest).size, String(data.length));
    const back = await raw(server.port, 'GET', '/storage/v1/b/tb-bucket/o/resumed.bin?alt=media');
    assert.ok(back.body.equals(data));
  });

  it('lets chunks below the limit through unchanged and keeps the instruction pending', async () => {
    const id = await createTest({ 'storage.objects.insert': ['return-503-after-8192K'] });
    const start = await raw(
      server.port,
      'POST',
      '/upload/storage/v1/b/tb-bucket/o?uploadType=resumable&name=small.bin',
      { 'x-retry-test-id': id, 'content-type': 'application/json' },
      '{}',
    );
    const location = new URL(start.headers?.location ?? '');
    const done = await raw(
      server.port,
      'PUT',
      `${location.pathname}${location.search}`,
      { 'x-retry-test-id': id, 'content-range': 'bytes 0-4/5' },
      'hello',
    );
    assert.equal(done.status, 200, done.body.toString());
    assert.equal(json(done).name, 'small.bin');
    assert.equal(await completed(id), false);
  });

  it('cuts the final chunk answer short for return-broken-stream-final-chunk-after-NB', async () => {
    const id = await createTest({ 'storage.objects.insert': ['return-broken-stream-final-chunk-after-10B'] });
    const start = await raw(
      server.port,
      'POST',
      '/upload/storage/v1/b/tb-bucket/o?uploadType=resumable&name=short.bin',
      { 'x-retry-test-id': id, 'content-type': 'application/json' },
      '{}',
    );
    assert.equal(start.status, 200);
    const location = new URL(start.headers?.location ?? '');
    const answer = await raw(
      server.port,
      'PUT',
      `${location.pathname}${location.search}`,
      { 'x-retry-test-id': id, 'content-range': 'bytes 0-4/5' },
      'hello',
    );
    assert.equal(answer.status, 200);
    assert.equal(answer.body.length, 10);
    assert.equal(await completed(id), true);
  });

  it('applies instructions to the methods the Node client never sends (PUT/PATCH/copyTo)', async () => {
    await putObject('tb-bucket', 'small.txt', Buffer.from('small'));
    const bucket = json(await raw(server.port, 'GET', '/storage/v1/b/tb-bucket'));
    const viewers = `project-viewers-${String(bucket.projectNumber)}`;
    const cases: [string, string, string, object][] = [
      ['storage.buckets.update', 'PUT', '/storage/v1/b/tb-bucket', { name: 'tb-bucket' }],
      ['storage.objects.update', 'PUT', '/storage/v1/b/tb-bucket/o/small.txt', { contentType: 'text/plain' }],
      [
        'storage.objects.copy',
        'POST',
        '/storage/v1/b/tb-bucket/o/small.txt/copyTo/b/tb-bucket/o/copied.txt',
        {},
      ],
      ['storage.bucket_acl.patch', 'PATCH', `/storage/v1/b/tb-bucket/acl/${viewers}`, { role: 'READER' }],
      [
        'storage.default_object_acl.patch',
        'PATCH',
        `/storage/v1/b/tb-bucket/defaultObjectAcl/${viewers}`,
        { role: 'READER' },
      ],
      [
        'storage.object_acl.patch',
        'PATCH',
        `/storage/v1/b/tb-bucket/o/small.txt/acl/${viewers}`,
        { role: 'READER' },
      ],
    ];
    for (const [method, verb, path, body] of cases) {
      const id = await createTest({ [method]: ['return-503', 'return-reset-connection'] });
      const headers = { 'x-retry-test-id': id, 'content-type': 'application/json' };
      const first = await raw(server.port, verb, path, headers, JSON.stringify(body));
      assert.equal(first.status, 503, method);
      const second = await raw(server.port, verb, path, headers, JSON.stringify(body));
      assert.equal(second.error, 'ECONNRESET', method);
      const third = await raw(server.port, verb, path, headers, JSON.stringify(body));
      assert.equal(third.status, 200, `${method}: ${third.body.toString()}`);
      assert.equal(await completed(id), true, method);
    }
  });

  it('stalls a download and an upload chunk for stall-for-Ts-after-NK, then completes them', async () => {
    const data = Buffer.alloc(64 * KiB, 3);
    await putObject('tb-bucket', 'stalled.bin', data);
    const id = await createTest({
      'storage.objects.get': ['stall-for-0s-after-16K'],
      'storage.objects.insert': ['stall-for-0s-after-1K'],
    });
    const read = await raw(server.port, 'GET', '/download/storage/v1/b/tb-bucket/o/stalled.bin', {
      'x-retry-test-id': id,
    });
    assert.equal(read.error, undefined);
    assert.ok(read.body.equals(data));
    const start = await raw(
      server.port,
      'POST',
      '/upload/storage/v1/b/tb-bucket/o?uploadType=resumable&name=stalled-up.bin',
      { 'content-type': 'application/json' },
      '{}',
    );
    const location = new URL(start.headers?.location ?? '');
    const written = await raw(
      server.port,
      'PUT',
      `${location.pathname}${location.search}`,
      { 'x-retry-test-id': id, 'content-range': `bytes 0-${data.length - 1}/${data.length}` },
      data,
    );
    assert.equal(written.status, 200, written.body.toString());
    assert.equal(await completed(id), true);
  });

  it('answers an unknown retry test id with 404', async () => {
    const answer = await raw(server.port, 'GET', '/storage/v1/b/tb-bucket', { 'x-retry-test-id': 'nope' });
    assert.equal(answer.status, 404);
    assert.match((json(answer).error as Json).message as string, /Retry Test nope/);
  });
});

describe('storage testbench off (the default)', () => {
  let app: TestApp;
  before(async () => {
    app = await startTestApp();
  });
  after(async () => {
    await app.dispose();
  });

  it('serves no /retry_test and ignores x-retry-test-id', async () => {
    const created = await app.app.inject({
      method: 'POST',
      url: '/retry_test',
      payload: { instructions: { 'storage.buckets.list': ['return-503'] } },
    });
    assert.equal(created.statusCode, 404);
    const listed = await app.app.inject({
      method: 'GET',
      url: `/storage/v1/b?project=${PROJECT}`,
      headers: { 'x-retry-test-id': 'anything' },
    });
    assert.equal(listed.statusCode, 200);
  });
});

describe('--testbench flag', () => {
  it('is off by default, on with the bare flag or NIMBUS_TESTBENCH=1, and takes no value', () => {
    assert.equal(parseConfig([], {}).testbench, false);
    assert.equal(parseConfig(['--testbench'], {}).testbench, true);
    assert.equal(parseConfig([], { NIMBUS_TESTBENCH: '1' }).testbench, true);
    assert.equal(parseConfig(['--testbench=false'], { NIMBUS_TESTBENCH: '1' }).testbench, false);
    const config = parseConfig(['--testbench', '--port', '9001'], {});
    assert.equal(config.testbench, true);
    assert.equal(config.port, 9001);
    assert.throws(() => parseConfig(['--testbench=maybe'], {}), { code: 'NIMBUS_ERR_BAD_FLAG' });
  });
});

describe('classifyStorageRequest', () => {
  it('names each JSON API call as the testbench does', () => {
    const cases: [string, string, string | undefined][] = [
      ['GET', '/storage/v1/b?project=p', 'storage.buckets.list'],
      ['POST', '/b?project=p', 'storage.buckets.insert'],
      ['PATCH', '/storage/v1/b/bkt', 'storage.buckets.patch'],
      ['PUT', '/storage/v1/b/bkt', 'storage.buckets.update'],
      [
        'POST',
        '/storage/v1/b/bkt/lockRetentionPolicy?ifMetagenerationMatch=2',
        'storage.buckets.lockRetentionPolicy',
      ],
      ['GET', '/storage/v1/b/bkt/iam', 'storage.buckets.getIamPolicy'],
      ['PUT', '/storage/v1/b/bkt/iam', 'storage.buckets.setIamPolicy'],
      ['GET', '/storage/v1/b/bkt/iam/testPermissions?permissions=a', 'storage.buckets.testIamPermissions'],
      ['POST', '/storage/v1/b/bkt/acl', 'storage.bucket_acl.insert'],
      ['DELETE', '/storage/v1/b/bkt/acl/allUsers', 'storage.bucket_acl.delete'],
      ['GET', '/storage/v1/b/bkt/defaultObjectAcl', 'storage.default_object_acl.list'],
      ['PATCH', '/storage/v1/b/bkt/defaultObjectAcl/allUsers', 'storage.default_object_acl.patch'],
      ['GET', '/storage/v1/b/bkt/notificationConfigs/3', 'storage.notifications.get'],
      ['PUT', '/storage/v1/b/bkt/notificationConfigs/3', undefined],
      ['GET', '/storage/v1/b/bkt/o?prefix=a', 'storage.objects.list'],
      ['GET', '/storage/v1/b/bkt/o/a%2Fb', 'storage.objects.get'],
      ['GET', '/download/storage/v1/b/bkt/o/a', 'storage.objects.get'],
      ['POST', '/upload/storage/v1/b/bkt/o?uploadType=multipart', 'storage.objects.insert'],
      ['PUT', '/upload/storage/v1/b/bkt/o?uploadType=resumable&upload_id=x', 'storage.objects.insert'],
      ['POST', '/storage/v1/b/bkt/o/dst/compose', 'storage.objects.compose'],
      ['POST', '/storage/v1/b/bkt/o/src/copyTo/b/b2/o/dst', 'storage.objects.copy'],
      ['POST', '/storage/v1/b/bkt/o/src/rewriteTo/b/b2/o/dst', 'storage.objects.rewrite'],
      ['GET', '/storage/v1/b/bkt/o/obj/acl', 'storage.object_acl.list'],
      ['PUT', '/storage/v1/b/bkt/o/obj/acl/allUsers', 'storage.object_acl.update'],
      ['POST', '/storage/v1/projects/p/hmacKeys?serviceAccountEmail=a', 'storage.hmacKey.create'],
      ['PUT', '/storage/v1/projects/p/hmacKeys/GOOG1', 'storage.hmacKey.update'],
      ['GET', '/projects/p/hmacKeys', 'storage.hmacKey.list'],
      ['GET', '/storage/v1/projects/p/serviceAccount', 'storage.serviceaccount.get'],
      ['GET', '/v1/projects/p/serviceAccounts', undefined],
      ['GET', '/_nimbus/health', undefined],
    ];
    for (const [verb, url, expected] of cases) {
      assert.equal(classifyStorageRequest(verb, url)?.method, expected, `${verb} ${url}`);
    }
    assert.equal(classifyStorageRequest('GET', '/storage/v1/b/bkt/o/x?alt=media')?.media, true);
    assert.equal(classifyStorageRequest('GET', '/storage/v1/b/bkt/o/x')?.media, false);
  });
});
