/**
 * The real Google Cloud CLI against Nimbus's Compute Engine with the real engines: `gcloud compute
 * instances create` of an e2-micro debian-12 instance (image built once and cached by the engine)
 * with a startup script, then list, describe, get-serial-port-output (the script ran), stop, start,
 * reset and delete; plus machine-types and images listings. Skipped with the reason where gcloud is
 * absent or the runtime cannot run (not root, no runc).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RuncRuntime } from '../../src/platform/containers/runtime.ts';
import { findGcloud, gcloudSession } from '../gcloud-cli.ts';

const GCLOUD = findGcloud();
const ZONE = 'asia-northeast3-a';
const NAME = 'gcloud-vm';
/** Long enough for the first debian-12 image build (~30-60 s, then cached for every later run). */
const CREATE_TIMEOUT_MS = 300_000;
const CALL_TIMEOUT_MS = 90_000;

const availability = await new RuncRuntime().available();
const skip =
  GCLOUD === undefined
    ? 'gcloud not installed'
    : availability.ok
      ? false
      : `compute runtime unavailable: ${availability.reason ?? ''} (${availability.fix ?? ''})`;
if (skip !== false) {
  process.stdout.write(`# skipping gcloud compute instances: ${skip}\n`);
}

interface Instance {
  name: string;
  status: string;
  id: string;
  machineType: string;
  zone: string;
  networkInterfaces: { networkIP: string }[];
  disks: { boot: boolean; autoDelete: boolean; source: string }[];
  metadata: { items?: { key: string; value: string }[] };
}

describe('gcloud compute instances against Nimbus', { skip }, () => {
  const session = gcloudSession({ timeoutMs: CALL_TIMEOUT_MS });
  const { gcloud, ok: gcloudOk, json: gcloudJson } = session;
  const describeInstance = (): Promise<Instance> =>
    gcloudJson<Instance>(['compute', 'instances', 'describe', NAME, '--zone', ZONE]);

  before(() => session.open());
  after(async () => {
    // Whatever a failed step left running goes away with the instance.
    await gcloud(['compute', 'instances', 'delete', NAME, '--zone', ZONE, '--quiet']);
    await session.close();
  });

  it('lists machine types and the public images', { timeout: CALL_TIMEOUT_MS * 2 }, async () => {
    const types = await gcloudJson<{ name: string; guestCpus: number; memoryMb: number }[]>([
      'compute',
      'machine-types',
      'list',
      '--zones',
      ZONE,
    ]);
    const micro = types.find((m) => m.name === 'e2-micro');
    assert.deepEqual({ cpus: micro?.guestCpus, memory: micro?.memoryMb }, { cpus: 2, memory: 1024 });
    const images = await gcloudJson<{ name: string; family: string }[]>([
      'compute',
      'images',
      'list',
      '--project',
      'debian-cloud',
      '--no-standard-images',
    ]);
    assert.ok(
      images.some((i) => i.family === 'debian-12'),
      JSON.stringify(images),
    );
  });

  it(
    'creates an e2-micro debian-12 instance with a startup script',
    { timeout: CREATE_TIMEOUT_MS + 60_000 },
    async () => {
      const created = await gcloudOk(
        [
          'compute',
          'instances',
          'create',
          NAME,
          '--zone',
          ZONE,
          '--machine-type',
          'e2-micro',
          '--image-family',
          'debian-12',
          '--image-project',
          'debian-cloud',
          '--metadata',
          'startup-script=echo "gcloud startup ran on $(hostname)"',
        ],
        CREATE_TIMEOUT_MS,
      );
      assert.match(created.stdout + created.stderr, new RegExp(NAME));
      const instance = await describeInstance();
      assert.equal(instance.status, 'RUNNING');
      assert.match(instance.machineType, /\/machineTypes\/e2-micro$/);
      assert.match(instance.networkInterfaces[0]?.networkIP ?? '', /^10\./);
      assert.equal(instance.disks[0]?.boot, true);
      const listed = await gcloudJson<Instance[]>(['compute', 'instances', 'list']);
      assert.deepEqual(
        listed.map((i) => [i.name, i.status]),
        [[NAME, 'RUNNING']],
      );
    },
  );

  it('shows the startup script in get-serial-port-output', { timeout: CALL_TIMEOUT_MS * 2 }, async () => {
    let output = '';
    for (let attempt = 0; attempt < 60 && !output.includes(`gcloud startup ran on ${NAME}`); attempt++) {
      output = (await gcloudOk(['compute', 'instances', 'get-serial-port-output', NAME, '--zone', ZONE]))
        .stdout;
      if (!output.includes(`gcloud startup ran on ${NAME}`)) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    assert.match(output, new RegExp(`gcloud startup ran on ${NAME}`));
  });

  it('stops, starts and resets the instance', { timeout: CALL_TIMEOUT_MS * 4 }, async () => {
    await gcloudOk(['compute', 'instances', 'stop', NAME, '--zone', ZONE]);
    assert.equal((await describeInstance()).status, 'TERMINATED');
    await gcloudOk(['compute', 'instances', 'start', NAME, '--zone', ZONE]);
    assert.equal((await describeInstance()).status, 'RUNNING');
    await gcloudOk(['compute', 'instances', 'reset', NAME, '--zone', ZONE]);
    assert.equal((await describeInstance()).status, 'RUNNING');
  });

  it('deletes the instance and its boot disk', { timeout: CALL_TIMEOUT_MS * 2 }, async () => {
    await gcloudOk(['compute', 'instances', 'delete', NAME, '--zone', ZONE, '--quiet']);
    const listed = await gcloudJson<Instance[]>(['compute', 'instances', 'list']);
    assert.deepEqual(listed, []);
    const disks = await gcloudJson<{ name: string }[]>(['compute', 'disks', 'list']);
    assert.deepEqual(disks, []);
    const missing = await gcloud(['compute', 'instances', 'describe', NAME, '--zone', ZONE]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /was not found/);
  });
});
