import type { ObjectRecord } from './object-store.ts';
import type { BucketRecord } from './store.ts';
import { presentBucketPolicies } from './bucket-policies.ts';
import { publicAccessPreventionOf } from './public-access.ts';

/** Protobuf varint of `value` (bucket etags are the base64 of `metageneration` as field 1). */
function varint(value: number): number[] {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  bytes.push(rest);
  return bytes;
}

/** Google's bucket etag: `CAE=` for metageneration 1, `CAI=` for 2... */
export function bucketEtag(metageneration: number): string {
  return Buffer.from([0x08, ...varint(metageneration)]).toString('base64');
}

/** A bucket as the JSON API prints it (`projection=noAcl`). */
export function presentBucket(bucket: BucketRecord, base: string): Record<string, unknown> {
  const ubla: Record<string, unknown> = { enabled: bucket.uniformBucketLevelAccess.enabled };
  if (bucket.uniformBucketLevelAccess.lockedTime !== undefined) {
    ubla.lockedTime = bucket.uniformBucketLevelAccess.lockedTime;
  }
  const out: Record<string, unknown> = {
    kind: 'storage#bucket',
    selfLink: `${base}/storage/v1/b/${encodeURIComponent(bucket.name)}`,
    id: bucket.name,
    name: bucket.name,
    projectNumber: bucket.projectNumber,
    metageneration: String(bucket.metageneration),
    location: bucket.location,
    storageClass: bucket.storageClass,
    etag: bucketEtag(bucket.metageneration),
    timeCreated: bucket.timeCreated,
    updated: bucket.updated,
  };
  if (bucket.versioningEnabled !== undefined) {
    out.versioning = { enabled: bucket.versioningEnabled };
  }
  if (Object.keys(bucket.labels).length > 0) {
    out.labels = bucket.labels;
  }
  if (bucket.cors !== undefined && bucket.cors.length > 0) {
    out.cors = bucket.cors;
  }
  Object.assign(out, presentBucketPolicies(bucket));
  out.iamConfiguration = {
    bucketPolicyOnly: ubla,
    uniformBucketLevelAccess: ubla,
    publicAccessPrevention: publicAccessPreventionOf(bucket),
  };
  out.locationType = bucket.locationType;
  return out;
}

export function presentBucketList(
  buckets: BucketRecord[],
  nextPageToken: string | undefined,
  base: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: 'storage#buckets' };
  if (nextPageToken !== undefined) {
    out.nextPageToken = nextPageToken;
  }
  if (buckets.length > 0) {
    out.items = buckets.map((bucket) => presentBucket(bucket, base));
  }
  return out;
}

/** Google's object etag: protobuf of generation (field 1) and metageneration (field 2). */
export function objectEtag(record: ObjectRecord): string {
  return Buffer.from([
    0x08,
    ...varint(Number(record.generation)),
    0x10,
    ...varint(record.metageneration),
  ]).toString('base64');
}

/** An object as the JSON API prints it (`projection=noAcl`). */
export function presentObject(record: ObjectRecord, base: string): Record<string, unknown> {
  const bucket = encodeURIComponent(record.bucket);
  const name = encodeURIComponent(record.name);
  const out: Record<string, unknown> = {
    kind: 'storage#object',
    id: `${record.bucket}/${record.name}/${record.generation}`,
    selfLink: `${base}/storage/v1/b/${bucket}/o/${name}`,
    mediaLink: `${base}/download/storage/v1/b/${bucket}/o/${name}?generation=${record.generation}&alt=media`,
    name: record.name,
    bucket: record.bucket,
    generation: record.generation,
    metageneration: String(record.metageneration),
    contentType: record.contentType,
    storageClass: record.storageClass,
    size: String(record.size),
    md5Hash: record.md5Hash,
    crc32c: record.crc32c,
    etag: objectEtag(record),
    timeCreated: record.timeCreated,
    updated: record.updated,
    timeStorageClassUpdated: record.timeStorageClassUpdated,
  };
  if (record.componentCount !== undefined) {
    // Composite objects have no MD5 hash on Google, only a crc32c.
    delete out.md5Hash;
  }
  for (const field of [
    'contentEncoding',
    'contentDisposition',
    'contentLanguage',
    'cacheControl',
    'customTime',
    'metadata',
    'timeDeleted',
    'temporaryHold',
    'eventBasedHold',
    'componentCount',
    'retentionExpirationTime',
  ] as const) {
    if (record[field] !== undefined) {
      out[field] = record[field];
    }
  }
  return out;
}

export function presentObjectList(
  items: ObjectRecord[],
  prefixes: string[],
  nextPageToken: string | undefined,
  base: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: 'storage#objects' };
  if (nextPageToken !== undefined) {
    out.nextPageToken = nextPageToken;
  }
  if (prefixes.length > 0) {
    out.prefixes = prefixes;
  }
  if (items.length > 0) {
    out.items = items.map((item) => presentObject(item, base));
  }
  return out;
}
