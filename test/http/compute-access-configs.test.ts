/**
 * External access configs (fake dataplane, real listeners): an instance with a ONE_TO_ONE_NAT access
 * config gets its own loopback address from 127.77.0.0/16 as natIP and host forwards of port 22 and
 * the `nimbus-forward-ports` ports listening there (on the same port numbers when they can be
 * bound), reported in `nimbusForwardedPorts`; stop closes them, start reopens them on the same
 * address and ports; add/deleteAccessConfig and setMetadata follow; an instance without one has no
 * forward. Addresses are distinct per instance, released on delete (and reused), kept across a
 * restart. The guest metadata server answers `wait_for_change` long-polls with ETags.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { useComputeEngines } from '../../src/services/compute/instances-engines.ts';
import { instancesServiceOf } from '../../src/services/compute/instances.ts';
import {
  bearer,
  jsonCaller,
  startTestApp,
  startTestServer,
  tempDir,
  type Json,
  type Method,
  type TestApp,
} from '../helpers.ts';
import { FakeDataplane, FakeRuntime } from './compute-instances-fakes.ts';

const P = 'nimbus-local';
const ZONE = 'asia-northeast3-a';
const BASE = `/compute/v1/projects/${P}`;
const AT = `${BASE}/zones/${ZONE}/instances`;

function metadataRequest(
  socketPath: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ body: string; etag: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const etag = res.headers.etag;
        resolve({ body: Buffer.concat(chunks).toString('utf8'), etag });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function metadataGet(
  socketPath: string,
  path: string,
  headers: Record<string, string>,
): Promise<string> {
  return (await metadataRequest(socketPath, path, headers)).body;
}

/** Whether anything accepts a TCP connection on host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => {
      resolve(false);
    });
  });
}

const EXTERNAL = /^127\.77\.\d{1,3}\.\d{1,3}$/;

describe('compute external access configs (fake engines)', () => {
  let t: TestApp & { url: string; port: number };
  let call: ReturnType<typeof jsonCaller>;
  const runtime = new FakeRuntime();
  const dataplane = new FakeDataplane();

  const waitOp = async (op: Json): Promise<Json> => {
    const res = await call('POST', `${BASE}/zones/${ZONE}/operations/${String(op.name)}/wait`);
    assert.equal(res.status, 200);
    assert.equal(res.body.error, undefined, JSON.stringify(res.body.error));
    return res.body;
  };
  const mutate = async (method: Method, path: string, body?: Json): Promise<Json> => {
    const res = await call(method, path, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return await waitOp(res.body);
  };
  const get = async (name: string): Promise<Json> => (await call('GET', `${AT}/${name}`)).body;
  const accessConfigOf = (instance: Json): Json | undefined =>
    ((instance.networkInterfaces as Json[])[0]?.accessConfigs as Json[] | undefined)?.[0];
  const body = (name: string, nic: Json, items: Json[] = []): Json => ({
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
    metadata: { items },
  });

  before(async () => {
    useComputeEngines(() => ({ runtime, dataplane }));
    t = await startTestServer();
    call = jsonCaller(t);
  });
  after(async () => {
    await t.dispose();
    useComputeEngines(undefined);
  });

  it('forwards 22 and nimbus-forward-ports, closes on stop and reopens the same ports on start', async () => {
    await mutate(
      'POST',
      AT,
      body('pub', { accessConfigs: [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] }, [
        { key: 'nimbus-forward-ports', value: '8080,80' },
      ]),
    );
    const running = await get('pub');
    const id = String(running.id);
    const ac = accessConfigOf(running);
    const natIP = String(ac?.natIP);
    assert.match(natIP, EXTERNAL);
    assert.equal(ac?.name, 'External NAT');
    assert.equal(ac?.kind, 'compute#accessConfig');
    const forwarded = ac?.nimbusForwardedPorts as { port: number; hostPort: number }[];
    assert.deepEqual(
      forwarded.map((f) => f.port),
      [22, 80, 8080],
    );
    for (const f of forwarded) {
      assert.ok(dataplane.forwards.has(`${id}:${String(f.port)}`), `dataplane forward of ${String(f.port)}`);
      assert.equal(await listening(natIP, f.hostPort), true, `${natIP}:${String(f.hostPort)} listens`);
      if (process.getuid?.() === 0 && f.port !== 22) {
        // As root, the instance's own port numbers (22 may be taken by a host sshd on 0.0.0.0).
        assert.equal(f.hostPort, f.port);
      }
    }

    await mutate('POST', `${AT}/pub/stop`);
    const stopped = accessConfigOf(await get('pub'));
    assert.equal(stopped?.natIP, undefined);
    assert.equal(stopped?.nimbusForwardedPorts, undefined);
    assert.equal(stopped?.type, 'ONE_TO_ONE_NAT');
    assert.equal([...dataplane.forwards.keys()].filter((k) => k.startsWith(`${id}:`)).length, 0);
    assert.equal(await listening(natIP, forwarded[0]?.hostPort ?? 22), false, 'stop closes the listener');

    await mutate('POST', `${AT}/pub/start`);
    assert.deepEqual(accessConfigOf(await get('pub'))?.nimbusForwardedPorts, forwarded);
    assert.equal(accessConfigOf(await get('pub'))?.natIP, natIP, 'start keeps the address');

    // setMetadata drops 8080 from the list: its forward closes.
    const fingerprint = String((running.metadata as Json).fingerprint);
    await mutate('POST', `${AT}/pub/setMetadata`, {
      fingerprint,
      items: [{ key: 'nimbus-forward-ports', value: '80' }],
    });
    assert.deepEqual(
      (accessConfigOf(await get('pub'))?.nimbusForwardedPorts as Json[]).map((f) => f.port),
      [22, 80],
    );
    assert.equal(dataplane.forwards.has(`${id}:8080`), false);

    await mutate('DELETE', `${AT}/pub`);
    assert.equal([...dataplane.forwards.keys()].filter((k) => k.startsWith(`${id}:`)).length, 0);
    assert.equal(await listening(natIP, 80), false, 'delete closes the listeners');
  });

  it('gives each instance its own address, released on delete and reused', async () => {
    await mutate('POST', AT, body('pool-a', { accessConfigs: [{}] }));
    await mutate('POST', AT, body('pool-b', { accessConfigs: [{}] }));
    const a = String(accessConfigOf(await get('pool-a'))?.natIP);
    const b = String(accessConfigOf(await get('pool-b'))?.natIP);
    assert.match(a, EXTERNAL);
    assert.match(b, EXTERNAL);
    assert.notEqual(a, b);
    await mutate('DELETE', `${AT}/pool-a`);
    await mutate('POST', AT, body('pool-c', { accessConfigs: [{}] }));
    assert.equal(accessConfigOf(await get('pool-c'))?.natIP, a, 'the released address is reused');
    // gcloud compute ssh asks for host keys when guest attributes are enabled: none here, a 404.
    const attributes = await call('GET', `${AT}/pool-c/getGuestAttributes?queryPath=hostkeys%2F`);
    assert.equal(attributes.status, 404);
    assert.match(JSON.stringify(attributes.body), /guestAttributes\/hostkeys\//);
    assert.equal((await call('GET', `${AT}/nope/getGuestAttributes?queryPath=hostkeys%2F`)).status, 404);
    await mutate('DELETE', `${AT}/pool-b`);
    await mutate('DELETE', `${AT}/pool-c`);
  });

  it('falls back to a free port on the address when the instance port is taken on 0.0.0.0', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => {
      holder.listen(0, '0.0.0.0', resolve);
    });
    const taken = (holder.address() as { port: number }).port;
    try {
      await mutate(
        'POST',
        AT,
        body('busy', { accessConfigs: [{}] }, [{ key: 'nimbus-forward-ports', value: String(taken) }]),
      );
      const ac = accessConfigOf(await get('busy'));
      const natIP = String(ac?.natIP);
      const forward = (ac?.nimbusForwardedPorts as { port: number; hostPort: number }[]).find(
        (f) => f.port === taken,
      );
      assert.ok(forward, JSON.stringify(ac));
      assert.notEqual(forward.hostPort, taken, 'a wildcard listener blocks the same port on 127.77.x.y');
      assert.equal(await listening(natIP, forward.hostPort), true);
      await mutate('DELETE', `${AT}/busy`);
    } finally {
      holder.close();
    }
  });

  it('holds a wait_for_change metadata request until the metadata changes', async () => {
    await mutate(
      'POST',
      AT,
      body('watcher', {}, [{ key: 'ssh-keys', value: 'alice:ssh-ed25519 AAAA alice' }]),
    );
    const instance = await get('watcher');
    const ip = String(((instance.networkInterfaces as Json[])[0] ?? {}).networkIP);
    const socket = join(t.dataDir, 'run', 'metadata.sock');
    const headers = { 'metadata-flavor': 'Google', 'x-nimbus-metadata-source': `${P} default ${ip}` };
    const first = await metadataRequest(socket, '/computeMetadata/v1/?recursive=true', headers);
    assert.match(first.etag ?? '', /^[0-9a-f]{16}$/);
    // A different last_etag answers at once.
    const stale = await metadataRequest(
      socket,
      '/computeMetadata/v1/?recursive=true&wait_for_change=true&last_etag=0000',
      headers,
    );
    assert.equal(stale.etag, first.etag);
    // The current one waits; a change to project ssh-keys ends the wait with the new tree.
    let done = false;
    const waiting = metadataRequest(
      socket,
      `/computeMetadata/v1/?recursive=true&wait_for_change=true&timeout_sec=30&last_etag=${first.etag ?? ''}`,
      headers,
    ).then((answer) => {
      done = true;
      return answer;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(done, false, 'held while nothing changes');
    const project = (await call('GET', BASE)).body.commonInstanceMetadata as { fingerprint: string };
    const set = await call('POST', `${BASE}/setCommonInstanceMetadata`, {
      fingerprint: project.fingerprint,
      items: [{ key: 'ssh-keys', value: 'bob:ssh-ed25519 BBBB bob' }],
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const changed = await waiting;
    assert.notEqual(changed.etag, first.etag);
    assert.match(changed.body, /bob:ssh-ed25519 BBBB bob/);
    // timeout_sec ends an unchanged wait with the current answer.
    const timedOut = await metadataRequest(
      socket,
      `/computeMetadata/v1/instance/attributes/ssh-keys?wait_for_change=true&timeout_sec=1&last_etag=${
        (await metadataRequest(socket, '/computeMetadata/v1/instance/attributes/ssh-keys', headers)).etag ??
        ''
      }`,
      headers,
    );
    assert.equal(timedOut.body, 'alice:ssh-ed25519 AAAA alice');
    await call('POST', `${BASE}/setCommonInstanceMetadata`, { items: [] });
    await mutate('DELETE', `${AT}/watcher`);
  });

  it('has no forward without an access config; add/deleteAccessConfig open and close them', async () => {
    await mutate('POST', AT, body('priv', { network: 'global/networks/default' }));
    const priv = await get('priv');
    const id = String(priv.id);
    assert.equal((priv.networkInterfaces as Json[])[0]?.accessConfigs, undefined);
    assert.equal([...dataplane.forwards.keys()].filter((k) => k.startsWith(`${id}:`)).length, 0);

    await mutate('POST', `${AT}/priv/addAccessConfig?networkInterface=nic0`, {
      kind: 'compute#accessConfig',
      name: 'external-nat',
      type: 'ONE_TO_ONE_NAT',
    });
    const ac = accessConfigOf(await get('priv'));
    assert.match(String(ac?.natIP), EXTERNAL);
    assert.deepEqual(
      (ac?.nimbusForwardedPorts as Json[]).map((f) => f.port),
      [22],
    );
    assert.ok(dataplane.forwards.has(`${id}:22`));

    const twice = await call('POST', `${AT}/priv/addAccessConfig?networkInterface=nic0`, {
      name: 'second',
    });
    assert.equal(twice.status, 400);
    assert.match(JSON.stringify(twice.body), /At most one access config/);

    const missing = await call(
      'POST',
      `${AT}/priv/deleteAccessConfig?networkInterface=nic0&accessConfig=nope`,
    );
    assert.equal(missing.status, 400);

    await mutate('POST', `${AT}/priv/deleteAccessConfig?networkInterface=nic0&accessConfig=external-nat`);
    assert.equal((((await get('priv')).networkInterfaces as Json[])[0] ?? {}).accessConfigs, undefined);
    assert.equal(dataplane.forwards.has(`${id}:22`), false);
    await mutate('DELETE', `${AT}/priv`);
  });

  it('rejects access configs Nimbus cannot realise and bad port lists', async () => {
    const natIP = await call(
      'POST',
      AT,
      body('bad-1', { accessConfigs: [{ type: 'ONE_TO_ONE_NAT', natIP: '34.1.2.3' }] }),
    );
    assert.equal(natIP.status, 400);
    assert.match(JSON.stringify(natIP.body), /natIP/);
    const two = await call('POST', AT, body('bad-2', { accessConfigs: [{ name: 'a' }, { name: 'b' }] }));
    assert.equal(two.status, 400);
    const ports = await call(
      'POST',
      AT,
      body('bad-3', { accessConfigs: [{}] }, [{ key: 'nimbus-forward-ports', value: '80,99999' }]),
    );
    assert.equal(ports.status, 400);
    assert.match(JSON.stringify(ports.body), /nimbus-forward-ports/);
    assert.equal((await call('GET', `${AT}/bad-3`)).status, 404);
  });

  it('creates the default compute service account (roles/editor) so its metadata tokens work', async () => {
    await mutate('POST', AT, {
      ...body('sa-vm', {}),
      serviceAccounts: [{ email: 'default', scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
    });
    const instance = await get('sa-vm');
    const email = String((instance.serviceAccounts as Json[])[0]?.email);
    assert.match(email, /^\d+-compute@developer\.gserviceaccount\.com$/);
    const accounts = await call('GET', `/v1/projects/${P}/serviceAccounts`);
    assert.ok((accounts.body.accounts as Json[]).some((a) => a.email === email));
    const one = await call('GET', `/v1/projects/-/serviceAccounts/${email}`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    const policy = await call('POST', `/v1/projects/${P}:getIamPolicy`, {});
    const editors = (policy.body.bindings as { role: string; members: string[] }[]).find(
      (b) => b.role === 'roles/editor',
    );
    assert.ok(editors?.members.includes(`serviceAccount:${email}`));

    const ip = String(((instance.networkInterfaces as Json[])[0] ?? {}).networkIP);
    const token = JSON.parse(
      await metadataGet(
        join(t.dataDir, 'run', 'metadata.sock'),
        '/computeMetadata/v1/instance/service-accounts/default/token',
        { 'metadata-flavor': 'Google', 'x-nimbus-metadata-source': `${P} default ${ip}` },
      ),
    ) as { access_token: string };
    for (const url of [`/v1/projects/${P}/serviceAccounts`, `${AT}/sa-vm`]) {
      const res = await t.app.inject({ method: 'GET', url, headers: bearer(token.access_token) });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
    }
    await mutate('DELETE', `${AT}/sa-vm`);
  });

  it('queues zone operations: PENDING behind earlier work, then RUNNING, then DONE', async () => {
    let release: () => void = () => undefined;
    runtime.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const insert = await call('POST', AT, body('queued', { accessConfigs: [{}] }));
    assert.equal(insert.status, 200, JSON.stringify(insert.body));
    const stop = await call('POST', `${AT}/queued/stop`);
    assert.equal(stop.status, 200, JSON.stringify(stop.body));
    assert.equal(stop.body.status, 'PENDING');
    assert.equal(stop.body.startTime, undefined);
    const opOf = async (op: Json): Promise<Json> =>
      (await call('GET', `${BASE}/zones/${ZONE}/operations/${String(op.name)}`)).body;
    assert.equal((await opOf(insert.body)).status, 'RUNNING');
    assert.equal((await opOf(stop.body)).status, 'PENDING');
    release();
    runtime.gate = undefined;
    await waitOp(insert.body);
    const stopped = await waitOp(stop.body);
    assert.equal(stopped.status, 'DONE');
    assert.equal(typeof stopped.startTime, 'string');
    assert.equal((await get('queued')).status, 'TERMINATED');
    await mutate('DELETE', `${AT}/queued`);
  });

  it('serves projects.get and setCommonInstanceMetadata, read by guests under project/attributes', async () => {
    const project = await call('GET', BASE);
    assert.equal(project.status, 200, JSON.stringify(project.body));
    assert.equal(project.body.kind, 'compute#project');
    assert.equal(project.body.name, P);
    assert.match(String(project.body.defaultServiceAccount), /-compute@developer\.gserviceaccount\.com$/);
    const common = project.body.commonInstanceMetadata as { fingerprint: string; items?: Json[] };
    assert.equal(common.items, undefined);

    const set = await call('POST', `${BASE}/setCommonInstanceMetadata`, {
      fingerprint: common.fingerprint,
      items: [{ key: 'team', value: 'blue' }],
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.equal(set.body.status, 'DONE');
    const stale = await call('POST', `${BASE}/setCommonInstanceMetadata`, {
      fingerprint: common.fingerprint,
      items: [],
    });
    assert.equal(stale.status, 412);
    const bad = await call('POST', `${BASE}/setCommonInstanceMetadata`, { items: [{ key: 'bad key!' }] });
    assert.equal(bad.status, 400);
    const after = (await call('GET', BASE)).body.commonInstanceMetadata as { items: Json[] };
    assert.deepEqual(after.items, [{ key: 'team', value: 'blue' }]);

    await mutate('POST', AT, body('proj-md', {}));
    const ip = String((((await get('proj-md')).networkInterfaces as Json[])[0] ?? {}).networkIP);
    const value = await metadataGet(
      join(t.dataDir, 'run', 'metadata.sock'),
      '/computeMetadata/v1/project/attributes/team',
      { 'metadata-flavor': 'Google', 'x-nimbus-metadata-source': `${P} default ${ip}` },
    );
    assert.equal(value, 'blue');
    await mutate('DELETE', `${AT}/proj-md`);
  });
});

describe('compute external access across a Nimbus restart', () => {
  it('reopens the forwards of running instances on their address and host ports', async () => {
    const dataDir = tempDir();
    // Instances (and their namespaces) outlive Nimbus; its host forwards do not.
    const runtime = new FakeRuntime();
    const dataplane = new FakeDataplane();
    useComputeEngines(() => ({ runtime, dataplane }));
    const create = {
      name: 'survivor',
      machineType: `zones/${ZONE}/machineTypes/e2-micro`,
      disks: [
        {
          boot: true,
          initializeParams: { sourceImage: 'projects/nimbus-images/global/images/family/busybox' },
        },
      ],
      networkInterfaces: [{ accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] }],
    };
    const a = await startTestApp({ dataDir });
    let id = '';
    let hostPort = 0;
    let natIP = '';
    try {
      const callA = jsonCaller(a);
      const res = await callA('POST', AT, create);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await callA('POST', `${BASE}/zones/${ZONE}/operations/${String(res.body.name)}/wait`);
      const instance = (await callA('GET', `${AT}/survivor`)).body;
      id = String(instance.id);
      const ac = ((instance.networkInterfaces as Json[])[0]?.accessConfigs as Json[])[0];
      natIP = String(ac?.natIP);
      assert.match(natIP, EXTERNAL);
      hostPort = (ac?.nimbusForwardedPorts as { hostPort: number }[])[0]?.hostPort ?? 0;
      assert.ok(hostPort > 0);
      assert.ok(dataplane.forwards.has(`${id}:22`));
    } finally {
      await a.dispose();
    }
    dataplane.forwards.clear();
    const b = await startTestApp({ dataDir });
    try {
      const service = instancesServiceOf(b.platform);
      assert.ok(service);
      await service.reconcile();
      assert.ok(dataplane.forwards.has(`${id}:22`));
      const instance = (await jsonCaller(b)('GET', `${AT}/survivor`)).body;
      const ac = ((instance.networkInterfaces as Json[])[0]?.accessConfigs as Json[])[0];
      assert.equal(ac?.natIP, natIP, 'the address survives the restart');
      assert.deepEqual(ac?.nimbusForwardedPorts, [{ port: 22, hostPort }]);
      assert.equal(await listening(natIP, hostPort), true);
    } finally {
      await b.dispose();
      useComputeEngines(undefined);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
