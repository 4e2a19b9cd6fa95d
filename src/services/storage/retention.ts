import { Type, type Static } from '@sinclair/typebox';
import { rfc3339 } from '../../core/clock.ts';
import { ConditionNotMet, PermissionDenied } from '../../core/errors.ts';
import { BucketNotFound, InvalidBucketArgument, RequiredParameter } from './errors.ts';
import { objectKey, type ObjectRecord, type ObjectStore } from './object-store.ts';
import type { BucketRecord, BucketStore } from './store.ts';

/** Google's longest retention period: 100 years, in seconds. */
const MAX_RETENTION_SECONDS = 3_155_760_000;

/** The Bucket resource's `retentionPolicy` as a client sends it (`effectiveTime`, `isLocked`: output only). */
export const RetentionPolicySchema = Type.Object(
  {
    retentionPeriod: Type.Optional(Type.Union([Type.String(), Type.Integer()])),
    effectiveTime: Type.Optional(Type.String()),
    isLocked: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type RetentionPolicyInput = Static<typeof RetentionPolicySchema>;

/** Stored on the bucket. */
export interface RetentionPolicy {
  /** Seconds. */
  retentionPeriod: number;
  /** When the policy (this period) took effect. */
  effectiveTime: string;
  /** Locked (buckets.lockRetentionPolicy): it can no longer be removed or shortened. */
  isLocked?: boolean;
}

/** Validates a client's retention policy; keeps `effectiveTime` when the period is unchanged. */
export function normalizeRetentionPolicy(
  input: RetentionPolicyInput,
  current: RetentionPolicy | undefined,
  now: number,
): RetentionPolicy {
  const raw = input.retentionPeriod;
  const seconds = typeof raw === 'number' ? raw : /^\d+$/.test(raw ?? '') ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0 || seconds > MAX_RETENTION_SECONDS) {
    throw new InvalidBucketArgument(
      `Invalid retention period: '${String(raw ?? '')}'. It must be a number of seconds from 1 to ${MAX_RETENTION_SECONDS}.`,
    );
  }
  if (current?.retentionPeriod === seconds) {
    return current;
  }
  if (current?.isLocked === true) {
    if (seconds < current.retentionPeriod) {
      throw lockedPolicy('reduced');
    }
    return { retentionPeriod: seconds, effectiveTime: rfc3339(now), isLocked: true };
  }
  return { retentionPeriod: seconds, effectiveTime: rfc3339(now) };
}

/** A locked retention policy cannot be removed or shortened. */
export function lockedPolicy(what: 'removed' | 'reduced'): PermissionDenied {
  return new PermissionDenied(
    what === 'removed'
      ? 'Cannot remove a locked retention policy.'
      : 'Cannot reduce the retention period of a locked retention policy.',
    { reason: 'forbidden' },
  );
}

/** storage.buckets.lockRetentionPolicy: the locked bucket, with its metageneration bumped. */
export function lockRetentionPolicy(
  store: BucketStore,
  name: string,
  ifMetagenerationMatch: number | undefined,
  now: number,
): BucketRecord {
  if (ifMetagenerationMatch === undefined) {
    throw new RequiredParameter('ifMetagenerationMatch');
  }
  return store.transaction(() => {
    const bucket = store.get(name);
    if (bucket === undefined) {
      throw new BucketNotFound();
    }
    if (bucket.metageneration !== ifMetagenerationMatch) {
      throw new ConditionNotMet('At least one of the pre-conditions you specified did not hold.');
    }
    const policy = bucket.retentionPolicy;
    if (policy === undefined) {
      throw new InvalidBucketArgument('The bucket has no retention policy to lock.');
    }
    if (policy.isLocked === true) {
      return bucket;
    }
    const next: BucketRecord = {
      ...bucket,
      retentionPolicy: { ...policy, isLocked: true },
      metageneration: bucket.metageneration + 1,
      updated: rfc3339(now),
    };
    store.put(next);
    return next;
  });
}

/** When the bucket's retention policy releases `record` (ms), or undefined without a policy. */
export function retentionExpiresAt(
  bucket: BucketRecord | undefined,
  record: ObjectRecord,
): number | undefined {
  const policy = bucket?.retentionPolicy;
  if (policy === undefined) {
    return undefined;
  }
  return Date.parse(record.timeCreated) + policy.retentionPeriod * 1000;
}

/**
 * Throws Google's 403 when `record` may not be deleted, replaced or archived: an active hold, or a
 * bucket retention policy that has not expired for it yet.
 */
export function checkRemovable(bucket: BucketRecord | undefined, record: ObjectRecord, now: number): void {
  const held =
    record.eventBasedHold === true ? 'Event-Based' : record.temporaryHold === true ? 'Temporary' : '';
  if (held !== '') {
    throw new PermissionDenied(
      `Object '${record.bucket}/${record.name}' is under active ${held} hold and cannot be deleted, overwritten or archived until hold is removed.`,
      { reason: 'forbidden' },
    );
  }
  const expires = retentionExpiresAt(bucket, record);
  if (expires !== undefined && now < expires) {
    throw new PermissionDenied(
      `Object '${record.bucket}/${record.name}' is subject to bucket's retention policy and cannot be deleted, overwritten or archived until ${rfc3339(expires)}`,
      { reason: 'retentionPolicyNotMet' },
    );
  }
}

/** Sets a new object's bucket-derived fields: `retentionExpirationTime` and the default event-based hold. */
export function applyBucketObjectDefaults(
  bucket: BucketRecord | undefined,
  record: ObjectRecord,
  eventBasedHoldRequested: boolean | undefined,
): void {
  if (bucket?.defaultEventBasedHold === true && eventBasedHoldRequested === undefined) {
    record.eventBasedHold = true;
  }
  const expires = retentionExpiresAt(bucket, record);
  if (expires !== undefined) {
    record.retentionExpirationTime = rfc3339(expires);
  }
}

/** Recomputes `retentionExpirationTime` of every generation in the bucket after its policy changed. */
export function refreshRetentionExpiration(store: ObjectStore, bucket: BucketRecord): void {
  const update = (record: ObjectRecord): ObjectRecord | undefined => {
    const expires = retentionExpiresAt(bucket, record);
    const value = expires === undefined ? undefined : rfc3339(expires);
    if (record.retentionExpirationTime === value) {
      return undefined;
    }
    const next: ObjectRecord = { ...record };
    if (value === undefined) {
      delete next.retentionExpirationTime;
    } else {
      next.retentionExpirationTime = value;
    }
    return next;
  };
  store.transaction(() => {
    for (let after: string | undefined; ;) {
      const page = store.listLive(bucket.name, '', after, 1000);
      const last = page[page.length - 1];
      if (last === undefined) {
        break;
      }
      for (const record of page) {
        const next = update(record);
        if (next !== undefined) {
          store.putLive(next);
        }
      }
      after = objectKey(bucket.name, last.name);
    }
    for (const record of store.listNoncurrent(bucket.name, '')) {
      const next = update(record);
      if (next !== undefined) {
        store.putNoncurrent(next);
      }
    }
  });
}
