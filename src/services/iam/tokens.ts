import { generateKeyPairSync } from 'node:crypto';
import type { Principal } from '../../core/auth.ts';
import type { Clock } from '../../core/clock.ts';
import { InvalidArgument, Unauthenticated } from '../../core/errors.ts';
import { hexId } from '../../core/ids.ts';
import type { TokenIssuer } from '../../core/platform.ts';
import {
  decodeJwt,
  signJwt,
  verifyJwtSignature,
  type DecodedJwt,
  type JwtClaims,
} from '../../platform/jwt.ts';
import type { IamStore, ServiceAccountRecord, SigningKeyRecord } from './store.ts';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
const ISSUER = 'https://nimbus.local';
const DEFAULT_LIFETIME_SECONDS = 3600;
/** Google accepts self-signed JWTs and assertions valid for at most one hour. */
const MAX_ASSERTION_SECONDS = 3600;
const CLOCK_SKEW_SECONDS = 300;

export interface TokenInfo {
  principal: Principal;
  claims: JwtClaims;
  expiresAt: number;
}

/**
 * Access tokens are RS256 JWTs signed with Nimbus's own key (made on first start, kept in the
 * store). A token names its principal and, for service accounts, the key that obtained it, so a
 * token stops working when its account or key is disabled or deleted.
 */
export class Tokens implements TokenIssuer {
  private signing: SigningKeyRecord | undefined;

  constructor(
    private readonly store: IamStore,
    private readonly clock: Clock,
    private readonly anonymous: () => Principal,
  ) {}

  private signingKey(): SigningKeyRecord {
    if (this.signing === undefined) {
      this.signing = this.store.getSigningKey();
    }
    if (this.signing === undefined) {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const key: SigningKeyRecord = {
        kid: `nimbus-${hexId(8)}`,
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      };
      this.store.putSigningKey(key);
      this.signing = key;
    }
    return this.signing;
  }

  /** Forgets the cached key (after `nimbus reset` wiped the store). */
  reload(): void {
    this.signing = undefined;
  }

  publicKeyPem(): { kid: string; pem: string } {
    const key = this.signingKey();
    return { kid: key.kid, pem: key.publicKeyPem };
  }

  issueAccessToken(
    principal: Principal,
    options: { scopes?: string[]; lifetimeSeconds?: number } = {},
  ): { accessToken: string; expiresIn: number } {
    const key = this.signingKey();
    const now = Math.floor(this.clock.now() / 1000);
    const expiresIn = options.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS;
    const scopes = options.scopes ?? [CLOUD_PLATFORM_SCOPE];
    const claims: JwtClaims = {
      iss: ISSUER,
      sub: principal.member,
      email: principal.email,
      scope: scopes.join(' '),
      iat: now,
      exp: now + expiresIn,
      jti: hexId(8),
    };
    if (principal.keyId !== undefined) {
      claims.sak = principal.keyId;
    }
    return { accessToken: signJwt(claims, key.privateKeyPem, key.kid), expiresIn };
  }

  /** Signs an OpenID Connect id token for `principal` with audience `audience`. */
  issueIdToken(principal: Principal, audience: string): string {
    const key = this.signingKey();
    const now = Math.floor(this.clock.now() / 1000);
    return signJwt(
      {
        iss: ISSUER,
        aud: audience,
        azp: principal.email,
        sub: principal.email,
        email: principal.email,
        email_verified: true,
        iat: now,
        exp: now + DEFAULT_LIFETIME_SECONDS,
      },
      key.privateKeyPem,
      key.kid,
    );
  }

