/**
 * Cloud Storage `projects.hmacKeys` through app.inject: create (secret returned once), list with its
 * filters and paging, get, update (state, etag), delete (INACTIVE only), Google's errors, IAM denial
 * for a viewer, and the XML face's resolver/authenticator following key and account state.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { registerHmacKeys } from '../../src/services/storage/hmac-keys.ts';
import { S3Error } from '../../src/services/storage/xml/errors.ts';
import { createHmacAuthenticator, deriveSigningKey } from '../../src/services/storage/xml/sigv4.ts';
import { bearer, startTestApp, withBinding, type Json, type Method, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const SA = `hmac-robot@${PROJECT}.iam.gserviceaccount.com`;
const OTHER_SA = `hmac-other@${PROJECT}.iam.gserviceaccount.com`;
const VIEWER_SA = `hmac-viewer@${PROJECT}.iam.gserviceaccount.com`;

interface KeyMetadata {
  kind: string;
  id: string;
  selfLink: string;
  accessId: string;
  projectId: string;
  serviceAccountEmail: string;
  state: string;
  timeCreated: string;
  updated: string;
  etag: string;
}

describe('storage projects.hmacKeys', () => {
  let t: TestApp;
  let viewerToken: string;

  const call = async (
    method: Method,
    url: string,
    payload?: object,
    token?: string,
  ): Promise<{ status: number; body: Json }> => {
    const res = await t.app.inject({
      method,
      url,
      headers: bearer(token ?? t.ownerToken),
      ...(payload === undefined ? {} : { payload }),
    });
    return { status: res.statusCode, body: res.body === '' ? {} : res.json<Json>() };
  };
  const create = async (email = SA): Promise<{ metadata: KeyMetadata; secret: string }> => {
    const res = await call(
      'POST',
      `/storage/v1/projects/${PROJECT}/hmacKeys?serviceAccountEmail=${encodeURIComponent(email)}`,
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.kind, 'storage#hmacKey');
    return res.body as unknown as { metadata: KeyMetadata; secret: string };
  };
  const list = async (
    query = '',
  ): Promise<{ items?: KeyMetadata[]; nextPageToken?: string; kind: string }> => {
    const res = await call('GET', `/storage/v1/projects/${PROJECT}/hmacKeys${query}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as unknown as { items?: KeyMetadata[]; nextPageToken?: string; kind: string };
  };

  before(async () => {
    t = await startTestApp();
    for (const accountId of ['hmac-robot', 'hmac-other', 'hmac-viewer']) {
      const res = await call('POST', `/v1/projects/${PROJECT}/serviceAccounts`, { accountId });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const policy = await call('POST', `/v1/projects/${PROJECT}:getIamPolicy`, {});
    const set = await call('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: {
        ...policy.body,
        bindings: withBinding(policy.body, 'roles/viewer', `serviceAccount:${VIEWER_SA}`),
      },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    viewerToken = t.platform.tokens.issueAccessToken({
      kind: 'serviceAccount',
      email: VIEWER_SA,
      member: `serviceAccount:${VIEWER_SA}`,
      scopes: ['https://www.googleapis.com/auth/cloud-platform'],
    }).accessToken;
  });

  after(async () => {
    await t.dispose();
  });

  it('creates a key with Google-shaped metadata and a 40-character secret', async () => {
    const created = await create();
    const meta = created.metadata;
    assert.match(meta.accessId, /^GOOG1[A-Z0-9]{56}$/);
    assert.match(created.secret, /^[A-Za-z0-9+/]{40}$/);
    assert.equal(meta.kind, 'storage#hmacKeyMetadata');
    assert.equal(meta.id, `${PROJECT}/${meta.accessId}`);
    assert.equal(meta.projectId, PROJECT);
    assert.equal(meta.serviceAccountEmail, SA);
    assert.equal(meta.state, 'ACTIVE');
    assert.match(meta.selfLink, new RegExp(`/storage/v1/projects/${PROJECT}/hmacKeys/${meta.accessId}$`));
    assert.ok(meta.etag.length > 0);
    assert.ok(!Number.isNaN(Date.parse(meta.timeCreated)));
    // get returns the metadata only, never the secret again.
    const got = await call('GET', `/storage/v1/projects/${PROJECT}/hmacKeys/${meta.accessId}`);
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, meta);
    assert.equal(JSON.stringify(got.body).includes(created.secret), false);
    // The path without /storage/v1 (the Node client with STORAGE_EMULATOR_HOST) answers the same.
    assert.deepEqual((await call('GET', `/projects/${PROJECT}/hmacKeys/${meta.accessId}`)).body, meta);
  });

  it('refuses a missing or unknown service account and an unknown access id', async () => {
    const missing = await call('POST', `/storage/v1/projects/${PROJECT}/hmacKeys`);
    assert.equal(missing.status, 400);
    assert.match(JSON.stringify(missing.body), /serviceAccountEmail/);
    const unknown = await call(
      'POST',
      `/storage/v1/projects/${PROJECT}/hmacKeys?serviceAccountEmail=nobody@${PROJECT}.iam.gserviceaccount.com`,
    );
    assert.equal(unknown.status, 400);
    const notFound = await call('GET', `/storage/v1/projects/${PROJECT}/hmacKeys/GOOG1NOPE`);
    assert.equal(notFound.status, 404);
    assert.equal((await call('GET', `/storage/v1/projects/no-such-project/hmacKeys`)).status, 404);
  });

  it('lists keys with the serviceAccountEmail filter and pages with maxResults', async () => {
    await create(OTHER_SA);
    await create(OTHER_SA);
    const all = await list();
    assert.equal(all.kind, 'storage#hmacKeysMetadata');
    assert.ok((all.items ?? []).length >= 3);
    const other = await list(`?serviceAccountEmail=${encodeURIComponent(OTHER_SA)}`);
    assert.equal(other.items?.length, 2);
    assert.ok(other.items.every((key) => key.serviceAccountEmail === OTHER_SA));
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await list(`?maxResults=1${token === undefined ? '' : `&pageToken=${token}`}`);
      assert.ok((page.items ?? []).length <= 1);
      seen.push(...(page.items ?? []).map((key) => key.accessId));
      token = page.nextPageToken;
    } while (token !== undefined);
    assert.deepEqual(
      seen,
      (all.items ?? []).map((key) => key.accessId),
    );
    assert.equal((await call('GET', `/storage/v1/projects/${PROJECT}/hmacKeys?maxResults=x`)).status, 400);
  });

  it('updates the state with an etag check, deletes only inactive keys, and lists deleted ones on request', async () => {
    const { metadata } = await create();
    const url = `/storage/v1/projects/${PROJECT}/hmacKeys/${metadata.accessId}`;
    const activeDelete = await call('DELETE', url);
    assert.equal(activeDelete.status, 400);
    assert.match(JSON.stringify(activeDelete.body), /ACTIVE/);

    const stale = await call('PUT', url, { state: 'INACTIVE', etag: 'c3RhbGU=' });
    assert.equal(stale.status, 412);
    const bad = await call('PUT', url, { state: 'SLEEPING' });
    assert.equal(bad.status, 400);
    const noState = await call('PUT', url, { etag: metadata.etag });
    assert.equal(noState.status, 400);

    const inactive = await call('PUT', url, { ...metadata, state: 'INACTIVE' });
    assert.equal(inactive.status, 200, JSON.stringify(inactive.body));
    assert.equal(inactive.body.state, 'INACTIVE');
    assert.notEqual(inactive.body.etag, metadata.etag);

    const deleted = await call('DELETE', url);
    assert.equal(deleted.status, 204);
    assert.equal((await call('GET', url)).body.state, 'DELETED');
    assert.equal((await call('PUT', url, { state: 'ACTIVE' })).status, 400);
    assert.equal((await call('DELETE', url)).status, 400);
    assert.equal(
      (await list()).items?.some((key) => key.accessId === metadata.accessId),
      false,
    );
    assert.equal(
      (await list('?showDeletedKeys=true')).items?.find((key) => key.accessId === metadata.accessId)?.state,
      'DELETED',
    );
  });

  it('lets a project viewer read keys but not create, update or delete them', async () => {
    const { metadata } = await create();
    const url = `/storage/v1/projects/${PROJECT}/hmacKeys/${metadata.accessId}`;
    assert.equal((await call('GET', url, undefined, viewerToken)).status, 200);
    assert.equal(
      (await call('GET', `/storage/v1/projects/${PROJECT}/hmacKeys`, undefined, viewerToken)).status,
      200,
    );
    const denied = await call(
      'POST',
      `/storage/v1/projects/${PROJECT}/hmacKeys?serviceAccountEmail=${encodeURIComponent(VIEWER_SA)}`,
      undefined,
      viewerToken,
    );
    assert.equal(denied.status, 403);
    assert.equal((await call('PUT', url, { state: 'INACTIVE' }, viewerToken)).status, 403);
    assert.equal((await call('DELETE', url, undefined, viewerToken)).status, 403);
    assert.equal((await call('GET', url)).body.state, 'ACTIVE');
  });

  it('authenticates XML requests with a created key, following key and account state', async () => {
    const { metadata, secret } = await create();
    const keys = registerHmacKeys(t.app, t.platform);
    const resolved = keys.resolve(metadata.accessId);
    assert.equal(resolved?.secret, secret);
    assert.equal(resolved.serviceAccountDisabled, false);

    const auth = createHmacAuthenticator(t.platform, keys);
    const amzDate = new Date(t.platform.clock.now())
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const date = amzDate.slice(0, 8);
    const canonical = `GET\n/bucket/object\n\nhost:localhost\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:${amzDate}\n\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD`;
    const scope = `${date}/us-east-1/s3/aws4_request`;
    const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
    const signature = createHmac('sha256', deriveSigningKey(secret, date, 'us-east-1', 's3'))
      .update(toSign)
      .digest('hex');
    const request = {
      method: 'GET',
      rawPath: '/bucket/object',
      rawQuery: '',
      headers: {
        host: 'localhost',
        'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
        'x-amz-date': amzDate,
        authorization: `AWS4-HMAC-SHA256 Credential=${metadata.accessId}/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}`,
      },
    };
    const outcome = await auth.authenticate(request);
    assert.equal(outcome?.principal.member, `serviceAccount:${SA}`);

    const refusedWith = async (code: string) => {
      await assert.rejects(
        auth.authenticate(request),
        (error: unknown) => error instanceof S3Error && error.code === code,
      );
    };
    const sa = `/v1/projects/${PROJECT}/serviceAccounts/${SA}`;
    assert.equal((await call('POST', `${sa}:disable`, {})).status, 200);
    await refusedWith('AccessDenied');
    assert.equal((await call('POST', `${sa}:enable`, {})).status, 200);
    assert.ok(await auth.authenticate(request));

    const url = `/storage/v1/projects/${PROJECT}/hmacKeys/${metadata.accessId}`;
    assert.equal((await call('PUT', url, { state: 'INACTIVE' })).status, 200);
    await refusedWith('InvalidAccessKeyId');
  });

  it('signs XML-face requests as the service account, so IAM applies through its roles', async () => {
    const bucket = 'hmac-iam-bucket';
    assert.equal((await call('POST', `/storage/v1/b?project=${PROJECT}`, { name: bucket })).status, 200);
    const { metadata, secret } = await create(OTHER_SA);
    const signedPut = (key: string, body: string) => {
      const amzDate = new Date(t.platform.clock.now())
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '');
      const date = amzDate.slice(0, 8);
      const host = `${bucket}.localhost`;
      const payload = createHash('sha256').update(body).digest('hex');
      const canonical = `PUT\n/${key}\n\nhost:${host}\nx-amz-content-sha256:${payload}\nx-amz-date:${amzDate}\n\nhost;x-amz-content-sha256;x-amz-date\n${payload}`;
      const scope = `${date}/us-east-1/s3/aws4_request`;
      const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${createHash('sha256').update(canonical).digest('hex')}`;
      const signature = createHmac('sha256', deriveSigningKey(secret, date, 'us-east-1', 's3'))
        .update(toSign)
        .digest('hex');
      return t.app.inject({
        method: 'PUT',
        url: `/${key}`,
        headers: {
          host,
          'x-amz-content-sha256': payload,
          'x-amz-date': amzDate,
          'content-type': 'text/plain',
          authorization: `AWS4-HMAC-SHA256 Credential=${metadata.accessId}/${scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=${signature}`,
        },
        payload: body,
      });
    };
    // The account holds no role yet: the signature is good, IAM refuses.
    const denied = await signedPut('denied.txt', 'nope');
    assert.equal(denied.statusCode, 403, denied.body);
    assert.match(denied.body, /<Code>AccessDenied<\/Code>/);

    const policy = await call('POST', `/v1/projects/${PROJECT}:getIamPolicy`, {});
    const set = await call('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
      policy: {
        ...policy.body,
        bindings: withBinding(policy.body, 'roles/storage.objectAdmin', `serviceAccount:${OTHER_SA}`),
      },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const put = await signedPut('hello.txt', 'hello hmac');
    assert.equal(put.statusCode, 200, put.body);
    const read = await t.app.inject({
      method: 'GET',
      url: `/storage/v1/b/${bucket}/o/hello.txt?alt=media`,
      headers: bearer(t.ownerToken),
    });
    assert.equal(read.body, 'hello hmac');
  });
});
