/**
 * Maps an HTTP request on the Cloud Storage JSON API to its discovery method name, spelled as the
 * storage testbench's Retry Test API spells them (`storage.objects.get`, `storage.bucket_acl.list`,
 * `storage.hmacKey.create`...). Requests that are not Cloud Storage JSON calls map to undefined.
 */

/** Every method a retry test may name, as the testbench lists them. */
export const RETRY_METHODS = [
  'storage.buckets.list',
  'storage.buckets.insert',
  'storage.buckets.get',
  'storage.buckets.update',
  'storage.buckets.patch',
  'storage.buckets.delete',
  'storage.buckets.getIamPolicy',
  'storage.buckets.setIamPolicy',
  'storage.buckets.testIamPermissions',
  'storage.buckets.lockRetentionPolicy',
  'storage.bucket_acl.list',
  'storage.bucket_acl.insert',
  'storage.bucket_acl.get',
  'storage.bucket_acl.update',
  'storage.bucket_acl.patch',
  'storage.bucket_acl.delete',
  'storage.default_object_acl.list',
  'storage.default_object_acl.insert',
  'storage.default_object_acl.get',
  'storage.default_object_acl.update',
  'storage.default_object_acl.patch',
  'storage.default_object_acl.delete',
  'storage.notifications.list',
  'storage.notifications.insert',
  'storage.notifications.get',
  'storage.notifications.delete',
  'storage.objects.list',
  'storage.objects.insert',
  'storage.objects.get',
  'storage.objects.update',
  'storage.objects.patch',
  'storage.objects.delete',
  'storage.objects.compose',
  'storage.objects.copy',
  'storage.objects.rewrite',
  'storage.object_acl.list',
  'storage.object_acl.insert',
  'storage.object_acl.get',
  'storage.object_acl.update',
  'storage.object_acl.patch',
  'storage.object_acl.delete',
  'storage.hmacKey.list',
  'storage.hmacKey.create',
  'storage.hmacKey.get',
  'storage.hmacKey.update',
  'storage.hmacKey.delete',
  'storage.serviceaccount.get',
] as const;
export type RetryMethod = (typeof RETRY_METHODS)[number];

export function isRetryMethod(name: string): name is RetryMethod {
  return (RETRY_METHODS as readonly string[]).includes(name);
}

/** What a request is: its method name and whether it carries or returns object bytes. */
export interface StorageCall {
  method: RetryMethod;
  /** A resumable-upload chunk or status query (`PUT ...?upload_id=`). */
  uploadChunk: boolean;
  /** An object download (`alt=media` or the `/download/` path). */
  media: boolean;
}

type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Family = 'buckets' | 'bucket_acl' | 'default_object_acl' | 'notifications' | 'objects' | 'object_acl';

/** Collection (`.../acl`) and member (`.../acl/ENTITY`) verbs of the ACL-like families. */
function aclMethod(family: Family, verb: Verb, member: boolean): RetryMethod | undefined {
  const collection: Partial<Record<Verb, string>> = { GET: 'list', POST: 'insert' };
  const single: Partial<Record<Verb, string>> = {
    GET: 'get',
    PUT: 'update',
    PATCH: 'patch',
    DELETE: 'delete',
  };
  const action = (member ? single : collection)[verb];
  const name = action === undefined ? undefined : `storage.${family}.${action}`;
  return name !== undefined && isRetryMethod(name) ? name : undefined;
}

function bucketMethod(verb: Verb, rest: string[]): RetryMethod | undefined {
  const [first, second, third] = rest;
  if (first === undefined) {
    const byVerb: Partial<Record<Verb, RetryMethod>> = {
      GET: 'storage.buckets.get',
      PATCH: 'storage.buckets.patch',
      PUT: 'storage.buckets.update',
      DELETE: 'storage.buckets.delete',
    };
    return byVerb[verb];
  }
  switch (first) {
    case 'lockRetentionPolicy':
      return verb === 'POST' && second === undefined ? 'storage.buckets.lockRetentionPolicy' : undefined;
    case 'iam':
      if (second === 'testPermissions') {
        return verb === 'GET' ? 'storage.buckets.testIamPermissions' : undefined;
      }
      if (second !== undefined) {
        return undefined;
      }
      return verb === 'GET'
        ? 'storage.buckets.getIamPolicy'
        : verb === 'PUT'
          ? 'storage.buckets.setIamPolicy'
          : undefined;
    case 'acl':
      return third === undefined ? aclMethod('bucket_acl', verb, second !== undefined) : undefined;
    case 'defaultObjectAcl':
      return third === undefined ? aclMethod('default_object_acl', verb, second !== undefined) : undefined;
    case 'notificationConfigs':
      if (third !== undefined) {
        return undefined;
      }
      return aclMethod('notifications', verb, second !== undefined);
    default:
      return undefined;
  }
}

