/**
 * boto3 (requirements-test.txt, installed into .venv by scripts/bootstrap.sh) with its default
 * checksum settings against a `nimbus start` process's XML face, authenticated with an HMAC key:
 * python/s3_boto3_flows.py runs put/get/head/delete, a list v2 paginator with a delimiter, multipart
 * through upload_file with a 5 MiB TransferConfig threshold, copy, delete_objects, versioning, a
 * presigned GET and ClientError codes, and prints what it saw.
 *
 * It runs twice: over plain HTTP (botocore then sends CRC32 checksums as headers) and through a
 * loopback TLS terminator, where botocore streams uploads as `aws-chunked` with an
 * `x-amz-checksum-crc32` trailer (it only uses trailers over TLS); the terminator records the request
 * heads so the test sees that those framed uploads really happened.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT } from '../nimbus-process.ts';
import { awsEnv, runTool, startS3Nimbus, startTlsTerminator, type S3Nimbus } from './s3-clients.ts';

const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
const SCRIPT = fileURLToPath(new URL('./python/s3_boto3_flows.py', import.meta.url));
const MIB = 1024 * 1024;

function boto3Missing(): string | false {
  if (!existsSync(PYTHON)) {
    return `${PYTHON} is missing: run sh scripts/bootstrap.sh (it installs requirements-test.txt)`;
  }
  return false;
}

const SKIP = boto3Missing();
if (SKIP !== false) {
  console.log(`# s3-boto3: skipped: ${SKIP}`);
}

interface ErrorFact {
  code: string | null;
  status: number;
}

interface Facts {
  boto3: string;
  endpoint: string;
  checksumSetting: string;
  bucketListed: boolean;
  putETag: string;
  putChecksumCRC32: string | null;
  md5: string;
  getBody: boolean;
  getMetadata: Record<string, string>;
  getContentType: string;
  rangeBody: string;
  headLength: number;
  listKeys: string[];
  listPrefixes: string[];
  listPages: number;
  bigETag: string;
  bigLength: number;
  bigRoundTrip: boolean;
  copyBody: boolean;
  bigCopyLength: number;
  deletedKeys: string[];
  deleteErrors: unknown[];
  remainingA: string[];
  versioning: string;
  versionIds: string[];
  listedVersions: [string, boolean][];
  oldVersionBody: string;
  presignedStatus: number;
  presignedBody: boolean;
  presignedOtherKeyStatus: number;
  noSuchKey: ErrorFact;
  noSuchBucket: ErrorFact;
  preconditionFailed: ErrorFact;
  ifNoneMatchStar: ErrorFact;
  deletedHead: ErrorFact;
  wrongSecret: ErrorFact;
}

describe('boto3 against the XML face (HMAC SigV4, default checksums)', { skip: SKIP }, () => {
  let s: S3Nimbus;

  before(async () => {
    s = await startS3Nimbus('boto3-test');
  });

  after(async () => {
    await s.dispose();
  });

  const runFlows = async (
    bucket: string,
    endpoint: string,
    extra: Record<string, string> = {},
  ): Promise<Facts> => {
    const work = join(s.work, bucket);
    mkdirSync(work, { recursive: true });
    const result = await runTool(
      PYTHON,
      [SCRIPT],
      awsEnv(s, { AWS_ENDPOINT_URL_S3: endpoint, BUCKET: bucket, WORK: work, ...extra }),
      180_000,
    );
    assert.equal(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as Facts;
  };

  const checkFacts = async (facts: Facts, bucket: string, trailers: boolean): Promise<void> => {
    assert.equal(facts.checksumSetting, 'when_supported');
    assert.ok(facts.bucketListed);
    // put / get / head
    assert.equal(facts.putETag, `"${facts.md5}"`);
    if (!trailers) {
      // Sent as a header, echoed back. (Sent as an aws-chunked trailer, the face does not echo it yet.)
      assert.ok(facts.putChecksumCRC32 !== null, 'PutObject answered the CRC32 checksum it was sent');
    }
    assert.ok(facts.getBody);
    assert.deepEqual(facts.getMetadata, { colour: 'green' });
    assert.equal(facts.getContentType, 'text/plain');
    assert.equal(facts.rangeBody, 'boto3');
    assert.equal(facts.headLength, 1024);
    // list v2 paginator with a delimiter
    assert.deepEqual(facts.listKeys, ['list/a1', 'list/a2', 'list/a3', 'list/a4']);
    assert.deepEqual(facts.listPrefixes, ['list/d1/', 'list/d2/', 'list/d3/']);
    assert.ok(facts.listPages >= 4, `pages: ${String(facts.listPages)}`);
    // multipart through upload_file: 16 MiB + 123 in 5 MiB parts = 4 parts
    assert.match(facts.bigETag, /^"[0-9a-f]{32}-4"$/);
    assert.equal(facts.bigLength, 16 * MIB + 123);
    assert.ok(facts.bigRoundTrip);
    const composite = await s.json('GET', `/storage/v1/b/${bucket}/o/big.bin`);
    assert.equal(composite.body.componentCount, 4);
    // copy (a simple one and the managed multipart copy)
    assert.ok(facts.copyBody);
    assert.equal(facts.bigCopyLength, 16 * MIB + 123);
    // delete_objects
    assert.deepEqual(facts.deletedKeys, ['list/a1', 'list/a2', 'list/never-there']);
    assert.deepEqual(facts.deleteErrors, []);
    assert.deepEqual(facts.remainingA, ['list/a3', 'list/a4']);
    // versioning: VersionId = generation, newest first
    assert.equal(facts.versioning, 'Enabled');
    const [v1, v2] = facts.versionIds;
    assert.ok(v1 !== undefined && v2 !== undefined && v1 !== v2);
    assert.deepEqual(facts.listedVersions, [
      [v2, true],
      [v1, false],
    ]);
    assert.equal(facts.oldVersionBody, 'first');
    const live = await s.json('GET', `/storage/v1/b/${bucket}/o/v.txt`);
    assert.equal(live.body.generation, v2);
    // presigned GET
    assert.equal(facts.presignedStatus, 200);
    assert.ok(facts.presignedBody);
    assert.equal(facts.presignedOtherKeyStatus, 403);
    // ClientError codes
    assert.deepEqual(facts.noSuchKey, { code: 'NoSuchKey', status: 404 });
    assert.deepEqual(facts.noSuchBucket, { code: 'NoSuchBucket', status: 404 });
    assert.deepEqual(facts.preconditionFailed, { code: 'PreconditionFailed', status: 412 });
    assert.deepEqual(facts.ifNoneMatchStar, { code: 'PreconditionFailed', status: 412 });
    assert.equal(facts.deletedHead.status, 404);
    assert.deepEqual(facts.wrongSecret, { code: 'SignatureDoesNotMatch', status: 403 });
  };

  it('runs every flow over plain HTTP (checksums in headers)', async () => {
    const facts = await runFlows('boto3-plain', s.s3Url);
    assert.equal(facts.endpoint, s.s3Url);
    await checkFacts(facts, 'boto3-plain', false);
  });

  it('runs every flow over TLS, where uploads are aws-chunked with a CRC32 trailer', async () => {
    const tls = await startTlsTerminator(Number(new URL(s.s3Url).port));
    try {
      const endpoint = `https://127.0.0.1:${String(tls.port)}`;
      const facts = await runFlows('boto3-tls', endpoint, { S3_INSECURE_TLS: '1' });
      assert.equal(facts.endpoint, endpoint);
      await checkFacts(facts, 'boto3-tls', true);
      const heads = tls.seen().split('\n\n');
      const chunked = heads.filter(
        (head) => /^PUT /.test(head) && /^content-encoding: aws-chunked$/im.test(head),
      );
      assert.ok(chunked.length >= 2, `aws-chunked uploads seen: ${String(chunked.length)}`);
      assert.ok(
        chunked.every((head) => /^x-amz-trailer: x-amz-checksum-crc32$/im.test(head)),
        chunked.join('\n---\n'),
      );
    } finally {
      await tls.close();
    }
  });
});
