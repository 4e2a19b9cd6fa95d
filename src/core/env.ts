import { defaultS3Port, type NimbusConfig } from '../config.ts';
import type { ServicePlugin } from './platform.ts';

/** The URL clients on this machine use to reach Nimbus. */
export function clientBaseUrl(config: NimbusConfig, port = config.port): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The environment that points Google's clients and the Google Cloud CLI at Nimbus: what
 * `nimbus env` prints and `GET /_nimbus/env` returns.
 */
export function clientEnvironment(
  base: string,
  config: NimbusConfig,
  plugins: ServicePlugin[],
  ownerToken: string,
): Record<string, string> {
  const hostPort = base.replace(/^https?:\/\//, '');
  const env: Record<string, string> = {
    CLOUDSDK_CORE_PROJECT: config.defaultProject,
    GOOGLE_CLOUD_PROJECT: config.defaultProject,
    CLOUDSDK_AUTH_ACCESS_TOKEN: ownerToken,
    CLOUDSDK_AUTH_TOKEN_HOST: `${base}/token`,
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: 'true',
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK: 'true',
    GCE_METADATA_HOST: hostPort,
    GCE_METADATA_IP: hostPort,
    METADATA_SERVER_DETECTION: 'assume-present',
  };
  // The Cloud Storage XML (S3-compatible) face listens on its own port (path-style needs the root).
  const s3Port = config.s3Port ?? defaultS3Port(config.port);
  try {
    const s3 = new URL(base);
    s3.port = String(s3Port);
    env.AWS_ENDPOINT_URL_S3 = s3.origin;
  } catch {
    env.AWS_ENDPOINT_URL_S3 = clientBaseUrl(config, s3Port);
  }
  for (const plugin of plugins) {
    for (const [api, path] of Object.entries(plugin.gcloudOverrides ?? {})) {
      env[`CLOUDSDK_API_ENDPOINT_OVERRIDES_${api}`] = `${base}${path}`;
    }
    for (const [name, value] of Object.entries(plugin.clientEnv?.(base) ?? {})) {
      env[name] = value;
    }
  }
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Shell `export` lines, single-quoted. */
export function shellExports(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([key, value]) => `export ${key}='${value.replaceAll("'", "'\\''")}'`)
    .join('\n');
}
