/**
 * Parser for Cloud Storage JSON API `uploadType=multipart` bodies (RFC 2387 `multipart/related`):
 * exactly two parts, the object resource as JSON and then the media. The media part is never
 * converted to a string; delimiters are located with `Buffer.indexOf` so binary data that contains
 * CR/LF or boundary-like bytes round-trips byte-exact.
 */
import { InvalidArgument } from '../../core/errors.ts';

export interface MultipartRelatedUpload {
  /** The object resource from the first (application/json) part. */
  metadata: Record<string, unknown>;
  /** The media part's own Content-Type, if it declared one. */
  mediaContentType: string | undefined;
  /** The media bytes, after any Content-Transfer-Encoding was undone. */
  data: Buffer;
}

interface MimePart {
  headers: Map<string, string>;
  body: Buffer;
}

/** RFC 2046 `bchars`: digits, letters and `'()+_,-./:=? ` (a space may not be the last character). */
const BOUNDARY_PATTERN = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;
const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const TAB = 0x09;
const HYPHEN = 0x2d;

function invalid(message: string): InvalidArgument {
  return new InvalidArgument(message, { reason: 'invalid' });
}

/**
 * Splits a Content-Type value into its lower-cased media type and parameters (names lower-cased,
 * quoted-string values unquoted). Returns undefined when the value is not well formed.
 */
