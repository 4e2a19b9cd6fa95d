import {
  createHash,
  createHmac,
  createPublicKey,
  timingSafeEqual,
  verify as verifySignature,
  type KeyObject,
} from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import type { Principal } from '../../../core/auth.ts';
import type { Platform } from '../../../core/platform.ts';
import type { DocumentStore } from '../../../core/store.ts';
import { IamStore } from '../../iam/index.ts';
import type { HmacKeyResolver, HmacKeySecret } from '../hmac-keys.ts';
import type { XmlAuthenticator, XmlAuthOutcome, XmlRequestInfo } from './auth.ts';
import { S3Error } from './errors.ts';

/**
 * Cloud Storage signed URLs, verified on the XML face:
 * - V4 query signatures: `X-Goog-Algorithm=GOOG4-RSA-SHA256` (a service-account key; any active key
 *   of the account named by `X-Goog-Credential` may verify) and `GOOG4-HMAC-SHA256` (an HMAC key).
 *   The `X-Amz-*` spellings are accepted with a GOOG4 algorithm; `AWS4-HMAC-SHA256` presigned URLs
 *   belong to the SigV4 authenticator (sigv4.ts).
 * - V2: `GoogleAccessId` + `Expires` + `Signature` (RSA-SHA256 with a service-account key, or
 *   HMAC-SHA1 when `GoogleAccessId` is an HMAC access id).
 * The principal is the signing service account.
 */

export const MAX_V4_EXPIRES_SECONDS = 604800;
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.';

/** Public keys that may verify a service account's RSA signatures. */
export interface ServiceAccountKeySource {
  /** The active keys of an active account; empty when the account is unknown, disabled or keyless. */
  activeKeys(email: string): { keyId: string; publicKeyPem: string }[];
}

