/**
 * Cloud Storage bucket lifecycle rules (the executor driven by a ManualClock), retention policies,
 * default event-based holds and object holds, through app.inject.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.ts';
import { lifecycleExecutorOf, type LifecycleRun } from '../../src/services/storage/index.ts';
import { startLifecycleTimer, stopLifecycleTimers } from '../../src/services/storage/lifecycle.ts';
import { bearer, jsonCaller, startTestApp, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const DAY_MS = 24 * 3600 * 1000;
const enc = encodeURIComponent;

interface ErrorBody {
  error: { code: number; message: string; errors: { reason: string; message: string }[] };
}

function errorOf(body: Json): ErrorBody['error'] {
  return (body as unknown as ErrorBody).error;
}

describe('Cloud Storage lifecycle, retention and holds (JSON API v1)', () => {
  let t: TestApp;
  const clock = new ManualClock();
  /** A fresh owner token per request: the clock moves days ahead, past any token's expiry. */
  const token = (): string => t.platform.tokens.issueAccessToken(t.platform.ownerPrincipal()).accessToken;
  const call: ReturnType<typeof jsonCaller> = (...args) => jsonCaller(t, token())(...args);

  const createBucket = async (name: string, extra: object = {}): Promise<Json> => {
    const res = await call('POST', `/storage/v1/b?project=${PROJECT}`, { name, ...extra });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  const upload = async (
    bucket: string,
    name: string,
    data = 'x',
  ): Promise<{ status: number; body: Json }> => {
    const res = await t.app.inject({
      method: 'POST',
      url: `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${enc(name)}`,
      headers: { ...bearer(token()), 'content-type': 'text/plain' },
      payload: data,
    });
    return { status: res.statusCode, body: res.json<Json>() };
  };

  const put = async (bucket: string, name: string, data = 'x'): Promise<Json> => {
    const res = await upload(bucket, name, data);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };

  const remove = async (bucket: string, name: string, generation?: string) => {
    const res = await t.app.inject({
      method: 'DELETE',
      url: `/storage/v1/b/${bucket}/o/${enc(name)}${generation === undefined ? '' : `?generation=${generation}`}`,
      headers: bearer(token()),
    });
    return { status: res.statusCode, body: res.body === '' ? {} : res.json<Json>() };
  };

  const names = async (bucket: string, versions = false): Promise<string[]> => {
    const res = await call('GET', `/storage/v1/b/${bucket}/o${versions ? '?versions=true' : ''}`);
    assert.equal(res.status, 200);
    const items = (res.body.items ?? []) as Json[];
    return items.map((item) =>
      versions ? `${String(item.name)}#${String(item.generation)}` : String(item.name),
    );
  };

  /** Runs the executor and keeps only what it did in `bucket` (other tests' buckets have rules too). */
  const runIn = async (bucket: string): Promise<LifecycleRun> => {
    const run = await lifecycleExecutorOf(t.platform).runLifecycle();
    return {
      applied: run.applied.filter((action) => action.bucket === bucket),
      skipped: run.skipped.filter((action) => action.bucket === bucket),
    };
  };

  before(async () => {
    t = await startTestApp({}, clock);
  });
  after(async () => {
    await t.dispose();
  });

  describe('lifecycle configuration', () => {
    it('stores the rules and prints them in the bucket resource', async () => {
      const lifecycle = {
        rule: [
          { action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: ['tmp/'] } },
          {
            action: { type: 'SetStorageClass', storageClass: 'nearline' },
            condition: { createdBefore: '2025-06-01', matchesStorageClass: ['STANDARD'] },
          },
        ],
      };
      const bucket = await createBucket('lc-config', { lifecycle });
      assert.deepEqual(bucket.lifecycle, {
        rule: [
          { action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: ['tmp/'] } },
          {
            action: { type: 'SetStorageClass', storageClass: 'NEARLINE' },
            condition: { createdBefore: '2025-06-01', matchesStorageClass: ['STANDARD'] },
          },
        ],
      });
      const got = await call('GET', '/storage/v1/b/lc-config');
      assert.deepEqual(got.body.lifecycle, bucket.lifecycle);

      const patched = await call('PATCH', '/storage/v1/b/lc-config', {
        lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { isLive: false } }] },
      });
      assert.equal(patched.status, 200);
      assert.deepEqual(patched.body.lifecycle, {
        rule: [{ action: { type: 'Delete' }, condition: { isLive: false } }],
      });
      const cleared = await call('PATCH', '/storage/v1/b/lc-config', { lifecycle: null });
      assert.equal(cleared.status, 200);
      assert.equal(cleared.body.lifecycle, undefined);
    });

    it('rejects an unknown action, a SetStorageClass without a class and a malformed date', async () => {
      const bad = [
        { action: { type: 'Archive' }, condition: { age: 1 } },
        { action: { type: 'SetStorageClass' }, condition: { age: 1 } },
        { action: { type: 'SetStorageClass', storageClass: 'FROZEN' }, condition: { age: 1 } },
        { action: { type: 'Delete' }, condition: { createdBefore: '2025/01/01' } },
        { action: { type: 'Delete' }, condition: {} },
        { action: { type: 'Delete' }, condition: { age: -1 } },
      ];
      for (const rule of bad) {
        const res = await call('POST', `/storage/v1/b?project=${PROJECT}`, {
          name: 'lc-rejected',
          lifecycle: { rule: [rule] },
        });
        assert.equal(res.status, 400, JSON.stringify(rule));
        assert.equal(errorOf(res.body).errors[0]?.reason, 'invalid');
      }
      const unknownField = await call('POST', `/storage/v1/b?project=${PROJECT}`, {
        name: 'lc-rejected',
        lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { ageInDays: 3 } }] },
      });
      assert.equal(unknownField.status, 400);
      assert.equal((await call('GET', '/storage/v1/b/lc-rejected')).status, 404);
    });
  });

  describe('lifecycle executor', () => {
    it('deletes objects once they reach the age condition', async () => {
      await createBucket('lc-age', {
        lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { age: 30 } }] },
      });
      const object = await put('lc-age', 'old.txt');
      clock.advance(29 * DAY_MS);
      await put('lc-age', 'young.txt');
      assert.deepEqual((await runIn('lc-age')).applied, []);

      clock.advance(DAY_MS);
      const run = await runIn('lc-age');
      assert.deepEqual(run.applied, [
        { bucket: 'lc-age', name: 'old.txt', generation: object.generation, action: 'Delete' },
      ]);
      assert.deepEqual(await names('lc-age'), ['young.txt']);
    });

    it('deletes objects created before the createdBefore date', async () => {
      const tomorrow = new Date(clock.now() + DAY_MS).toISOString().slice(0, 10);
      await createBucket('lc-created', {
        lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { createdBefore: tomorrow } }] },
      });
      await put('lc-created', 'before.txt');
      clock.advance(2 * DAY_MS);
      await put('lc-created', 'after.txt');
      const run = await runIn('lc-created');
      assert.deepEqual(
        run.applied.map((action) => action.name),
        ['before.txt'],
      );
      assert.deepEqual(await names('lc-created'), ['after.txt']);
    });

    it('matches names by prefix and suffix (both must hold)', async () => {
      await createBucket('lc-names', {
        lifecycle: {
          rule: [
            {
              action: { type: 'Delete' },
              condition: { matchesPrefix: ['tmp/', 'cache/'], matchesSuffix: ['.log'] },
            },
          ],
        },
      });
      for (const name of ['tmp/a.log', 'cache/b.log', 'tmp/c.txt', 'logs/d.log']) {
        await put('lc-names', name);
      }
      const run = await runIn('lc-names');
      assert.deepEqual(run.applied.map((action) => action.name).sort(), ['cache/b.log', 'tmp/a.log']);
      assert.deepEqual(await names('lc-names'), ['logs/d.log', 'tmp/c.txt']);
    });

    it('keeps only the newest versions with numNewerVersions', async () => {
      await createBucket('lc-versions', {
        versioning: { enabled: true },
        lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { numNewerVersions: 2 } }] },
      });
      const generations: string[] = [];
      for (const data of ['v1', 'v2', 'v3', 'v4']) {
        generations.push(String((await put('lc-versions', 'doc', data)).generation));
        clock.advance(1000);
      }
      const run = await runIn('lc-versions');
      assert.deepEqual(
        run.applied.map((action) => action.generation).sort(),
        [generations[0], generations[1]].sort(),
      );
      assert.deepEqual(await names('lc-versions', true), [`doc#${generations[2]}`, `doc#${generations[3]}`]);
    });

    it('deletes noncurrent versions with isLive=false and keeps the live one', async () => {
      await createBucket('lc-noncurrent', {
        versioning: { enabled: true },
        lifecycle: {
          rule: [{ action: { type: 'Delete' }, condition: { isLive: false, daysSinceNoncurrentTime: 7 } }],
        },
      });
      const first = await put('lc-noncurrent', 'doc', 'one');
      clock.advance(1000);
      const second = await put('lc-noncurrent', 'doc', 'two');
      clock.advance(6 * DAY_MS);
      assert.deepEqual((await runIn('lc-noncurrent')).applied, []);
      clock.advance(DAY_MS);
      const run = await runIn('lc-noncurrent');
      assert.deepEqual(run.applied, [
        { bucket: 'lc-noncurrent', name: 'doc', generation: first.generation, action: 'Delete' },
      ]);
      assert.deepEqual(await names('lc-noncurrent', true), [`doc#${String(second.generation)}`]);
    });

    it('makes a live object noncurrent in a versioned bucket, as Google does', async () => {
      await createBucket('lc-archive', {
        versioning: { enabled: true },
        lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { age: 1, isLive: true } }] },
      });
      const live = await put('lc-archive', 'doc');
      clock.advance(DAY_MS);
      const run = await runIn('lc-archive');
      assert.deepEqual(run.applied, [
        {
          bucket: 'lc-archive',
          name: 'doc',
          generation: live.generation,
          action: 'Delete',
          madeNoncurrent: true,
        },
      ]);
      assert.deepEqual(await names('lc-archive'), []);
      const old = await call('GET', `/storage/v1/b/lc-archive/o/doc?generation=${String(live.generation)}`);
      assert.equal(old.status, 200);
      assert.equal(old.body.timeDeleted, new Date(clock.now()).toISOString());
      // isLive: true no longer matches it.
      assert.deepEqual((await runIn('lc-archive')).applied, []);
    });

    it('moves objects to colder storage classes with SetStorageClass', async () => {
      await createBucket('lc-class', {
        lifecycle: {
          rule: [
            { action: { type: 'SetStorageClass', storageClass: 'NEARLINE' }, condition: { age: 10 } },
            {
              action: { type: 'SetStorageClass', storageClass: 'COLDLINE' },
              condition: { age: 20, matchesStorageClass: ['NEARLINE'] },
            },
          ],
        },
      });
      const object = await put('lc-class', 'photo.jpg');
      clock.advance(10 * DAY_MS);
      let run = await runIn('lc-class');
      assert.deepEqual(run.applied, [
        {
          bucket: 'lc-class',
          name: 'photo.jpg',
          generation: object.generation,
          action: 'SetStorageClass',
          storageClass: 'NEARLINE',
        },
      ]);
      let got = await call('GET', '/storage/v1/b/lc-class/o/photo.jpg');
      assert.equal(got.body.storageClass, 'NEARLINE');
      assert.equal(got.body.generation, object.generation);
      assert.equal(got.body.timeStorageClassUpdated, new Date(clock.now()).toISOString());
      assert.equal((await runIn('lc-class')).applied.length, 0);

      clock.advance(10 * DAY_MS);
      run = await runIn('lc-class');
      assert.equal(run.applied[0]?.storageClass, 'COLDLINE');
      got = await call('GET', '/storage/v1/b/lc-class/o/photo.jpg');
      assert.equal(got.body.storageClass, 'COLDLINE');
      // Never back to a warmer class.
      assert.equal((await runIn('lc-class')).applied.length, 0);
    });

    it('runs periodically once the server starts its background workers', async () => {
      await createBucket('lc-timer', {
        lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { age: 0 } }] },
      });
      await put('lc-timer', 'soon-gone');
      startLifecycleTimer(t.platform, 5);
      try {
        for (let i = 0; i < 200 && (await names('lc-timer')).length > 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      } finally {
        stopLifecycleTimers();
      }
      assert.deepEqual(await names('lc-timer'), []);
    });

    it('does not delete held objects', async () => {
      await createBucket('lc-held', {
        lifecycle: { rule: [{ action: { type: 'Delete' }, condition: { age: 0 } }] },
      });
      await put('lc-held', 'kept');
      const patched = await call('PATCH', '/storage/v1/b/lc-held/o/kept', { temporaryHold: true });
      assert.equal(patched.status, 200);
      const run = await runIn('lc-held');
      assert.equal(run.applied.length, 0);
      assert.equal(run.skipped[0]?.name, 'kept');
      assert.match(run.skipped[0]?.reason ?? '', /Temporary hold/);
      assert.deepEqual(await names('lc-held'), ['kept']);
    });
  });

  describe('retention policy and holds', () => {
    it('refuses to delete or replace an object before its retention expires', async () => {
      const bucket = await createBucket('ret-bucket', { retentionPolicy: { retentionPeriod: '86400' } });
      assert.deepEqual(bucket.retentionPolicy, {
        retentionPeriod: '86400',
        effectiveTime: new Date(clock.now()).toISOString(),
      });
      const object = await put('ret-bucket', 'contract.pdf');
      const expires = new Date(Date.parse(String(object.timeCreated)) + DAY_MS).toISOString();
      assert.equal(object.retentionExpirationTime, expires);

      const denied = await remove('ret-bucket', 'contract.pdf');
      assert.equal(denied.status, 403);
      assert.equal(errorOf(denied.body).errors[0]?.reason, 'retentionPolicyNotMet');
      assert.equal(
        errorOf(denied.body).message,
        `Object 'ret-bucket/contract.pdf' is subject to bucket's retention policy and cannot be deleted, overwritten or archived until ${expires}`,
      );
      const replaced = await upload('ret-bucket', 'contract.pdf', 'new');
      assert.equal(replaced.status, 403);
      assert.equal(errorOf(replaced.body).errors[0]?.reason, 'retentionPolicyNotMet');

      clock.advance(DAY_MS);
      assert.equal((await remove('ret-bucket', 'contract.pdf')).status, 204);
    });

    it('applies a policy set later to existing objects and lifts it when removed', async () => {
      await createBucket('ret-later');
      const object = await put('ret-later', 'a');
      assert.equal(object.retentionExpirationTime, undefined);
      const patched = await call('PATCH', '/storage/v1/b/ret-later', {
        retentionPolicy: { retentionPeriod: 3600 },
      });
      assert.equal(patched.status, 200);
      assert.equal((patched.body.retentionPolicy as Json).retentionPeriod, '3600');
      const got = await call('GET', '/storage/v1/b/ret-later/o/a');
      assert.equal(
        got.body.retentionExpirationTime,
        new Date(Date.parse(String(object.timeCreated)) + 3600_000).toISOString(),
      );
      assert.equal((await remove('ret-later', 'a')).status, 403);

      const bad = await call('PATCH', '/storage/v1/b/ret-later', {
        retentionPolicy: { retentionPeriod: 'soon' },
      });
      assert.equal(bad.status, 400);

      const cleared = await call('PATCH', '/storage/v1/b/ret-later', { retentionPolicy: null });
      assert.equal(cleared.status, 200);
      assert.equal(cleared.body.retentionPolicy, undefined);
      const after = await call('GET', '/storage/v1/b/ret-later/o/a');
      assert.equal(after.body.retentionExpirationTime, undefined);
      assert.equal((await remove('ret-later', 'a')).status, 204);
    });

    it('locks a retention policy, which can then only grow', async () => {
      const bucket = await createBucket('ret-locked', { retentionPolicy: { retentionPeriod: '60' } });
      const noPrecondition = await call('POST', '/storage/v1/b/ret-locked/lockRetentionPolicy');
      assert.equal(noPrecondition.status, 400);
      const stale = await call(
        'POST',
        '/storage/v1/b/ret-locked/lockRetentionPolicy?ifMetagenerationMatch=7',
      );
      assert.equal(stale.status, 412);
      const locked = await call(
        'POST',
        `/storage/v1/b/ret-locked/lockRetentionPolicy?ifMetagenerationMatch=${String(bucket.metageneration)}`,
      );
      assert.equal(locked.status, 200);
      assert.equal((locked.body.retentionPolicy as Json).isLocked, true);
      assert.equal(locked.body.metageneration, '2');

      const removed = await call('PATCH', '/storage/v1/b/ret-locked', { retentionPolicy: null });
      assert.equal(removed.status, 403);
      const reduced = await call('PATCH', '/storage/v1/b/ret-locked', {
        retentionPolicy: { retentionPeriod: '30' },
      });
      assert.equal(reduced.status, 403);
      const extended = await call('PATCH', '/storage/v1/b/ret-locked', {
        retentionPolicy: { retentionPeriod: '120' },
      });
      assert.equal(extended.status, 200);
      assert.deepEqual(extended.body.retentionPolicy, {
        retentionPeriod: '120',
        effectiveTime: new Date(clock.now()).toISOString(),
        isLocked: true,
      });

      await createBucket('ret-none');
      const none = await call('POST', '/storage/v1/b/ret-none/lockRetentionPolicy?ifMetagenerationMatch=1');
      assert.equal(none.status, 400);
    });

    it('gives new objects an event-based hold when the bucket says so', async () => {
      const bucket = await createBucket('hold-default', { defaultEventBasedHold: true });
      assert.equal(bucket.defaultEventBasedHold, true);
      const object = await put('hold-default', 'evidence');
      assert.equal(object.eventBasedHold, true);

      const denied = await remove('hold-default', 'evidence');
      assert.equal(denied.status, 403);
      assert.equal(errorOf(denied.body).errors[0]?.reason, 'forbidden');
      assert.equal(
        errorOf(denied.body).message,
        "Object 'hold-default/evidence' is under active Event-Based hold and cannot be deleted, overwritten or archived until hold is removed.",
      );
      const replaced = await upload('hold-default', 'evidence', 'new');
      assert.equal(replaced.status, 403);

      const released = await call('PATCH', '/storage/v1/b/hold-default/o/evidence', {
        eventBasedHold: false,
      });
      assert.equal(released.status, 200);
      assert.equal((await remove('hold-default', 'evidence')).status, 204);

      const off = await call('PATCH', '/storage/v1/b/hold-default', { defaultEventBasedHold: false });
      assert.equal(off.body.defaultEventBasedHold, undefined);
      assert.equal((await put('hold-default', 'free')).eventBasedHold, undefined);
    });

    it('refuses to delete an object under a temporary hold with 403', async () => {
      await createBucket('hold-temporary');
      await put('hold-temporary', 'doc');
      await call('PATCH', '/storage/v1/b/hold-temporary/o/doc', { temporaryHold: true });
      const denied = await remove('hold-temporary', 'doc');
      assert.equal(denied.status, 403);
      assert.equal(
        errorOf(denied.body).message,
        "Object 'hold-temporary/doc' is under active Temporary hold and cannot be deleted, overwritten or archived until hold is removed.",
      );
    });
  });
});
