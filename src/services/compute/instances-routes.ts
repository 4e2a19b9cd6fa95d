import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidArgument, NotFound } from '../../core/errors.ts';
import { baseUrl, intParam, paramsOf, parseBody, queryOf, stringParam } from '../../core/http.ts';
import { allZones } from '../../core/locations.ts';
import { paginate } from '../../core/paging.ts';
import { compileFilter } from './filter.ts';
import type { Platform } from '../../core/platform.ts';
import { diskPath, presentDisk, type DiskRecord } from './disks.ts';
import {
  findImage,
  findImageFamily,
  isPublicImageProject,
  presentImage,
  PUBLIC_IMAGES,
  type PublicImage,
} from './images.ts';
import { presentInstance, presentProject, presentSerialPortOutput } from './instances-presenters.ts';
import type { Caller, InstanceInsert, InstancesService } from './instances-service.ts';
import type { InstanceRecord } from './instances-store.ts';
import { findMachineType, MACHINE_TYPES, presentMachineType, type MachineType } from './machine-types.ts';
import { computeLink, presentComputeOperation } from './presenters.ts';

/** The permissions Google checks for setTags / setMachineType. */
const TAGS_PERMISSION = 'compute.instances.setTags';
const MACHINE_TYPE_PERMISSION = 'compute.instances.setMachineType';

const MetadataItems = Type.Array(Type.Object({ key: Type.String(), value: Type.Optional(Type.String()) }));

const InsertBody = Type.Object({
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  machineType: Type.Optional(Type.String()),
  hostname: Type.Optional(Type.String()),
  deletionProtection: Type.Optional(Type.Boolean()),
  tags: Type.Optional(Type.Object({ items: Type.Optional(Type.Array(Type.String())) })),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
  metadata: Type.Optional(Type.Object({ items: Type.Optional(MetadataItems) })),
  disks: Type.Optional(
    Type.Array(
      Type.Object({
        boot: Type.Optional(Type.Boolean()),
        autoDelete: Type.Optional(Type.Boolean()),
        deviceName: Type.Optional(Type.String()),
        source: Type.Optional(Type.String()),
        initializeParams: Type.Optional(
          Type.Object({
            diskName: Type.Optional(Type.String()),
            sourceImage: Type.Optional(Type.String()),
            diskSizeGb: Type.Optional(Type.Union([Type.String(), Type.Integer()])),
            diskType: Type.Optional(Type.String()),
          }),
        ),
      }),
    ),
  ),
  networkInterfaces: Type.Optional(
    Type.Array(
      Type.Object({
        network: Type.Optional(Type.String()),
        subnetwork: Type.Optional(Type.String()),
        networkIP: Type.Optional(Type.String()),
        accessConfigs: Type.Optional(
          Type.Array(
            Type.Object({
              name: Type.Optional(Type.String()),
              type: Type.Optional(Type.String()),
              networkTier: Type.Optional(Type.String()),
              natIP: Type.Optional(Type.String()),
            }),
          ),
        ),
      }),
    ),
  ),
  serviceAccounts: Type.Optional(
    Type.Array(
      Type.Object({
        email: Type.Optional(Type.String()),
        scopes: Type.Optional(Type.Array(Type.String())),
      }),
    ),
  ),
});

const MetadataBody = Type.Object({
  kind: Type.Optional(Type.String()),
  fingerprint: Type.Optional(Type.String()),
  items: Type.Optional(MetadataItems),
});
const LabelsBody = Type.Object({
  labelFingerprint: Type.Optional(Type.String()),
  labels: Type.Optional(Type.Record(Type.String(), Type.String())),
});
const TagsBody = Type.Object({
  fingerprint: Type.Optional(Type.String()),
  items: Type.Optional(Type.Array(Type.String())),
});
const MachineTypeBody = Type.Object({ machineType: Type.Optional(Type.String()) });
const AccessConfigBody = Type.Object({
  kind: Type.Optional(Type.String()),
  name: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  networkTier: Type.Optional(Type.String()),
  natIP: Type.Optional(Type.String()),
});

