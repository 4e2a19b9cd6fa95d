import type { Platform } from '../../../core/platform.ts';
import type { HmacKeyResolver } from '../hmac-keys.ts';
import type { XmlAuthenticator } from './auth.ts';

/**
 * Cloud Storage signed URLs: V4 query signatures (GOOG4-RSA-SHA256 with service-account keys,
 * GOOG4-HMAC-SHA256 with HMAC keys) and V2 (GoogleAccessId/Expires/Signature).
 * STUB: recognises nothing yet.
 */
export function createSignedUrlAuthenticator(_platform: Platform, _keys: HmacKeyResolver): XmlAuthenticator {
  return { authenticate: () => Promise.resolve(undefined) };
}
