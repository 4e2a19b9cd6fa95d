import type { FastifyInstance } from 'fastify';
import { clientEnvironment, clientBaseUrl } from '../../core/env.ts';
import { baseUrl } from '../../core/http.ts';
import type { Platform, ServicePlugin } from '../../core/platform.ts';
import { ROOT_RESOURCE } from '../iam/index.ts';
import { findConsoleDir, registerConsoleFiles, sendConsoleIndex } from './console-files.ts';

export interface AdminContext {
  plugins: () => ServicePlugin[];
  reset: () => Promise<void>;
  startedAt: number;
  version: string;
}

/** Nimbus's own endpoints under /_nimbus/: health, version, services, env, reset. */
export function registerAdminRoutes(app: FastifyInstance, platform: Platform, admin: AdminContext): void {
  // The web console (console/dist) when built; otherwise `/` is an honest status page (no fake data).
  let consoleDir: string | undefined;
  const builtConsole = (): string | undefined => (consoleDir ??= findConsoleDir());
  registerConsoleFiles(app, builtConsole);
  app.get('/', { config: { public: true } }, async (_request, reply) => {
    if (sendConsoleIndex(reply, builtConsole)) {
      return reply;
    }
    const rows = admin
      .plugins()
      .map((plugin) => {
        const status = plugin.status?.(platform) ?? { state: 'ready' };
        return `<tr><td>${escapeHtml(plugin.title)}</td><td>${escapeHtml(plugin.name)}</td><td>${status.state}</td></tr>`;
      })
      .join('');
    return reply
      .type('text/html; charset=utf-8')
      .send(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Nimbus</title></head><body>` +
          `<h1>Nimbus</h1><p>Project <b>${escapeHtml(platform.config.defaultProject)}</b>. ` +
          `The web console is not built yet: use <code>nimbus env</code> and gcloud or Google's client libraries.</p>` +
          `<table><thead><tr><th>Service</th><th>API</th><th>State</th></tr></thead><tbody>${rows}</tbody></table></body></html>`,
      );
  });

  app.get('/_nimbus/health', { config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/_nimbus/version', { config: { public: true } }, async () => ({
    name: 'nimbus',
    version: admin.version,
    node: process.version,
    uptimeSeconds: Math.round((Date.now() - admin.startedAt) / 1000),
  }));

  app.get('/_nimbus/services', { config: { public: true } }, async () => ({
    services: admin.plugins().map((plugin) => ({
      name: plugin.name,
      title: plugin.title,
      ...(plugin.status?.(platform) ?? { state: 'ready' }),
    })),
  }));

  app.get('/_nimbus/env', async (request) => {
    platform.access.authorize(
      request.principal,
      'resourcemanager.projects.get',
      `projects/${platform.config.defaultProject}`,
    );
    const owner = platform.tokens.issueAccessToken(platform.ownerPrincipal(), { lifetimeSeconds: 12 * 3600 });
    // The owner's token is only handed to callers who could act as the owner anyway.
    const isOwner =
      platform.access.permitted(request.principal, ['resourcemanager.projects.setIamPolicy'], ROOT_RESOURCE)
        .length > 0;
    const base = request.host === '' ? clientBaseUrl(platform.config) : baseUrl(request);
    const env = clientEnvironment(base, platform.config, admin.plugins(), isOwner ? owner.accessToken : '');
    if (!isOwner) {
      delete env.CLOUDSDK_AUTH_ACCESS_TOKEN;
    }
    return env;
  });

  app.post('/_nimbus/reset', async (request) => {
    platform.access.authorize(request.principal, 'resourcemanager.projects.delete', ROOT_RESOURCE);
    await admin.reset();
    return { status: 'reset' };
  });
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${String(c.codePointAt(0))};`);
}
