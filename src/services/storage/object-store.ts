import type { DocumentStore } from '../../core/store.ts';

/** One generation of an object (the live one, or a noncurrent version when versioning is on). */
export interface ObjectRecord {
  bucket: string;
  name: string;
  /** Microseconds since the epoch, unique per object name, as a decimal string. */
  generation: string;
  metageneration: number;
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  customTime?: string;
  metadata?: Record<string, string>;
  storageClass: string;
  size: number;
  md5Hash: string;
  crc32c: string;
  timeCreated: string;
  updated: string;
  timeStorageClassUpdated: string;
  timeDeleted?: string;
  temporaryHold?: boolean;
  eventBasedHold?: boolean;
  componentCount?: number;
  /** timeCreated + the bucket's retention period (kept current when the policy changes). */
  retentionExpirationTime?: string;
  /** Where the bytes are: inline in the store, or a blob file. */
  data: { kind: 'inline' } | { kind: 'file'; fileId: string };
}

const LIVE = 'storage/objects';
const NONCURRENT = 'storage/noncurrent';
const INLINE = 'storage/inline';

/** Key of a live object: bucket names contain no '/', object names no NUL. */
export function objectKey(bucket: string, name: string): string {
  return `${bucket}/${name}`;
}

function versionKey(bucket: string, name: string, generation: string): string {
  return `${bucket}/${name}\u0000${generation.padStart(20, '0')}`;
}

/** Objects over the document store: live objects, noncurrent versions and inline bytes. */
export class ObjectStore {
  constructor(private readonly docs: DocumentStore) {}

  transaction<R>(fn: () => R): R {
    return this.docs.transaction(fn);
  }
  getLive(bucket: string, name: string): ObjectRecord | undefined {
    return this.docs.get<ObjectRecord>(LIVE, objectKey(bucket, name));
  }
  putLive(record: ObjectRecord): void {
    this.docs.put(LIVE, objectKey(record.bucket, record.name), record);
  }
  deleteLive(bucket: string, name: string): void {
    this.docs.delete(LIVE, objectKey(bucket, name));
  }
  getNoncurrent(bucket: string, name: string, generation: string): ObjectRecord | undefined {
    return this.docs.get<ObjectRecord>(NONCURRENT, versionKey(bucket, name, generation));
  }
  putNoncurrent(record: ObjectRecord): void {
    this.docs.put(NONCURRENT, versionKey(record.bucket, record.name, record.generation), record);
  }
  deleteNoncurrent(record: ObjectRecord): void {
    this.docs.delete(NONCURRENT, versionKey(record.bucket, record.name, record.generation));
  }
  /** Live objects of a bucket in name order, with keys > `afterKey`. */
  listLive(bucket: string, prefix: string, afterKey: string | undefined, limit: number): ObjectRecord[] {
    return this.docs.list<ObjectRecord>(LIVE, { prefix: objectKey(bucket, prefix), after: afterKey, limit });
  }
  listNoncurrent(bucket: string, prefix: string): ObjectRecord[] {
    return this.docs.list<ObjectRecord>(NONCURRENT, { prefix: objectKey(bucket, prefix) });
  }
  /** Blob files referenced by any generation of any object. */
  referencedFiles(): Set<string> {
    const ids = new Set<string>();
    for (const collection of [LIVE, NONCURRENT]) {
      for (const record of this.docs.list<ObjectRecord>(collection)) {
        if (record.data.kind === 'file') {
          ids.add(record.data.fileId);
        }
      }
    }
    return ids;
  }

  countLive(bucket: string): number {
    return this.docs.count(LIVE, `${bucket}/`);
  }
  countNoncurrent(bucket: string): number {
    return this.docs.count(NONCURRENT, `${bucket}/`);
  }
  putInline(bucket: string, generation: string, name: string, data: Buffer): void {
    this.docs.putBytes(INLINE, versionKey(bucket, name, generation), data);
  }
  getInline(bucket: string, generation: string, name: string): Buffer {
    const key = versionKey(bucket, name, generation);
    const data = this.docs.getBytes(INLINE, key);
    if (data !== undefined) {
      return data;
    }
    // Data dirs written before the bytes table kept inline contents as base64 documents.
    const doc = this.docs.get<{ data: string }>(INLINE, key);
    return Buffer.from(doc?.data ?? '', 'base64');
  }
  deleteInline(bucket: string, generation: string, name: string): void {
    const key = versionKey(bucket, name, generation);
    if (!this.docs.deleteBytes(INLINE, key)) {
      this.docs.delete(INLINE, key);
    }
  }
}
