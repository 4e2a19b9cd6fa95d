import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { rfc3339 } from '../../core/clock.ts';
import { InvalidArgument, NotFound } from '../../core/errors.ts';
import type { NimbusEvent } from '../../core/events.ts';
import { baseUrl, paramsOf, parseBody } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { ROOT_RESOURCE } from '../iam/index.ts';
import type { DocumentStore } from '../../core/store.ts';
import type { ObjectRecord } from './object-store.ts';
import { presentObject } from './presenters.ts';
import { bucketResource } from './routes.ts';
import type { BucketsService } from './service.ts';
import type { BucketRecord } from './store.ts';
import { bucketContext } from './access-context.ts';

/**
 * Cloud Storage Pub/Sub notifications (`notificationConfigs`). There is no Pub/Sub service yet, so a
 * durable events-bus subscriber records, per notification config, the messages Cloud Storage would
 * publish to the topic; `GET /_nimbus/storage/notifications/ID/messages` reads them back.
 */

const CONFIGS = 'storage/notifications';
const MESSAGES = 'storage/notification-messages';
const SEQUENCE = 'storage/notification-sequence';
/** Name of the durable events-bus subscription (its cursor is persisted under this name). */
export const NOTIFICATIONS_SUBSCRIPTION = 'storage.notifications';
/** Google allows at most 100 notification configurations per bucket. */
const MAX_CONFIGS_PER_BUCKET = 100;

/** Nimbus event type -> Cloud Storage notification event type. */
export const EVENT_TYPES: Record<string, string> = {
  'storage.object.finalize': 'OBJECT_FINALIZE',
  'storage.object.delete': 'OBJECT_DELETE',
  'storage.object.archive': 'OBJECT_ARCHIVE',
  'storage.object.metadataUpdate': 'OBJECT_METADATA_UPDATE',
};
const NOTIFICATION_EVENT_TYPES = new Set(Object.values(EVENT_TYPES));
const PAYLOAD_FORMATS = new Set(['JSON_API_V1', 'NONE']);

export interface NotificationConfig {
  id: string;
  bucket: string;
  /** Creation time of the bucket this config belongs to (a later bucket of the same name has none). */
  bucketCreated: string;
  /** `//pubsub.googleapis.com/projects/P/topics/T`. */
  topic: string;
  payloadFormat: string;
  eventTypes?: string[];
  objectNamePrefix?: string;
  customAttributes?: Record<string, string>;
  timeCreated: string;
}

/** A message as it would be published to the config's topic (Pub/Sub PubsubMessage shape). */
export interface NotificationMessage {
  messageId: string;
  /** Base64 of the payload (the object resource JSON for JSON_API_V1, empty for NONE). */
  data: string;
  attributes: Record<string, string>;
  publishTime: string;
}

interface StoredMessage extends NotificationMessage {
  notificationId: string;
}

