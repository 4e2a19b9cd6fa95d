import { ApiError } from '../../../core/errors.ts';
import type { FastifyReply } from 'fastify';
import { decodePageToken, encodePageToken } from '../../../core/paging.ts';
import type { CorsRule } from '../cors.ts';
import type { LifecycleInput } from '../lifecycle.ts';
import { objectKey, type ObjectRecord } from '../object-store.ts';
import { bucketPolicyResource, syncPublicAccessPolicy } from '../public-access.ts';
import { bucketResource } from '../routes.ts';
import {
  intQuery,
  isoTime,
  loadBucket,
  readSmallBody,
  s3Etag,
  s3StorageClass,
  sendXml,
  storageClassOf,
  header,
  type S3Call,
  type XmlFace,
} from './common.ts';
import { S3Error } from './errors.ts';
import {
  childNamed,
  childrenNamed,
  childText,
  malformedXml,
  parseXmlDocument,
  type XmlElement,
  type XmlNode,
} from './xml.ts';

const CONFIG_LIMIT = 1024 * 1024;

/** The project of ListBuckets / CreateBucket: `x-goog-project-id`, or the default project. */
function projectOf(face: XmlFace, call: S3Call) {
  const id = header(call.request.headers, 'x-goog-project-id') ?? face.platform.config.defaultProject;
  try {
    return face.platform.projects.require(id);
  } catch (error) {
    if (error instanceof ApiError && (error.httpStatus === 404 || error.httpStatus === 403)) {
      throw new S3Error(400, 'InvalidArgument', `Unknown project id '${id}'.`, {
        ArgumentName: 'x-goog-project-id',
      });
    }
    throw error;
  }
}

function owner(projectNumber: string): XmlNode {
  return [
    'Owner',
    [
      ['ID', `project-owners-${projectNumber}`],
      ['DisplayName', `project-owners-${projectNumber}`],
    ],
  ];
}

/** GET / : ListBuckets (the project: `x-goog-project-id`, or the default project). */
export function listBuckets(face: XmlFace, call: S3Call): FastifyReply {
  const project = projectOf(face, call);
  face.platform.access.authorize(call.principal, 'storage.buckets.list', `projects/${project.projectId}`);
  const prefix = call.query.get('prefix') ?? undefined;
  const maxBuckets = intQuery(call.query, 'max-buckets', 10_000, 1, 10_000);
  const names: { name: string; created: string; location: string }[] = [];
  let pageToken = call.query.get('continuation-token') ?? undefined;
  let next: string | undefined;
  for (;;) {
    const page = face.buckets.listBuckets(project.projectId, { maxResults: 1000, pageToken, prefix });
    for (const bucket of page.items) {
      if (names.length >= maxBuckets) {
        next = encodePageToken(names[names.length - 1]?.name ?? '');
        break;
      }
      names.push({ name: bucket.name, created: bucket.timeCreated, location: bucket.location });
    }
    if (next !== undefined || page.nextPageToken === undefined) {
      break;
    }
    pageToken = page.nextPageToken;
  }
  return sendXml(call.reply, [
    'ListAllMyBucketsResult',
    [
      owner(project.projectNumber),
      [
        'Buckets',
        names.map((bucket): XmlNode => [
          'Bucket',
          [
            ['Name', bucket.name],
            ['CreationDate', isoTime(bucket.created)],
            ['BucketRegion', bucket.location.toLowerCase()],
          ],
        ]),
      ],
      next === undefined ? undefined : ['ContinuationToken', next],
      prefix === undefined ? undefined : ['Prefix', prefix],
    ],
  ]);
}

async function optionalDocument(call: S3Call, root: string): Promise<XmlElement | undefined> {
  const body = await readSmallBody(call.body, CONFIG_LIMIT);
  return body.toString('utf8').trim() === '' ? undefined : parseXmlDocument(body, root);
}

async function requiredDocument(call: S3Call, root: string): Promise<XmlElement> {
  const document = await optionalDocument(call, root);
  if (document === undefined) {
    throw malformedXml();
  }
  return document;
}

