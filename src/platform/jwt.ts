import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

/** Minimal RS256 JSON Web Tokens on node:crypto (no third-party JWT code). */
export interface JwtHeader {
  alg: string;
  typ?: string;
  kid?: string;
}

export type JwtClaims = Record<string, unknown> & {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  iat?: number;
  scope?: string;
};

export interface DecodedJwt {
  header: JwtHeader;
  claims: JwtClaims;
  signingInput: string;
  signature: Buffer;
}

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

export function signJwt(claims: JwtClaims, privateKeyPem: string | KeyObject, kid?: string): string {
  const header: JwtHeader =
    kid === undefined ? { alg: 'RS256', typ: 'JWT' } : { alg: 'RS256', typ: 'JWT', kid };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const key = typeof privateKeyPem === 'string' ? createPrivateKey(privateKeyPem) : privateKeyPem;
  const signature = sign('sha256', Buffer.from(signingInput), key);
  return `${signingInput}.${b64url(signature)}`;
}

/** Parses without verifying; undefined when the text is not a JWT. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) {
    return undefined;
  }
  const [h, c, s] = parts as [string, string, string];
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof claims !== 'object' || claims === null) {
      return undefined;
    }
    if (typeof (header as JwtHeader).alg !== 'string') {
      return undefined;
    }
    return {
      header: header as JwtHeader,
      claims: claims as JwtClaims,
      signingInput: `${h}.${c}`,
      signature: Buffer.from(s, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

export function verifyJwtSignature(jwt: DecodedJwt, publicKeyPem: string | KeyObject): boolean {
  if (jwt.header.alg !== 'RS256') {
    return false;
  }
  const key = typeof publicKeyPem === 'string' ? createPublicKey(publicKeyPem) : publicKeyPem;
  return verify('sha256', Buffer.from(jwt.signingInput), key, jwt.signature);
}
