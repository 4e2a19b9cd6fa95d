import { createHash } from 'node:crypto';
import type { Principal } from '../../core/auth.ts';
import { InvalidArgument, NotFound } from '../../core/errors.ts';
import type { DocumentStore } from '../../core/store.ts';
import type { ObjectRecord } from './object-store.ts';
import { isPublicMember, publicAccessPreventionOf, refusePublicEntities } from './public-access.ts';
import type { BucketRecord } from './store.ts';

/**
 * Object ACLs (legacy access control on fine-grained buckets). Entries are kept per object
 * generation in their own collection, so a new generation never inherits an old one's grants.
 * On a bucket with uniform bucket-level access, ACLs are refused and ignored.
 */
export type AclRole = 'READER' | 'OWNER';

export interface AclEntry {
  entity: string;
  role: AclRole;
}

interface AclDoc {
  entries: AclEntry[];
  /** Bumped on every change (part of each entry's etag). */
  version: number;
}

const ACLS = 'storage/object-acls';
const UBLA_DOCS = 'Read more at https://cloud.google.com/storage/docs/uniform-bucket-level-access.';

export const PREDEFINED_ACLS = [
  'authenticatedRead',
  'bucketOwnerFullControl',
  'bucketOwnerRead',
  'private',
  'projectPrivate',
  'publicRead',
] as const;
export type PredefinedAcl = (typeof PREDEFINED_ACLS)[number];

/** Google's 400 for any ACL use on a bucket with uniform bucket-level access. */
export function aclsDisabled(action: 'insert' | 'get' | 'update'): InvalidArgument {
  const message =
    action === 'update'
      ? `Cannot use ACL API to update object policy when uniform bucket-level access is enabled. ${UBLA_DOCS}`
      : `Cannot ${action} legacy ACL for an object when uniform bucket-level access is enabled. ${UBLA_DOCS}`;
  return new InvalidArgument(message, { reason: 'invalid' });
}

export function checkAclsAllowed(bucket: BucketRecord, action: 'insert' | 'get' | 'update'): void {
  if (bucket.uniformBucketLevelAccess.enabled) {
    throw aclsDisabled(action);
  }
}

const ENTITY =
  /^(allUsers|allAuthenticatedUsers|(user|group)-[^\s@]+@[^\s@]+|(user|group)-[0-9a-f]{10,}|domain-[a-z0-9.-]+\.[a-z]{2,}|project-(owners|editors|viewers)-[a-z0-9-]+)$/i;

/** Validates and normalizes an ACL entity (e-mail addresses and domains are case-insensitive). */
export function checkEntity(entity: string | undefined): string {
  if (entity === undefined || entity === '') {
    throw new InvalidArgument('Required parameter: entity', { reason: 'required' });
  }
  if (!ENTITY.test(entity)) {
    throw new InvalidArgument(`Invalid argument: entity '${entity}'.`, { reason: 'invalid' });
  }
  if (entity === 'allUsers' || entity === 'allAuthenticatedUsers' || entity.startsWith('project-')) {
    return entity;
  }
  const dash = entity.indexOf('-');
  return `${entity.slice(0, dash)}-${entity.slice(dash + 1).toLowerCase()}`;
}

export function checkRole(role: string | undefined): AclRole {
  if (role === undefined || role === '') {
    throw new InvalidArgument('Required parameter: role', { reason: 'required' });
  }
  if (role !== 'READER' && role !== 'OWNER') {
    throw new InvalidArgument(`Invalid argument: role '${role}'. Object ACL roles are READER and OWNER.`, {
      reason: 'invalid',
    });
  }
  return role;
}

export function checkPredefinedAcl(value: string | undefined): PredefinedAcl | undefined {
  if (value === undefined || value === '') {
    return undefined;
  }
  if (!(PREDEFINED_ACLS as readonly string[]).includes(value)) {
    throw new InvalidArgument(`Invalid value for predefinedAcl: '${value}'.`, { reason: 'invalid' });
  }
  return value as PredefinedAcl;
}

