import type { AccessControl, Principal, ProjectDirectory } from '../../core/auth.ts';
import type { Clock } from '../../core/clock.ts';
import type { DocumentStore } from '../../core/store.ts';
import type { AnonymousMode } from '../../config.ts';
import { Policies } from './policies.ts';
import { IamService } from './service.ts';
import { IamStore } from './store.ts';
import { Tokens } from './tokens.ts';

/** The identity layer as one object: what app.ts wires into the platform and IAM's routes use. */
export interface Identity {
  store: IamStore;
  policies: Policies;
  tokens: Tokens;
  service: IamService;
  access: AccessControl;
}

export interface IdentityOptions {
  docs: DocumentStore;
  clock: Clock;
  projects: ProjectDirectory;
  anonymousMode: AnonymousMode;
  ownerEmail: string;
}

export function ownerPrincipalFor(email: string): Principal {
  return { kind: 'user', email, member: `user:${email}`, scopes: [] };
}

export function createIdentity(options: IdentityOptions): Identity {
  const store = new IamStore(options.docs);
  const policies = new Policies({
    store,
    projects: options.projects,
    anonymousMode: () => options.anonymousMode,
    clock: options.clock,
  });
  const anonymous = (): Principal =>
    options.anonymousMode === 'owner'
      ? ownerPrincipalFor(options.ownerEmail)
      : { kind: 'anonymous', email: '', member: 'allUsers', scopes: [] };
  const tokens = new Tokens(store, options.clock, anonymous);
  const service = new IamService(store, options.clock, options.projects, policies);
  const access: AccessControl = {
    authenticate: (authorization) => tokens.authenticate(authorization),
    authorize: (principal, permission, resource, context) => {
      policies.authorize(principal, permission, resource, context);
    },
    permitted: (principal, permissions, resource, context) =>
      policies.permitted(principal, permissions, resource, context),
  };
  return { store, policies, tokens, service, access };
}