/** PUT /BUCKET : CreateBucket (LocationConstraint and Google's StorageClass from the body). */
export async function createBucket(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const project = projectOf(face, call);
  face.platform.access.authorize(call.principal, 'storage.buckets.create', `projects/${project.projectId}`);
  const config = await optionalDocument(call, 'CreateBucketConfiguration');
  const location = config === undefined ? undefined : childText(config, 'LocationConstraint');
  const storageClass =
    (config === undefined ? undefined : childText(config, 'StorageClass')) ??
    storageClassOf(call.request.headers);
  face.buckets.insertBucket(
    {
      name: call.bucket,
      project,
      location: location === '' ? undefined : location,
      storageClass,
    },
    (existing) =>
      face.platform.access.permitted(call.principal, ['storage.buckets.get'], bucketResource(existing))
        .length > 0,
  );
  return call.reply.header('location', `/${call.bucket}`).code(200).send();
}

/** DELETE /BUCKET : DeleteBucket (404 NoSuchBucket, 409 BucketNotEmpty). */
export function deleteBucket(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.delete');
  if (face.uploads.listUploads(bucket.name, '', '', '', 1).length > 0) {
    throw new S3Error(
      409,
      'BucketNotEmpty',
      'The bucket you tried to delete has multipart uploads in progress.',
      {
        BucketName: bucket.name,
      },
    );
  }
  face.buckets.deleteBucket(bucket.name, {}, (name) => face.objects.objectCount(name));
  face.platform.policies.dropPolicy(bucketPolicyResource(bucket));
  syncPublicAccessPolicy(face.platform, bucket, true);
  return call.reply.code(204).send();
}

/** HEAD /BUCKET */
export function headBucket(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.get');
  return call.reply.header('x-amz-bucket-region', bucket.location.toLowerCase()).code(200).send();
}

/** GET /BUCKET?location */
export function getBucketLocation(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.get');
  return sendXml(call.reply, ['LocationConstraint', bucket.location]);
}

/**
 * Whether the caller speaks Google's XML API rather than S3 (gsutil/boto sign with `GOOG1` or
 * `GOOG4-HMAC-SHA256` and send `x-goog-api-version`): where the two differ, such a caller gets
 * Google's answer (e.g. an empty `<CorsConfig/>` instead of S3's 404 NoSuchCORSConfiguration).
 */
function googleClient(call: S3Call): boolean {
  const authorization = call.request.headers.authorization ?? '';
  return /^GOOG/.test(authorization) || call.request.headers['x-goog-api-version'] !== undefined;
}

const GOOGLE_EMPTY_ELEMENTS: Record<string, string> = {
  encryptionConfig: 'EncryptionConfiguration',
  websiteConfig: 'WebsiteConfiguration',
  billing: 'BillingConfiguration',
  logging: 'Logging',
};

/** GET /BUCKET?encryptionConfig|websiteConfig|billing|logging (Google's XML API): none configured. */
export function getGoogleEmptyConfig(face: XmlFace, call: S3Call, subresource: string): FastifyReply {
  loadBucket(face, call, 'storage.buckets.get');
  return sendXml(call.reply, [GOOGLE_EMPTY_ELEMENTS[subresource] ?? 'Configuration', []]);
}

/** GET /BUCKET?tagging: the bucket's labels as a tag set (S3: 404 NoSuchTagSet when there are none). */
export function getBucketTagging(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.get');
  const labels = Object.entries(bucket.labels ?? {});
  if (labels.length === 0 && !googleClient(call)) {
    throw new S3Error(404, 'NoSuchTagSet', 'The TagSet does not exist', { BucketName: bucket.name });
  }
  return sendXml(call.reply, [
    'Tagging',
    [
      [
        'TagSet',
        labels.map(([key, value]): XmlNode => [
          'Tag',
          [
            ['Key', key],
            ['Value', value],
          ],
        ]),
      ],
    ],
  ]);
}

/** GET /BUCKET?storageClass (Google's XML API): the bucket's default storage class. */
export function getBucketStorageClass(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.get');
  return sendXml(call.reply, ['StorageClass', bucket.storageClass]);
}

/** PUT /BUCKET?storageClass with `<StorageClass>NEARLINE</StorageClass>` (Google's XML API). */
export async function putBucketStorageClass(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.buckets.update');
  const document = await requiredDocument(call, 'StorageClass');
  const storageClass = document.text.trim();
  if (storageClass === '') {
    throw malformedXml();
  }
  face.buckets.patchBucket(bucket.name, { storageClass });
  return call.reply.code(200).send();
}

/** GET /BUCKET?versioning: no Status until versioning was ever set (as S3). */
export function getBucketVersioning(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.get');
  const status =
    bucket.versioningEnabled === undefined ? undefined : bucket.versioningEnabled ? 'Enabled' : 'Suspended';
  return sendXml(call.reply, [
    'VersioningConfiguration',
    [status === undefined ? undefined : ['Status', status]],
  ]);
}

