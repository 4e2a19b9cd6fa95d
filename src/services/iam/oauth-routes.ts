import { createPublicKey } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidArgument } from '../../core/errors.ts';
import { paramsOf } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import type { Identity } from './identity.ts';
import { sendOAuthError } from './routes.ts';
import { CLOUD_PLATFORM_SCOPE } from './tokens.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

function fieldsOf(request: FastifyRequest): Record<string, string> {
  const body = request.body;
  if (typeof body !== 'object' || body === null) {
    return {};
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    if (typeof value === 'string') {
      out[key] = value;
    } else if (Array.isArray(value)) {
      out[key] = value.filter((v): v is string => typeof v === 'string').join(' ');
    }
  }
  return out;
}

/**
 * OAuth2 token endpoint (oauth2.googleapis.com/token), tokeninfo, STS token exchange
 * (sts.googleapis.com/v1/token) and the public certificate endpoints.
 */
export function registerOAuthRoutes(app: FastifyInstance, platform: Platform, identity: Identity): void {
  const { tokens, service } = identity;

  const tokenEndpoint = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    try {
      const fields = fieldsOf(request);
      if (fields.grant_type !== JWT_BEARER) {
        return await reply.code(400).send({
          error: 'unsupported_grant_type',
          error_description: `Invalid grant_type: ${fields.grant_type ?? ''}`,
        });
      }
      if (fields.assertion === undefined) {
        throw new InvalidArgument('Missing required parameter: assertion', { reason: 'invalid_request' });
      }
      const info = tokens.verifyAssertion(fields.assertion);
      const audience = info.claims.target_audience;
      if (typeof audience === 'string' && audience !== '') {
        return await reply.send({ id_token: tokens.issueIdToken(info.principal, audience) });
      }
      const scopes =
        typeof info.claims.scope === 'string' ? info.claims.scope.split(' ') : [CLOUD_PLATFORM_SCOPE];
      const issued = tokens.issueAccessToken(info.principal, { scopes });
      return await reply.send({
        access_token: issued.accessToken,
        expires_in: issued.expiresIn,
        token_type: 'Bearer',
      });
    } catch (error) {
      return sendOAuthError(reply, error);
    }
  };
  for (const path of ['/token', '/oauth2/v4/token', '/o/oauth2/token']) {
    app.post(path, { config: { public: true } }, tokenEndpoint);
  }

  const tokenInfo = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const fields = { ...(request.query as Record<string, string>), ...fieldsOf(request) };
    // google-auth-library's getTokenInfo sends the token as `Authorization: Bearer`, not a field.
    const bearerToken = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
    const token = fields.access_token ?? fields.id_token ?? bearerToken;
    try {
      if (token === undefined) {
        throw new InvalidArgument('access_token is required');
      }
      const info = tokens.verifyBearer(token);
      const expiresIn = Math.max(0, Math.floor((info.expiresAt - platform.clock.now()) / 1000));
      return await reply.send({
        azp: info.principal.email,
        aud: info.principal.email,
        sub: info.principal.email,
        scope: info.principal.scopes.join(' '),
        exp: String(Math.floor(info.expiresAt / 1000)),
        expires_in: String(expiresIn),
        email: info.principal.email,
        email_verified: 'true',
        access_type: 'online',
      });
    } catch {
      return reply.code(400).send({ error: 'invalid_token', error_description: 'Invalid Value' });
    }
  };
  for (const path of ['/tokeninfo', '/oauth2/v3/tokeninfo', '/oauth2/v1/tokeninfo']) {
    app.get(path, { config: { public: true } }, tokenInfo);
    app.post(path, { config: { public: true } }, tokenInfo);
  }

  // STS: exchange a subject token Nimbus can verify for a Nimbus access token.
  app.post('/v1/token', { config: { public: true } }, async (request, reply) => {
    try {
      const fields = fieldsOf(request);
      const grantType = fields.grant_type ?? fields.grantType;
      const subjectToken = fields.subject_token ?? fields.subjectToken;
      if (grantType !== TOKEN_EXCHANGE) {
        return await reply.code(400).send({
          error: 'unsupported_grant_type',
          error_description: `Invalid grant_type: ${grantType ?? ''}`,
        });
      }
      if (subjectToken === undefined || subjectToken === '') {
        throw new InvalidArgument('subject_token is required', { reason: 'invalid_request' });
      }
      const info = tokens.verifySubjectToken(subjectToken);
      const scopeText = fields.scope ?? CLOUD_PLATFORM_SCOPE;
      const issued = tokens.issueAccessToken(info.principal, {
        scopes: scopeText.split(/[ ,]+/).filter((s) => s !== ''),
      });
      return await reply.send({
        access_token: issued.accessToken,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: issued.expiresIn,
      });
    } catch (error) {
      return sendOAuthError(reply, error);
    }
  });

  // Public keys: service-account certificates and Nimbus's own signing key.
  const x509 = async (request: FastifyRequest) =>
    service.certificates(decodeURIComponent(paramsOf(request).email ?? ''));
  app.get('/robot/v1/metadata/x509/:email', { config: { public: true } }, x509);
  app.get('/service_accounts/v1/metadata/x509/:email', { config: { public: true } }, x509);

  const jwks = async () => {
    const { kid, pem } = tokens.publicKeyPem();
    const jwk = createPublicKey(pem).export({ format: 'jwk' });
    return { keys: [{ ...jwk, kid, alg: 'RS256', use: 'sig' }] };
  };
  app.get('/oauth2/v3/certs', { config: { public: true } }, jwks);
  app.get('/oauth2/v1/certs', { config: { public: true } }, jwks);
}
