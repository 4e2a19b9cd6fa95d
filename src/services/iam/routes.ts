import { sign } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Principal } from '../../core/auth.ts';
import { rfc3339 } from '../../core/clock.ts';
import { ApiError, InvalidArgument } from '../../core/errors.ts';
import {
  baseUrl,
  intParam,
  paramsOf,
  parseBody,
  queryOf,
  splitCustomMethod,
  stringParam,
  unknownMethod,
} from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { GetIamPolicyRequest, SetIamPolicyRequest, TestIamPermissionsRequest } from '../../core/schemas.ts';
import { signJwt, type JwtClaims } from '../../platform/jwt.ts';
import type { Identity } from './identity.ts';
import { presentKey, presentRole, presentServiceAccount } from './presenters.ts';
import { CLOUD_PLATFORM_SCOPE } from './tokens.ts';

const ServiceAccountFields = {
  name: Type.Optional(Type.String()),
  projectId: Type.Optional(Type.String()),
  uniqueId: Type.Optional(Type.String()),
  email: Type.Optional(Type.String()),
  displayName: Type.Optional(Type.String()),
  etag: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  oauth2ClientId: Type.Optional(Type.String()),
  disabled: Type.Optional(Type.Boolean()),
};
const ServiceAccountSchema = Type.Object(ServiceAccountFields, { additionalProperties: false });

const CreateServiceAccountRequest = Type.Object(
  { accountId: Type.String(), serviceAccount: Type.Optional(ServiceAccountSchema) },
  { additionalProperties: false },
);

const PatchServiceAccountRequest = Type.Object(
  { serviceAccount: Type.Optional(ServiceAccountSchema), updateMask: Type.Optional(Type.String()) },
  { additionalProperties: false },
);

const CreateKeyRequest = Type.Object(
  {
    privateKeyType: Type.Optional(
      Type.Union([
        Type.Literal('TYPE_UNSPECIFIED'),
        Type.Literal('TYPE_GOOGLE_CREDENTIALS_FILE'),
        Type.Literal('TYPE_PKCS12_FILE'),
      ]),
    ),
    keyAlgorithm: Type.Optional(
      Type.Union([
        Type.Literal('KEY_ALG_UNSPECIFIED'),
        Type.Literal('KEY_ALG_RSA_1024'),
        Type.Literal('KEY_ALG_RSA_2048'),
      ]),
    ),
  },
  { additionalProperties: false },
);