function parseContentType(value: string): { mediaType: string; params: Map<string, string> } | undefined {
  const semicolon = value.indexOf(';');
  const mediaType = (semicolon === -1 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+\/[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(mediaType)) {
    return undefined;
  }
  const params = new Map<string, string>();
  let i = semicolon === -1 ? value.length : semicolon + 1;
  while (i < value.length) {
    while (i < value.length && /[\s;]/.test(value.charAt(i))) {
      i += 1;
    }
    if (i >= value.length) {
      break;
    }
    const equals = value.indexOf('=', i);
    if (equals === -1) {
      return undefined;
    }
    const name = value.slice(i, equals).trim().toLowerCase();
    i = equals + 1;
    let paramValue = '';
    if (value.charAt(i) === '"') {
      i += 1;
      let closed = false;
      while (i < value.length) {
        const ch = value.charAt(i);
        if (ch === '\\' && i + 1 < value.length) {
          paramValue += value.charAt(i + 1);
          i += 2;
        } else if (ch === '"') {
          closed = true;
          i += 1;
          break;
        } else {
          paramValue += ch;
          i += 1;
        }
      }
      if (!closed) {
        return undefined;
      }
      while (i < value.length && value.charAt(i) !== ';') {
        if (!/\s/.test(value.charAt(i))) {
          return undefined;
        }
        i += 1;
      }
    } else {
      const end = value.indexOf(';', i);
      paramValue = value.slice(i, end === -1 ? value.length : end).trim();
      i = end === -1 ? value.length : end;
    }
    if (name === '' || params.has(name)) {
      return undefined;
    }
    params.set(name, paramValue);
  }
  return { mediaType, params };
}

/**
 * The `boundary` parameter of a multipart Content-Type, unquoted, or undefined when the type is not
 * multipart or the boundary is missing or not a valid RFC 2046 boundary.
 */
export function multipartBoundary(contentType: string): string | undefined {
  const parsed = parseContentType(contentType);
  if (parsed === undefined || !parsed.mediaType.startsWith('multipart/')) {
    return undefined;
  }
  // apitools (gcloud, gsutil) quotes the boundary with single quotes in the header but not in the body.
  const raw = parsed.params.get('boundary');
  const boundary = raw !== undefined && /^'.+'$/.test(raw) ? raw.slice(1, -1) : raw;
  if (boundary === undefined || !BOUNDARY_PATTERN.test(boundary)) {
    return undefined;
  }
  return boundary;
}

/**
 * If `body[at..]` ends a delimiter line (optional transport padding, then CRLF or LF), returns the
 * offset just past the line break; if it starts `--` (the close delimiter), returns 'close';
 * otherwise returns undefined (the bytes only looked like a delimiter).
 */
function delimiterLineEnd(body: Buffer, at: number): number | 'close' | undefined {
  if (body[at] === HYPHEN && body[at + 1] === HYPHEN) {
    return 'close';
  }
  let i = at;
  while (body[i] === SPACE || body[i] === TAB) {
    i += 1;
  }
  if (body[i] === CR && body[i + 1] === LF) {
    return i + 2;
  }
  if (body[i] === LF) {
    return i + 1;
  }
  return undefined;
}

function splitParts(body: Buffer, boundary: string): MimePart[] {
  const dashBoundary = Buffer.from(`--${boundary}`, 'latin1');

  // The first delimiter may open the body or follow a preamble; either way it starts a line.
  let start: number | 'close' | undefined;
  let lineBreak: Buffer | undefined;
  let candidate = body.subarray(0, dashBoundary.length).equals(dashBoundary) ? 0 : -1;
  const bareDelimiter = Buffer.concat([Buffer.from('\n'), dashBoundary]);
  if (candidate === -1) {
    const found = body.indexOf(bareDelimiter);
    candidate = found === -1 ? -1 : found + 1;
  }
  while (candidate !== -1) {
    start = delimiterLineEnd(body, candidate + dashBoundary.length);
    if (start !== undefined) {
      // The first delimiter line fixes the body's line-break style for every later delimiter.
      lineBreak =
        typeof start === 'number' && body[start - 2] === CR ? Buffer.from('\r\n') : Buffer.from('\n');
      break;
    }
    const found = body.indexOf(bareDelimiter, candidate + 1);
    candidate = found === -1 ? -1 : found + 1;
  }
  if (start === undefined || lineBreak === undefined) {
    throw invalid('Multipart body has no boundary delimiter matching the Content-Type boundary.');
  }

  const delimiter = Buffer.concat([lineBreak, dashBoundary]);
  const parts: MimePart[] = [];
  while (typeof start === 'number') {
    const partStart: number = start;
    let next: number | 'close' | undefined;
    let end = partStart;
    for (let from = partStart; ; from = end + 1) {
      end = body.indexOf(delimiter, from);
      if (end === -1) {
        throw invalid('Multipart body is truncated: the closing boundary delimiter is missing.');
      }
      next = delimiterLineEnd(body, end + delimiter.length);
      if (next !== undefined) {
        break;
      }
    }
    parts.push(parsePart(body.subarray(partStart, end), lineBreak));
    start = next;
  }
  return parts;
}

function parsePart(raw: Buffer, lineBreak: Buffer): MimePart {
  const headers = new Map<string, string>();
  let bodyStart: number;
  if (raw.subarray(0, lineBreak.length).equals(lineBreak)) {
    bodyStart = lineBreak.length;
  } else {
    const headerEnd = raw.indexOf(Buffer.concat([lineBreak, lineBreak]));
    if (headerEnd === -1) {
      // Headers with no blank line after them: the part has headers and an empty body.
      if (raw.length === 0) {
        return { headers, body: raw };
      }
      throw invalid('Multipart part headers are not terminated by an empty line.');
    }
    bodyStart = headerEnd + lineBreak.length * 2;
    const lines = raw.subarray(0, headerEnd).toString('latin1').split(/\r?\n/);
    let previous: string | undefined;
    for (const line of lines) {
      if (/^[ \t]/.test(line) && previous !== undefined) {
        headers.set(previous, `${headers.get(previous) ?? ''} ${line.trim()}`.trim());
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) {
        throw invalid(`Malformed multipart part header: ${JSON.stringify(line)}.`);
      }
      previous = line.slice(0, colon).trim().toLowerCase();
      headers.set(previous, line.slice(colon + 1).trim());
    }
  }
  return { headers, body: decodeTransferEncoding(headers, raw.subarray(bodyStart)) };
}

function decodeTransferEncoding(headers: Map<string, string>, body: Buffer): Buffer {
  const encoding = (headers.get('content-transfer-encoding') ?? 'binary').toLowerCase();
  switch (encoding) {
    case 'binary':
    case '7bit':
    case '8bit':
      return body;
    case 'base64': {
      const text = body.toString('latin1').replace(/[\s]+/g, '');
      if (text.length % 4 !== 0 || !BASE64_PATTERN.test(text)) {
        throw invalid('Multipart part declares base64 Content-Transfer-Encoding but is not valid base64.');
      }
      return Buffer.from(text, 'base64');
    }
    default:
      throw invalid(`Unsupported Content-Transfer-Encoding: ${encoding}.`);
  }
}

/**
 * Parses a `multipart/related` upload body into the object metadata and the media bytes.
 * Throws InvalidArgument (400, reason `invalid`) on any malformation.
 */
export function parseMultipartRelated(contentType: string, body: Buffer): MultipartRelatedUpload {
  const parsed = parseContentType(contentType);
  if (parsed?.mediaType !== 'multipart/related') {
    throw invalid(`Content-Type must be multipart/related for a multipart upload, not ${contentType}.`);
  }
  const boundary = multipartBoundary(contentType);
  if (boundary === undefined) {
    throw invalid('Content-Type multipart/related is missing a valid boundary parameter.');
  }

  const parts = splitParts(body, boundary);
  const [metadataPart, mediaPart] = parts;
  if (parts.length !== 2 || metadataPart === undefined || mediaPart === undefined) {
    throw invalid(`Invalid multipart request with ${parts.length} mime parts.`);
  }

  const metadataType = metadataPart.headers.get('content-type');
  if (metadataType !== undefined && parseContentType(metadataType)?.mediaType !== 'application/json') {
    throw invalid(`The first part of a multipart upload must be application/json, not ${metadataType}.`);
  }
  let metadata: unknown;
  try {
    metadata = JSON.parse(metadataPart.body.toString('utf8'));
  } catch {
    throw invalid('The metadata part of a multipart upload is not valid JSON.');
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalid('The metadata part of a multipart upload must be a JSON object.');
  }

  const mediaContentType = mediaPart.headers.get('content-type');
  return {
    metadata: metadata as Record<string, unknown>,
    mediaContentType: mediaContentType === '' ? undefined : mediaContentType,
    data: mediaPart.body,
  };
}
