import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../../../core/errors.ts';
import { bucketResource } from '../routes.ts';
import {
  announcedChecksums,
  checkCopySourceConditions,
  copySourceOf,
  echoChecksums,
  header,
  intQuery,
  isoTime,
  loadBucket,
  metadataFromHeaders,
  readSmallBody,
  sendXml,
  tagsFromHeader,
  verified,
  writePreconditions,
  writeResponseHeaders,
  type S3Call,
  type XmlFace,
} from './common.ts';
import { S3Error } from './errors.ts';
import { MAX_PART_NUMBER } from './multipart.ts';
import { writableBody } from './object-handlers.ts';
import { childrenNamed, childText, malformedXml, parseXmlDocument, type XmlNode } from './xml.ts';
import { objectContext } from '../access-context.ts';

function uploadIdOf(call: S3Call): string {
  return call.query.get('uploadId') ?? '';
}

function partNumberOf(call: S3Call): number {
  const text = call.query.get('partNumber') ?? '';
  const value = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= 1 && value <= MAX_PART_NUMBER)) {
    throw new S3Error(
      400,
      'InvalidArgument',
      `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
      {
        ArgumentName: 'partNumber',
        ArgumentValue: text,
      },
    );
  }
  return value;
}

function initiator(call: S3Call): XmlNode[] {
  const id = call.principal.email === '' ? 'anonymous' : call.principal.email;
  return [
    [
      'Initiator',
      [
        ['ID', id],
        ['DisplayName', id],
      ],
    ],
    [
      'Owner',
      [
        ['ID', id],
        ['DisplayName', id],
      ],
    ],
  ];
}

/** POST /BUCKET/KEY?uploads : CreateMultipartUpload. */
export function createMultipartUpload(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.multipartUploads.create');
  face.platform.access.authorize(
    call.principal,
    'storage.objects.create',
    bucketResource(bucket),
    objectContext(bucket.name, call.key),
  );
  const tags = tagsFromHeader(call.request.headers);
  const upload = face.uploads.create({
    bucket: bucket.name,
    key: call.key,
    initiator: call.principal.member,
    metadata: metadataFromHeaders(call.request.headers),
    ...(tags === undefined || Object.keys(tags).length === 0 ? {} : { tags }),
  });
  return sendXml(call.reply, [
    'InitiateMultipartUploadResult',
    [
      ['Bucket', bucket.name],
      ['Key', call.key],
      ['UploadId', upload.uploadId],
    ],
  ]);
}

/** PUT /BUCKET/KEY?partNumber=N&uploadId=U : UploadPart (or UploadPartCopy with x-amz-copy-source). */
export async function uploadPart(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.multipartUploads.create');
  const partNumber = partNumberOf(call);
  const uploadId = uploadIdOf(call);
  face.uploads.get(bucket.name, call.key, uploadId);
  const copySource = copySourceOf(call.request.headers);
  if (copySource !== undefined) {
    const sourceBucket = face.buckets.getBucket(copySource.bucket);
    face.platform.access.authorize(
      call.principal,
      'storage.objects.get',
      bucketResource(sourceBucket),
      objectContext(sourceBucket.name, copySource.key),
    );
    let source;
    try {
      source = face.objects.getObject(sourceBucket.name, copySource.key, copySource.version);
    } catch (error) {
      if (error instanceof ApiError && error.httpStatus === 404) {
        throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: copySource.key });
      }
      throw error;
    }
    checkCopySourceConditions(call.request.headers, source);
    const rangeText = header(call.request.headers, 'x-amz-copy-source-range');
    let start = 0;
    let end = source.size - 1;
    if (rangeText !== undefined) {
      const match = /^bytes=(\d{1,15})-(\d{1,15})$/.exec(rangeText.trim());
      if (match === null) {
        throw new S3Error(
          400,
          'InvalidArgument',
          'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
          {
            ArgumentName: 'x-amz-copy-source-range',
            ArgumentValue: rangeText,
          },
        );
      }
      start = Number(match[1]);
      end = Number(match[2]);
      if (end < start || end >= source.size) {
        throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable', {
          RangeRequested: rangeText,
          ActualObjectSize: String(source.size),
        });
      }
    }
    const inline = source.size === 0 ? Buffer.alloc(0) : face.objects.inlineBytes(source, start, end);
    const bytes = inline === undefined ? face.objects.openRead(source, start, end) : Readable.from([inline]);
    const part = await face.uploads.uploadPart(bucket.name, call.key, uploadId, partNumber, bytes, undefined);
    if (sourceBucket.versioningEnabled === true) {
      call.reply.header('x-amz-copy-source-version-id', source.generation);
    }
    return sendXml(call.reply, [
      'CopyPartResult',
      [
        ['LastModified', isoTime(part.lastModified)],
        ['ETag', `"${part.etag}"`],
      ],
    ]);
  }
  const checksums = announcedChecksums(call.request.headers);
  const body = writableBody(call);
  const part = await face.uploads.uploadPart(
    bucket.name,
    call.key,
    uploadId,
    partNumber,
    checksums.length === 0 ? body : verified(body, checksums),
    call.bodyLength,
  );
  echoChecksums(call);
  return call.reply.header('etag', `"${part.etag}"`).code(200).send();
}

/** POST /BUCKET/KEY?uploadId=U : CompleteMultipartUpload. */
export async function completeMultipartUpload(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.multipartUploads.create');
  face.platform.access.authorize(
    call.principal,
    'storage.objects.create',
    bucketResource(bucket),
    objectContext(bucket.name, call.key),
  );
  const uploadId = uploadIdOf(call);
  face.uploads.get(bucket.name, call.key, uploadId);
  const document = parseXmlDocument(
    await readSmallBody(call.body, 4 * 1024 * 1024),
    'CompleteMultipartUpload',
  );
  const parts = childrenNamed(document, 'Part').map((part) => {
    const number = childText(part, 'PartNumber') ?? '';
    const etag = childText(part, 'ETag');
    if (!/^\d{1,5}$/.test(number) || etag === undefined) {
      throw malformedXml();
    }
    const partNumber = Number(number);
    if (partNumber < 1 || partNumber > MAX_PART_NUMBER) {
      throw new S3Error(
        400,
        'InvalidArgument',
        `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
        {
          ArgumentName: 'partNumber',
          ArgumentValue: number,
        },
      );
    }
    return { partNumber, etag };
  });
  const current = face.objects.findLive(bucket.name, call.key);
  if (current !== undefined) {
    face.platform.access.authorize(
      call.principal,
      'storage.objects.delete',
      bucketResource(bucket),
      objectContext(bucket.name, call.key),
    );
  }
  const conditions = writePreconditions(call.request.headers, current);
  const { record, etag } = await face.uploads.complete(bucket.name, call.key, uploadId, parts, conditions);
  writeResponseHeaders(call, record, bucket);
  const location = `${call.request.protocol}://${call.request.host}/${encodeURIComponent(bucket.name)}/${call.key
    .split('/')
    .map(encodeURIComponent)
    .join('/')}`;
  return sendXml(call.reply, [
    'CompleteMultipartUploadResult',
    [
      ['Location', location],
      ['Bucket', bucket.name],
      ['Key', call.key],
      ['ETag', etag],
    ],
  ]);
}

