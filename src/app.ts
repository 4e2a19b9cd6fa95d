import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { NimbusConfig } from './config.ts';
import type { Principal } from './core/auth.ts';
import { systemClock, type Clock } from './core/clock.ts';
import {
  ApiError,
  InvalidArgument,
  NimbusError,
  NotFound,
  PayloadTooLarge,
  PermissionDenied,
} from './core/errors.ts';
import { EventBus } from './core/events.ts';
import { hexId } from './core/ids.ts';
import { Operations } from './core/operations.ts';
import type { Platform, ServicePlugin } from './core/platform.ts';
import { SqliteDocumentStore } from './platform/sqlite-store.ts';
import { rewriteStorageXmlUrl, XML_PREFIX } from './services/storage/xml/addressing.ts';
import { s3ErrorBody } from './services/storage/xml/errors.ts';
import {
  adminPlugin,
  computePlugin,
  createIdentity,
  iamPlugin,
  longRunningPlugin,
  metadataPlugin,
  ownerPrincipalFor,
  ProjectsService,
  ProjectStore,
  resourceManagerPlugin,
  ROOT_RESOURCE,
  storagePlugin,
  testbenchPlugin,
} from './services/index.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
  interface FastifyContextConfig {
    /** Skips authentication (token endpoints, health, metadata server). */
    public?: boolean;
    /** Allows cross-origin mutating requests (bucket CORS applies instead). */
    crossOrigin?: boolean;
  }
}

export const VERSION = '0.1.0';
/** Control-plane JSON bodies larger than this are refused with 413 (uploads stream separately). */
export const BODY_LIMIT = 1024 * 1024;

export interface BuildOptions {
  clock?: Clock;
  logger?: FastifyBaseLogger;
}

export interface NimbusApp {
  app: FastifyInstance;
  platform: Platform;
  plugins: ServicePlugin[];
  close(): Promise<void>;
}

function prepareDataDir(dataDir: string): void {
  try {
    mkdirSync(join(dataDir, 'logs'), { recursive: true });
    accessSync(dataDir, constants.W_OK);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new NimbusError('NIMBUS_ERR_DATA_DIR', `cannot use data dir ${dataDir}: ${why}`);
  }
}

function hostnameOf(hostHeader: string): string {
  const host = hostHeader.toLowerCase();
  if (host.startsWith('[')) {
    return host.slice(1, host.indexOf(']'));
  }
  const colon = host.lastIndexOf(':');
  return colon >= 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

/** Host names a request may address (DNS-rebinding guard). */
function hostAllowed(config: NimbusConfig, hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname.endsWith('.localhost') ||
    hostname === '::1' ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname) ||
    hostname === config.host.toLowerCase() ||
    hostname === 'metadata.google.internal' ||
    hostname === '169.254.169.254' ||
    config.allowedHosts.includes(hostname)
  );
}

/** Rejects cross-site mutating requests: browsers send Origin (and Sec-Fetch-Site) on them. */
function crossSite(request: FastifyRequest): boolean {
  if (request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') {
    return false;
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== '') {
    try {
      return new URL(origin).host.toLowerCase() !== request.host.toLowerCase();
    } catch {
      return true;
    }
  }
  const site = request.headers['sec-fetch-site'];
  return site === 'cross-site' || site === 'same-site';
}

/** Maps Fastify's own errors (bad JSON, body too large...) to Google-shaped ones. */
function toApiError(error: FastifyError | ApiError | Error): ApiError | undefined {
  if (error instanceof ApiError) {
    return error;
  }
  const code = (error as FastifyError).code;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PayloadTooLarge(`The request body is larger than the ${BODY_LIMIT} byte limit.`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'INVALID_ARGUMENT', 'Unsupported Content-Type for this method.', {
        reason: 'unsupportedMediaType',
      });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new InvalidArgument('Invalid JSON payload received. The body is empty.', {
        reason: 'parseError',
      });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new InvalidArgument('The Content-Length does not match the body.', { reason: 'badContent' });
    default:
      break;
  }
  if (error instanceof SyntaxError || (error as FastifyError).statusCode === 400) {
    return new InvalidArgument(`Invalid JSON payload received. ${error.message}`, { reason: 'parseError' });
  }
  const status = (error as FastifyError).statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    return new ApiError(status, 'INVALID_ARGUMENT', error.message, { reason: 'badRequest' });
  }
  return undefined;
}