/** Service-account keys as IAM stores them (public keys only, like Google for user-managed keys). */
export function iamServiceAccountKeys(
  docs: DocumentStore,
  clock: { now(): number },
): ServiceAccountKeySource {
  const store = new IamStore(docs);
  return {
    activeKeys(email) {
      const account = store.accountByEmail(email);
      if (account === undefined || account.disabled) {
        return [];
      }
      const now = clock.now();
      return store
        .listKeys(account.name)
        .filter(
          (key) =>
            !key.disabled && Date.parse(key.validAfterTime) <= now && now < Date.parse(key.validBeforeTime),
        )
        .map((key) => ({ keyId: key.keyId, publicKeyPem: key.publicKeyPem }));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Canonicalisation (shared by the verifier, POST policies and the conformance vectors)

/** RFC 3986 percent-encoding of UTF-8: everything but `A-Za-z0-9-._~` (and `/` when kept). */
export function encodeRfc3986(value: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === '/')) {
      out += ch;
    } else {
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** Percent-decoding that never throws: invalid escapes stay as they are. `+` is a literal plus. */
export function decodePercent(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}

/** Query parameters as received: decoded names and values, in order. */
export function parseRawQuery(rawQuery: string): [string, string][] {
  if (rawQuery === '') {
    return [];
  }
  return rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const equals = part.indexOf('=');
      const name = equals === -1 ? part : part.slice(0, equals);
      const value = equals === -1 ? '' : part.slice(equals + 1);
      return [decodePercent(name), decodePercent(value)];
    });
}

/** Canonical query string: every pair RFC 3986-encoded, sorted by encoded name (byte order). */
export function canonicalQueryString(params: readonly (readonly [string, string])[]): string {
  return params
    .map(([name, value]) => [encodeRfc3986(name), encodeRfc3986(value)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/** A header value as signed: trimmed, inner whitespace runs collapsed to one space. */
export function canonicalHeaderValue(value: string): string {
  return value.trim().replace(/\s+/g, ' ');
}

export interface V4CanonicalRequestInput {
  method: string;
  /** The canonical (encoded) URI path. */
  path: string;
  /** Query parameters, decoded, without the signature. */
  query: readonly (readonly [string, string])[];
  /** Signed header names (lower case) and their values. */
  headers: ReadonlyMap<string, string>;
  payloadHash: string;
  /** A canonical query string to use as is instead of canonicalising `query`. */
  canonicalQuery?: string;
}

/**
 * The query as the client encoded it, sorted, without the signature: clients that encode values
 * their own way (gcloud's `quote_plus` writes a space as `+`) sign that encoding.
 */
export function rawCanonicalQuery(rawQuery: string, signatureParam: string): string {
  return rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const equals = part.indexOf('=');
      return equals === -1
        ? ([part, ''] as const)
        : ([part.slice(0, equals), part.slice(equals + 1)] as const);
    })
    .filter(([name]) => decodePercent(name).toLowerCase() !== signatureParam.toLowerCase())
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

export function v4CanonicalRequest(input: V4CanonicalRequestInput): string {
  const names = [...input.headers.keys()].map((name) => name.toLowerCase()).sort();
  const lower = new Map([...input.headers].map(([name, value]) => [name.toLowerCase(), value]));
  const canonicalHeaders = names
    .map((name) => `${name}:${canonicalHeaderValue(lower.get(name) ?? '')}\n`)
    .join('');
  return [
    input.method,
    input.path,
    input.canonicalQuery ?? canonicalQueryString(input.query),
    canonicalHeaders,
    names.join(';'),
    input.payloadHash,
  ].join('\n');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function v4StringToSign(
  algorithm: string,
  timestamp: string,
  scope: string,
  canonicalRequest: string,
): string {
  return [algorithm, timestamp, scope, sha256Hex(canonicalRequest)].join('\n');
}

/** The V4 HMAC signing key: HMAC chain over date, location, service and request type. */
export function v4HmacSigningKey(
  secret: string,
  prefix: 'GOOG4' | 'AWS4',
  date: string,
  location: string,
  service: string,
  requestType: string,
): Buffer {
  const kDate = createHmac('sha256', `${prefix}${secret}`).update(date).digest();
  const kLocation = createHmac('sha256', kDate).update(location).digest();
  const kService = createHmac('sha256', kLocation).update(service).digest();
  return createHmac('sha256', kService).update(requestType).digest();
}

export function hmacHex(key: Buffer, data: string): string {
  return createHmac('sha256', key).update(data).digest('hex');
}

/** Parsed public keys by PEM (parsing costs more than verifying); a small bounded cache. */
const publicKeys = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_SIZE = 256;

function publicKeyOf(pem: string): KeyObject {
  let key = publicKeys.get(pem);
  if (key === undefined) {
    key = createPublicKey(pem);
    if (publicKeys.size >= PUBLIC_KEY_CACHE_SIZE) {
      const oldest = publicKeys.keys().next();
      if (oldest.done !== true) {
        publicKeys.delete(oldest.value);
      }
    }
    publicKeys.set(pem, key);
  }
  return key;
}

export function verifyRsaSha256(publicKeyPem: string, data: string, signature: Buffer): boolean {
  try {
    return verifySignature('sha256', Buffer.from(data, 'utf8'), publicKeyOf(publicKeyPem), signature);
  } catch {
    return false;
  }
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

/** `20190201T090000Z` -> epoch ms, or undefined when malformed. */
export function parseV4Timestamp(value: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (match === null) {
    return undefined;
  }
  const [, y, mo, d, h, mi, s] = match;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  return Number.isNaN(ms) ||
    new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '') !== value.slice(0, 15)
    ? undefined
    : ms;
}

export interface V4Credential {
  /** Service-account email (RSA) or HMAC access id. */
  id: string;
  date: string;
  location: string;
  service: string;
  requestType: string;
  scope: string;
}

/** `EMAIL/DATE/LOCATION/SERVICE/REQUEST_TYPE` (the id may itself hold no `/`). */
export function parseV4Credential(value: string): V4Credential | undefined {
  const parts = value.split('/');
  if (parts.length < 5) {
    return undefined;
  }
  const [requestType, service, location, date] = parts.splice(-4).reverse();
  const id = parts.join('/');
  if (
    id === '' ||
    date === undefined ||
    location === undefined ||
    service === undefined ||
    requestType === undefined
  ) {
    return undefined;
  }
  if (!/^\d{8}$/.test(date)) {
    return undefined;
  }
  return { id, date, location, service, requestType, scope: `${date}/${location}/${service}/${requestType}` };
}

export function serviceAccountPrincipal(email: string, keyId?: string): Principal {
  const principal: Principal = {
    kind: 'serviceAccount',
    email,
    member: `serviceAccount:${email}`,
    scopes: [CLOUD_PLATFORM_SCOPE],
  };
  if (keyId !== undefined) {
    principal.keyId = keyId;
  }
  return principal;
}

// ---------------------------------------------------------------------------------------------
// Errors as Google's XML API words them

function malformed(message: string, parameter: string): S3Error {
  return new S3Error(400, 'MalformedSecurityHeader', 'Your request has a malformed header.', {
    ParameterName: parameter,
    Details: message,
  });
}

function signatureMismatch(stringToSign: string, canonicalRequest?: string): S3Error {
  const details: Record<string, string> = { StringToSign: stringToSign };
  if (canonicalRequest !== undefined) {
    details.CanonicalRequest = canonicalRequest;
  }
  return new S3Error(403, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH_MESSAGE, details);
}

function unknownAccessId(accessId: string): S3Error {
  return new S3Error(
    403,
    'InvalidAccessKeyId',
    'The Google Cloud Storage access key Id you provided does not exist in our records.',
    { AccessKeyId: accessId },
  );
}

// ---------------------------------------------------------------------------------------------
// The verifier

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(',') : value;
}

/** Host values the signer may have signed: as received, and without the port (clients sign hostnames). */
function hostCandidates(headers: IncomingHttpHeaders): string[] {
  const host = headerValue(headers, 'host') ?? '';
  const withoutPort = host.replace(/:\d+$/, '');
  return withoutPort === host ? [host] : [host, withoutPort];
}

/** The path as received and re-encoded canonically (decoded, then RFC 3986 with `/` kept). */
export function pathCandidates(rawPath: string): string[] {
  const path = rawPath === '' ? '/' : rawPath;
  const canonical = encodeRfc3986(decodePercent(path), true);
  return canonical === path ? [path] : [path, canonical];
}

function findParam(query: readonly [string, string][], ...names: string[]): string | undefined {
  const wanted = names.map((name) => name.toLowerCase());
  return query.find(([name]) => wanted.includes(name.toLowerCase()))?.[1];
}

/** Streams the body through while hashing it; errors when it differs from the signed payload hash. */
function payloadVerifier(expectedHex: string): (raw: Readable) => Readable {
  return (raw) => {
    const hash = createHash('sha256');
    const check = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
      flush(callback) {
        const actual = hash.digest('hex');
        callback(
          actual === expectedHex.toLowerCase()
            ? null
            : new S3Error(
                400,
                'XAmzContentSHA256Mismatch',
                "The provided 'x-goog-content-sha256' header does not match what was computed.",
                { ClientComputedContentSHA256: expectedHex, S3ComputedContentSHA256: actual },
              ),
        );
      },
    });
    raw.on('error', (error) => check.destroy(error));
    return raw.pipe(check);
  };
}

export interface SignedUrlAuthenticatorOptions {
  /** Where RSA public keys come from (default: IAM's service-account keys in the platform store). */
  serviceAccountKeys?: ServiceAccountKeySource;
}

export interface ResolvedSigner {
  principal: Principal;
  /** Checks a candidate string-to-sign against the request's signature. */
  verifies(stringToSign: string): boolean;
}

/**
 * Resolves who signed with `algorithm` and returns a checker for string-to-sign candidates.
 * Shared by signed URLs and POST policies. Throws S3Errors for unknown signers.
 */
export function resolveV4Signer(
  algorithm: string,
  credential: V4Credential,
  signatureHex: string,
  serviceAccountKeys: ServiceAccountKeySource,
  hmacKeys: HmacKeyResolver,
): ResolvedSigner {
  if (!/^[0-9a-fA-F]+$/.test(signatureHex) || signatureHex.length % 2 !== 0) {
    throw malformed('The signature is not a hexadecimal string.', 'X-Goog-Signature');
  }
  if (algorithm === 'GOOG4-RSA-SHA256') {
    const keys = serviceAccountKeys.activeKeys(credential.id);
    if (keys.length === 0) {
      throw new S3Error(
        403,
        'AccessDenied',
        `Access denied. The service account ${credential.id} does not exist, is disabled or has no active keys.`,
      );
    }
    const signature = Buffer.from(signatureHex, 'hex');
    let matchedKey: string | undefined;
    return {
      get principal() {
        return serviceAccountPrincipal(credential.id, matchedKey);
      },
      verifies(stringToSign) {
        const key = keys.find((candidate) =>
          verifyRsaSha256(candidate.publicKeyPem, stringToSign, signature),
        );
        matchedKey = key?.keyId;
        return key !== undefined;
      },
    };
  }
  if (algorithm === 'GOOG4-HMAC-SHA256') {
    const key = activeHmacKey(credential.id, hmacKeys);
    const signingKey = v4HmacSigningKey(
      key.secret,
      'GOOG4',
      credential.date,
      credential.location,
      credential.service,
      credential.requestType,
    );
    return {
      principal: serviceAccountPrincipal(key.serviceAccountEmail),
      verifies: (stringToSign) =>
        constantTimeEqual(hmacHex(signingKey, stringToSign), signatureHex.toLowerCase()),
    };
  }
  throw malformed(`Unsupported signing algorithm ${algorithm}.`, 'X-Goog-Algorithm');
}

function activeHmacKey(accessId: string, hmacKeys: HmacKeyResolver): HmacKeySecret {
  const key = hmacKeys.resolve(accessId);
  if (key === undefined || key.state === 'DELETED') {
    throw unknownAccessId(accessId);
  }
  if (key.state !== 'ACTIVE') {
    throw new S3Error(
      403,
      'InvalidAccessKeyId',
      'The Google Cloud Storage access key Id you provided is inactive.',
      {
        AccessKeyId: accessId,
      },
    );
  }
  return key;
}

/** V4 query-string signed URLs. */
function authenticateV4(
  request: XmlRequestInfo,
  query: [string, string][],
  prefix: 'X-Goog-' | 'X-Amz-',
  now: number,
  serviceAccountKeys: ServiceAccountKeySource,
  hmacKeys: HmacKeyResolver,
): XmlAuthOutcome {
  const param = (name: string): string | undefined => findParam(query, `${prefix}${name}`);
  const require = (name: string): string => {
    const value = param(name);
    if (value === undefined || value === '') {
      throw malformed(`Missing required parameter ${prefix}${name}.`, `${prefix}${name}`);
    }
    return value;
  };
  const algorithm = require('Algorithm');
  const credentialText = require('Credential');
  const timestamp = require('Date');
  const expiresText = require('Expires');
  const signedHeadersText = require('SignedHeaders');
  const signatureHex = require('Signature');

  const date = parseV4Timestamp(timestamp);
  if (date === undefined) {
    throw malformed(`Invalid ${prefix}Date: ${timestamp}.`, `${prefix}Date`);
  }
  if (
    !/^\d{1,7}$/.test(expiresText) ||
    Number(expiresText) < 1 ||
    Number(expiresText) > MAX_V4_EXPIRES_SECONDS
  ) {
    throw malformed(
      `${prefix}Expires must be between 1 and ${String(MAX_V4_EXPIRES_SECONDS)} seconds.`,
      `${prefix}Expires`,
    );
  }
  const credential = parseV4Credential(credentialText);
  if (credential === undefined) {
    throw malformed(`Invalid credential scope: ${credentialText}.`, `${prefix}Credential`);
  }
  if (credential.date !== timestamp.slice(0, 8)) {
    throw malformed(
      `The credential scope date ${credential.date} does not match ${prefix}Date ${timestamp}.`,
      `${prefix}Credential`,
    );
  }
  const expiresAt = date + Number(expiresText) * 1000;
  if (now >= expiresAt) {
    throw new S3Error(400, 'ExpiredToken', 'Invalid argument.', {
      Details: `The provided token has expired. Request signature expired at: ${new Date(expiresAt).toISOString().replace('.000Z', '+00:00')}`,
    });
  }
  if (now < date) {
    throw new S3Error(403, 'AccessDenied', 'Request is not valid yet.', {
      Details: `The signed URL becomes valid at ${new Date(date).toISOString()}.`,
    });
  }
  const signedHeaderNames = signedHeadersText.split(';').map((name) => name.trim().toLowerCase());
  if (!signedHeaderNames.includes('host')) {
    throw malformed('The signed headers must include host.', `${prefix}SignedHeaders`);
  }

  const signer = resolveV4Signer(algorithm, credential, signatureHex, serviceAccountKeys, hmacKeys);

  const unsignedQuery = query.filter(([name]) => name.toLowerCase() !== `${prefix}signature`.toLowerCase());
  const payloadHeader = signedHeaderNames.find(
    (name) => name === 'x-goog-content-sha256' || name === 'x-amz-content-sha256',
  );
  const payloadHash =
    payloadHeader === undefined
      ? UNSIGNED_PAYLOAD
      : canonicalHeaderValue(headerValue(request.headers, payloadHeader) ?? '');
  const canonicalQuery = canonicalQueryString(unsignedQuery);
  const queries = [canonicalQuery, rawCanonicalQuery(request.rawQuery, `${prefix}Signature`)].filter(
    (query, index, all) => all.indexOf(query) === index,
  );
  let firstStringToSign: string | undefined;
  let firstCanonical: string | undefined;
  for (const host of hostCandidates(request.headers)) {
    for (const path of pathCandidates(request.rawPath)) {
      for (const query of queries) {
        const headers = new Map(
          signedHeaderNames.map((name) => [
            name,
            name === 'host' ? host : (headerValue(request.headers, name) ?? ''),
          ]),
        );
        const canonical = v4CanonicalRequest({
          method: request.method,
          path,
          query: unsignedQuery,
          canonicalQuery: query,
          headers,
          payloadHash,
        });
        const stringToSign = v4StringToSign(algorithm, timestamp, credential.scope, canonical);
        firstStringToSign ??= stringToSign;
        firstCanonical ??= canonical;
        if (signer.verifies(stringToSign)) {
          const outcome: XmlAuthOutcome = { principal: signer.principal };
          if (/^[0-9a-fA-F]{64}$/.test(payloadHash)) {
            outcome.decodeBody = payloadVerifier(payloadHash);
          }
          return outcome;
        }
      }
    }
  }
  throw signatureMismatch(firstStringToSign ?? '', firstCanonical);
}

/** V2 canonical extension headers: every `x-goog-*` request header, sorted, `name:value\n`. */
function v2ExtensionHeaders(headers: IncomingHttpHeaders): string {
  return Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith('x-goog-'))
    .sort()
    .map((name) => `${name}:${canonicalHeaderValue(headerValue(headers, name) ?? '')}\n`)
    .join('');
}