const RoleSchema = Type.Object(
  {
    name: Type.Optional(Type.String()),
    title: Type.Optional(Type.String({ maxLength: 100 })),
    description: Type.Optional(Type.String({ maxLength: 300 })),
    includedPermissions: Type.Optional(Type.Array(Type.String())),
    stage: Type.Optional(
      Type.Union(
        ['ALPHA', 'BETA', 'GA', 'DEPRECATED', 'DISABLED', 'EAP'].map((s) => Type.Literal(s)) as [
          ReturnType<typeof Type.Literal<'GA'>>,
        ],
      ),
    ),
    etag: Type.Optional(Type.String()),
    deleted: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const CreateRoleRequest = Type.Object(
  { roleId: Type.String(), role: Type.Optional(RoleSchema) },
  { additionalProperties: false },
);

/** proto3 JSON: null means unset (gcloud sends `"delegates": null`). */
const Delegates = Type.Optional(Type.Union([Type.Array(Type.String()), Type.Null()]));

const GenerateAccessTokenRequest = Type.Object(
  {
    delegates: Delegates,
    scope: Type.Optional(Type.Array(Type.String())),
    lifetime: Type.Optional(Type.String({ pattern: '^\\d+(\\.\\d+)?s$' })),
  },
  { additionalProperties: false },
);

const SignBlobRequest = Type.Object(
  { delegates: Delegates, payload: Type.String() },
  { additionalProperties: false },
);

const SignJwtRequest = Type.Object(
  { delegates: Delegates, payload: Type.String() },
  { additionalProperties: false },
);

const GenerateIdTokenRequest = Type.Object(
  {
    delegates: Delegates,
    audience: Type.String(),
    includeEmail: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

function principalOf(request: FastifyRequest): Principal {
  return request.principal;
}

/** iam.googleapis.com v1 and iamcredentials.googleapis.com v1 routes. */
export function registerIamRoutes(app: FastifyInstance, platform: Platform, identity: Identity): void {
  const { service, policies, tokens } = identity;
  const authorize = (request: FastifyRequest, permission: string, resource: string): void => {
    platform.access.authorize(principalOf(request), permission, resource);
  };

  // --- service accounts --------------------------------------------------------------------
  app.post('/v1/projects/:project/serviceAccounts', async (request, reply) => {
    const { project = '' } = paramsOf(request);
    const body = parseBody(CreateServiceAccountRequest, request.body, false);
    const projectId = platform.projects.require(project).projectId;
    authorize(request, 'iam.serviceAccounts.create', `projects/${projectId}`);
    const account = service.createAccount(projectId, body.accountId, {
      displayName: body.serviceAccount?.displayName,
      description: body.serviceAccount?.description,
    });
    return reply.send(presentServiceAccount(account));
  });

  app.get('/v1/projects/:project/serviceAccounts', async (request) => {
    const { project = '' } = paramsOf(request);
    const query = queryOf(request);
    const projectId = platform.projects.require(project).projectId;
    authorize(request, 'iam.serviceAccounts.list', `projects/${projectId}`);
    const page = service.listAccounts(projectId, {
      pageSize: intParam(query.pageSize, 'pageSize'),
      pageToken: stringParam(query.pageToken),
    });
    const out: Record<string, unknown> = { accounts: page.items.map(presentServiceAccount) };
    if (page.nextPageToken !== undefined) {
      out.nextPageToken = page.nextPageToken;
    }
    return page.items.length === 0 && page.nextPageToken === undefined ? {} : out;
  });

  app.get('/v1/projects/:project/serviceAccounts/:account', async (request) => {
    const { project = '', account = '' } = paramsOf(request);
    const name = service.accountName(project, account);
    authorize(request, 'iam.serviceAccounts.get', name);
    return presentServiceAccount(service.getAccount(name));
  });

  const patchAccount = async (request: FastifyRequest, isPut: boolean): Promise<Record<string, unknown>> => {
    const { project = '', account = '' } = paramsOf(request);
    const name = service.accountName(project, account);
    authorize(request, 'iam.serviceAccounts.update', name);
    if (isPut) {
      const body = parseBody(ServiceAccountSchema, request.body, false);
      return presentServiceAccount(service.patchAccount(name, body, ['displayName', 'description']));
    }
    const body = parseBody(PatchServiceAccountRequest, request.body, false);
    const mask = (body.updateMask ?? '').split(',').filter((f) => f !== '');
    if (mask.length === 0) {
      throw new InvalidArgument('updateMask is required.', { reason: 'required' });
    }
    return presentServiceAccount(service.patchAccount(name, body.serviceAccount ?? {}, mask));
  };
  app.patch('/v1/projects/:project/serviceAccounts/:account', async (request) =>
    patchAccount(request, false),
  );
  app.put('/v1/projects/:project/serviceAccounts/:account', async (request) => patchAccount(request, true));

  app.delete('/v1/projects/:project/serviceAccounts/:account', async (request) => {
    const { project = '', account = '' } = paramsOf(request);
    const name = service.accountName(project, account);
    authorize(request, 'iam.serviceAccounts.delete', name);
    service.deleteAccount(name);
    return {};
  });

  app.post('/v1/projects/:project/serviceAccounts/:account', async (request, reply) => {
    const { project = '', account: segment = '' } = paramsOf(request);
    const { name: account, method } = splitCustomMethod(segment);
    const name = service.accountName(project, account);
    switch (method) {
      case 'disable':
      case 'enable':
        authorize(request, `iam.serviceAccounts.${method}`, name);
        service.setDisabled(name, method === 'disable');
        return {};
      case 'undelete': {
        authorize(request, 'iam.serviceAccounts.undelete', name);
        const restored = service.undeleteAccount(account);
        return { restoredAccount: presentServiceAccount(restored) };
      }
      case 'getIamPolicy': {
        authorize(request, 'iam.serviceAccounts.getIamPolicy', name);
        service.getAccount(name);
        const body = parseBody(GetIamPolicyRequest, request.body);
        return policies.readPolicy(name, body.options?.requestedPolicyVersion);
      }
      case 'setIamPolicy': {
        authorize(request, 'iam.serviceAccounts.setIamPolicy', name);
        service.getAccount(name);
        const body = parseBody(SetIamPolicyRequest, request.body, false);
        return policies.setPolicy(name, body.policy, body.updateMask);
      }
      case 'testIamPermissions': {
        const body = parseBody(TestIamPermissionsRequest, request.body, false);
        service.getAccount(name);
        const permitted = platform.access.permitted(principalOf(request), body.permissions ?? [], name);
        return permitted.length === 0 ? {} : { permissions: permitted };
      }
      case 'generateAccessToken': {
        authorize(request, 'iam.serviceAccounts.getAccessToken', name);
        const target = service.getAccount(name);
        const body = parseBody(GenerateAccessTokenRequest, request.body, false);
        const lifetime = body.lifetime === undefined ? 3600 : Math.floor(Number(body.lifetime.slice(0, -1)));
        if (lifetime > 3600 || lifetime < 1) {
          throw new InvalidArgument('The lifetime must be between 1s and 3600s.', { reason: 'invalid' });
        }
        if (target.disabled) {
          throw new InvalidArgument(`Service account ${target.email} is disabled.`, { reason: 'invalid' });
        }
        const issued = tokens.issueAccessToken(
          {
            kind: 'serviceAccount',
            email: target.email,
            member: `serviceAccount:${target.email}`,
            scopes: [],
          },
          { scopes: body.scope ?? [CLOUD_PLATFORM_SCOPE], lifetimeSeconds: lifetime },
        );
        return {
          accessToken: issued.accessToken,
          expireTime: rfc3339(platform.clock.now() + issued.expiresIn * 1000),
        };
      }
      case 'generateIdToken': {
        authorize(request, 'iam.serviceAccounts.getOpenIdToken', name);
        const target = service.getAccount(name);
        const body = parseBody(GenerateIdTokenRequest, request.body, false);
        const token = tokens.issueIdToken(
          {
            kind: 'serviceAccount',
            email: target.email,
            member: `serviceAccount:${target.email}`,
            scopes: [],
          },
          body.audience,
        );
        return { token };
      }
      case 'signBlob': {
        authorize(request, 'iam.serviceAccounts.signBlob', name);
        const body = parseBody(SignBlobRequest, request.body, false);
        const { key, privateKey } = service.systemKey(name);
        const signature = sign('sha256', Buffer.from(body.payload, 'base64'), privateKey);
        return { keyId: key.keyId, signedBlob: signature.toString('base64') };
      }
      case 'signJwt': {
        authorize(request, 'iam.serviceAccounts.signJwt', name);
        const body = parseBody(SignJwtRequest, request.body, false);
        let claims: unknown;
        try {
          claims = JSON.parse(body.payload);
        } catch {
          throw new InvalidArgument('The payload is not a JSON object.', { reason: 'invalid' });
        }
        if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) {
          throw new InvalidArgument('The payload is not a JSON object.', { reason: 'invalid' });
        }
        const { key, privateKey } = service.systemKey(name);
        return { keyId: key.keyId, signedJwt: signJwt(claims as JwtClaims, privateKey, key.keyId) };
      }
      default:
        return reply.code(404).send(unknownMethod(method, request.url).toJSON());
    }
  });

  // --- keys --------------------------------------------------------------------------------
  app.post('/v1/projects/:project/serviceAccounts/:account/keys', async (request) => {
    const { project = '', account = '' } = paramsOf(request);
    const name = service.accountName(project, account);
    authorize(request, 'iam.serviceAccountKeys.create', name);
    const body = parseBody(CreateKeyRequest, request.body);
    if (body.privateKeyType === 'TYPE_PKCS12_FILE') {
      throw new InvalidArgument(
        'Nimbus issues keys as JSON credential files only (TYPE_GOOGLE_CREDENTIALS_FILE).',
        {
          reason: 'invalid',
        },
      );
    }
    const created = service.createKey(name, baseUrl(request));
    return {
      ...presentKey(created.key),
      privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE',
      privateKeyData: Buffer.from(JSON.stringify(created.keyFile, null, 2)).toString('base64'),
    };
  });

  app.get('/v1/projects/:project/serviceAccounts/:account/keys', async (request) => {
    const { project = '', account = '' } = paramsOf(request);
    const name = service.accountName(project, account);
    authorize(request, 'iam.serviceAccountKeys.list', name);
    const raw = (request.query as Record<string, string | string[] | undefined>).keyTypes;
    const keyTypes = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter(
      (t) => t !== 'KEY_TYPE_UNSPECIFIED',
    );
    const keys = service.listKeys(name, keyTypes);
    return keys.length === 0 ? {} : { keys: keys.map((k) => presentKey(k)) };
  });

  app.get('/v1/projects/:project/serviceAccounts/:account/keys/:key', async (request) => {
    const { project = '', account = '', key = '' } = paramsOf(request);
    const name = service.accountName(project, account);
    authorize(request, 'iam.serviceAccountKeys.get', name);
    const type = stringParam(queryOf(request).publicKeyType);
    if (
      type !== undefined &&
      type !== 'TYPE_X509_PEM_FILE' &&
      type !== 'TYPE_RAW_PUBLIC_KEY' &&
      type !== 'TYPE_NONE'
    ) {
      throw new InvalidArgument(`Invalid value for publicKeyType: ${type}`, { reason: 'invalid' });
    }
    return presentKey(service.getKey(`${name}/keys/${key}`), type === 'TYPE_NONE' ? undefined : type);
  });

  app.delete('/v1/projects/:project/serviceAccounts/:account/keys/:key', async (request) => {
    const { project = '', account = '', key = '' } = paramsOf(request);
    const name = service.accountName(project, account);
    authorize(request, 'iam.serviceAccountKeys.delete', name);
    service.deleteKey(`${name}/keys/${key}`);
    return {};
  });

  app.post('/v1/projects/:project/serviceAccounts/:account/keys/:key', async (request, reply) => {
    const { project = '', account = '', key: segment = '' } = paramsOf(request);
    const { name: key, method } = splitCustomMethod(segment);
    const name = service.accountName(project, account);
    if (method !== 'disable' && method !== 'enable') {
      return reply.code(404).send(unknownMethod(method, request.url).toJSON());
    }
    authorize(request, `iam.serviceAccountKeys.${method}`, name);
    service.setKeyDisabled(`${name}/keys/${key}`, method === 'disable');
    return {};
  });

  // --- roles -------------------------------------------------------------------------------
  const viewOf = (request: FastifyRequest): 'BASIC' | 'FULL' =>
    queryOf(request).view === 'FULL' ? 'FULL' : 'BASIC';
  const pageOf = (request: FastifyRequest) => ({
    pageSize: intParam(queryOf(request).pageSize, 'pageSize'),
    pageToken: stringParam(queryOf(request).pageToken),
  });

  app.get('/v1/roles', async (request) => {
    const page = service.listPredefinedRoles(pageOf(request));
    const view = viewOf(request);
    const out: Record<string, unknown> = { roles: page.items.map((r) => presentRole(r, view)) };
    if (page.nextPageToken !== undefined) {
      out.nextPageToken = page.nextPageToken;
    }
    return out;
  });

  app.get('/v1/roles/:role', async (request) => {
    const { role = '' } = paramsOf(request);
    return presentRole(service.getRole(`roles/${role}`), 'FULL');
  });

  app.get('/v1/projects/:project/roles', async (request) => {
    const { project = '' } = paramsOf(request);
    const projectId = platform.projects.require(project).projectId;
    authorize(request, 'iam.roles.list', `projects/${projectId}`);
    const showDeleted = queryOf(request).showDeleted === 'true';
    const page = service.listCustomRoles(`projects/${projectId}`, pageOf(request), showDeleted);
    const view = viewOf(request);
    const out: Record<string, unknown> = {};
    if (page.items.length > 0) {
      out.roles = page.items.map((r) => presentRole(r, view));
    }
    if (page.nextPageToken !== undefined) {
      out.nextPageToken = page.nextPageToken;
    }
    return out;
  });

  app.post('/v1/projects/:project/roles', async (request) => {
    const { project = '' } = paramsOf(request);
    const projectId = platform.projects.require(project).projectId;
    authorize(request, 'iam.roles.create', `projects/${projectId}`);
    const body = parseBody(CreateRoleRequest, request.body, false);
    return presentRole(service.createRole(`projects/${projectId}`, body.roleId, body.role ?? {}), 'FULL');
  });

  app.get('/v1/projects/:project/roles/:role', async (request) => {
    const { project = '', role = '' } = paramsOf(request);
    const projectId = platform.projects.require(project).projectId;
    authorize(request, 'iam.roles.get', `projects/${projectId}`);
    return presentRole(service.getRole(`projects/${projectId}/roles/${role}`), 'FULL');
  });

  app.patch('/v1/projects/:project/roles/:role', async (request) => {
    const { project = '', role = '' } = paramsOf(request);
    const projectId = platform.projects.require(project).projectId;
    authorize(request, 'iam.roles.update', `projects/${projectId}`);
    const body = parseBody(RoleSchema, request.body, false);
    const mask = (stringParam(queryOf(request).updateMask) ?? '').split(',').filter((f) => f !== '');
    return presentRole(service.patchRole(`projects/${projectId}/roles/${role}`, body, mask), 'FULL');
  });

  app.delete('/v1/projects/:project/roles/:role', async (request) => {
    const { project = '', role = '' } = paramsOf(request);
    const projectId = platform.projects.require(project).projectId;
    authorize(request, 'iam.roles.delete', `projects/${projectId}`);
    return presentRole(service.deleteRole(`projects/${projectId}/roles/${role}`, true), 'FULL');
  });

  app.post('/v1/projects/:project/roles/:role', async (request, reply) => {
    const { project = '', role: segment = '' } = paramsOf(request);
    const { name: role, method } = splitCustomMethod(segment);
    if (method !== 'undelete') {
      return reply.code(404).send(unknownMethod(method, request.url).toJSON());
    }
    const projectId = platform.projects.require(project).projectId;
    authorize(request, 'iam.roles.undelete', `projects/${projectId}`);
    return presentRole(service.deleteRole(`projects/${projectId}/roles/${role}`, false), 'FULL');
  });

  app.post('/v1/permissions:queryTestablePermissions', async () => {
    return {
      permissions: (await import('./roles-catalog.ts'))
        .allPermissions()
        .map((name) => ({ name, stage: 'GA' })),
    };
  });
}

/** Writes an OAuth-style error (`{error, error_description}`), as token endpoints answer. */
export function sendOAuthError(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof ApiError) {
    const code =
      error.httpStatus === 401 || error.reason === 'invalid_grant' ? 'invalid_grant' : 'invalid_request';
    return reply.code(error.httpStatus === 401 ? 400 : error.httpStatus).send({
      error: code,
      error_description: error.message,
    });
  }
  throw error;
}
