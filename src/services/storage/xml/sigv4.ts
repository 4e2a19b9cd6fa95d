import type { Platform } from '../../../core/platform.ts';
import type { HmacKeyResolver } from '../hmac-keys.ts';
import type { XmlAuthenticator } from './auth.ts';

/**
 * AWS SigV4 (Authorization header, presigned query, UNSIGNED-PAYLOAD, aws-chunked streaming with
 * trailers), GOOG4-HMAC-SHA256 headers and V2-style `GOOG1`/`AWS` HMAC headers, all with HMAC keys.
 * STUB: recognises nothing yet.
 */
export function createHmacAuthenticator(_platform: Platform, _keys: HmacKeyResolver): XmlAuthenticator {
  return { authenticate: () => Promise.resolve(undefined) };
}
