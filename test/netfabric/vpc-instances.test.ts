/**
 * VPC dataplane under real instances: busybox system containers (runc) created through the Compute
 * API join the namespaces the dataplane wires. Two instances of the default network reach each
 * other, a firewall deny drops traffic and its removal restores it, an instance in another network
 * is unreachable, the metadata server answers from inside, stop/start keeps the internal IP, and
 * nothing is left after delete. Needs root, runc, ip and nft; skips with the reason elsewhere.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { RuncRuntime } from '../../src/platform/containers/runtime.ts';
import { instanceNamespace } from '../../src/platform/netfabric/fabric.ts';
import { useComputeEngines } from '../../src/services/compute/instances-engines.ts';
import { NetfabricDataplane } from '../../src/services/compute/vpc/dataplane.ts';
import { createVpcDataplane, vpcNetworkExists } from '../../src/services/compute/vpc/index.ts';
import { jsonCaller, startTestServer, type Json, type TestApp } from '../helpers.ts';

const P = 'nimbus-local';
const ZONE = 'asia-northeast3-a';
const BASE = `/compute/v1/projects/${P}`;

const dataplaneCheck = await NetfabricDataplane.check();
const runtimeCheck = dataplaneCheck.ok ? await new RuncRuntime().available() : { ok: false, reason: '' };
const SKIP = !dataplaneCheck.ok
  ? `VPC dataplane unavailable: ${dataplaneCheck.reason ?? ''}`
  : !runtimeCheck.ok
    ? `container runtime unavailable: ${runtimeCheck.reason ?? ''}`
    : false;

/** Runs `argv` inside an instance's network namespace (async: the metadata server is in this process). */
function inside(instanceId: string, argv: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', instanceNamespace(instanceId), ...argv],
      { encoding: 'utf8', timeout: 15_000 },
      (error, stdout) => {
        resolve({ ok: error === null, out: stdout });
      },
    );
  });
}

const ping = async (from: string, ip: string): Promise<boolean> =>
  (await inside(from, ['ping', '-c1', '-W1', '-n', '-q', ip])).ok;

