/**
 * Cloud Storage Pub/Sub notification configs (storage.notifications.*) through app.inject, and the
 * messages the durable events-bus subscriber records for them: event order, event type and prefix
 * filters, payload formats, and survival (and replay from the outbox) across a restart.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { bearer, startTestApp, tempDir, type Json, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';
const BUCKET = 'notify-main';
const TOPIC = `projects/${PROJECT}/topics/uploads`;

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface Message {
  messageId: string;
  data: string;
  attributes: Record<string, string>;
  publishTime: string;
}

function callerFor(get: () => TestApp) {
  return async (
    method: Method,
    url: string,
    payload?: object | Buffer,
    headers: Record<string, string> = {},
    /** '' sends no credentials. */
    token: string = get().ownerToken,
  ): Promise<{ status: number; body: Json }> => {
    const res = await get().app.inject({
      method,
      url,
      headers: { ...(token === '' ? {} : bearer(token)), ...headers },
      ...(payload === undefined ? {} : { payload }),
    });
    return { status: res.statusCode, body: res.body === '' ? {} : res.json<Json>() };
  };
}

function helpers(get: () => TestApp) {
  const call = callerFor(get);
  return {
    call,
    upload: async (bucket: string, name: string, text: string) => {
      const res = await call(
        'POST',
        `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
        Buffer.from(text),
        { 'content-type': 'text/plain' },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    },
    messages: async (id: string): Promise<Message[]> => {
      await get().platform.events.drain();
      const res = await call('GET', `/_nimbus/storage/notifications/${id}/messages`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.messages as Message[];
    },
    notify: async (bucket: string, body: object): Promise<Json> => {
      const res = await call('POST', `/storage/v1/b/${bucket}/notificationConfigs`, body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    },
  };
}

const payloadOf = (message: Message): Json =>
  JSON.parse(Buffer.from(message.data, 'base64').toString()) as Json;

describe('Cloud Storage notification configs (JSON API v1)', () => {
  let t: TestApp;
  const { call, upload, messages, notify } = helpers(() => t);

  before(async () => {
    t = await startTestApp({ anonymous: 'viewer' });
    const res = await call('POST', `/storage/v1/b?project=${PROJECT}`, { name: BUCKET });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
  after(async () => {
    await t.dispose();
  });

  it('inserts, gets, lists and deletes configs, with and without the /storage/v1 prefix', async () => {
    const created = await notify(BUCKET, {
      topic: TOPIC,
      payload_format: 'NONE',
      event_types: ['OBJECT_DELETE'],
      object_name_prefix: 'logs/',
      custom_attributes: { team: 'data' },
    });
    assert.equal(created.kind, 'storage#notification');
    assert.equal(created.topic, `//pubsub.googleapis.com/${TOPIC}`);
    assert.equal(created.payload_format, 'NONE');
    assert.deepEqual(created.event_types, ['OBJECT_DELETE']);
    assert.equal(created.object_name_prefix, 'logs/');
    assert.deepEqual(created.custom_attributes, { team: 'data' });
    assert.equal(typeof created.etag, 'string');
    const id = created.id as string;
    assert.match(
      created.selfLink as string,
      new RegExp(`/storage/v1/b/${BUCKET}/notificationConfigs/${id}$`),
    );

    const full = await notify(BUCKET, {
      topic: `//pubsub.googleapis.com/${TOPIC}`,
      payload_format: 'JSON_API_V1',
    });
    assert.equal(full.topic, `//pubsub.googleapis.com/${TOPIC}`);
    assert.equal(full.event_types, undefined);

    for (const prefix of ['/storage/v1', '']) {
      const got = await call('GET', `${prefix}/b/${BUCKET}/notificationConfigs/${id}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, created);
      const list = await call('GET', `${prefix}/b/${BUCKET}/notificationConfigs`);
      assert.equal(list.status, 200);
      assert.equal(list.body.kind, 'storage#notifications');
      assert.deepEqual(
        (list.body.items as Json[]).map((item) => item.id),
        [id, full.id],
      );
    }

    const removed = await call('DELETE', `/b/${BUCKET}/notificationConfigs/${id}`);
    assert.equal(removed.status, 204);
    assert.equal((await call('GET', `/storage/v1/b/${BUCKET}/notificationConfigs/${id}`)).status, 404);
    assert.equal((await call('DELETE', `/storage/v1/b/${BUCKET}/notificationConfigs/${id}`)).status, 404);
    assert.equal(
      (await call('DELETE', `/storage/v1/b/${BUCKET}/notificationConfigs/${full.id as string}`)).status,
      204,
    );
    const empty = await call('GET', `/storage/v1/b/${BUCKET}/notificationConfigs`);
    assert.deepEqual(empty.body, { kind: 'storage#notifications', items: [] });
  });

  it('rejects bad topics, payload formats, event types and unknown fields', async () => {
    for (const body of [
      { topic: 'uploads', payload_format: 'JSON_API_V1' },
      { topic: '//pubsub.googleapis.com/projects/p/subscriptions/s', payload_format: 'JSON_API_V1' },
      { topic: TOPIC, payload_format: 'XML' },
      { topic: TOPIC, payload_format: 'NONE', event_types: ['OBJECT_CREATE'] },
      { topic: TOPIC, payload_format: 'NONE', bogus: 1 },
      {},
    ]) {
      const res = await call('POST', `/storage/v1/b/${BUCKET}/notificationConfigs`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    const missing = await call('POST', '/storage/v1/b/no-such-bucket-here/notificationConfigs', {
      topic: TOPIC,
      payload_format: 'NONE',
    });
    assert.equal(missing.status, 404);
  });

  it('requires storage.buckets.update to insert or delete and storage.buckets.get to read', async () => {
    const config = await notify(BUCKET, { topic: TOPIC, payload_format: 'NONE' });
    const id = config.id as string;
    // Anonymous callers here are implicit viewers: they may read but not change configs.
    const viewer = async (method: Method, url: string, payload?: object) =>
      call(method, url, payload, {}, '');
    assert.equal((await viewer('GET', `/storage/v1/b/${BUCKET}/notificationConfigs`)).status, 200);
    assert.equal((await viewer('GET', `/storage/v1/b/${BUCKET}/notificationConfigs/${id}`)).status, 200);
    const insert = await viewer('POST', `/storage/v1/b/${BUCKET}/notificationConfigs`, {
      topic: TOPIC,
      payload_format: 'NONE',
    });
    assert.equal(insert.status, 403);
    assert.equal((await viewer('DELETE', `/storage/v1/b/${BUCKET}/notificationConfigs/${id}`)).status, 403);
    assert.equal((await call('DELETE', `/storage/v1/b/${BUCKET}/notificationConfigs/${id}`)).status, 204);
  });

  it('records finalize, metadataUpdate and delete messages in order', async () => {
    const bucket = 'notify-order';
    assert.equal((await call('POST', `/storage/v1/b?project=${PROJECT}`, { name: bucket })).status, 200);
    const config = await notify(bucket, {
      topic: TOPIC,
      payload_format: 'JSON_API_V1',
      custom_attributes: { origin: 'test' },
    });
    const id = config.id as string;
    const object = await upload(bucket, 'dir/a.txt', 'hello');
    const patched = await call('PATCH', `/storage/v1/b/${bucket}/o/${encodeURIComponent('dir/a.txt')}`, {
      metadata: { colour: 'blue' },
    });
    assert.equal(patched.status, 200);
    const deleted = await call('DELETE', `/storage/v1/b/${bucket}/o/${encodeURIComponent('dir/a.txt')}`);
    assert.equal(deleted.status, 204);

    const got = await messages(id);
    assert.deepEqual(
      got.map((m) => m.attributes.eventType),
      ['OBJECT_FINALIZE', 'OBJECT_METADATA_UPDATE', 'OBJECT_DELETE'],
    );
    for (const message of got) {
      assert.equal(
        message.attributes.notificationConfig,
        `projects/_/buckets/${bucket}/notificationConfigs/${id}`,
      );
      assert.equal(message.attributes.payloadFormat, 'JSON_API_V1');
      assert.equal(message.attributes.bucketId, bucket);
      assert.equal(message.attributes.objectId, 'dir/a.txt');
      assert.equal(message.attributes.objectGeneration, object.generation);
      assert.equal(message.attributes.origin, 'test');
      assert.ok(!Number.isNaN(Date.parse(message.attributes.eventTime ?? '')));
      const payload = payloadOf(message);
      assert.equal(payload.kind, 'storage#object');
      assert.equal(payload.name, 'dir/a.txt');
      assert.equal(payload.bucket, bucket);
      assert.equal(payload.size, '5');
    }
    assert.equal(payloadOf(got[0] as Message).metageneration, '1');
    assert.equal(payloadOf(got[1] as Message).metageneration, '2');
    assert.deepEqual(payloadOf(got[1] as Message).metadata, { colour: 'blue' });
    assert.ok(Number(got[0]?.messageId) < Number(got[1]?.messageId));
    assert.ok(Number(got[1]?.messageId) < Number(got[2]?.messageId));
  });

  it('filters by object name prefix and event type, and sends no data for payload NONE', async () => {
    const bucket = 'notify-filter';
    assert.equal((await call('POST', `/storage/v1/b?project=${PROJECT}`, { name: bucket })).status, 200);
    const logs = await notify(bucket, { topic: TOPIC, payload_format: 'NONE', object_name_prefix: 'logs/' });
    const deletes = await notify(bucket, {
      topic: TOPIC,
      payload_format: 'JSON_API_V1',
      event_types: ['OBJECT_DELETE'],
    });
    await upload(bucket, 'logs/1.txt', 'one');
    await upload(bucket, 'images/1.png', 'png');
    await upload(bucket, 'logs/2.txt', 'two');
    assert.equal(
      (await call('DELETE', `/storage/v1/b/${bucket}/o/${encodeURIComponent('images/1.png')}`)).status,
      204,
    );

    const logMessages = await messages(logs.id as string);
    assert.deepEqual(
      logMessages.map((m) => [m.attributes.eventType, m.attributes.objectId]),
      [
        ['OBJECT_FINALIZE', 'logs/1.txt'],
        ['OBJECT_FINALIZE', 'logs/2.txt'],
      ],
    );
    assert.ok(logMessages.every((m) => m.data === '' && m.attributes.payloadFormat === 'NONE'));

    const deleteMessages = await messages(deletes.id as string);
    assert.deepEqual(
      deleteMessages.map((m) => [m.attributes.eventType, m.attributes.objectId]),
      [['OBJECT_DELETE', 'images/1.png']],
    );
    assert.equal(payloadOf(deleteMessages[0] as Message).name, 'images/1.png');
  });

  it('records OBJECT_ARCHIVE for versioned buckets', async () => {
    const bucket = 'notify-versioned';
    const created = await call('POST', `/storage/v1/b?project=${PROJECT}`, {
      name: bucket,
      versioning: { enabled: true },
    });
    assert.equal(created.status, 200);
    const config = await notify(bucket, { topic: TOPIC, payload_format: 'JSON_API_V1' });
    const first = await upload(bucket, 'v.txt', 'one');
    await upload(bucket, 'v.txt', 'two');
    const got = await messages(config.id as string);
    assert.deepEqual(
      got.map((m) => m.attributes.eventType),
      ['OBJECT_FINALIZE', 'OBJECT_FINALIZE', 'OBJECT_ARCHIVE'],
    );
    assert.equal(got[2]?.attributes.objectGeneration, first.generation);
    assert.ok(typeof payloadOf(got[2] as Message).timeDeleted === 'string');
  });

  it('404s the messages of an unknown config', async () => {
    assert.equal((await call('GET', '/_nimbus/storage/notifications/999999/messages')).status, 404);
  });
});

describe('Cloud Storage notification messages across a restart', () => {
  const dataDir = tempDir();
  let t: TestApp;
  const { call, upload, messages, notify } = helpers(() => t);

  after(async () => {
    await t.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps recorded messages and replays unacknowledged events from the outbox', async () => {
    t = await startTestApp({ dataDir });
    assert.equal((await call('POST', `/storage/v1/b?project=${PROJECT}`, { name: BUCKET })).status, 200);
    const config = await notify(BUCKET, { topic: TOPIC, payload_format: 'JSON_API_V1' });
    const id = config.id as string;
    await upload(BUCKET, 'a.txt', 'a');
    await upload(BUCKET, 'b.txt', 'b');
    const before = await messages(id);
    assert.equal(before.length, 2);
    await t.dispose();

    // Same data dir: the messages are still there.
    t = await startTestApp({ dataDir });
    assert.deepEqual(await messages(id), before);
    assert.equal((await call('GET', `/storage/v1/b/${BUCKET}/notificationConfigs/${id}`)).status, 200);

    // Simulate a crash after the events were committed but before the subscriber handled them:
    // rewind its cursor and drop the messages; the next start replays the outbox.
    await t.platform.events.drain();
    const store = t.platform.store;
    store.put('events/cursors', 'storage.notifications', {
      name: 'storage.notifications',
      lastId: '0'.repeat(16),
    });
    for (const key of store
      .list<{ messageId: string }>('storage/notification-messages')
      .map((m) => `${id.padStart(12, '0')}/${m.messageId.padStart(16, '0')}`)) {
      assert.ok(store.delete('storage/notification-messages', key));
    }
    await t.dispose();

    t = await startTestApp({ dataDir });
    const replayed = await messages(id);
    assert.deepEqual(
      replayed.map((m) => [m.messageId, m.attributes.objectId, m.attributes.eventType]),
      [
        [before[0]?.messageId, 'a.txt', 'OBJECT_FINALIZE'],
        [before[1]?.messageId, 'b.txt', 'OBJECT_FINALIZE'],
      ],
    );
    await upload(BUCKET, 'c.txt', 'c');
    assert.equal((await messages(id)).length, 3);
  });
});