/** PUT /BUCKET?versioning */
export async function putBucketVersioning(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.buckets.update');
  const document = await requiredDocument(call, 'VersioningConfiguration');
  const status = childText(document, 'Status');
  if (status !== 'Enabled' && status !== 'Suspended') {
    throw malformedXml();
  }
  face.buckets.patchBucket(bucket.name, { versioningEnabled: status === 'Enabled' });
  return call.reply.code(200).send();
}

/** GET /BUCKET?cors: the bucket's `cors` field as S3 CORS rules. */
export function getBucketCors(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.get');
  if (bucket.cors === undefined || bucket.cors.length === 0) {
    if (googleClient(call)) {
      return sendXml(call.reply, ['CorsConfig', []]);
    }
    throw new S3Error(404, 'NoSuchCORSConfiguration', 'The CORS configuration does not exist', {
      BucketName: bucket.name,
    });
  }
  return sendXml(call.reply, [
    'CORSConfiguration',
    bucket.cors.map((rule): XmlNode => [
      'CORSRule',
      [
        ...(rule.method ?? []).map((method): XmlNode => ['AllowedMethod', method]),
        ...(rule.origin ?? []).map((origin): XmlNode => ['AllowedOrigin', origin]),
        ...(rule.responseHeader ?? []).map((name): XmlNode => ['ExposeHeader', name]),
        rule.maxAgeSeconds === undefined ? undefined : ['MaxAgeSeconds', rule.maxAgeSeconds],
      ],
    ]),
  ]);
}

/** PUT /BUCKET?cors: AllowedOrigin/AllowedMethod/ExposeHeader/MaxAgeSeconds onto `cors` (AllowedHeader has no Google field). */
export async function putBucketCors(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.buckets.update');
  const document = await requiredDocument(call, 'CORSConfiguration');
  const rules = childrenNamed(document, 'CORSRule');
  if (rules.length === 0 || rules.length > 100) {
    throw malformedXml();
  }
  const cors = rules.map((rule): CorsRule => {
    const texts = (name: string): string[] => childrenNamed(rule, name).map((child) => child.text.trim());
    const out: CorsRule = { origin: texts('AllowedOrigin'), method: texts('AllowedMethod') };
    if (out.origin?.length === 0 || out.method?.length === 0) {
      throw malformedXml();
    }
    const exposed = texts('ExposeHeader');
    if (exposed.length > 0) {
      out.responseHeader = exposed;
    }
    const maxAge = childText(rule, 'MaxAgeSeconds');
    if (maxAge !== undefined) {
      if (!/^\d{1,9}$/.test(maxAge)) {
        throw malformedXml();
      }
      out.maxAgeSeconds = Number(maxAge);
    }
    return out;
  });
  face.buckets.patchBucket(bucket.name, { cors });
  return call.reply.code(200).send();
}

/** DELETE /BUCKET?cors */
export function deleteBucketCors(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.update');
  face.buckets.patchBucket(bucket.name, { cors: null });
  return call.reply.code(204).send();
}

type GoogleRule = NonNullable<LifecycleInput['rule']>[number];

function days(element: XmlElement, name: string): number | undefined {
  const text = childText(element, name);
  if (text === undefined) {
    return undefined;
  }
  if (!/^\d{1,6}$/.test(text)) {
    throw malformedXml();
  }
  return Number(text);
}

