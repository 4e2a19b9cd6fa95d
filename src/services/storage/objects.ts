import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import { rfc3339, type Clock } from '../../core/clock.ts';
import { ConditionNotMet, InvalidArgument, NotFound } from '../../core/errors.ts';
import type { EventBus } from '../../core/events.ts';
import { decodePageToken, encodePageToken, pageSizeOf } from '../../core/paging.ts';
import type { BlobStore, IngestedBlob } from '../../platform/blobs.ts';
import type { GroupCommit } from '../../platform/group-commit.ts';
import { objectKey, type ObjectRecord, type ObjectStore } from './object-store.ts';
import { applyBucketObjectDefaults, checkRemovable, refreshRetentionExpiration } from './retention.ts';
import type { BucketsService } from './service.ts';
import type { BucketRecord } from './store.ts';

/** Objects up to this size live inline in the metadata store (one fsync'd SQLite commit, no file). */
export const INLINE_LIMIT = 128 * 1024;
const MAX_NAME_BYTES = 1024;

export interface ObjectPreconditions {
  ifGenerationMatch?: number | undefined;
  ifGenerationNotMatch?: number | undefined;
  ifMetagenerationMatch?: number | undefined;
  ifMetagenerationNotMatch?: number | undefined;
}

/** Writable object metadata (the parts of the resource a client may set). */
export interface ObjectMetadataInput {
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  contentDisposition?: string | undefined;
  contentLanguage?: string | undefined;
  cacheControl?: string | undefined;
  customTime?: string | undefined;
  /** Merged into the custom metadata (a null value removes that key; null removes them all). */
  metadata?: Record<string, string | null> | null | undefined;
  temporaryHold?: boolean | undefined;
  eventBasedHold?: boolean | undefined;
  storageClass?: string | undefined;
}

export interface ExpectedHashes {
  md5Hash?: string | undefined;
  crc32c?: string | undefined;
}

export interface ListObjectsRequest {
  prefix?: string | undefined;
  delimiter?: string | undefined;
  pageToken?: string | undefined;
  maxResults?: number | undefined;
  startOffset?: string | undefined;
  endOffset?: string | undefined;
  versions?: boolean | undefined;
  includeTrailingDelimiter?: boolean | undefined;
  matchGlob?: string | undefined;
}

export interface ObjectPage {
  items: ObjectRecord[];
  prefixes: string[];
  nextPageToken?: string;
}

/** Google's object naming rules: 1-1024 bytes of UTF-8, no CR/LF/NUL, not `.` or `..`. */
export function validateObjectName(name: string): void {
  if (name === '' || Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new InvalidArgument('Object name must be between 1 and 1024 bytes of UTF-8.', {
      reason: 'invalid',
    });
  }
  if (
    /[\r\n\u0000]/.test(name) ||
    name === '.' ||
    name === '..' ||
    name.startsWith('.well-known/acme-challenge/')
  ) {
    throw new InvalidArgument(`The object name '${name.replace(/[\r\n\u0000]/g, '?')}' is not allowed.`, {
      reason: 'invalid',
    });
  }
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(name)) {
    throw new InvalidArgument('Object names must be valid UTF-8.', { reason: 'invalid' });
  }
}

export function objectNotFound(bucket: string, name: string): NotFound {
  return new NotFound(`No such object: ${bucket}/${name}`, { reason: 'notFound' });
}

/** Glob to RegExp for `matchGlob` (`*` within a segment, `**` across, `?`, `[...]`, `{a,b}`). */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') {
      if (glob[i + 1] === '*') {
        out += '.*';
        i += 1;
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) {
        out += '\\[';
      } else {
        out += `[${glob
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = close;
      }
    } else if (c === '{') {
      const close = glob.indexOf('}', i + 1);
      if (close < 0) {
        out += '\\{';
      } else {
        out += `(?:${glob
          .slice(i + 1, close)
          .split(',')
          .map((alt) => alt.replace(/[.+^${}()|[\]\\*?]/g, '\\$&'))
          .join('|')})`;
        i = close;
      }
    } else {
      out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`, 's');
}

