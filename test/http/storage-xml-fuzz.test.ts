/**
 * Bad input over the Cloud Storage XML face's real S3 port (path-style, the anonymous owner of a
 * loopback server): malformed XML for CompleteMultipartUpload / DeleteObjects / CORS / lifecycle /
 * versioning, bad part numbers, out-of-order and inconsistent completes, huge headers, bad ranges,
 * odd names (`..`, NUL, over-long). Every answer must be the right S3 error (or a success where S3
 * accepts the input), never a 5xx; the server stays up and an object stored before still reads back.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { crc32 } from '@node-rs/crc32';
import { startXmlPort } from '../../src/services/storage/xml/index.ts';
import { startTestServer, type TestApp } from '../helpers.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  code: string | undefined;
}

const MIB = 1024 * 1024;
const BUCKET = 'xml-fuzz';
const KEEP = Buffer.from('this object must survive the fuzzing\n');

/** Every status seen, to assert no 5xx at the end as well as per call. */
const seen: { what: string; status: number }[] = [];

function codeOf(body: Buffer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1];
}

describe('XML face: bad input fuzz', () => {
  let t: TestApp & { url: string };
  let port = 0;

  /** One request on a fresh connection; `path` is sent exactly as given. */
  const call = async (
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: Buffer | string } = {},
  ): Promise<Reply> => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method, path, agent: false, headers: options.headers ?? {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const body = Buffer.concat(chunks);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body, code: codeOf(body) });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(options.body);
    });
    seen.push({ what: `${method} ${path.slice(0, 80)}`, status: reply.status });
    assert.ok(
      reply.status < 500,
      `${method} ${path.slice(0, 80)} -> ${String(reply.status)} ${reply.body.toString()}`,
    );
    return reply;
  };

  /** Raw bytes on a socket (for request lines Node's client refuses to send); the status line's code. */
  const rawStatus = async (bytes: Buffer | string): Promise<number> => {
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => {
        received += chunk;
      });
      socket.on('end', () => {
        resolve(received);
      });
      socket.on('close', () => {
        resolve(received);
      });
      socket.on('error', reject);
      socket.end(bytes);
    });
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    seen.push({ what: 'raw', status });
    return status;
  };

  const expectError = (reply: Reply, status: number, codes: string[]): void => {
    assert.equal(reply.status, status, reply.body.toString());
    assert.ok(
      reply.code !== undefined && codes.includes(reply.code),
      `expected ${codes.join('|')}, got ${String(reply.code)}: ${reply.body.toString()}`,
    );
  };

  const createUpload = async (key: string): Promise<string> => {
    const created = await call('POST', `/${BUCKET}/${key}?uploads`);
    assert.equal(created.status, 200, created.body.toString());
    const id = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body.toString())?.[1];
    assert.ok(id !== undefined);
    return id;
  };

  const putPart = async (key: string, uploadId: string, part: number, data: Buffer): Promise<string> => {
    const put = await call(
      'PUT',
      `/${BUCKET}/${key}?partNumber=${String(part)}&uploadId=${encodeURIComponent(uploadId)}`,
      {
        body: data,
      },
    );
    assert.equal(put.status, 200, put.body.toString());
    return String(put.headers.etag);
  };

  const completeBody = (parts: [number, string][]): string =>
    `<CompleteMultipartUpload>${parts
      .map(([n, etag]) => `<Part><PartNumber>${String(n)}</PartNumber><ETag>${etag}</ETag></Part>`)
      .join('')}</CompleteMultipartUpload>`;

  const MALFORMED_XML = [
    '',
    'not xml at all',
    '<',
    '<CompleteMultipartUpload>',
    '<?xml version="1.0"?><Unclosed><a></Unclosed>',
    `${'<a>'.repeat(20_000)}${'</a>'.repeat(20_000)}`,
    '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><x>&c;</x>',
    '\u0000\u0001\u0002',
    Buffer.from([0xff, 0xfe, 0x00, 0x3c]).toString('latin1'),
  ];

  before(async () => {
    t = await startTestServer({ s3Port: 0 });
    port = (await startXmlPort(t.platform)) ?? 0;
    assert.ok(port > 0);
    assert.equal((await call('PUT', `/${BUCKET}`)).status, 200);
    assert.equal((await call('PUT', `/${BUCKET}/keep/me.txt`, { body: KEEP })).status, 200);
  });

  after(async () => {
    await t.dispose();
  });

  it('CompleteMultipartUpload with malformed XML -> 400 MalformedXML, the upload survives', async () => {
    const uploadId = await createUpload('mp/malformed');
    const etag = await putPart('mp/malformed', uploadId, 1, Buffer.from('only part'));
    for (const body of MALFORMED_XML) {
      const reply = await call('POST', `/${BUCKET}/mp/malformed?uploadId=${encodeURIComponent(uploadId)}`, {
        body,
      });
      expectError(reply, 400, ['MalformedXML', 'InvalidRequest']);
    }
    // Well-formed but empty or nonsense parts.
    for (const body of [
      '<CompleteMultipartUpload></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>',
    ]) {
      const reply = await call('POST', `/${BUCKET}/mp/malformed?uploadId=${encodeURIComponent(uploadId)}`, {
        body,
      });
      expectError(reply, 400, ['MalformedXML', 'InvalidPart', 'InvalidArgument']);
    }
    const done = await call('POST', `/${BUCKET}/mp/malformed?uploadId=${encodeURIComponent(uploadId)}`, {
      body: completeBody([[1, etag]]),
    });
    assert.equal(done.status, 200, done.body.toString());
    assert.equal((await call('GET', `/${BUCKET}/mp/malformed`)).body.toString(), 'only part');
  });

  it('DeleteObjects, CORS, lifecycle and versioning with malformed XML -> 400, nothing changes', async () => {
    for (const body of MALFORMED_XML) {
      const md5 = createHash('md5').update(body).digest('base64');
      const headers = { 'content-md5': md5 };
      expectError(await call('POST', `/${BUCKET}?delete`, { body, headers }), 400, ['MalformedXML']);
      expectError(await call('PUT', `/${BUCKET}?cors`, { body, headers }), 400, ['MalformedXML']);
      expectError(await call('PUT', `/${BUCKET}?lifecycle`, { body, headers }), 400, ['MalformedXML']);
      expectError(await call('PUT', `/${BUCKET}?versioning`, { body, headers }), 400, [
        'MalformedXML',
        'IllegalVersioningConfigurationException',
      ]);
    }
    const badStatus = await call('PUT', `/${BUCKET}?versioning`, {
      body: '<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>',
    });
    expectError(badStatus, 400, ['MalformedXML', 'IllegalVersioningConfigurationException']);
    const tooMany = `<Delete>${Array.from({ length: 1001 }, (_, i) => `<Object><Key>k${String(i)}</Key></Object>`).join('')}</Delete>`;
    expectError(await call('POST', `/${BUCKET}?delete`, { body: tooMany }), 400, [
      'MalformedXML',
      'InvalidArgument',
    ]);
    const badCors =
      '<CORSConfiguration><CORSRule><AllowedMethod>EXPLODE</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>';
    // S3 refuses unknown methods (400 InvalidRequest); Google's CORS stores any method string.
    const cors = await call('PUT', `/${BUCKET}?cors`, { body: badCors });
    assert.ok(cors.status === 200 || cors.status === 400, String(cors.status));
    assert.ok((await call('DELETE', `/${BUCKET}?cors`)).status < 300);
    // Nothing was deleted or configured.
    assert.equal((await call('GET', `/${BUCKET}/keep/me.txt`)).status, 200);
    expectError(await call('GET', `/${BUCKET}?cors`), 404, ['NoSuchCORSConfiguration']);
    expectError(await call('GET', `/${BUCKET}?lifecycle`), 404, ['NoSuchLifecycleConfiguration']);
    assert.doesNotMatch((await call('GET', `/${BUCKET}?versioning`)).body.toString(), /<Status>/);
  });

  it('bad part numbers -> 400 InvalidArgument; a bad upload id -> 404 NoSuchUpload', async () => {
    const uploadId = await createUpload('mp/parts');
    for (const part of ['0', '10001', '-1', 'x', '1.5', '', '99999999999999999999', '0x1', ' 1']) {
      const reply = await call(
        'PUT',
        `/${BUCKET}/mp/parts?partNumber=${encodeURIComponent(part)}&uploadId=${encodeURIComponent(uploadId)}`,
        { body: 'data' },
      );
      expectError(reply, 400, ['InvalidArgument']);
    }
    expectError(
      await call('PUT', `/${BUCKET}/mp/parts?partNumber=1&uploadId=not-an-upload`, { body: 'data' }),
      404,
      ['NoSuchUpload'],
    );
    expectError(
      await call('POST', `/${BUCKET}/mp/parts?uploadId=not-an-upload`, { body: completeBody([[1, '"x"']]) }),
      404,
      ['NoSuchUpload'],
    );
    // The edges are accepted.
    await putPart('mp/parts', uploadId, 1, Buffer.from('a'));
    await putPart('mp/parts', uploadId, 10000, Buffer.from('b'));
    const listed = await call('GET', `/${BUCKET}/mp/parts?uploadId=${encodeURIComponent(uploadId)}`);
    assert.match(listed.body.toString(), /<PartNumber>10000<\/PartNumber>/);
    assert.equal(
      (await call('DELETE', `/${BUCKET}/mp/parts?uploadId=${encodeURIComponent(uploadId)}`)).status,
      204,
    );
  });

  it('out-of-order, unknown, mismatched and too-small completes are refused; the right one works', async () => {
    const key = 'mp/order';
    const uploadId = await createUpload(key);
    const first = randomBytes(5 * MIB);
    const second = randomBytes(1000);
    const e1 = await putPart(key, uploadId, 1, first);
    const e2 = await putPart(key, uploadId, 2, second);
    const path = `/${BUCKET}/${key}?uploadId=${encodeURIComponent(uploadId)}`;
    expectError(
      await call('POST', path, {
        body: completeBody([
          [2, e2],
          [1, e1],
        ]),
      }),
      400,
      ['InvalidPartOrder'],
    );
    expectError(
      await call('POST', path, {
        body: completeBody([
          [1, e1],
          [1, e1],
        ]),
      }),
      400,
      ['InvalidPartOrder'],
    );
    expectError(
      await call('POST', path, {
        body: completeBody([
          [1, e1],
          [3, e2],
        ]),
      }),
      400,
      ['InvalidPart'],
    );
    expectError(
      await call('POST', path, {
        body: completeBody([
          [1, e2],
          [2, e2],
        ]),
      }),
      400,
      ['InvalidPart'],
    );
    // A small part that is not the last one.
    const small = await createUpload('mp/small');
    const s1 = await putPart('mp/small', small, 1, Buffer.from('tiny'));
    const s2 = await putPart('mp/small', small, 2, Buffer.from('tiny too'));
    expectError(
      await call('POST', `/${BUCKET}/mp/small?uploadId=${encodeURIComponent(small)}`, {
        body: completeBody([
          [1, s1],
          [2, s2],
        ]),
      }),
      400,
      ['EntityTooSmall'],
    );
    const done = await call('POST', path, {
      body: completeBody([
        [1, e1],
        [2, e2],
      ]),
    });
    assert.equal(done.status, 200, done.body.toString());
    const got = await call('GET', `/${BUCKET}/${key}`);
    assert.ok(got.body.equals(Buffer.concat([first, second])));
    // Completing twice: the upload is gone.
    expectError(
      await call('POST', path, {
        body: completeBody([
          [1, e1],
          [2, e2],
        ]),
      }),
      404,
      ['NoSuchUpload'],
    );
  });

  it('huge and odd headers -> 4xx, never 5xx', async () => {
    const huge = await call('GET', `/${BUCKET}/keep/me.txt`, {
      headers: { 'x-amz-meta-big': 'x'.repeat(20_000) },
    });
    assert.equal(huge.status, 431);
    const manyMeta: Record<string, string> = {};
    for (let i = 0; i < 200; i += 1) {
      manyMeta[`x-amz-meta-k${String(i)}`] = 'v'.repeat(60);
    }
    const meta = await call('PUT', `/${BUCKET}/meta/many`, { headers: manyMeta, body: 'x' });
    assert.ok(meta.status === 200 || meta.status === 400, String(meta.status));
    const oddHeaders: Record<string, string>[] = [
      { 'content-md5': 'not base64!' },
      { 'content-md5': createHash('md5').update('other').digest('base64') },
      { 'x-amz-checksum-crc32c': '????' },
      { 'x-amz-copy-source': '%%%' },
      { 'x-amz-copy-source': '/no-such-bucket-anywhere/x' },
      { 'x-amz-storage-class': 'SUPER_FAST' },
      { 'if-match': '' },
      { 'x-goog-if-generation-match': 'abc' },
      { 'x-amz-tagging': '&&&==&' },
      { 'x-amz-decoded-content-length': '-5', 'content-encoding': 'aws-chunked' },
    ];
    for (const headers of oddHeaders) {
      const reply = await call('PUT', `/${BUCKET}/odd/headers`, { headers, body: 'payload' });
      assert.ok(
        reply.status >= 400 || reply.status === 200,
        `${JSON.stringify(headers)} -> ${String(reply.status)}`,
      );
    }
    expectError(
      await call('PUT', `/${BUCKET}/odd/md5`, {
        headers: { 'content-md5': createHash('md5').update('other').digest('base64') },
        body: 'payload',
      }),
      400,
      ['BadDigest'],
    );
    expectError(
      await call('PUT', `/${BUCKET}/odd/class`, {
        headers: { 'x-amz-storage-class': 'SUPER_FAST' },
        body: 'p',
      }),
      400,
      ['InvalidStorageClass'],
    );
    expectError(
      await call('PUT', `/${BUCKET}/odd/copy`, {
        headers: { 'x-amz-copy-source': '/no-such-bucket-anywhere/x' },
      }),
      404,
      ['NoSuchBucket'],
    );
    assert.equal((await call('GET', `/${BUCKET}/odd/md5`)).status, 404, 'a bad digest stored nothing');
  });

  it('bad ranges: 416 InvalidRange past the end, otherwise ignored or honoured', async () => {
    const size = KEEP.length;
    const past = await call('GET', `/${BUCKET}/keep/me.txt`, {
      headers: { range: `bytes=${String(size + 10)}-` },
    });
    expectError(past, 416, ['InvalidRange']);
    assert.equal(past.headers['content-range'], `bytes */${String(size)}`);
    for (const range of [
      'bytes=5-2',
      'bytes=abc',
      'items=0-1',
      'bytes=',
      'bytes=--1',
      'bytes=0-0,5-6',
      `bytes=0-${'9'.repeat(40)}`,
    ]) {
      const reply = await call('GET', `/${BUCKET}/keep/me.txt`, { headers: { range } });
      assert.ok([200, 206, 416].includes(reply.status), `${range} -> ${String(reply.status)}`);
      if (reply.status === 200) {
        assert.ok(reply.body.equals(KEEP), range);
      }
    }
    const suffix = await call('GET', `/${BUCKET}/keep/me.txt`, { headers: { range: 'bytes=-5' } });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.body.toString(), KEEP.subarray(size - 5).toString());
  });

  it('names with .., NUL, control characters, bad escapes or over 1024 bytes are refused or literal', async () => {
    for (const path of [`/${BUCKET}/a%00b`, `/${BUCKET}/%00`, `/${BUCKET}/${'k'.repeat(1025)}`]) {
      const reply = await call('PUT', path, { body: 'x' });
      assert.equal(
        reply.status,
        400,
        `${path.slice(0, 60)} -> ${String(reply.status)} ${reply.body.toString()}`,
      );
      assert.ok(reply.code !== undefined, reply.body.toString());
    }
    for (const path of [`/${BUCKET}/..`, `/${BUCKET}/.`, `/${BUCKET}/%2E%2E`]) {
      const reply = await call('PUT', path, { body: 'x' });
      assert.equal(reply.status, 400, `${path} -> ${String(reply.status)} ${reply.body.toString()}`);
    }
    // `..` segments are never resolved against other keys: the stored object is untouched.
    for (const path of [`/${BUCKET}/x/../keep/me.txt`, `/${BUCKET}/keep/../keep/me.txt`]) {
      const reply = await call('PUT', path, { body: 'overwrite attempt' });
      assert.ok(reply.status === 200 || reply.status === 400, `${path} -> ${String(reply.status)}`);
    }
    // A raw NUL or space in the request line is refused by the HTTP parser.
    assert.equal(await rawStatus(`GET /${BUCKET}/a\u0000b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`), 400);
    assert.equal(await rawStatus(`GET /${BUCKET}/a b HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`), 400);
    // Odd methods and bucket names.
    assert.ok([404, 405, 501].includes((await call('PROPFIND', `/${BUCKET}/keep/me.txt`)).status));
    expectError(await call('PUT', '/UPPER_case'), 400, ['InvalidBucketName']);
    expectError(await call('PUT', `/${'b'.repeat(300)}`), 400, ['InvalidBucketName']);
  });

  it('a bad percent-escape in the key -> 400 (refused before routing)', async () => {
    const reply = await call('PUT', `/${BUCKET}/bad%zzescape`, { body: 'x' });
    assert.equal(reply.status, 400);
  });

  it('requests refused before routing are answered with S3 XML errors on the S3 port', async () => {
    const escape = await call('PUT', `/${BUCKET}/bad%zzescape`, { body: 'x' });
    assert.equal(escape.status, 400);
    assert.equal(escape.code, 'InvalidURI', escape.body.toString());
    const method = await call('PROPFIND', `/${BUCKET}/keep/me.txt`);
    assert.equal(method.status, 405);
    assert.equal(method.code, 'MethodNotAllowed', method.body.toString());
  });

  /** An unsigned aws-chunked body with a CRC32 trailer, as SDKs send by default. */
  const chunkedUpload = (data: Buffer, trailerValue: string, cut = 0) => {
    const framed = Buffer.concat([
      Buffer.from(`${data.length.toString(16)}\r\n`),
      data,
      Buffer.from(`\r\n0\r\nx-amz-checksum-crc32:${trailerValue}\r\n\r\n`),
    ]);
    return {
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
      },
      body: framed.subarray(0, framed.length - cut),
    };
  };
  const crc32Base64 = (data: Buffer): string => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(data) >>> 0);
    return out.toString('base64');
  };

  it('aws-chunked bodies: a right trailer stores, a wrong one is BadDigest, a cut one IncompleteBody', async () => {
    const data = randomBytes(3000);
    const good = await call('PUT', `/${BUCKET}/chunked/good`, chunkedUpload(data, crc32Base64(data)));
    assert.equal(good.status, 200, good.body.toString());
    assert.ok((await call('GET', `/${BUCKET}/chunked/good`)).body.equals(data));
    const wrong = await call(
      'PUT',
      `/${BUCKET}/chunked/wrong`,
      chunkedUpload(data, crc32Base64(Buffer.from('x'))),
    );
    expectError(wrong, 400, ['BadDigest']);
    const cut = await call('PUT', `/${BUCKET}/chunked/cut`, chunkedUpload(data, crc32Base64(data), 40));
    expectError(cut, 400, ['IncompleteBody']);
    const garbage = await call('PUT', `/${BUCKET}/chunked/garbage`, {
      headers: chunkedUpload(data, '').headers,
      body: 'zz;not-hex\r\nabc\r\n',
    });
    assert.equal(garbage.status, 400, garbage.body.toString());
    for (const key of ['wrong', 'cut', 'garbage']) {
      assert.equal((await call('HEAD', `/${BUCKET}/chunked/${key}`)).status, 404, `${key} stored nothing`);
    }
  });

  it('aws-chunked PutObject echoes the trailer checksum (x-amz-checksum-crc32), as S3 does', async () => {
    const data = randomBytes(100);
    const reply = await call('PUT', `/${BUCKET}/chunked/echo`, chunkedUpload(data, crc32Base64(data)));
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['x-amz-checksum-crc32'], crc32Base64(data));
  });

  it('the server is still up, nothing was lost and no answer was a 5xx', async () => {
    const kept = await call('GET', `/${BUCKET}/keep/me.txt`);
    assert.equal(kept.status, 200);
    assert.ok(kept.body.equals(KEEP), 'the object stored before the fuzzing reads back unchanged');
    const list = await call('GET', `/${BUCKET}?list-type=2&prefix=keep/`);
    assert.match(list.body.toString(), /<Key>keep\/me\.txt<\/Key>/);
    assert.deepEqual(
      seen.filter((entry) => entry.status >= 500 || entry.status === 0),
      [],
    );
    assert.ok(seen.length > 100, `requests: ${String(seen.length)}`);
  });
});
