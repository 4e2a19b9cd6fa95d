import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Principal } from '../../../core/auth.ts';

/**
 * Contract between the XML face (routes) and its authenticators (SigV4 / HMAC in sigv4.ts, Cloud
 * Storage signed URLs in signed-urls.ts, OAuth bearer tokens). The face builds one XmlRequestInfo per
 * request and asks each authenticator in turn; the first that recognises the request's scheme decides.
 */
export interface XmlRequestInfo {
  method: string;
  /** Path exactly as received on the wire (percent-encoding untouched), without the query. */
  rawPath: string;
  /** Query exactly as received, without the leading '?'; '' when there is none. */
  rawQuery: string;
  headers: IncomingHttpHeaders;
  /** Bucket and object key addressed, after virtual-host or path-style resolution. */
  bucket?: string;
  key?: string;
}

export interface XmlAuthOutcome {
  principal: Principal;
  /**
   * Wraps the raw request body when the scheme frames it (aws-chunked: strips chunk headers,
   * verifies chunk signatures and trailing checksums, errors the stream with an S3Error on mismatch).
   * Absent: the body is used as received.
   */
  decodeBody?: (raw: Readable) => Readable;
  /** Length of the decoded body (`x-amz-decoded-content-length`) when the body is framed. */
  decodedLength?: number;
}

export interface XmlAuthenticator {
  /**
   * `undefined` when the request does not use this authenticator's scheme. Throws an S3Error
   * (403 SignatureDoesNotMatch, AccessDenied, InvalidAccessKeyId, RequestTimeTooSkewed, ...) when
   * the scheme is this authenticator's but the request is refused.
   */
  authenticate(request: XmlRequestInfo): Promise<XmlAuthOutcome | undefined>;
}