interface ComputeList {
  kind: string;
  id: string;
  items: unknown[];
  selfLink: string;
  nextPageToken?: string;
}

/** Compute Engine v1: machine types, images, disks and instances. */
export function registerInstanceRoutes(
  app: FastifyInstance,
  platform: Platform,
  service: InstancesService,
): void {
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
  const callerOf = (request: FastifyRequest): Caller => ({
    user: request.principal.email === '' ? 'anonymous' : request.principal.email,
    base: baseUrl(request),
  });
  const zoneOf = (request: FastifyRequest): string => {
    const zone = paramsOf(request).zone ?? '';
    service.requireZone(zone);
    return zone;
  };
  const list = (kind: string, path: string, base: string, items: unknown[], next?: string): ComputeList => {
    const out: ComputeList = { kind, id: path, items, selfLink: computeLink(base, path) };
    if (next !== undefined) {
      out.nextPageToken = next;
    }
    return out;
  };
  const aggregated = (
    kind: string,
    path: string,
    base: string,
    field: string,
    byZone: Map<string, unknown[]>,
  ): Record<string, unknown> => {
    const items: Record<string, unknown> = {};
    for (const [zone, values] of [...byZone.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
      items[`zones/${zone}`] = { [field]: values };
    }
    return { kind, id: path, items, selfLink: computeLink(base, path) };
  };
  const presentWithDisk = (base: string, instance: InstanceRecord): Record<string, unknown> =>
    presentInstance(
      base,
      instance,
      service.store.getDisk(diskPath(instance.project, instance.zone, instance.bootDisk.name)),
    );

  // --- projects.get / setCommonInstanceMetadata ------------------------------------------------
  app.get(prefix, async (request) => {
    const project = projectOf(request, 'compute.projects.get');
    const ref = platform.projects.require(project);
    return presentProject(
      baseUrl(request),
      ref,
      service.projectMetadata(project),
      service.defaultServiceAccount(project),
    );
  });

  app.post(`${prefix}/setCommonInstanceMetadata`, async (request) => {
    const project = projectOf(request, 'compute.projects.setCommonInstanceMetadata');
    const body = parseBody(MetadataBody, request.body, false);
    const op = service.setCommonInstanceMetadata(project, body, callerOf(request));
    return presentComputeOperation(baseUrl(request), op);
  });

  // --- machineTypes ---------------------------------------------------------------------------
  app.get(`${prefix}/zones/:zone/machineTypes`, async (request) => {
    const project = projectOf(request, 'compute.machineTypes.list');
    const zone = zoneOf(request);
    const base = baseUrl(request);
    const page = paginate(
      pageOf(request),
      (m: MachineType) => m.name,
      (after, limit) => MACHINE_TYPES.filter((m) => after === undefined || m.name > after).slice(0, limit),
      undefined,
      500,
    );
    return list(
      'compute#machineTypeList',
      `projects/${project}/zones/${zone}/machineTypes`,
      base,
      page.items.map((m) => presentMachineType(base, project, zone, m)),
      page.nextPageToken,
    );
  });

  app.get(`${prefix}/zones/:zone/machineTypes/:machineType`, async (request) => {
    const project = projectOf(request, 'compute.machineTypes.get');
    const zone = zoneOf(request);
    const name = paramsOf(request).machineType ?? '';
    const type = findMachineType(name);
    if (type === undefined) {
      throw new NotFound(
        `The resource 'projects/${project}/zones/${zone}/machineTypes/${name}' was not found`,
      );
    }
    return presentMachineType(baseUrl(request), project, zone, type);
  });

  app.get(`${prefix}/aggregated/machineTypes`, async (request) => {
    const project = projectOf(request, 'compute.machineTypes.list');
    const base = baseUrl(request);
    const byZone = new Map<string, unknown[]>(
      allZones().map((zone) => [zone, MACHINE_TYPES.map((m) => presentMachineType(base, project, zone, m))]),
    );
    return aggregated(
      'compute#machineTypeAggregatedList',
      `projects/${project}/aggregated/machineTypes`,
      base,
      'machineTypes',
      byZone,
    );
  });

  // --- images (public image projects are readable by everyone) -------------------------------
  const imageProjectOf = (request: FastifyRequest, permission: string): string => {
    const project = paramsOf(request).project ?? '';
    return isPublicImageProject(project) ? project : projectOf(request, permission);
  };

  app.get(`${prefix}/global/images`, async (request) => {
    const project = imageProjectOf(request, 'compute.images.list');
    const base = baseUrl(request);
    const page = paginate(
      pageOf(request),
      (i: PublicImage) => i.name,
      (after, limit) =>
        PUBLIC_IMAGES.filter((i) => i.project === project && (after === undefined || i.name > after)).slice(
          0,
          limit,
        ),
      undefined,
      500,
    );
    return list(
      'compute#imageList',
      `projects/${project}/global/images`,
      base,
      page.items.map((i) => presentImage(base, i)),
      page.nextPageToken,
    );
  });

  app.get(`${prefix}/global/images/family/:family`, async (request) => {
    const project = imageProjectOf(request, 'compute.images.getFromFamily');
    const family = paramsOf(request).family ?? '';
    const image = findImageFamily(project, family);
    if (image === undefined) {
      throw new NotFound(`The resource 'projects/${project}/global/images/family/${family}' was not found`);
    }
    return presentImage(baseUrl(request), image);
  });

  app.get(`${prefix}/zones/:zone/imageFamilyViews/:family`, async (request) => {
    const project = imageProjectOf(request, 'compute.images.getFromFamily');
    const family = paramsOf(request).family ?? '';
    const image = findImageFamily(project, family);
    if (image === undefined) {
      throw new NotFound(`The resource 'projects/${project}/global/images/family/${family}' was not found`);
    }
    return { kind: 'compute#imageFamilyView', image: presentImage(baseUrl(request), image) };
  });

  app.get(`${prefix}/global/images/:image`, async (request) => {
    const project = imageProjectOf(request, 'compute.images.get');
    const name = paramsOf(request).image ?? '';
    const image = findImage(project, name);
    if (image === undefined) {
      throw new NotFound(`The resource 'projects/${project}/global/images/${name}' was not found`);
    }
    return presentImage(baseUrl(request), image);
  });

  // --- disks ------------------------------------------------------------------------------------
  app.get(`${prefix}/zones/:zone/disks`, async (request) => {
    const project = projectOf(request, 'compute.disks.list');
    const zone = zoneOf(request);
    const base = baseUrl(request);
    const path = `projects/${project}/zones/${zone}/disks`;
    const keep = compileFilter(stringParam(queryOf(request).filter));
    const page = paginate(
      pageOf(request),
      (d: DiskRecord) => diskPath(d.project, d.zone, d.name),
      (after, limit) => service.store.listDisks(`${path}/`, after, limit),
      keep === undefined ? undefined : (d) => keep(presentDisk(base, d)),
      500,
    );
    return list(
      'compute#diskList',
      path,
      base,
      page.items.map((d) => presentDisk(base, d)),
      page.nextPageToken,
    );
  });

  app.get(`${prefix}/zones/:zone/disks/:disk`, async (request) => {
    const project = projectOf(request, 'compute.disks.get');
    return presentDisk(
      baseUrl(request),
      service.getDisk(project, zoneOf(request), paramsOf(request).disk ?? ''),
    );
  });

  app.delete(`${prefix}/zones/:zone/disks/:disk`, async (request) => {
    const project = projectOf(request, 'compute.disks.delete');
    const op = service.deleteDisk(project, zoneOf(request), paramsOf(request).disk ?? '', callerOf(request));
    return presentComputeOperation(baseUrl(request), op);
  });

  app.get(`${prefix}/aggregated/disks`, async (request) => {
    const project = projectOf(request, 'compute.disks.list');
    const base = baseUrl(request);
    const keep = compileFilter(stringParam(queryOf(request).filter)) ?? (() => true);
    const byZone = new Map<string, unknown[]>();
    for (const disk of service.store.listDisks(`projects/${project}/zones/`)) {
      const presented = presentDisk(base, disk);
      if (keep(presented)) {
        byZone.set(disk.zone, [...(byZone.get(disk.zone) ?? []), presented]);
      }
    }
    return aggregated(
      'compute#diskAggregatedList',
      `projects/${project}/aggregated/disks`,
      base,
      'disks',
      byZone,
    );
  });

  // --- instances ------------------------------------------------------------------------------
  const instancesAt = `${prefix}/zones/:zone/instances`;
  const instanceAt = `${instancesAt}/:instance`;

  app.get(instancesAt, async (request) => {
    const project = projectOf(request, 'compute.instances.list');
    const zone = zoneOf(request);
    const base = baseUrl(request);
    const path = `projects/${project}/zones/${zone}/instances`;
    const keep = compileFilter(stringParam(queryOf(request).filter));
    const page = paginate(
      pageOf(request),
      (i: InstanceRecord) => `${path}/${i.name}`,
      (after, limit) => service.store.listInstances(`${path}/`, after, limit),
      keep === undefined ? undefined : (i) => keep(presentWithDisk(base, i)),
      500,
    );
    return list(
      'compute#instanceList',
      path,
      base,
      page.items.map((i) => presentWithDisk(base, i)),
      page.nextPageToken,
    );
  });

  app.get(`${prefix}/aggregated/instances`, async (request) => {
    const project = projectOf(request, 'compute.instances.list');
    const base = baseUrl(request);
    const keep = compileFilter(stringParam(queryOf(request).filter)) ?? (() => true);
    const byZone = new Map<string, unknown[]>();
    for (const instance of service.store.listInstances(`projects/${project}/zones/`)) {
      const presented = presentWithDisk(base, instance);
      if (keep(presented)) {
        byZone.set(instance.zone, [...(byZone.get(instance.zone) ?? []), presented]);
      }
    }
    return aggregated(
      'compute#instanceAggregatedList',
      `projects/${project}/aggregated/instances`,
      base,
      'instances',
      byZone,
    );
  });

  app.post(instancesAt, async (request) => {
    const project = projectOf(request, 'compute.instances.create');
    const zone = paramsOf(request).zone ?? '';
    const body = parseBody(InsertBody, request.body, false);
    const insert: InstanceInsert = {
      ...body,
      disks: body.disks?.map((d) => {
        const params = d.initializeParams;
        if (params === undefined) {
          return { ...d, initializeParams: undefined };
        }
        const { diskSizeGb, ...rest } = params;
        return {
          ...d,
          initializeParams: diskSizeGb === undefined ? rest : { ...rest, diskSizeGb: String(diskSizeGb) },
        };
      }),
    };
    const op = await service.insert(project, zone, insert, callerOf(request));
    return presentComputeOperation(baseUrl(request), op);
  });

  app.get(instanceAt, async (request) => {
    const project = projectOf(request, 'compute.instances.get');
    const instance = service.get(project, paramsOf(request).zone ?? '', paramsOf(request).instance ?? '');
    return presentWithDisk(baseUrl(request), instance);
  });

  app.delete(instanceAt, async (request) => {
    const project = projectOf(request, 'compute.instances.delete');
    const op = await service.delete(
      project,
      paramsOf(request).zone ?? '',
      paramsOf(request).instance ?? '',
      callerOf(request),
    );
    return presentComputeOperation(baseUrl(request), op);
  });

  const lifecycle = ['start', 'stop', 'suspend', 'resume', 'reset'] as const;
  for (const verb of lifecycle) {
    app.post(`${instanceAt}/${verb}`, async (request) => {
      const project = projectOf(request, `compute.instances.${verb}`);
      const params = paramsOf(request);
      const op = await service[verb](project, params.zone ?? '', params.instance ?? '', callerOf(request));
      return presentComputeOperation(baseUrl(request), op);
    });
  }

  app.post(`${instanceAt}/setMetadata`, async (request) => {
    const project = projectOf(request, 'compute.instances.setMetadata');
    const params = paramsOf(request);
    const body = parseBody(MetadataBody, request.body, false);
    const op = service.setMetadata(
      project,
      params.zone ?? '',
      params.instance ?? '',
      body,
      callerOf(request),
    );
    return presentComputeOperation(baseUrl(request), op);
  });

  app.post(`${instanceAt}/setLabels`, async (request) => {
    const project = projectOf(request, 'compute.instances.setLabels');
    const params = paramsOf(request);
    const body = parseBody(LabelsBody, request.body, false);
    const op = service.setLabels(project, params.zone ?? '', params.instance ?? '', body, callerOf(request));
    return presentComputeOperation(baseUrl(request), op);
  });

  app.post(`${instanceAt}/setTags`, async (request) => {
    const project = projectOf(request, TAGS_PERMISSION);
    const params = paramsOf(request);
    const body = parseBody(TagsBody, request.body, false);
    const op = service.setTags(project, params.zone ?? '', params.instance ?? '', body, callerOf(request));
    return presentComputeOperation(baseUrl(request), op);
  });

  app.post(`${instanceAt}/setMachineType`, async (request) => {
    const project = projectOf(request, MACHINE_TYPE_PERMISSION);
    const params = paramsOf(request);
    const body = parseBody(MachineTypeBody, request.body, false);
    const op = service.setMachineType(
      project,
      params.zone ?? '',
      params.instance ?? '',
      body,
      callerOf(request),
    );
    return presentComputeOperation(baseUrl(request), op);
  });

  app.post(`${instanceAt}/addAccessConfig`, async (request) => {
    const project = projectOf(request, 'compute.instances.addAccessConfig');
    const params = paramsOf(request);
    const body = parseBody(AccessConfigBody, request.body, false);
    const op = service.addAccessConfig(
      project,
      params.zone ?? '',
      params.instance ?? '',
      stringParam(queryOf(request).networkInterface),
      body,
      callerOf(request),
    );
    return presentComputeOperation(baseUrl(request), op);
  });

  app.post(`${instanceAt}/deleteAccessConfig`, async (request) => {
    const project = projectOf(request, 'compute.instances.deleteAccessConfig');
    const params = paramsOf(request);
    const query = queryOf(request);
    const op = service.deleteAccessConfig(
      project,
      params.zone ?? '',
      params.instance ?? '',
      stringParam(query.networkInterface),
      stringParam(query.accessConfig),
      callerOf(request),
    );
    return presentComputeOperation(baseUrl(request), op);
  });

  app.get(`${instanceAt}/serialPort`, async (request) => {
    const project = projectOf(request, 'compute.instances.getSerialPortOutput');
    const params = paramsOf(request);
    const query = queryOf(request);
    const port = intParam(query.port, 'port') ?? 1;
    const start = intParam(query.start, 'start');
    if (start !== undefined && start < 0) {
      throw new InvalidArgument(
        `Invalid value for field 'start': '${String(start)}'. Must be non-negative.`,
        {
          reason: 'invalid',
        },
      );
    }
    const instance = service.get(project, params.zone ?? '', params.instance ?? '');
    const output = service.serialPortOutput(project, instance.zone, instance.name, port, start);
    return presentSerialPortOutput(baseUrl(request), instance, output);
  });

  app.addHook('onClose', async () => {
    await service.closeHostForwards();
  });

  // Nimbus guests publish no guest attributes: like Google for a path with no entries, a 404 (gcloud
  // compute ssh then trusts the host key on first use, as it does without guest attributes).
  app.get(`${instanceAt}/getGuestAttributes`, async (request) => {
    const project = projectOf(request, 'compute.instances.getGuestAttributes');
    const params = paramsOf(request);
    const query = queryOf(request);
    const instance = service.get(project, params.zone ?? '', params.instance ?? '');
    const key = stringParam(query.variableKey) ?? stringParam(query.queryPath) ?? '';
    throw new NotFound(
      `The resource 'projects/${project}/zones/${instance.zone}/instances/${instance.name}/guestAttributes/${key}' was not found`,
      { reason: 'notFound' },
    );
  });
}