/** One S3 lifecycle rule as Google lifecycle rules (an S3 rule can hold several actions). */
function googleRules(rule: XmlElement): GoogleRule[] {
  const status = childText(rule, 'Status');
  if (status !== 'Enabled' && status !== 'Disabled') {
    throw malformedXml();
  }
  if (status === 'Disabled') {
    return [];
  }
  const filter = childNamed(rule, 'Filter');
  const and = filter === undefined ? undefined : childNamed(filter, 'And');
  const prefix =
    childText(rule, 'Prefix') ??
    (and === undefined ? undefined : childText(and, 'Prefix')) ??
    (filter === undefined ? undefined : childText(filter, 'Prefix'));
  const base = prefix === undefined || prefix === '' ? {} : { matchesPrefix: [prefix] };
  const out: GoogleRule[] = [];
  const expiration = childNamed(rule, 'Expiration');
  if (expiration !== undefined) {
    const age = days(expiration, 'Days');
    const date = childText(expiration, 'Date');
    if (age !== undefined) {
      out.push({ action: { type: 'Delete' }, condition: { ...base, age } });
    } else if (date !== undefined) {
      const parsed = Date.parse(date);
      if (Number.isNaN(parsed)) {
        throw malformedXml();
      }
      out.push({
        action: { type: 'Delete' },
        condition: { ...base, createdBefore: new Date(parsed).toISOString().slice(0, 10) },
      });
    } else if (childText(expiration, 'ExpiredObjectDeleteMarker') === undefined) {
      throw malformedXml();
    }
  }
  const noncurrent = childNamed(rule, 'NoncurrentVersionExpiration');
  if (noncurrent !== undefined) {
    const age = days(noncurrent, 'NoncurrentDays');
    const newer = days(noncurrent, 'NewerNoncurrentVersions');
    if (age === undefined && newer === undefined) {
      throw malformedXml();
    }
    out.push({
      action: { type: 'Delete' },
      condition: {
        ...base,
        isLive: false,
        ...(age === undefined ? {} : { daysSinceNoncurrentTime: age }),
        ...(newer === undefined ? {} : { numNewerVersions: newer }),
      },
    });
  }
  for (const transition of childrenNamed(rule, 'Transition')) {
    const age = days(transition, 'Days');
    const storageClass = childText(transition, 'StorageClass');
    if (age === undefined || storageClass === undefined) {
      throw malformedXml();
    }
    const mapped = storageClassOf({ 'x-goog-storage-class': storageClass });
    out.push({
      action: { type: 'SetStorageClass', storageClass: mapped ?? storageClass },
      condition: { ...base, age },
    });
  }
  const abort = childNamed(rule, 'AbortIncompleteMultipartUpload');
  if (abort !== undefined) {
    const age = days(abort, 'DaysAfterInitiation');
    if (age === undefined) {
      throw malformedXml();
    }
    out.push({ action: { type: 'AbortIncompleteMultipartUpload' }, condition: { ...base, age } });
  }
  if (out.length === 0 && expiration === undefined) {
    throw malformedXml();
  }
  return out;
}

/** GET /BUCKET?lifecycle: the bucket's Google rules, one S3 rule each. */
export function getBucketLifecycle(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.get');
  const rules = bucket.lifecycle?.rule ?? [];
  if (rules.length === 0) {
    if (googleClient(call)) {
      return sendXml(call.reply, ['LifecycleConfiguration', []]);
    }
    throw new S3Error(404, 'NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist', {
      BucketName: bucket.name,
    });
  }
  return sendXml(call.reply, [
    'LifecycleConfiguration',
    rules.map((rule, index): XmlNode => {
      const condition = rule.condition;
      const prefix = condition.matchesPrefix?.[0];
      const action: XmlNode | undefined =
        rule.action.type === 'SetStorageClass'
          ? [
              'Transition',
              [
                ['Days', condition.age ?? 0],
                ['StorageClass', rule.action.storageClass ?? 'STANDARD'],
              ],
            ]
          : rule.action.type === 'AbortIncompleteMultipartUpload'
            ? ['AbortIncompleteMultipartUpload', [['DaysAfterInitiation', condition.age ?? 0]]]
            : condition.isLive === false ||
                condition.daysSinceNoncurrentTime !== undefined ||
                condition.numNewerVersions !== undefined
              ? [
                  'NoncurrentVersionExpiration',
                  [
                    condition.daysSinceNoncurrentTime === undefined
                      ? undefined
                      : ['NoncurrentDays', condition.daysSinceNoncurrentTime],
                    condition.numNewerVersions === undefined
                      ? undefined
                      : ['NewerNoncurrentVersions', condition.numNewerVersions],
                  ],
                ]
              : condition.createdBefore !== undefined
                ? ['Expiration', [['Date', `${condition.createdBefore}T00:00:00.000Z`]]]
                : ['Expiration', [['Days', condition.age ?? 0]]];
      return [
        'Rule',
        [['ID', `rule-${index + 1}`], ['Filter', [['Prefix', prefix ?? '']]], ['Status', 'Enabled'], action],
      ];
    }),
  ]);
}

/** PUT /BUCKET?lifecycle: replaces the bucket's lifecycle rules. */
export async function putBucketLifecycle(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.buckets.update');
  const document = await requiredDocument(call, 'LifecycleConfiguration');
  const rules = childrenNamed(document, 'Rule');
  if (rules.length === 0 || rules.length > 1000) {
    throw malformedXml();
  }
  const rule = rules.flatMap(googleRules);
  face.buckets.patchBucket(bucket.name, { lifecycle: rule.length === 0 ? null : { rule } });
  return call.reply.code(200).send();
}