/** One compact log line per completed request instead of Fastify's two (incoming + completed). */
class RequestLog extends LogController {
  override incomingRequest(): void {
    // Logged once, on completion.
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) {
      return;
    }
    const line = {
      method: request.method,
      url: redactUrl(request.url),
      statusCode: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (error) {
      reply.log.error({ ...line, err: error }, 'request errored');
    } else {
      reply.log.info(line, 'request');
    }
  }
}

/** Request ids: a random per-process prefix and a counter (unique, no random bytes per request). */
function requestIds(): () => string {
  const prefix = hexId(4);
  let next = 0;
  return () => {
    next = (next + 1) % 0x100000000;
    return prefix + next.toString(16).padStart(8, '0');
  };
}

/** Builds the whole server without listening (tests call this and use `app.inject`). */
/** Query parameters that are credentials (OAuth tokens, signed-URL signatures): never logged. */
const SECRET_PARAMS = /^(access_token|x-goog-signature|x-amz-signature|signature|x-amz-security-token)$/i;

/** The URL with credential values in its query replaced by `REDACTED`, for the request log. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) {
    return url;
  }
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return eq >= 0 && SECRET_PARAMS.test(decoded) ? `${name}=REDACTED` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

export async function buildApp(config: NimbusConfig, options: BuildOptions = {}): Promise<NimbusApp> {
  prepareDataDir(config.dataDir);
  const clock = options.clock ?? systemClock;
  const store = new SqliteDocumentStore(join(config.dataDir, 'nimbus.db'));
  const projects = new ProjectsService(new ProjectStore(store), clock);
  const identity = createIdentity({
    docs: store,
    clock,
    projects,
    anonymousMode: config.anonymous,
    ownerEmail: config.ownerEmail,
  });
  const owner = ownerPrincipalFor(config.ownerEmail);

  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: BODY_LIMIT,
    genReqId: requestIds(),
    requestIdHeader: false,
    logController: new RequestLog(),
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: true },
    // Bad percent-encoding and over-long path segments fail before routing: answer Google-shaped too.
    frameworkErrors: (error, request, reply) => {
      const out = reply as unknown as FastifyReply;
      if (request.url.startsWith(XML_PREFIX)) {
        // The S3 face answers in S3's XML.
        const long = error.code === 'FST_ERR_MAX_PARAM_LENGTH';
        void out
          .header('x-request-id', request.id)
          .code(long ? 414 : 400)
          .type('application/xml')
          .send(
            s3ErrorBody(
              long ? 'KeyTooLongError' : 'InvalidURI',
              long ? 'Your key is too long.' : "Couldn't parse the specified URI.",
              request.id,
            ),
          );
        return;
      }
      const apiError =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? new ApiError(414, 'INVALID_ARGUMENT', 'The request URL is too long.', { reason: 'uriTooLong' })
          : new InvalidArgument('The request URL is not valid.', { reason: 'badRequest' });
      void out.header('x-request-id', request.id).code(apiError.httpStatus).send(apiError.toJSON());
    },
    trustProxy: false,
    // The Cloud Storage XML face: virtual-hosted (`BUCKET.localhost`) and S3-port requests.
    rewriteUrl: rewriteStorageXmlUrl,
  });
  const platform: Platform = {
    config,
    clock,
    store,
    events: new EventBus(store, clock),
    operations: new Operations(store, clock),
    access: identity.access,
    policies: identity.policies,
    projects,
    tokens: identity.tokens,
    log: app.log,
    anonymousPrincipal: () => identity.access.authenticate(undefined),
    ownerPrincipal: () => owner,
  };
  platform.events.setErrorReporter((name, error) => {
    app.log.error({ err: error, subscription: name }, 'event delivery failed; will retry');
  });

  const bootstrap = (): void => {
    store.transaction(() => {
      identity.policies.grant(ROOT_RESOURCE, 'roles/owner', owner.member);
      projects.ensure({ projectId: config.defaultProject, name: config.defaultProject }, (project) => {
        identity.policies.grant(`projects/${project.projectId}`, 'roles/owner', owner.member);
      });
    });
  };
  bootstrap();
  platform.operations.recoverInterrupted();

  let plugins: ServicePlugin[] = [];
  plugins = [
    adminPlugin({
      plugins: () => plugins,
      startedAt: Date.now(),
      version: VERSION,
      reset: async () => {
        await platform.operations.settle();
        for (const plugin of plugins) {
          await plugin.reset?.(platform);
        }
        store.clear();
        identity.tokens.reload();
        bootstrap();
      },
    }),
    resourceManagerPlugin(projects),
    iamPlugin(identity),
    metadataPlugin,
    longRunningPlugin,
    computePlugin,
    storagePlugin,
    ...(config.testbench ? [testbenchPlugin] : []),
  ];

  // Google's front end takes `Content-Type: application/json` with an empty body as "no body" (the
  // gax REST transport sends exactly that on deletes); a body a method requires is still checked.
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') {
      done(null, undefined);
      return;
    }
    void jsonParser(request, body as string, done);
  });

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );

  app.decorateRequest('principal', undefined as unknown as Principal);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (!hostAllowed(config, hostnameOf(request.host))) {
      throw new PermissionDenied(
        `Host '${request.host}' is not allowed. Add it with --allowed-hosts if you mean to reach Nimbus by that name.`,
        { reason: 'forbidden' },
      );
    }
    const routeConfig = request.routeOptions.config;
    if (routeConfig.crossOrigin !== true && crossSite(request)) {
      throw new PermissionDenied('Cross-origin requests to the control APIs are not allowed.', {
        reason: 'forbidden',
      });
    }
    if (routeConfig.public === true) {
      request.principal = platform.anonymousPrincipal();
      return;
    }
    const query = request.query as Record<string, unknown> | undefined;
    const headerValue = request.headers.authorization;
    const tokenParam = typeof query?.access_token === 'string' ? `Bearer ${query.access_token}` : undefined;
    request.principal = identity.access.authenticate(headerValue ?? tokenParam);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const apiError = toApiError(error);
    if (apiError === undefined) {
      request.log.error({ err: error }, 'unexpected error');
      const internal = new ApiError(500, 'INTERNAL', `Internal error. Request id: ${request.id}`, {
        reason: 'backendError',
      });
      return reply.code(500).send(internal.toJSON());
    }
    if (apiError.httpStatus >= 500) {
      request.log.error({ err: error }, 'server error');
    }
    for (const [name, value] of Object.entries(apiError.headers)) {
      reply.header(name, value);
    }
    return reply.code(apiError.httpStatus).send(apiError.toJSON());
  });

  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith(XML_PREFIX)) {
      // The S3 face routes every path for the methods it knows: anything else is a method it lacks.
      return reply
        .code(405)
        .type('application/xml')
        .send(
          s3ErrorBody(
            'MethodNotAllowed',
            'The specified method is not allowed against this resource.',
            request.id,
          ),
        );
    }
    const error = new NotFound(
      `The requested URL ${request.url.split('?')[0] ?? ''} was not found on this server.`,
    );
    return reply.code(404).send(error.toJSON());
  });

  for (const plugin of plugins) {
    await plugin.register(app, platform);
  }
  await app.ready();
  platform.events.start();

  return {
    app,
    platform,
    plugins,
    close: async () => {
      for (const plugin of plugins) {
        await plugin.stop?.();
      }
      await app.close();
      await platform.operations.settle();
      await platform.events.drain();
      store.close();
    },
  };
}
