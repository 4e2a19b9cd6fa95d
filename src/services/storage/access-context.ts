import type { AccessContext } from '../../core/auth.ts';

/**
 * What IAM Conditions see of a Cloud Storage call, in Google's resource-name format: buckets are
 * `projects/_/buckets/BUCKET` (type `storage.googleapis.com/Bucket`), objects
 * `projects/_/buckets/BUCKET/objects/OBJECT` (type `storage.googleapis.com/Object`). Calls on one
 * object (get, create, delete, update, ACLs) use the object's context; permissions Google checks on
 * the bucket (`storage.buckets.*`, `storage.objects.list`) use the bucket's.
 */
export function bucketContext(bucket: string): AccessContext {
  return {
    name: `projects/_/buckets/${bucket}`,
    type: 'storage.googleapis.com/Bucket',
    service: 'storage.googleapis.com',
  };
}

export function objectContext(bucket: string, object: string): AccessContext {
  return {
    name: `projects/_/buckets/${bucket}/objects/${object}`,
    type: 'storage.googleapis.com/Object',
    service: 'storage.googleapis.com',
  };
}
