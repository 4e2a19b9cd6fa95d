import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bearer, startTestApp, type TestApp } from '../helpers.ts';

interface Json {
  [key: string]: unknown;
}

describe('operations and locations', () => {
  let t: TestApp;
  const get = async (url: string) => {
    const res = await t.app.inject({ method: 'GET', url, headers: bearer(t.ownerToken) });
    return { status: res.statusCode, body: res.json<Json>() };
  };
  before(async () => {
    t = await startTestApp();
  });
  after(async () => {
    await t.dispose();
  });

  it('lists Google regions and zones including Seoul', async () => {
    const regions = await get('/compute/v1/projects/nimbus-local/regions');
    const names = (regions.body.items as Json[]).map((r) => r.name);
    assert.ok(names.includes('asia-northeast3'));
    assert.ok(names.includes('us-central1'));
    const zone = await get('/compute/v1/projects/nimbus-local/zones/asia-northeast3-a');
    assert.equal(zone.body.kind, 'compute#zone');
    assert.match(
      String(zone.body.region),
      /\/compute\/v1\/projects\/nimbus-local\/regions\/asia-northeast3$/,
    );
    assert.equal((await get('/compute/v1/projects/nimbus-local/zones/mars-east1-a')).status, 404);
  });

  it('pages zones with maxResults', async () => {
    const first = await get('/compute/v1/projects/nimbus-local/zones?maxResults=5');
    assert.equal((first.body.items as Json[]).length, 5);
    const second = await get(
      `/compute/v1/projects/nimbus-local/zones?maxResults=5&pageToken=${String(first.body.nextPageToken)}`,
    );
    assert.notDeepEqual(second.body.items, first.body.items);
  });

  it('serves a compute zone operation through get, list and wait', async () => {
    let finish: () => void = () => undefined;
    const op = t.platform.operations.start(
      {
        family: 'compute',
        project: 'nimbus-local',
        scope: 'zones/us-central1-a',
        operationType: 'insert',
        targetLink: 'projects/nimbus-local/zones/us-central1-a/instances/vm-1',
        user: 'owner@nimbus.local',
      },
      () =>
        new Promise<void>((resolve) => {
          finish = resolve;
        }),
    );
    const base = '/compute/v1/projects/nimbus-local/zones/us-central1-a/operations';
    const running = await get(`${base}/${op.shortName}`);
    assert.equal(running.body.kind, 'compute#operation');
    assert.equal(running.body.status, 'RUNNING');
    const listed = await get(base);
    assert.ok((listed.body.items as Json[]).some((o) => o.name === op.shortName));
    const waiting = t.app.inject({
      method: 'POST',
      url: `${base}/${op.shortName}/wait`,
      headers: bearer(t.ownerToken),
    });
    finish();
    const waited = (await waiting).json<Json>();
    assert.equal(waited.status, 'DONE');
    assert.equal(waited.progress, 100);
  });

  it('serves google.longrunning operations with wait and delete', async () => {
    const op = t.platform.operations.start(
      {
        family: 'longrunning',
        project: 'nimbus-local',
        scope: 'locations/us-central1',
        operationType: 'create',
        targetLink: 'projects/nimbus-local/locations/us-central1/functions/f',
        user: 'owner@nimbus.local',
      },
      () => ({ name: 'projects/nimbus-local/locations/us-central1/functions/f' }),
    );
    const path = `/v2/${op.name}`;
    const waited = await t.app.inject({
      method: 'POST',
      url: `${path}:wait`,
      headers: bearer(t.ownerToken),
      payload: {},
    });
    assert.deepEqual(waited.json(), {
      name: op.name,
      done: true,
      response: { name: 'projects/nimbus-local/locations/us-central1/functions/f' },
    });
    const listed = await get('/v1/projects/nimbus-local/locations/us-central1/operations');
    assert.equal((listed.body.operations as Json[]).length, 1);
    const deleted = await t.app.inject({ method: 'DELETE', url: path, headers: bearer(t.ownerToken) });
    assert.equal(deleted.statusCode, 200);
    assert.equal((await get(path)).status, 404);
  });

  it('lists locations for v1/v2 APIs', async () => {
    const res = await get('/v1/projects/nimbus-local/locations');
    assert.ok((res.body.locations as Json[]).some((l) => l.locationId === 'asia-northeast3'));
  });
});
