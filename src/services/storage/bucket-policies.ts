import { Type } from '@sinclair/typebox';
import { InvalidBucketArgument } from './errors.ts';
import { LifecycleSchema, normalizeLifecycle, type LifecycleInput } from './lifecycle.ts';
import {
  lockedPolicy,
  normalizeRetentionPolicy,
  RetentionPolicySchema,
  type RetentionPolicyInput,
} from './retention.ts';
import type { BucketRecord } from './store.ts';

/** Bucket fields for lifecycle, retention and default holds (buckets.insert). */
export const BucketPolicyFields = {
  lifecycle: Type.Optional(LifecycleSchema),
  retentionPolicy: Type.Optional(RetentionPolicySchema),
  defaultEventBasedHold: Type.Optional(Type.Boolean()),
};

/** The same for buckets.patch, where null clears a field. */
export const BucketPolicyPatchFields = {
  lifecycle: Type.Optional(Type.Union([LifecycleSchema, Type.Null()])),
  retentionPolicy: Type.Optional(Type.Union([RetentionPolicySchema, Type.Null()])),
  defaultEventBasedHold: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
};

export interface BucketPolicyInput {
  lifecycle?: LifecycleInput | null | undefined;
  retentionPolicy?: RetentionPolicyInput | null | undefined;
  defaultEventBasedHold?: boolean | null | undefined;
}

/** The policy fields of a validated request body, as service input. */
export function bucketPolicyInputOf(body: BucketPolicyInput): BucketPolicyInput {
  return {
    lifecycle: body.lifecycle,
    retentionPolicy: body.retentionPolicy,
    defaultEventBasedHold: body.defaultEventBasedHold,
  };
}

/** Validates and applies lifecycle, retention policy and default event-based hold to `next`. */
export function applyBucketPolicies(
  next: BucketRecord,
  input: BucketPolicyInput,
  now: number,
  checkStorageClass: (storageClass: string) => string,
): void {
  if (input.lifecycle !== undefined) {
    const lifecycle =
      input.lifecycle === null ? undefined : normalizeLifecycle(input.lifecycle, checkStorageClass);
    if (lifecycle === undefined) {
      delete next.lifecycle;
    } else {
      next.lifecycle = lifecycle;
    }
  }
  if (input.retentionPolicy !== undefined) {
    if (input.retentionPolicy === null) {
      if (next.retentionPolicy?.isLocked === true) {
        throw lockedPolicy('removed');
      }
      delete next.retentionPolicy;
    } else if (input.retentionPolicy.retentionPeriod === undefined) {
      throw new InvalidBucketArgument('A retention policy requires a retentionPeriod.');
    } else {
      next.retentionPolicy = normalizeRetentionPolicy(input.retentionPolicy, next.retentionPolicy, now);
    }
  }
  if (input.defaultEventBasedHold !== undefined) {
    if (input.defaultEventBasedHold === true) {
      next.defaultEventBasedHold = true;
    } else {
      delete next.defaultEventBasedHold;
    }
  }
}

/** The policy fields of the bucket resource as Google prints them (absent when unset). */
export function presentBucketPolicies(bucket: BucketRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (bucket.lifecycle !== undefined) {
    out.lifecycle = bucket.lifecycle;
  }
  if (bucket.retentionPolicy !== undefined) {
    out.retentionPolicy = {
      retentionPeriod: String(bucket.retentionPolicy.retentionPeriod),
      effectiveTime: bucket.retentionPolicy.effectiveTime,
      ...(bucket.retentionPolicy.isLocked === true ? { isLocked: true } : {}),
    };
  }
  if (bucket.defaultEventBasedHold === true) {
    out.defaultEventBasedHold = true;
  }
  return out;
}
