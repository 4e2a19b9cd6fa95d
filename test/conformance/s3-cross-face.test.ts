/**
 * One store, two faces, through a `nimbus start` process: `@aws-sdk/client-s3` (SigV4 with an HMAC
 * key, default checksum settings) on the XML face's S3 port and the JSON API on the main port.
 *   - An S3 multipart upload of 3 parts reads back through the JSON API as Google's composite
 *     objects do: crc32c of the whole object, no md5Hash, componentCount 3; the S3 ETag is
 *     `"md5(part md5s)-3"`.
 *   - A JSON-API media upload reads back through S3 with the md5 ETag and the same bytes.
 *   - Both faces report the same generation (`x-goog-generation` / `x-amz-version-id` on S3).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { startS3Nimbus, type S3Nimbus } from './s3-clients.ts';

const MIB = 1024 * 1024;
const BUCKET = 'cross-face';

function crc32cBase64(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data) >>> 0);
  return out.toString('base64');
}

function md5(data: Buffer): Buffer {
  return createHash('md5').update(data).digest();
}

describe('cross-face: S3 and JSON API over the same objects', () => {
  let s: S3Nimbus;
  let s3: S3Client;
  /** Raw headers of the last S3 response (the SDK does not surface x-goog-*). */
  let lastHeaders: Record<string, string> = {};

  before(async () => {
    s = await startS3Nimbus('cross-face-test');
    s3 = new S3Client({
      endpoint: s.s3Url,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: s.accessId, secretAccessKey: s.secret },
    });
    s3.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const response = result.response as { headers?: Record<string, string> };
        lastHeaders = { ...(response.headers ?? {}) };
        return result;
      },
      { step: 'deserialize', name: 'captureRawHeaders' },
    );
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  after(async () => {
    s3.destroy();
    await s.dispose();
  });

  it('a 3-part S3 multipart upload is a composite object on the JSON face', async () => {
    const parts = [randomBytes(5 * MIB), randomBytes(5 * MIB), randomBytes(1234)];
    const whole = Buffer.concat(parts);
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mp/object.bin' }));
    const uploadId = created.UploadId ?? '';
    const etags: string[] = [];
    for (const [i, part] of parts.entries()) {
      const uploaded = await s3.send(
        new UploadPartCommand({
          Bucket: BUCKET,
          Key: 'mp/object.bin',
          UploadId: uploadId,
          PartNumber: i + 1,
          Body: part,
        }),
      );
      assert.equal(uploaded.ETag, `"${md5(part).toString('hex')}"`);
      etags.push(uploaded.ETag ?? '');
    }
    const completed = await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'mp/object.bin',
        UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    const expectedEtag = `"${md5(Buffer.concat(parts.map(md5))).toString('hex')}-3"`;
    assert.equal(completed.ETag, expectedEtag);

    const meta = await s.json('GET', `/storage/v1/b/${BUCKET}/o/mp%2Fobject.bin`);
    assert.equal(meta.status, 200, JSON.stringify(meta.body));
    assert.equal(meta.body.size, String(whole.length));
    assert.equal(meta.body.crc32c, crc32cBase64(whole));
    assert.equal(meta.body.md5Hash, undefined, 'composite objects have no md5Hash');
    assert.equal(meta.body.componentCount, 3);
    const media = await fetch(`${s.nimbus.url}/storage/v1/b/${BUCKET}/o/mp%2Fobject.bin?alt=media`, {
      headers: { authorization: `Bearer ${s.ownerToken}` },
    });
    assert.equal(media.status, 200);
    assert.ok(Buffer.from(await media.arrayBuffer()).equals(whole), 'JSON download has the S3 bytes');
    // The JSON face's x-goog-hash carries crc32c only.
    assert.equal(media.headers.get('x-goog-hash'), `crc32c=${crc32cBase64(whole)}`);

    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'mp/object.bin' }));
    assert.equal(head.ETag, expectedEtag);
    assert.equal(lastHeaders['x-goog-generation'], meta.body.generation);
    assert.equal(lastHeaders['x-goog-hash'], `crc32c=${crc32cBase64(whole)}`);
  });

  it('a JSON-API upload reads back through S3 with the md5 ETag and the same generation', async () => {
    const data = randomBytes(300_000);
    const uploaded = await fetch(
      `${s.nimbus.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent('json/up.bin')}`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${s.ownerToken}`, 'content-type': 'application/x-test' },
        body: data,
      },
    );
    assert.equal(uploaded.status, 200);
    const meta = (await uploaded.json()) as { generation: string; md5Hash: string; crc32c: string };
    assert.equal(meta.md5Hash, md5(data).toString('base64'));

    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'json/up.bin' }));
    assert.equal(got.ETag, `"${md5(data).toString('hex')}"`);
    assert.equal(got.ContentType, 'application/x-test');
    assert.ok(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(data));
    assert.equal(lastHeaders['x-goog-generation'], meta.generation);
    assert.equal(
      lastHeaders['x-goog-hash']?.split(',').sort().join(','),
      [`crc32c=${meta.crc32c}`, `md5=${meta.md5Hash}`].sort().join(','),
    );
  });

  it('versioned: S3 version ids are JSON generations, and an older one reads through both faces', async () => {
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }),
    );
    const first = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'v/obj', Body: 'first' }));
    const second = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'v/obj', Body: 'second' }));
    assert.ok(first.VersionId !== undefined && second.VersionId !== undefined);
    const live = await s.json('GET', `/storage/v1/b/${BUCKET}/o/v%2Fobj`);
    assert.equal(live.body.generation, second.VersionId);
    const old = await s.json('GET', `/storage/v1/b/${BUCKET}/o/v%2Fobj?generation=${first.VersionId}`);
    assert.equal(old.status, 200);
    assert.equal(old.body.size, '5');
    const oldViaS3 = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'v/obj', VersionId: first.VersionId }),
    );
    assert.equal(await oldViaS3.Body?.transformToString(), 'first');
    assert.equal(lastHeaders['x-goog-generation'], first.VersionId);
  });
});
