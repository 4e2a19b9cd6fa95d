import { createHash, randomBytes, randomInt } from 'node:crypto';

/** A random decimal id of `digits` digits with no leading zero (Compute ids, project numbers). */
export function numericId(digits = 19): string {
  let out = String(randomInt(1, 10));
  while (out.length < digits) {
    out += String(randomInt(0, 10));
  }
  return out;
}

/** A random lowercase hex id. */
export function hexId(bytes = 20): string {
  return randomBytes(bytes).toString('hex');
}

/** A random URL-safe token. */
export function randomToken(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}

/** An opaque etag derived from content, as Google's policy and resource etags look (base64). */
export function contentEtag(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest().subarray(0, 8).toString('base64');
}

/**
 * Whether an etag a client sent back matches ours. Policy, role and service-account etags are
 * protobuf `bytes`: clients decode them and may re-encode them in the URL-safe base64 alphabet
 * (gcloud does), so `ab/c+d==` and `ab_c-d==` are the same etag, as on Google.
 */
export function sameEtag(sent: string, current: string): boolean {
  const canonical = (etag: string): string =>
    etag.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '');
  return canonical(sent) === canonical(current);
}
