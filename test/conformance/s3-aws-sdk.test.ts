/**
 * The official AWS SDK for JavaScript v3 (`@aws-sdk/client-s3`, default checksum settings) against
 * Nimbus's Cloud Storage XML face on its dedicated S3 port: buckets, objects with ranges and
 * conditions, list v2 with delimiter and pagination, versions, copy, tagging, multipart (read back
 * through the JSON API as a composite object) and a JSON-face upload read back through S3.
 *
 * Each mode of SIGNING_MODES runs the whole suite: 'anonymous' (the server's anonymous owner mode on
 * loopback; the SDK's signer is replaced by one that sends no signature) or 'hmac' (an HMAC key of a
 * service account holding roles/storage.admin, created through `projects.hmacKeys`, and real SigV4).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { crc32c } from '@node-rs/crc32';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { startXmlPort } from '../../src/services/storage/xml/index.ts';
import { bearer, startTestServer, type TestApp } from '../helpers.ts';

/** How the SDK authenticates (see the header comment): the suite runs once per mode. */
const SIGNING_MODES = ['anonymous', 'hmac'] as const;
type Signing = (typeof SIGNING_MODES)[number];

const PROJECT = 'nimbus-local';
const MIB = 1024 * 1024;

function crcOf(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32c(data) >>> 0);
  return out.toString('base64');
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

async function s3Code(promise: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof S3ServiceException) {
      return { code: error.name, status: error.$metadata.httpStatusCode };
    }
    throw error;
  }
  assert.fail('the call succeeded');
}

