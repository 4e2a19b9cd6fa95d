import { createHash } from 'node:crypto';
import { InvalidArgument, NotFound } from '../../core/errors.ts';
import type { DocumentStore } from '../../core/store.ts';
import type { BucketRecord } from './store.ts';

/**
 * Bucket ACLs (`storage.bucketAccessControls`) and default object ACLs
 * (`storage.defaultObjectAccessControls`) of fine-grained buckets, kept per bucket incarnation (a
 * bucket deleted and created again under the same name starts from the defaults). They are stored
 * and served as Google serves them; IAM stays what grants access (see docs/services/storage.md).
 */
export type BucketAclKind = 'bucket' | 'defaultObject';
export type BucketAclRole = 'READER' | 'WRITER' | 'OWNER';

export interface BucketAclEntry {
  entity: string;
  role: BucketAclRole;
}

interface BucketAclDoc {
  entries: BucketAclEntry[];
  version: number;
}

const COLLECTIONS: Record<BucketAclKind, string> = {
  bucket: 'storage/bucket-acls',
  defaultObject: 'storage/default-object-acls',
};
const UBLA_DOCS = 'Read more at https://cloud.google.com/storage/docs/uniform-bucket-level-access.';

/** Google's 400 for bucket or default object ACL use when uniform bucket-level access is on. */
export function checkBucketAclsAllowed(
  bucket: BucketRecord,
  kind: BucketAclKind,
  action: 'get' | 'insert' | 'update',
): void {
  if (!bucket.uniformBucketLevelAccess.enabled) {
    return;
  }
  const what = kind === 'bucket' ? 'legacy ACL for a bucket' : 'default object ACL for a bucket';
  const message =
    action === 'update'
      ? `Cannot use ACL API to update bucket policy when uniform bucket-level access is enabled. ${UBLA_DOCS}`
      : `Cannot ${action} ${what} when uniform bucket-level access is enabled. ${UBLA_DOCS}`;
  throw new InvalidArgument(message, { reason: 'invalid' });
}

export function checkBucketAclRole(kind: BucketAclKind, role: string | undefined): BucketAclRole {
  if (role === undefined || role === '') {
    throw new InvalidArgument('Required parameter: role', { reason: 'required' });
  }
  const allowed: string[] = kind === 'bucket' ? ['READER', 'WRITER', 'OWNER'] : ['READER', 'OWNER'];
  if (!allowed.includes(role)) {
    throw new InvalidArgument(
      `Invalid argument: role '${role}'. ${kind === 'bucket' ? 'Bucket' : 'Default object'} ACL roles are ${allowed.join(', ')}.`,
      { reason: 'invalid' },
    );
  }
  return role as BucketAclRole;
}

/** What a new fine-grained bucket carries (Google's projectPrivate default for both lists). */
function defaultEntries(bucket: BucketRecord): BucketAclEntry[] {
  return [
    { entity: `project-owners-${bucket.projectNumber}`, role: 'OWNER' },
    { entity: `project-editors-${bucket.projectNumber}`, role: 'OWNER' },
    { entity: `project-viewers-${bucket.projectNumber}`, role: 'READER' },
  ];
}

function keyOf(bucket: BucketRecord): string {
  return `${bucket.name}\u0000${bucket.timeCreated}`;
}

function missing(entity: string): NotFound {
  return new NotFound(`The ACL entry '${entity}' does not exist on this bucket.`, { reason: 'notFound' });
}

export class BucketAclStore {
  constructor(private readonly docs: DocumentStore) {}

  private doc(kind: BucketAclKind, bucket: BucketRecord): BucketAclDoc {
    return (
      this.docs.get<BucketAclDoc>(COLLECTIONS[kind], keyOf(bucket)) ?? {
        entries: defaultEntries(bucket),
        version: 0,
      }
    );
  }

  list(kind: BucketAclKind, bucket: BucketRecord): BucketAclDoc {
    return this.doc(kind, bucket);
  }

  get(kind: BucketAclKind, bucket: BucketRecord, entity: string): { entry: BucketAclEntry; version: number } {
    const doc = this.doc(kind, bucket);
    const entry = doc.entries.find((item) => item.entity === entity);
    if (entry === undefined) {
      throw missing(entity);
    }
    return { entry, version: doc.version };
  }

  /** Adds or replaces one entry; `mustExist` makes a missing entity 404 (update and patch). */
  set(kind: BucketAclKind, bucket: BucketRecord, entry: BucketAclEntry, mustExist: boolean): number {
    return this.docs.transaction(() => {
      const doc = this.doc(kind, bucket);
      if (mustExist && !doc.entries.some((item) => item.entity === entry.entity)) {
        throw missing(entry.entity);
      }
      const entries = doc.entries.filter((item) => item.entity !== entry.entity);
      entries.push(entry);
      const version = doc.version + 1;
      this.docs.put(COLLECTIONS[kind], keyOf(bucket), { entries, version });
      return version;
    });
  }

  remove(kind: BucketAclKind, bucket: BucketRecord, entity: string): void {
    this.docs.transaction(() => {
      const doc = this.doc(kind, bucket);
      const entries = doc.entries.filter((item) => item.entity !== entity);
      if (entries.length === doc.entries.length) {
        throw missing(entity);
      }
      this.docs.put(COLLECTIONS[kind], keyOf(bucket), { entries, version: doc.version + 1 });
    });
  }
}

/** The identity fields Google derives from an entity (`email`, `domain`, `projectTeam`). */
function entityFields(entity: string): Record<string, unknown> {
  const dash = entity.indexOf('-');
  if (dash < 0) {
    return {};
  }
  const kind = entity.slice(0, dash);
  const value = entity.slice(dash + 1);
  if ((kind === 'user' || kind === 'group') && value.includes('@')) {
    return { email: value };
  }
  if (kind === 'domain') {
    return { domain: value };
  }
  const team = kind === 'project' ? /^(owners|editors|viewers)-(.+)$/.exec(value) : null;
  return team === null ? {} : { projectTeam: { projectNumber: team[2], team: team[1] } };
}

function aclEtag(bucket: BucketRecord, version: number): string {
  return createHash('md5').update(`${bucket.timeCreated}/${version}`).digest('base64').slice(0, 12);
}

/** storage#bucketAccessControl, or storage#objectAccessControl for a default object ACL entry. */
export function presentBucketAclEntry(
  kind: BucketAclKind,
  base: string,
  bucket: BucketRecord,
  entry: BucketAclEntry,
  version: number,
): Record<string, unknown> {
  if (kind === 'defaultObject') {
    return {
      kind: 'storage#objectAccessControl',
      entity: entry.entity,
      role: entry.role,
      ...entityFields(entry.entity),
      etag: aclEtag(bucket, version),
    };
  }
  return {
    kind: 'storage#bucketAccessControl',
    id: `${bucket.name}/${entry.entity}`,
    selfLink: `${base}/storage/v1/b/${encodeURIComponent(bucket.name)}/acl/${encodeURIComponent(entry.entity)}`,
    bucket: bucket.name,
    entity: entry.entity,
    role: entry.role,
    ...entityFields(entry.entity),
    etag: aclEtag(bucket, version),
  };
}