/** DELETE /BUCKET?lifecycle */
export function deleteBucketLifecycle(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.buckets.update');
  face.buckets.patchBucket(bucket.name, { lifecycle: null });
  return call.reply.code(204).send();
}

/** S3 `encoding-type=url`: keys percent-encoded, `/` kept. */
function encoder(call: S3Call): (text: string) => string {
  const type = call.query.get('encoding-type');
  if (type !== null && type !== 'url') {
    throw new S3Error(400, 'InvalidArgument', 'Invalid Encoding Method specified in Request', {
      ArgumentName: 'encoding-type',
    });
  }
  return type === 'url' ? (text) => encodeURIComponent(text).replaceAll('%2F', '/') : (text) => text;
}

/** A page token that resumes after `marker` (after everything under it when it ends with the delimiter). */
function tokenAfter(bucket: string, marker: string, delimiter: string | undefined): string {
  const skipAll = delimiter !== undefined && delimiter !== '' && marker.endsWith(delimiter);
  return encodePageToken(skipAll ? `${objectKey(bucket, marker)}\u{10ffff}` : objectKey(bucket, marker));
}

/** The S3 marker of a JSON page token (the name or common prefix it resumes after). */
function markerOf(bucket: string, token: string): string {
  return (decodePageToken(token) ?? '').slice(bucket.length + 1).replace(/\u{10ffff}$/u, '');
}

function contents(
  record: ObjectRecord,
  encode: (text: string) => string,
  withOwner: XmlNode | undefined,
): XmlNode {
  return [
    'Contents',
    [
      ['Key', encode(record.name)],
      ['LastModified', isoTime(record.updated)],
      ['ETag', s3Etag(record)],
      ['Size', record.size],
      ['StorageClass', s3StorageClass(record.storageClass)],
      withOwner,
    ],
  ];
}