/** Cloud Storage objects: the domain, over ObjectStore (metadata) and BlobStore (bytes). */
export class ObjectsService {
  private lastGeneration = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly blobs: BlobStore,
    private readonly buckets: BucketsService,
    private readonly clock: Clock,
    private readonly events: EventBus,
    private readonly group: GroupCommit,
  ) {}

  /** Unique, increasing generations (microseconds since the epoch, as Google's are). */
  private nextGeneration(): string {
    const candidate = this.clock.now() * 1000;
    this.lastGeneration = Math.max(candidate, this.lastGeneration + 1);
    return String(this.lastGeneration);
  }

  exists(bucket: string, name: string): boolean {
    return this.store.getLive(bucket, name) !== undefined;
  }

  findLive(bucket: string, name: string): ObjectRecord | undefined {
    return this.store.getLive(bucket, name);
  }

  getObject(bucket: string, name: string, generation?: string): ObjectRecord {
    this.buckets.getBucket(bucket);
    const live = this.store.getLive(bucket, name);
    if (generation === undefined || generation === live?.generation) {
      if (live === undefined) {
        throw objectNotFound(bucket, name);
      }
      return live;
    }
    const old = this.store.getNoncurrent(bucket, name, generation);
    if (old === undefined) {
      throw objectNotFound(bucket, name);
    }
    return old;
  }

  /** Checks Google's generation/metageneration preconditions against the live object (or none). */
  checkPreconditions(current: ObjectRecord | undefined, conditions: ObjectPreconditions): void {
    const generation = current === undefined ? 0 : Number(current.generation);
    const fail = (what: string): never => {
      throw new ConditionNotMet(`At least one of the pre-conditions you specified did not hold. (${what})`);
    };
    if (conditions.ifGenerationMatch !== undefined && conditions.ifGenerationMatch !== generation) {
      fail('ifGenerationMatch');
    }
    if (conditions.ifGenerationNotMatch !== undefined && conditions.ifGenerationNotMatch === generation) {
      fail('ifGenerationNotMatch');
    }
    if (conditions.ifMetagenerationMatch !== undefined) {
      if (current === undefined || current.metageneration !== conditions.ifMetagenerationMatch) {
        fail('ifMetagenerationMatch');
      }
    }
    if (
      conditions.ifMetagenerationNotMatch !== undefined &&
      current?.metageneration === conditions.ifMetagenerationNotMatch
    ) {
      fail('ifMetagenerationNotMatch');
    }
  }

  /**
   * Stores `source` as a new generation of bucket/name. The bytes are made durable first; the
   * metadata commit (with preconditions checked inside the transaction) makes the object visible.
   */
  async insertObject(input: {
    bucket: string;
    name: string;
    metadata: ObjectMetadataInput;
    source: Readable | AsyncIterable<Buffer> | Buffer;
    expectedSize?: number | undefined;
    expected?: ExpectedHashes;
    conditions?: ObjectPreconditions;
  }): Promise<ObjectRecord> {
    validateObjectName(input.name);
    const bucket = this.buckets.getBucket(input.bucket);
    const source = Buffer.isBuffer(input.source) ? ReadableStream.from([input.source]) : input.source;
    // Fail fast on a precondition that already fails (checked again at commit).
    this.checkPreconditions(this.store.getLive(input.bucket, input.name), input.conditions ?? {});
    const blob = await this.blobs.ingest(source, {
      inlineLimit: INLINE_LIMIT,
      ...(input.expectedSize === undefined ? {} : { expectedSize: input.expectedSize }),
    });
    try {
      verifyHashes(blob, input.expected ?? {});
      // Group commit: concurrent small uploads share one fsync'd transaction.
      return await this.group.run(() =>
        this.commitObject(
          bucket.name,
          input.name,
          blob,
          input.metadata,
          bucket.storageClass,
          input.conditions ?? {},
          {
            versioning: bucket.versioningEnabled === true,
          },
        ),
      );
    } catch (error) {
      if (blob.fileId !== undefined) {
        await this.blobs.remove(blob.fileId);
      }
      throw error;
    }
  }

  /** Makes an ingested blob the live generation of bucket/name (used by uploads, copy and compose). */
  commitObject(
    bucket: string,
    name: string,
    blob: IngestedBlob,
    metadata: ObjectMetadataInput,
    defaultStorageClass: string,
    conditions: ObjectPreconditions,
    options: { versioning: boolean; componentCount?: number },
  ): ObjectRecord {
    const now = rfc3339(this.clock.now());
    const generation = this.nextGeneration();
    const record: ObjectRecord = {
      bucket,
      name,
      generation,
      metageneration: 1,
      storageClass: metadata.storageClass ?? defaultStorageClass,
      size: blob.size,
      md5Hash: blob.md5Hash,
      crc32c: blob.crc32c,
      timeCreated: now,
      updated: now,
      timeStorageClassUpdated: now,
      data: blob.fileId === undefined ? { kind: 'inline' } : { kind: 'file', fileId: blob.fileId },
    };
    applyMetadata(record, metadata);
    if (record.contentType === undefined) {
      record.contentType = 'application/octet-stream';
    }
    if (options.componentCount !== undefined) {
      record.componentCount = options.componentCount;
    }
    const bucketRecord = this.buckets.findBucket(bucket);
    applyBucketObjectDefaults(bucketRecord, record, metadata.eventBasedHold);
    const replaced = this.store.transaction(() => {
      const current = this.store.getLive(bucket, name);
      this.checkPreconditions(current, conditions);
      if (current !== undefined) {
        checkRemovable(bucketRecord, current, this.clock.now());
      }
      if (blob.inline !== undefined) {
        this.store.putInline(bucket, generation, name, blob.inline);
      }
      let dropped: ObjectRecord | undefined;
      if (current !== undefined) {
        if (options.versioning) {
          this.store.putNoncurrent({ ...current, timeDeleted: now });
        } else {
          dropped = current;
          this.dropData(current);
        }
      }
      this.store.putLive(record);
      this.events.publish('storage.object.finalize', `${bucket}/${name}`, {
        bucket,
        name,
        generation,
        object: record,
      });
      if (current !== undefined && options.versioning) {
        this.events.publish('storage.object.archive', `${bucket}/${name}`, {
          bucket,
          name,
          generation: current.generation,
          object: { ...current, timeDeleted: now },
        });
      }
      return dropped;
    });
    if (replaced?.data.kind === 'file') {
      void this.blobs.remove(replaced.data.fileId);
    }
    return record;
  }

  /** Deletes inline bytes inside the caller's transaction (files are removed after commit). */
  private dropData(record: ObjectRecord): void {
    if (record.data.kind === 'inline') {
      this.store.deleteInline(record.bucket, record.generation, record.name);
    }
  }

  /** The bytes of a generation, optionally a range (inclusive). */
  /** The bytes of a generation as one buffer when it is stored inline (the small-object fast path). */
  inlineBytes(record: ObjectRecord, start?: number, end?: number): Buffer | undefined {
    if (record.data.kind !== 'inline') {
      return undefined;
    }
    const data = this.store.getInline(record.bucket, record.generation, record.name);
    return data.subarray(start ?? 0, end === undefined ? undefined : end + 1);
  }

  openRead(record: ObjectRecord, start?: number, end?: number): Readable {
    if (record.data.kind === 'file') {
      return this.blobs.read(record.data.fileId, start, end);
    }
    const data = this.store.getInline(record.bucket, record.generation, record.name);
    return ReadableStream.from([data.subarray(start ?? 0, end === undefined ? undefined : end + 1)]);
  }

  /** Reads a whole generation into memory (compose, small copies). */
  async readAll(record: ObjectRecord): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.openRead(record)) {
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async deleteObject(
    bucket: string,
    name: string,
    generation: string | undefined,
    conditions: ObjectPreconditions,
  ): Promise<void> {
    const bucketRecord = this.buckets.getBucket(bucket);
    const removed = this.store.transaction(() => {
      const live = this.store.getLive(bucket, name);
      const target =
        generation === undefined || generation === live?.generation
          ? live
          : this.store.getNoncurrent(bucket, name, generation);
      if (target === undefined) {
        throw objectNotFound(bucket, name);
      }
      this.checkPreconditions(target, conditions);
      checkRemovable(bucketRecord, target, this.clock.now());
      const now = rfc3339(this.clock.now());
      if (target === live) {
        this.store.deleteLive(bucket, name);
        if (bucketRecord.versioningEnabled === true && generation === undefined) {
          // With versioning, deleting the live object makes it noncurrent.
          this.store.putNoncurrent({ ...live, timeDeleted: now });
          this.events.publish('storage.object.archive', objectKey(bucket, name), {
            bucket,
            name,
            generation: live.generation,
            object: { ...live, timeDeleted: now },
          });
          return undefined;
        }
      } else {
        this.store.deleteNoncurrent(target);
      }
      this.dropData(target);
      this.events.publish('storage.object.delete', objectKey(bucket, name), {
        bucket,
        name,
        generation: target.generation,
        object: target,
      });
      return target;
    });
    if (removed?.data.kind === 'file') {
      await this.blobs.remove(removed.data.fileId);
    }
  }

  /** Updates writable metadata of a generation (patch merges; update replaces). */
  updateMetadata(
    bucket: string,
    name: string,
    generation: string | undefined,
    patch: ObjectMetadataInput,
    conditions: ObjectPreconditions,
    replace: boolean,
  ): ObjectRecord {
    this.buckets.getBucket(bucket);
    return this.store.transaction(() => {
      const current = this.getObject(bucket, name, generation);
      this.checkPreconditions(current, conditions);
      const next: ObjectRecord = { ...current };
      if (replace) {
        for (const field of WRITABLE_FIELDS) {
          next[field] = undefined;
        }
        next.contentType = 'application/octet-stream';
      }
      applyMetadata(next, patch);
      next.metageneration = current.metageneration + 1;
      next.updated = rfc3339(this.clock.now());
      if (this.store.getLive(bucket, name)?.generation === next.generation) {
        this.store.putLive(next);
      } else {
        this.store.putNoncurrent(next);
      }
      this.events.publish('storage.object.metadataUpdate', objectKey(bucket, name), {
        bucket,
        name,
        generation: next.generation,
        object: next,
      });
      return next;
    });
  }

  listObjects(bucket: string, request: ListObjectsRequest): ObjectPage {
    this.buckets.getBucket(bucket);
    const prefix = request.prefix ?? '';
    const size = pageSizeOf({ pageSize: request.maxResults }, 1000, 1000);
    const glob = request.matchGlob === undefined ? undefined : globToRegExp(request.matchGlob);
    const delimiter = request.delimiter === '' ? undefined : request.delimiter;
    const items: ObjectRecord[] = [];
    const prefixes: string[] = [];
    let after = decodePageToken(request.pageToken);
    // startOffset/endOffset filter below; the key scan starts at the prefix.
    const keep = (record: ObjectRecord): boolean =>
      (request.startOffset === undefined || record.name >= request.startOffset) &&
      (request.endOffset === undefined || record.name < request.endOffset) &&
      (glob === undefined || glob.test(record.name));
    if (request.versions === true) {
      return this.listVersions(bucket, prefix, delimiter, size, keep, request);
    }
    const full = (): boolean => items.length + prefixes.length >= size;
    let lastKey: string | undefined;
    for (;;) {
      const batch = this.store.listLive(bucket, prefix, after, 256);
      for (const record of batch) {
        if (full()) {
          return lastKey === undefined
            ? { items, prefixes }
            : { items, prefixes, nextPageToken: encodePageToken(lastKey) };
        }
        const key = objectKey(bucket, record.name);
        after = key;
        if (!keep(record)) {
          continue;
        }
        if (delimiter !== undefined) {
          const at = record.name.indexOf(delimiter, prefix.length);
          if (at >= 0) {
            const common = record.name.slice(0, at + delimiter.length);
            if (!prefixes.includes(common)) {
              prefixes.push(common);
            }
            if (request.includeTrailingDelimiter === true && record.name === common) {
              items.push(record);
            }
            // Skip every other object under this prefix.
            after = `${objectKey(bucket, common)}\u{10ffff}`;
            lastKey = after;
            break;
          }
        }
        items.push(record);
        lastKey = key;
      }
      if (batch.length === 0) {
        break;
      }
    }
    return { items, prefixes };
  }

  /**
   * `versions=true`: live and noncurrent generations in (name, generation) order, paged by that
   * pair, so a page never holds more than `size` entries and no generation is listed twice.
   */
  private listVersions(
    bucket: string,
    prefix: string,
    delimiter: string | undefined,
    size: number,
    keep: (record: ObjectRecord) => boolean,
    request: ListObjectsRequest,
  ): ObjectPage {
    const all = [...this.store.listNoncurrent(bucket, prefix)];
    for (let after: string | undefined, guard = 0; guard < 1_000_000; guard++) {
      const batch = this.store.listLive(bucket, prefix, after, 1000);
      all.push(...batch);
      const last = batch[batch.length - 1];
      if (last === undefined) {
        break;
      }
      after = objectKey(bucket, last.name);
    }
    // Byte order of UTF-8, as the store orders names; NUL sorts a name before its extensions.
    const sortKey = (name: string, generation: string): Buffer =>
      Buffer.from(`${name}\u0000${generation.padStart(20, '0')}`);
    const entries = all
      .map((record) => ({ record, key: sortKey(record.name, record.generation) }))
      .sort((a, b) => Buffer.compare(a.key, b.key));
    const token = decodePageToken(request.pageToken);
    const from = token === undefined ? undefined : Buffer.from(token);
    const items: ObjectRecord[] = [];
    const prefixes: string[] = [];
    let lastKey: Buffer | undefined;
    for (const { record, key } of entries) {
      if ((from !== undefined && Buffer.compare(key, from) <= 0) || !keep(record)) {
        continue;
      }
      const at = delimiter === undefined ? -1 : record.name.indexOf(delimiter, prefix.length);
      const common =
        delimiter === undefined || at < 0 ? undefined : record.name.slice(0, at + delimiter.length);
      if (common !== undefined && prefixes.includes(common)) {
        if (request.includeTrailingDelimiter === true && record.name === common) {
          items.push(record);
        }
        continue;
      }
      if (items.length + prefixes.length >= size) {
        return lastKey === undefined
          ? { items, prefixes }
          : { items, prefixes, nextPageToken: encodePageToken(lastKey.toString()) };
      }
      if (common === undefined) {
        items.push(record);
        lastKey = key;
      } else {
        prefixes.push(common);
        if (request.includeTrailingDelimiter === true && record.name === common) {
          items.push(record);
        }
        // The next page starts after every name under this prefix.
        lastKey = Buffer.from(`${common}\u{10ffff}`);
      }
    }
    return { items, prefixes };
  }

  /**
   * Stores fields the XML (S3) face keeps beside a generation (`s3Tags`, the multipart `s3Etag`)
   * without a new metageneration: S3 tagging and multipart ETags are not object metadata on Google.
   */
  setXmlFields(
    bucket: string,
    name: string,
    generation: string,
    fields: { s3Tags?: Record<string, string> | undefined; s3Etag?: string | undefined },
  ): ObjectRecord {
    return this.store.transaction(() => {
      const current = this.getObject(bucket, name, generation);
      const next = { ...current, ...fields } as ObjectRecord & Record<string, unknown>;
      for (const [field, value] of Object.entries(fields)) {
        if (value === undefined) {
          // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
          delete next[field];
        }
      }
      if (this.store.getLive(bucket, name)?.generation === next.generation) {
        this.store.putLive(next);
      } else {
        this.store.putNoncurrent(next);
      }
      return next;
    });
  }

  /** Recomputes `retentionExpirationTime` of the bucket's objects after its retention policy changed. */
  refreshRetention(bucket: BucketRecord): void {
    refreshRetentionExpiration(this.store, bucket);
  }

  /** How many objects (any generation) a bucket holds: a bucket must be empty to be deleted. */
  objectCount(bucket: string): number {
    return this.store.countLive(bucket) + this.store.countNoncurrent(bucket);
  }

  /**
   * Writes the bytes of `sources`, concatenated in order, as a new generation of bucket/name
   * (storage.objects.copy, rewrite and compose). The bytes stream through the blob store (inline up
   * to INLINE_LIMIT, a durable file beyond) and the commit checks the destination preconditions.
   */
  async writeFromObjects(input: {
    bucket: string;
    name: string;
    sources: ObjectRecord[];
    metadata: ObjectMetadataInput;
    conditions: ObjectPreconditions;
    componentCount?: number | undefined;
  }): Promise<ObjectRecord> {
    validateObjectName(input.name);
    const bucket = this.buckets.getBucket(input.bucket);
    // Fail fast on a destination precondition that already fails (checked again at commit).
    this.checkPreconditions(this.store.getLive(bucket.name, input.name), input.conditions);
    const open = (record: ObjectRecord): Readable => this.openRead(record);
    async function* concatenated(sources: ObjectRecord[]): AsyncGenerator<Buffer> {
      for (const source of sources) {
        if (source.size === 0) {
          continue;
        }
        for await (const chunk of open(source)) {
          yield chunk as Buffer;
        }
      }
    }
    const blob = await this.blobs.ingest(concatenated(input.sources), { inlineLimit: INLINE_LIMIT });
    try {
      return this.commitObject(
        bucket.name,
        input.name,
        blob,
        input.metadata,
        bucket.storageClass,
        input.conditions,
        {
          versioning: bucket.versioningEnabled === true,
          ...(input.componentCount === undefined ? {} : { componentCount: input.componentCount }),
        },
      );
    } catch (error) {
      if (blob.fileId !== undefined) {
        await this.blobs.remove(blob.fileId);
      }
      throw error;
    }
  }
}

