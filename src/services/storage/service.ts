import { rfc3339, type Clock } from '../../core/clock.ts';
import { Aborted, ConditionNotMet } from '../../core/errors.ts';
import { paginate, type Page } from '../../core/paging.ts';
import { validateLabels } from '../resourcemanager/index.ts';
import { applyBucketPolicies, type BucketPolicyInput } from './bucket-policies.ts';
import { BucketNameConflict, BucketNotFound, InvalidBucketArgument } from './errors.ts';
import type { BucketRecord, BucketStore } from './store.ts';
import { normalizeCors, type CorsRule } from './cors.ts';
import { checkPublicAccessPrevention } from './public-access.ts';

export const STORAGE_CLASSES = [
  'STANDARD',
  'NEARLINE',
  'COLDLINE',
  'ARCHIVE',
  'MULTI_REGIONAL',
  'REGIONAL',
  'DURABLE_REDUCED_AVAILABILITY',
];
const MULTI_REGIONS = ['US', 'EU', 'ASIA'];
const DUAL_REGIONS = ['NAM4', 'EUR4', 'EUR5', 'EUR7', 'EUR8', 'ASIA1'];
/** Uniform bucket-level access can be turned off again for 90 days after it is enabled. */
const UBLA_LOCK_MS = 90 * 24 * 3600 * 1000;
const DEFAULT_MAX_RESULTS = 1000;

/** Google's bucket naming rules (dotted names may be up to 222 characters, each part at most 63). */
export function validateBucketName(name: string): void {
  const fail = (why: string): never => {
    throw new InvalidBucketArgument(`Invalid bucket name: '${name}'. ${why}`);
  };
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) {
    fail(
      'Bucket names contain only lowercase letters, digits, dashes, underscores and dots, and start and end with a letter or digit.',
    );
  }
  const maxLength = name.includes('.') ? 222 : 63;
  if (name.length < 3 || name.length > maxLength || name.split('.').some((part) => part.length > 63)) {
    fail('Bucket names must be 3 to 63 characters long.');
  }
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) {
    fail('Bucket names cannot be IP addresses.');
  }
  if (name.startsWith('goog') || /g[o0][o0]g[l1]e/.test(name)) {
    fail('Bucket names cannot begin with "goog" or contain "google".');
  }
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) {
    fail('Dots in bucket names must separate letters or digits.');
  }
}

function locationTypeOf(location: string): BucketRecord['locationType'] {
  if (MULTI_REGIONS.includes(location)) {
    return 'multi-region';
  }
  return DUAL_REGIONS.includes(location) ? 'dual-region' : 'region';
}

function checkStorageClass(storageClass: string): string {
  const upper = storageClass.toUpperCase();
  if (!STORAGE_CLASSES.includes(upper)) {
    throw new InvalidBucketArgument(`Invalid storage class: '${storageClass}'.`);
  }
  return upper;
}

export interface Preconditions {
  ifMetagenerationMatch?: number | undefined;
  ifMetagenerationNotMatch?: number | undefined;
}

export interface InsertBucketInput extends BucketPolicyInput {
  name: string;
  project: { projectId: string; projectNumber: string };
  location?: string | undefined;
  storageClass?: string | undefined;
  labels?: Record<string, string> | undefined;
  versioningEnabled?: boolean | undefined;
  uniformBucketLevelAccess?: boolean | undefined;
  /** `enforced`, `inherited` (or `unspecified`); anything else is a 400. */
  publicAccessPrevention?: string | undefined;
  cors?: CorsRule[] | undefined;
}

export interface PatchBucketInput extends BucketPolicyInput {
  /** Merged into the labels; a null value removes that label. */
  labels?: Record<string, string | null> | undefined;
  versioningEnabled?: boolean | undefined;
  storageClass?: string | undefined;
  uniformBucketLevelAccess?: boolean | undefined;
  publicAccessPrevention?: string | undefined;
  /** Replaces the CORS rules; null or [] removes them. */
  cors?: CorsRule[] | null | undefined;
}

/** Cloud Storage buckets (metadata only so far). */
export class BucketsService {
  private readonly deleteHooks: ((bucket: BucketRecord) => void)[] = [];

  constructor(
    private readonly store: BucketStore,
    private readonly clock: Clock,
  ) {}

  /** Runs `hook` inside the transaction that deletes a bucket (what lives in it goes with it). */
  onDeleteBucket(hook: (bucket: BucketRecord) => void): void {
    this.deleteHooks.push(hook);
  }

  /** The bucket, or undefined (routes authorize on its project before answering). */
  findBucket(name: string): BucketRecord | undefined {
    return this.store.get(name);
  }

  getBucket(name: string, conditions: Preconditions = {}): BucketRecord {
    const bucket = this.store.get(name);
    if (bucket === undefined) {
      throw new BucketNotFound();
    }
    checkPreconditions(bucket, conditions);
    return bucket;
  }

