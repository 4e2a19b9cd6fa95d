import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Static, TSchema } from '@sinclair/typebox';
import { NotFound } from '../../../core/errors.ts';
import { baseUrl, intParam, paramsOf, parseBody, queryOf, stringParam } from '../../../core/http.ts';
import { findRegion, REGIONS } from '../../../core/locations.ts';
import { paginate } from '../../../core/paging.ts';
import { compileFilter } from '../filter.ts';
import type { Platform } from '../../../core/platform.ts';
import { computeLink, presentComputeOperation } from '../presenters.ts';
import {
  presentAddress,
  presentFirewall,
  presentNetwork,
  presentRoute,
  presentSubnetwork,
} from './presenters.ts';
import {
  AddressBody,
  ExpandBody,
  FirewallBody,
  NetworkBody,
  PrivateAccessBody,
  RouteBody,
  SubnetworkBody,
} from './schemas.ts';
import {
  addressPath,
  firewallPath,
  networkPath,
  routePath,
  subnetworkPath,
  type VpcService,
} from './service.ts';

type Wire = Record<string, unknown>;

/**
 * Compute Engine v1 VPC methods: networks, subnetworks (+ aggregatedList), firewalls, routes and
 * regional addresses. Mutations complete synchronously and answer with a DONE Operation.
 */
