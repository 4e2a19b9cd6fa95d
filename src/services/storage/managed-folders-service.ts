import { rfc3339, type Clock } from '../../core/clock.ts';
import { Aborted, AlreadyExists, ConditionNotMet, NotFound } from '../../core/errors.ts';
import { paginate, type Page } from '../../core/paging.ts';
import { InvalidBucketArgument } from './errors.ts';
import type { ManagedFolderRecord, ManagedFolderStore } from './managed-folders-store.ts';
import type { BucketRecord } from './store.ts';

/** Google's limits on managed folder names. */
const MAX_NAME_BYTES = 1024;
const MAX_DEPTH = 15;
/** `managedFolders.list` answers at most 1000 items a page (and 1000 by default). */
const MAX_PAGE_SIZE = 1000;

export class ManagedFolderNotFound extends NotFound {
  constructor() {
    super('The specified managed folder does not exist.', { reason: 'notFound' });
  }
}

/**
 * A managed folder name as stored: `a/b` and `a/b/` name the same folder (paths in get and delete
 * URLs carry no trailing slash). 400 for names Google refuses.
 */
export function managedFolderName(raw: string): string {
  const name = raw.endsWith('/') ? raw : `${raw}/`;
  const fail = (why: string): never => {
    throw new InvalidBucketArgument(`Invalid managed folder name: '${raw}'. ${why}`);
  };
  if (raw === '' || raw === '/') {
    fail('A managed folder name must not be empty.');
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    fail(`Managed folder names are at most ${String(MAX_NAME_BYTES)} bytes long.`);
  }
  if (/[\r\n]/.test(name)) {
    fail('Managed folder names cannot contain carriage returns or line feeds.');
  }
  const segments = name.slice(0, -1).split('/');
  if (segments.length > MAX_DEPTH) {
    fail(`Managed folders can be nested at most ${String(MAX_DEPTH)} levels deep.`);
  }
  if (segments.some((segment) => segment === '')) {
    fail('Managed folder names cannot contain empty path segments.');
  }
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    fail("Managed folders cannot be named '.' or '..'.");
  }
  if (name.startsWith('.well-known/acme-challenge/')) {
    fail("Managed folder names cannot start with '.well-known/acme-challenge/'.");
  }
  return name;
}

/** The folder's managed ancestors' names, nearest first (`a/b/c/` -> `a/b/`, `a/`). */
export function parentFolderNames(name: string): string[] {
  const parents: string[] = [];
  let at = name.lastIndexOf('/', name.length - 2);
  while (at >= 0) {
    parents.push(name.slice(0, at + 1));
    at = name.lastIndexOf('/', at - 1);
  }
  return parents;
}

export interface ManagedFolderPreconditions {
  ifMetagenerationMatch?: number | undefined;
  ifMetagenerationNotMatch?: number | undefined;
}

export interface ListManagedFoldersRequest {
  prefix?: string | undefined;
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

/** Whether any live object's name starts with `prefix` in `bucket`. */
export type ObjectsUnder = (bucket: string, prefix: string) => boolean;

/**
 * Cloud Storage managed folders (JSON API `managedFolders`): folders that carry their own IAM policy
 * over an object-name prefix. They are independent of objects: creating one needs no parent folder
 * and no objects, and deleting one (even non-empty, with allowNonEmpty) leaves the objects alone.
 * They need uniform bucket-level access, and go with their bucket when it is deleted.
 */
export class ManagedFoldersService {
  constructor(
    private readonly store: ManagedFolderStore,
    private readonly clock: Clock,
    private readonly objectsUnder: ObjectsUnder,
  ) {}

  /** storage.managedFolders.insert */
  insertManagedFolder(bucket: BucketRecord, rawName: string): ManagedFolderRecord {
    requireUniformAccess(bucket);
    const name = managedFolderName(rawName);
    const now = rfc3339(this.clock.now());
    const folder: ManagedFolderRecord = {
      bucket: bucket.name,
      name,
      metageneration: 1,
      createTime: now,
      updateTime: now,
    };
    return this.store.transaction(() => {
      if (!this.store.insert(folder)) {
        throw new AlreadyExists('The managed folder you tried to create already exists.', {
          reason: 'conflict',
        });
      }
      return folder;
    });
  }

  /** storage.managedFolders.get */
  getManagedFolder(
    bucket: BucketRecord,
    rawName: string,
    conditions: ManagedFolderPreconditions = {},
  ): ManagedFolderRecord {
    const folder = this.store.get(bucket.name, managedFolderName(rawName));
    if (folder === undefined) {
      throw new ManagedFolderNotFound();
    }
    checkPreconditions(folder, conditions);
    return folder;
  }

  /** The folder, or undefined (no validation: for authorization lookups). */
  findManagedFolder(bucket: string, name: string): ManagedFolderRecord | undefined {
    return this.store.get(bucket, name);
  }

  /** storage.managedFolders.list, in name order. */
  listManagedFolders(bucket: BucketRecord, request: ListManagedFoldersRequest): Page<ManagedFolderRecord> {
    requireUniformAccess(bucket);
    return paginate(
      {
        pageSize: request.pageSize,
        pageToken: request.pageToken,
      },
      (folder) => folder.name,
      (after, limit) => this.store.list(bucket.name, request.prefix ?? '', after, limit),
      () => true,
      MAX_PAGE_SIZE,
    );
  }

  /**
   * storage.managedFolders.delete. A folder that manages objects or other managed folders is
   * refused (409) unless `allowNonEmpty`; either way only the folder goes, never the objects.
   */
  deleteManagedFolder(
    bucket: BucketRecord,
    rawName: string,
    options: ManagedFolderPreconditions & { allowNonEmpty?: boolean },
  ): ManagedFolderRecord {
    return this.store.transaction(() => {
      const folder = this.getManagedFolder(bucket, rawName, options);
      if (options.allowNonEmpty !== true) {
        const childFolders = this.store.count(bucket.name, folder.name) - 1;
        if (childFolders > 0 || this.objectsUnder(bucket.name, folder.name)) {
          throw new Aborted('The managed folder you tried to delete is not empty.', { reason: 'conflict' });
        }
      }
      this.store.delete(bucket.name, folder.name);
      return folder;
    });
  }

  /** Removes every managed folder of a bucket being deleted; returns them (their policies go too). */
  deleteAllIn(bucket: string): ManagedFolderRecord[] {
    return this.store.transaction(() => {
      const folders = this.store.list(bucket, '', undefined, undefined);
      for (const folder of folders) {
        this.store.delete(bucket, folder.name);
      }
      return folders;
    });
  }
}

function requireUniformAccess(bucket: BucketRecord): void {
  if (!bucket.uniformBucketLevelAccess.enabled) {
    throw new ConditionNotMet(
      'Managed folders can only be used in buckets that have uniform bucket-level access enabled.',
    );
  }
}

function checkPreconditions(folder: ManagedFolderRecord, conditions: ManagedFolderPreconditions): void {
  const { ifMetagenerationMatch: match, ifMetagenerationNotMatch: notMatch } = conditions;
  if (
    (match !== undefined && folder.metageneration !== match) ||
    (notMatch !== undefined && folder.metageneration === notMatch)
  ) {
    throw new ConditionNotMet('At least one of the pre-conditions you specified did not hold.');
  }
}