  /** `callerOwns` decides the 409 wording when the name is taken. */
  insertBucket(input: InsertBucketInput, callerOwns: (existing: BucketRecord) => boolean): BucketRecord {
    validateBucketName(input.name);
    const location = (input.location ?? 'US').toUpperCase();
    if (!/^[A-Z0-9-]+$/.test(location)) {
      throw new InvalidBucketArgument(`Invalid location: '${input.location ?? ''}'.`);
    }
    validateLabels(input.labels ?? {});
    const publicAccessPrevention = checkPublicAccessPrevention(input.publicAccessPrevention);
    const now = this.clock.now();
    const bucket: BucketRecord = {
      name: input.name,
      projectId: input.project.projectId,
      projectNumber: input.project.projectNumber,
      location,
      locationType: locationTypeOf(location),
      storageClass: checkStorageClass(input.storageClass ?? 'STANDARD'),
      labels: input.labels ?? {},
      uniformBucketLevelAccess: uniformAccess(input.uniformBucketLevelAccess === true, now),
      timeCreated: rfc3339(now),
      updated: rfc3339(now),
      metageneration: 1,
    };
    if (input.versioningEnabled !== undefined) {
      bucket.versioningEnabled = input.versioningEnabled;
    }
    if (publicAccessPrevention === 'enforced') {
      bucket.publicAccessPrevention = 'enforced';
    }
    applyBucketPolicies(bucket, input, now, checkStorageClass);
    if (input.cors !== undefined && input.cors.length > 0) {
      bucket.cors = normalizeCors(input.cors);
    }
    return this.store.transaction(() => {
      if (!this.store.insert(bucket)) {
        const existing = this.store.get(bucket.name);
        throw new BucketNameConflict(existing !== undefined && callerOwns(existing));
      }
      return bucket;
    });
  }

  listBuckets(
    projectId: string,
    request: { maxResults?: number | undefined; pageToken?: string | undefined; prefix?: string | undefined },
  ): Page<BucketRecord> {
    return paginate(
      { pageSize: request.maxResults, pageToken: request.pageToken },
      (bucket) => bucket.name,
      (after, limit) => this.store.list(request.prefix, after, limit),
      (bucket) => bucket.projectId === projectId,
      DEFAULT_MAX_RESULTS,
    );
  }

  patchBucket(name: string, patch: PatchBucketInput, conditions: Preconditions = {}): BucketRecord {
    return this.store.transaction(() => {
      const bucket = this.getBucket(name, conditions);
      const now = this.clock.now();
      const next: BucketRecord = {
        ...bucket,
        updated: rfc3339(now),
        metageneration: bucket.metageneration + 1,
      };
      if (patch.labels !== undefined) {
        const merged = { ...bucket.labels, ...patch.labels };
        next.labels = Object.fromEntries(
          Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== null),
        );
        validateLabels(next.labels);
      }
      if (patch.versioningEnabled !== undefined) {
        next.versioningEnabled = patch.versioningEnabled;
      }
      if (patch.storageClass !== undefined) {
        next.storageClass = checkStorageClass(patch.storageClass);
      }
      const publicAccessPrevention = checkPublicAccessPrevention(patch.publicAccessPrevention);
      if (publicAccessPrevention === 'enforced') {
        next.publicAccessPrevention = 'enforced';
      } else if (publicAccessPrevention === 'inherited') {
        delete next.publicAccessPrevention;
      }
      applyBucketPolicies(next, patch, now, checkStorageClass);
      if (patch.cors === null || (patch.cors !== undefined && patch.cors.length === 0)) {
        delete next.cors;
      } else if (patch.cors !== undefined) {
        next.cors = normalizeCors(patch.cors);
      }
      if (
        patch.uniformBucketLevelAccess !== undefined &&
        patch.uniformBucketLevelAccess !== bucket.uniformBucketLevelAccess.enabled
      ) {
        const locked = bucket.uniformBucketLevelAccess.lockedTime;
        if (!patch.uniformBucketLevelAccess && locked !== undefined && Date.parse(locked) <= now) {
          throw new InvalidBucketArgument(
            'Uniform bucket-level access cannot be disabled more than 90 days after it was enabled.',
          );
        }
        next.uniformBucketLevelAccess = uniformAccess(patch.uniformBucketLevelAccess, now);
      }
      this.store.put(next);
      return next;
    });
  }

  /** Deletes an empty bucket; `objectCount` tells how many objects (any generation) it holds. */
  deleteBucket(
    name: string,
    conditions: Preconditions = {},
    objectCount: (bucket: string) => number = () => 0,
  ): void {
    this.store.transaction(() => {
      const bucket = this.getBucket(name, conditions);
      if (objectCount(name) > 0) {
        throw new Aborted('The bucket you tried to delete is not empty.', { reason: 'conflict' });
      }
      for (const hook of this.deleteHooks) {
        hook(bucket);
      }
      this.store.delete(name);
    });
  }
}

function uniformAccess(enabled: boolean, now: number): BucketRecord['uniformBucketLevelAccess'] {
  return enabled ? { enabled, lockedTime: rfc3339(now + UBLA_LOCK_MS) } : { enabled };
}

function checkPreconditions(bucket: BucketRecord, conditions: Preconditions): void {
  const { ifMetagenerationMatch: match, ifMetagenerationNotMatch: notMatch } = conditions;
  if (
    (match !== undefined && bucket.metageneration !== match) ||
    (notMatch !== undefined && bucket.metageneration === notMatch)
  ) {
    throw new ConditionNotMet('At least one of the pre-conditions you specified did not hold.');
  }
}
