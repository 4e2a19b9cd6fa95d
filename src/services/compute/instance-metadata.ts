import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import type { Principal } from '../../core/auth.ts';
import type { Platform } from '../../core/platform.ts';
import { METADATA_SOCKET, METADATA_SOURCE_HEADER } from './contracts.ts';
import { diskPath } from './disks.ts';
import type { InstancesService } from './instances-service.ts';
import type { InstanceRecord } from './instances-store.ts';

/**
 * The metadata server guests see at 169.254.169.254 / metadata.google.internal. A relay in each VPC's
 * router namespace forwards guest requests over the Unix socket `DATA_DIR/run/metadata.sock` and
 * names the caller in `x-nimbus-metadata-source: PROJECT NETWORK IP`; the dataplane maps that to
 * the instance. This is a separate HTTP server, never the public API port.
 */
export interface MetadataServer {
  socketPath: string;
  close(): Promise<void>;
}

type Tree = Record<string, unknown>;

function toKebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The instance's metadata tree with Google's camelCase keys (paths use the kebab-case forms). */
export function instanceMetadataTree(
  platform: Platform,
  service: InstancesService,
  instance: InstanceRecord,
): Tree {
  const projectNumber = platform.projects.find(instance.project)?.projectNumber ?? '0';
  const disk = service.store.getDisk(diskPath(instance.project, instance.zone, instance.bootDisk.name));
  const accounts: Tree = {};
  for (const [index, sa] of instance.serviceAccounts.entries()) {
    const entry = { aliases: index === 0 ? ['default'] : [], email: sa.email, scopes: sa.scopes };
    if (index === 0) {
      accounts.default = entry;
    }
    accounts[sa.email] = entry;
  }
  const nic = instance.nic;
  return {
    instance: {
      attributes: Object.fromEntries(instance.metadata.map((item) => [item.key, item.value])),
      cpuPlatform: 'Intel Broadwell',
      description: instance.description ?? '',
      disks: [
        {
          deviceName: instance.bootDisk.deviceName,
          index: 0,
          interface: 'SCSI',
          mode: 'READ_WRITE',
          type: 'PERSISTENT-BALANCED',
        },
      ],
      hostname: instance.hostname ?? `${instance.name}.${instance.zone}.c.${instance.project}.internal`,
      id: instance.id,
      image: disk === undefined ? '' : disk.sourceImage,
      machineType: `projects/${projectNumber}/machineTypes/${instance.machineType}`,
      maintenanceEvent: 'NONE',
      name: instance.name,
      networkInterfaces: [
        {
          accessConfigs: nic.accessConfigs.map((ac) => ({ externalIp: ac.natIP ?? '', type: ac.type })),
          dnsServers: [],
          forwardedIps: [],
          ip: nic.networkIP ?? '',
          mac: '42:01:0a:00:00:02',
          mtu: 1460,
          network: `projects/${projectNumber}/networks/${nic.network}`,
        },
      ],
      scheduling: { automaticRestart: 'TRUE', onHostMaintenance: 'MIGRATE', preemptible: 'FALSE' },
      serviceAccounts: accounts,
      tags: instance.tags,
      zone: `projects/${projectNumber}/zones/${instance.zone}`,
    },
    project: {
      attributes: Object.fromEntries(
        service.projectMetadata(instance.project).items.map((item) => [item.key, item.value]),
      ),
      numericProjectId: Number(projectNumber),
      projectId: instance.project,
    },
  };
}

function lookup(tree: unknown, segments: string[]): unknown {
  let node = tree;
  for (const segment of segments) {
    if (Array.isArray(node)) {
      node = /^\d+$/.test(segment) ? (node as unknown[])[Number(segment)] : undefined;
    } else if (typeof node === 'object' && node !== null) {
      node = Object.entries(node as Tree).find(([key]) => key === segment || toKebab(key) === segment)?.[1];
    } else {
      return undefined;
    }
    if (node === undefined) {
      return undefined;
    }
  }
  return node;
}

function isDirectory(node: unknown): boolean {
  return (
    (typeof node === 'object' && node !== null && !Array.isArray(node)) ||
    (Array.isArray(node) && node.some((v) => typeof v === 'object' && v !== null))
  );
}

/** Text rendering: directories list children (`name/` for subdirectories), leaves are their value. */
function renderText(node: unknown): string {
  if (Array.isArray(node)) {
    if (isDirectory(node)) {
      return node.map((_, i) => `${String(i)}/`).join('\n') + '\n';
    }
    return node.map(String).join('\n') + (node.length > 0 ? '\n' : '');
  }
  if (typeof node === 'object' && node !== null) {
    return (
      Object.entries(node as Tree)
        .map(([key, value]) => (isDirectory(value) ? `${toKebab(key)}/` : toKebab(key)))
        .join('\n') + '\n'
    );
  }
  return String(node);
}

export interface MetadataAnswer {
  status: number;
  contentType: string;
  body: string;
  /** Hash of the body (the `ETag` header of a 200), for `wait_for_change=true&last_etag=`. */
  etag?: string;
}

function etagOf(body: string): string {
  return createHash('sha256').update(body).digest('hex').slice(0, 16);
}

/** How often a `wait_for_change` request re-reads the tree, and its default / longest wait. */
const WAIT_POLL_MS = 500;
const WAIT_DEFAULT_SEC = 300;
const WAIT_MAX_SEC = 3600;

const NOT_FOUND: MetadataAnswer = {
  status: 404,
  contentType: 'text/html; charset=UTF-8',
  body: 'Not Found\n',
};

