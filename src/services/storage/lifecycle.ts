import { Type, type Static } from '@sinclair/typebox';
import { rfc3339, type Clock } from '../../core/clock.ts';
import { ApiError } from '../../core/errors.ts';
import type { EventBus } from '../../core/events.ts';
import type { Platform } from '../../core/platform.ts';
import { InvalidBucketArgument } from './errors.ts';
import { objectKey, type ObjectRecord, type ObjectStore } from './object-store.ts';
import type { ObjectsService } from './objects.ts';
import type { BucketRecord, BucketStore } from './store.ts';

/** How often the server evaluates lifecycle rules (Google does it about once a day). */
export const LIFECYCLE_INTERVAL_MS = 60_000;
const DAY_MS = 24 * 3600 * 1000;
/** Google allows at most 100 rules per bucket. */
const MAX_RULES = 100;
const ACTION_TYPES = ['Delete', 'SetStorageClass', 'AbortIncompleteMultipartUpload'] as const;
/** Colder classes rank higher; SetStorageClass only ever moves an object to a colder class. */
const CLASS_RANK: Record<string, number> = { NEARLINE: 1, COLDLINE: 2, ARCHIVE: 3 };

const StringList = Type.Array(Type.String());

/** `lifecycle.rule[].condition` of the Bucket resource. */
const LifecycleConditionSchema = Type.Object(
  {
    age: Type.Optional(Type.Integer()),
    createdBefore: Type.Optional(Type.String()),
    customTimeBefore: Type.Optional(Type.String()),
    daysSinceCustomTime: Type.Optional(Type.Integer()),
    daysSinceNoncurrentTime: Type.Optional(Type.Integer()),
    isLive: Type.Optional(Type.Boolean()),
    matchesPrefix: Type.Optional(StringList),
    matchesSuffix: Type.Optional(StringList),
    matchesStorageClass: Type.Optional(StringList),
    noncurrentTimeBefore: Type.Optional(Type.String()),
    numNewerVersions: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);

const LifecycleRuleSchema = Type.Object(
  {
    action: Type.Object(
      { type: Type.String(), storageClass: Type.Optional(Type.String()) },
      { additionalProperties: false },
    ),
    condition: Type.Optional(LifecycleConditionSchema),
  },
  { additionalProperties: false },
);

/** The Bucket resource's `lifecycle` field as a client sends it. */
export const LifecycleSchema = Type.Object(
  { rule: Type.Optional(Type.Array(LifecycleRuleSchema)) },
  { additionalProperties: false },
);
export type LifecycleInput = Static<typeof LifecycleSchema>;
export type LifecycleCondition = Static<typeof LifecycleConditionSchema>;

export interface LifecycleRule {
  action: { type: (typeof ACTION_TYPES)[number]; storageClass?: string };
  condition: LifecycleCondition;
}

/** Stored on the bucket (absent when the bucket has no rules, as Google then omits `lifecycle`). */
export interface LifecycleConfig {
  rule: LifecycleRule[];
}

const DATE_CONDITIONS = ['createdBefore', 'customTimeBefore', 'noncurrentTimeBefore'] as const;
const COUNT_CONDITIONS = [
  'age',
  'daysSinceCustomTime',
  'daysSinceNoncurrentTime',
  'numNewerVersions',
] as const;

/** Midnight UTC of a `YYYY-MM-DD` date (ms), or NaN. */
function dateStart(date: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00Z`) : Number.NaN;
}

/**
 * Validates a client's lifecycle configuration; `checkStorageClass` upper-cases a storage class or
 * throws. An empty rule list removes the configuration (undefined).
 */
export function normalizeLifecycle(
  input: LifecycleInput,
  checkStorageClass: (storageClass: string) => string,
): LifecycleConfig | undefined {
  const rules = input.rule ?? [];
  if (rules.length > MAX_RULES) {
    throw new InvalidBucketArgument(`A lifecycle configuration can have at most ${MAX_RULES} rules.`);
  }
  if (rules.length === 0) {
    return undefined;
  }
  return {
    rule: rules.map((rule): LifecycleRule => {
      const type = ACTION_TYPES.find((known) => known === rule.action.type);
      if (type === undefined) {
        throw new InvalidBucketArgument(`Invalid lifecycle action type: '${rule.action.type}'.`);
      }
      const action: LifecycleRule['action'] = { type };
      if (type === 'SetStorageClass') {
        if (rule.action.storageClass === undefined) {
          throw new InvalidBucketArgument('A SetStorageClass lifecycle action requires a storageClass.');
        }
        action.storageClass = checkStorageClass(rule.action.storageClass);
      } else if (rule.action.storageClass !== undefined) {
        throw new InvalidBucketArgument(`A ${type} lifecycle action cannot have a storageClass.`);
      }
      const condition: LifecycleCondition = { ...(rule.condition ?? {}) };
      if (Object.keys(condition).length === 0) {
        throw new InvalidBucketArgument('A lifecycle rule must have at least one condition.');
      }
      for (const field of DATE_CONDITIONS) {
        const value = condition[field];
        if (value !== undefined && Number.isNaN(dateStart(value))) {
          throw new InvalidBucketArgument(
            `Invalid lifecycle condition ${field}: '${value}' (expected a date as YYYY-MM-DD).`,
          );
        }
      }
      for (const field of COUNT_CONDITIONS) {
        const value = condition[field];
        if (value !== undefined && value < 0) {
          throw new InvalidBucketArgument(`Invalid lifecycle condition ${field}: ${value} is negative.`);
        }
      }
      if (condition.matchesStorageClass !== undefined) {
        condition.matchesStorageClass = condition.matchesStorageClass.map(checkStorageClass);
      }
      return { action, condition };
    }),
  };
}

/** What one generation looks like to the rules. */
interface Candidate {
  record: ObjectRecord;
  live: boolean;
  /** Generations of the same name newer than this one (the live one included). */
  newerVersions: number;
}

/** Whether every condition of a rule holds for `candidate` at `now` (conditions are ANDed). */
export function conditionHolds(condition: LifecycleCondition, candidate: Candidate, now: number): boolean {
  const { record, live } = candidate;
  const created = Date.parse(record.timeCreated);
  const customTime = record.customTime === undefined ? undefined : Date.parse(record.customTime);
  const noncurrentSince =
    live || record.timeDeleted === undefined ? undefined : Date.parse(record.timeDeleted);
  const checks: boolean[] = [];
  if (condition.age !== undefined) {
    checks.push(now >= created + condition.age * DAY_MS);
  }
  if (condition.createdBefore !== undefined) {
    checks.push(created < dateStart(condition.createdBefore));
  }
  if (condition.customTimeBefore !== undefined) {
    checks.push(customTime !== undefined && customTime < dateStart(condition.customTimeBefore));
  }
  if (condition.daysSinceCustomTime !== undefined) {
    checks.push(customTime !== undefined && now >= customTime + condition.daysSinceCustomTime * DAY_MS);
  }
  if (condition.daysSinceNoncurrentTime !== undefined) {
    checks.push(
      noncurrentSince !== undefined && now >= noncurrentSince + condition.daysSinceNoncurrentTime * DAY_MS,
    );
  }
  if (condition.noncurrentTimeBefore !== undefined) {
    checks.push(noncurrentSince !== undefined && noncurrentSince < dateStart(condition.noncurrentTimeBefore));
  }
  if (condition.isLive !== undefined) {
    checks.push(condition.isLive === live);
  }
  if (condition.matchesPrefix !== undefined) {
    checks.push(condition.matchesPrefix.some((prefix) => record.name.startsWith(prefix)));
  }
  if (condition.matchesSuffix !== undefined) {
    checks.push(condition.matchesSuffix.some((suffix) => record.name.endsWith(suffix)));
  }
  if (condition.matchesStorageClass !== undefined) {
    checks.push(condition.matchesStorageClass.includes(record.storageClass));
  }
  if (condition.numNewerVersions !== undefined) {
    checks.push(candidate.newerVersions >= condition.numNewerVersions);
  }
  return checks.every(Boolean);
}

/** One action the executor took (or could not take). */
export interface LifecycleAction {
  bucket: string;
  name: string;
  generation: string;
  action: 'Delete' | 'SetStorageClass';
  /** SetStorageClass: the new class. */
  storageClass?: string;
  /** Delete of a live object in a versioned bucket: it became noncurrent, as on Google. */
  madeNoncurrent?: boolean;
}

export interface LifecycleRun {
  applied: LifecycleAction[];
  /** Matched but left alone: held, retained, or changed since it was read. */
  skipped: (LifecycleAction & { reason: string })[];
}

function compareGenerations(a: string, b: string): number {
  return a.length === b.length ? a.localeCompare(b) : a.length - b.length;
}

/** Evaluates every bucket's lifecycle rules against its objects and applies them. */
export class LifecycleExecutor {
  private running: Promise<LifecycleRun> | undefined;

  constructor(
    private readonly buckets: BucketStore,
    private readonly store: ObjectStore,
    private readonly objects: ObjectsService,
    private readonly clock: Clock,
    private readonly events: EventBus,
  ) {}

  /** One pass over all buckets (concurrent callers share the pass in progress). */
  runLifecycle(): Promise<LifecycleRun> {
    this.running ??= this.runOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async runOnce(): Promise<LifecycleRun> {
    const run: LifecycleRun = { applied: [], skipped: [] };
    for (const bucket of this.allBuckets()) {
      if (bucket.lifecycle !== undefined && bucket.lifecycle.rule.length > 0) {
        await this.runBucket(bucket, bucket.lifecycle.rule, run);
      }
    }
    return run;
  }

  private allBuckets(): BucketRecord[] {
    const out: BucketRecord[] = [];
    for (let after: string | undefined; ;) {
      const page = this.buckets.list(undefined, after, 1000);
      out.push(...page);
      const last = page[page.length - 1];
      if (last === undefined) {
        return out;
      }
      after = last.name;
    }
  }

  /** Every generation of every object in the bucket, grouped by name, newest first. */
  private candidates(bucket: string): Candidate[] {
    const byName = new Map<string, { record: ObjectRecord; live: boolean }[]>();
    const add = (record: ObjectRecord, live: boolean): void => {
      const list = byName.get(record.name) ?? [];
      list.push({ record, live });
      byName.set(record.name, list);
    };
    for (let after: string | undefined; ;) {
      const page = this.store.listLive(bucket, '', after, 1000);
      const last = page[page.length - 1];
      if (last === undefined) {
        break;
      }
      page.forEach((record) => {
        add(record, true);
      });
      after = objectKey(bucket, last.name);
    }
    this.store.listNoncurrent(bucket, '').forEach((record) => {
      add(record, false);
    });
    const out: Candidate[] = [];
    for (const versions of byName.values()) {
      versions.sort((a, b) => compareGenerations(b.record.generation, a.record.generation));
      versions.forEach((version, index) => {
        out.push({ ...version, newerVersions: index });
      });
    }
    return out;
  }

  private async runBucket(bucket: BucketRecord, rules: LifecycleRule[], run: LifecycleRun): Promise<void> {
    const now = this.clock.now();
    for (const candidate of this.candidates(bucket.name)) {
      const matching = rules.filter((rule) => conditionHolds(rule.condition, candidate, now));
      const { record } = candidate;
      const base = { bucket: bucket.name, name: record.name, generation: record.generation };
      if (matching.some((rule) => rule.action.type === 'Delete')) {
        const action: LifecycleAction = { ...base, action: 'Delete' };
        try {
          await this.objects.deleteObject(
            bucket.name,
            record.name,
            candidate.live ? undefined : record.generation,
            candidate.live ? { ifGenerationMatch: Number(record.generation) } : {},
          );
          if (candidate.live && bucket.versioningEnabled === true) {
            action.madeNoncurrent = true;
          }
          run.applied.push(action);
        } catch (error) {
          if (!(error instanceof ApiError) || error.httpStatus >= 500) {
            throw error;
          }
          run.skipped.push({ ...action, reason: error.message });
        }
        continue;
      }
      // Several SetStorageClass rules: the coldest class wins, as on Google.
      const target = matching
        .map((rule) => rule.action.storageClass)
        .filter((storageClass) => storageClass !== undefined)
        .sort((a, b) => (CLASS_RANK[b] ?? 0) - (CLASS_RANK[a] ?? 0))[0];
      if (target !== undefined && (CLASS_RANK[target] ?? 0) > (CLASS_RANK[record.storageClass] ?? 0)) {
        const action: LifecycleAction = { ...base, action: 'SetStorageClass', storageClass: target };
        if (this.setStorageClass(candidate, target, now)) {
          run.applied.push(action);
        } else {
          run.skipped.push({ ...action, reason: 'The object changed since it was read.' });
        }
      }
    }
  }

  /** Changes the storage class of a generation in place (no new generation, as on Google). */
  private setStorageClass(candidate: Candidate, storageClass: string, now: number): boolean {
    const { bucket, name, generation } = candidate.record;
    return this.store.transaction(() => {
      const current = candidate.live
        ? this.store.getLive(bucket, name)
        : this.store.getNoncurrent(bucket, name, generation);
      if (current?.generation !== generation) {
        return false;
      }
      const next: ObjectRecord = {
        ...current,
        storageClass,
        timeStorageClassUpdated: rfc3339(now),
        updated: rfc3339(now),
      };
      if (candidate.live) {
        this.store.putLive(next);
      } else {
        this.store.putNoncurrent(next);
      }
      this.events.publish('storage.object.metadataUpdate', objectKey(bucket, name), {
        bucket,
        name,
        generation,
        object: next,
      });
      return true;
    });
  }
}

const executors = new WeakMap<Platform, LifecycleExecutor>();
const timers = new Map<Platform, NodeJS.Timeout>();

export function registerLifecycleExecutor(platform: Platform, executor: LifecycleExecutor): void {
  executors.set(platform, executor);
}

/** The storage lifecycle executor of a built app (tests call `runLifecycle()` on it). */
export function lifecycleExecutorOf(platform: Platform): LifecycleExecutor {
  const executor = executors.get(platform);
  if (executor === undefined) {
    throw new Error('the storage service is not registered on this platform');
  }
  return executor;
}

/** Runs the lifecycle executor every `intervalMs` until stopLifecycleTimers(). */
export function startLifecycleTimer(platform: Platform, intervalMs = LIFECYCLE_INTERVAL_MS): void {
  const executor = executors.get(platform);
  if (executor === undefined || timers.has(platform)) {
    return;
  }
  const timer = setInterval(() => {
    executor.runLifecycle().then(
      (run) => {
        if (run.applied.length > 0) {
          platform.log.info({ applied: run.applied.length }, 'applied bucket lifecycle rules');
        }
      },
      (error: unknown) => {
        platform.log.warn({ err: error }, 'bucket lifecycle run failed');
      },
    );
  }, intervalMs);
  timer.unref();
  timers.set(platform, timer);
}

export function stopLifecycleTimers(): void {
  for (const timer of timers.values()) {
    clearInterval(timer);
  }
  timers.clear();
}
