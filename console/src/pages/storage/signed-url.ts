import { call, enc } from '../../api.ts';
import { publicUrl, rfc3986 } from './common.ts';

/** Google's limit for V4 signed URLs: 7 days. */
export const MAX_EXPIRES_SECONDS = 7 * 24 * 3600;

function hex(bytes: ArrayBuffer | Uint8Array): string {
  return [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

async function sha256Hex(text: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}

function base64OfUtf8(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary);
}

function bytesOfBase64(value: string): Uint8Array {
  return Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0));
}

/** `20260102T030405Z` */
function v4Timestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

/**
 * A V4 signed URL (GOOG4-RSA-SHA256) for reading `bucket/name`, built as Google's client libraries
 * build it when they sign through IAM: canonical request -> string to sign -> IAM Credentials
 * `signBlob` with the service account's Google-managed key -> hex signature.
 */
export async function signedReadUrl(input: {
  bucket: string;
  name: string;
  serviceAccount: string;
  expiresSeconds: number;
  now?: Date;
}): Promise<string> {
  if (globalThis.crypto?.subtle === undefined) {
    throw new Error('Signing needs a secure context (open the console on localhost or over HTTPS).');
  }
  const url = await publicUrl(input.bucket, input.name);
  const timestamp = v4Timestamp(input.now ?? new Date());
  const scope = `${timestamp.slice(0, 8)}/auto/storage/goog4_request`;
  const query: [string, string][] = [
    ['X-Goog-Algorithm', 'GOOG4-RSA-SHA256'],
    ['X-Goog-Credential', `${input.serviceAccount}/${scope}`],
    ['X-Goog-Date', timestamp],
    ['X-Goog-Expires', String(input.expiresSeconds)],
    ['X-Goog-SignedHeaders', 'host'],
  ];
  const canonicalQuery = query
    .map(([key, value]) => `${rfc3986(key)}=${rfc3986(value)}`)
    .sort()
    .join('&');
  const canonicalRequest = [
    'GET',
    url.pathname,
    canonicalQuery,
    `host:${url.host}\n`,
    'host',
    'UNSIGNED-PAYLOAD',
  ].join('\n');
  const stringToSign = ['GOOG4-RSA-SHA256', timestamp, scope, await sha256Hex(canonicalRequest)].join('\n');
  const signed = await call<{ signedBlob: string }>(
    'POST',
    `/v1/projects/-/serviceAccounts/${enc(input.serviceAccount)}:signBlob`,
    { payload: base64OfUtf8(stringToSign) },
  );
  return `${url.origin}${url.pathname}?${canonicalQuery}&X-Goog-Signature=${hex(bytesOfBase64(signed.signedBlob))}`;
}