  /** Resolves an Authorization header value; anonymous when absent. */
  authenticate(authorization: string | undefined): Principal {
    if (authorization === undefined || authorization === '') {
      return this.anonymous();
    }
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match?.[1] === undefined) {
      throw new Unauthenticated(
        'Request is missing required authentication credential. Expected OAuth 2 access token or other valid authentication credential.',
      );
    }
    return this.verifyBearer(match[1]).principal;
  }

  /** Verifies a Nimbus access token or a self-signed service-account JWT. */
  verifyBearer(token: string): TokenInfo {
    const jwt = decodeJwt(token);
    if (jwt === undefined) {
      throw new Unauthenticated();
    }
    const key = this.signingKey();
    if (jwt.header.kid === key.kid) {
      return this.verifyNimbusToken(jwt, key);
    }
    return this.verifySelfSigned(jwt, 'bearer');
  }

  /**
   * Verifies a JWT-bearer grant assertion (RFC 7523) signed with a service-account key and
   * returns the service account it speaks for.
   */
  verifyAssertion(assertion: string): TokenInfo {
    const jwt = decodeJwt(assertion);
    if (jwt === undefined) {
      throw new InvalidArgument('Invalid JWT: the assertion is not a JSON Web Token.', {
        reason: 'invalid_grant',
      });
    }
    return this.verifySelfSigned(jwt, 'assertion');
  }

  /**
   * STS subject tokens: a Nimbus access token, a Nimbus-signed OpenID token for a service account,
   * or a self-signed service-account JWT.
   */
  verifySubjectToken(token: string): TokenInfo {
    const jwt = decodeJwt(token);
    if (jwt === undefined) {
      throw new InvalidArgument('The subject token is not a JSON Web Token.', { reason: 'invalid_grant' });
    }
    const key = this.signingKey();
    const email = typeof jwt.claims.email === 'string' ? jwt.claims.email : '';
    const isIdToken = jwt.header.kid === key.kid && jwt.claims.aud !== undefined && jwt.claims.sub === email;
    if (!isIdToken) {
      try {
        return this.verifyBearer(token);
      } catch {
        throw new InvalidArgument('The subject token could not be verified.', { reason: 'invalid_grant' });
      }
    }
    const exp = typeof jwt.claims.exp === 'number' ? jwt.claims.exp : 0;
    if (!verifyJwtSignature(jwt, key.publicKeyPem) || exp <= this.clock.now() / 1000) {
      throw new InvalidArgument('The subject token is invalid or expired.', { reason: 'invalid_grant' });
    }
    this.requireActiveAccount(email);
    return {
      principal: { kind: 'serviceAccount', email, member: `serviceAccount:${email}`, scopes: [] },
      claims: jwt.claims,
      expiresAt: exp * 1000,
    };
  }

  private verifyNimbusToken(jwt: DecodedJwt, key: SigningKeyRecord): TokenInfo {
    if (!verifyJwtSignature(jwt, key.publicKeyPem)) {
      throw new Unauthenticated();
    }
    const now = this.clock.now() / 1000;
    const exp = typeof jwt.claims.exp === 'number' ? jwt.claims.exp : 0;
    if (exp <= now) {
      throw new Unauthenticated(
        'Request had invalid authentication credentials. The access token has expired.',
      );
    }
    const sub = typeof jwt.claims.sub === 'string' ? jwt.claims.sub : '';
    const email = typeof jwt.claims.email === 'string' ? jwt.claims.email : '';
    const scopes =
      typeof jwt.claims.scope === 'string' ? jwt.claims.scope.split(' ').filter((s) => s !== '') : [];
    const keyId = typeof jwt.claims.sak === 'string' ? jwt.claims.sak : undefined;
    let principal: Principal;
    if (sub.startsWith('serviceAccount:')) {
      this.requireActiveAccount(email);
      if (keyId !== undefined) {
        this.requireActiveKey(keyId, email);
      }
      principal = { kind: 'serviceAccount', email, member: sub, scopes };
      if (keyId !== undefined) {
        principal.keyId = keyId;
      }
    } else if (sub.startsWith('user:')) {
      principal = { kind: 'user', email, member: sub, scopes };
    } else {
      throw new Unauthenticated();
    }
    return { principal, claims: jwt.claims, expiresAt: exp * 1000 };
  }

  private verifySelfSigned(jwt: DecodedJwt, use: 'bearer' | 'assertion'): TokenInfo {
    const reject = (why: string): never => {
      if (use === 'assertion') {
        throw new InvalidArgument(`Invalid JWT: ${why}`, { reason: 'invalid_grant' });
      }
      throw new Unauthenticated();
    };
    const kid = jwt.header.kid;
    const iss = typeof jwt.claims.iss === 'string' ? jwt.claims.iss : '';
    const key = kid === undefined ? this.findKeyForIssuer(jwt, iss) : this.store.keyById(kid);
    if (key === undefined || key.email !== iss) {
      return reject('No valid verifier found for issuer.');
    }
    if (!verifyJwtSignature(jwt, key.publicKeyPem)) {
      return reject('Invalid JWT Signature.');
    }
    const now = this.clock.now() / 1000;
    const iat = typeof jwt.claims.iat === 'number' ? jwt.claims.iat : undefined;
    const exp = typeof jwt.claims.exp === 'number' ? jwt.claims.exp : undefined;
    if (iat === undefined || exp === undefined) {
      return reject('Token must contain iat and exp.');
    }
    if (exp <= now - CLOCK_SKEW_SECONDS || iat > now + CLOCK_SKEW_SECONDS) {
      return reject('Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    }
    if (exp - iat > MAX_ASSERTION_SECONDS) {
      return reject('Token must be a short-lived token (60 minutes) and in a reasonable timeframe.');
    }
    if (key.disabled) {
      return reject('The service account key is disabled.');
    }
    const account = this.store.getAccount(key.name.slice(0, key.name.indexOf('/keys/')));
    if (account === undefined || account.disabled) {
      return reject('The service account is disabled or does not exist.');
    }
    const scopeClaim = typeof jwt.claims.scope === 'string' ? jwt.claims.scope : CLOUD_PLATFORM_SCOPE;
    return {
      principal: {
        kind: 'serviceAccount',
        email: account.email,
        member: `serviceAccount:${account.email}`,
        scopes: scopeClaim.split(' ').filter((s) => s !== ''),
        keyId: key.keyId,
      },
      claims: jwt.claims,
      expiresAt: exp * 1000,
    };
  }

  private findKeyForIssuer(jwt: DecodedJwt, iss: string) {
    const project = /@([^.]+)\.iam\.gserviceaccount\.com$/.exec(iss)?.[1];
    if (project === undefined) {
      return undefined;
    }
    return this.store
      .listKeys(`projects/${project}/serviceAccounts/${iss}`)
      .find((key) => verifyJwtSignature(jwt, key.publicKeyPem));
  }

  private requireActiveAccount(email: string): ServiceAccountRecord {
    const account = this.store.accountByEmail(email);
    if (account === undefined || account.disabled) {
      throw new Unauthenticated(
        'Request had invalid authentication credentials. The service account is disabled or deleted.',
      );
    }
    return account;
  }

  private requireActiveKey(keyId: string, email: string): void {
    const key = this.store.keyById(keyId);
    if (key === undefined || key.disabled || key.email !== email) {
      throw new Unauthenticated(
        'Request had invalid authentication credentials. The service account key is disabled or deleted.',
      );
    }
  }
}