const InsertNotificationBody = Type.Object(
  {
    kind: Type.Optional(Type.String()),
    id: Type.Optional(Type.String()),
    selfLink: Type.Optional(Type.String()),
    etag: Type.Optional(Type.String()),
    topic: Type.String(),
    payload_format: Type.Optional(Type.String()),
    event_types: Type.Optional(Type.Array(Type.String())),
    object_name_prefix: Type.Optional(Type.String()),
    custom_attributes: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { additionalProperties: false },
);

const TOPIC_PATTERN =
  /^(?:\/\/pubsub\.googleapis\.com\/)?(projects\/[a-z][-a-z0-9.:]{0,62}[a-z0-9]\/topics\/[^/]+)$/;

/** `projects/P/topics/T` or `//pubsub.googleapis.com/projects/P/topics/T` -> the full form. */
export function normaliseTopic(topic: string): string {
  const match = TOPIC_PATTERN.exec(topic.trim());
  if (match === null) {
    throw new InvalidArgument(
      `Invalid topic name '${topic}': expected '//pubsub.googleapis.com/projects/PROJECT/topics/TOPIC'.`,
      { reason: 'invalid' },
    );
  }
  return `//pubsub.googleapis.com/${match[1] ?? ''}`;
}

function messageKey(id: string, eventId: string): string {
  return `${id.padStart(12, '0')}/${eventId}`;
}

function configKey(bucket: string, id: string): string {
  return `${bucket}/${id}`;
}

/** Notification configs over the document store, and the messages recorded for them. */
export class NotificationsService {
  constructor(
    private readonly store: DocumentStore,
    private readonly buckets: BucketsService,
    private readonly clock: { now(): number },
  ) {}

  /** Whether any bucket has a notification config (else object events need no handling). */
  anyConfigs(): boolean {
    return this.store.count(CONFIGS) > 0;
  }

  /** Configs of the bucket as it is now (configs of an earlier, deleted bucket of that name are purged). */
  list(bucket: BucketRecord): NotificationConfig[] {
    const all = this.store.list<NotificationConfig>(CONFIGS, { prefix: `${bucket.name}/` });
    const stale = all.filter((config) => config.bucketCreated !== bucket.timeCreated);
    if (stale.length > 0) {
      this.store.transaction(() => {
        for (const config of stale) {
          this.store.delete(CONFIGS, configKey(config.bucket, config.id));
        }
      });
    }
    return all.filter((config) => config.bucketCreated === bucket.timeCreated);
  }

  get(bucket: BucketRecord, id: string): NotificationConfig {
    const config = this.store.get<NotificationConfig>(CONFIGS, configKey(bucket.name, id));
    if (config === undefined || config.bucketCreated !== bucket.timeCreated) {
      throw new NotFound(`No such notification config: ${id}`, { reason: 'notFound' });
    }
    return config;
  }

  insert(
    bucket: BucketRecord,
    input: Omit<NotificationConfig, 'id' | 'bucket' | 'bucketCreated' | 'timeCreated'>,
  ): NotificationConfig {
    return this.store.transaction(() => {
      if (this.list(bucket).length >= MAX_CONFIGS_PER_BUCKET) {
        throw new InvalidArgument(
          `A bucket may have at most ${MAX_CONFIGS_PER_BUCKET} notification configurations.`,
          { reason: 'invalid' },
        );
      }
      const sequence = (this.store.get<{ last: number }>(SEQUENCE, 'last')?.last ?? 0) + 1;
      this.store.put(SEQUENCE, 'last', { last: sequence });
      const config: NotificationConfig = {
        id: String(sequence),
        bucket: bucket.name,
        bucketCreated: bucket.timeCreated,
        topic: input.topic,
        payloadFormat: input.payloadFormat,
        timeCreated: rfc3339(this.clock.now()),
      };
      if (input.eventTypes !== undefined && input.eventTypes.length > 0) {
        config.eventTypes = input.eventTypes;
      }
      if (input.objectNamePrefix !== undefined && input.objectNamePrefix !== '') {
        config.objectNamePrefix = input.objectNamePrefix;
      }
      if (input.customAttributes !== undefined && Object.keys(input.customAttributes).length > 0) {
        config.customAttributes = input.customAttributes;
      }
      this.store.put(CONFIGS, configKey(bucket.name, config.id), config);
      return config;
    });
  }

  delete(bucket: BucketRecord, id: string): void {
    const config = this.get(bucket, id);
    this.store.delete(CONFIGS, configKey(config.bucket, config.id));
  }

  /** Messages recorded for notification config `id`, oldest first; 404 when the id never existed. */
  messages(id: string): NotificationMessage[] {
    const stored = this.store.list<StoredMessage>(MESSAGES, { prefix: `${id.padStart(12, '0')}/` });
    if (stored.length === 0 && !this.store.list<NotificationConfig>(CONFIGS).some((c) => c.id === id)) {
      throw new NotFound(`No such notification config: ${id}`, { reason: 'notFound' });
    }
    return stored.map(({ messageId, data, attributes, publishTime }) => ({
      messageId,
      data,
      attributes,
      publishTime,
    }));
  }

  /**
   * Records the messages an object event produces. Keyed by (config, event id), so a redelivery
   * (at-least-once) overwrites rather than duplicates.
   */
  handle(event: NimbusEvent, base: string): void {
    const eventType = EVENT_TYPES[event.type];
    const data = event.data as
      { bucket?: string; name?: string; generation?: string; object?: ObjectRecord } | undefined;
    if (eventType === undefined || data?.bucket === undefined || data.name === undefined) {
      return;
    }
    const bucketName = data.bucket;
    const objectName = data.name;
    const current = this.buckets.findBucket(bucketName);
    const configs = this.store
      .list<NotificationConfig>(CONFIGS, { prefix: `${bucketName}/` })
      .filter(
        (config) =>
          (current === undefined || config.bucketCreated === current.timeCreated) &&
          Date.parse(config.timeCreated) <= Date.parse(event.time) &&
          (config.eventTypes === undefined || config.eventTypes.includes(eventType)) &&
          objectName.startsWith(config.objectNamePrefix ?? ''),
      );
    if (configs.length === 0) {
      return;
    }
    const generation = data.generation ?? data.object?.generation ?? '';
    const resource =
      data.object === undefined
        ? { kind: 'storage#object', bucket: bucketName, name: objectName, generation }
        : presentObject(data.object, base);
    this.store.transaction(() => {
      for (const config of configs) {
        const message: StoredMessage = {
          notificationId: config.id,
          messageId: String(Number(event.id)),
          data:
            config.payloadFormat === 'JSON_API_V1'
              ? Buffer.from(JSON.stringify(resource)).toString('base64')
              : '',
          attributes: {
            ...(config.customAttributes ?? {}),
            notificationConfig: `projects/_/buckets/${bucketName}/notificationConfigs/${config.id}`,
            eventType,
            payloadFormat: config.payloadFormat,
            bucketId: bucketName,
            objectId: objectName,
            objectGeneration: generation,
            eventTime: event.time,
          },
          publishTime: rfc3339(this.clock.now()),
        };
        this.store.put(MESSAGES, messageKey(config.id, event.id), message);
      }
    });
  }
}

export function presentNotification(config: NotificationConfig, base: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    kind: 'storage#notification',
    id: config.id,
    selfLink: `${base}/storage/v1/b/${encodeURIComponent(config.bucket)}/notificationConfigs/${config.id}`,
    topic: config.topic,
    payload_format: config.payloadFormat,
  };
  if (config.eventTypes !== undefined) {
    out.event_types = config.eventTypes;
  }
  if (config.objectNamePrefix !== undefined) {
    out.object_name_prefix = config.objectNamePrefix;
  }
  if (config.customAttributes !== undefined) {
    out.custom_attributes = config.customAttributes;
  }
  out.etag = createHash('sha256')
    .update(`${config.bucket}/${config.id}/${config.timeCreated}`)
    .digest('base64')
    .slice(0, 12);
  return out;
}