/** The entity that names `principal` in ACLs (service accounts are `user-` entities too). */
export function ownerEntity(principal: Principal): AclEntry[] {
  return principal.kind === 'anonymous' || principal.email === ''
    ? []
    : [{ entity: `user-${principal.email.toLowerCase()}`, role: 'OWNER' }];
}

/** The entries a predefined ACL stands for; the uploader owns the object in all of them. */
export function predefinedEntries(
  name: PredefinedAcl,
  bucket: BucketRecord,
  principal: Principal,
): AclEntry[] {
  const project = (team: string, role: AclRole): AclEntry => ({
    entity: `project-${team}-${bucket.projectNumber}`,
    role,
  });
  const owner = ownerEntity(principal);
  switch (name) {
    case 'private':
      return owner;
    case 'publicRead':
      return [...owner, { entity: 'allUsers', role: 'READER' }];
    case 'authenticatedRead':
      return [...owner, { entity: 'allAuthenticatedUsers', role: 'READER' }];
    case 'bucketOwnerRead':
      return [...owner, project('owners', 'READER')];
    case 'bucketOwnerFullControl':
      return [...owner, project('owners', 'OWNER')];
    case 'projectPrivate':
      return [
        ...owner,
        project('owners', 'OWNER'),
        project('editors', 'OWNER'),
        project('viewers', 'READER'),
      ];
  }
}

/** Entries from an `acl` array in an object resource (multipart or resumable metadata). */
export function entriesFromResource(acl: unknown[]): AclEntry[] {
  const out = new Map<string, AclEntry>();
  for (const item of acl) {
    const record = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const entity = checkEntity(typeof record.entity === 'string' ? record.entity : undefined);
    const role = checkRole(typeof record.role === 'string' ? record.role : undefined);
    out.set(entity, { entity, role });
  }
  return [...out.values()];
}

function aclKey(record: ObjectRecord): string {
  return `${record.bucket}/${record.name}\u0000${record.generation.padStart(20, '0')}`;
}

/** ACL entries per object generation, over the document store. */
export class AclStore {
  constructor(private readonly docs: DocumentStore) {}

  private doc(record: ObjectRecord, bucket: BucketRecord): AclDoc {
    return (
      this.docs.get<AclDoc>(ACLS, aclKey(record)) ?? {
        // An object without explicit ACLs carries the projectPrivate default (no uploader entry known).
        entries: predefinedEntries('projectPrivate', bucket, {
          kind: 'anonymous',
          email: '',
          member: 'allUsers',
          scopes: [],
        }),
        version: 0,
      }
    );
  }

  list(record: ObjectRecord, bucket: BucketRecord): { entries: AclEntry[]; version: number } {
    return this.doc(record, bucket);
  }

  get(record: ObjectRecord, bucket: BucketRecord, entity: string): { entry: AclEntry; version: number } {
    const doc = this.doc(record, bucket);
    const entry = doc.entries.find((item) => item.entity === entity);
    if (entry === undefined) {
      throw new NotFound(`The ACL entry '${entity}' does not exist on this object.`, { reason: 'notFound' });
    }
    return { entry, version: doc.version };
  }

  /** Replaces all entries (uploads with predefinedAcl or `acl`). */
  replace(record: ObjectRecord, entries: AclEntry[]): void {
    const previous = this.docs.get<AclDoc>(ACLS, aclKey(record));
    this.docs.put(ACLS, aclKey(record), { entries, version: (previous?.version ?? 0) + 1 });
  }

  /** Adds or changes one entry; returns the new version. */
  set(record: ObjectRecord, bucket: BucketRecord, entry: AclEntry): number {
    return this.docs.transaction(() => {
      const doc = this.doc(record, bucket);
      const entries = doc.entries.filter((item) => item.entity !== entry.entity);
      entries.push(entry);
      const version = doc.version + 1;
      this.docs.put(ACLS, aclKey(record), { entries, version });
      return version;
    });
  }