const V2_SUBRESOURCES = new Set([
  'acl',
  'billing',
  'compose',
  'cors',
  'defaultObjectAcl',
  'encryption',
  'encryptionConfig',
  'lifecycle',
  'location',
  'logging',
  'storageClass',
  'tagging',
  'upload_id',
  'uploadId',
  'partNumber',
  'uploads',
  'versioning',
  'versions',
  'websiteConfig',
]);

export function v2StringToSign(input: {
  method: string;
  contentMd5: string;
  contentType: string;
  expires: string;
  extensionHeaders: string;
  resource: string;
}): string {
  return [
    input.method,
    input.contentMd5,
    input.contentType,
    input.expires,
    input.extensionHeaders + input.resource,
  ].join('\n');
}

/** V2 signed URLs: `GoogleAccessId`, `Expires` (epoch seconds), `Signature` (base64). */
function authenticateV2(
  request: XmlRequestInfo,
  query: [string, string][],
  now: number,
  serviceAccountKeys: ServiceAccountKeySource,
  hmacKeys: HmacKeyResolver,
): XmlAuthOutcome {
  const accessId = findParam(query, 'GoogleAccessId') ?? '';
  const expires = findParam(query, 'Expires') ?? '';
  const signatureText = findParam(query, 'Signature') ?? '';
  if (accessId === '') {
    throw malformed('Missing required parameter GoogleAccessId.', 'GoogleAccessId');
  }
  if (!/^\d{1,12}$/.test(expires)) {
    throw malformed('Expires must be a number of seconds since the epoch.', 'Expires');
  }
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(signatureText)) {
    throw malformed('The signature is not base64.', 'Signature');
  }
  if (now >= Number(expires) * 1000) {
    throw new S3Error(403, 'AccessDenied', `Request has expired: ${expires}`, {
      Details: `Request has expired: ${expires}`,
    });
  }
  const signature = Buffer.from(signatureText.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  const subresources = query
    .filter(([name]) => V2_SUBRESOURCES.has(name))
    .map(([name, value]) => (value === '' ? name : `${name}=${value}`))
    .sort();
  const suffix = subresources.length === 0 ? '' : `?${subresources.join('&')}`;
  const resources = new Set<string>();
  for (const path of pathCandidates(request.rawPath)) {
    resources.add(path + suffix);
    const bucketPrefix = request.bucket === undefined ? '' : `/${request.bucket}`;
    if (bucketPrefix !== '' && path !== bucketPrefix && !path.startsWith(`${bucketPrefix}/`)) {
      // Virtual-hosted request: the signed resource still names the bucket.
      resources.add((path === '/' ? bucketPrefix : bucketPrefix + path) + suffix);
    }
  }
  const base = {
    method: request.method,
    contentMd5: headerValue(request.headers, 'content-md5') ?? '',
    contentType: headerValue(request.headers, 'content-type') ?? '',
    expires,
    extensionHeaders: v2ExtensionHeaders(request.headers),
  };
  const candidates = [...resources].map((resource) => v2StringToSign({ ...base, resource }));

  const hmacKey = accessId.includes('@') ? undefined : hmacKeys.resolve(accessId);
  if (hmacKey !== undefined) {
    const key = activeHmacKey(accessId, hmacKeys);
    for (const stringToSign of candidates) {
      const expected = createHmac('sha1', key.secret).update(stringToSign).digest();
      if (expected.length === signature.length && timingSafeEqual(expected, signature)) {
        return { principal: serviceAccountPrincipal(key.serviceAccountEmail) };
      }
    }
    throw signatureMismatch(candidates[0] ?? '');
  }
  if (!accessId.includes('@')) {
    throw unknownAccessId(accessId);
  }
  const keys = serviceAccountKeys.activeKeys(accessId);
  if (keys.length === 0) {
    throw new S3Error(
      403,
      'AccessDenied',
      `Access denied. The service account ${accessId} does not exist, is disabled or has no active keys.`,
    );
  }
  for (const stringToSign of candidates) {
    const key = keys.find((candidate) => verifyRsaSha256(candidate.publicKeyPem, stringToSign, signature));
    if (key !== undefined) {
      return { principal: serviceAccountPrincipal(accessId, key.keyId) };
    }
  }
  throw signatureMismatch(candidates[0] ?? '');
}

