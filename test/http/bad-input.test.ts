/**
 * Hostile and careless input: malformed JSON, wrong types, unknown fields, names that break
 * Google's rules, oversized bodies and bad URLs all get a 4xx in Google's error shape (never a
 * 500), and the server keeps answering. Also the browser-facing guards: cross-origin mutations
 * and DNS-rebinding Host names are refused, and control APIs send no CORS headers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { startTestApp, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const SA_COLLECTION = `/v1/projects/${PROJECT}/serviceAccounts`;
const CANONICAL = new Set([
  'INVALID_ARGUMENT',
  'FAILED_PRECONDITION',
  'OUT_OF_RANGE',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'NOT_FOUND',
  'ABORTED',
  'ALREADY_EXISTS',
  'RESOURCE_EXHAUSTED',
]);

interface GoogleError {
  error: {
    code: number;
    message: string;
    status: string;
    errors: { reason: string; domain: string; message: string }[];
  };
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

interface Probe {
  name: string;
  method: Method;
  url: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
  /** Expected HTTP status. */
  status: number;
  /** Expected `errors[0].reason`, when it matters. */
  reason?: string;
  /** Expected text in the message. */
  message?: RegExp;
}

const json = { 'content-type': 'application/json' };

/** Checks Google's error shape and returns the parsed body. */
function googleError(res: LightMyRequestResponse, what: string): GoogleError['error'] {
  assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: ${res.statusCode} ${res.body}`);
  assert.match(String(res.headers['content-type']), /^application\/json/, what);
  const { error } = res.json<GoogleError>();
  assert.equal(error.code, res.statusCode, what);
  assert.equal(typeof error.message, 'string', what);
  assert.ok(error.message.length > 0, what);
  assert.ok(CANONICAL.has(error.status), `${what}: status ${error.status}`);
  assert.ok(Array.isArray(error.errors) && error.errors.length > 0, what);
  for (const item of error.errors) {
    assert.equal(typeof item.reason, 'string', what);
    assert.equal(typeof item.domain, 'string', what);
    assert.equal(typeof item.message, 'string', what);
  }
  return error;
}

async function runProbes(t: TestApp, probes: Probe[]): Promise<void> {
  for (const probe of probes) {
    const res = await t.app.inject({
      method: probe.method,
      url: probe.url,
      headers: {
        ...(t.ownerToken === '' ? {} : { authorization: `Bearer ${t.ownerToken}` }),
        ...probe.headers,
      },
      ...(probe.payload === undefined ? {} : { payload: probe.payload }),
    });
    const what = `${probe.name} (${probe.method} ${probe.url.slice(0, 80)})`;
    assert.equal(res.statusCode, probe.status, `${what}: ${res.body.slice(0, 300)}`);
    const error = googleError(res, what);
    if (probe.reason !== undefined) {
      assert.equal(error.errors[0]?.reason, probe.reason, what);
    }
    if (probe.message !== undefined) {
      assert.match(error.message, probe.message, what);
    }
  }
}

const createAccount = (name: string, body: string, extra: Partial<Probe> = {}): Probe => ({
  name,
  method: 'POST',
  url: SA_COLLECTION,
  headers: json,
  payload: body,
  status: 400,
  ...extra,
});

describe('bad input', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  it('answers malformed JSON with 400 parseError', async () => {
    const malformed = [
      '{"accountId":',
      '{"accountId": "abcdefg",}',
      "{'accountId': 'abcdefg'}",
      '{"accountId": NaN}',
      '{"accountId": "abc\u0000defg"}',
      'not json at all',
      '{"__proto__": {"admin": true}, "accountId": "protopoll"}',
      '{"constructor": {"prototype": {"admin": true}}, "accountId": "protopoll"}',
    ];
    await runProbes(
      t,
      malformed.map((body) => createAccount(`malformed ${body}`, body, { reason: 'parseError' })),
    );
    // An empty JSON body is "no body" (as Google's front end takes it); a method that needs one says so.
    await runProbes(t, [
      createAccount('empty body', '', { reason: 'required', message: /body is required/i }),
    ]);
    // Nothing leaked onto Object.prototype.
    assert.equal((Object.prototype as Record<string, unknown>).admin, undefined);
  });

  it('answers wrong types with 400 naming the field', async () => {
    await runProbes(t, [
      createAccount('number accountId', '{"accountId": 123}', { message: /'accountId'/ }),
      createAccount('null accountId', '{"accountId": null}', { message: /'accountId'/ }),
      createAccount('array body', '[]', { message: /\(root\)/ }),
      createAccount('string body', '"abcdefg"', { message: /\(root\)/ }),
      createAccount('null body', 'null', { reason: 'required' }),
      createAccount('nested wrong type', '{"accountId": "abcdefg", "serviceAccount": {"displayName": 5}}', {
        message: /'serviceAccount\.displayName'/,
      }),
      createAccount('missing accountId', '{}', { message: /'accountId'/ }),
      createAccount('deeply nested arrays', '['.repeat(50_000) + ']'.repeat(50_000)),
      {
        name: 'labels of the wrong type',
        method: 'PUT',
        url: `/v1/projects/${PROJECT}`,
        headers: json,
        payload: '{"labels": {"a": {"b": 1}}}',
        status: 400,
        message: /'labels\.a'/,
      },
      {
        name: 'bindings not an array',
        method: 'POST',
        url: `/v1/projects/${PROJECT}:setIamPolicy`,
        headers: json,
        payload: '{"policy": {"bindings": "everyone"}}',
        status: 400,
        message: /'policy\.bindings'/,
      },
      {
        name: 'includedPermissions not an array',
        method: 'POST',
        url: `/v1/projects/${PROJECT}/roles`,
        headers: json,
        payload: '{"roleId": "goodRole", "role": {"includedPermissions": "x"}}',
        status: 400,
        message: /'role\.includedPermissions'/,
      },
      {
        name: 'stage outside the enum',
        method: 'POST',
        url: `/v1/projects/${PROJECT}/roles`,
        headers: json,
        payload: '{"roleId": "goodRole", "role": {"stage": "NOPE"}}',
        status: 400,
        message: /'role\.stage'/,
      },
      {
        name: 'pageSize not an integer',
        method: 'GET',
        url: `${SA_COLLECTION}?pageSize=abc`,
        status: 400,
      },
      {
        name: 'negative pageSize',
        method: 'GET',
        url: `${SA_COLLECTION}?pageSize=-5`,
        status: 400,
      },
      { name: 'forged pageToken', method: 'GET', url: `${SA_COLLECTION}?pageToken=garbage`, status: 400 },
      {
        name: 'unsupported content type',
        method: 'POST',
        url: SA_COLLECTION,
        headers: { 'content-type': 'application/xml' },
        payload: '<accountId>abcdefg</accountId>',
        status: 415,
      },
    ]);
  });

  it('rejects unknown fields as Google does ("Unknown name ... Cannot find field")', async () => {
    await runProbes(t, [
      createAccount('top-level unknown field', '{"accountId": "abcdefg", "foo": 1}', {
        reason: 'invalid',
        message: /^Invalid JSON payload received\. Unknown name "foo": Cannot find field\.$/,
      }),
      createAccount('nested unknown field', '{"accountId": "abcdefg", "serviceAccount": {"bar": 1}}', {
        message: /Unknown name "bar" at 'serviceAccount': Cannot find field\./,
      }),
      {
        name: 'unknown project field',
        method: 'POST',
        url: '/v1/projects',
        headers: json,
        payload: '{"projectId": "fine-project", "owner": "me"}',
        status: 400,
        message: /Unknown name "owner"/,
      },
      {
        name: 'unknown policy field',
        method: 'POST',
        url: `/v1/projects/${PROJECT}:setIamPolicy`,
        headers: json,
        payload: '{"policy": {"bindings": [], "owners": []}}',
        status: 400,
        message: /Unknown name "owners" at 'policy'/,
      },
    ]);
    const listed = await t.app.inject({ method: 'GET', url: '/v1/projects/fine-project' });
    assert.equal(listed.statusCode, 404, 'the project with an unknown field was not created');
  });

  it('enforces Google naming rules for account ids, project ids and role ids', async () => {
    const accountIds = [
      'abc',
      'ABCDEFG',
      'Abcdefg',
      '1abcdef',
      'abcdef-',
      'abc_def',
      'abc.def',
      'a'.repeat(31),
    ];
    const projectIds = [
      'Bad_Id',
      'abc',
      '1project',
      'project-',
      'my-google-proj',
      'ssl-project',
      'p'.repeat(31),
    ];
    const roleIds = ['a', 'ab', 'bad-role!', 'has space', 'r'.repeat(65), 'role/slash'];
    await runProbes(t, [
      ...accountIds.map((id) =>
        createAccount(`accountId ${id}`, JSON.stringify({ accountId: id }), {
          reason: 'invalid',
          message: /accountId|Account ID/,
        }),
      ),
      ...projectIds.map((id): Probe => ({
        name: `projectId ${id}`,
        method: 'POST',
        url: '/v1/projects',
        headers: json,
        payload: JSON.stringify({ projectId: id }),
        status: 400,
        message: /Project id/,
      })),
      ...projectIds.map((id): Probe => ({
        name: `v3 projectId ${id}`,
        method: 'POST',
        url: '/v3/projects',
        headers: json,
        payload: JSON.stringify({ projectId: id }),
        status: 400,
        message: /Project id/,
      })),
      ...roleIds.map((id): Probe => ({
        name: `roleId ${id}`,
        method: 'POST',
        url: `/v1/projects/${PROJECT}/roles`,
        headers: json,
        payload: JSON.stringify({ roleId: id, role: { title: 'x' } }),
        status: 400,
        message: /role id/,
      })),
      {
        name: 'unknown permission in a custom role',
        method: 'POST',
        url: `/v1/projects/${PROJECT}/roles`,
        headers: json,
        payload: JSON.stringify({ roleId: 'goodRole', role: { includedPermissions: ['not.a.permission'] } }),
        status: 400,
      },
      {
        name: 'bad label key',
        method: 'POST',
        url: '/v1/projects',
        headers: json,
        payload: JSON.stringify({ projectId: 'label-project', labels: { Bad: 'x' } }),
        status: 400,
        message: /Label/,
      },
      {
        name: 'unknown role in a binding',
        method: 'POST',
        url: `/v1/projects/${PROJECT}:setIamPolicy`,
        headers: json,
        payload: JSON.stringify({ policy: { bindings: [{ role: 'roles/nope', members: ['user:a@b.c'] }] } }),
        status: 400,
      },
      {
        name: 'malformed member',
        method: 'POST',
        url: `/v1/projects/${PROJECT}:setIamPolicy`,
        headers: json,
        payload: JSON.stringify({ policy: { bindings: [{ role: 'roles/viewer', members: ['bogus'] }] } }),
        status: 400,
      },
      createAccount(
        'display name too long',
        JSON.stringify({ accountId: 'long-name', serviceAccount: { displayName: 'x'.repeat(101) } }),
      ),
    ]);
    const accounts = await t.app.inject({ method: 'GET', url: SA_COLLECTION });
    assert.deepEqual(accounts.json(), {}, 'no account was created by a bad request');
  });

  it('refuses a 10 MB body with 413 in Google shape', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024, 0x20);
    const huge = JSON.stringify({
      accountId: 'abcdefg',
      serviceAccount: { description: 'x'.repeat(10 * 1024 * 1024) },
    });
    await runProbes(t, [
      createAccount('10 MB of spaces', big.toString(), { status: 413 }),
      createAccount('10 MB JSON document', huge, { status: 413 }),
      {
        name: '10 MB form to the token endpoint',
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `grant_type=${'a'.repeat(10 * 1024 * 1024)}`,
        status: 413,
      },
      {
        name: '10 MB text/plain',
        method: 'POST',
        url: '/v1/projects',
        headers: { 'content-type': 'text/plain' },
        payload: big,
        status: 413,
      },
    ]);
  });

  it('answers bad URLs in Google shape', async () => {
    await runProbes(t, [
      { name: 'bad percent-encoding', method: 'GET', url: '/v1/projects/%E0%A4%A', status: 400 },
      { name: 'over-long path segment', method: 'GET', url: `/v1/projects/${'a'.repeat(3000)}`, status: 414 },
      {
        name: 'unknown custom method',
        method: 'POST',
        url: `/v1/projects/${PROJECT}:frobnicate`,
        headers: json,
        payload: '{}',
        status: 404,
      },
      { name: 'unknown path', method: 'GET', url: '/v1/nothing/here', status: 404 },
      {
        name: 'path traversal in an account name',
        method: 'GET',
        url: `${SA_COLLECTION}/..%2F..%2Fetc%2Fpasswd`,
        status: 404,
      },
    ]);
  });

  it('still answers normally after all of the above (none of which was a 500)', async () => {
    const health = await t.app.inject({ method: 'GET', url: '/_nimbus/health' });
    assert.equal(health.statusCode, 200);
    const created = await t.app.inject({
      method: 'POST',
      url: SA_COLLECTION,
      headers: json,
      payload: JSON.stringify({ accountId: 'after-abuse' }),
    });
    assert.equal(created.statusCode, 200, created.body);
    assert.equal(created.json<{ email: string }>().email, `after-abuse@${PROJECT}.iam.gserviceaccount.com`);
  });
});

describe('browser guards', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  const assertForbidden = (res: LightMyRequestResponse, what: string, message: RegExp): void => {
    assert.equal(res.statusCode, 403, `${what}: ${res.body}`);
    const error = googleError(res, what);
    assert.equal(error.status, 'PERMISSION_DENIED');
    assert.match(error.message, message);
  };

  it('refuses cross-origin mutating requests with 403', async () => {
    const attempts: { method: Method; url: string; headers: Record<string, string>; payload?: string }[] = [
      {
        method: 'POST',
        url: SA_COLLECTION,
        headers: { ...json, origin: 'http://evil.example' },
        payload: '{"accountId":"evil-json"}',
      },
      // A "simple" request a browser sends without a preflight.
      {
        method: 'POST',
        url: SA_COLLECTION,
        headers: { 'content-type': 'text/plain', origin: 'http://evil.example' },
        payload: '{"accountId":"evil-text"}',
      },
      {
        method: 'POST',
        url: SA_COLLECTION,
        headers: { ...json, origin: 'null' },
        payload: '{"accountId":"evil-null"}',
      },
      {
        method: 'POST',
        url: SA_COLLECTION,
        headers: { ...json, 'sec-fetch-site': 'cross-site' },
        payload: '{"accountId":"evil-fetch"}',
      },
      // Same host name, other port: a different origin.
      {
        method: 'POST',
        url: SA_COLLECTION,
        headers: { ...json, origin: 'http://localhost:3000', host: 'localhost:8080' },
        payload: '{"accountId":"evil-port"}',
      },
      { method: 'DELETE', url: `/v1/projects/${PROJECT}`, headers: { origin: 'http://evil.example' } },
      {
        method: 'POST',
        url: '/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example' },
        payload: 'grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=x',
      },
      { method: 'POST', url: '/_nimbus/reset', headers: { origin: 'http://evil.example' } },
    ];
    for (const attempt of attempts) {
      const res = await t.app.inject({
        method: attempt.method,
        url: attempt.url,
        headers: attempt.headers,
        ...(attempt.payload === undefined ? {} : { payload: attempt.payload }),
      });
      assertForbidden(
        res,
        `${attempt.method} ${attempt.url} ${JSON.stringify(attempt.headers)}`,
        /Cross-origin/,
      );
      assert.equal(res.headers['access-control-allow-origin'], undefined);
    }
    // Nothing happened.
    assert.deepEqual((await t.app.inject({ method: 'GET', url: SA_COLLECTION })).json(), {});
    assert.equal((await t.app.inject({ method: 'GET', url: `/v1/projects/${PROJECT}` })).statusCode, 200);
    // The same request from the server's own origin is fine.
    const sameOrigin = await t.app.inject({
      method: 'POST',
      url: SA_COLLECTION,
      headers: { ...json, origin: 'http://localhost:8080', host: 'localhost:8080' },
      payload: '{"accountId":"same-origin"}',
    });
    assert.equal(sameOrigin.statusCode, 200, sameOrigin.body);
  });

  it('refuses DNS-rebinding Host names with 403', async () => {
    for (const host of [
      'evil.example:8080',
      'evil.example',
      'localhost.evil.example',
      '127.0.0.1.nip.io:8080',
    ]) {
      for (const url of [`/v1/projects/${PROJECT}`, '/_nimbus/health', '/no/such/path']) {
        const res = await t.app.inject({ method: 'GET', url, headers: { host } });
        assertForbidden(res, `${host} ${url}`, /Host/);
      }
      const metadata = await t.app.inject({
        method: 'GET',
        url: '/computeMetadata/v1/instance/service-accounts/default/token',
        headers: { host, 'metadata-flavor': 'Google' },
      });
      assertForbidden(metadata, `${host} metadata token`, /Host/);
    }
    for (const host of ['127.0.0.1:8080', 'localhost:8080', '[::1]:8080', 'storage.localhost:8080']) {
      const res = await t.app.inject({ method: 'GET', url: `/v1/projects/${PROJECT}`, headers: { host } });
      assert.equal(res.statusCode, 200, `${host}: ${res.body}`);
    }
  });

  it('sends no access-control-allow-origin on control APIs', async () => {
    const origin = 'http://evil.example';
    const requests: { method: Method; url: string; headers: Record<string, string> }[] = [
      { method: 'GET', url: `/v1/projects/${PROJECT}`, headers: { origin } },
      { method: 'GET', url: SA_COLLECTION, headers: { origin } },
      { method: 'GET', url: '/_nimbus/health', headers: { origin } },
      {
        method: 'OPTIONS',
        url: SA_COLLECTION,
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization',
        },
      },
      {
        method: 'OPTIONS',
        url: `/v1/projects/${PROJECT}`,
        headers: { origin, 'access-control-request-method': 'DELETE' },
      },
    ];
    for (const request of requests) {
      const res = await t.app.inject(request);
      const what = `${request.method} ${request.url}`;
      assert.ok(res.statusCode < 500, what);
      for (const header of Object.keys(res.headers)) {
        assert.ok(!header.startsWith('access-control-'), `${what} sent ${header}`);
      }
    }
  });
});