  remove(record: ObjectRecord, bucket: BucketRecord, entity: string): void {
    this.docs.transaction(() => {
      const doc = this.doc(record, bucket);
      const entries = doc.entries.filter((item) => item.entity !== entity);
      if (entries.length === doc.entries.length) {
        throw new NotFound(`The ACL entry '${entity}' does not exist on this object.`, {
          reason: 'notFound',
        });
      }
      this.docs.put(ACLS, aclKey(record), { entries, version: doc.version + 1 });
    });
  }

  /**
   * Whether the object's ACL lets `principal` read it: `allUsers`, `allAuthenticatedUsers` for any
   * signed-in caller, or `user-EMAIL`. Ignored on buckets with uniform bucket-level access.
   */
  grantsRead(record: ObjectRecord, bucket: BucketRecord, principal: Principal): boolean {
    if (bucket.uniformBucketLevelAccess.enabled) {
      return false;
    }
    const doc = this.docs.get<AclDoc>(ACLS, aclKey(record));
    if (doc === undefined) {
      return false;
    }
    const email = principal.email.toLowerCase();
    // Public access prevention silences public entries (they work again once it is lifted).
    const enforced = publicAccessPreventionOf(bucket) === 'enforced';
    return doc.entries.some(
      (entry) =>
        (!(enforced && isPublicMember(entry.entity)) && entry.entity === 'allUsers') ||
        (entry.entity === 'allAuthenticatedUsers' && principal.kind !== 'anonymous') ||
        (email !== '' && entry.entity === `user-${email}`),
    );
  }
}

/** storage#objectAccessControl. */
export function presentAclEntry(
  base: string,
  record: ObjectRecord,
  entry: AclEntry,
  version: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    kind: 'storage#objectAccessControl',
    id: `${record.bucket}/${record.name}/${record.generation}/${entry.entity}`,
    selfLink: `${base}/storage/v1/b/${encodeURIComponent(record.bucket)}/o/${encodeURIComponent(record.name)}/acl/${encodeURIComponent(entry.entity)}`,
    bucket: record.bucket,
    object: record.name,
    generation: record.generation,
    entity: entry.entity,
    role: entry.role,
    etag: createHash('md5').update(`${record.generation}/${version}`).digest('base64').slice(0, 12),
  };
  const dash = entry.entity.indexOf('-');
  const kind = entry.entity.slice(0, dash);
  const value = entry.entity.slice(dash + 1);
  if ((kind === 'user' || kind === 'group') && value.includes('@')) {
    out.email = value;
  } else if (kind === 'domain') {
    out.domain = value;
  } else if (kind === 'project') {
    const team = /^(owners|editors|viewers)-(.+)$/.exec(value);
    if (team !== null) {
      out.projectTeam = { projectNumber: team[2], team: team[1] };
    }
  }
  return out;
}

/**
 * The ACL an upload asks for (`predefinedAcl`, or `acl` in the object resource), validated before
 * anything is stored; undefined when it asks for none. Refused on uniform bucket-level access.
 */
export function uploadAcl(
  bucket: BucketRecord,
  principal: Principal,
  predefinedAcl: unknown,
  resourceAcl: unknown[] | null | undefined,
): AclEntry[] | undefined {
  const predefined = checkPredefinedAcl(typeof predefinedAcl === 'string' ? predefinedAcl : undefined);
  const explicit = resourceAcl !== undefined && resourceAcl !== null && resourceAcl.length > 0;
  if (predefined === undefined && !explicit) {
    return undefined;
  }
  checkAclsAllowed(bucket, 'insert');
  // As on Google, predefinedAcl wins over an `acl` in the resource.
  const entries =
    predefined === undefined
      ? entriesFromResource(resourceAcl ?? [])
      : predefinedEntries(predefined, bucket, principal);
  refusePublicEntities(
    bucket,
    entries.map((entry) => entry.entity),
  );
  return entries;
}
