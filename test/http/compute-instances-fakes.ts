/**
 * Fakes of the compute engines (container runtime, VPC dataplane) for fast HTTP tests without root:
 * they keep state in memory, write a serial log as a booting guest would, and run a tiny "shell"
 * that knows `hostname`, `echo` and `exit`.
 */
import { appendFileSync } from 'node:fs';
import type {
  AttachedNic,
  ContainerRuntime,
  ContainerSpec,
  ContainerState,
  ExecSession,
  ImageName,
  InstanceEndpoint,
  NicRequest,
  VpcDataplane,
} from '../../src/services/compute/contracts.ts';

export interface FakeContainer {
  spec: ContainerSpec;
  state: ContainerState;
  boots: number;
}

export class FakeRuntime implements ContainerRuntime {
  readonly containers = new Map<string, FakeContainer>();
  readonly images: ImageName[] = [];
  readonly resizes: { cols: number; rows: number }[] = [];
  /** When set, `start` waits for it (to observe PROVISIONING/STAGING). */
  gate: Promise<void> | undefined;
  /** When set, `start` fails with it. */
  failStart: Error | undefined;

  constructor(private readonly availability: { ok: boolean; reason?: string; fix?: string } = { ok: true }) {}

  available(): Promise<{ ok: boolean; reason?: string; fix?: string }> {
    return Promise.resolve(this.availability);
  }

  ensureImage(image: ImageName): Promise<void> {
    if (!this.images.includes(image)) {
      this.images.push(image);
    }
    return Promise.resolve();
  }

  async start(spec: ContainerSpec): Promise<void> {
    if (this.gate !== undefined) {
      await this.gate;
    }
    if (this.failStart !== undefined) {
      throw this.failStart;
    }
    const current = this.containers.get(spec.id);
    if (current?.state === 'running' || current?.state === 'paused') {
      throw new Error(`container ${spec.id} is already ${current.state}`);
    }
    const boots = (current?.boots ?? 0) + 1;
    this.containers.set(spec.id, { spec, state: 'running', boots });
    appendFileSync(spec.serialLogPath, `[fake] booting ${spec.hostname} (boot ${String(boots)})\n`);
    appendFileSync(
      spec.serialLogPath,
      `google_metadata_script_runner: startup-script: hello from ${spec.hostname}\n`,
    );
  }

  private require(id: string): FakeContainer {
    const container = this.containers.get(id);
    if (container === undefined) {
      throw new Error(`no container ${id}`);
    }
    return container;
  }

  stop(id: string): Promise<void> {
    const container = this.containers.get(id);
    if (container !== undefined) {
      container.state = 'stopped';
      appendFileSync(container.spec.serialLogPath, `[fake] ${container.spec.hostname} stopped\n`);
    }
    return Promise.resolve();
  }

  pause(id: string): Promise<void> {
    this.require(id).state = 'paused';
    return Promise.resolve();
  }

  resume(id: string): Promise<void> {
    this.require(id).state = 'running';
    return Promise.resolve();
  }

  state(id: string): Promise<ContainerState> {
    return Promise.resolve(this.containers.get(id)?.state ?? 'absent');
  }

  exec(id: string, argv: string[], options: { tty: boolean }): Promise<ExecSession> {
    const container = this.require(id);
    if (container.state !== 'running') {
      return Promise.reject(new Error(`container ${id} is not running`));
    }
    const listeners: ((data: Buffer) => void)[] = [];
    let finish: (code: number) => void = () => undefined;
    const exited = new Promise<number>((resolve) => {
      finish = resolve;
    });
    const emit = (text: string): void => {
      for (const listener of listeners) {
        listener(Buffer.from(options.tty ? text.replaceAll('\n', '\r\n') : text));
      }
    };
    const run = (line: string): number | undefined => {
      const command = line.trim();
      if (command === 'hostname') {
        emit(`${container.spec.hostname}\n`);
      } else if (command.startsWith('echo ')) {
        emit(`${command.slice(5)}\n`);
      } else if (/^exit( \d+)?$/.test(command)) {
        return Number(command.slice(5) || '0');
      } else if (command !== '') {
        emit(`sh: ${command}: not found\n`);
        return options.tty ? undefined : 127;
      }
      return undefined;
    };
    let pending = '';
    const session: ExecSession = {
      write: (data) => {
        pending += data.toString();
        let newline = pending.indexOf('\n');
        while (newline >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          const code = run(line);
          if (code !== undefined) {
            finish(code);
          }
          newline = pending.indexOf('\n');
        }
      },
      onData: (listener) => {
        listeners.push(listener);
      },
      resize: (cols, rows) => {
        this.resizes.push({ cols, rows });
      },
      exited,
      kill: () => {
        finish(137);
      },
    };
    if (!options.tty) {
      const script = argv[argv.length - 1] ?? '';
      setImmediate(() => {
        const lines = script.split(/;|\n/);
        let code = 0;
        for (const line of lines) {
          code = run(line) ?? code;
        }
        finish(code);
      });
    } else {
      setImmediate(() => {
        emit('# ');
      });
    }
    return Promise.resolve(session);
  }

  list(): Promise<{ id: string; state: ContainerState }[]> {
    return Promise.resolve([...this.containers.entries()].map(([id, c]) => ({ id, state: c.state })));
  }
}

export class FakeDataplane implements VpcDataplane {
  readonly attached = new Map<string, { endpoint: InstanceEndpoint; nic: NicRequest; ip: string }>();
  readonly updates: InstanceEndpoint[] = [];
  readonly detached: string[] = [];
  private next = 2;

  attachInstance(instance: InstanceEndpoint, nic: NicRequest): Promise<AttachedNic> {
    const current = this.attached.get(instance.instanceId);
    const ip = current?.ip ?? nic.networkIP ?? `10.128.0.${String(this.next++)}`;
    this.attached.set(instance.instanceId, { endpoint: instance, nic, ip });
    return Promise.resolve({
      networkIP: ip,
      gateway: '10.128.0.1',
      prefixLength: 20,
      netnsPath: `/run/netns/fake-${instance.instanceId}`,
    });
  }

  detachInstance(instanceId: string): Promise<void> {
    this.attached.delete(instanceId);
    this.detached.push(instanceId);
    return Promise.resolve();
  }

  updateInstance(instance: InstanceEndpoint): Promise<void> {
    this.updates.push(instance);
    return Promise.resolve();
  }

  /** Open forwards: `instanceId:port` -> host port (a fake port number, nothing listens). */
  readonly forwards = new Map<string, number>();
  private nextHostPort = 41000;

  forwardPort(
    instanceId: string,
    port: number,
    hostPort = 0,
  ): Promise<{ hostPort: number; close(): Promise<void> }> {
    if (!this.attached.has(instanceId)) {
      return Promise.reject(new Error(`instance ${instanceId} has no attached network interface`));
    }
    const key = `${instanceId}:${String(port)}`;
    const chosen = hostPort === 0 ? this.nextHostPort++ : hostPort;
    this.forwards.set(key, chosen);
    return Promise.resolve({
      hostPort: chosen,
      close: () => {
        this.forwards.delete(key);
        return Promise.resolve();
      },
    });
  }

  instanceByAddress(project: string, network: string, ip: string): InstanceEndpoint | undefined {
    for (const entry of this.attached.values()) {
      if (entry.nic.project === project && entry.nic.network === network && entry.ip === ip) {
        return entry.endpoint;
      }
    }
    return undefined;
  }
}
