/**
 * The VPC dataplane in the kernel: two networks (with overlapping ranges), plain namespaces standing
 * in for instances, real pings through the router namespaces, firewall rules compiled to nftables,
 * the metadata relay, host port forwards, a rebuild after a restart, and no leftovers.
 * Needs root, `ip` and `nft` (CI runs as root); skips with the reason elsewhere.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { METADATA_SOCKET, type InstanceEndpoint } from '../../src/services/compute/contracts.ts';
import { NetfabricDataplane } from '../../src/services/compute/vpc/dataplane.ts';
import { vpcFor } from '../../src/services/compute/vpc/index.ts';
import { instanceNamespace, routerNamespace } from '../../src/platform/netfabric/fabric.ts';
import { jsonCaller, startTestApp, tempDir, type Json, type TestApp } from '../helpers.ts';

const check = await NetfabricDataplane.check();
const hasPing = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v ping'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const SKIP = !check.ok
  ? `VPC dataplane unavailable: ${check.reason ?? ''}`
  : !hasPing
    ? 'ping (iputils-ping) is not installed'
    : false;

const P = 'nimbus-local';
const BASE = `/compute/v1/projects/${P}`;

function netnsList(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

function pingFrom(instanceId: string, ip: string): boolean {
  try {
    execFileSync(
      'ip',
      ['netns', 'exec', instanceNamespace(instanceId), 'ping', '-c1', '-W1', '-n', '-q', ip],
      {
        stdio: 'ignore',
      },
    );
    return true;
  } catch {
    return false;
  }
}

/**
 * GET http://169.254.169.254/... from inside an instance namespace (node as the client). Async: the
 * fake metadata server answering it runs in this process.
 */
function metadataFrom(instanceId: string): Promise<string> {
  const script =
    "require('http').get({host:'169.254.169.254',path:'/computeMetadata/v1/instance/name'," +
    "headers:{'Metadata-Flavor':'Google','x-nimbus-metadata-source':'forged 1.2.3.4'}},r=>{let b='';" +
    "r.on('data',c=>b+=c);r.on('end',()=>process.stdout.write(r.statusCode+' '+b))}).on('error',e=>{process.stdout.write('ERR '+e.message)})";
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', instanceNamespace(instanceId), process.execPath, '-e', script],
      { encoding: 'utf8', timeout: 10_000 },
      (error, stdout) => {
        resolve(error === null ? stdout : `ERR ${error.message}`);
      },
    );
  });
}

function endpoint(instanceId: string, name: string, tags: string[] = []): InstanceEndpoint {
  return { instanceId, project: P, zone: 'us-central1-a', name, tags, serviceAccounts: [] };
}