describe('VPC networking of real instances', { skip: SKIP, timeout: 300_000 }, () => {
  let t: TestApp & { url: string; port: number };
  let call: ReturnType<typeof jsonCaller>;
  const instances = new Map<string, { id: string; ip: string }>();

  const waitZoneOp = async (op: Json): Promise<Json> => {
    const res = await call('POST', `${BASE}/zones/${ZONE}/operations/${String(op.name)}/wait`);
    assert.equal(res.status, 200);
    assert.equal(res.body.error, undefined, JSON.stringify(res.body.error));
    return res.body;
  };
  const describeInstance = async (name: string): Promise<{ id: string; ip: string; status: string }> => {
    const res = await call('GET', `${BASE}/zones/${ZONE}/instances/${name}`);
    const nic = (res.body.networkInterfaces as Json[] | undefined)?.[0] ?? {};
    return { id: String(res.body.id), ip: String(nic.networkIP), status: String(res.body.status) };
  };
  const createInstance = async (name: string, network: string, subnetwork?: string): Promise<void> => {
    const nic: Json = { network: `global/networks/${network}` };
    if (subnetwork !== undefined) {
      nic.subnetwork = `regions/asia-northeast3/subnetworks/${subnetwork}`;
    }
    const res = await call('POST', `${BASE}/zones/${ZONE}/instances`, {
      name,
      machineType: `zones/${ZONE}/machineTypes/e2-micro`,
      disks: [
        {
          boot: true,
          autoDelete: true,
          initializeParams: { sourceImage: 'projects/nimbus-images/global/images/family/busybox' },
        },
      ],
      networkInterfaces: [nic],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await waitZoneOp(res.body);
    const info = await describeInstance(name);
    assert.equal(info.status, 'RUNNING');
    instances.set(name, info);
  };

  before(async () => {
    useComputeEngines((platform) => {
      const dataplane = createVpcDataplane(platform);
      return {
        runtime: new RuncRuntime(),
        networkExists: vpcNetworkExists(platform),
        ...(dataplane === undefined ? {} : { dataplane }),
      };
    });
    t = await startTestServer();
    call = jsonCaller(t);
    assert.equal(
      (await call('POST', `${BASE}/global/networks`, { name: 'iso', autoCreateSubnetworks: false })).status,
      200,
    );
    const subnet = await call('POST', `${BASE}/regions/asia-northeast3/subnetworks`, {
      name: 'iso-sub',
      network: 'global/networks/iso',
      ipCidrRange: '10.178.0.0/24',
    });
    assert.equal(subnet.status, 200);
  });

  after(async () => {
    for (const name of instances.keys()) {
      const res = await call('DELETE', `${BASE}/zones/${ZONE}/instances/${name}`);
      if (res.status === 200) {
        await waitZoneOp(res.body).catch(() => undefined);
      }
    }
    await t.dispose();
    useComputeEngines(undefined);
  });

  it('gives instances addresses in their subnets and connects them', async () => {
    await createInstance('vm-a', 'default');
    await createInstance('vm-b', 'default');
    // Same range as the default network's asia-northeast3 subnet, in another network.
    await createInstance('vm-c', 'iso', 'iso-sub');
    const [a, b, c] = ['vm-a', 'vm-b', 'vm-c'].map((name) => instances.get(name));
    assert.ok(a && b && c);
    assert.match(a.ip, /^10\.178\.0\.\d+$/);
    assert.match(c.ip, /^10\.178\.0\.\d+$/);
    assert.ok(await ping(a.id, b.ip), 'default-allow-icmp lets vm-a reach vm-b');
    assert.ok(!(await ping(c.id, b.ip)), 'another network never reaches');
  });

  it('enforces a deny rule on real instances and restores traffic when it is removed', async () => {
    const [a, b] = ['vm-a', 'vm-b'].map((name) => instances.get(name));
    assert.ok(a && b);
    const deny = await call('POST', `${BASE}/global/firewalls`, {
      name: 'deny-icmp',
      network: 'global/networks/default',
      priority: 100,
      denied: [{ IPProtocol: 'icmp' }],
      sourceRanges: ['10.128.0.0/9'],
    });
    assert.equal(deny.status, 200);
    assert.ok(!(await ping(a.id, b.ip)));
    assert.equal((await call('DELETE', `${BASE}/global/firewalls/deny-icmp`)).status, 200);
    assert.ok(await ping(a.id, b.ip));
  });

  it('answers metadata requests from inside with the instance identity', async () => {
    const a = instances.get('vm-a');
    assert.ok(a);
    const answer = await inside(a.id, [
      'busybox',
      'wget',
      '-q',
      '-O-',
      '--header',
      'Metadata-Flavor: Google',
      'http://169.254.169.254/computeMetadata/v1/instance/name',
    ]);
    assert.equal(answer.out.trim(), 'vm-a');
  });

  it('keeps the internal address across stop and start, and cleans up on delete', async () => {
    const before = instances.get('vm-b');
    assert.ok(before);
    await waitZoneOp((await call('POST', `${BASE}/zones/${ZONE}/instances/vm-b/stop`)).body);
    await waitZoneOp((await call('POST', `${BASE}/zones/${ZONE}/instances/vm-b/start`)).body);
    const after = await describeInstance('vm-b');
    assert.equal(after.status, 'RUNNING');
    assert.equal(after.ip, before.ip);

    const inUse = await call('DELETE', `${BASE}/global/networks/iso`);
    assert.equal(inUse.status, 400);
    for (const name of instances.keys()) {
      await waitZoneOp((await call('DELETE', `${BASE}/zones/${ZONE}/instances/${name}`)).body);
    }
    const namespaces = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    for (const { id } of instances.values()) {
      assert.ok(!namespaces.includes(instanceNamespace(id)), `namespace of ${id} removed`);
    }
    instances.clear();
  });
});
