import { createHash } from 'node:crypto';
import {
  type AccessContext,
  membersOf,
  type Policy,
  type PolicyBinding,
  type PolicyRegistry,
  type Principal,
  type ProjectDirectory,
} from '../../core/auth.ts';
import { Aborted, InvalidArgument, PermissionDenied } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';
import { contentEtag, sameEtag } from '../../core/ids.ts';
import { compileCondition, ConditionSyntaxError, conditionHolds } from './conditions.ts';
import { predefinedRole, type RoleDefinition } from './roles-catalog.ts';
import type { IamStore } from './store.ts';

/** The root of the resource hierarchy: every project's parent. The local owner is its owner. */
export const ROOT_RESOURCE = 'organizations/1';

const PREDEFINED_SETS = new Map<string, ReadonlySet<string>>();

/** Google's etag of a resource that never had a policy. */
const EMPTY_POLICY_ETAG = 'ACAB';

const MEMBER_PATTERN =
  /^(allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain):[^\s:]+|deleted:(user|serviceAccount|group):[^\s]+|principal(Set)?:\/\/\S+|projectOwner:\S+|projectEditor:\S+|projectViewer:\S+)$/;

export interface PolicyContext {
  store: IamStore;
  projects: ProjectDirectory;
  anonymousMode: () => 'owner' | 'viewer' | 'none';
  /** `request.time` for conditions (the system clock when absent). */
  clock?: Clock;
}

/**
 * Policies on resources and the one evaluation function every call goes through. A resource's
 * effective policy is the union of its own and its ancestors' (resource -> project -> root).
 */
export class Policies implements PolicyRegistry {
  constructor(private readonly ctx: PolicyContext) {}

  getPolicy(resource: string): Policy {
    const stored = this.ctx.store.getPolicy(resource);
    return stored ?? { version: 1, etag: EMPTY_POLICY_ETAG };
  }

  readPolicy(resource: string, requestedVersion: number | undefined): Policy {
    return policyForVersion(this.getPolicy(resource), requestedVersion);
  }

  setPolicy(resource: string, policy: Policy, updateMask?: string): Policy {
    return this.ctx.store.transaction(() => {
      const current = this.getPolicy(resource);
      if (policy.etag !== undefined && policy.etag !== '' && !sameEtag(policy.etag, current.etag ?? '')) {
        throw new Aborted(
          'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
          { reason: 'aborted' },
        );
      }
      const fields =
        updateMask === undefined || updateMask === '' ? ['bindings', 'etag'] : updateMask.split(',');
      const bindings = fields.includes('bindings')
        ? normaliseBindings(policy.bindings ?? [])
        : (current.bindings ?? []);
      this.validateBindings(resource, bindings);
      // Google answers version 1 for a policy without conditions, whatever version was sent.
      const hasCondition = bindings.some((b) => b.condition !== undefined);
      checkPolicyVersion(policy.version);
      if (hasCondition && fields.includes('bindings') && policy.version !== undefined && policy.version < 3) {
        throw new InvalidArgument(
          `Conditional role bindings require policy version 3; the request used version ${String(policy.version)}.`,
          { reason: 'badRequest' },
        );
      }
      const next: Policy = { version: hasCondition ? 3 : 1, bindings };
      if (fields.includes('auditConfigs') && policy.auditConfigs !== undefined) {
        next.auditConfigs = policy.auditConfigs;
      } else if (current.auditConfigs !== undefined) {
        next.auditConfigs = current.auditConfigs;
      }
      next.etag = contentEtag({ resource, next, previous: current.etag });
      if (bindings.length === 0 && next.auditConfigs === undefined) {
        delete next.bindings;
      }
      this.ctx.store.putPolicy(resource, next);
      return next;
    });
  }

  dropPolicy(resource: string): void {
    this.ctx.store.deletePolicy(resource);
  }

