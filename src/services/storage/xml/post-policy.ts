import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import busboy from 'busboy';
import type { AccessControl, Principal } from '../../../core/auth.ts';
import type { Clock } from '../../../core/clock.ts';
import type { HmacKeyResolver } from '../hmac-keys.ts';
import type { ObjectMetadataInput, ObjectsService } from '../objects.ts';
import type { BucketsService } from '../service.ts';
import { S3Error } from './errors.ts';
import {
  parseV4Credential,
  resolveV4Signer,
  serviceAccountPrincipal,
  verifyRsaSha256,
  type ServiceAccountKeySource,
} from './signed-urls.ts';
import { objectContext } from '../access-context.ts';

/**
 * POST policy form uploads (`POST /BUCKET`, `multipart/form-data`): the browser-upload flow of
 * Cloud Storage's XML API. The form carries a base64 JSON policy (expiration + conditions) signed
 * with V4 (`x-goog-algorithm`/`x-goog-credential`/`x-goog-date`/`x-goog-signature`, RSA or HMAC)
 * or V2 (`GoogleAccessId` + `signature`); the file part must come after the fields (later fields
 * are ignored, as on Google and S3). Framework-neutral: the XML face hands in the raw body.
 */

export interface PostPolicyDeps {
  objects: Pick<ObjectsService, 'insertObject'>;
  buckets: Pick<BucketsService, 'getBucket'>;
  access: Pick<AccessControl, 'authorize'>;
  clock: Clock;
  hmacKeys: HmacKeyResolver;
  serviceAccountKeys: ServiceAccountKeySource;
  /** Who an unsigned form (no policy) uploads as. */
  anonymousPrincipal(): Principal;
}

export interface PostPolicyRequest {
  bucket: string;
  headers: IncomingHttpHeaders;
  body: Readable;
  /** The URL the form was posted to (for the 201 response's Location), e.g. `http://host/bucket`. */
  url?: string;
}

export interface PostPolicyResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type PolicyCondition =
  | { kind: 'eq'; field: string; value: string }
  | { kind: 'starts-with'; field: string; value: string }
  | { kind: 'content-length-range'; min: number; max: number };

export interface PostPolicy {
  expiration: number;
  conditions: PolicyCondition[];
}

/** Fields that need no condition of their own. */
const EXEMPT_FIELDS = new Set([
  'file',
  'policy',
  'x-goog-signature',
  'x-amz-signature',
  'signature',
  'googleaccessid',
]);
const MAX_FIELD_BYTES = 64 * 1024;
const MAX_FIELDS = 100;

function policyError(message: string): S3Error {
  return new S3Error(403, 'AccessDenied', `Invalid according to Policy: ${message}`);
}

function invalidPolicy(message: string): S3Error {
  return new S3Error(400, 'InvalidPolicyDocument', `Invalid Policy: ${message}`);
}

/** JSON with every non-ASCII character escaped (`\u00e9`), as Google's clients encode policies. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The base64 policy a client signs for `{conditions, expiration}`. */
export function encodePostPolicy(policy: { conditions: unknown[]; expiration: string }): string {
  return Buffer.from(
    asciiJson({ conditions: policy.conditions, expiration: policy.expiration }),
    'utf8',
  ).toString('base64');
}

function fieldName(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') {
    throw invalidPolicy('a condition names no field.');
  }
  return (raw.startsWith('$') ? raw.slice(1) : raw).toLowerCase();
}

function conditionValue(raw: unknown): string {
  if (typeof raw === 'string') {
    return raw;
  }
  if (typeof raw === 'number' || typeof raw === 'boolean') {
    return String(raw);
  }
  throw invalidPolicy('a condition value is not a string.');
}