export function registerVpcRoutes(
  app: FastifyInstance,
  platform: Platform,
  vpc: VpcService,
  /** Resolves once the dataplane applied the change (a DONE operation means enforced). */
  afterMutation: () => Promise<void> = () => Promise.resolve(),
): void {
  const prefix = '/compute/v1/projects/:project';

  const projectOf = (request: FastifyRequest, ...permissions: string[]): string => {
    const projectId = platform.projects.require(paramsOf(request).project ?? '').projectId;
    for (const permission of permissions) {
      platform.access.authorize(request.principal, permission, `projects/${projectId}`);
    }
    vpc.ensureProject(projectId);
    return projectId;
  };
  const regionOf = (request: FastifyRequest, project: string): string => {
    const region = paramsOf(request).region ?? '';
    if (findRegion(region) === undefined) {
      throw new NotFound(`The resource 'projects/${project}/regions/${region}' was not found`);
    }
    return region;
  };
  const param = (request: FastifyRequest, name: string): string => paramsOf(request)[name] ?? '';
  const body = <S extends TSchema>(schema: S, request: FastifyRequest): Static<S> =>
    parseBody(schema, request.body);

  /** One page of an in-memory, name-ordered list as Compute pages it (maxResults, pageToken). */
  const listPage = <T>(
    request: FastifyRequest,
    items: T[],
    keyOf: (item: T) => string,
    kind: string,
    path: string,
    present: (item: T) => Wire,
  ): Wire => {
    const sorted = [...items].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
    const keep = compileFilter(stringParam(queryOf(request).filter));
    const page = paginate(
      {
        pageSize: intParam(queryOf(request).maxResults, 'maxResults'),
        pageToken: stringParam(queryOf(request).pageToken),
      },
      keyOf,
      (after, limit) => sorted.filter((item) => after === undefined || keyOf(item) > after).slice(0, limit),
      keep === undefined ? undefined : (item) => keep(present(item)),
      500,
    );
    const out: Wire = {
      kind,
      id: path,
      items: page.items.map(present),
      selfLink: computeLink(baseUrl(request), path),
    };
    if (page.nextPageToken !== undefined) {
      out.nextPageToken = page.nextPageToken;
    }
    return out;
  };

  /**
   * aggregatedList: one page (maxResults, pageToken; ordered by region, then name) keyed `regions/R`;
   * scopes without items on the page carry Google's NO_RESULTS_ON_PAGE warning.
   */
  const aggregated = <T extends { region: string; name: string }>(
    request: FastifyRequest,
    project: string,
    items: T[],
    field: string,
    kind: string,
    present: (item: T) => Wire,
  ): Wire => {
    const keyOf = (item: T): string => `${item.region}/${item.name}`;
    const sorted = [...items].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
    const keep = compileFilter(stringParam(queryOf(request).filter));
    const page = paginate(
      {
        pageSize: intParam(queryOf(request).maxResults, 'maxResults'),
        pageToken: stringParam(queryOf(request).pageToken),
      },
      keyOf,
      (after, limit) => sorted.filter((item) => after === undefined || keyOf(item) > after).slice(0, limit),
      keep === undefined ? undefined : (item) => keep(present(item)),
      500,
    );
    const scoped: Record<string, Wire> = {};
    for (const region of REGIONS.map((r) => r.name)) {
      const mine = page.items.filter((item) => item.region === region);
      scoped[`regions/${region}`] =
        mine.length > 0
          ? { [field]: mine.map(present) }
          : {
              warning: {
                code: 'NO_RESULTS_ON_PAGE',
                message: "There are no results for scope 'regions/" + region + "' on this page.",
                data: [{ key: 'scope', value: `regions/${region}` }],
              },
            };
    }
    const out: Wire = {
      kind,
      id: `projects/${project}/aggregated/${field}`,
      items: scoped,
      selfLink: computeLink(baseUrl(request), `projects/${project}/aggregated/${field}`),
    };
    if (page.nextPageToken !== undefined) {
      out.nextPageToken = page.nextPageToken;
    }
    return out;
  };

  const operation = async (
    request: FastifyRequest,
    project: string,
    scope: string,
    operationType: string,
    targetPath: string,
    targetId: string,
  ): Promise<Wire> => {
    await afterMutation();
    const base = baseUrl(request);
    const principal = request.principal;
    const op = platform.operations.completed({
      family: 'compute',
      project,
      scope,
      operationType,
      targetLink: computeLink(base, targetPath),
      targetId,
      user: principal.email === '' ? principal.member : principal.email,
    });
    return presentComputeOperation(base, op);
  };

  // --- networks -------------------------------------------------------------------------------
  const networkWire = (request: FastifyRequest, project: string, name: string): Wire =>
    presentNetwork(baseUrl(request), vpc.getNetwork(project, name), vpc.subnetworksOf(project, name));

  app.get(`${prefix}/global/networks`, async (request) => {
    const project = projectOf(request, 'compute.networks.list');
    return listPage(
      request,
      vpc.listNetworks(project),
      (n) => n.name,
      'compute#networkList',
      `projects/${project}/global/networks`,
      (n) => presentNetwork(baseUrl(request), n, vpc.subnetworksOf(project, n.name)),
    );
  });
  app.get(`${prefix}/global/networks/:network`, async (request) => {
    const project = projectOf(request, 'compute.networks.get');
    return networkWire(request, project, param(request, 'network'));
  });
  app.post(`${prefix}/global/networks`, async (request) => {
    const project = projectOf(request, 'compute.networks.create');
    const network = vpc.insertNetwork(project, body(NetworkBody, request));
    return operation(request, project, 'global', 'insert', networkPath(project, network.name), network.id);
  });
  app.patch(`${prefix}/global/networks/:network`, async (request) => {
    const project = projectOf(request, 'compute.networks.update');
    const network = vpc.patchNetwork(project, param(request, 'network'), body(NetworkBody, request));
    return operation(request, project, 'global', 'patch', networkPath(project, network.name), network.id);
  });
  app.post(`${prefix}/global/networks/:network/switchToCustomMode`, async (request) => {
    const project = projectOf(request, 'compute.networks.update');
    const network = vpc.switchToCustomMode(project, param(request, 'network'));
    return operation(
      request,
      project,
      'global',
      'switchToCustomMode',
      networkPath(project, network.name),
      network.id,
    );
  });
  app.delete(`${prefix}/global/networks/:network`, async (request) => {
    const project = projectOf(request, 'compute.networks.delete');
    const network = vpc.deleteNetwork(project, param(request, 'network'));
    return operation(request, project, 'global', 'delete', networkPath(project, network.name), network.id);
  });

  // --- subnetworks ----------------------------------------------------------------------------
  app.get(`${prefix}/aggregated/subnetworks`, async (request) => {
    const project = projectOf(request, 'compute.subnetworks.list');
    return aggregated(
      request,
      project,
      vpc.listSubnetworks(project),
      'subnetworks',
      'compute#subnetworkAggregatedList',
      (s) => presentSubnetwork(baseUrl(request), s),
    );
  });
  app.get(`${prefix}/regions/:region/subnetworks`, async (request) => {
    const project = projectOf(request, 'compute.subnetworks.list');
    const region = regionOf(request, project);
    return listPage(
      request,
      vpc.listSubnetworks(project, region),
      (s) => s.name,
      'compute#subnetworkList',
      `projects/${project}/regions/${region}/subnetworks`,
      (s) => presentSubnetwork(baseUrl(request), s),
    );
  });
  app.get(`${prefix}/regions/:region/subnetworks/:subnetwork`, async (request) => {
    const project = projectOf(request, 'compute.subnetworks.get');
    const region = regionOf(request, project);
    return presentSubnetwork(
      baseUrl(request),
      vpc.getSubnetwork(project, region, param(request, 'subnetwork')),
    );
  });
  app.post(`${prefix}/regions/:region/subnetworks`, async (request) => {
    const project = projectOf(request, 'compute.subnetworks.create', 'compute.networks.updatePolicy');
    const region = regionOf(request, project);
    const subnet = vpc.insertSubnetwork(project, region, body(SubnetworkBody, request));
    return operation(
      request,
      project,
      `regions/${region}`,
      'insert',
      subnetworkPath(project, region, subnet.name),
      subnet.id,
    );
  });
  app.patch(`${prefix}/regions/:region/subnetworks/:subnetwork`, async (request) => {
    const project = projectOf(request, 'compute.subnetworks.update');
    const region = regionOf(request, project);
    const subnet = vpc.patchSubnetwork(
      project,
      region,
      param(request, 'subnetwork'),
      body(SubnetworkBody, request),
    );
    return operation(
      request,
      project,
      `regions/${region}`,
      'patch',
      subnetworkPath(project, region, subnet.name),
      subnet.id,
    );
  });
  app.post(`${prefix}/regions/:region/subnetworks/:subnetwork/expandIpCidrRange`, async (request) => {
    const project = projectOf(request, 'compute.subnetworks.expandIpCidrRange');
    const region = regionOf(request, project);
    const subnet = vpc.expandIpCidrRange(
      project,
      region,
      param(request, 'subnetwork'),
      body(ExpandBody, request).ipCidrRange,
    );
    return operation(
      request,
      project,
      `regions/${region}`,
      'expandIpCidrRange',
      subnetworkPath(project, region, subnet.name),
      subnet.id,
    );
  });
  app.post(`${prefix}/regions/:region/subnetworks/:subnetwork/setPrivateIpGoogleAccess`, async (request) => {
    const project = projectOf(request, 'compute.subnetworks.setPrivateIpGoogleAccess');
    const region = regionOf(request, project);
    const enabled = body(PrivateAccessBody, request).privateIpGoogleAccess ?? false;
    const subnet = vpc.setPrivateIpGoogleAccess(project, region, param(request, 'subnetwork'), enabled);
    return operation(
      request,
      project,
      `regions/${region}`,
      'setPrivateIpGoogleAccess',
      subnetworkPath(project, region, subnet.name),
      subnet.id,
    );
  });
  app.delete(`${prefix}/regions/:region/subnetworks/:subnetwork`, async (request) => {
    const project = projectOf(request, 'compute.subnetworks.delete');
    const region = regionOf(request, project);
    const subnet = vpc.deleteSubnetwork(project, region, param(request, 'subnetwork'));
    return operation(
      request,
      project,
      `regions/${region}`,
      'delete',
      subnetworkPath(project, region, subnet.name),
      subnet.id,
    );
  });

  // --- firewalls ------------------------------------------------------------------------------
  app.get(`${prefix}/global/firewalls`, async (request) => {
    const project = projectOf(request, 'compute.firewalls.list');
    return listPage(
      request,
      vpc.listFirewalls(project),
      (f) => f.name,
      'compute#firewallList',
      `projects/${project}/global/firewalls`,
      (f) => presentFirewall(baseUrl(request), f),
    );
  });
  app.get(`${prefix}/global/firewalls/:firewall`, async (request) => {
    const project = projectOf(request, 'compute.firewalls.get');
    return presentFirewall(baseUrl(request), vpc.getFirewall(project, param(request, 'firewall')));
  });
  app.post(`${prefix}/global/firewalls`, async (request) => {
    const project = projectOf(request, 'compute.firewalls.create', 'compute.networks.updatePolicy');
    const rule = vpc.insertFirewall(project, body(FirewallBody, request));
    return operation(request, project, 'global', 'insert', firewallPath(project, rule.name), rule.id);
  });
  for (const method of ['patch', 'put'] as const) {
    app[method](`${prefix}/global/firewalls/:firewall`, async (request) => {
      const project = projectOf(request, 'compute.firewalls.update', 'compute.networks.updatePolicy');
      const rule = vpc.updateFirewall(
        project,
        param(request, 'firewall'),
        body(FirewallBody, request),
        method === 'put',
      );
      return operation(
        request,
        project,
        'global',
        method === 'put' ? 'update' : 'patch',
        firewallPath(project, rule.name),
        rule.id,
      );
    });
  }
  app.delete(`${prefix}/global/firewalls/:firewall`, async (request) => {
    const project = projectOf(request, 'compute.firewalls.delete', 'compute.networks.updatePolicy');
    const rule = vpc.deleteFirewall(project, param(request, 'firewall'));
    return operation(request, project, 'global', 'delete', firewallPath(project, rule.name), rule.id);
  });

  // --- routes ---------------------------------------------------------------------------------
  app.get(`${prefix}/global/routes`, async (request) => {
    const project = projectOf(request, 'compute.routes.list');
    return listPage(
      request,
      vpc.listRoutes(project),
      (r) => r.name,
      'compute#routeList',
      `projects/${project}/global/routes`,
      (r) => presentRoute(baseUrl(request), r),
    );
  });
  app.get(`${prefix}/global/routes/:route`, async (request) => {
    const project = projectOf(request, 'compute.routes.get');
    return presentRoute(baseUrl(request), vpc.getRoute(project, param(request, 'route')));
  });
  app.post(`${prefix}/global/routes`, async (request) => {
    const project = projectOf(request, 'compute.routes.create', 'compute.networks.updatePolicy');
    const route = vpc.insertRoute(project, body(RouteBody, request));
    return operation(request, project, 'global', 'insert', routePath(project, route.name), route.id);
  });
  app.delete(`${prefix}/global/routes/:route`, async (request) => {
    const project = projectOf(request, 'compute.routes.delete', 'compute.networks.updatePolicy');
    const route = vpc.deleteRoute(project, param(request, 'route'));
    return operation(request, project, 'global', 'delete', routePath(project, route.name), route.id);
  });

  // --- addresses (regional, internal) ---------------------------------------------------------
  app.get(`${prefix}/aggregated/addresses`, async (request) => {
    const project = projectOf(request, 'compute.addresses.list');
    return aggregated(
      request,
      project,
      vpc.listAddresses(project),
      'addresses',
      'compute#addressAggregatedList',
      (a) => presentAddress(baseUrl(request), a),
    );
  });
  app.get(`${prefix}/regions/:region/addresses`, async (request) => {
    const project = projectOf(request, 'compute.addresses.list');
    const region = regionOf(request, project);
    return listPage(
      request,
      vpc.listAddresses(project, region),
      (a) => a.name,
      'compute#addressList',
      `projects/${project}/regions/${region}/addresses`,
      (a) => presentAddress(baseUrl(request), a),
    );
  });
  app.get(`${prefix}/regions/:region/addresses/:address`, async (request) => {
    const project = projectOf(request, 'compute.addresses.get');
    const region = regionOf(request, project);
    return presentAddress(baseUrl(request), vpc.getAddress(project, region, param(request, 'address')));
  });
  app.post(`${prefix}/regions/:region/addresses`, async (request) => {
    const project = projectOf(request, 'compute.addresses.create', 'compute.subnetworks.use');
    const region = regionOf(request, project);
    const address = vpc.insertAddress(project, region, body(AddressBody, request));
    return operation(
      request,
      project,
      `regions/${region}`,
      'insert',
      addressPath(project, region, address.name),
      address.id,
    );
  });
  app.delete(`${prefix}/regions/:region/addresses/:address`, async (request) => {
    const project = projectOf(request, 'compute.addresses.delete');
    const region = regionOf(request, project);
    const address = vpc.deleteAddress(project, region, param(request, 'address'));
    return operation(
      request,
      project,
      `regions/${region}`,
      'delete',
      addressPath(project, region, address.name),
      address.id,
    );
  });
}
