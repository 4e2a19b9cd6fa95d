import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeJwt, signJwt, verifyJwtSignature } from './jwt.ts';
import { selfSignedCertificate } from './x509.ts';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

describe('jwt', () => {
  it('signs and verifies RS256 tokens', () => {
    const token = signJwt({ sub: 'a', exp: 10 }, privateKey, 'kid1');
    const decoded = decodeJwt(token);
    assert.ok(decoded);
    assert.equal(decoded.header.kid, 'kid1');
    assert.equal(decoded.claims.sub, 'a');
    assert.equal(verifyJwtSignature(decoded, publicKey), true);
  });

  it('rejects a tampered token and non-RS256 algorithms', () => {
    const token = signJwt({ sub: 'a' }, privateKey);
    const [h, , s] = token.split('.');
    const forged = decodeJwt(`${h ?? ''}.${Buffer.from('{"sub":"root"}').toString('base64url')}.${s ?? ''}`);
    assert.ok(forged);
    assert.equal(verifyJwtSignature(forged, publicKey), false);
    const none = decodeJwt(
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.`,
    );
    assert.ok(none);
    assert.equal(verifyJwtSignature(none, publicKey), false);
  });

  it('returns undefined for text that is not a JWT', () => {
    assert.equal(decodeJwt('abc'), undefined);
    assert.equal(decodeJwt('a.b.c'), undefined);
  });
});

describe('x509', () => {
  it('issues a self-signed certificate Node can parse and verify', () => {
    const pem = selfSignedCertificate({
      commonName: 'robot@p.iam.gserviceaccount.com',
      serial: randomBytes(16),
      notBefore: Date.parse('2026-01-01T00:00:00Z'),
      notAfter: Date.parse('9999-12-31T23:59:59Z'),
      privateKey,
    });
    const cert = new X509Certificate(pem);
    assert.equal(cert.subject, 'CN=robot@p.iam.gserviceaccount.com');
    assert.equal(cert.verify(cert.publicKey), true);
    assert.equal(new Date(cert.validTo).getUTCFullYear(), 9999);
  });
});