/** `NAME[/acl[/ENTITY]|/compose|/copyTo/b/B/o/N|/rewriteTo/b/B/o/N]` after `/o/`. */
function objectMethod(verb: Verb, rest: string): RetryMethod | undefined {
  if (/\/(copyTo|rewriteTo)\/b\/[^/]+\/o\/./.test(rest)) {
    if (verb !== 'POST') {
      return undefined;
    }
    return rest.includes('/rewriteTo/b/') ? 'storage.objects.rewrite' : 'storage.objects.copy';
  }
  if (rest.endsWith('/compose') && verb === 'POST') {
    return 'storage.objects.compose';
  }
  const acl = /^.+\/acl(\/[^/]+)?$/.exec(rest);
  if (acl !== null) {
    const method = aclMethod('object_acl', verb, acl[1] !== undefined);
    if (method !== undefined) {
      return method;
    }
  }
  const byVerb: Partial<Record<Verb, RetryMethod>> = {
    GET: 'storage.objects.get',
    PATCH: 'storage.objects.patch',
    PUT: 'storage.objects.update',
    DELETE: 'storage.objects.delete',
  };
  return byVerb[verb];
}

function projectMethod(verb: Verb, rest: string[]): RetryMethod | undefined {
  const [kind, id, extra] = rest;
  if (extra !== undefined) {
    return undefined;
  }
  if (kind === 'serviceAccount') {
    return id === undefined && verb === 'GET' ? 'storage.serviceaccount.get' : undefined;
  }
  if (kind !== 'hmacKeys') {
    return undefined;
  }
  if (id === undefined) {
    return verb === 'GET' ? 'storage.hmacKey.list' : verb === 'POST' ? 'storage.hmacKey.create' : undefined;
  }
  const byVerb: Partial<Record<Verb, RetryMethod>> = {
    GET: 'storage.hmacKey.get',
    PUT: 'storage.hmacKey.update',
    DELETE: 'storage.hmacKey.delete',
  };
  return byVerb[verb];
}

function queryHas(query: string, name: string, value?: string): boolean {
  const params = new URLSearchParams(query);
  const found = params.get(name);
  return found !== null && found !== '' && (value === undefined || found === value);
}

/**
 * Classifies a Cloud Storage JSON API request by verb and raw URL (path and query). Accepts the
 * `/storage/v1` prefix or none (the Node client drops it under STORAGE_EMULATOR_HOST), and the
 * `/upload/`, `/resumable/upload/` and `/download/` media paths.
 */
export function classifyStorageRequest(verb: string, url: string): StorageCall | undefined {
  const queryAt = url.indexOf('?');
  const path = queryAt < 0 ? url : url.slice(0, queryAt);
  const query = queryAt < 0 ? '' : url.slice(queryAt + 1);
  const upperVerb = verb.toUpperCase();
  if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(upperVerb)) {
    return undefined;
  }
  const method = upperVerb as Verb;
  let api = path;
  let mode: 'json' | 'upload' | 'download' = 'json';
  for (const [prefix, kind] of [
    ['/resumable/upload/storage/v1/', 'upload'],
    ['/upload/storage/v1/', 'upload'],
    ['/download/storage/v1/', 'download'],
    ['/storage/v1/', 'json'],
  ] as const) {
    if (path.startsWith(prefix)) {
      api = path.slice(prefix.length - 1);
      mode = kind;
      break;
    }
  }
  const call = (name: RetryMethod | undefined, extra: Partial<StorageCall> = {}): StorageCall | undefined =>
    name === undefined ? undefined : { method: name, uploadChunk: false, media: false, ...extra };

  if (api.startsWith('/projects/') && mode === 'json') {
    const [project = '', ...rest] = api.slice('/projects/'.length).split('/');
    return project === '' ? undefined : call(projectMethod(method, rest));
  }
  if (api === '/b') {
    return mode === 'json'
      ? call(
          method === 'GET'
            ? 'storage.buckets.list'
            : method === 'POST'
              ? 'storage.buckets.insert'
              : undefined,
        )
      : undefined;
  }
  if (!api.startsWith('/b/')) {
    return undefined;
  }
  const afterBucket = api.slice(3);
  const slash = afterBucket.indexOf('/');
  const bucket = slash < 0 ? afterBucket : afterBucket.slice(0, slash);
  if (bucket === '') {
    return undefined;
  }
  const tail = slash < 0 ? '' : afterBucket.slice(slash + 1);
  if (tail === 'o') {
    if (mode === 'upload') {
      if (method === 'POST') {
        return call('storage.objects.insert');
      }
      // PUT carries a chunk or asks for the status of a resumable session.
      return method === 'PUT' && queryHas(query, 'upload_id')
        ? call('storage.objects.insert', { uploadChunk: true })
        : undefined;
    }
    if (mode === 'download') {
      return undefined;
    }
    return call(
      method === 'GET' ? 'storage.objects.list' : method === 'POST' ? 'storage.objects.insert' : undefined,
    );
  }
  if (tail.startsWith('o/') && tail.length > 2) {
    if (mode === 'upload') {
      return undefined;
    }
    if (mode === 'download') {
      return method === 'GET' ? call('storage.objects.get', { media: true }) : undefined;
    }
    const name = objectMethod(method, tail.slice(2));
    return call(name, { media: name === 'storage.objects.get' && queryHas(query, 'alt', 'media') });
  }
  if (mode !== 'json') {
    return undefined;
  }
  return call(bucketMethod(method, tail === '' ? [] : tail.split('/')));
}