  /** Adds `member` to `role` on `resource` (used for the owner's initial grants). */
  grant(resource: string, role: string, member: string): void {
    const policy = this.getPolicy(resource);
    const bindings = policy.bindings ?? [];
    const binding = bindings.find((b) => b.role === role && b.condition === undefined);
    if (binding?.members.includes(member)) {
      return;
    }
    const next = binding === undefined ? [...bindings, { role, members: [member] }] : bindings;
    if (binding !== undefined) {
      binding.members.push(member);
    }
    this.setPolicy(resource, { ...policy, bindings: next });
  }

  resolveRole(role: string): RoleDefinition | undefined {
    const predefined = predefinedRole(role);
    if (predefined !== undefined) {
      return predefined;
    }
    const custom = this.ctx.store.getRole(role);
    if (custom === undefined || custom.deleteTime !== undefined || custom.stage === 'DISABLED') {
      return undefined;
    }
    return custom;
  }

  /** The ancestors whose policies apply to `resource`, nearest first. */
  ancestry(resource: string): string[] {
    const chain: string[] = [];
    const match = /^projects\/([^/]+)(.*)$/.exec(resource);
    if (match?.[1] !== undefined) {
      const projectResource = `projects/${this.ctx.projects.find(match[1])?.projectId ?? match[1]}`;
      if (match[2] !== undefined && match[2] !== '') {
        chain.push(projectResource + match[2]);
      }
      chain.push(projectResource);
    } else {
      chain.push(resource);
    }
    if (resource !== ROOT_RESOURCE) {
      chain.push(ROOT_RESOURCE);
    }
    return chain;
  }

  permitted(
    principal: Principal,
    permissions: string[],
    resource: string,
    context?: AccessContext,
  ): string[] {
    const members = new Set(membersOf(principal));
    const conditionContext = {
      ...context,
      name: context?.name ?? resource,
      time: context?.time ?? new Date(this.ctx.clock?.now() ?? Date.now()),
    };
    const applies = (binding: PolicyBinding): boolean =>
      binding.members.some((m) => members.has(m)) &&
      (binding.condition === undefined || conditionHolds(binding.condition.expression, conditionContext));
    const missing = new Set(permissions);
    const grant = (role: string): void => {
      const held = this.permissionSet(role);
      for (const p of missing) {
        if (held.has(p)) {
          missing.delete(p);
        }
      }
    };
    if (principal.kind === 'anonymous' && this.ctx.anonymousMode() === 'viewer') {
      grant('roles/viewer');
    }
    for (const node of this.ancestry(resource)) {
      for (const binding of this.ctx.store.getPolicy(node)?.bindings ?? []) {
        if (missing.size === 0) {
          break;
        }
        if (applies(binding)) {
          grant(binding.role);
        }
      }
    }
    return permissions.filter((p) => !missing.has(p));
  }

  /** A role's permissions as a set; predefined roles' sets are built once. */
  private permissionSet(role: string): ReadonlySet<string> {
    const cached = PREDEFINED_SETS.get(role);
    if (cached !== undefined) {
      return cached;
    }
    const definition = this.resolveRole(role);
    const set = new Set(definition?.includedPermissions ?? []);
    if (definition !== undefined && predefinedRole(role) !== undefined) {
      PREDEFINED_SETS.set(role, set);
    }
    return set;
  }

  authorize(principal: Principal, permission: string, resource: string, context?: AccessContext): void {
    if (this.permitted(principal, [permission], resource, context).length === 0) {
      throw new PermissionDenied(
        `Permission '${permission}' denied on resource '${resource}' (or it may not exist).`,
        {
          reason: 'forbidden',
        },
      );
    }
  }

