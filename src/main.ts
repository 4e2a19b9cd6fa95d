import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { buildApp } from './app.ts';
import type { NimbusConfig } from './config.ts';
import { clientBaseUrl, clientEnvironment, shellExports } from './core/env.ts';
import { NimbusError } from './core/errors.ts';

export interface ServerInfo {
  pid: number;
  url: string;
  host: string;
  port: number;
  startedAt: string;
}

export function serverInfoPath(dataDir: string): string {
  return join(dataDir, 'server.json');
}

/** Starts Nimbus: the only place that listens. Resolves once the server is ready. */
export async function startServer(
  config: NimbusConfig,
  out: (line: string) => void,
): Promise<() => Promise<void>> {
  const started = performance.now();
  const logger = pino(
    { level: config.logLevel },
    pino.destination({ dest: join(config.dataDir, 'logs', 'nimbus.log'), mkdir: true, sync: false }),
  );
  const nimbus = await buildApp(config, { logger });
  try {
    await nimbus.app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await nimbus.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new NimbusError(
        'NIMBUS_ERR_PORT_IN_USE',
        `port ${config.port} on ${config.host} is already in use: stop what uses it or pass --port`,
      );
    }
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') {
      throw new NimbusError('NIMBUS_ERR_LISTEN', `cannot listen on ${config.host}:${config.port} (${code})`);
    }
    throw error;
  }
  const address = nimbus.app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  const url = clientBaseUrl(config, port);
  const info: ServerInfo = {
    pid: process.pid,
    url,
    host: config.host,
    port,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(serverInfoPath(config.dataDir), JSON.stringify(info, null, 2));
  for (const plugin of nimbus.plugins) {
    await plugin.start?.(nimbus.platform);
  }
  const readyMs = Math.round(performance.now() - started);
  const owner = nimbus.platform.tokens.issueAccessToken(nimbus.platform.ownerPrincipal(), {
    lifetimeSeconds: 12 * 3600,
  });
  const env = clientEnvironment(url, config, nimbus.plugins, owner.accessToken);
  out(`Nimbus ${url} ready in ${readyMs} ms (data: ${config.dataDir}, anonymous: ${config.anonymous})`);
  out(`Console:  ${url}/`);
  out(`Project:  ${config.defaultProject}`);
  out(`Point clients at Nimbus:  eval "$(nimbus env)"   (or: nimbus gcloud ...)`);
  nimbus.app.log.info({ readyMs, url }, 'ready');
  if (process.env.NIMBUS_PRINT_ENV === '1') {
    out(shellExports(env));
  }
  let stopping = false;
  return async () => {
    if (stopping) {
      return;
    }
    stopping = true;
    await nimbus.close();
    rmSync(serverInfoPath(config.dataDir), { force: true });
    logger.flush();
  };
}