describe('VPC dataplane (namespaces, bridges, nftables, relays)', { skip: SKIP, timeout: 120_000 }, () => {
  const dataDir = tempDir('nimbus-vpc-');
  let t: TestApp;
  let call: ReturnType<typeof jsonCaller>;
  let metadataServer: http.Server | undefined;
  let echo: ChildProcess | undefined;
  const seenSources: string[] = [];
  // Random ids so parallel runs never share namespace names.
  const suffix = String(Date.now()).slice(-9);
  const ids = { a1: `71${suffix}`, a2: `72${suffix}`, a3: `73${suffix}`, b1: `74${suffix}` };
  const networkIds: string[] = [];

  const serveMetadata = async (): Promise<void> => {
    mkdirSync(join(dataDir, 'run'), { recursive: true });
    const path = join(dataDir, METADATA_SOCKET);
    rmSync(path, { force: true });
    metadataServer?.close();
    metadataServer = http.createServer((request, response) => {
      const source = String(request.headers['x-nimbus-metadata-source']);
      seenSources.push(source);
      response.end(`source=${source}`);
    });
    await new Promise<void>((resolve) => metadataServer?.listen(path, resolve));
  };

  const boot = async (): Promise<void> => {
    t = await startTestApp({ dataDir });
    call = jsonCaller(t);
    await t.app.ready();
    // Stand in for the instances module's metadata server (bound after the app, so ours answers).
    await serveMetadata();
  };

  before(async () => {
    await boot();
    const ok = async (method: 'POST', url: string, body: Json) => {
      const res = await call(method, url, body);
      assert.equal(res.status, 200, `${url}: ${JSON.stringify(res.body)}`);
    };
    for (const name of ['net-a', 'net-b']) {
      await ok('POST', `${BASE}/global/networks`, { name, autoCreateSubnetworks: false });
      networkIds.push(String((await call('GET', `${BASE}/global/networks/${name}`)).body.id));
    }
    await ok('POST', `${BASE}/regions/us-central1/subnetworks`, {
      name: 'a-public',
      network: 'global/networks/net-a',
      ipCidrRange: '10.61.1.0/24',
    });
    await ok('POST', `${BASE}/regions/us-central1/subnetworks`, {
      name: 'a-private',
      network: 'global/networks/net-a',
      ipCidrRange: '10.61.2.0/24',
    });
    // net-b reuses net-a's public range: networks are separate address spaces.
    await ok('POST', `${BASE}/regions/us-central1/subnetworks`, {
      name: 'b-public',
      network: 'global/networks/net-b',
      ipCidrRange: '10.61.1.0/24',
    });
    for (const network of ['net-a', 'net-b']) {
      await ok('POST', `${BASE}/global/firewalls`, {
        name: `${network}-allow-internal`,
        network: `global/networks/${network}`,
        sourceRanges: ['10.61.0.0/16'],
        allowed: [{ IPProtocol: 'all' }],
      });
    }
  });

  after(async () => {
    echo?.kill('SIGKILL');
    const dataplane = vpcFor(t.platform).dataplane;
    for (const id of Object.values(ids)) {
      await dataplane.detachInstance(id).catch(() => undefined);
    }
    await t.dispose();
    await new Promise<void>((resolve) => {
      if (metadataServer === undefined) {
        resolve();
      } else {
        metadataServer.close(() => {
          resolve();
        });
      }
    });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('attaches instances with addresses from their subnets', async () => {
    const dataplane = vpcFor(t.platform).dataplane;
    const a1 = await dataplane.attachInstance(endpoint(ids.a1, 'web-1', ['web']), {
      project: P,
      network: 'net-a',
      subnetwork: 'a-public',
      region: 'us-central1',
    });
    assert.deepEqual(
      { ip: a1.networkIP, gw: a1.gateway, prefix: a1.prefixLength, ns: a1.netnsPath },
      { ip: '10.61.1.2', gw: '10.61.1.1', prefix: 24, ns: `/run/netns/${instanceNamespace(ids.a1)}` },
    );
    const again = await dataplane.attachInstance(endpoint(ids.a1, 'web-1', ['web']), {
      project: P,
      network: 'net-a',
      subnetwork: 'a-public',
      region: 'us-central1',
    });
    assert.equal(again.networkIP, '10.61.1.2', 'attach is idempotent');
    const a2 = await dataplane.attachInstance(endpoint(ids.a2, 'web-2', ['web']), {
      project: P,
      network: 'net-a',
      subnetwork: 'regions/us-central1/subnetworks/a-public',
      region: 'us-central1',
      networkIP: '10.61.1.20',
    });
    assert.equal(a2.networkIP, '10.61.1.20');
    const a3 = await dataplane.attachInstance(endpoint(ids.a3, 'db-1', ['db']), {
      project: P,
      network: 'net-a',
      subnetwork: 'a-private',
      region: 'us-central1',
    });
    assert.equal(a3.networkIP, '10.61.2.2');
    const b1 = await dataplane.attachInstance(endpoint(ids.b1, 'other-1'), {
      project: P,
      network: 'net-b',
      subnetwork: 'b-public',
      region: 'us-central1',
    });
    assert.equal(b1.networkIP, '10.61.1.2', 'same address, other network');
    const list = netnsList();
    for (const id of [...Object.values(ids).map(instanceNamespace), ...networkIds.map(routerNamespace)]) {
      assert.ok(list.includes(id), `${id} exists`);
    }
    const inside = execFileSync(
      'ip',
      ['-n', instanceNamespace(ids.a1), '-4', '-o', 'addr', 'show', 'dev', 'eth0'],
      {
        encoding: 'utf8',
      },
    );
    assert.match(inside, /10\.61\.1\.2\/24/);
    assert.equal(dataplane.instanceByAddress(P, 'net-a', '10.61.2.2')?.name, 'db-1');
    assert.equal(dataplane.instanceByAddress(P, 'net-b', '10.61.2.2'), undefined);
  });

  it('reaches instances in the same subnet and across subnets of a network', () => {
    assert.ok(pingFrom(ids.a1, '10.61.1.20'), 'same subnet');
    assert.ok(pingFrom(ids.a1, '10.61.2.2'), 'across subnets');
    assert.ok(pingFrom(ids.a3, '10.61.1.2'), 'back across subnets');
  });

  it('drops packets sent from an address the instance does not own', () => {
    const ns = instanceNamespace(ids.a1);
    execFileSync('ip', ['-n', ns, 'addr', 'add', '10.61.1.99/24', 'dev', 'eth0']);
    try {
      let spoofed = true;
      try {
        execFileSync(
          'ip',
          ['netns', 'exec', ns, 'ping', '-c1', '-W1', '-n', '-q', '-I', '10.61.1.99', '10.61.1.20'],
          {
            stdio: 'ignore',
          },
        );
      } catch {
        spoofed = false;
      }
      assert.ok(!spoofed, 'a forged source address is dropped at the bridge port');
    } finally {
      execFileSync('ip', ['-n', ns, 'addr', 'del', '10.61.1.99/24', 'dev', 'eth0']);
    }
    assert.ok(pingFrom(ids.a1, '10.61.1.20'));
  });

  it('installs static routes to a next-hop instance in the router', async () => {
    const route = await call('POST', `${BASE}/global/routes`, {
      name: 'via-web-2',
      network: 'global/networks/net-a',
      destRange: '192.168.77.0/24',
      nextHopInstance: `https://compute.googleapis.com/compute/v1/projects/${P}/zones/us-central1-a/instances/web-2`,
    });
    assert.equal(route.status, 200, JSON.stringify(route.body));
    const [netA = ''] = networkIds;
    const table = execFileSync('ip', ['-n', routerNamespace(netA), 'route', 'show', 'proto', '99'], {
      encoding: 'utf8',
    });
    assert.match(table, /192\.168\.77\.0\/24 via 10\.61\.1\.20/);
    assert.equal((await call('DELETE', `${BASE}/global/routes/via-web-2`)).status, 200);
    const after = execFileSync('ip', ['-n', routerNamespace(netA), 'route', 'show', 'proto', '99'], {
      encoding: 'utf8',
    });
    assert.equal(after.trim(), '');
  });

  it('never reaches another network, even at the same address', () => {
    assert.ok(!pingFrom(ids.b1, '10.61.1.20'), 'net-b has no 10.61.1.20');
    assert.ok(!pingFrom(ids.b1, '10.61.2.2'), 'net-b has no route to net-a');
    const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
    assert.ok(!tables.includes('nimbus'), 'no rules in the root namespace');
  });

  it('enforces firewall rules: a deny drops traffic, removing it restores it', async () => {
    const deny = await call('POST', `${BASE}/global/firewalls`, {
      name: 'deny-to-db',
      network: 'global/networks/net-a',
      priority: 100,
      sourceRanges: ['10.61.1.0/24'],
      targetTags: ['db'],
      denied: [{ IPProtocol: 'icmp' }],
    });
    assert.equal(deny.status, 200);
    assert.ok(!pingFrom(ids.a1, '10.61.2.2'), 'denied across subnets');
    assert.ok(pingFrom(ids.a1, '10.61.1.20'), 'other targets still reachable');
    assert.ok(pingFrom(ids.a3, '10.61.1.2'), 'the db may still initiate (stateful, egress allowed)');

    const disabled = await call('PATCH', `${BASE}/global/firewalls/deny-to-db`, { disabled: true });
    assert.equal(disabled.status, 200);
    assert.ok(pingFrom(ids.a1, '10.61.2.2'), 'disabled rules do not apply');
    await call('PATCH', `${BASE}/global/firewalls/deny-to-db`, { disabled: false });
    assert.ok(!pingFrom(ids.a1, '10.61.2.2'));

    assert.equal((await call('DELETE', `${BASE}/global/firewalls/deny-to-db`)).status, 200);
    assert.ok(pingFrom(ids.a1, '10.61.2.2'), 'flows again');
  });

  it('applies the implied deny-ingress rule and egress rules', async () => {
    const egress = await call('POST', `${BASE}/global/firewalls`, {
      name: 'web-no-egress',
      network: 'global/networks/net-a',
      direction: 'EGRESS',
      priority: 10,
      targetTags: ['web'],
      destinationRanges: ['10.61.2.0/24'],
      denied: [{ IPProtocol: 'all' }],
    });
    assert.equal(egress.status, 200);
    assert.ok(!pingFrom(ids.a1, '10.61.2.2'), 'egress denied for web');
    assert.equal((await call('DELETE', `${BASE}/global/firewalls/web-no-egress`)).status, 200);

    assert.equal((await call('DELETE', `${BASE}/global/firewalls/net-a-allow-internal`)).status, 200);
    assert.ok(!pingFrom(ids.a1, '10.61.1.20'), 'implied deny ingress, same subnet');
    assert.ok(!pingFrom(ids.a1, '10.61.2.2'), 'implied deny ingress, across subnets');
    const tagged = await call('POST', `${BASE}/global/firewalls`, {
      name: 'net-a-allow-internal',
      network: 'global/networks/net-a',
      sourceTags: ['web'],
      allowed: [{ IPProtocol: 'icmp' }, { IPProtocol: 'tcp', ports: ['7000'] }],
    });
    assert.equal(tagged.status, 200);
    assert.ok(pingFrom(ids.a1, '10.61.2.2'), 'source tag web allowed');
    assert.ok(!pingFrom(ids.a3, '10.61.1.2'), 'db has no web tag');
    await vpcFor(t.platform).dataplane.updateInstance(endpoint(ids.a3, 'db-1', ['db', 'web']));
    assert.ok(pingFrom(ids.a3, '10.61.1.2'), 'tags updated: allowed now');
    await vpcFor(t.platform).dataplane.updateInstance(endpoint(ids.a3, 'db-1', ['db']));
  });

  it('relays metadata requests over the Unix socket with the source header', async () => {
    seenSources.length = 0;
    const answer = await metadataFrom(ids.a3);
    assert.equal(answer, `200 source=${P} net-a 10.61.2.2`);
    assert.deepEqual(seenSources, [`${P} net-a 10.61.2.2`], 'a forged header is replaced');
    assert.equal(await metadataFrom(ids.b1), `200 source=${P} net-b 10.61.1.2`);
  });

  it('starts the relay agent again when it dies', async () => {
    const [netA = ''] = networkIds;
    const pids = execFileSync('ip', ['netns', 'pids', routerNamespace(netA)], { encoding: 'utf8' })
      .split('\n')
      .filter((pid) => pid.trim() !== '');
    assert.equal(pids.length, 1, 'one agent process in the router namespace');
    process.kill(Number(pids[0]), 'SIGKILL');
    const dataplane = vpcFor(t.platform).dataplane;
    let answer = '';
    for (let attempt = 0; attempt < 100 && !answer.startsWith('200'); attempt += 1) {
      await dataplane.settle();
      answer = await metadataFrom(ids.a1);
    }
    assert.equal(answer, `200 source=${P} net-a 10.61.1.2`);
  });

  it('forwards a host loopback port into an instance', async () => {
    echo = spawn(
      'ip',
      [
        'netns',
        'exec',
        instanceNamespace(ids.a2),
        process.execPath,
        '-e',
        "require('net').createServer(s=>s.pipe(s)).listen(7000,()=>process.stdout.write('up\\n'))",
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => {
      echo?.stdout?.once('data', () => {
        resolve();
      });
    });
    // Forwarded connections enter from the subnet gateway and pass the ingress rules like any other.
    const allow = await call('POST', `${BASE}/global/firewalls`, {
      name: 'allow-forward',
      network: 'global/networks/net-a',
      sourceRanges: ['10.61.1.1/32'],
      allowed: [{ IPProtocol: 'tcp', ports: ['7000'] }],
    });
    assert.equal(allow.status, 200);
    const forward = await vpcFor(t.platform).dataplane.forwardPort(ids.a2, 7000);
    assert.ok(forward.hostPort > 0);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(forward.hostPort, '127.0.0.1', () =>
        socket.write('hello through the relay'),
      );
      socket.once('data', (data) => {
        resolve(data.toString('utf8'));
        socket.destroy();
      });
      socket.once('error', reject);
    });
    assert.equal(reply, 'hello through the relay');
    await forward.close();
    echo.kill('SIGKILL');
  });

  it('rebuilds namespaces and rules from the store after a restart', async () => {
    const [netA] = networkIds;
    assert.ok(netA);
    await t.close();
    // Simulate a reboot of the router: the namespace and every veth in it are gone.
    execFileSync('ip', ['netns', 'del', routerNamespace(netA)]);
    // The kernel tears a namespace (and its veths) down asynchronously, later still on a busy machine.
    let cut = false;
    for (let attempt = 0; attempt < 20 && !cut; attempt++) {
      cut = !pingFrom(ids.a1, '10.61.2.2');
      if (!cut) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    assert.ok(cut, 'the router namespace is gone: no route between the subnets');
    await boot();
    await vpcFor(t.platform).dataplane.ready();
    await vpcFor(t.platform).dataplane.settle();
    assert.ok(netnsList().includes(routerNamespace(netA)));
    assert.ok(pingFrom(ids.a1, '10.61.2.2'), 'routed again');
    assert.equal(await metadataFrom(ids.a1), `200 source=${P} net-a 10.61.1.2`, 'relay agent restarted');
  });

  it('refuses to delete a network or subnet with instances, then cleans up everything', async () => {
    const inUse = await call('DELETE', `${BASE}/global/networks/net-b`);
    assert.equal(inUse.status, 400);
    const subnetInUse = await call('DELETE', `${BASE}/regions/us-central1/subnetworks/a-private`);
    assert.equal(subnetInUse.status, 400);

    const dataplane = vpcFor(t.platform).dataplane;
    await dataplane.detachInstance(ids.a3, { keepAddress: true });
    assert.ok(!netnsList().includes(instanceNamespace(ids.a3)));
    const reattached = await dataplane.attachInstance(endpoint(ids.a3, 'db-1', ['db']), {
      project: P,
      network: 'net-a',
      subnetwork: 'a-private',
      region: 'us-central1',
    });
    assert.equal(reattached.networkIP, '10.61.2.2', 'a stopped instance keeps its address');

    for (const id of Object.values(ids)) {
      await dataplane.detachInstance(id);
    }
    for (const url of [
      `${BASE}/global/firewalls/net-a-allow-internal`,
      `${BASE}/global/firewalls/net-b-allow-internal`,
      `${BASE}/global/firewalls/allow-forward`,
      `${BASE}/regions/us-central1/subnetworks/a-public`,
      `${BASE}/regions/us-central1/subnetworks/a-private`,
      `${BASE}/regions/us-central1/subnetworks/b-public`,
      `${BASE}/global/networks/net-a`,
      `${BASE}/global/networks/net-b`,
    ]) {
      assert.equal((await call('DELETE', url)).status, 200, url);
    }
    await dataplane.settle();
    const list = netnsList();
    for (const name of [...Object.values(ids).map(instanceNamespace), ...networkIds.map(routerNamespace)]) {
      assert.ok(!list.includes(name), `${name} removed`);
    }
    const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
    assert.ok(!/\bn[bv][0-9a-f]{10}\b/.test(links), 'no bridge or veth in the root namespace');
  });
});