const WRITABLE_FIELDS = [
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'customTime',
  'metadata',
] as const;

function applyMetadata(record: ObjectRecord, input: ObjectMetadataInput): void {
  for (const field of WRITABLE_FIELDS) {
    if (field === 'metadata') {
      continue;
    }
    const value = input[field];
    if (value !== undefined) {
      record[field] = value;
    }
  }
  if (
    input.customTime !== undefined &&
    record.customTime !== undefined &&
    Date.parse(input.customTime) < Date.parse(record.customTime)
  ) {
    throw new InvalidArgument('customTime cannot be moved earlier.', { reason: 'invalid' });
  }
  if (input.metadata === null) {
    delete record.metadata;
  } else if (input.metadata !== undefined) {
    const merged = Object.fromEntries(
      Object.entries({ ...(record.metadata ?? {}), ...input.metadata }).filter(
        (entry): entry is [string, string] => entry[1] !== null,
      ),
    );
    if (Object.keys(merged).length > 0) {
      record.metadata = merged;
    } else {
      delete record.metadata;
    }
  }
  if (input.temporaryHold !== undefined) {
    record.temporaryHold = input.temporaryHold;
  }
  if (input.eventBasedHold !== undefined) {
    record.eventBasedHold = input.eventBasedHold;
  }
  if (input.storageClass !== undefined) {
    record.storageClass = input.storageClass;
  }
}

