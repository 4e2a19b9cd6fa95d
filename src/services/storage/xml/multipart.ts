import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { rfc3339, type Clock } from '../../../core/clock.ts';
import { hexId } from '../../../core/ids.ts';
import type { DocumentStore } from '../../../core/store.ts';
import type { BlobStore } from '../../../platform/blobs.ts';
import type { ObjectRecord } from '../object-store.ts';
import {
  INLINE_LIMIT,
  type ObjectMetadataInput,
  type ObjectPreconditions,
  type ObjectsService,
} from '../objects.ts';
import type { BucketsService } from '../service.ts';
import { S3Error } from './errors.ts';

/**
 * S3 multipart uploads (the XML API's "XML multipart uploads"): parts are durable blob files until
 * CompleteMultipartUpload concatenates them into one composite object (componentCount = parts, a
 * crc32c and no md5Hash, as Google's composite objects) whose S3 ETag is `"md5(part md5s)-N"`.
 */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_NUMBER = 10_000;

export interface MultipartUpload {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: string;
  initiator: string;
  metadata: ObjectMetadataInput;
  tags?: Record<string, string>;
}

export interface UploadedPart {
  uploadId: string;
  partNumber: number;
  /** Hex md5, the part's S3 ETag without quotes. */
  etag: string;
  size: number;
  lastModified: string;
  fileId?: string;
}

const UPLOADS = 'storage/xml-multipart-uploads';
const PARTS = 'storage/xml-multipart-parts';

function uploadKey(bucket: string, key: string, uploadId: string): string {
  return `${bucket}/${key}\u0000${uploadId}`;
}

function partKey(uploadId: string, partNumber: number): string {
  return `${uploadId}/${String(partNumber).padStart(5, '0')}`;
}

export function noSuchUpload(uploadId: string): S3Error {
  return new S3Error(
    404,
    'NoSuchUpload',
    'The specified multipart upload does not exist. The upload ID might be invalid, or the multipart upload might have been aborted or completed.',
    { UploadId: uploadId },
  );
}

/** `"…"` → `…` (clients send part ETags with or without quotes). */
export function unquote(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
}

export class MultipartUploads {
  constructor(
    private readonly docs: DocumentStore,
    /** Where parts live until completion (not the objects' blob store: its orphan sweep would take them). */
    private readonly partBlobs: BlobStore,
    private readonly objectBlobs: BlobStore,
    private readonly objects: ObjectsService,
    private readonly buckets: BucketsService,
    private readonly clock: Clock,
  ) {}

  /** Removes part files no part record refers to (a crash between ingest and record), older than `before`. */
  async sweepOrphanParts(before: number): Promise<number> {
    const referenced = new Set<string>();
    for (let after: string | undefined; ;) {
      const batch = this.docs.list<UploadedPart>(PARTS, { after, limit: 1000 });
      for (const part of batch) {
        if (part.fileId !== undefined) {
          referenced.add(part.fileId);
        }
      }
      const last = batch[batch.length - 1];
      if (last === undefined) {
        break;
      }
      after = partKey(last.uploadId, last.partNumber);
    }
    let removed = 0;
    for (const file of this.partBlobs.listFiles()) {
      if (!referenced.has(file.fileId) && file.mtimeMs < before) {
        await this.partBlobs.remove(file.fileId);
        removed += 1;
      }
    }
    return removed;
  }

  create(input: Omit<MultipartUpload, 'uploadId' | 'initiated'>): MultipartUpload {
    const upload: MultipartUpload = {
      ...input,
      uploadId: hexId(24),
      initiated: rfc3339(this.clock.now()),
    };
    this.docs.put(UPLOADS, uploadKey(upload.bucket, upload.key, upload.uploadId), upload);
    return upload;
  }

  get(bucket: string, key: string, uploadId: string): MultipartUpload {
    const upload = this.docs.get<MultipartUpload>(UPLOADS, uploadKey(bucket, key, uploadId));
    if (upload === undefined) {
      throw noSuchUpload(uploadId);
    }
    return upload;
  }

