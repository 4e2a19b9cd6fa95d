import { mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { buildApp, type NimbusApp } from './app.ts';
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

/** The running server's owner token (mode 0600), read by the nimbus CLI. */
export function ownerTokenPath(dataDir: string): string {
  return join(dataDir, 'owner.token');
}

/** Opens DATA_DIR/logs/nimbus.log for appending: a data dir that cannot hold it is NIMBUS_ERR_DATA_DIR. */
function openLogFile(dataDir: string): number {
  try {
    mkdirSync(join(dataDir, 'logs'), { recursive: true });
    return openSync(join(dataDir, 'logs', 'nimbus.log'), 'a');
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new NimbusError('NIMBUS_ERR_DATA_DIR', `cannot use data dir ${dataDir}: ${why}`);
  }
}

/** Refuses a data dir that a live Nimbus server is using (one server, one writer per data dir). */
async function refuseDataDirInUse(dataDir: string): Promise<void> {
  let info: ServerInfo;
  try {
    info = JSON.parse(readFileSync(serverInfoPath(dataDir), 'utf8')) as ServerInfo;
    process.kill(info.pid, 0);
  } catch {
    return; // no server.json, or left behind by a server that died
  }
  try {
    const health = await fetch(`${info.url}/_nimbus/health`, { signal: AbortSignal.timeout(1000) });
    if (!health.ok) {
      return;
    }
  } catch {
    return; // the pid was reused by another process
  }
  throw new NimbusError(
    'NIMBUS_ERR_DATA_DIR',
    `data dir ${dataDir} is in use by the Nimbus server at ${info.url} (pid ${info.pid}): stop it or pass another --data-dir`,
  );
}

/** Starts Nimbus: the only place that listens. Resolves once the server is ready. */
export async function startServer(
  config: NimbusConfig,
  out: (line: string) => void,
): Promise<() => Promise<void>> {
  const started = performance.now();
  const logFd = openLogFile(config.dataDir);
  await refuseDataDirInUse(config.dataDir);
  const logger = pino({ level: config.logLevel }, pino.destination({ fd: logFd, sync: false }));
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
  try {
    return await announce(config, nimbus, logger, started, out);
  } catch (error) {
    await nimbus.close();
    rmSync(serverInfoPath(config.dataDir), { force: true });
    throw error;
  }
}

/** Records server.json, starts the plugins and prints the ready lines; returns the stop function. */
async function announce(
  config: NimbusConfig,
  nimbus: NimbusApp,
  logger: pino.Logger,
  started: number,
  out: (line: string) => void,
): Promise<() => Promise<void>> {
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
  out(`Nimbus ${url} ready in ${readyMs} ms (data: ${config.dataDir}, anonymous: ${config.anonymous})`);
  out(`Console:  ${url}/`);
  if (config.s3Port !== undefined && config.s3Port !== 0) {
    out(
      `S3 / Cloud Storage XML API:  ${clientBaseUrl(config, config.s3Port)}  (path-style; AWS_ENDPOINT_URL_S3)`,
    );
  }
  out(`Project:  ${config.defaultProject}`);
  out(`Point clients at Nimbus:  eval "$(nimbus env)"   (or: nimbus gcloud ...)`);
  nimbus.app.log.info({ readyMs, url }, 'ready');
  if (process.env.NIMBUS_PRINT_ENV === '1') {
    // Only now: the first token makes Nimbus's signing key, which is slow on a new data dir.
    const owner = nimbus.platform.tokens.issueAccessToken(nimbus.platform.ownerPrincipal(), {
      lifetimeSeconds: 12 * 3600,
    });
    out(shellExports(clientEnvironment(url, config, nimbus.plugins, owner.accessToken)));
  }
  // The local owner's credential for the nimbus CLI (`nimbus env`, `nimbus iam`) when anonymous
  // callers may not act as the owner: a token file only the data dir's owner can read.
  const writeOwnerToken = (): void => {
    try {
      const owner = nimbus.platform.tokens.issueAccessToken(nimbus.platform.ownerPrincipal(), {
        lifetimeSeconds: 12 * 3600,
      });
      const file = ownerTokenPath(config.dataDir);
      writeFileSync(`${file}.tmp`, `${owner.accessToken}\n`, { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (error) {
      nimbus.app.log.warn({ err: error }, 'could not write the owner token file');
    }
  };
  setImmediate(writeOwnerToken);
  const refresh = setInterval(writeOwnerToken, 6 * 3600 * 1000);
  refresh.unref();
  let stopping: Promise<void> | undefined;
  return async () => {
    stopping ??= (async () => {
      clearInterval(refresh);
      try {
        await nimbus.close();
      } finally {
        rmSync(serverInfoPath(config.dataDir), { force: true });
        rmSync(ownerTokenPath(config.dataDir), { force: true });
        logger.flush();
      }
    })();
    await stopping;
  };
}