function verifyHashes(blob: IngestedBlob, expected: ExpectedHashes): void {
  if (expected.md5Hash !== undefined && expected.md5Hash !== blob.md5Hash) {
    throw new InvalidArgument(
      `Provided MD5 hash "${expected.md5Hash}" doesn't match calculated MD5 hash "${blob.md5Hash}".`,
      { reason: 'invalid' },
    );
  }
  if (expected.crc32c !== undefined && expected.crc32c !== blob.crc32c) {
    throw new InvalidArgument(
      `Provided CRC32C "${expected.crc32c}" doesn't match calculated CRC32C "${blob.crc32c}".`,
      { reason: 'invalid' },
    );
  }
}

/**
 * Removes blob files no object refers to and that are older than `before` (ms since the epoch): a
 * crash between a blob's rename and its metadata commit leaves such a file. Run at start, so the
 * age guard keeps uploads that are committing right now safe.
 */
export async function sweepOrphanBlobs(
  blobs: BlobStore,
  store: ObjectStore,
  before: number,
): Promise<number> {
  const referenced = store.referencedFiles();
  let removed = 0;
  for (const file of blobs.listFiles()) {
    if (!referenced.has(file.fileId) && file.mtimeMs < before) {
      await blobs.remove(file.fileId);
      removed += 1;
    }
  }
  return removed;
}
