import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Principal } from '../../../core/auth.ts';
import type { Platform } from '../../../core/platform.ts';
import type { HmacKeyResolver, HmacKeySecret } from '../hmac-keys.ts';
import type { XmlAuthenticator, XmlAuthOutcome, XmlRequestInfo } from './auth.ts';
import { AwsChunkedDecoder } from './aws-chunked.ts';
import { S3Error } from './errors.ts';

/**
 * HMAC-key authentication for the XML face:
 * - AWS SigV4 (`Authorization: AWS4-HMAC-SHA256 ...` and presigned `X-Amz-*` query), with
 *   `UNSIGNED-PAYLOAD`, a hex sha256 payload hash (verified as the body streams) and `aws-chunked`
 *   streaming bodies (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`, `STREAMING-UNSIGNED-PAYLOAD-TRAILER`);
 * - Google's GOOG4-HMAC-SHA256 (same algorithm, `x-goog-*` names, `GOOG4` key prefix, `goog4_request`);
 * - V2 HMAC-SHA1 headers `Authorization: AWS ID:SIG` / `GOOG1 ID:SIG` (boto, gsutil) and the S3 V2
 *   presigned query (`AWSAccessKeyId`, `Expires`, `Signature`).
 * The principal is the key's service account, so IAM applies through that account's roles.
 */

/** Largest clock difference accepted (S3 and Cloud Storage: 15 minutes). */
export const MAX_SKEW_MS = 15 * 60 * 1000;
/** Presigned URLs live at most 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 60 * 60;
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

interface V4Flavor {
  algorithm: 'AWS4-HMAC-SHA256' | 'GOOG4-HMAC-SHA256';
  keyPrefix: 'AWS4' | 'GOOG4';
  terminator: 'aws4_request' | 'goog4_request';
  /** Header/query name prefix: `x-amz-` or `x-goog-`. */
  prefix: 'amz' | 'goog';
}

const AWS4: V4Flavor = {
  algorithm: 'AWS4-HMAC-SHA256',
  keyPrefix: 'AWS4',
  terminator: 'aws4_request',
  prefix: 'amz',
};
const GOOG4: V4Flavor = {
  algorithm: 'GOOG4-HMAC-SHA256',
  keyPrefix: 'GOOG4',
  terminator: 'goog4_request',
  prefix: 'goog',
};

// ---------------------------------------------------------------------------------------------
// Canonicalisation (exported for tests and for the signed-URL verifier)

/** RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-._~` (and `/` when kept). */
export function uriEncode(text: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(char) || (keepSlash && char === '/')) {
      out += char;
    } else {
      out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The canonical URI of a raw (as received) path: each segment decoded once and re-encoded. */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') {
    return '/';
  }
  return rawPath
    .split('/')
    .map((segment) => uriEncode(percentDecode(segment)))
    .join('/');
}

/** Query parameters of a raw query string, decoded (`+` is a literal plus, as in SigV4). */
export function parseRawQuery(rawQuery: string): [string, string][] {
  if (rawQuery === '') {
    return [];
  }
  return rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      return eq < 0
        ? [percentDecode(part), '']
        : [percentDecode(part.slice(0, eq)), percentDecode(part.slice(eq + 1))];
    });
}

/** Canonical query string: names and values encoded, sorted by name then value. */
export function canonicalQuery(params: [string, string][], exclude?: string): string {
  return params
    .filter(([name]) => exclude === undefined || name !== exclude)
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (value === undefined) {
    return undefined;
  }
  return Array.isArray(value) ? value.join(',') : value;
}

