import type { FastifyInstance } from 'fastify';
import type { Platform } from '../../core/platform.ts';

/** An HMAC key as the XML face's authenticators need it. */
export interface HmacKeySecret {
  accessId: string;
  secret: string;
  serviceAccountEmail: string;
  projectId: string;
  state: 'ACTIVE' | 'INACTIVE' | 'DELETED';
}

/** Lookup of HMAC keys by access id (implemented by the projects.hmacKeys service). */
export interface HmacKeyResolver {
  resolve(accessId: string): HmacKeySecret | undefined;
}

/**
 * Registers `projects.hmacKeys` (create/list/get/update/delete) and returns the resolver the XML
 * face authenticates with. STUB: to be replaced by the real service.
 */
export function registerHmacKeys(_app: FastifyInstance, _platform: Platform): HmacKeyResolver {
  return { resolve: () => undefined };
}