/** Parses a base64 policy document; 400 InvalidPolicyDocument when it is not one. */
export function parsePostPolicy(base64: string): PostPolicy {
  let document: unknown;
  try {
    document = JSON.parse(Buffer.from(base64, 'base64').toString('utf8'));
  } catch {
    throw invalidPolicy('the policy is not base64-encoded JSON.');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw invalidPolicy('the policy is not a JSON object.');
  }
  const { expiration, conditions } = document as { expiration?: unknown; conditions?: unknown };
  const expiresAt = typeof expiration === 'string' ? Date.parse(expiration) : Number.NaN;
  if (Number.isNaN(expiresAt)) {
    throw invalidPolicy('expiration is missing or not a date.');
  }
  if (!Array.isArray(conditions)) {
    throw invalidPolicy('conditions is missing or not a list.');
  }
  const parsed: PolicyCondition[] = [];
  for (const condition of conditions as unknown[]) {
    if (Array.isArray(condition)) {
      const [operator, first, second] = condition as unknown[];
      const op = typeof operator === 'string' ? operator.toLowerCase() : '';
      if (op === 'content-length-range') {
        const min = Number(first);
        const max = Number(second);
        if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 0 || max < min) {
          throw invalidPolicy('content-length-range needs two integers, min <= max.');
        }
        parsed.push({ kind: 'content-length-range', min, max });
      } else if (op === 'eq' || op === 'starts-with') {
        if (condition.length !== 3) {
          throw invalidPolicy(`${op} needs a field and a value.`);
        }
        parsed.push({ kind: op, field: fieldName(first), value: conditionValue(second) });
      } else {
        throw invalidPolicy(`unknown condition operator ${String(operator)}.`);
      }
    } else if (typeof condition === 'object' && condition !== null) {
      const entries = Object.entries(condition as Record<string, unknown>);
      if (entries.length !== 1) {
        throw invalidPolicy('an exact-match condition names exactly one field.');
      }
      const [name, value] = entries[0] ?? ['', ''];
      parsed.push({ kind: 'eq', field: fieldName(name), value: conditionValue(value) });
    } else {
      throw invalidPolicy('a condition is neither an object nor a list.');
    }
  }
  return { expiration: expiresAt, conditions: parsed };
}

/**
 * Checks the form fields against the policy (everything but the file size). `fields` has lower-case
 * names and includes `bucket`. The key may be checked before or after `${filename}` substitution.
 * Returns the content-length range the file must fall in.
 */
export function checkPolicyFields(
  policy: PostPolicy,
  fields: ReadonlyMap<string, string>,
  now: number,
  alternatives: ReadonlyMap<string, string> = new Map(),
): { min: number; max: number } {
  if (now >= policy.expiration) {
    throw policyError('Policy expired.');
  }
  const covered = new Set<string>();
  let range = { min: 0, max: Number.MAX_SAFE_INTEGER };
  for (const condition of policy.conditions) {
    if (condition.kind === 'content-length-range') {
      range = { min: Math.max(range.min, condition.min), max: Math.min(range.max, condition.max) };
      continue;
    }
    covered.add(condition.field);
    const values = [fields.get(condition.field) ?? '', alternatives.get(condition.field)].filter(
      (value): value is string => value !== undefined,
    );
    const holds = values.some((value) =>
      condition.kind === 'eq' ? value === condition.value : value.startsWith(condition.value),
    );
    if (!holds) {
      throw policyError(
        `Policy Condition failed: ["${condition.kind}", "$${condition.field}", ${JSON.stringify(condition.value)}]`,
      );
    }
  }
  for (const name of fields.keys()) {
    if (!EXEMPT_FIELDS.has(name) && !name.startsWith('x-ignore-') && !covered.has(name)) {
      throw policyError(`Extra input fields: ${name}`);
    }
  }
  return range;
}

/** Verifies the form's signature over the base64 policy; returns the signer. */
export function verifyPolicySignature(
  fields: ReadonlyMap<string, string>,
  hmacKeys: HmacKeyResolver,
  serviceAccountKeys: ServiceAccountKeySource,
): Principal {
  const policy = fields.get('policy') ?? '';
  const algorithm = fields.get('x-goog-algorithm') ?? fields.get('x-amz-algorithm');
  if (algorithm !== undefined) {
    const credentialText = fields.get('x-goog-credential') ?? fields.get('x-amz-credential') ?? '';
    const signature = fields.get('x-goog-signature') ?? fields.get('x-amz-signature') ?? '';
    const credential = parseV4Credential(credentialText);
    if (credential === undefined) {
      throw new S3Error(400, 'InvalidArgument', `Invalid credential: ${credentialText}`);
    }
    const signer = resolveV4Signer(algorithm, credential, signature, serviceAccountKeys, hmacKeys);
    if (!signer.verifies(policy)) {
      throw signatureMismatch(policy);
    }
    return signer.principal;
  }
  const accessId = fields.get('googleaccessid') ?? '';
  const signatureText = fields.get('signature') ?? '';
  if (accessId === '' || signatureText === '') {
    throw new S3Error(
      400,
      'InvalidArgument',
      'A policy needs x-goog-signature (V4) or GoogleAccessId and signature (V2).',
    );
  }
  const signature = Buffer.from(signatureText, 'base64');
  const hmacKey = accessId.includes('@') ? undefined : hmacKeys.resolve(accessId);
  if (hmacKey !== undefined) {
    const expected = createHmac('sha1', hmacKey.secret).update(policy).digest();
    if (
      hmacKey.state !== 'ACTIVE' ||
      expected.length !== signature.length ||
      !timingSafeEqual(expected, signature)
    ) {
      throw signatureMismatch(policy);
    }
    return serviceAccountPrincipal(hmacKey.serviceAccountEmail);
  }
  const key = serviceAccountKeys
    .activeKeys(accessId)
    .find((candidate) => verifyRsaSha256(candidate.publicKeyPem, policy, signature));
  if (key === undefined) {
    throw signatureMismatch(policy);
  }
  return serviceAccountPrincipal(accessId, key.keyId);
}

