import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidArgument, PermissionDenied } from '../../core/errors.ts';
import { intParam, paramsOf, queryOf, stringParam } from '../../core/http.ts';
import type { Platform } from '../../core/platform.ts';
import type { ExecSession } from './contracts.ts';
import { InstancesService } from './instances-service.ts';
import type { InstanceRecord } from './instances-store.ts';

/**
 * The terminal backend (the console's browser terminal and `nimbus compute ssh`): a WebSocket at
 * `GET /compute/v1/projects/P/zones/Z/instances/N/ssh` bridged to `runc exec` in the instance (so
 * the shell stays inside the instance's cgroup). Protocol:
 * - client -> server: binary frames are keyboard input; text frames are JSON control messages
 *   `{"type":"resize","cols":C,"rows":R}` or `{"type":"input","data":"..."}`.
 * - server -> client: binary frames are terminal output; a final text frame
 *   `{"type":"exit","code":N}` before the close.
 * Query: `command=CMD` runs `/bin/sh -c CMD` without a tty (one-shot, exit code returned);
 * otherwise an interactive login shell with a pty (`cols`, `rows` set its first size).
 * Permission: `compute.instances.setMetadata` (what `gcloud compute ssh` needs to add a key).
 */
export const LOGIN_SHELL = [
  '/bin/sh',
  '-c',
  'if [ -x /bin/bash ]; then exec /bin/bash -l; else exec /bin/sh -l; fi',
];

export type ControlMessage = { type: 'resize'; cols: number; rows: number } | { type: 'input'; data: string };

declare module 'fastify' {
  interface FastifyRequest {
    /** The instance a terminal session opens into (set before the upgrade). */
    sshInstance?: InstanceRecord;
  }
}

function parseControl(text: string): ControlMessage | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null) {
      return undefined;
    }
    const message = value as Record<string, unknown>;
    if (message.type === 'resize' && typeof message.cols === 'number' && typeof message.rows === 'number') {
      return { type: 'resize', cols: message.cols, rows: message.rows };
    }
    if (message.type === 'input' && typeof message.data === 'string') {
      return { type: 'input', data: message.data };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** The socket methods the bridge uses (the one @fastify/websocket hands the handler). */
interface TerminalSocket {
  readonly readyState: number;
  readonly OPEN: number;
  send(data: Buffer | string, options: { binary: boolean }): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  close(code?: number, reason?: string): void;
}

function bridge(socket: TerminalSocket, session: ExecSession): void {
  let exited = false;
  session.onData((data) => {
    if (socket.readyState === socket.OPEN) {
      socket.send(data, { binary: true });
    }
  });
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const bytes = Buffer.isBuffer(data)
      ? data
      : Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.from(data);
    if (isBinary) {
      session.write(bytes);
      return;
    }
    const control = parseControl(bytes.toString('utf8'));
    if (control === undefined) {
      session.write(bytes);
    } else if (control.type === 'resize') {
      session.resize(Math.max(1, Math.floor(control.cols)), Math.max(1, Math.floor(control.rows)));
    } else {
      session.write(control.data);
    }
  });
  socket.on('close', () => {
    if (!exited) {
      session.kill();
    }
  });
  void session.exited.then(
    (code) => {
      exited = true;
      if (socket.readyState === socket.OPEN) {
        socket.send(JSON.stringify({ type: 'exit', code }), { binary: false });
        socket.close(1000, 'exited');
      }
    },
    () => {
      exited = true;
      socket.close(1011, 'session failed');
    },
  );
}

export async function registerSshRoutes(
  app: FastifyInstance,
  platform: Platform,
  service: InstancesService,
): Promise<void> {
  if (!app.hasDecorator('websocketServer')) {
    await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  }
  const path = '/compute/v1/projects/:project/zones/:zone/instances/:instance/ssh';
  // An upgrade refused before @fastify/websocket's own hooks ran (authentication, Host check) is
  // answered on the raw socket, which nothing would close: close it once the error is written.
  app.addHook('onResponse', async (request, reply) => {
    if (request.headers.upgrade?.toLowerCase() === 'websocket' && reply.statusCode >= 400) {
      request.raw.socket.destroy();
    }
  });

  const prepare = async (request: FastifyRequest): Promise<void> => {
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== '') {
      let sameHost = false;
      try {
        sameHost = new URL(origin).host.toLowerCase() === request.host.toLowerCase();
      } catch {
        sameHost = false;
      }
      if (!sameHost) {
        throw new PermissionDenied('Cross-origin terminal sessions are not allowed.', {
          reason: 'forbidden',
        });
      }
    }
    const params = paramsOf(request);
    const project = platform.projects.require(params.project ?? '').projectId;
    platform.access.authorize(request.principal, 'compute.instances.setMetadata', `projects/${project}`);
    const instance = service.get(project, params.zone ?? '', params.instance ?? '');
    if (instance.status !== 'RUNNING') {
      throw new InvalidArgument(
        `The instance '${instance.name}' is ${instance.status}; a terminal needs it RUNNING.`,
        { reason: 'resourceNotReady' },
      );
    }
    request.sshInstance = instance;
  };

  app.get(path, { websocket: true, preHandler: prepare }, (socket, request) => {
    const instance = request.sshInstance;
    if (instance === undefined) {
      socket.close(1011, 'no instance');
      return;
    }
    const query = queryOf(request);
    const command = stringParam(query.command);
    let cols: number | undefined;
    let rows: number | undefined;
    try {
      cols = intParam(query.cols, 'cols');
      rows = intParam(query.rows, 'rows');
    } catch {
      cols = undefined;
      rows = undefined;
    }
    const options: { tty: boolean; cols?: number; rows?: number; env?: string[] } = {
      tty: command === undefined,
      env: ['TERM=xterm-256color'],
    };
    if (cols !== undefined && cols > 0) {
      options.cols = cols;
    }
    if (rows !== undefined && rows > 0) {
      options.rows = rows;
    }
    // Input can arrive while exec starts: hold it until the session exists.
    const early: { data: Buffer | ArrayBuffer | Buffer[]; isBinary: boolean }[] = [];
    const hold = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void => {
      early.push({ data, isBinary });
    };
    socket.on('message', hold);
    const argv = command === undefined ? LOGIN_SHELL : ['/bin/sh', '-c', command];
    service.engines.runtime.exec(InstancesService.containerId(instance), argv, options).then(
      (session) => {
        socket.off('message', hold);
        bridge(socket, session);
        if (command !== undefined && early.length === 0) {
          // A one-shot command gets no input unless the client sent some: close its stdin (EOF).
          session.write('');
        }
        for (const message of early) {
          socket.emit('message', message.data, message.isBinary);
        }
      },
      (error: unknown) => {
        platform.log.warn({ err: error, instance: instance.name }, 'terminal session failed to start');
        if (socket.readyState === socket.OPEN) {
          socket.send(
            JSON.stringify({
              type: 'error',
              message: error instanceof Error ? error.message : String(error),
            }),
          );
          socket.close(1011, 'exec failed');
        }
      },
    );
  });
}