/**
 * `notificationConfigs` routes (under `/storage/v1` and at the root), the internal messages view, and
 * the durable subscriber that records messages.
 */
export function registerNotifications(
  app: FastifyInstance,
  platform: Platform,
  buckets: BucketsService,
): void {
  const notifications = new NotificationsService(platform.store, buckets, platform.clock);
  const base = `http://${platform.config.host.includes(':') ? `[${platform.config.host}]` : platform.config.host}:${platform.config.port}`;
  platform.events.subscribe(
    NOTIFICATIONS_SUBSCRIPTION,
    'storage.object.*',
    (event) => {
      notifications.handle(event, base);
    },
    { interested: () => notifications.anyConfigs() },
  );

  const load = (request: FastifyRequest, permission: string): BucketRecord => {
    const bucket = buckets.getBucket(paramsOf(request).bucket ?? '');
    platform.access.authorize(
      request.principal,
      permission,
      bucketResource(bucket),
      bucketContext(bucket.name),
    );
    return bucket;
  };

  for (const prefix of ['/storage/v1', '']) {
    // storage.notifications.insert
    app.post(`${prefix}/b/:bucket/notificationConfigs`, async (request) => {
      const bucket = load(request, 'storage.buckets.update');
      const body = parseBody(InsertNotificationBody, request.body, false);
      const payloadFormat = body.payload_format ?? 'JSON_API_V1';
      if (!PAYLOAD_FORMATS.has(payloadFormat)) {
        throw new InvalidArgument(
          `Invalid payload_format '${payloadFormat}': expected JSON_API_V1 or NONE.`,
          {
            reason: 'invalid',
          },
        );
      }
      for (const type of body.event_types ?? []) {
        if (!NOTIFICATION_EVENT_TYPES.has(type)) {
          throw new InvalidArgument(`Invalid event type '${type}'.`, { reason: 'invalid' });
        }
      }
      const config = notifications.insert(bucket, {
        topic: normaliseTopic(body.topic),
        payloadFormat,
        eventTypes: body.event_types,
        objectNamePrefix: body.object_name_prefix,
        customAttributes: body.custom_attributes,
      });
      return presentNotification(config, baseUrl(request));
    });

    // storage.notifications.list
    app.get(`${prefix}/b/:bucket/notificationConfigs`, async (request) => {
      const bucket = load(request, 'storage.buckets.get');
      const items = notifications.list(bucket).map((config) => presentNotification(config, baseUrl(request)));
      return { kind: 'storage#notifications', items };
    });

    // storage.notifications.get
    app.get(`${prefix}/b/:bucket/notificationConfigs/:id`, async (request) => {
      const bucket = load(request, 'storage.buckets.get');
      return presentNotification(notifications.get(bucket, paramsOf(request).id ?? ''), baseUrl(request));
    });

    // storage.notifications.delete
    app.delete(`${prefix}/b/:bucket/notificationConfigs/:id`, async (request, reply) => {
      const bucket = load(request, 'storage.buckets.update');
      notifications.delete(bucket, paramsOf(request).id ?? '');
      return reply.code(204).send();
    });
  }

  // What would have been published for a notification config (tests, and later the Pub/Sub service).
  app.get('/_nimbus/storage/notifications/:id/messages', async (request) => {
    const id = paramsOf(request).id ?? '';
    const config = platform.store.list<NotificationConfig>(CONFIGS).find((candidate) => candidate.id === id);
    const current = config === undefined ? undefined : buckets.findBucket(config.bucket);
    // The bucket's readers may see its messages; once the bucket is gone, only organization readers.
    const resource = current === undefined ? ROOT_RESOURCE : bucketResource(current);
    platform.access.authorize(request.principal, 'storage.buckets.get', resource);
    return { messages: notifications.messages(id) };
  });
}
