import { createPublicKey, sign, type KeyObject } from 'node:crypto';

/**
 * A small DER encoder, just enough to issue the self-signed X.509 certificates Google returns as a
 * service-account key's public key data (TYPE_X509_PEM_FILE).
 */
function length(n: number): Buffer {
  if (n < 0x80) {
    return Buffer.from([n]);
  }
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) {
    bytes.unshift(v & 0xff);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
const utf8 = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));

function integer(bytes: Buffer): Buffer {
  let body = bytes;
  while (body.length > 1 && body[0] === 0 && ((body[1] ?? 0) & 0x80) === 0) {
    body = body.subarray(1);
  }
  if (((body[0] ?? 0) & 0x80) !== 0) {
    body = Buffer.concat([Buffer.from([0]), body]);
  }
  return tlv(0x02, body);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [(parts[0] ?? 0) * 40 + (parts[1] ?? 0)];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [part & 0x7f];
    for (let v = Math.floor(part / 128); v > 0; v = Math.floor(v / 128)) {
      chunk.unshift((v & 0x7f) | 0x80);
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '');
  const year = new Date(ms).getUTCFullYear();
  return year < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`)) : tlv(0x18, Buffer.from(`${digits}Z`));
}

const SHA256_WITH_RSA = sequence(oid('1.2.840.113549.1.1.11'), nullValue());

function commonName(cn: string): Buffer {
  return sequence(set(sequence(oid('2.5.4.3'), utf8(cn))));
}

export interface CertificateSpec {
  commonName: string;
  serial: Buffer;
  notBefore: number;
  notAfter: number;
  privateKey: KeyObject;
}

/** A self-signed RSA/SHA-256 certificate as PEM. */
export function selfSignedCertificate(spec: CertificateSpec): string {
  const spki = createPublicKey(spec.privateKey).export({ type: 'spki', format: 'der' });
  const name = commonName(spec.commonName);
  const tbs = sequence(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(spec.serial),
    SHA256_WITH_RSA,
    name,
    sequence(time(spec.notBefore), time(spec.notAfter)),
    name,
    spki,
  );
  const signature = sign('sha256', tbs, spec.privateKey);
  const der = sequence(tbs, SHA256_WITH_RSA, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const body = der.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN CERTIFICATE-----\n${body.trimEnd()}\n-----END CERTIFICATE-----\n`;
}
