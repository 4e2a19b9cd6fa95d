import { enc, nimbusEnvVar, type Bucket, type StorageObject } from '../../api.ts';

export { formatSize, formatTime } from '../../format.ts';

/** The bucket fields the storage pages read (storage#bucket). */
export interface BucketResource extends Bucket {
  locationType?: string;
  iamConfiguration?: {
    uniformBucketLevelAccess?: { enabled?: boolean };
    publicAccessPrevention?: string;
  };
}

/** The object fields the storage pages read (storage#object). */
export interface ObjectResource extends StorageObject {
  bucket?: string;
  generation?: string;
  metageneration?: string;
  storageClass?: string;
  timeCreated?: string;
  md5Hash?: string;
  crc32c?: string;
  etag?: string;
  mediaLink?: string;
}

export const MULTI_REGIONS = ['US', 'EU', 'ASIA'];
export const REGIONS = [
  'us-central1',
  'us-east1',
  'us-west1',
  'northamerica-northeast1',
  'southamerica-east1',
  'europe-west1',
  'europe-west2',
  'europe-west3',
  'europe-north1',
  'asia-east1',
  'asia-northeast1',
  'asia-northeast3',
  'asia-south1',
  'asia-southeast1',
  'australia-southeast1',
];
export const STORAGE_CLASSES = ['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'];

/** An object name as a URL path: every segment percent-encoded, slashes kept. */
export function encodePath(name: string): string {
  return name.split('/').map(enc).join('/');
}

/** The console route of an object's details page. */
export function detailsLink(bucket: string, name: string): string {
  return `/storage/browser/_details/${enc(bucket)}/${encodePath(name)}`;
}

/** The console route of a folder (`prefix` ends with `/`, or '' for the bucket root). */
export function folderLink(bucket: string, prefix: string): string {
  return `/storage/browser/${enc(bucket)}${prefix === '' ? '' : `?prefix=${enc(prefix)}`}`;
}

/** The JSON API path of an object. */
export function objectPath(bucket: string, name: string): string {
  return `/storage/v1/b/${enc(bucket)}/o/${enc(name)}`;
}

/** Base64 (as the API prints hashes) to lower-case hex, as gsutil prints them; '' when absent. */
export function base64ToHex(value: string | undefined): string {
  if (value === undefined || value === '') {
    return '';
  }
  try {
    return Array.from(
      Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0)),
      (byte) => byte.toString(16).padStart(2, '0'),
    ).join('');
  } catch {
    return '';
  }
}

/**
 * The origin of the XML API's path-style endpoint (`AWS_ENDPOINT_URL_S3` in `nimbus env`), Nimbus's
 * counterpart of https://storage.googleapis.com; undefined when the server does not tell this caller.
 */
export async function xmlEndpoint(): Promise<string | undefined> {
  return (await nimbusEnvVar('AWS_ENDPOINT_URL_S3'))?.replace(/\/+$/, '');
}

/** Where an object is read without the JSON API: `ENDPOINT/BUCKET/OBJECT` or `BUCKET.localhost:PORT/OBJECT`. */
export async function publicUrl(bucket: string, name: string): Promise<URL> {
  const endpoint = await xmlEndpoint();
  if (endpoint !== undefined) {
    return new URL(`${endpoint}/${enc(bucket)}/${rfc3986Path(name)}`);
  }
  // Virtual-hosted style on the console's own port (`*.localhost` resolves to loopback in browsers).
  const { protocol, port } = window.location;
  return new URL(`${protocol}//${bucket}.localhost${port === '' ? '' : `:${port}`}/${rfc3986Path(name)}`);
}

/** RFC 3986 encoding (everything but `A-Za-z0-9-._~`), as signed URLs canonicalise. */
export function rfc3986(value: string, keepSlash = false): string {
  let out = '';
  for (const byte of new TextEncoder().encode(value)) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === '/')) {
      out += ch;
    } else {
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

export function rfc3986Path(name: string): string {
  return rfc3986(name, true);
}
