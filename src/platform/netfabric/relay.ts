import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { findCommand } from '../host-packages.ts';

/**
 * Host side of the relay agent (relay-agent.mjs): starts one agent per router namespace and opens
 * host port forwards through its control socket. The root namespace only ever listens on loopback
 * (127.0.0.1, and instances' own 127.77.x.y addresses via openLoopbackProxy) and talks to the agent
 * over a Unix socket.
 */
export interface RelayAgent {
  controlSocket: string;
  pid: number;
  /** Resolves when the agent process has exited (stopped or crashed). */
  exited: Promise<void>;
  stop(): Promise<void>;
}

export interface RelayAgentOptions {
  namespace: string;
  project: string;
  network: string;
  metadataSocket: string;
  controlSocket: string;
  metadataAddress: string;
  sourceHeader: string;
}

/** The agent script, next to this module in the source tree or under src/ beside dist/ in a bundle. */
export function relayAgentPath(): string {
  const candidates = [
    new URL('./relay-agent.mjs', import.meta.url),
    new URL('../src/platform/netfabric/relay-agent.mjs', import.meta.url),
  ].map((url) => fileURLToPath(url));
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new Error(`relay-agent.mjs not found (looked in ${candidates.join(', ')})`);
  }
  return found;
}

export function startRelayAgent(options: RelayAgentOptions): Promise<RelayAgent> {
  const args = [
    'netns',
    'exec',
    options.namespace,
    process.execPath,
    relayAgentPath(),
    '--project',
    options.project,
    '--network',
    options.network,
    '--listen',
    `${options.metadataAddress}:80`,
    '--control',
    options.controlSocket,
    '--metadata-socket',
    options.metadataSocket,
    '--source-header',
    options.sourceHeader,
  ];
  const child: ChildProcess = spawn(findCommand('ip') ?? 'ip', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.once('error', () => {
      resolve();
    });
  });
  return new Promise((resolve, reject) => {
    let output = '';
    let errors = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`relay agent in ${options.namespace} did not start: ${errors.trim()}`));
    }, 15_000);
    child.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString('utf8');
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('READY')) {
        clearTimeout(timer);
        resolve({
          controlSocket: options.controlSocket,
          pid: child.pid ?? -1,
          exited,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) {
              child.stdin?.end();
              child.kill('SIGTERM');
            }
            await exited;
          },
        });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`relay agent in ${options.namespace} exited: ${errors.trim()}`));
    });
  });
}

/** Opens one relayed connection: the agent connects to ip:port inside its namespace. */
function relayConnection(controlSocket: string, ip: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(controlSocket);
    let reply = '';
    const onData = (chunk: Buffer): void => {
      reply += chunk.toString('latin1');
      const end = reply.indexOf('\n');
      if (end < 0) {
        return;
      }
      socket.off('data', onData);
      const line = reply.slice(0, end);
      const rest = Buffer.from(reply.slice(end + 1), 'latin1');
      if (line !== 'OK') {
        socket.destroy();
        reject(new Error(`relay: ${line}`));
        return;
      }
      if (rest.length > 0) {
        socket.unshift(rest);
      }
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(`CONNECT ${ip} ${String(port)}\n`);
    });
  });
}

export interface HostForward {
  hostPort: number;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1:hostPort (0 = any) and relays each connection to ip:port in the namespace. */
export async function openHostForward(
  controlSocket: () => string | undefined,
  ip: string,
  port: number,
  hostPort = 0,
): Promise<HostForward> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    client.pause();
    const socketPath = controlSocket();
    if (socketPath === undefined) {
      client.destroy();
      return;
    }
    relayConnection(socketPath, ip, port).then(
      (inside) => {
        sockets.add(inside);
        inside.once('close', () => {
          sockets.delete(inside);
          client.destroy();
        });
        inside.on('error', () => undefined);
        client.once('close', () => inside.destroy());
        client.pipe(inside);
        inside.pipe(client);
        client.resume();
      },
      () => {
        client.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(hostPort, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : hostPort;
  return {
    hostPort: bound,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => {
          resolve();
        });
      }),
  };
}

/**
 * A plain TCP relay on the host: listens on `address:port` (0 = any free port) and pipes each
 * connection to 127.0.0.1:targetPort. Compute uses it to put an instance's forwards on its own
 * loopback address (127.77.x.y) with the instance's port numbers. Rejects with the listen error
 * (EADDRINUSE, EACCES below 1024 without root) so the caller can fall back to another port.
 */
export async function openLoopbackProxy(
  address: string,
  port: number,
  targetPort: number,
): Promise<HostForward> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => undefined);
    const target = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(target);
    target.on('error', () => undefined);
    client.once('close', () => {
      sockets.delete(client);
      target.destroy();
    });
    target.once('close', () => {
      sockets.delete(target);
      client.destroy();
    });
    client.pipe(target);
    target.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: address, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address();
  return {
    hostPort: typeof bound === 'object' && bound !== null ? bound.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) {
          socket.destroy();
        }
        server.close(() => {
          resolve();
        });
      }),
  };
}
