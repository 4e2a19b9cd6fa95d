import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFound } from '../../core/errors.ts';
import { baseUrl, intParam, paramsOf, queryOf, stringParam } from '../../core/http.ts';
import { findRegion, regionOfZone, REGIONS, type RegionInfo } from '../../core/locations.ts';
import { paginate } from '../../core/paging.ts';
import type { Platform } from '../../core/platform.ts';
import { presentComputeOperation, presentRegion, presentZone, computeLink } from './presenters.ts';

type Scope = 'zones' | 'regions' | 'global';

interface ComputeList {
  kind: string;
  id: string;
  items: unknown[];
  selfLink: string;
  nextPageToken?: string;
}

/** Compute Engine v1: the regions/zones catalog and zone/region/global operations. */
export function registerComputeRoutes(app: FastifyInstance, platform: Platform): void {
  const prefix = '/compute/v1/projects/:project';
  const projectOf = (request: FastifyRequest, permission: string): string => {
    const projectId = platform.projects.require(paramsOf(request).project ?? '').projectId;
    platform.access.authorize(request.principal, permission, `projects/${projectId}`);
    return projectId;
  };
  const pageOf = (request: FastifyRequest) => ({
    pageSize: intParam(queryOf(request).maxResults, 'maxResults'),
    pageToken: stringParam(queryOf(request).pageToken),
  });
  const list = (kind: string, id: string, selfLink: string, items: unknown[], next?: string): ComputeList => {
    const out: ComputeList = { kind, id, items, selfLink };
    if (next !== undefined) {
      out.nextPageToken = next;
    }
    return out;
  };

  app.get(`${prefix}/regions`, async (request) => {
    const project = projectOf(request, 'compute.regions.list');
    const base = baseUrl(request);
    const page = paginate(
      pageOf(request),
      (r: RegionInfo) => r.name,
      (after, limit) => REGIONS.filter((r) => after === undefined || r.name > after).slice(0, limit),
      undefined,
      500,
    );
    const path = `projects/${project}/regions`;
    return list(
      'compute#regionList',
      path,
      computeLink(base, path),
      page.items.map((r) => presentRegion(base, project, r)),
      page.nextPageToken,
    );
  });

  app.get(`${prefix}/regions/:region`, async (request) => {
    const project = projectOf(request, 'compute.regions.get');
    const name = paramsOf(request).region ?? '';
    const region = findRegion(name);
    if (region === undefined) {
      throw new NotFound(`The resource 'projects/${project}/regions/${name}' was not found`);
    }
    return presentRegion(baseUrl(request), project, region);
  });

  app.get(`${prefix}/zones`, async (request) => {
    const project = projectOf(request, 'compute.zones.list');
    const base = baseUrl(request);
    const zones = REGIONS.flatMap((r) => r.zones.map((z) => ({ zone: z, region: r.name }))).sort((a, b) =>
      a.zone < b.zone ? -1 : 1,
    );
    const page = paginate(
      pageOf(request),
      (z: { zone: string; region: string }) => z.zone,
      (after, limit) => zones.filter((z) => after === undefined || z.zone > after).slice(0, limit),
      undefined,
      500,
    );
    const path = `projects/${project}/zones`;
    return list(
      'compute#zoneList',
      path,
      computeLink(base, path),
      page.items.map((z) => presentZone(base, project, z.zone, z.region)),
      page.nextPageToken,
    );
  });

  app.get(`${prefix}/zones/:zone`, async (request) => {
    const project = projectOf(request, 'compute.zones.get');
    const zone = paramsOf(request).zone ?? '';
    const region = regionOfZone(zone);
    if (region === undefined) {
      throw new NotFound(`The resource 'projects/${project}/zones/${zone}' was not found`);
    }
    return presentZone(baseUrl(request), project, zone, region);
  });

  // --- operations, one set of handlers for the three scopes ---------------------------------
  const scopePath = (request: FastifyRequest, scope: Scope): string => {
    const params = paramsOf(request);
    if (scope === 'global') {
      return 'global';
    }
    const location = scope === 'zones' ? (params.zone ?? '') : (params.region ?? '');
    const known =
      scope === 'zones' ? regionOfZone(location) !== undefined : findRegion(location) !== undefined;
    if (!known) {
      throw new NotFound(
        `The resource 'projects/${params.project ?? ''}/${scope}/${location}' was not found`,
      );
    }
    return `${scope}/${location}`;
  };
  const permissionPrefix: Record<Scope, string> = {
    zones: 'compute.zoneOperations',
    regions: 'compute.regionOperations',
    global: 'compute.globalOperations',
  };
  const kindOf: Record<Scope, string> = {
    zones: 'compute#operationList',
    regions: 'compute#operationList',
    global: 'compute#operationList',
  };

  for (const scope of ['zones', 'regions', 'global'] as const) {
    const at =
      scope === 'global'
        ? `${prefix}/global/operations`
        : `${prefix}/${scope}/:${scope === 'zones' ? 'zone' : 'region'}/operations`;
    const opName = (request: FastifyRequest, project: string): string =>
      `projects/${project}/${scopePath(request, scope)}/operations/${paramsOf(request).operation ?? ''}`;

    app.get(at, async (request) => {
      const project = projectOf(request, `${permissionPrefix[scope]}.list`);
      const path = `projects/${project}/${scopePath(request, scope)}/operations`;
      const base = baseUrl(request);
      const page = platform.operations.list(`${path}/`, pageOf(request), (op) => op.family === 'compute');
      return list(
        kindOf[scope],
        path,
        computeLink(base, path),
        page.items.map((op) => presentComputeOperation(base, op)),
        page.nextPageToken,
      );
    });

    app.get(`${at}/:operation`, async (request) => {
      const project = projectOf(request, `${permissionPrefix[scope]}.get`);
      return presentComputeOperation(baseUrl(request), platform.operations.get(opName(request, project)));
    });

    app.delete(`${at}/:operation`, async (request, reply) => {
      const project = projectOf(request, `${permissionPrefix[scope]}.delete`);
      platform.operations.delete(opName(request, project));
      return reply.code(204).send();
    });

    app.post(`${at}/:operation/wait`, async (request) => {
      const project = projectOf(request, `${permissionPrefix[scope]}.get`);
      // Google's wait returns when the operation is DONE or after about two minutes.
      const op = await platform.operations.wait(opName(request, project), 120_000);
      return presentComputeOperation(baseUrl(request), op);
    });
  }
}
