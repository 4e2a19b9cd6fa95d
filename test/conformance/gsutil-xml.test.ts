/**
 * `gsutil` (the installed Google Cloud SDK's, /usr/bin/gsutil) in XML API mode with an HMAC key
 * against a `nimbus start` process's XML face on its S3 port: a private boto config holds only
 * `gs_access_key_id`/`gs_secret_access_key`, `gs_host`/`gs_port`, `is_secure = False`,
 * `https_validate_certificates = False` and `prefer_api = xml`. gsutil's boto signs with `GOOG1`
 * (V2 HMAC-SHA1).
 *
 * Known client limitation: gsutil's downloads (`cp gs://... local`) copy `gs_port` from the boto config
 * onto the connection as a string (gslib/boto_translation.py `_AddCustomEndpointToKey`), and boto's
 * `server_name()` then fails with `TypeError: %d format` for any port but 80/443; so downloads are
 * checked with `gsutil cat`, which takes another path.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { childEnv } from '../nimbus-process.ts';
import { findTool, runTool, startS3Nimbus, type RunResult, type S3Nimbus } from './s3-clients.ts';

const GSUTIL = findTool('gsutil', ['/usr/bin/gsutil']);
const SKIP = GSUTIL === undefined ? 'gsutil (Google Cloud SDK) is not installed' : false;
if (SKIP !== false) {
  console.log(`# gsutil-xml: skipped: ${SKIP}`);
}

describe('gsutil in XML mode with an HMAC key', { skip: SKIP }, () => {
  let s: S3Nimbus;
  let env: Record<string, string>;

  const gsutil = async (...args: string[]): Promise<RunResult> =>
    await runTool(GSUTIL ?? 'gsutil', args, env, 120_000);
  const ok = async (...args: string[]): Promise<string> => {
    const result = await gsutil(...args);
    assert.equal(result.code, 0, `gsutil ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    s = await startS3Nimbus('gsutil-xml-test');
    const home = join(s.work, 'home');
    mkdirSync(home, { recursive: true });
    const boto = join(home, 'boto.cfg');
    writeFileSync(
      boto,
      [
        '[Credentials]',
        `gs_access_key_id = ${s.accessId}`,
        `gs_secret_access_key = ${s.secret}`,
        'gs_host = 127.0.0.1',
        `gs_port = ${new URL(s.s3Url).port}`,
        '[Boto]',
        'is_secure = False',
        'https_validate_certificates = False',
        'num_retries = 0',
        '[GSUtil]',
        'prefer_api = xml',
        'default_project_id = nimbus-local',
        'parallel_composite_upload_threshold = 0',
        '',
      ].join('\n'),
    );
    env = childEnv({
      HOME: home,
      BOTO_CONFIG: boto,
      BOTO_PATH: boto,
      CLOUDSDK_CONFIG: join(home, 'gcloud'),
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
      CLOUDSDK_CORE_PASS_CREDENTIALS_TO_GSUTIL: 'false',
    });
    // The bucket the object tests use, made through the JSON API (mb is tested on its own below).
    const made = await s.json('POST', '/storage/v1/b?project=nimbus-local', { name: 'gsutil-xml-main' });
    assert.equal(made.status, 200, JSON.stringify(made.body));
  });

  after(async () => {
    await s.dispose();
  });

  it('mb creates a bucket the JSON API sees', async () => {
    const result = await gsutil('mb', 'gs://gsutil-xml-made');
    assert.match(result.stderr, /Creating gs:\/\/gsutil-xml-made\//);
    const bucket = await s.json('GET', '/storage/v1/b/gsutil-xml-made');
    assert.equal(bucket.status, 200);
    assert.match(await ok('ls'), /^gs:\/\/gsutil-xml-made\/$/m);
    // A second mb is refused (409 on the XML face).
    const again = await gsutil('mb', 'gs://gsutil-xml-made');
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /already exists|409/i);
  });

  it('mb exits 0 (gsutil reads the new bucket back with GET ?storageClass)', async () => {
    await ok('mb', 'gs://gsutil-xml-exit');
    const meta = await s.json('GET', '/storage/v1/b/gsutil-xml-exit');
    assert.equal(meta.status, 200);
    assert.equal(meta.body.storageClass, 'STANDARD');
  });

  it('cp uploads, ls and ls -l list, cat reads, rm deletes', async () => {
    const local = join(s.work, 'hello.txt');
    writeFileSync(local, 'hello from gsutil over XML\n');
    await ok('cp', local, 'gs://gsutil-xml-main/dir/hello.txt');
    const meta = await s.json('GET', '/storage/v1/b/gsutil-xml-main/o/dir%2Fhello.txt');
    assert.equal(meta.status, 200);
    assert.equal(meta.body.size, '27');
    assert.equal(meta.body.contentType, 'text/plain');
    assert.equal(await ok('ls', 'gs://gsutil-xml-main/dir/'), 'gs://gsutil-xml-main/dir/hello.txt\n');
    assert.match(
      await ok('ls', '-l', 'gs://gsutil-xml-main/**'),
      /^\s+27\s+\S+Z\s+gs:\/\/gsutil-xml-main\/dir\/hello\.txt$/m,
    );
    assert.equal(await ok('cat', 'gs://gsutil-xml-main/dir/hello.txt'), 'hello from gsutil over XML\n');
    await ok('rm', 'gs://gsutil-xml-main/dir/hello.txt');
    assert.equal((await s.json('GET', '/storage/v1/b/gsutil-xml-main/o/dir%2Fhello.txt')).status, 404);
    const gone = await gsutil('ls', 'gs://gsutil-xml-main/dir/hello.txt');
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /matched no objects/);
  });

  it('a wrong secret is refused', async () => {
    const bad = join(s.work, 'home', 'bad-boto.cfg');
    writeFileSync(
      bad,
      [
        '[Credentials]',
        `gs_access_key_id = ${s.accessId}`,
        `gs_secret_access_key = ${'x'.repeat(40)}`,
        'gs_host = 127.0.0.1',
        `gs_port = ${new URL(s.s3Url).port}`,
        '[Boto]',
        'is_secure = False',
        'num_retries = 0',
        '[GSUtil]',
        'prefer_api = xml',
        '',
      ].join('\n'),
    );
    const result = await runTool(GSUTIL ?? 'gsutil', ['ls', 'gs://gsutil-xml-main'], {
      ...env,
      BOTO_CONFIG: bad,
      BOTO_PATH: bad,
    });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /403|SignatureDoesNotMatch|AccessDenied/);
  });
});
