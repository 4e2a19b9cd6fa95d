import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { NimbusConfig } from '../config.ts';
import type { AccessControl, PolicyRegistry, Principal, ProjectDirectory } from './auth.ts';
import type { Clock } from './clock.ts';
import type { EventBus } from './events.ts';
import type { Operations } from './operations.ts';
import type { DocumentStore } from './store.ts';

/** A token service: mints Nimbus access tokens (used by `nimbus env`, the metadata server, STS). */
export interface TokenIssuer {
  issueAccessToken(
    principal: Principal,
    options?: { scopes?: string[]; lifetimeSeconds?: number },
  ): {
    accessToken: string;
    expiresIn: number;
  };
}

/** Shared infrastructure every service is given; decorated once on the app. */
export interface Platform {
  config: NimbusConfig;
  clock: Clock;
  store: DocumentStore;
  events: EventBus;
  operations: Operations;
  access: AccessControl;
  policies: PolicyRegistry;
  projects: ProjectDirectory;
  tokens: TokenIssuer;
  log: FastifyBaseLogger;
  /** The principal unauthenticated requests act as. */
  anonymousPrincipal(): Principal;
  /** The local owner (holder of `nimbus env`'s token). */
  ownerPrincipal(): Principal;
}

export interface ServiceStatus {
  state: 'ready' | 'unavailable';
  /** Why it is unavailable, in a sentence. */
  reason?: string;
  /** How to fix it (a command). */
  fix?: string;
}

/** One Google API. Adding a service = a folder under services/ and one line in services/index.ts. */
export interface ServicePlugin {
  /** Google API name, e.g. `iam`, `cloudresourcemanager`, `compute`. */
  name: string;
  title: string;
  /**
   * `CLOUDSDK_API_ENDPOINT_OVERRIDES_<API>` values relative to the server's base URL, e.g.
   * `{ IAM: '/' }` or `{ COMPUTE: '/compute/v1/' }`.
   */
  gcloudOverrides?: Record<string, string>;
  /** Client variables this service adds to `nimbus env` (e.g. STORAGE_EMULATOR_HOST). */
  clientEnv?(base: string): Record<string, string>;
  register(app: FastifyInstance, platform: Platform): void | Promise<void>;
  status?(platform: Platform): ServiceStatus;
  /** Called once after the server listens (background workers). */
  start?(platform: Platform): void | Promise<void>;
  stop?(): void | Promise<void>;
  /** `nimbus reset`: release what the store names outside it (containers, namespaces), before it is wiped. */
  reset?(platform: Platform): void | Promise<void>;
}