/** GET /BUCKET (v1) and GET /BUCKET?list-type=2 (v2). */
export function listObjects(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.objects.list');
  const v2 = call.query.get('list-type') === '2';
  const encode = encoder(call);
  const prefix = call.query.get('prefix') ?? '';
  const delimiter = call.query.get('delimiter') ?? undefined;
  const maxKeys = intQuery(call.query, 'max-keys', 1000, 0, 1000);
  const marker = (v2 ? call.query.get('start-after') : call.query.get('marker')) ?? '';
  const continuation = v2 ? (call.query.get('continuation-token') ?? undefined) : undefined;
  let pageToken = continuation;
  if (pageToken === undefined && marker !== '') {
    pageToken = tokenAfter(bucket.name, marker, delimiter);
  }
  if (continuation === '') {
    throw new S3Error(400, 'InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  }
  const page =
    maxKeys === 0
      ? { items: [], prefixes: [] as string[] }
      : face.objects.listObjects(bucket.name, { prefix, delimiter, pageToken, maxResults: maxKeys });
  const next = 'nextPageToken' in page ? page.nextPageToken : undefined;
  const projectNumber = bucket.projectNumber;
  const withOwner = !v2 || call.query.get('fetch-owner') === 'true' ? owner(projectNumber) : undefined;
  const common: (XmlNode | undefined)[] = [
    ['Name', bucket.name],
    ['Prefix', encode(prefix)],
    delimiter === undefined ? undefined : ['Delimiter', encode(delimiter)],
    ['MaxKeys', maxKeys],
    call.query.get('encoding-type') === 'url' ? ['EncodingType', 'url'] : undefined,
    ['IsTruncated', next !== undefined],
  ];
  const items = page.items.map((record) => contents(record, encode, withOwner));
  const prefixes = page.prefixes.map((common): XmlNode => ['CommonPrefixes', [['Prefix', encode(common)]]]);
  if (v2) {
    return sendXml(call.reply, [
      'ListBucketResult',
      [
        ...common,
        continuation === undefined ? undefined : ['ContinuationToken', continuation],
        next === undefined ? undefined : ['NextContinuationToken', next],
        call.query.get('start-after') === null ? undefined : ['StartAfter', encode(marker)],
        ['KeyCount', page.items.length + page.prefixes.length],
        ...items,
        ...prefixes,
      ],
    ]);
  }
  return sendXml(call.reply, [
    'ListBucketResult',
    [
      ...common,
      ['Marker', encode(marker)],
      next === undefined ? undefined : ['NextMarker', encode(markerOf(bucket.name, next))],
      ...items,
      ...prefixes,
    ],
  ]);
}

/** GET /BUCKET?versions: every generation (newest first per key), generation = VersionId. */
export function listObjectVersions(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.objects.list');
  const encode = encoder(call);
  const prefix = call.query.get('prefix') ?? '';
  const delimiter = call.query.get('delimiter') ?? undefined;
  const maxKeys = intQuery(call.query, 'max-keys', 1000, 0, 1000);
  const keyMarker = call.query.get('key-marker') ?? '';
  const versionMarker = call.query.get('version-id-marker') ?? '';
  if (versionMarker !== '' && !/^\d{1,20}$/.test(versionMarker)) {
    throw new S3Error(400, 'InvalidArgument', 'Invalid version id specified', {
      ArgumentName: 'version-id-marker',
    });
  }
  let pageToken: string | undefined;
  if (keyMarker !== '') {
    const skipAll = delimiter !== undefined && delimiter !== '' && keyMarker.endsWith(delimiter);
    pageToken = encodePageToken(
      versionMarker !== ''
        ? `${keyMarker}\u0000${versionMarker.padStart(20, '0')}`
        : skipAll
          ? `${keyMarker}\u{10ffff}`
          : `${keyMarker}\u0001`,
    );
  }
  const page =
    maxKeys === 0
      ? { items: [] as ObjectRecord[], prefixes: [] as string[] }
      : face.objects.listObjects(bucket.name, {
          prefix,
          delimiter,
          pageToken,
          maxResults: maxKeys,
          versions: true,
        });
  const next = 'nextPageToken' in page ? page.nextPageToken : undefined;
  let nextKey: string | undefined;
  let nextVersion: string | undefined;
  if (next !== undefined) {
    const raw = decodePageToken(next) ?? '';
    const nul = raw.indexOf('\u0000');
    nextKey = nul < 0 ? raw.replace(/\u{10ffff}$/u, '') : raw.slice(0, nul);
    nextVersion = nul < 0 ? undefined : raw.slice(nul + 1).replace(/^0+(?=\d)/, '');
  }
  // Newest first within a key, as S3 lists versions (the page holds them oldest first).
  const ordered: ObjectRecord[] = [];
  for (let start = 0; start < page.items.length;) {
    let end = start;
    while (end < page.items.length && page.items[end]?.name === page.items[start]?.name) {
      end += 1;
    }
    ordered.push(...page.items.slice(start, end).reverse());
    start = end;
  }
  const ownerNode = owner(bucket.projectNumber);
  return sendXml(call.reply, [
    'ListVersionsResult',
    [
      ['Name', bucket.name],
      ['Prefix', encode(prefix)],
      ['KeyMarker', encode(keyMarker)],
      ['VersionIdMarker', versionMarker],
      nextKey === undefined ? undefined : ['NextKeyMarker', encode(nextKey)],
      nextKey === undefined ? undefined : ['NextVersionIdMarker', nextVersion ?? ''],
      delimiter === undefined ? undefined : ['Delimiter', encode(delimiter)],
      ['MaxKeys', maxKeys],
      call.query.get('encoding-type') === 'url' ? ['EncodingType', 'url'] : undefined,
      ['IsTruncated', next !== undefined],
      ...ordered.map((record): XmlNode => [
        'Version',
        [
          ['Key', encode(record.name)],
          ['VersionId', record.generation],
          ['IsLatest', record.timeDeleted === undefined],
          ['LastModified', isoTime(record.updated)],
          ['ETag', s3Etag(record)],
          ['Size', record.size],
          ['StorageClass', s3StorageClass(record.storageClass)],
          ownerNode,
        ],
      ]),
      ...page.prefixes.map((common): XmlNode => ['CommonPrefixes', [['Prefix', encode(common)]]]),
    ],
  ]);
}

/** GET /BUCKET?acl and GET /BUCKET/KEY?acl: the project owners hold FULL_CONTROL (IAM decides the rest). */
export function getAcl(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, call.key === '' ? 'storage.buckets.get' : 'storage.objects.get');
  const ownerNode = owner(bucket.projectNumber);
  return sendXml(call.reply, [
    'AccessControlPolicy',
    [
      ownerNode,
      [
        'AccessControlList',
        [
          [
            'Grant',
            [
              ['Grantee', [['ID', `project-owners-${bucket.projectNumber}`]]],
              ['Permission', 'FULL_CONTROL'],
            ],
          ],
        ],
      ],
    ],
  ]);
}
