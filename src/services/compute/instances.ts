import type { FastifyInstance } from 'fastify';
import type { Platform, ServiceStatus } from '../../core/platform.ts';
import { startMetadataServer, type MetadataServer } from './instance-metadata.ts';
import { createComputeEngines } from './instances-engines.ts';
import { registerInstanceRoutes } from './instances-routes.ts';
import { InstancesService } from './instances-service.ts';
import { instancePath, InstanceStore } from './instances-store.ts';
import { registerSshRoutes } from './ssh.ts';
import { vpcFor } from './vpc/index.ts';

const services = new WeakMap<Platform, InstancesService>();

/**
 * Google's REST clients send `Content-Type: application/json` with no body on bodiless calls
 * (instances.stop, delete...): inside these routes an empty JSON body is no body, as on Google.
 */
function acceptEmptyJsonBodies(routes: FastifyInstance): void {
  routes.removeContentTypeParser('application/json');
  routes.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    try {
      done(
        null,
        JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value)),
      );
    } catch (error) {
      done(error instanceof Error ? error : new SyntaxError(String(error)), undefined);
    }
  });
}

/**
 * Instances, disks, images and machine types, the guest metadata server (Unix socket) and the
 * terminal WebSocket. The engines are checked once here; when they are missing the API still
 * answers (reads work, boots fail with 503) and the service status says why.
 */
export async function registerInstances(app: FastifyInstance, platform: Platform): Promise<void> {
  const engines = await createComputeEngines(platform);
  const service = new InstancesService(platform, new InstanceStore(platform.store), engines);
  services.set(platform, service);
  // A network that instances use cannot be deleted (Google: resourceInUseByAnotherResource).
  vpcFor(platform).service.addNetworkUserProbe((project, network) =>
    service.store
      .listInstances(`projects/${project}/zones/`)
      .filter((i) => i.nic.network === network)
      .map((i) => instancePath(i.project, i.zone, i.name)),
  );
  await app.register(async (routes) => {
    acceptEmptyJsonBodies(routes);
    registerInstanceRoutes(routes, platform, service);
    await registerSshRoutes(routes, platform, service);
  });

  let metadata: MetadataServer | undefined;
  try {
    metadata = await startMetadataServer(platform, service);
  } catch (error) {
    platform.log.warn({ err: error }, 'guest metadata server not started');
  }
  app.addHook('onClose', async () => {
    await service.settle();
    await metadata?.close();
  });
}

/**
 * After the server listens (`nimbus start`): checks the engine (so the service status is known) and
 * brings instances back to their last state.
 */
export function startInstances(platform: Platform): void {
  const service = services.get(platform);
  if (service === undefined) {
    return;
  }
  // In the background: `nimbus start` must be ready at once (an image build or apt install may be slow).
  void (async () => {
    const availability = await service.checkAvailability();
    if (!availability.ok) {
      platform.log.warn(
        { reason: availability.reason, fix: availability.fix },
        'Compute Engine is unavailable',
      );
      return;
    }
    await service.reconcile();
  })().catch((error: unknown) => {
    platform.log.error({ err: error }, 'restoring instances after restart failed');
  });
}

/** The compute service's status: unavailable (with reason and fix) when the engine cannot run. */
export function instancesStatus(platform: Platform): ServiceStatus {
  const availability = services.get(platform)?.status();
  if (availability === undefined || availability.ok) {
    return { state: 'ready' };
  }
  const status: ServiceStatus = { state: 'unavailable' };
  if (availability.reason !== undefined) {
    status.reason = availability.reason;
  }
  if (availability.fix !== undefined) {
    status.fix = availability.fix;
  }
  return status;
}

/** The instances service of an app (tests, other compute modules). */
export function instancesServiceOf(platform: Platform): InstancesService | undefined {
  return services.get(platform);
}
