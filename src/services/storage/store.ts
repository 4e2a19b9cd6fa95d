import type { DocumentStore } from '../../core/store.ts';
import type { LifecycleConfig } from './lifecycle.ts';
import type { RetentionPolicy } from './retention.ts';
import type { CorsRule } from './cors.ts';

export interface BucketRecord {
  name: string;
  projectId: string;
  projectNumber: string;
  location: string;
  locationType: 'multi-region' | 'dual-region' | 'region';
  storageClass: string;
  labels: Record<string, string>;
  /** Absent until a client sets it (Google then omits `versioning`). */
  versioningEnabled?: boolean;
  uniformBucketLevelAccess: { enabled: boolean; lockedTime?: string };
  /** `iamConfiguration.publicAccessPrevention`; absent means `inherited` (see public-access.ts). */
  publicAccessPrevention?: 'enforced';
  /** Bucket CORS rules (applied to object reads and uploads only; see cors.ts). */
  cors?: CorsRule[];
  timeCreated: string;
  updated: string;
  metageneration: number;
  lifecycle?: LifecycleConfig;
  retentionPolicy?: RetentionPolicy;
  /** New objects get `eventBasedHold: true`. */
  defaultEventBasedHold?: boolean;
}

const BUCKETS = 'storage/buckets';

/** Buckets by name (bucket names are global, so the name is the whole key). */
export class BucketStore {
  constructor(private readonly docs: DocumentStore) {}

  transaction<R>(fn: () => R): R {
    return this.docs.transaction(fn);
  }
  get(name: string): BucketRecord | undefined {
    return this.docs.get<BucketRecord>(BUCKETS, name);
  }
  insert(bucket: BucketRecord): boolean {
    return this.docs.insert(BUCKETS, bucket.name, bucket);
  }
  put(bucket: BucketRecord): void {
    this.docs.put(BUCKETS, bucket.name, bucket);
  }
  delete(name: string): boolean {
    return this.docs.delete(BUCKETS, name);
  }
  list(prefix: string | undefined, after: string | undefined, limit: number): BucketRecord[] {
    return this.docs.list<BucketRecord>(BUCKETS, { prefix, after, limit });
  }
}
