import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { baseUrl, intParam, paramsOf, parseBody, queryOf, stringParam } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import { InvalidArgument } from '../../core/errors.ts';
import { RequiredParameter } from './errors.ts';
import { HmacKeysService } from './hmac-keys-service.ts';
import { HmacKeyStore, type HmacKeyRecord } from './hmac-keys-store.ts';

/** An HMAC key as the XML face's authenticators need it. */
export interface HmacKeySecret {
  accessId: string;
  secret: string;
  serviceAccountEmail: string;
  projectId: string;
  state: 'ACTIVE' | 'INACTIVE' | 'DELETED';
  /**
   * True when the key's service account is disabled or no longer exists: the key must then be
   * refused like an inactive one. Absent means usable.
   */
  serviceAccountDisabled?: boolean;
}

/** Lookup of HMAC keys by access id (implemented by the projects.hmacKeys service). */
export interface HmacKeyResolver {
  resolve(accessId: string): HmacKeySecret | undefined;
}

const UpdateHmacKeyBody = Type.Object(
  {
    kind: Type.Optional(Type.String()),
    id: Type.Optional(Type.String()),
    selfLink: Type.Optional(Type.String()),
    accessId: Type.Optional(Type.String()),
    projectId: Type.Optional(Type.String()),
    serviceAccountEmail: Type.Optional(Type.String()),
    state: Type.Optional(Type.String()),
    timeCreated: Type.Optional(Type.String()),
    updated: Type.Optional(Type.String()),
    etag: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** `storage#hmacKeyMetadata`: everything but the secret. */
export function presentHmacKeyMetadata(key: HmacKeyRecord, base: string): Record<string, unknown> {
  return {
    kind: 'storage#hmacKeyMetadata',
    id: `${key.projectId}/${key.accessId}`,
    selfLink: `${base}/storage/v1/projects/${key.projectId}/hmacKeys/${key.accessId}`,
    accessId: key.accessId,
    projectId: key.projectId,
    serviceAccountEmail: key.serviceAccountEmail,
    state: key.state,
    timeCreated: key.timeCreated,
    updated: key.updated,
    etag: key.etag,
  };
}

/** A boolean query parameter; Google accepts any case (gcloud sends `False`). */
function booleanParam(value: unknown, name: string): boolean {
  const text = typeof value === 'string' ? value.toLowerCase() : value;
  if (text === undefined || text === '' || text === 'false') {
    return false;
  }
  if (text === 'true') {
    return true;
  }
  const shown = typeof value === 'string' ? value : JSON.stringify(value);
  throw new InvalidArgument(`Invalid boolean value for ${name}: '${shown}'.`, { reason: 'invalid' });
}

const resolvers = new WeakMap<Platform, HmacKeyResolver>();

/**
 * Registers `projects.hmacKeys` (create/list/get/update/delete), under `/storage/v1` and at the root
 * (the Node client drops the prefix with STORAGE_EMULATOR_HOST), and returns the resolver the XML
 * face authenticates with. Registering twice for one platform returns the first resolver.
 */
export function registerHmacKeys(app: FastifyInstance, platform: Platform): HmacKeyResolver {
  const existing = resolvers.get(platform);
  if (existing !== undefined) {
    return existing;
  }
  const store = new HmacKeyStore(platform.store);
  const service = new HmacKeysService(store, platform.clock);

  /** The project named in the path, after checking `permission` on it. */
  const projectOf = (request: FastifyRequest, permission: string): string => {
    const project = platform.projects.require(paramsOf(request).project ?? '');
    platform.access.authorize(request.principal, permission, `projects/${project.projectId}`);
    return project.projectId;
  };

  for (const prefix of ['/storage/v1', '']) {
    // storage.projects.hmacKeys.create
    app.post(`${prefix}/projects/:project/hmacKeys`, async (request) => {
      const projectId = projectOf(request, 'storage.hmacKeys.create');
      const email = stringParam(queryOf(request).serviceAccountEmail);
      if (email === undefined) {
        throw new RequiredParameter('serviceAccountEmail');
      }
      const key = service.createKey(projectId, email);
      return {
        kind: 'storage#hmacKey',
        metadata: presentHmacKeyMetadata(key, baseUrl(request)),
        secret: key.secret,
      };
    });

    // storage.projects.hmacKeys.list
    app.get(`${prefix}/projects/:project/hmacKeys`, async (request) => {
      const projectId = projectOf(request, 'storage.hmacKeys.list');
      const query = queryOf(request);
      const page = service.listKeys({
        projectId,
        serviceAccountEmail: stringParam(query.serviceAccountEmail),
        showDeletedKeys: booleanParam(query.showDeletedKeys, 'showDeletedKeys'),
        maxResults: intParam(query.maxResults, 'maxResults'),
        pageToken: stringParam(query.pageToken),
      });
      const base = baseUrl(request);
      return {
        kind: 'storage#hmacKeysMetadata',
        ...(page.nextPageToken === undefined ? {} : { nextPageToken: page.nextPageToken }),
        items: page.items.map((key) => presentHmacKeyMetadata(key, base)),
      };
    });

    // storage.projects.hmacKeys.get
    app.get(`${prefix}/projects/:project/hmacKeys/:accessId`, async (request) => {
      const projectId = projectOf(request, 'storage.hmacKeys.get');
      const key = service.getKey(projectId, paramsOf(request).accessId ?? '');
      return presentHmacKeyMetadata(key, baseUrl(request));
    });

    // storage.projects.hmacKeys.update
    app.put(`${prefix}/projects/:project/hmacKeys/:accessId`, async (request) => {
      const projectId = projectOf(request, 'storage.hmacKeys.update');
      const body = parseBody(UpdateHmacKeyBody, request.body, false);
      if (body.state === undefined) {
        throw new RequiredParameter('state');
      }
      const key = service.updateKey(projectId, paramsOf(request).accessId ?? '', body.state, body.etag);
      return presentHmacKeyMetadata(key, baseUrl(request));
    });

    // storage.projects.hmacKeys.delete
    app.delete(`${prefix}/projects/:project/hmacKeys/:accessId`, async (request, reply) => {
      const projectId = projectOf(request, 'storage.hmacKeys.delete');
      service.deleteKey(projectId, paramsOf(request).accessId ?? '');
      return reply.code(204).send();
    });
  }

  const resolver: HmacKeyResolver = {
    resolve(accessId) {
      const key = store.byAccessId(accessId);
      if (key === undefined) {
        return undefined;
      }
      const account = store.serviceAccount(key.serviceAccountEmail);
      return {
        accessId: key.accessId,
        secret: key.secret,
        serviceAccountEmail: key.serviceAccountEmail,
        projectId: key.projectId,
        state: key.state,
        serviceAccountDisabled: account === undefined || account.disabled,
      };
    },
  };
  resolvers.set(platform, resolver);
  return resolver;
}
