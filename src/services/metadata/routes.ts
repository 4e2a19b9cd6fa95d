import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../core/auth.ts';
import type { Platform } from '../../core/platform.ts';

/**
 * The Compute Engine metadata server, served on the main port for processes on the host
 * (`GCE_METADATA_HOST=127.0.0.1:PORT`): project ids and a token for the default account, so
 * Google's Node clients (which ignore a key file's token_uri) authenticate against Nimbus. The
 * host's "default service account" is the principal anonymous requests act as.
 */
export function registerMetadataRoutes(app: FastifyInstance, platform: Platform): void {
  const project = () => platform.projects.find(platform.config.defaultProject);

  const defaultPrincipal = (): Principal | undefined => {
    const principal = platform.anonymousPrincipal();
    return principal.kind === 'anonymous' ? undefined : principal;
  };

  const tree = (): Record<string, unknown> => {
    const p = project();
    const principal = defaultPrincipal();
    const accounts: Record<string, unknown> = {};
    if (principal !== undefined) {
      const entry = {
        aliases: ['default'],
        email: principal.email,
        scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      };
      accounts.default = entry;
      accounts[principal.email] = entry;
    }
    return {
      project: {
        projectId: p?.projectId ?? platform.config.defaultProject,
        numericProjectId: Number(p?.projectNumber ?? 0),
        attributes: {},
      },
      instance: {
        id: 0,
        name: 'nimbus-host',
        hostname: 'nimbus-host.localdomain',
        zone: `projects/${p?.projectNumber ?? '0'}/zones/us-central1-a`,
        attributes: {},
        serviceAccounts: accounts,
      },
    };
  };

  const toKebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

  /** Renders a subtree as the metadata server does: directories list children, leaves are text. */
  const render = (node: unknown, recursive: boolean, reply: FastifyReply): FastifyReply => {
    if (recursive || typeof node !== 'object' || node === null || Array.isArray(node)) {
      if (typeof node === 'object' && node !== null && !Array.isArray(node)) {
        return reply.type('application/json').send(JSON.stringify(node));
      }
      if (Array.isArray(node)) {
        return reply.type('application/text').send(node.map(String).join('\n') + '\n');
      }
      return reply.type('application/text').send(String(node));
    }
    const listing = Object.entries(node as Record<string, unknown>)
      .map(([key, value]) =>
        typeof value === 'object' && value !== null && !Array.isArray(value)
          ? `${toKebab(key)}/`
          : toKebab(key),
      )
      .join('\n');
    return reply.type('application/text').send(`${listing}\n`);
  };

  const lookup = (segments: string[]): unknown => {
    let node: unknown = tree();
    for (const segment of segments) {
      if (typeof node !== 'object' || node === null) {
        return undefined;
      }
      const entries = Object.entries(node as Record<string, unknown>);
      node = entries.find(([key]) => key === segment || toKebab(key) === segment)?.[1];
    }
    return node;
  };

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    reply.header('metadata-flavor', 'Google');
    if (request.headers['metadata-flavor'] !== 'Google' || request.headers['x-forwarded-for'] !== undefined) {
      return reply.code(403).type('text/html').send('Missing required header: Metadata-Flavor: Google\n');
    }
    const url = new URL(request.url, 'http://metadata');
    const path = url.pathname.replace(/^\/computeMetadata\/v1\/?/, '');
    const segments = path.split('/').filter((s) => s !== '');
    const recursive = url.searchParams.get('recursive') === 'true' || url.searchParams.get('alt') === 'json';

    // service-accounts/{default|email}/{token|identity}
    if (segments[0] === 'instance' && segments[1] === 'service-accounts' && segments.length === 4) {
      const principal = defaultPrincipal();
      const account = segments[2];
      if (principal === undefined || (account !== 'default' && account !== principal.email)) {
        return reply.code(404).type('text/html').send('Not Found\n');
      }
      if (segments[3] === 'token') {
        const scopes = url.searchParams.get('scopes')?.split(',');
        const issued = platform.tokens.issueAccessToken(principal, scopes === undefined ? {} : { scopes });
        return reply.type('application/json').send(
          JSON.stringify({
            access_token: issued.accessToken,
            expires_in: issued.expiresIn,
            token_type: 'Bearer',
          }),
        );
      }
    }
    const node = lookup(segments);
    if (node === undefined) {
      return reply.code(404).type('text/html').send('Not Found\n');
    }
    return render(node, recursive, reply);
  };

  app.get('/computeMetadata/v1', { config: { public: true } }, handler);
  app.get('/computeMetadata/v1/*', { config: { public: true } }, handler);
}