function signatureMismatch(policy: string): S3Error {
  return new S3Error(
    403,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your Google secret key and signing method.',
    { StringToSign: policy },
  );
}

/** Counts the file's bytes through and enforces the content-length range. */
function lengthLimit(range: { min: number; max: number }): Transform {
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > range.max) {
        callback(
          new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.', {
            MaxSizeAllowed: String(range.max),
          }),
        );
        return;
      }
      callback(null, chunk);
    },
    flush(callback) {
      callback(
        size < range.min
          ? new S3Error(
              400,
              'EntityTooSmall',
              'Your proposed upload is smaller than the minimum allowed size.',
              {
                MinSizeAllowed: String(range.min),
              },
            )
          : null,
      );
    },
  });
}

function metadataFromFields(
  fields: ReadonlyMap<string, string>,
  fileContentType: string | undefined,
): ObjectMetadataInput {
  const metadata: ObjectMetadataInput = {};
  const contentType = fields.get('content-type') ?? fileContentType;
  if (contentType !== undefined && contentType !== '') {
    metadata.contentType = contentType;
  }
  const simple: [string, 'cacheControl' | 'contentDisposition' | 'contentEncoding' | 'contentLanguage'][] = [
    ['cache-control', 'cacheControl'],
    ['content-disposition', 'contentDisposition'],
    ['content-encoding', 'contentEncoding'],
    ['content-language', 'contentLanguage'],
  ];
  for (const [field, property] of simple) {
    const value = fields.get(field);
    if (value !== undefined) {
      metadata[property] = value;
    }
  }
  const custom: Record<string, string> = {};
  for (const [name, value] of fields) {
    const match = /^x-(?:goog|amz)-meta-(.+)$/.exec(name);
    if (match?.[1] !== undefined) {
      custom[match[1]] = value;
    }
  }
  if (Object.keys(custom).length > 0) {
    metadata.metadata = custom;
  }
  return metadata;
}

function xmlEscape(value: string): string {
  return value.replace(/[<>&'"]/g, (ch) => `&#${String(ch.charCodeAt(0))};`);
}

interface FilePart {
  stream: Readable;
  filename: string;
  mimeType: string;
}

/** Reads fields up to the file part; resolves with the fields and the (unconsumed) file stream. */
function readForm(
  request: PostPolicyRequest,
): Promise<{ fields: Map<string, string>; file?: FilePart; done: Promise<void> }> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: request.headers,
        defParamCharset: 'utf8',
        limits: { fieldSize: MAX_FIELD_BYTES, fields: MAX_FIELDS, files: 1, parts: MAX_FIELDS + 1 },
      });
    } catch (error) {
      reject(
        new S3Error(
          400,
          'InvalidArgument',
          `POST requires a multipart/form-data body: ${(error as Error).message}`,
        ),
      );
      return;
    }
    const fields = new Map<string, string>();
    let fileSeen = false;
    let settled = false;
    const done = new Promise<void>((finish) => {
      parser.on('close', finish);
      parser.on('error', () => {
        finish();
      });
    });
    parser.on('field', (name, value, info) => {
      if (fileSeen) {
        return;
      }
      if (info.valueTruncated) {
        settled = true;
        reject(new S3Error(400, 'InvalidArgument', `Form field ${name} is too large.`));
        return;
      }
      fields.set(name.toLowerCase(), value);
    });
    parser.on('file', (_name, stream, info) => {
      if (fileSeen || settled) {
        stream.resume();
        return;
      }
      fileSeen = true;
      settled = true;
      resolve({ fields, file: { stream, filename: info.filename ?? '', mimeType: info.mimeType }, done });
    });
    parser.on('error', (error: Error) => {
      if (!settled) {
        settled = true;
        reject(
          new S3Error(
            400,
            'MalformedPOSTRequest',
            `The body of your POST request is not well-formed multipart/form-data: ${error.message}`,
          ),
        );
      }
    });
    parser.on('close', () => {
      if (!settled) {
        settled = true;
        resolve({ fields, done });
      }
    });
    request.body.on('error', (error) => parser.destroy(error));
    request.body.pipe(parser);
  });
}

