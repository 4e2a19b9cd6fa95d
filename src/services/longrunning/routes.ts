import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NotFound } from '../../core/errors.ts';
import {
  intParam,
  paramsOf,
  queryOf,
  splitCustomMethod,
  stringParam,
  unknownMethod,
} from '../../core/http.ts';
import { REGIONS } from '../../core/locations.ts';
import { presentLongRunning } from '../../core/operations.ts';
import type { Platform } from '../../core/platform.ts';

/**
 * google.longrunning Operations at `/{v1,v2}/projects/P/locations/L/operations`, shared by every
 * v1/v2 API (Functions, Run, Vertex AI...), plus the locations list those APIs expose.
 */
export function registerLongRunningRoutes(app: FastifyInstance, platform: Platform): void {
  const projectOf = (request: FastifyRequest): string => {
    const projectId = platform.projects.require(paramsOf(request).project ?? '').projectId;
    platform.access.authorize(request.principal, 'resourcemanager.projects.get', `projects/${projectId}`);
    return projectId;
  };

  for (const version of ['v1', 'v2']) {
    const at = `/${version}/projects/:project/locations/:location/operations`;

    app.get(`/${version}/projects/:project/locations`, async (request) => {
      const project = projectOf(request);
      return {
        locations: REGIONS.map((region) => ({
          name: `projects/${project}/locations/${region.name}`,
          locationId: region.name,
          displayName: region.description,
        })),
      };
    });

    app.get(at, async (request) => {
      const project = projectOf(request);
      const location = paramsOf(request).location ?? '';
      const query = queryOf(request);
      const page = platform.operations.list(
        `projects/${project}/locations/${location}/operations/`,
        { pageSize: intParam(query.pageSize, 'pageSize'), pageToken: stringParam(query.pageToken) },
        (op) => op.family === 'longrunning',
      );
      const out: Record<string, unknown> = { operations: page.items.map(presentLongRunning) };
      if (page.nextPageToken !== undefined) {
        out.nextPageToken = page.nextPageToken;
      }
      return out;
    });

    const nameOf = (request: FastifyRequest, project: string, id: string): string =>
      `projects/${project}/locations/${paramsOf(request).location ?? ''}/operations/${id}`;

    app.get(`${at}/:operation`, async (request) => {
      const project = projectOf(request);
      return presentLongRunning(
        platform.operations.get(nameOf(request, project, paramsOf(request).operation ?? '')),
      );
    });

    app.delete(`${at}/:operation`, async (request) => {
      const project = projectOf(request);
      platform.operations.delete(nameOf(request, project, paramsOf(request).operation ?? ''));
      return {};
    });

    app.post(`${at}/:operation`, async (request, reply) => {
      const project = projectOf(request);
      const { name: id, method } = splitCustomMethod(paramsOf(request).operation ?? '');
      const name = nameOf(request, project, id);
      if (method === 'cancel') {
        platform.operations.cancel(name);
        return {};
      }
      if (method === 'wait') {
        const body = (request.body ?? {}) as { timeout?: unknown };
        const seconds = typeof body.timeout === 'string' ? Number.parseFloat(body.timeout) : 60;
        const timeout = Number.isFinite(seconds) ? Math.min(Math.max(seconds, 0), 600) * 1000 : 60_000;
        return presentLongRunning(await platform.operations.wait(name, timeout));
      }
      const error = unknownMethod(method, request.url);
      return reply.code(error instanceof NotFound ? 404 : 400).send(error.toJSON());
    });
  }
}
