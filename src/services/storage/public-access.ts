import type { PolicyBinding } from '../../core/auth.ts';
import { ConditionNotMet } from '../../core/errors.ts';
import type { Platform } from '../../core/platform.ts';
import { IamStore } from '../iam/index.ts';
import { InvalidBucketArgument } from './errors.ts';
import type { BucketRecord } from './store.ts';

/**
 * Public access prevention (`iamConfiguration.publicAccessPrevention`), as Google enforces it: on an
 * `enforced` bucket no new grant may name `allUsers` or `allAuthenticatedUsers` (IAM bindings, bucket,
 * default object and object ACLs, predefined ACLs: 412 conditionNotMet), and grants made before it
 * was enforced stop giving access (they are kept, and work again once it is `inherited`).
 *
 * Existing public IAM bindings are neutralised without touching the bucket's own policy: while a
 * bucket is enforced, access is checked against a companion resource (`bucketAccessResource`) whose
 * policy is the bucket's minus its public members. Its ancestors are the bucket's (project, root), so
 * every other grant, custom roles included, applies exactly as before.
 */
export type PublicAccessPrevention = 'inherited' | 'enforced';

const PUBLIC_MEMBERS = new Set(['allUsers', 'allAuthenticatedUsers']);

/** The bucket's setting, as the JSON API prints it. */
export function publicAccessPreventionOf(bucket: BucketRecord): PublicAccessPrevention {
  return bucket.publicAccessPrevention === 'enforced' ? 'enforced' : 'inherited';
}

/** Validates a requested value; `unspecified` (the setting's older name for inherited) is accepted. */
export function checkPublicAccessPrevention(value: string | undefined): PublicAccessPrevention | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (value === 'enforced' || value === 'inherited') {
    return value;
  }
  if (value === 'unspecified') {
    return 'inherited';
  }
  throw new InvalidBucketArgument(
    `Invalid value for iamConfiguration.publicAccessPrevention: '${value}'. Use 'enforced' or 'inherited'.`,
  );
}

/** `allUsers` / `allAuthenticatedUsers`, as IAM members or ACL entities. */
export function isPublicMember(member: string): boolean {
  return PUBLIC_MEMBERS.has(member);
}

function refused(): ConditionNotMet {
  return new ConditionNotMet(
    'The member bindings allUsers and allAuthenticatedUsers are not allowed since public access prevention is enforced.',
  );
}

/** 412 when an IAM policy for an enforced bucket names a public member. */
export function refusePublicBindings(bucket: BucketRecord, bindings: PolicyBinding[]): void {
  if (
    publicAccessPreventionOf(bucket) === 'enforced' &&
    bindings.some((binding) => binding.members.some(isPublicMember))
  ) {
    throw refused();
  }
}

/** 412 when an ACL entry for an enforced bucket (or one of its objects) is public. */
export function refusePublicEntities(bucket: BucketRecord, entities: string[]): void {
  if (publicAccessPreventionOf(bucket) === 'enforced' && entities.some(isPublicMember)) {
    throw refused();
  }
}

/** Where a bucket's IAM policy is stored (getIamPolicy / setIamPolicy). */
export function bucketPolicyResource(bucket: BucketRecord): string {
  return `projects/${bucket.projectId}/buckets/${bucket.name}`;
}

/** What calls on the bucket and its objects authorize against (see the module comment). */
export function bucketAccessResource(bucket: BucketRecord): string {
  const resource = bucketPolicyResource(bucket);
  return publicAccessPreventionOf(bucket) === 'enforced' ? `${resource}/publicAccessPrevented` : resource;
}

/**
 * Brings the companion policy in line with the bucket: after its setting changed, its IAM policy was
 * set, or it was deleted (`deleted`). Bindings naming service accounts that no longer exist are left
 * out (they grant nothing, and the registry would refuse them).
 */
export function syncPublicAccessPolicy(platform: Platform, bucket: BucketRecord, deleted = false): void {
  const companion = `${bucketPolicyResource(bucket)}/publicAccessPrevented`;
  if (deleted || publicAccessPreventionOf(bucket) !== 'enforced') {
    platform.policies.dropPolicy(companion);
    return;
  }
  const iam = new IamStore(platform.store);
  const bindings = (platform.policies.getPolicy(bucketPolicyResource(bucket)).bindings ?? [])
    .map((binding) => ({
      ...binding,
      members: binding.members.filter(
        (member) =>
          !isPublicMember(member) &&
          !(
            member.startsWith('serviceAccount:') &&
            member.endsWith('.iam.gserviceaccount.com') &&
            iam.accountByEmail(member.slice('serviceAccount:'.length)) === undefined
          ),
      ),
    }))
    .filter((binding) => binding.members.length > 0);
  if (bindings.length === 0) {
    platform.policies.dropPolicy(companion);
  } else {
    const conditional = bindings.some((binding) => binding.condition !== undefined);
    platform.policies.setPolicy(companion, { ...(conditional ? { version: 3 } : {}), bindings });
  }
}
