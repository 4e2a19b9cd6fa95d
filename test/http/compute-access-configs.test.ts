/**
 * External access configs (fake engines): an instance with a ONE_TO_ONE_NAT access config gets host
 * forwards of port 22 and the `nimbus-forward-ports` ports, reported as `natIP: 127.0.0.1` and
 * `nimbusForwardedPorts`; stop closes them, start reopens them on the same host ports;
 * add/deleteAccessConfig and setMetadata follow; an instance without one has no forward.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
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

function metadataGet(socketPath: string, path: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

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
    assert.equal(ac?.natIP, '127.0.0.1');
    assert.equal(ac.name, 'External NAT');
    assert.equal(ac.kind, 'compute#accessConfig');
    const forwarded = ac.nimbusForwardedPorts as { port: number; hostPort: number }[];
    assert.deepEqual(
      forwarded.map((f) => f.port),
      [22, 80, 8080],
    );
    for (const f of forwarded) {
      assert.equal(dataplane.forwards.get(`${id}:${String(f.port)}`), f.hostPort);
    }

    await mutate('POST', `${AT}/pub/stop`);
    const stopped = accessConfigOf(await get('pub'));
    assert.equal(stopped?.natIP, undefined);
    assert.equal(stopped?.nimbusForwardedPorts, undefined);
    assert.equal(stopped?.type, 'ONE_TO_ONE_NAT');
    assert.equal([...dataplane.forwards.keys()].filter((k) => k.startsWith(`${id}:`)).length, 0);

    await mutate('POST', `${AT}/pub/start`);
    assert.deepEqual(accessConfigOf(await get('pub'))?.nimbusForwardedPorts, forwarded);

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
    assert.equal(ac?.natIP, '127.0.0.1');
    assert.deepEqual(
      (ac.nimbusForwardedPorts as Json[]).map((f) => f.port),
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
  it('reopens the forwards of running instances on their host ports', async () => {
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
    try {
      const callA = jsonCaller(a);
      const res = await callA('POST', AT, create);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      await callA('POST', `${BASE}/zones/${ZONE}/operations/${String(res.body.name)}/wait`);
      const instance = (await callA('GET', `${AT}/survivor`)).body;
      id = String(instance.id);
      hostPort = dataplane.forwards.get(`${id}:22`) ?? 0;
      assert.ok(hostPort > 0);
    } finally {
      await a.dispose();
    }
    dataplane.forwards.clear();
    const b = await startTestApp({ dataDir });
    try {
      const service = instancesServiceOf(b.platform);
      assert.ok(service);
      await service.reconcile();
      assert.equal(dataplane.forwards.get(`${id}:22`), hostPort);
      const instance = (await jsonCaller(b)('GET', `${AT}/survivor`)).body;
      const ac = ((instance.networkInterfaces as Json[])[0]?.accessConfigs as Json[])[0];
      assert.deepEqual(ac?.nimbusForwardedPorts, [{ port: 22, hostPort }]);
    } finally {
      await b.dispose();
      useComputeEngines(undefined);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
