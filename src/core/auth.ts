/**
 * Identity and access contracts. The IAM service implements them; every route authorizes through
 * `AccessControl.authorize` with the permission Google documents for that method.
 */
export type PrincipalKind = 'user' | 'serviceAccount' | 'anonymous';

export interface Principal {
  kind: PrincipalKind;
  /** Email for users and service accounts; empty for anonymous. */
  email: string;
  /** IAM member string: `user:E`, `serviceAccount:E`, or `allUsers` for anonymous. */
  member: string;
  /** OAuth scopes carried by the token (empty for anonymous). */
  scopes: string[];
  /** Service-account key that authenticated this principal, when one did. */
  keyId?: string;
}

export interface PolicyBinding {
  role: string;
  members: string[];
  condition?: { expression: string; title?: string; description?: string };
}

export interface Policy {
  version?: number;
  bindings?: PolicyBinding[];
  etag?: string;
  auditConfigs?: unknown[];
}

/**
 * What IAM Conditions see of a call (`resource.name`, `resource.type`, `resource.service`,
 * `request.time`). `name` defaults to the resource string the call is checked on; the rest are
 * empty (and `time` is now) unless the route knows better.
 */
export interface AccessContext {
  /** Google's resource name, e.g. `projects/_/buckets/B/objects/O`. */
  name?: string;
  /** e.g. `storage.googleapis.com/Object`. */
  type?: string;
  /** e.g. `storage.googleapis.com`. */
  service?: string;
  time?: Date;
}

export interface AccessControl {
  /** Resolves the caller from an Authorization header value (or undefined: anonymous). Throws 401. */
  authenticate(authorization: string | undefined): Principal;
  /**
   * Throws PermissionDenied unless `principal` holds `permission` on `resource` or an ancestor
   * (conditional bindings grant when their condition holds for `context`).
   */
  authorize(principal: Principal, permission: string, resource: string, context?: AccessContext): void;
  /** The subset of `permissions` that `principal` holds on `resource`. */
  permitted(principal: Principal, permissions: string[], resource: string, context?: AccessContext): string[];
}

/** IAM policies attached to resources (projects, service accounts, buckets...). */
export interface PolicyRegistry {
  /** The stored policy, conditions included (for the server's own use). */
  getPolicy(resource: string): Policy;
  /**
   * The policy as getIamPolicy answers it for `requestedPolicyVersion` (0, 1 or 3; otherwise 400):
   * below 3, conditional bindings come back as `ROLE_withcond_HASH` without their condition.
   */
  readPolicy(resource: string, requestedVersion: number | undefined): Policy;
  /** Validates and stores; rejects a stale etag with 409 ABORTED. */
  setPolicy(resource: string, policy: Policy, updateMask?: string): Policy;
  /** Removes a resource's policy (resource deleted). */
  dropPolicy(resource: string): void;
}

export interface ProjectRef {
  projectId: string;
  projectNumber: string;
  name: string;
  lifecycleState: 'ACTIVE' | 'DELETE_REQUESTED' | 'DELETE_IN_PROGRESS';
}

/** Lookup of projects by id or number, provided by the resource manager. */
export interface ProjectDirectory {
  find(idOrNumber: string): ProjectRef | undefined;
  /** Like find, but 404/403 as Google answers for a missing or deleted project. */
  require(idOrNumber: string): ProjectRef;
}

/** Members that name the caller, for matching policy bindings. */
export function membersOf(principal: Principal): string[] {
  const members = ['allUsers'];
  if (principal.kind !== 'anonymous') {
    members.push('allAuthenticatedUsers', principal.member);
  }
  return members;
}