/** `name:value\n` for each signed header: values trimmed, inner whitespace runs collapsed. */
export function canonicalHeaders(headers: IncomingHttpHeaders, signedHeaders: string[]): string {
  return signedHeaders
    .map((name) => {
      const value = headers[name];
      const values = value === undefined ? [''] : Array.isArray(value) ? value : [value];
      return `${name}:${values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',')}\n`;
    })
    .join('');
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function hmac(key: Buffer | string, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

/** kSigning = HMAC(HMAC(HMAC(HMAC(PREFIX + secret, date), region), service), terminator). */
export function deriveSigningKey(
  secret: string,
  date: string,
  region: string,
  service: string,
  keyPrefix = 'AWS4',
  terminator = 'aws4_request',
): Buffer {
  return hmac(hmac(hmac(hmac(`${keyPrefix}${secret}`, date), region), service), terminator);
}

export interface CanonicalRequestParts {
  method: string;
  rawPath: string;
  query: [string, string][];
  /** Query parameter left out (the signature itself, for presigned URLs). */
  excludeQuery?: string;
  headers: IncomingHttpHeaders;
  signedHeaders: string[];
  payloadHash: string;
  /** Canonical URI to use instead of the one derived from rawPath. */
  uri?: string;
}

export function canonicalRequest(parts: CanonicalRequestParts): string {
  return [
    parts.method,
    parts.uri ?? canonicalUri(parts.rawPath),
    canonicalQuery(parts.query, parts.excludeQuery),
    canonicalHeaders(parts.headers, parts.signedHeaders),
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
}

export function stringToSign(algorithm: string, amzDate: string, scope: string, canonical: string): string {
  return [algorithm, amzDate, scope, sha256Hex(canonical)].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Errors

function spacedHex(text: string): string {
  return Buffer.from(text, 'utf8')
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');
}

function signatureDoesNotMatch(
  accessId: string,
  toSign: string,
  provided: string,
  canonical?: string,
): S3Error {
  return new S3Error(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    {
      AWSAccessKeyId: accessId,
      StringToSign: toSign,
      SignatureProvided: provided,
      StringToSignBytes: spacedHex(toSign),
      ...(canonical === undefined
        ? {}
        : { CanonicalRequest: canonical, CanonicalRequestBytes: spacedHex(canonical) }),
    },
  );
}

function headerMalformed(message: string): S3Error {
  return new S3Error(
    400,
    'AuthorizationHeaderMalformed',
    `The authorization header is malformed; ${message}`,
  );
}

function queryMalformed(message: string): S3Error {
  return new S3Error(400, 'AuthorizationQueryParametersError', message);
}

function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// Times

/** `YYYYMMDDTHHMMSSZ` -> epoch ms, or undefined. */
export function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (m === null) {
    return undefined;
  }
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  return Number.isNaN(ms) ? undefined : ms;
}

function amzDateOf(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function checkSkew(requestMs: number, nowMs: number): void {
  if (Math.abs(nowMs - requestMs) > MAX_SKEW_MS) {
    throw new S3Error(
      403,
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
      {
        RequestTime: new Date(requestMs).toUTCString(),
        ServerTime: new Date(nowMs).toISOString(),
        MaxAllowedSkewMilliseconds: String(MAX_SKEW_MS),
      },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Keys and principals

function usableKey(keys: HmacKeyResolver, accessId: string): HmacKeySecret {
  const key = keys.resolve(accessId);
  if (key?.state !== 'ACTIVE') {
    throw new S3Error(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      { AWSAccessKeyId: accessId },
    );
  }
  if (key.serviceAccountDisabled === true) {
    throw new S3Error(
      403,
      'AccessDenied',
      `The service account ${key.serviceAccountEmail} of this HMAC key is disabled or deleted.`,
    );
  }
  return key;
}

function principalOf(key: HmacKeySecret): Principal {
  return {
    kind: 'serviceAccount',
    email: key.serviceAccountEmail,
    member: `serviceAccount:${key.serviceAccountEmail}`,
    scopes: [CLOUD_PLATFORM_SCOPE],
  };
}

// ---------------------------------------------------------------------------------------------
// Payload handling

/** Verifies a body against the hex sha256 its request was signed with, as the body streams. */
class PayloadHashCheck extends Transform {
  private readonly hash = createHash('sha256');
  constructor(private readonly expected: string) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    callback(null, chunk);
  }
  override _flush(callback: TransformCallback): void {
    const computed = this.hash.digest('hex');
    if (computed === this.expected) {
      callback();
      return;
    }
    callback(
      new S3Error(
        400,
        'XAmzContentSHA256Mismatch',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
        { ClientComputedContentSHA256: this.expected, S3ComputedContentSHA256: computed },
      ),
    );
  }
}

/**
 * Pipes the request body through `transform`. A failure of the body (client gone) fails the
 * transform; a failure of the transform (bad chunk, wrong hash) stops reading but leaves the request
 * itself alive, so the face can still answer with the S3 error.
 */
function frame<T extends Transform>(raw: Readable, transform: T): T {
  raw.on('error', (error) => transform.destroy(error));
  raw.on('close', () => {
    if (!raw.readableEnded) {
      transform.destroy(new S3Error(400, 'IncompleteBody', 'The request body terminated unexpectedly'));
    }
  });
  transform.on('error', () => {
    raw.unpipe(transform);
    raw.resume();
  });
  return raw.pipe(transform);
}

interface SignedContext {
  flavor: V4Flavor;
  signingKey: Buffer;
  amzDate: string;
  scope: string;
  signature: string;
}

function payloadOutcome(
  principal: Principal,
  payloadHash: string,
  headers: IncomingHttpHeaders,
  signed: SignedContext,
): XmlAuthOutcome {
  if (payloadHash === 'UNSIGNED-PAYLOAD') {
    return { principal };
  }
  if (/^[0-9a-f]{64}$/.test(payloadHash)) {
    return { principal, decodeBody: (raw: Readable) => frame(raw, new PayloadHashCheck(payloadHash)) };
  }
  const streaming = /^STREAMING-(AWS4|GOOG4)-HMAC-SHA256-PAYLOAD(-TRAILER)?$/.exec(payloadHash);
  const unsignedTrailer = payloadHash === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
  if (streaming === null && !unsignedTrailer) {
    if (payloadHash.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256')) {
      throw new S3Error(
        501,
        'NotImplemented',
        'SigV4a (AWS4-ECDSA-P256-SHA256) signatures are not supported.',
      );
    }
    throw new S3Error(
      400,
      'InvalidArgument',
      `x-${signed.flavor.prefix}-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.`,
      { ArgumentName: `x-${signed.flavor.prefix}-content-sha256`, ArgumentValue: payloadHash },
    );
  }
  const lengthText =
    headerValue(headers, 'x-amz-decoded-content-length') ??
    headerValue(headers, 'x-goog-decoded-content-length');
  if (lengthText === undefined || !/^\d{1,15}$/.test(lengthText.trim())) {
    throw new S3Error(
      411,
      'MissingContentLength',
      'You must provide the Content-Length HTTP header (x-amz-decoded-content-length for aws-chunked bodies).',
    );
  }
  const decodedLength = Number(lengthText.trim());
  const trailer = unsignedTrailer || streaming?.[2] !== undefined;
  const announcedTrailer = headerValue(headers, 'x-amz-trailer')?.trim();
  const signing =
    streaming === null
      ? undefined
      : {
          signingKey: signed.signingKey,
          algorithm: signed.flavor.algorithm,
          amzDate: signed.amzDate,
          scope: signed.scope,
          seedSignature: signed.signature,
        };
  return {
    principal,
    decodedLength,
    decodeBody: (raw: Readable) =>
      frame(
        raw,
        new AwsChunkedDecoder({
          ...(signing === undefined ? {} : { signing }),
          trailer,
          decodedLength,
          ...(announcedTrailer === undefined || announcedTrailer === '' ? {} : { announcedTrailer }),
        }),
      ),
  };
}

// ---------------------------------------------------------------------------------------------
// SigV4 (header and presigned query)

interface Credential {
  accessId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
}

function parseCredential(text: string, flavor: V4Flavor, malformed: (m: string) => S3Error): Credential {
  const parts = text.split('/');
  const [accessId, date, region, service, terminator] = parts;
  if (
    parts.length !== 5 ||
    accessId === undefined ||
    accessId === '' ||
    date === undefined ||
    !/^\d{8}$/.test(date) ||
    region === undefined ||
    service === undefined ||
    terminator === undefined
  ) {
    throw malformed(
      `the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/${flavor.terminator}".`,
    );
  }
  if (terminator !== flavor.terminator) {
    throw malformed(`incorrect terminal "${terminator}". This endpoint uses "${flavor.terminator}".`);
  }
  return { accessId, date, region, service, terminator };
}

function verifyV4(
  flavor: V4Flavor,
  key: HmacKeySecret,
  credential: Credential,
  amzDate: string,
  parts: CanonicalRequestParts,
  provided: string,
): SignedContext {
  const scope = [credential.date, credential.region, credential.service, credential.terminator].join('/');
  const canonical = canonicalRequest(parts);
  const toSign = stringToSign(flavor.algorithm, amzDate, scope, canonical);
  const signingKey = deriveSigningKey(
    key.secret,
    credential.date,
    credential.region,
    credential.service,
    flavor.keyPrefix,
    flavor.terminator,
  );
  const sign = (text: string): string => createHmac('sha256', signingKey).update(text, 'utf8').digest('hex');
  const expected = sign(toSign);
  if (sameSignature(expected, provided.toLowerCase())) {
    return { flavor, signingKey, amzDate, scope, signature: expected };
  }
  // Some signers keep the path exactly as they sent it (e.g. `%7E` for `~`): accept that form too.
  const rawUri = parts.rawPath === '' ? '/' : parts.rawPath;
  if (rawUri !== canonicalUri(parts.rawPath)) {
    const alternative = sign(
      stringToSign(flavor.algorithm, amzDate, scope, canonicalRequest({ ...parts, uri: rawUri })),
    );
    if (sameSignature(alternative, provided.toLowerCase())) {
      return { flavor, signingKey, amzDate, scope, signature: alternative };
    }
  }
  throw signatureDoesNotMatch(key.accessId, toSign, provided, canonical);
}

function authenticateV4Header(
  flavor: V4Flavor,
  authorization: string,
  request: XmlRequestInfo,
  keys: HmacKeyResolver,
  now: number,
): XmlAuthOutcome {
  const fields = new Map<string, string>();
  for (const piece of authorization.slice(flavor.algorithm.length).split(',')) {
    const eq = piece.indexOf('=');
    if (eq > 0) {
      fields.set(piece.slice(0, eq).trim(), piece.slice(eq + 1).trim());
    }
  }
  const credentialText = fields.get('Credential');
  const signedHeadersText = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (credentialText === undefined || signedHeadersText === undefined || signature === undefined) {
    throw headerMalformed('it must contain Credential, SignedHeaders and Signature.');
  }
  const credential = parseCredential(credentialText, flavor, headerMalformed);
  const key = usableKey(keys, credential.accessId);
  const headers = request.headers;
  let amzDate = headerValue(headers, `x-${flavor.prefix}-date`)?.trim();
  let requestMs = amzDate === undefined ? undefined : parseAmzDate(amzDate);
  if (amzDate === undefined) {
    const date = headerValue(headers, 'date');
    const parsed = date === undefined ? Number.NaN : Date.parse(date);
    if (!Number.isNaN(parsed)) {
      requestMs = parsed;
      amzDate = amzDateOf(parsed);
    }
  }
  if (amzDate === undefined || requestMs === undefined) {
    throw new S3Error(
      403,
      'AccessDenied',
      `AWS authentication requires a valid Date or x-${flavor.prefix}-date header`,
    );
  }
  if (amzDate.slice(0, 8) !== credential.date) {
    throw headerMalformed(
      `Invalid credential date "${credential.date}". This date is not the same as X-${flavor.prefix === 'amz' ? 'Amz' : 'Goog'}-Date: "${amzDate.slice(0, 8)}".`,
    );
  }
  const payloadHeader = headerValue(headers, `x-${flavor.prefix}-content-sha256`)?.trim();
  if (payloadHeader === undefined && flavor === AWS4) {
    throw new S3Error(
      400,
      'InvalidRequest',
      'Missing required header for this request: x-amz-content-sha256',
    );
  }
  const payloadHash = payloadHeader ?? 'UNSIGNED-PAYLOAD';
  const signed = verifyV4(
    flavor,
    key,
    credential,
    amzDate,
    {
      method: request.method,
      rawPath: request.rawPath,
      query: parseRawQuery(request.rawQuery),
      headers,
      signedHeaders: signedHeadersText.split(';').map((h) => h.trim().toLowerCase()),
      payloadHash,
    },
    signature,
  );
  checkSkew(requestMs, now);
  return payloadOutcome(principalOf(key), payloadHash, headers, signed);
}

function queryLookup(params: [string, string][]): (name: string) => string | undefined {
  const map = new Map<string, string>();
  for (const [name, value] of params) {
    map.set(name.toLowerCase(), value);
  }
  return (name) => map.get(name.toLowerCase());
}

function authenticateV4Query(
  flavor: V4Flavor,
  params: [string, string][],
  request: XmlRequestInfo,
  keys: HmacKeyResolver,
  now: number,
): XmlAuthOutcome {
  const get = queryLookup(params);
  const p = flavor.prefix === 'amz' ? 'X-Amz' : 'X-Goog';
  const credentialText = get(`${p}-Credential`);
  const amzDate = get(`${p}-Date`);
  const expiresText = get(`${p}-Expires`);
  const signedHeadersText = get(`${p}-SignedHeaders`);
  const signature = get(`${p}-Signature`);
  if (
    credentialText === undefined ||
    amzDate === undefined ||
    expiresText === undefined ||
    signedHeadersText === undefined ||
    signature === undefined
  ) {
    throw queryMalformed(
      `Query-string authentication version 4 requires the ${p}-Algorithm, ${p}-Credential, ${p}-Signature, ${p}-Date, ${p}-SignedHeaders, and ${p}-Expires parameters.`,
    );
  }
  const credential = parseCredential(credentialText, flavor, (m) =>
    queryMalformed(`Error parsing the ${p}-Credential parameter; ${m}`),
  );
  const requestMs = parseAmzDate(amzDate);
  if (requestMs === undefined) {
    throw queryMalformed(`${p}-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  }
  if (!/^\d{1,10}$/.test(expiresText)) {
    throw queryMalformed(`${p}-Expires should be a number`);
  }
  const expires = Number(expiresText);
  if (expires < 1) {
    throw queryMalformed(`${p}-Expires must be non-negative`);
  }
  if (expires > MAX_PRESIGN_SECONDS) {
    throw queryMalformed(`${p}-Expires must be less than a week (in seconds) that is; 604800 seconds`);
  }
  if (amzDate.slice(0, 8) !== credential.date) {
    throw queryMalformed(
      `Invalid credential date "${credential.date}". This date is not the same as ${p}-Date: "${amzDate.slice(0, 8)}".`,
    );
  }
  const key = usableKey(keys, credential.accessId);
  // Some signers hoist the payload hash into the query; otherwise the header, else UNSIGNED-PAYLOAD.
  const payloadHash =
    get(`${p}-Content-Sha256`) ??
    headerValue(request.headers, `x-${flavor.prefix}-content-sha256`)?.trim() ??
    'UNSIGNED-PAYLOAD';
  if (payloadHash.startsWith('STREAMING-')) {
    throw new S3Error(400, 'InvalidRequest', 'Streaming payloads cannot be used with presigned URLs.');
  }
  const signed = verifyV4(
    flavor,
    key,
    credential,
    amzDate,
    {
      method: request.method,
      rawPath: request.rawPath,
      query: params,
      excludeQuery: params.find(([name]) => name.toLowerCase() === `${p}-signature`.toLowerCase())?.[0],
      headers: request.headers,
      signedHeaders: signedHeadersText.split(';').map((h) => h.trim().toLowerCase()),
      payloadHash,
    },
    signature,
  );
  if (requestMs - now > MAX_SKEW_MS) {
    throw new S3Error(403, 'AccessDenied', 'Request is not valid yet', {
      [`${p}-Date`]: amzDate,
      ServerTime: new Date(now).toISOString(),
    });
  }
  if (now > requestMs + expires * 1000) {
    throw new S3Error(403, 'AccessDenied', 'Request has expired', {
      [`${p}-Expires`]: expiresText,
      Expires: new Date(requestMs + expires * 1000).toISOString(),
      ServerTime: new Date(now).toISOString(),
    });
  }
  return payloadOutcome(principalOf(key), payloadHash, request.headers, signed);
}

// ---------------------------------------------------------------------------------------------
// V2 (HMAC-SHA1)

/** Sub-resources that are part of the V2 canonical resource (S3's list and Cloud Storage's). */
const V2_SUBRESOURCES = new Set([
  'accelerate',
  'acl',
  'billing',
  'compose',
  'cors',
  'defaultObjectAcl',
  'delete',
  'encryption',
  'encryptionConfig',
  'lifecycle',
  'location',
  'logging',
  'notification',
  'partNumber',
  'policy',
  'requestPayment',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
  'restore',
  'storageClass',
  'tagging',
  'torrent',
  'uploadId',
  'uploads',
  'userProject',
  'versionId',
  'versioning',
  'versions',
  'website',
  'websiteConfig',
]);

export interface V2Parts {
  method: string;
  headers: IncomingHttpHeaders;
  /** `x-amz-` or `x-goog-`. */
  headerPrefix: string;
  /** Date line: the Date header, '' when x-amz-date/x-goog-date is used, Expires for query auth. */
  date: string;
  resourcePath: string;
  query: [string, string][];
}

/** The V2 string to sign (S3 "REST authentication", Cloud Storage V2 signatures). */
export function v2StringToSign(parts: V2Parts): string {
  const extension = new Map<string, string[]>();
  for (const [name, value] of Object.entries(parts.headers)) {
    const lower = name.toLowerCase();
    if (lower.startsWith(parts.headerPrefix) && value !== undefined) {
      const values = Array.isArray(value) ? value : [value];
      extension.set(lower, [...(extension.get(lower) ?? []), ...values.map((v) => v.trim())]);
    }
  }
  const extensionLines = [...extension.keys()]
    .sort()
    .map((name) => `${name}:${(extension.get(name) ?? []).join(',')}\n`)
    .join('');
  const sub = parts.query
    .filter(([name]) => V2_SUBRESOURCES.has(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, value]) => (value === '' ? name : `${name}=${value}`));
  const resource = parts.resourcePath + (sub.length > 0 ? `?${sub.join('&')}` : '');
  return (
    [
      parts.method,
      headerValue(parts.headers, 'content-md5')?.trim() ?? '',
      headerValue(parts.headers, 'content-type')?.trim() ?? '',
      parts.date,
    ].join('\n') + `\n${extensionLines}${resource}`
  );
}

function v2Signature(secret: string, toSign: string): string {
  return createHmac('sha1', secret).update(toSign, 'utf8').digest('base64');
}

/** Resource paths a V2 signer may have used: as received, and with the bucket (virtual-hosted). */
function v2ResourcePaths(request: XmlRequestInfo): string[] {
  const path = request.rawPath === '' ? '/' : request.rawPath;
  const paths = [path];
  if (request.bucket !== undefined && request.bucket !== '') {
    const withBucket = `/${request.bucket}${path}`;
    if (!paths.includes(withBucket)) {
      paths.push(withBucket);
    }
  }
  return paths;
}

function verifyV2(
  request: XmlRequestInfo,
  key: HmacKeySecret,
  headerPrefix: string,
  date: string,
  query: [string, string][],
  provided: string,
): void {
  let firstToSign = '';
  for (const resourcePath of v2ResourcePaths(request)) {
    const toSign = v2StringToSign({
      method: request.method,
      headers: request.headers,
      headerPrefix,
      date,
      resourcePath,
      query,
    });
    firstToSign ||= toSign;
    if (sameSignature(v2Signature(key.secret, toSign), provided)) {
      return;
    }
  }
  throw signatureDoesNotMatch(key.accessId, firstToSign, provided);
}

function authenticateV2Header(
  scheme: string,
  accessId: string,
  provided: string,
  request: XmlRequestInfo,
  keys: HmacKeyResolver,
  now: number,
): XmlAuthOutcome {
  const key = usableKey(keys, accessId);
  const headerPrefix = scheme === 'GOOG1' ? 'x-goog-' : 'x-amz-';
  const extDate = headerValue(request.headers, `${headerPrefix}date`);
  const date = headerValue(request.headers, 'date');
  const requestMs = Date.parse(extDate ?? date ?? '');
  if (Number.isNaN(requestMs)) {
    throw new S3Error(403, 'AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  }
  verifyV2(
    request,
    key,
    headerPrefix,
    extDate === undefined ? (date ?? '').trim() : '',
    parseRawQuery(request.rawQuery),
    provided,
  );
  checkSkew(requestMs, now);
  return { principal: principalOf(key) };
}

function authenticateV2Query(
  params: [string, string][],
  request: XmlRequestInfo,
  keys: HmacKeyResolver,
  now: number,
): XmlAuthOutcome {
  const get = queryLookup(params);
  const accessId = get('AWSAccessKeyId') ?? '';
  const expiresText = get('Expires') ?? '';
  const signature = get('Signature') ?? '';
  if (!/^\d{1,12}$/.test(expiresText)) {
    throw new S3Error(
      403,
      'AccessDenied',
      'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters',
    );
  }
  const key = usableKey(keys, accessId);
  verifyV2(request, key, 'x-amz-', expiresText, params, signature);
  if (now > Number(expiresText) * 1000) {
    throw new S3Error(403, 'AccessDenied', 'Request has expired', {
      Expires: new Date(Number(expiresText) * 1000).toISOString(),
      ServerTime: new Date(now).toISOString(),
    });
  }
  return { principal: principalOf(key) };
}

// ---------------------------------------------------------------------------------------------

export function createHmacAuthenticator(platform: Platform, keys: HmacKeyResolver): XmlAuthenticator {
  return {
    authenticate(request) {
      try {
        return Promise.resolve(authenticateSync(request, keys, platform.clock.now()));
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
    },
  };
}

function authenticateSync(
  request: XmlRequestInfo,
  keys: HmacKeyResolver,
  now: number,
): XmlAuthOutcome | undefined {
  const authorization = headerValue(request.headers, 'authorization')?.trim();
  if (authorization !== undefined) {
    for (const flavor of [AWS4, GOOG4]) {
      if (authorization === flavor.algorithm || authorization.startsWith(`${flavor.algorithm} `)) {
        return authenticateV4Header(flavor, authorization, request, keys, now);
      }
    }
    const v2 = /^(AWS|GOOG1) ([^:\s]*):(\S*)$/.exec(authorization);
    if (v2 !== null) {
      return authenticateV2Header(v2[1] ?? '', v2[2] ?? '', v2[3] ?? '', request, keys, now);
    }
  }
  if (request.rawQuery === '') {
    return undefined;
  }
  const params = parseRawQuery(request.rawQuery);
  const get = queryLookup(params);
  const amzAlgorithm = get('X-Amz-Algorithm');
  if (amzAlgorithm !== undefined) {
    if (amzAlgorithm !== AWS4.algorithm) {
      throw queryMalformed('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
    }
    return authenticateV4Query(AWS4, params, request, keys, now);
  }
  if (get('X-Goog-Algorithm') === GOOG4.algorithm) {
    return authenticateV4Query(GOOG4, params, request, keys, now);
  }
  if (get('AWSAccessKeyId') !== undefined && get('Signature') !== undefined) {
    return authenticateV2Query(params, request, keys, now);
  }
  return undefined;
}
