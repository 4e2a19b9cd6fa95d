import type { DocumentStore } from '../../core/store.ts';

/** One managed folder (storage#managedFolder). Its IAM policy lives in the platform's registry. */
export interface ManagedFolderRecord {
  bucket: string;
  /** Always ends with '/' (`reports/2024/`). */
  name: string;
  metageneration: number;
  createTime: string;
  updateTime: string;
}

const FOLDERS = 'storage/managedFolders';

/** Bucket names contain no '/', so a bucket's managed folders are one key range in name order. */
function folderKey(bucket: string, name: string): string {
  return `${bucket}/${name}`;
}

/** Managed folders keyed `BUCKET/NAME`. */
export class ManagedFolderStore {
  constructor(private readonly docs: DocumentStore) {}

  transaction<R>(fn: () => R): R {
    return this.docs.transaction(fn);
  }
  get(bucket: string, name: string): ManagedFolderRecord | undefined {
    return this.docs.get<ManagedFolderRecord>(FOLDERS, folderKey(bucket, name));
  }
  insert(folder: ManagedFolderRecord): boolean {
    return this.docs.insert(FOLDERS, folderKey(folder.bucket, folder.name), folder);
  }
  delete(bucket: string, name: string): boolean {
    return this.docs.delete(FOLDERS, folderKey(bucket, name));
  }
  /** Folders of `bucket` whose names start with `prefix`, in name order, names > `afterName`. */
  list(
    bucket: string,
    prefix: string,
    afterName: string | undefined,
    limit: number | undefined,
  ): ManagedFolderRecord[] {
    return this.docs.list<ManagedFolderRecord>(FOLDERS, {
      prefix: folderKey(bucket, prefix),
      after: afterName === undefined ? undefined : folderKey(bucket, afterName),
      limit,
    });
  }
  count(bucket: string, prefix: string): number {
    return this.docs.count(FOLDERS, folderKey(bucket, prefix));
  }
}

/**
 * The managed folders directly under `prefix` (`a/` -> `a/b/`, not `a/b/c/`), for `objects.list`
 * with `delimiter=/&includeFoldersAsPrefixes=true`, which also answers them as prefixes.
 */
export function managedFolderPrefixes(docs: DocumentStore, bucket: string, prefix: string): string[] {
  return new ManagedFolderStore(docs)
    .list(bucket, prefix, undefined, undefined)
    .map((folder) => folder.name)
    .filter((name) => name.length > prefix.length && name.indexOf('/', prefix.length) === name.length - 1);
}
