/**
 * Google's official Node client (@google-cloud/compute 6.15.0, REST over http) against a started
 * Nimbus with the real engines (runc system containers, the VPC dataplane): a debian-12 e2-micro
 * instance with a startup script boots, its serial output shows the script ran (fetched from the
 * guest metadata server), a file written inside survives stop/start, and delete leaves nothing
 * behind. Needs root and runc: skipped with the reason where the runtime says it cannot run.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as ComputeTypes from '@google-cloud/compute';
import WebSocket from 'ws';
import { RuncRuntime } from '../../src/platform/containers/runtime.ts';
import { startTestServer, type TestApp } from '../helpers.ts';

type ComputeModule = typeof ComputeTypes;
type ClientOptions = NonNullable<ConstructorParameters<ComputeModule['InstancesClient']>[0]>;

const PROJECT = 'nimbus-local';
const ZONE = 'asia-northeast3-a';
const NAME = 'node-client-vm';

const availability = await new RuncRuntime().available();
if (!availability.ok) {
  process.stdout.write(
    `# skipping compute conformance: ${availability.reason ?? 'runtime unavailable'} (${availability.fix ?? ''})\n`,
  );
}

/** Runs a one-shot command through the terminal WebSocket; resolves with output and exit code. */
function runInInstance(url: string, command: string): Promise<{ output: string; code: number }> {
  return new Promise((resolve, reject) => {
    const socketUrl = `${url.replace('http', 'ws')}/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances/${NAME}/ssh?command=${encodeURIComponent(command)}`;
    const ws = new WebSocket(socketUrl);
    const chunks: Buffer[] = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        chunks.push(data);
        return;
      }
      const message = JSON.parse(data.toString()) as { type: string; code?: number; message?: string };
      if (message.type === 'exit') {
        resolve({ output: Buffer.concat(chunks).toString(), code: message.code ?? -1 });
      } else {
        reject(new Error(message.message ?? data.toString()));
      }
    });
    ws.on('error', reject);
  });
}

describe('Compute Engine with @google-cloud/compute 6.15.0', { skip: !availability.ok }, () => {
  let t: TestApp & { url: string; port: number };
  let compute: ComputeModule;
  let options: ClientOptions;
  let instanceId = '';

  before(async () => {
    t = await startTestServer();
    // The client gets its token from Nimbus's metadata emulation on 127.0.0.1 (never 169.254.169.254).
    process.env.GCE_METADATA_HOST = `127.0.0.1:${String(t.port)}`;
    process.env.GCE_METADATA_IP = `127.0.0.1:${String(t.port)}`;
    process.env.METADATA_SERVER_DETECTION = 'assume-present';
    compute = await import('@google-cloud/compute');
    options = {
      fallback: true,
      protocol: 'http',
      apiEndpoint: '127.0.0.1',
      port: t.port,
      projectId: PROJECT,
    };
  });
  after(async () => {
    await t.dispose();
    process.env.METADATA_SERVER_DETECTION = 'none';
  });

  const waitFor = async (operation: { name?: string | null; status?: unknown }): Promise<void> => {
    const operations = new compute.ZoneOperationsClient(options);
    let current = operation;
    while (current.status !== 'DONE') {
      [current] = await operations.wait({ project: PROJECT, zone: ZONE, operation: String(current.name) });
    }
    const [done] = await operations.get({ project: PROJECT, zone: ZONE, operation: String(current.name) });
    assert.equal(done.error ?? undefined, undefined, JSON.stringify(done.error));
  };

  it('creates an e2-micro debian-12 instance with a startup script and it runs', async () => {
    const instances = new compute.InstancesClient(options);
    const [image] = await new compute.ImagesClient(options).getFromFamily({
      project: 'debian-cloud',
      family: 'debian-12',
    });
    const [op] = await instances.insert({
      project: PROJECT,
      zone: ZONE,
      instanceResource: {
        name: NAME,
        machineType: `zones/${ZONE}/machineTypes/e2-micro`,
        disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: image.selfLink ?? '' } }],
        networkInterfaces: [{ network: 'global/networks/default' }],
        metadata: { items: [{ key: 'startup-script', value: 'echo "startup ran on $(hostname)"' }] },
      },
    });
    await waitFor(op.latestResponse);
    const [instance] = await instances.get({ project: PROJECT, zone: ZONE, instance: NAME });
    assert.equal(instance.status, 'RUNNING');
    instanceId = String(instance.id);
    assert.match(String(instance.networkInterfaces?.[0]?.networkIP), /^10\.\d+\.\d+\.\d+$/);

    let serial = '';
    for (let attempt = 0; attempt < 100 && !serial.includes(`startup ran on ${NAME}`); attempt++) {
      const [output] = await instances.getSerialPortOutput({ project: PROJECT, zone: ZONE, instance: NAME });
      serial = output.contents ?? '';
      if (!serial.includes(`startup ran on ${NAME}`)) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    assert.match(serial, new RegExp(`startup ran on ${NAME}`));
  });

  it('keeps a file written in the instance across stop and start', async () => {
    const instances = new compute.InstancesClient(options);
    const written = await runInInstance(t.url, 'echo persisted > /etc/nimbus-marker && hostname');
    assert.deepEqual(written, { output: `${NAME}\n`, code: 0 });

    const [stop] = await instances.stop({ project: PROJECT, zone: ZONE, instance: NAME });
    await waitFor(stop.latestResponse);
    assert.equal(
      (await instances.get({ project: PROJECT, zone: ZONE, instance: NAME }))[0].status,
      'TERMINATED',
    );

    const [start] = await instances.start({ project: PROJECT, zone: ZONE, instance: NAME });
    await waitFor(start.latestResponse);
    assert.equal(
      (await instances.get({ project: PROJECT, zone: ZONE, instance: NAME }))[0].status,
      'RUNNING',
    );
    assert.deepEqual(await runInInstance(t.url, 'cat /etc/nimbus-marker'), {
      output: 'persisted\n',
      code: 0,
    });
  });

  it('deletes the instance and leaves no container, mount, namespace, cgroup or disk behind', async () => {
    const instances = new compute.InstancesClient(options);
    const [del] = await instances.delete({ project: PROJECT, zone: ZONE, instance: NAME });
    await waitFor(del.latestResponse);
    await assert.rejects(instances.get({ project: PROJECT, zone: ZONE, instance: NAME }), /not found/);
    const containerId = `nimbus-${instanceId}`;
    assert.equal(
      (await new RuncRuntime().list()).some((c) => c.id === containerId),
      false,
    );
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(containerId), false);
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(instanceId), false);
    const namespaces = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
    assert.equal(
      namespaces.some((n) => n.includes(instanceId)),
      false,
    );
    for (const controller of ['memory', 'cpu', 'pids']) {
      assert.equal(existsSync(join('/sys/fs/cgroup', controller, 'nimbus', containerId)), false, controller);
    }
    const processes = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    const leftover = processes.filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(containerId);
      } catch {
        return false;
      }
    });
    assert.deepEqual(leftover, []);
    const disks = join(t.dataDir, 'instances', 'disks');
    assert.deepEqual(existsSync(disks) ? readdirSync(disks) : [], []);
  });
});