  /** Stores one part (replacing an earlier part with the same number). */
  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    source: Readable | AsyncIterable<Buffer>,
    expectedSize: number | undefined,
  ): Promise<UploadedPart> {
    this.get(bucket, key, uploadId);
    // inlineLimit 0: every non-empty part is a durable file.
    const blob = await this.partBlobs.ingest(source, {
      inlineLimit: 0,
      ...(expectedSize === undefined ? {} : { expectedSize }),
    });
    const part: UploadedPart = {
      uploadId,
      partNumber,
      etag: Buffer.from(blob.md5Hash, 'base64').toString('hex'),
      size: blob.size,
      lastModified: rfc3339(this.clock.now()),
      ...(blob.fileId === undefined ? {} : { fileId: blob.fileId }),
    };
    let replaced: UploadedPart | undefined;
    try {
      replaced = this.docs.transaction(() => {
        // The upload may have been completed or aborted while the bytes arrived.
        this.get(bucket, key, uploadId);
        const previous = this.docs.get<UploadedPart>(PARTS, partKey(uploadId, partNumber));
        this.docs.put(PARTS, partKey(uploadId, partNumber), part);
        return previous;
      });
    } catch (error) {
      if (blob.fileId !== undefined) {
        await this.partBlobs.remove(blob.fileId);
      }
      throw error;
    }
    if (replaced?.fileId !== undefined && replaced.fileId !== part.fileId) {
      await this.partBlobs.remove(replaced.fileId);
    }
    return part;
  }

  listParts(uploadId: string, after: number, limit: number): UploadedPart[] {
    return this.docs.list<UploadedPart>(PARTS, {
      prefix: `${uploadId}/`,
      after: after > 0 ? partKey(uploadId, after) : undefined,
      limit,
    });
  }

  /** In-progress uploads of a bucket in (key, upload id) order, after a key/upload-id marker. */
  listUploads(bucket: string, prefix: string, keyMarker: string, uploadIdMarker: string, limit: number) {
    let after: string | undefined;
    if (keyMarker !== '') {
      after =
        uploadIdMarker === ''
          ? `${bucket}/${keyMarker}\u0000\u{10ffff}`
          : uploadKey(bucket, keyMarker, uploadIdMarker);
    }
    return this.docs.list<MultipartUpload>(UPLOADS, { prefix: `${bucket}/${prefix}`, after, limit });
  }

  async abort(bucket: string, key: string, uploadId: string): Promise<void> {
    const parts = this.docs.transaction(() => {
      this.get(bucket, key, uploadId);
      return this.dropUpload(bucket, key, uploadId);
    });
    await this.removeFiles(parts);
  }

  /**
   * Validates the client's part list (ascending numbers, known parts with matching ETags, every part
   * but the last at least 5 MiB) and writes the object.
   */
  async complete(
    bucket: string,
    key: string,
    uploadId: string,
    requested: { partNumber: number; etag: string }[],
    conditions: ObjectPreconditions,
  ): Promise<{ record: ObjectRecord; etag: string }> {
    const upload = this.get(bucket, key, uploadId);
    if (requested.length === 0) {
      throw new S3Error(400, 'MalformedXML', 'You must specify at least one part.');
    }
    const stored = new Map(
      this.listParts(uploadId, 0, MAX_PART_NUMBER).map((part) => [part.partNumber, part]),
    );
    const parts: UploadedPart[] = [];
    let previous = 0;
    for (const { partNumber, etag } of requested) {
      if (partNumber <= previous) {
        throw new S3Error(
          400,
          'InvalidPartOrder',
          'The list of parts was not in ascending order. Parts must be ordered by part number.',
          { UploadId: uploadId },
        );
      }
      previous = partNumber;
      const part = stored.get(partNumber);
      if (part === undefined || unquote(etag) !== part.etag) {
        throw new S3Error(
          400,
          'InvalidPart',
          "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
          { UploadId: uploadId, PartNumber: String(partNumber), ETag: etag },
        );
      }
      parts.push(part);
    }
    parts.forEach((part, index) => {
      if (index < parts.length - 1 && part.size < MIN_PART_SIZE) {
        throw new S3Error(
          400,
          'EntityTooSmall',
          'Your proposed upload is smaller than the minimum allowed object size.',
          {
            ProposedSize: String(part.size),
            MinSizeAllowed: String(MIN_PART_SIZE),
            PartNumber: String(part.partNumber),
            ETag: `"${part.etag}"`,
          },
        );
      }
    });
    const etag = `"${createHash('md5')
      .update(Buffer.concat(parts.map((part) => Buffer.from(part.etag, 'hex'))))
      .digest('hex')}-${parts.length}"`;
    const bucketRecord = this.buckets.getBucket(bucket);
    // Fail fast on a destination precondition that already fails (checked again at commit).
    this.objects.checkPreconditions(this.objects.findLive(bucket, key), conditions);
    const partBlobs = this.partBlobs;
    async function* concatenated(): AsyncGenerator<Buffer> {
      for (const part of parts) {
        if (part.fileId === undefined) {
          continue;
        }
        for await (const chunk of partBlobs.read(part.fileId)) {
          yield chunk as Buffer;
        }
      }
    }
    const blob = await this.objectBlobs.ingest(concatenated(), { inlineLimit: INLINE_LIMIT });
    let written: ObjectRecord;
    try {
      written = this.objects.commitObject(
        bucket,
        key,
        blob,
        upload.metadata,
        bucketRecord.storageClass,
        conditions,
        { versioning: bucketRecord.versioningEnabled === true, componentCount: parts.length },
      );
    } catch (error) {
      if (blob.fileId !== undefined) {
        await this.objectBlobs.remove(blob.fileId);
      }
      throw error;
    }
    const record = this.objects.setXmlFields(bucket, key, written.generation, {
      s3Etag: etag,
      ...(upload.tags === undefined ? {} : { s3Tags: upload.tags }),
    });
    const dropped = this.docs.transaction(() => this.dropUpload(bucket, key, uploadId));
    await this.removeFiles(dropped);
    return { record, etag };
  }

  /** Deletes the upload and its part records (inside the caller's transaction); returns the parts. */
  private dropUpload(bucket: string, key: string, uploadId: string): UploadedPart[] {
    const parts = this.listParts(uploadId, 0, MAX_PART_NUMBER);
    for (const part of parts) {
      this.docs.delete(PARTS, partKey(uploadId, part.partNumber));
    }
    this.docs.delete(UPLOADS, uploadKey(bucket, key, uploadId));
    return parts;
  }

  private async removeFiles(parts: UploadedPart[]): Promise<void> {
    for (const part of parts) {
      if (part.fileId !== undefined) {
        await this.partBlobs.remove(part.fileId);
      }
    }
  }
}
