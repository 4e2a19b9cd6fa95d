import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { ApiError } from '../../core/errors.ts';
import { multipartBoundary, parseMultipartRelated } from './multipart.ts';

/** Exactly what python google-resumable-media's `construct_multipart_request` sends. */
function pythonBody(metadata: object, data: Buffer, contentType: string): { header: string; body: Buffer } {
  const boundary = `===============${String(Date.now()).padStart(19, '7')}==`;
  const sep = Buffer.from(`--${boundary}`);
  const body = Buffer.concat([
    sep,
    Buffer.from('\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n'),
    Buffer.from(JSON.stringify(metadata)),
    Buffer.from('\r\n'),
    sep,
    Buffer.from(`\r\ncontent-type: ${contentType}\r\n\r\n`),
    data,
    Buffer.from('\r\n'),
    sep,
    Buffer.from('--'),
  ]);
  return { header: `multipart/related; boundary="${boundary}"`, body };
}

/** Exactly what gaxios's `getMultipartRequest` (used by @google-cloud/storage) sends. */
function gaxiosBody(metadata: object, data: Buffer, contentType?: string): { header: string; body: Buffer } {
  const boundary = randomUUID();
  const parts = [
    { type: 'application/json', content: Buffer.from(JSON.stringify(metadata)) },
    { type: contentType ?? 'application/octet-stream', content: data },
  ];
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(
      Buffer.from(`--${boundary}\r\nContent-Type: ${part.type}\r\n\r\n`),
      part.content,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--`));
  return { header: `multipart/related; boundary=${boundary}`, body: Buffer.concat(chunks) };
}

function build(boundary: string, rawParts: (string | Buffer)[], eol = '\r\n', closing = true): Buffer {
  const chunks: Buffer[] = [];
  for (const part of rawParts) {
    chunks.push(Buffer.from(`--${boundary}${eol}`), Buffer.from(part), Buffer.from(eol));
  }
  if (closing) {
    chunks.push(Buffer.from(`--${boundary}--${eol}`));
  }
  return Buffer.concat(chunks);
}

function assertInvalid(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.httpStatus, 400);
    assert.equal(err.status, 'INVALID_ARGUMENT');
    assert.equal(err.reason, 'invalid');
    if (message !== undefined) {
      assert.match(err.message, message);
    }
    return true;
  });
}

describe('multipartBoundary', () => {
  it('reads plain, quoted and case-insensitive boundary parameters', () => {
    assert.equal(multipartBoundary('multipart/related; boundary=abc123'), 'abc123');
    assert.equal(
      multipartBoundary('multipart/related; boundary="===============123=="'),
      '===============123==',
    );
    assert.equal(multipartBoundary('Multipart/Related; charset=utf-8;BOUNDARY="a b"'), 'a b');
    assert.equal(multipartBoundary('multipart/related; boundary="q\\"x"'), undefined);
  });

  it('returns undefined for a missing, empty, over-long or non-multipart boundary', () => {
    assert.equal(multipartBoundary('multipart/related'), undefined);
    assert.equal(multipartBoundary('multipart/related; boundary='), undefined);
    assert.equal(multipartBoundary('multipart/related; boundary=""'), undefined);
    assert.equal(multipartBoundary(`multipart/related; boundary=${'x'.repeat(71)}`), undefined);
    assert.equal(multipartBoundary('multipart/related; boundary="ends with space "'), undefined);
    assert.equal(multipartBoundary('application/json; boundary=abc'), undefined);
    assert.equal(multipartBoundary('multipart/related; boundary="unterminated'), undefined);
  });
});

describe('parseMultipartRelated', () => {
  it('parses a body built the way python google-cloud-storage builds it', () => {
    const data = Buffer.from('hello from python\r\n');
    const { header, body } = pythonBody({ name: 'a/b.txt', metadata: { k: 'v' } }, data, 'text/plain');
    const result = parseMultipartRelated(header, body);
    assert.deepEqual(result.metadata, { name: 'a/b.txt', metadata: { k: 'v' } });
    assert.equal(result.mediaContentType, 'text/plain');
    assert.deepEqual(result.data, data);
  });

  it('parses a body built the way @google-cloud/storage (gaxios) builds it', () => {
    const data = Buffer.from('hello from node');
    const { header, body } = gaxiosBody({ name: 'obj', contentType: 'text/plain' }, data, 'text/plain');
    const result = parseMultipartRelated(header, body);
    assert.deepEqual(result.metadata, { name: 'obj', contentType: 'text/plain' });
    assert.equal(result.mediaContentType, 'text/plain');
    assert.deepEqual(result.data, data);
  });

  it('round-trips random binary payloads byte-exact, including boundary-like bytes', () => {
    for (let i = 0; i < 200; i += 1) {
      const boundary = randomUUID();
      const tricky = [
        Buffer.from('\r\n--'),
        Buffer.from(`\r\n--${boundary.slice(0, 10)}`),
        Buffer.from(`x\n--${boundary}\r\n`),
        Buffer.from(`\r\n--${boundary}x`),
        Buffer.from('\r'),
        Buffer.from('\n'),
        Buffer.from('\r\n\r\n'),
      ];
      const pieces: Buffer[] = [];
      const count = i % 6;
      for (let j = 0; j < count; j += 1) {
        pieces.push(randomBytes(i % 50), tricky[(i + j) % tricky.length] ?? Buffer.alloc(0));
      }
      const data = Buffer.concat(pieces);
      const body = build(boundary, [
        'Content-Type: application/json\r\n\r\n{"name":"x"}',
        Buffer.concat([Buffer.from('Content-Type: application/octet-stream\r\n\r\n'), data]),
      ]);
      const result = parseMultipartRelated(`multipart/related; boundary=${boundary}`, body);
      assert.deepEqual(result.data, data, `payload ${i}`);
    }
  });

  it('round-trips payloads through the python and gaxios builders', () => {
    for (const size of [0, 1, 2, 3, 1024, 65537]) {
      const data = Buffer.concat([randomBytes(size), Buffer.from('\r\n')]);
      for (const { header, body } of [
        pythonBody({ name: 'x' }, data, 'application/octet-stream'),
        gaxiosBody({ name: 'x' }, data),
      ]) {
        assert.deepEqual(parseMultipartRelated(header, body).data, data);
      }
    }
  });

  it('returns an empty payload for an empty media part', () => {
    const { header, body } = gaxiosBody({ name: 'empty' }, Buffer.alloc(0));
    assert.equal(parseMultipartRelated(header, body).data.length, 0);
  });

  it('accepts bare LF line endings, a preamble and an epilogue', () => {
    const body = Buffer.concat([
      Buffer.from('This is a preamble.\n--xyz\n'),
      Buffer.from('Content-Type: application/json\n\n{"name":"lf"}\n'),
      Buffer.from('--xyz\nContent-Type: image/png\n\nline1\r\nline2\n'),
      Buffer.from('--xyz--\nepilogue'),
    ]);
    const result = parseMultipartRelated('multipart/related; boundary=xyz', body);
    assert.deepEqual(result.metadata, { name: 'lf' });
    assert.equal(result.mediaContentType, 'image/png');
    assert.deepEqual(result.data, Buffer.from('line1\r\nline2'));
  });

  it('accepts a CRLF preamble and transport padding after the boundary', () => {
    const body = Buffer.from(
      'preamble\r\n--b  \r\nContent-Type: application/json\r\n\r\n{}\r\n--b\t\r\n\r\nraw\r\n--b--\r\n',
    );
    const result = parseMultipartRelated('multipart/related; boundary=b', body);
    assert.deepEqual(result.metadata, {});
    assert.equal(result.mediaContentType, undefined);
    assert.deepEqual(result.data, Buffer.from('raw'));
  });

  it('leaves mediaContentType undefined when the media part has no Content-Type', () => {
    const body = build('b', [
      'Content-Type: application/json\r\n\r\n{"name":"n"}',
      'X-Other: 1\r\n\r\npayload',
    ]);
    const result = parseMultipartRelated('multipart/related; boundary=b', body);
    assert.equal(result.mediaContentType, undefined);
    assert.deepEqual(result.data, Buffer.from('payload'));
  });

  it('decodes base64 Content-Transfer-Encoding, including line-wrapped base64', () => {
    const data = randomBytes(300);
    const wrapped = (data.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
    const body = build('b', [
      'Content-Type: application/json\r\n\r\n{"name":"b64"}',
      `Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: BASE64\r\n\r\n${wrapped}`,
    ]);
    const result = parseMultipartRelated('multipart/related; boundary=b', body);
    assert.deepEqual(result.data, data);
    assert.equal(result.mediaContentType, 'application/octet-stream');
  });

  it('rejects invalid base64 and unsupported transfer encodings', () => {
    const bad = build('b', [
      'Content-Type: application/json\r\n\r\n{}',
      'Content-Transfer-Encoding: base64\r\n\r\nnot*base64!',
    ]);
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', bad), /base64/);
    const qp = build('b', [
      'Content-Type: application/json\r\n\r\n{}',
      'Content-Transfer-Encoding: quoted-printable\r\n\r\nx',
    ]);
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', qp), /quoted-printable/);
  });

  it('rejects a missing or invalid boundary parameter with 400', () => {
    const body = build('b', ['Content-Type: application/json\r\n\r\n{}', '\r\nx']);
    assertInvalid(() => parseMultipartRelated('multipart/related', body), /boundary/);
    assertInvalid(
      () => parseMultipartRelated(`multipart/related; boundary=${'b'.repeat(71)}`, body),
      /boundary/,
    );
    assertInvalid(() => parseMultipartRelated('application/json', body), /multipart\/related/);
  });

  it('rejects a body whose boundary does not match the Content-Type', () => {
    const body = build('b', ['Content-Type: application/json\r\n\r\n{}', '\r\nx']);
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=other', body), /boundary/);
  });

  it('rejects fewer or more than two parts', () => {
    const one = build('b', ['Content-Type: application/json\r\n\r\n{}']);
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', one), /1 mime parts/);
    const none = Buffer.from('--b--\r\n');
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', none), /0 mime parts/);
    const three = build('b', ['Content-Type: application/json\r\n\r\n{}', '\r\nx', '\r\ny']);
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', three), /3 mime parts/);
  });

  it('rejects metadata that is not a JSON object', () => {
    for (const metadata of ['', '[1,2]', 'null', '"s"', '42', '{"name":']) {
      const body = build('b', [`Content-Type: application/json\r\n\r\n${metadata}`, '\r\nx']);
      assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', body), /JSON/);
    }
  });

  it('rejects a first part that is not application/json', () => {
    const body = build('b', ['Content-Type: text/plain\r\n\r\n{}', '\r\nx']);
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', body), /application\/json/);
  });

  it('rejects a truncated body with no closing delimiter', () => {
    const { header, body } = gaxiosBody({ name: 'x' }, randomBytes(100));
    for (const cut of [body.length - 2, body.length - 10, body.length - 60]) {
      assertInvalid(() => parseMultipartRelated(header, body.subarray(0, cut)), /truncated/);
    }
    const noClose = build('b', ['Content-Type: application/json\r\n\r\n{}', '\r\nx'], '\r\n', false);
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', noClose), /truncated/);
  });

  it('rejects malformed part headers', () => {
    const body = build('b', ['Content-Type: application/json\r\n\r\n{}', 'no colon here\r\n\r\nx']);
    assertInvalid(() => parseMultipartRelated('multipart/related; boundary=b', body), /header/);
  });
});