  private validateBindings(resource: string, bindings: PolicyBinding[]): void {
    const isProject = /^projects\/[^/]+$/.test(resource);
    for (const binding of bindings) {
      if (typeof binding.role !== 'string' || binding.role === '') {
        throw new InvalidArgument('A binding must name a role.', { reason: 'badRequest' });
      }
      if (this.resolveRole(binding.role) === undefined) {
        throw new InvalidArgument(`Role ${binding.role} is not supported for this resource.`, {
          reason: 'badRequest',
        });
      }
      if (binding.condition !== undefined) {
        validateCondition(binding.condition);
      }
      for (const member of binding.members) {
        if (!MEMBER_PATTERN.test(member)) {
          throw new InvalidArgument(`Invalid member: ${member}`, { reason: 'badRequest' });
        }
        if (isProject && (member === 'allUsers' || member === 'allAuthenticatedUsers')) {
          throw new InvalidArgument(
            `Policy members must be of the form "<type>:<value>"; ${member} is not supported on projects.`,
            { reason: 'badRequest' },
          );
        }
        if (member.startsWith('serviceAccount:') && member.endsWith('.iam.gserviceaccount.com')) {
          const email = member.slice('serviceAccount:'.length);
          const project = /@([^.]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1] ?? '';
          if (this.ctx.store.getAccount(`projects/${project}/serviceAccounts/${email}`) === undefined) {
            throw new InvalidArgument(`Service account ${email} does not exist.`, { reason: 'badRequest' });
          }
        }
      }
    }
  }
}

function normaliseBindings(bindings: PolicyBinding[]): PolicyBinding[] {
  const merged = new Map<string, PolicyBinding>();
  for (const binding of bindings) {
    const key = `${binding.role}\u0000${JSON.stringify(binding.condition ?? null)}`;
    const existing = merged.get(key);
    const members = [...new Set(binding.members)];
    if (existing === undefined) {
      if (members.length > 0) {
        merged.set(
          key,
          binding.condition === undefined ? { role: binding.role, members } : { ...binding, members },
        );
      }
    } else {
      existing.members = [...new Set([...existing.members, ...members])];
    }
  }
  return [...merged.values()].map((b) => ({ ...b, members: [...b.members].sort() }));
}

/** Policy versions Google accepts: 0, 1 and 3. */
function checkPolicyVersion(version: number | undefined): void {
  if (version !== undefined && version !== 0 && version !== 1 && version !== 3) {
    throw new InvalidArgument(`Invalid policy version ${String(version)}: use 0, 1 or 3.`, {
      reason: 'badRequest',
    });
  }
}

/** 400 for a condition without an expression or whose expression does not compile. */
function validateCondition(condition: PolicyBinding['condition'] & object): void {
  if (typeof condition.expression !== 'string' || condition.expression.trim() === '') {
    throw new InvalidArgument('A condition must have a non-empty expression.', { reason: 'badRequest' });
  }
  try {
    compileCondition(condition.expression);
  } catch (error) {
    if (error instanceof ConditionSyntaxError) {
      throw new InvalidArgument(`Condition expression compilation failed: ${error.message}`, {
        reason: 'badRequest',
      });
    }
    throw error;
  }
}

/**
 * A policy as a client that asked for `requestedVersion` sees it. Below 3, a policy with conditions
 * is shown as Google shows it: version 1, conditional bindings' roles renamed
 * `ROLE_withcond_HASH` and their conditions left out (such a policy cannot be written back unchanged).
 */
export function policyForVersion(policy: Policy, requestedVersion: number | undefined): Policy {
  checkPolicyVersion(requestedVersion);
  const bindings = policy.bindings ?? [];
  if ((requestedVersion ?? 1) >= 3 || !bindings.some((b) => b.condition !== undefined)) {
    return policy;
  }
  return {
    ...policy,
    version: 1,
    bindings: bindings.map((binding) =>
      binding.condition === undefined
        ? binding
        : {
            role: `${binding.role}_withcond_${createHash('sha256').update(JSON.stringify(binding.condition)).digest('hex').slice(0, 20)}`,
            members: binding.members,
          },
    ),
  };
}