/** DELETE /BUCKET/KEY?uploadId=U : AbortMultipartUpload. */
export async function abortMultipartUpload(face: XmlFace, call: S3Call): Promise<FastifyReply> {
  const bucket = loadBucket(face, call, 'storage.multipartUploads.abort');
  await face.uploads.abort(bucket.name, call.key, uploadIdOf(call));
  return call.reply.code(204).send();
}

/** GET /BUCKET/KEY?uploadId=U : ListParts. */
export function listParts(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.multipartUploads.listParts');
  const uploadId = uploadIdOf(call);
  const upload = face.uploads.get(bucket.name, call.key, uploadId);
  const marker = intQuery(call.query, 'part-number-marker', 0, 0, MAX_PART_NUMBER);
  const maxParts = intQuery(call.query, 'max-parts', 1000, 0, 1000);
  const parts = face.uploads.listParts(uploadId, marker, maxParts + 1);
  const truncated = parts.length > maxParts;
  const shown = parts.slice(0, maxParts);
  const last = shown[shown.length - 1];
  return sendXml(call.reply, [
    'ListPartsResult',
    [
      ['Bucket', bucket.name],
      ['Key', call.key],
      ['UploadId', uploadId],
      ...initiator(call),
      ['StorageClass', upload.metadata.storageClass ?? bucket.storageClass],
      ['PartNumberMarker', marker],
      ['NextPartNumberMarker', last?.partNumber ?? marker],
      ['MaxParts', maxParts],
      ['IsTruncated', truncated],
      ...shown.map((part): XmlNode => [
        'Part',
        [
          ['PartNumber', part.partNumber],
          ['LastModified', isoTime(part.lastModified)],
          ['ETag', `"${part.etag}"`],
          ['Size', part.size],
        ],
      ]),
    ],
  ]);
}

/** GET /BUCKET?uploads : ListMultipartUploads (prefix, key-marker, upload-id-marker, max-uploads; no delimiter grouping). */
export function listMultipartUploads(face: XmlFace, call: S3Call): FastifyReply {
  const bucket = loadBucket(face, call, 'storage.multipartUploads.list');
  const prefix = call.query.get('prefix') ?? '';
  const keyMarker = call.query.get('key-marker') ?? '';
  const uploadIdMarker = call.query.get('upload-id-marker') ?? '';
  const maxUploads = intQuery(call.query, 'max-uploads', 1000, 0, 1000);
  const uploads = face.uploads.listUploads(bucket.name, prefix, keyMarker, uploadIdMarker, maxUploads + 1);
  const truncated = uploads.length > maxUploads;
  const shown = uploads.slice(0, maxUploads);
  const last = shown[shown.length - 1];
  return sendXml(call.reply, [
    'ListMultipartUploadsResult',
    [
      ['Bucket', bucket.name],
      ['KeyMarker', keyMarker],
      ['UploadIdMarker', uploadIdMarker],
      ['NextKeyMarker', truncated ? (last?.key ?? '') : ''],
      ['NextUploadIdMarker', truncated ? (last?.uploadId ?? '') : ''],
      ['Prefix', prefix],
      ['MaxUploads', maxUploads],
      ['IsTruncated', truncated],
      ...shown.map((upload): XmlNode => [
        'Upload',
        [
          ['Key', upload.key],
          ['UploadId', upload.uploadId],
          [
            'Initiator',
            [
              ['ID', upload.initiator],
              ['DisplayName', upload.initiator],
            ],
          ],
          [
            'Owner',
            [
              ['ID', upload.initiator],
              ['DisplayName', upload.initiator],
            ],
          ],
          ['StorageClass', upload.metadata.storageClass ?? bucket.storageClass],
          ['Initiated', isoTime(upload.initiated)],
        ],
      ]),
    ],
  ]);
}