/** Which signed-URL scheme a query uses, if any. */
export function signedUrlScheme(query: readonly [string, string][]): 'v4-goog' | 'v4-amz' | 'v2' | undefined {
  if (findParam([...query], 'X-Goog-Algorithm') !== undefined) {
    return 'v4-goog';
  }
  const amzAlgorithm = findParam([...query], 'X-Amz-Algorithm');
  if (amzAlgorithm?.startsWith('GOOG4-') === true) {
    return 'v4-amz';
  }
  if (
    findParam([...query], 'GoogleAccessId') !== undefined &&
    findParam([...query], 'Signature') !== undefined
  ) {
    return 'v2';
  }
  return undefined;
}

/**
 * Cloud Storage signed URLs: V4 query signatures (GOOG4-RSA-SHA256 with service-account keys,
 * GOOG4-HMAC-SHA256 with HMAC keys) and V2 (GoogleAccessId/Expires/Signature).
 */
export function createSignedUrlAuthenticator(
  platform: Pick<Platform, 'clock' | 'store'>,
  keys: HmacKeyResolver,
  options: SignedUrlAuthenticatorOptions = {},
): XmlAuthenticator {
  const serviceAccountKeys =
    options.serviceAccountKeys ?? iamServiceAccountKeys(platform.store, platform.clock);
  return {
    authenticate(request) {
      try {
        const query = parseRawQuery(request.rawQuery);
        const scheme = signedUrlScheme(query);
        const now = platform.clock.now();
        switch (scheme) {
          case undefined:
            return Promise.resolve(undefined);
          case 'v4-goog':
            return Promise.resolve(authenticateV4(request, query, 'X-Goog-', now, serviceAccountKeys, keys));
          case 'v4-amz':
            return Promise.resolve(authenticateV4(request, query, 'X-Amz-', now, serviceAccountKeys, keys));
          case 'v2':
            return Promise.resolve(authenticateV2(request, query, now, serviceAccountKeys, keys));
        }
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
  };
}