/**
 * Handles one POST policy upload: parses the form, verifies the policy's signature, expiry and
 * conditions, authorizes the signer for `storage.objects.create`, and stores the file through
 * ObjectsService. Throws S3Errors (and the storage services' ApiErrors, e.g. a missing bucket).
 */
export async function handlePostPolicyUpload(
  request: PostPolicyRequest,
  deps: PostPolicyDeps,
): Promise<PostPolicyResponse> {
  const form = await readForm(request);
  const { fields, file } = form;
  try {
    if (file === undefined) {
      throw new S3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.', {
        ArgumentName: 'file',
      });
    }
    const formBucket = fields.get('bucket');
    if (formBucket !== undefined && formBucket !== request.bucket) {
      throw new S3Error(400, 'InvalidArgument', 'The bucket field does not name the bucket posted to.', {
        ArgumentName: 'bucket',
      });
    }
    const rawKey = fields.get('key');
    if (rawKey === undefined || rawKey === '') {
      throw new S3Error(400, 'InvalidArgument', 'Bucket POST must contain a field named key.', {
        ArgumentName: 'key',
      });
    }
    const key = rawKey.replaceAll('${filename}', file.filename);
    const checked = new Map(fields);
    checked.set('bucket', request.bucket);

    let principal: Principal;
    let range = { min: 0, max: Number.MAX_SAFE_INTEGER };
    if (fields.has('policy')) {
      principal = verifyPolicySignature(fields, deps.hmacKeys, deps.serviceAccountKeys);
      const policy = parsePostPolicy(fields.get('policy') ?? '');
      range = checkPolicyFields(policy, checked, deps.clock.now(), new Map([['key', key]]));
    } else {
      if (fields.has('x-goog-signature') || fields.has('signature')) {
        throw new S3Error(400, 'InvalidArgument', 'A signed form must carry its policy.', {
          ArgumentName: 'policy',
        });
      }
      principal = deps.anonymousPrincipal();
    }

    const bucket = deps.buckets.getBucket(request.bucket);
    deps.access.authorize(
      principal,
      'storage.objects.create',
      `projects/${bucket.projectId}/buckets/${bucket.name}`,
      objectContext(bucket.name, key),
    );

    // The file part's errors (a truncated or malformed body) end the upload as a 400, not a hang.
    const limiter = lengthLimit(range);
    file.stream.on('error', (error: Error) => {
      limiter.destroy(
        new S3Error(
          400,
          'MalformedPOSTRequest',
          `The body of your POST request is not well-formed multipart/form-data: ${error.message}`,
        ),
      );
    });
    const record = await deps.objects.insertObject({
      bucket: request.bucket,
      name: key,
      metadata: metadataFromFields(
        fields,
        file.mimeType === 'application/octet-stream' ? undefined : file.mimeType,
      ),
      source: file.stream.pipe(limiter),
    });
    file.stream.resume();
    await form.done;

    const etag = `"${Buffer.from(record.md5Hash, 'base64').toString('hex')}"`;
    const redirect = fields.get('success_action_redirect') ?? fields.get('redirect');
    if (redirect !== undefined && /^https?:\/\//i.test(redirect)) {
      const target = new URL(redirect);
      target.searchParams.set('bucket', record.bucket);
      target.searchParams.set('key', record.name);
      target.searchParams.set('etag', etag);
      return { status: 303, headers: { location: target.toString(), etag }, body: '' };
    }
    const status = fields.get('success_action_status');
    if (status === '200') {
      return { status: 200, headers: { etag }, body: '' };
    }
    if (status === '201') {
      const location = `${(request.url ?? `/${record.bucket}`).replace(/\/$/, '')}/${encodeURIComponent(record.name)}`;
      const body =
        '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>' +
        `<Location>${xmlEscape(location)}</Location><Bucket>${xmlEscape(record.bucket)}</Bucket>` +
        `<Key>${xmlEscape(record.name)}</Key><ETag>${xmlEscape(etag)}</ETag></PostResponse>`;
      return {
        status: 201,
        headers: { etag, location, 'content-type': 'application/xml; charset=UTF-8' },
        body,
      };
    }
    return { status: 204, headers: { etag }, body: '' };
  } catch (error) {
    file?.stream.resume();
    throw error;
  }
}
