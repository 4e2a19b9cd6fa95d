import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { InvalidArgument } from '../../core/errors.ts';
import { hexId } from '../../core/ids.ts';
import {
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
import { presentProjectV1, presentProjectV3, projectMatches } from './presenters.ts';
import type { ProjectsService } from './service.ts';
import type { ProjectRecord } from './store.ts';

const ROOT = 'organizations/1';
const Labels = Type.Record(Type.String(), Type.String());
const ParentV1 = Type.Object({ type: Type.String(), id: Type.String() }, { additionalProperties: false });

const ProjectV1 = Type.Object(
  {
    projectNumber: Type.Optional(Type.String()),
    projectId: Type.Optional(Type.String()),
    lifecycleState: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    createTime: Type.Optional(Type.String()),
    labels: Type.Optional(Labels),
    parent: Type.Optional(ParentV1),
  },
  { additionalProperties: false },
);

const ProjectV3 = Type.Object(
  {
    name: Type.Optional(Type.String()),
    parent: Type.Optional(Type.String()),
    projectId: Type.Optional(Type.String()),
    state: Type.Optional(Type.String()),
    displayName: Type.Optional(Type.String()),
    createTime: Type.Optional(Type.String()),
    updateTime: Type.Optional(Type.String()),
    deleteTime: Type.Optional(Type.String()),
    etag: Type.Optional(Type.String()),
    labels: Type.Optional(Labels),
    tags: Type.Optional(Labels),
  },
  { additionalProperties: false },
);

const PROJECT_V3_TYPE = 'type.googleapis.com/google.cloud.resourcemanager.v3.Project';
const PROJECT_V1_TYPE = 'type.googleapis.com/google.cloudresourcemanager.v1.Project';

/** cloudresourcemanager.googleapis.com v1 and v3 projects. */
export function registerProjectRoutes(
  app: FastifyInstance,
  platform: Platform,
  projects: ProjectsService,
): void {
  const can = (request: FastifyRequest, permission: string, project: ProjectRecord): boolean =>
    platform.access.permitted(request.principal, [permission], `projects/${project.projectId}`).length > 0;
  const authorize = (request: FastifyRequest, permission: string, resource: string): void => {
    platform.access.authorize(request.principal, permission, resource);
  };

  /** Loads a project for a caller: 403 (not 404) when the caller may not see it, as Google answers. */
  const load = (request: FastifyRequest, idOrNumber: string, permission: string): ProjectRecord => {
    const project = (() => {
      try {
        return projects.get(idOrNumber);
      } catch {
        return undefined;
      }
    })();
    authorize(request, permission, `projects/${project?.projectId ?? idOrNumber}`);
    return project ?? projects.get(idOrNumber);
  };

  const create = (
    request: FastifyRequest,
    input: { projectId: string; name?: string | undefined; labels?: Record<string, string> | undefined },
  ) => {
    authorize(request, 'resourcemanager.projects.create', ROOT);
    return projects.create(input, (project) => {
      // As in Google Cloud, the creator becomes the project's owner.
      if (request.principal.kind !== 'anonymous') {
        platform.policies.setPolicy(`projects/${project.projectId}`, {
          bindings: [{ role: 'roles/owner', members: [request.principal.member] }],
        });
      }
    });
  };

  const iamMethod = (request: FastifyRequest, project: ProjectRecord, method: string | undefined) => {
    const resource = `projects/${project.projectId}`;
    switch (method) {
      case 'getIamPolicy': {
        const body = parseBody(GetIamPolicyRequest, request.body);
        authorize(request, 'resourcemanager.projects.getIamPolicy', resource);
        return platform.policies.readPolicy(resource, body.options?.requestedPolicyVersion);
      }
      case 'setIamPolicy': {
        authorize(request, 'resourcemanager.projects.setIamPolicy', resource);
        const body = parseBody(SetIamPolicyRequest, request.body, false);
        return platform.policies.setPolicy(resource, body.policy, body.updateMask);
      }
      case 'testIamPermissions': {
        const body = parseBody(TestIamPermissionsRequest, request.body);
        const permitted = platform.access.permitted(request.principal, body.permissions ?? [], resource);
        return permitted.length === 0 ? {} : { permissions: permitted };
      }
      default:
        return undefined;
    }
  };

  // --- v1 ----------------------------------------------------------------------------------
  app.get('/v1/projects', async (request) => {
    const query = queryOf(request);
    const page = projects.list(
      { pageSize: intParam(query.pageSize, 'pageSize'), pageToken: stringParam(query.pageToken) },
      (p) => projectMatches(p, query.filter) && can(request, 'resourcemanager.projects.get', p),
    );
    const out: Record<string, unknown> = { projects: page.items.map(presentProjectV1) };
    if (page.nextPageToken !== undefined) {
      out.nextPageToken = page.nextPageToken;
    }
    return out;
  });

  app.post('/v1/projects', async (request) => {
    const body = parseBody(ProjectV1, request.body, false);
    if (body.projectId === undefined) {
      throw new InvalidArgument('Field projectId is required.', { reason: 'required' });
    }
    const project = create(request, { projectId: body.projectId, name: body.name, labels: body.labels });
    const name = `operations/cp.${hexId(8)}`;
    const response = { '@type': PROJECT_V1_TYPE, ...presentProjectV1(project) };
    projects.recordOperation(name, response, undefined);
    return { name, done: true, response };
  });

  app.get('/v1/projects/:project', async (request) => {
    return presentProjectV1(load(request, paramsOf(request).project ?? '', 'resourcemanager.projects.get'));
  });

  app.put('/v1/projects/:project', async (request) => {
    const body = parseBody(ProjectV1, request.body, false);
    const project = load(request, paramsOf(request).project ?? '', 'resourcemanager.projects.update');
    return presentProjectV1(
      projects.update(project.projectId, { name: body.name, labels: body.labels ?? {} }),
    );
  });

  app.delete('/v1/projects/:project', async (request) => {
    const project = load(request, paramsOf(request).project ?? '', 'resourcemanager.projects.delete');
    projects.delete(project.projectId);
    return {};
  });

  app.post('/v1/projects/:project', async (request, reply) => {
    const { name: id, method } = splitCustomMethod(paramsOf(request).project ?? '');
    if (method === 'undelete') {
      const project = load(request, id, 'resourcemanager.projects.undelete');
      projects.undelete(project.projectId);
      return {};
    }
    if (method === 'getAncestry') {
      const project = load(request, id, 'resourcemanager.projects.get');
      return {
        ancestor: [
          { resourceId: { type: 'project', id: project.projectId } },
          { resourceId: { type: 'organization', id: project.parent.id } },
        ],
      };
    }
    const project = load(request, id, 'resourcemanager.projects.get');
    const result = iamMethod(request, project, method);
    return result ?? reply.code(404).send(unknownMethod(method, request.url).toJSON());
  });

  app.get('/v1/operations/:operation', async (request) => {
    const op = projects.getOperation(`operations/${paramsOf(request).operation ?? ''}`);
    return { name: op.name, done: true, response: op.response };
  });

  // --- v3 ----------------------------------------------------------------------------------
  const v3Operation = (project: ProjectRecord, metadataType: string) => {
    const name = `operations/cp.${hexId(8)}`;
    const response = { '@type': PROJECT_V3_TYPE, ...presentProjectV3(project) };
    const metadata = { '@type': `type.googleapis.com/google.cloud.resourcemanager.v3.${metadataType}` };
    projects.recordOperation(name, response, metadata);
    return { name, metadata, done: true, response };
  };

  const listV3 = (request: FastifyRequest, query: string | undefined) => {
    const q = queryOf(request);
    const page = projects.list(
      { pageSize: intParam(q.pageSize, 'pageSize'), pageToken: stringParam(q.pageToken) },
      (p) =>
        projectMatches(p, query) &&
        (q.showDeleted === 'true' || p.lifecycleState === 'ACTIVE') &&
        can(request, 'resourcemanager.projects.get', p),
    );
    const out: Record<string, unknown> = { projects: page.items.map(presentProjectV3) };
    if (page.nextPageToken !== undefined) {
      out.nextPageToken = page.nextPageToken;
    }
    return out;
  };

  app.get('/v3/projects', async (request) => {
    const parent = stringParam(queryOf(request).parent);
    return listV3(request, parent === undefined ? undefined : `parent:${parent}`);
  });
  app.get('/v3/projects::search', async (request) => listV3(request, stringParam(queryOf(request).query)));

  app.post('/v3/projects', async (request) => {
    const body = parseBody(ProjectV3, request.body, false);
    if (body.projectId === undefined) {
      throw new InvalidArgument('Field projectId is required.', { reason: 'required' });
    }
    const project = create(request, {
      projectId: body.projectId,
      name: body.displayName,
      labels: body.labels,
    });
    return v3Operation(project, 'CreateProjectMetadata');
  });

  app.get('/v3/projects/:project', async (request) => {
    return presentProjectV3(load(request, paramsOf(request).project ?? '', 'resourcemanager.projects.get'));
  });

  app.patch('/v3/projects/:project', async (request) => {
    const body = parseBody(ProjectV3, request.body, false);
    const project = load(request, paramsOf(request).project ?? '', 'resourcemanager.projects.update');
    const mask = (stringParam(queryOf(request).updateMask) ?? 'displayName,labels').split(',');
    const updated = projects.update(project.projectId, {
      name: mask.includes('displayName') || mask.includes('display_name') ? body.displayName : undefined,
      labels: mask.includes('labels') ? (body.labels ?? {}) : undefined,
    });
    return v3Operation(updated, 'UpdateProjectMetadata');
  });

  app.delete('/v3/projects/:project', async (request) => {
    const project = load(request, paramsOf(request).project ?? '', 'resourcemanager.projects.delete');
    return v3Operation(projects.delete(project.projectId), 'DeleteProjectMetadata');
  });

  app.post('/v3/projects/:project', async (request, reply) => {
    const { name: id, method } = splitCustomMethod(paramsOf(request).project ?? '');
    if (method === 'undelete') {
      const project = load(request, id, 'resourcemanager.projects.undelete');
      return v3Operation(projects.undelete(project.projectId), 'UndeleteProjectMetadata');
    }
    const project = load(request, id, 'resourcemanager.projects.get');
    const result = iamMethod(request, project, method);
    return result ?? reply.code(404).send(unknownMethod(method, request.url).toJSON());
  });

  app.get('/v3/operations/:operation', async (request) => {
    const op = projects.getOperation(`operations/${paramsOf(request).operation ?? ''}`);
    return { name: op.name, metadata: op.metadata, done: true, response: op.response };
  });
}