/** Answers one metadata request (the socket server and tests call this). */
export function answerMetadata(
  platform: Platform,
  service: InstancesService,
  request: { url: string; headers: Record<string, string | string[] | undefined> },
): MetadataAnswer {
  if (request.headers['metadata-flavor'] !== 'Google' || request.headers['x-forwarded-for'] !== undefined) {
    return {
      status: 403,
      contentType: 'text/html; charset=UTF-8',
      body: 'Missing required header: Metadata-Flavor: Google\n',
    };
  }
  const source = request.headers[METADATA_SOURCE_HEADER];
  const [project, network, ip] = (typeof source === 'string' ? source : '').split(' ');
  const endpoint =
    project === undefined || network === undefined || ip === undefined
      ? undefined
      : service.engines.dataplane?.instanceByAddress(project, network, ip);
  const instance = endpoint === undefined ? undefined : service.findById(endpoint.instanceId);
  if (instance === undefined) {
    return NOT_FOUND;
  }
  const url = new URL(request.url, 'http://metadata.google.internal');
  if (!/^\/computeMetadata\/v1(\/|$)/.test(url.pathname)) {
    return NOT_FOUND;
  }
  const segments = url.pathname
    .replace(/^\/computeMetadata\/v1\/?/, '')
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
  const tree = instanceMetadataTree(platform, service, instance);

  if (segments[0] === 'instance' && segments[1] === 'service-accounts' && segments[3] === 'token') {
    const accounts = (tree.instance as Tree).serviceAccounts as Tree;
    const account = accounts[segments[2] ?? ''] as { email: string; scopes: string[] } | undefined;
    if (account === undefined || segments.length !== 4) {
      return NOT_FOUND;
    }
    const principal: Principal = {
      kind: 'serviceAccount',
      email: account.email,
      member: `serviceAccount:${account.email}`,
      scopes: account.scopes,
    };
    const requested = url.searchParams.get('scopes');
    const issued = platform.tokens.issueAccessToken(principal, {
      scopes: requested === null ? account.scopes : requested.split(','),
    });
    return {
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({
        access_token: issued.accessToken,
        expires_in: issued.expiresIn,
        token_type: 'Bearer',
      }),
    };
  }

  const node = lookup(tree, segments);
  if (node === undefined) {
    return NOT_FOUND;
  }
  const recursive = url.searchParams.get('recursive') === 'true';
  const alt = url.searchParams.get('alt');
  const body = alt === 'json' || (recursive && alt !== 'text') ? JSON.stringify(node) : renderText(node);
  const contentType =
    alt === 'json' || (recursive && alt !== 'text') ? 'application/json' : 'application/text';
  return { status: 200, contentType, body, etag: etagOf(body) };
}

/**
 * Answers a request, holding a `wait_for_change=true` one (as Google's metadata server does) until
 * the answer's ETag differs from `last_etag` (without it: from the current one) or `timeout_sec`
 * passes; then it returns the current answer. `cancelled` ends the wait early (connection closed).
 */
export async function answerMetadataWaiting(
  platform: Platform,
  service: InstancesService,
  request: { url: string; headers: Record<string, string | string[] | undefined> },
  cancelled: () => boolean,
): Promise<MetadataAnswer> {
  const first = answerMetadata(platform, service, request);
  const params = new URL(request.url, 'http://metadata.google.internal').searchParams;
  if (params.get('wait_for_change') !== 'true' || first.status !== 200) {
    return first;
  }
  const lastEtag = params.get('last_etag');
  const baseline = lastEtag === null || lastEtag === '' ? first.etag : lastEtag;
  if (first.etag !== baseline) {
    return first;
  }
  const timeoutText = params.get('timeout_sec') ?? '';
  const timeoutSec = /^\d{1,7}$/.test(timeoutText)
    ? Math.min(Number(timeoutText), WAIT_MAX_SEC)
    : WAIT_DEFAULT_SEC;
  const deadline = Date.now() + timeoutSec * 1000;
  let answer = first;
  while (Date.now() < deadline && !cancelled()) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_POLL_MS, deadline - Date.now())));
    answer = answerMetadata(platform, service, request);
    if (answer.status !== 200 || answer.etag !== baseline) {
      return answer;
    }
  }
  return answer;
}

/** Starts the guest metadata server on `DATA_DIR/run/metadata.sock`. */
export async function startMetadataServer(
  platform: Platform,
  service: InstancesService,
): Promise<MetadataServer> {
  const socketPath = join(platform.config.dataDir, METADATA_SOCKET);
  mkdirSync(dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true });
  let closing = false;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let gone = false;
    res.once('close', () => {
      gone = true;
    });
    const respond = async (): Promise<MetadataAnswer> => {
      try {
        return req.method === 'GET' || req.method === 'HEAD'
          ? await answerMetadataWaiting(
              platform,
              service,
              { url: req.url ?? '/', headers: req.headers },
              () => gone || closing,
            )
          : { status: 405, contentType: 'text/plain', body: 'Method Not Allowed\n' };
      } catch (error) {
        platform.log.error({ err: error }, 'metadata server error');
        return { status: 500, contentType: 'text/plain', body: 'Internal error\n' };
      }
    };
    void respond().then((answer) => {
      if (gone) {
        return;
      }
      const headers: Record<string, string> = {
        'content-type': answer.contentType,
        'metadata-flavor': 'Google',
        server: 'Metadata Server for VM',
      };
      if (answer.etag !== undefined) {
        headers.etag = answer.etag;
      }
      res.writeHead(answer.status, headers);
      res.end(req.method === 'HEAD' ? undefined : answer.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        server.close(() => {
          rmSync(socketPath, { force: true });
          resolve();
        });
        server.closeAllConnections();
      }),
  };
}