function sdkSuite(signing: Signing): void {
  describe(`AWS SDK for JavaScript v3 (client-s3) against the XML face, ${signing} signing`, () => {
    let t: TestApp & { url: string };
    let s3: S3Client;
    let s3Url: string;
    let baseConfig: S3ClientConfig;

    const json = async (method: 'GET' | 'POST', url: string, payload?: object) => {
      const res = await t.app.inject({
        method,
        url,
        headers: bearer(t.ownerToken),
        ...(payload === undefined ? {} : { payload }),
      });
      return { status: res.statusCode, body: res.json<Record<string, unknown>>() };
    };

    /** Credentials for 'hmac' signing: a storage-admin service account's HMAC key. */
    const hmacCredentials = async (): Promise<{ accessKeyId: string; secretAccessKey: string }> => {
      const account = await json('POST', `/v1/projects/${PROJECT}/serviceAccounts`, {
        accountId: 's3-sdk-test',
      });
      assert.equal(account.status, 200, JSON.stringify(account.body));
      const email = String(account.body.email);
      const policy = await json('POST', `/v1/projects/${PROJECT}:getIamPolicy`, {});
      const bindings = (policy.body.bindings as { role: string; members: string[] }[] | undefined) ?? [];
      bindings.push({ role: 'roles/storage.admin', members: [`serviceAccount:${email}`] });
      const set = await json('POST', `/v1/projects/${PROJECT}:setIamPolicy`, {
        policy: { bindings, etag: policy.body.etag },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const key = await json(
        'POST',
        `/storage/v1/projects/${PROJECT}/hmacKeys?serviceAccountEmail=${encodeURIComponent(email)}`,
      );
      assert.equal(key.status, 200, JSON.stringify(key.body));
      const metadata = key.body.metadata as { accessId: string };
      return { accessKeyId: metadata.accessId, secretAccessKey: String(key.body.secret) };
    };

    before(async () => {
      t = await startTestServer({ s3Port: 0 });
      const port = await startXmlPort(t.platform);
      s3Url = `http://127.0.0.1:${String(port)}`;
      const config: S3ClientConfig = {
        endpoint: s3Url,
        region: 'us-east-1',
        forcePathStyle: true,
        maxAttempts: 1,
      };
      if (signing === 'hmac') {
        config.credentials = await hmacCredentials();
      } else {
        config.credentials = { accessKeyId: 'anonymous', secretAccessKey: 'anonymous' };
        // No signature at all: the server's anonymous owner mode applies (loopback default).
        config.signer = { sign: async (request) => request };
      }
      baseConfig = config;
      s3 = new S3Client(config);
    });

    after(async () => {
      s3.destroy();
      await t.dispose();
    });

    it('names the S3 port in AWS_ENDPOINT_URL_S3', async () => {
      const env = await json('GET', '/_nimbus/env');
      assert.equal(new URL(String(env.body.AWS_ENDPOINT_URL_S3)).port, new URL(s3Url).port);
    });

    it('creates, lists, heads and deletes buckets', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-bucket-life' }));
      const listed = await s3.send(new ListBucketsCommand({}));
      assert.ok(listed.Buckets?.some((bucket) => bucket.Name === 'sdk-bucket-life'));
      await s3.send(new HeadBucketCommand({ Bucket: 'sdk-bucket-life' }));
      assert.deepEqual(await s3Code(s3.send(new CreateBucketCommand({ Bucket: 'sdk-bucket-life' }))), {
        code: 'BucketAlreadyOwnedByYou',
        status: 409,
      });
      await s3.send(new DeleteBucketCommand({ Bucket: 'sdk-bucket-life' }));
      assert.equal((await s3Code(s3.send(new HeadBucketCommand({ Bucket: 'sdk-bucket-life' })))).status, 404);
      assert.deepEqual(await s3Code(s3.send(new DeleteBucketCommand({ Bucket: 'sdk-bucket-life' }))), {
        code: 'NoSuchBucket',
        status: 404,
      });
    });

    it('puts, gets (whole, ranged, conditional), heads and deletes objects', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-objects' }));
      const data = Buffer.from('The quick brown fox jumps over the lazy dog');
      const put = await s3.send(
        new PutObjectCommand({
          Bucket: 'sdk-objects',
          Key: 'dir/fox.txt',
          Body: data,
          ContentType: 'text/plain',
          Metadata: { colour: 'brown' },
        }),
      );
      assert.equal(put.ETag, `"${md5Hex(data)}"`);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt' }));
      assert.equal(await got.Body?.transformToString(), data.toString());
      assert.equal(got.ContentType, 'text/plain');
      assert.deepEqual(got.Metadata, { colour: 'brown' });
      assert.equal(got.ETag, put.ETag);
      const ranged = await s3.send(
        new GetObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt', Range: 'bytes=4-8' }),
      );
      assert.equal(ranged.$metadata.httpStatusCode, 206);
      assert.equal(ranged.ContentRange, `bytes 4-8/${data.length}`);
      assert.equal(await ranged.Body?.transformToString(), 'quick');
      assert.deepEqual(
        await s3Code(
          s3.send(new GetObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt', Range: 'bytes=999-' })),
        ),
        { code: 'InvalidRange', status: 416 },
      );
      assert.deepEqual(
        await s3Code(
          s3.send(new GetObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt', IfMatch: '"nope"' })),
        ),
        { code: 'PreconditionFailed', status: 412 },
      );
      assert.equal(
        (
          await s3Code(
            s3.send(
              new GetObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt', IfNoneMatch: put.ETag }),
            ),
          )
        ).status,
        304,
      );
      assert.deepEqual(
        await s3Code(
          s3.send(
            new PutObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt', Body: 'x', IfNoneMatch: '*' }),
          ),
        ),
        { code: 'PreconditionFailed', status: 412 },
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt' }));
      assert.equal(head.ContentLength, data.length);
      assert.deepEqual(
        await s3Code(s3.send(new GetObjectCommand({ Bucket: 'sdk-objects', Key: 'missing' }))),
        {
          code: 'NoSuchKey',
          status: 404,
        },
      );
      await s3.send(new DeleteObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt' }));
      assert.equal(
        (await s3Code(s3.send(new HeadObjectCommand({ Bucket: 'sdk-objects', Key: 'dir/fox.txt' })))).status,
        404,
      );
    });

    it('lists with a delimiter and pages with continuation tokens', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-listing' }));
      const keys = ['a.txt', 'b/1.txt', 'b/2.txt', 'c/1.txt', 'd.txt', 'e.txt'];
      for (const key of keys) {
        await s3.send(new PutObjectCommand({ Bucket: 'sdk-listing', Key: key, Body: key }));
      }
      const grouped = await s3.send(new ListObjectsV2Command({ Bucket: 'sdk-listing', Delimiter: '/' }));
      assert.deepEqual(
        grouped.Contents?.map((item) => item.Key),
        ['a.txt', 'd.txt', 'e.txt'],
      );
      assert.deepEqual(
        grouped.CommonPrefixes?.map((prefix) => prefix.Prefix),
        ['b/', 'c/'],
      );
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: 'sdk-listing', MaxKeys: 2, ContinuationToken: token }),
        );
        seen.push(...(page.Contents ?? []).map((item) => item.Key ?? ''));
        token = page.NextContinuationToken;
        pages += 1;
      } while (token !== undefined);
      assert.deepEqual(seen, keys);
      assert.equal(pages, 3);
      const after = await s3.send(new ListObjectsV2Command({ Bucket: 'sdk-listing', StartAfter: 'c/1.txt' }));
      assert.deepEqual(
        after.Contents?.map((item) => item.Key),
        ['d.txt', 'e.txt'],
      );
    });

    it('keeps versions (generations) when versioning is on', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-versions' }));
      await s3.send(
        new PutBucketVersioningCommand({
          Bucket: 'sdk-versions',
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      );
      assert.equal(
        (await s3.send(new GetBucketVersioningCommand({ Bucket: 'sdk-versions' }))).Status,
        'Enabled',
      );
      const first = await s3.send(new PutObjectCommand({ Bucket: 'sdk-versions', Key: 'v', Body: 'one' }));
      const second = await s3.send(new PutObjectCommand({ Bucket: 'sdk-versions', Key: 'v', Body: 'two' }));
      assert.ok(
        first.VersionId !== undefined &&
          second.VersionId !== undefined &&
          first.VersionId !== second.VersionId,
      );
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: 'sdk-versions' }));
      assert.deepEqual(
        versions.Versions?.map((version) => [version.VersionId, version.IsLatest]),
        [
          [second.VersionId, true],
          [first.VersionId, false],
        ],
      );
      const old = await s3.send(
        new GetObjectCommand({ Bucket: 'sdk-versions', Key: 'v', VersionId: first.VersionId }),
      );
      assert.equal(await old.Body?.transformToString(), 'one');
      await s3.send(
        new DeleteObjectCommand({ Bucket: 'sdk-versions', Key: 'v', VersionId: first.VersionId }),
      );
      const left = await s3.send(new ListObjectVersionsCommand({ Bucket: 'sdk-versions' }));
      assert.deepEqual(
        left.Versions?.map((version) => version.VersionId),
        [second.VersionId],
      );
    });

    it('copies objects (COPY and REPLACE metadata), tags them and deletes in a batch', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-copies' }));
      await s3.send(
        new PutObjectCommand({
          Bucket: 'sdk-copies',
          Key: 'src',
          Body: 'copy me',
          ContentType: 'text/plain',
          Metadata: { a: '1' },
        }),
      );
      await s3.send(
        new CopyObjectCommand({ Bucket: 'sdk-copies', Key: 'same-meta', CopySource: 'sdk-copies/src' }),
      );
      const same = await s3.send(new HeadObjectCommand({ Bucket: 'sdk-copies', Key: 'same-meta' }));
      assert.deepEqual(same.Metadata, { a: '1' });
      assert.equal(same.ContentType, 'text/plain');
      await s3.send(
        new CopyObjectCommand({
          Bucket: 'sdk-copies',
          Key: 'new-meta',
          CopySource: 'sdk-copies/src',
          MetadataDirective: 'REPLACE',
          Metadata: { b: '2' },
          ContentType: 'application/x-test',
        }),
      );
      const replaced = await s3.send(new GetObjectCommand({ Bucket: 'sdk-copies', Key: 'new-meta' }));
      assert.deepEqual(replaced.Metadata, { b: '2' });
      assert.equal(await replaced.Body?.transformToString(), 'copy me');
      await s3.send(
        new PutObjectTaggingCommand({
          Bucket: 'sdk-copies',
          Key: 'src',
          Tagging: { TagSet: [{ Key: 'team', Value: 'data' }] },
        }),
      );
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: 'sdk-copies', Key: 'src' }));
      assert.deepEqual(tags.TagSet, [{ Key: 'team', Value: 'data' }]);
      const deleted = await s3.send(
        new DeleteObjectsCommand({
          Bucket: 'sdk-copies',
          Delete: {
            Objects: [{ Key: 'src' }, { Key: 'same-meta' }, { Key: 'new-meta' }, { Key: 'never-existed' }],
          },
        }),
      );
      assert.equal(deleted.Deleted?.length, 4);
      assert.equal(deleted.Errors, undefined);
      assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: 'sdk-copies' }))).KeyCount, 0);
    });

    it('completes a 3-part multipart upload that the JSON API reads as a composite object', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-multipart' }));
      const parts = [randomBytes(5 * MIB), randomBytes(5 * MIB), randomBytes(123_457)];
      const whole = Buffer.concat(parts);
      const created = await s3.send(
        new CreateMultipartUploadCommand({
          Bucket: 'sdk-multipart',
          Key: 'big.bin',
          ContentType: 'application/x-big',
        }),
      );
      const uploadId = created.UploadId ?? '';
      const etags: string[] = [];
      for (const [index, body] of parts.entries()) {
        const part = await s3.send(
          new UploadPartCommand({
            Bucket: 'sdk-multipart',
            Key: 'big.bin',
            UploadId: uploadId,
            PartNumber: index + 1,
            Body: body,
          }),
        );
        assert.equal(part.ETag, `"${md5Hex(body)}"`);
        etags.push(part.ETag ?? '');
      }
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'sdk-multipart' }));
      assert.deepEqual(
        uploads.Uploads?.map((upload) => upload.UploadId),
        [uploadId],
      );
      const listed = await s3.send(
        new ListPartsCommand({ Bucket: 'sdk-multipart', Key: 'big.bin', UploadId: uploadId }),
      );
      assert.deepEqual(
        listed.Parts?.map((part) => [part.PartNumber, part.Size]),
        parts.map((part, index) => [index + 1, part.length]),
      );
      const completed = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'sdk-multipart',
          Key: 'big.bin',
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
        }),
      );
      const expectedEtag = `"${md5Hex(Buffer.concat(parts.map((part) => createHash('md5').update(part).digest())))}-3"`;
      assert.equal(completed.ETag, expectedEtag);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk-multipart', Key: 'big.bin' }));
      assert.ok(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(whole));
      assert.equal(got.ETag, expectedEtag);
      // Cross-face: Google's composite-object rules.
      const object = await json('GET', '/storage/v1/b/sdk-multipart/o/big.bin');
      assert.equal(object.status, 200);
      assert.equal(object.body.crc32c, crcOf(whole));
      assert.equal(object.body.md5Hash, undefined);
      assert.equal(object.body.componentCount, 3);
      assert.equal(object.body.size, String(whole.length));
      assert.equal(object.body.contentType, 'application/x-big');
      assert.deepEqual(
        await s3Code(
          s3.send(new ListPartsCommand({ Bucket: 'sdk-multipart', Key: 'big.bin', UploadId: uploadId })),
        ),
        { code: 'NoSuchUpload', status: 404 },
      );
    });

    it('copies part ranges and aborts uploads', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-part-copy' }));
      const source = randomBytes(6 * MIB);
      await s3.send(new PutObjectCommand({ Bucket: 'sdk-part-copy', Key: 'source', Body: source }));
      const created = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'sdk-part-copy', Key: 'assembled' }),
      );
      const uploadId = created.UploadId ?? '';
      const first = await s3.send(
        new UploadPartCopyCommand({
          Bucket: 'sdk-part-copy',
          Key: 'assembled',
          UploadId: uploadId,
          PartNumber: 1,
          CopySource: 'sdk-part-copy/source',
          CopySourceRange: `bytes=0-${String(5 * MIB - 1)}`,
        }),
      );
      const second = await s3.send(
        new UploadPartCopyCommand({
          Bucket: 'sdk-part-copy',
          Key: 'assembled',
          UploadId: uploadId,
          PartNumber: 2,
          CopySource: 'sdk-part-copy/source',
          CopySourceRange: `bytes=${String(5 * MIB)}-${String(6 * MIB - 1)}`,
        }),
      );
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'sdk-part-copy',
          Key: 'assembled',
          UploadId: uploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 1, ETag: first.CopyPartResult?.ETag },
              { PartNumber: 2, ETag: second.CopyPartResult?.ETag },
            ],
          },
        }),
      );
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk-part-copy', Key: 'assembled' }));
      assert.ok(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(source));
      const aborted = await s3.send(
        new CreateMultipartUploadCommand({ Bucket: 'sdk-part-copy', Key: 'dropped' }),
      );
      await s3.send(
        new AbortMultipartUploadCommand({
          Bucket: 'sdk-part-copy',
          Key: 'dropped',
          UploadId: aborted.UploadId,
        }),
      );
      assert.deepEqual(
        await s3Code(
          s3.send(
            new UploadPartCommand({
              Bucket: 'sdk-part-copy',
              Key: 'dropped',
              UploadId: aborted.UploadId,
              PartNumber: 1,
              Body: 'x',
            }),
          ),
        ),
        { code: 'NoSuchUpload', status: 404 },
      );
    });

    it('streams an upload (aws-chunked with a trailing checksum) and refuses a corrupted one', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-streaming' }));
      const data = randomBytes(300_000);
      await s3.send(
        new PutObjectCommand({
          Bucket: 'sdk-streaming',
          Key: 'streamed.bin',
          Body: Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]),
          ContentLength: data.length,
        }),
      );
      const object = await json('GET', '/storage/v1/b/sdk-streaming/o/streamed.bin');
      assert.equal(object.body.size, String(data.length));
      assert.equal(object.body.crc32c, crcOf(data));
      assert.deepEqual(
        await s3Code(
          s3.send(
            new PutObjectCommand({
              Bucket: 'sdk-streaming',
              Key: 'corrupt.bin',
              Body: data,
              ChecksumCRC32C: crcOf(Buffer.from('something else')),
            }),
          ),
        ),
        { code: 'BadDigest', status: 400 },
      );
      assert.equal((await json('GET', '/storage/v1/b/sdk-streaming/o/corrupt.bin')).status, 404);
    });

    it('addresses buckets virtual-hosted style (BUCKET.localhost)', async () => {
      // Node does not resolve *.localhost: the agent's lookup sends every name to 127.0.0.1.
      const lookup = (
        _host: string,
        options: { all?: boolean },
        callback: (
          error: Error | null,
          address: string | { address: string; family: number }[],
          family?: number,
        ) => void,
      ): void => {
        if (options.all === true) {
          callback(null, [{ address: '127.0.0.1', family: 4 }]);
        } else {
          callback(null, '127.0.0.1', 4);
        }
      };
      const hosted = new S3Client({
        ...baseConfig,
        endpoint: `http://localhost:${new URL(s3Url).port}`,
        forcePathStyle: false,
        requestHandler: { httpAgent: new Agent({ lookup }) },
      });
      try {
        await hosted.send(new CreateBucketCommand({ Bucket: 'sdk-hosted' }));
        await hosted.send(new PutObjectCommand({ Bucket: 'sdk-hosted', Key: 'a/b.txt', Body: 'hosted' }));
        const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk-hosted', Key: 'a/b.txt' }));
        assert.equal(await got.Body?.transformToString(), 'hosted');
        const listed = await hosted.send(new ListObjectsV2Command({ Bucket: 'sdk-hosted' }));
        assert.deepEqual(
          listed.Contents?.map((item) => item.Key),
          ['a/b.txt'],
        );
      } finally {
        hosted.destroy();
      }
    });

    it('reads a JSON-API upload back through S3 with its md5 ETag and generation', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'sdk-cross-face' }));
      const data = randomBytes(200_000);
      const res = await t.app.inject({
        method: 'POST',
        url: '/upload/storage/v1/b/sdk-cross-face/o?uploadType=media&name=from-json.bin',
        headers: { ...bearer(t.ownerToken), 'content-type': 'application/octet-stream' },
        payload: data,
      });
      assert.equal(res.statusCode, 200);
      const uploaded = res.json<{ generation: string }>();
      const got = await s3.send(new GetObjectCommand({ Bucket: 'sdk-cross-face', Key: 'from-json.bin' }));
      assert.equal(got.ETag, `"${md5Hex(data)}"`);
      assert.equal(got.$metadata.httpStatusCode, 200);
      assert.ok(Buffer.from((await got.Body?.transformToByteArray()) ?? []).equals(data));
      const head = await fetch(`${s3Url}/sdk-cross-face/from-json.bin`, { method: 'HEAD' });
      assert.equal(head.headers.get('x-goog-generation'), uploaded.generation);
    });
  });
}

for (const signing of SIGNING_MODES) {
  sdkSuite(signing);
}
