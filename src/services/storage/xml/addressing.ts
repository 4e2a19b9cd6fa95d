import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { NimbusError } from '../../../core/errors.ts';

/**
 * Addressing of the XML (S3-compatible) face. Requests reach it two ways, and both are rewritten
 * (Fastify `rewriteUrl`, before routing) into one private prefix, `/_s3/BUCKET/KEY`:
 * - path-style (`/BUCKET/KEY`) on the dedicated S3 port, whose requests are handed to the same
 *   Fastify app (`app.routing`) after being marked as S3-port requests;
 * - virtual-hosted style (`Host: BUCKET.localhost`, `BUCKET.s3.localhost` or
 *   `BUCKET.storage.localhost`, any port), where the path is the key.
 * The original URL stays in `request.originalUrl` (signatures are computed over it).
 */
export const XML_PREFIX = '/_s3';

const fromS3Port = new WeakSet<IncomingMessage>();

/** Host names that address the service itself, not a bucket. */
const SERVICE_HOSTS = new Set(['storage', 's3']);

/** The bucket a virtual-hosted request addresses (from its Host header), or undefined. */
export function virtualHostBucket(hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined) {
    return undefined;
  }
  let host = hostHeader.toLowerCase();
  if (host.startsWith('[')) {
    return undefined;
  }
  const colon = host.lastIndexOf(':');
  if (colon >= 0) {
    host = host.slice(0, colon);
  }
  host = host.replace(/\.$/, '');
  if (!host.endsWith('.localhost')) {
    return undefined;
  }
  let rest = host.slice(0, -'.localhost'.length);
  const service = /\.(storage|s3)$/.exec(rest);
  if (service !== null) {
    rest = rest.slice(0, service.index);
  } else if (rest.includes('.')) {
    // `a.b.localhost` is ambiguous (a service's host, or a dotted bucket): dotted buckets use
    // `a.b.s3.localhost` or path-style.
    return undefined;
  }
  if (rest === '' || SERVICE_HOSTS.has(rest)) {
    return undefined;
  }
  return rest;
}

/** Fastify `rewriteUrl`: maps XML-face requests into XML_PREFIX, leaves every other URL alone. */
export function rewriteStorageXmlUrl(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const path = url.startsWith('/') ? url : `/${url}`;
  const bucket = virtualHostBucket(request.headers.host);
  if (bucket !== undefined) {
    return `${XML_PREFIX}/${bucket}${path}`;
  }
  if (fromS3Port.has(request)) {
    return `${XML_PREFIX}${path}`;
  }
  return url;
}

/** The dedicated port of the XML face: a plain `http.Server` whose requests the app serves. */
export class S3PortListener {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly app: FastifyInstance) {}

  /**
   * Listens on host:port. With `anyPortIfTaken` (the port was not asked for explicitly), a taken
   * port falls back to any free one. Resolves with the port bound.
   */
  async listen(host: string, port: number, anyPortIfTaken: boolean): Promise<number> {
    const handler = (request: IncomingMessage, response: ServerResponse): void => {
      fromS3Port.add(request);
      this.app.routing(request, response);
    };
    const attempt = async (wanted: number): Promise<Server> =>
      await new Promise<Server>((resolve, reject) => {
        const server = createServer(handler);
        server.on('connection', (socket: Socket) => {
          this.sockets.add(socket);
          socket.once('close', () => this.sockets.delete(socket));
        });
        server.once('error', reject);
        server.listen({ host, port: wanted }, () => {
          server.off('error', reject);
          resolve(server);
        });
      });
    try {
      this.server = await attempt(port);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' && anyPortIfTaken) {
        this.server = await attempt(0);
      } else if (code === 'EADDRINUSE') {
        throw new NimbusError(
          'NIMBUS_ERR_PORT_IN_USE',
          `S3 port ${port} on ${host} is already in use: stop what uses it or pass --s3-port`,
        );
      } else {
        throw new NimbusError('NIMBUS_ERR_LISTEN', `cannot listen on ${host}:${port} (${code ?? 'error'})`);
      }
    }
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) {
      return;
    }
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
      for (const socket of this.sockets) {
        socket.destroy();
      }
    });
  }
}
