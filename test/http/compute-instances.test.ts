import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { computeCommand } from '../../src/cli/compute.ts';
import { useComputeEngines } from '../../src/services/compute/instances-engines.ts';
import { instancesServiceOf } from '../../src/services/compute/instances.ts';
import {
  bearer,
  jsonCaller,
  startTestApp,
  startTestServer,
  tempDir,
  withBinding,
  type Json,
  type TestApp,
} from '../helpers.ts';
import { FakeDataplane, FakeRuntime } from './compute-instances-fakes.ts';

const P = 'nimbus-local';
const ZONE = 'asia-northeast3-a';
const BASE = `/compute/v1/projects/${P}`;
const BUSYBOX = 'projects/nimbus-images/global/images/family/busybox';

type Caller = ReturnType<typeof jsonCaller>;

function instanceBody(name: string, extra: Json = {}): Json {
  return {
    name,
    machineType: `zones/${ZONE}/machineTypes/e2-micro`,
    disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: BUSYBOX } }],
    networkInterfaces: [{ network: 'global/networks/default', accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] }],
    metadata: { items: [{ key: 'startup-script', value: 'echo hello' }] },
    ...extra,
  };
}

/** Waits for a zone operation (Google's `wait`) and returns it. */
async function waitOp(call: Caller, op: Json): Promise<Json> {
  const res = await call('POST', `${BASE}/zones/${ZONE}/operations/${String(op.name)}/wait`);
  assert.equal(res.status, 200);
  return res.body;
}

async function create(call: Caller, name: string, extra: Json = {}): Promise<Json> {
  const res = await call('POST', `${BASE}/zones/${ZONE}/instances`, instanceBody(name, extra));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const done = await waitOp(call, res.body);
  assert.equal(done.status, 'DONE');
  assert.equal(done.error, undefined, JSON.stringify(done.error));
  return done;
}

interface Terminal {
  ws: WebSocket;
  /** Binary frames (terminal output) so far. */
  output: Buffer[];
  /** The first text frame (the exit message). */
  exit: Promise<Json>;
  closed: Promise<number>;
}

/** Opens a terminal WebSocket with a bearer token (listening from the start: output can come at once). */
function openTerminal(url: string, token: string): Promise<Terminal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: bearer(token) });
    const output: Buffer[] = [];
    const exit = new Promise<Json>((resolveExit) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) {
          output.push(data);
        } else {
          resolveExit(JSON.parse(data.toString()) as Json);
        }
      });
    });
    const closed = new Promise<number>((resolveClose) => {
      ws.on('close', resolveClose);
    });
    ws.once('open', () => {
      resolve({ ws, output, exit, closed });
    });
    ws.once('error', reject);
  });
}

function metadataGet(
  socketPath: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath, path, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          headers: res.headers,
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('compute instances API (fake engines)', () => {
  let t: TestApp & { url: string; port: number };
  let call: Caller;
  const runtime = new FakeRuntime();
  const dataplane = new FakeDataplane();

  before(async () => {
    useComputeEngines(() => ({ runtime, dataplane }));
    t = await startTestServer();
    call = jsonCaller(t);
  });
  after(async () => {
    await t.dispose();
    useComputeEngines(undefined);
  });

  it('lists and gets machine types with Google fields, including custom ones', async () => {
    const list = await call('GET', `${BASE}/zones/${ZONE}/machineTypes`);
    assert.equal(list.status, 200);
    const items = list.body.items as Json[];
    const names = items.map((m) => m.name);
    for (const name of [
      'e2-micro',
      'e2-small',
      'e2-medium',
      'e2-standard-2',
      'n1-standard-1',
      'n2-standard-8',
    ]) {
      assert.ok(names.includes(name), name);
    }
    const micro = await call('GET', `${BASE}/zones/${ZONE}/machineTypes/e2-micro`);
    assert.equal(micro.body.kind, 'compute#machineType');
    assert.equal(micro.body.guestCpus, 2);
    assert.equal(micro.body.memoryMb, 1024);
    assert.equal(micro.body.isSharedCpu, true);
    assert.equal(micro.body.zone, ZONE);
    assert.match(
      String(micro.body.selfLink),
      /\/compute\/v1\/projects\/nimbus-local\/zones\/asia-northeast3-a\/machineTypes\/e2-micro$/,
    );
    const custom = await call('GET', `${BASE}/zones/${ZONE}/machineTypes/custom-2-4096`);
    assert.equal(custom.body.guestCpus, 2);
    assert.equal(custom.body.memoryMb, 4096);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/machineTypes/e2-huge`)).status, 404);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/machineTypes/custom-3-4096`)).status, 404);
    const aggregated = await call('GET', `${BASE}/aggregated/machineTypes`);
    const scope = (aggregated.body.items as Record<string, { machineTypes: Json[] }>)[`zones/${ZONE}`];
    assert.ok(scope?.machineTypes.some((m) => m.name === 'e2-micro'));
  });

  it('serves the public images (debian-12 family, busybox) and their families', async () => {
    const family = await call('GET', '/compute/v1/projects/debian-cloud/global/images/family/debian-12');
    assert.equal(family.status, 200);
    assert.equal(family.body.family, 'debian-12');
    assert.equal(family.body.status, 'READY');
    const image = await call(
      'GET',
      `/compute/v1/projects/debian-cloud/global/images/${String(family.body.name)}`,
    );
    assert.equal(image.body.selfLink, family.body.selfLink);
    const list = await call('GET', '/compute/v1/projects/nimbus-images/global/images');
    assert.deepEqual(
      (list.body.items as Json[]).map((i) => i.family),
      ['busybox'],
    );
    assert.equal(
      (await call('GET', '/compute/v1/projects/debian-cloud/global/images/family/debian-99')).status,
      404,
    );
    assert.deepEqual((await call('GET', `${BASE}/global/images`)).body.items, []);
  });

  it('creates an instance: operation, status, Google-shaped JSON and the engine spec', async () => {
    let release: () => void = () => undefined;
    runtime.gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const res = await call(
      'POST',
      `${BASE}/zones/${ZONE}/instances`,
      instanceBody('web-1', { labels: { env: 'test' } }),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.kind, 'compute#operation');
    assert.equal(res.body.operationType, 'insert');
    assert.notEqual(res.body.status, 'DONE');
    assert.match(String(res.body.targetLink), /\/instances\/web-1$/);
    const booting = await call('GET', `${BASE}/zones/${ZONE}/instances/web-1`);
    assert.ok(['PROVISIONING', 'STAGING'].includes(String(booting.body.status)), String(booting.body.status));
    release();
    runtime.gate = undefined;
    const done = await waitOp(call, res.body);
    assert.equal(done.status, 'DONE');
    assert.equal(done.error, undefined);

    const got = await call('GET', `${BASE}/zones/${ZONE}/instances/web-1`);
    const instance = got.body;
    assert.equal(instance.kind, 'compute#instance');
    assert.equal(instance.status, 'RUNNING');
    assert.match(String(instance.id), /^\d{19}$/);
    assert.equal(res.body.targetId, instance.id);
    assert.match(
      String(instance.selfLink),
      /\/compute\/v1\/projects\/nimbus-local\/zones\/asia-northeast3-a\/instances\/web-1$/,
    );
    assert.match(String(instance.machineType), /\/zones\/asia-northeast3-a\/machineTypes\/e2-micro$/);
    const nic = (instance.networkInterfaces as Json[])[0] ?? {};
    assert.equal(nic.networkIP, '10.128.0.2');
    assert.match(String(nic.network), /\/projects\/nimbus-local\/global\/networks\/default$/);
    assert.match(String(nic.subnetwork), /\/regions\/asia-northeast3\/subnetworks\/default$/);
    assert.equal(((nic.accessConfigs as Json[])[0] ?? {}).type, 'ONE_TO_ONE_NAT');
    const disk = (instance.disks as Json[])[0] ?? {};
    assert.equal(disk.boot, true);
    assert.equal(disk.autoDelete, true);
    assert.match(String(disk.source), /\/zones\/asia-northeast3-a\/disks\/web-1$/);
    const metadata = instance.metadata as { fingerprint: string; items: Json[] };
    assert.ok(metadata.fingerprint.length > 0);
    assert.deepEqual(metadata.items, [{ key: 'startup-script', value: 'echo hello' }]);
    assert.deepEqual(instance.labels, { env: 'test' });
    assert.equal(typeof instance.labelFingerprint, 'string');
    assert.deepEqual(instance.serviceAccounts, undefined);

    const container = runtime.containers.get(`nimbus-${String(instance.id)}`);
    assert.ok(container);
    assert.equal(container.spec.hostname, 'web-1');
    assert.equal(container.spec.image, 'busybox');
    assert.equal(container.spec.cpus, 2);
    assert.equal(container.spec.cpuShare, 0.25);
    assert.equal(container.spec.memoryMb, 1024);
    assert.equal(container.spec.netnsPath, `/run/netns/fake-${String(instance.id)}`);
    assert.deepEqual(container.spec.hosts, ['169.254.169.254 metadata.google.internal metadata']);
    assert.ok(container.spec.diskDir.startsWith(t.dataDir));
    assert.ok(existsSync(container.spec.diskDir));

    const diskRes = await call('GET', `${BASE}/zones/${ZONE}/disks/web-1`);
    assert.equal(diskRes.body.kind, 'compute#disk');
    assert.equal(diskRes.body.status, 'READY');
    assert.equal(diskRes.body.sizeGb, '1');
    assert.match(String((diskRes.body.users as string[])[0]), /\/instances\/web-1$/);
    const list = await call('GET', `${BASE}/zones/${ZONE}/instances`);
    assert.deepEqual(
      (list.body.items as Json[]).map((i) => i.name),
      ['web-1'],
    );
    const aggregated = await call('GET', `${BASE}/aggregated/instances`);
    const scope = (aggregated.body.items as Record<string, { instances: Json[] }>)[`zones/${ZONE}`];
    assert.equal(scope?.instances[0]?.name, 'web-1');
    const ops = await call('GET', `${BASE}/zones/${ZONE}/operations`);
    assert.ok((ops.body.items as Json[]).some((o) => o.name === res.body.name && o.status === 'DONE'));
  });

  it('rejects bad input with Google errors and leaves nothing half-created', async () => {
    const post = (body: Json, zone = ZONE) => call('POST', `${BASE}/zones/${zone}/instances`, body);
    const badName = await post(instanceBody('Bad_Name'));
    assert.equal(badName.status, 400);
    assert.match(JSON.stringify(badName.body), /Invalid value for field 'resource.name': 'Bad_Name'/);
    const badZone = await post(instanceBody('ok-name'), 'mars-north1-a');
    assert.equal(badZone.status, 400);
    assert.match(JSON.stringify(badZone.body), /Unknown zone/);
    const badType = await post(
      instanceBody('ok-name', { machineType: `zones/${ZONE}/machineTypes/e2-giant` }),
    );
    assert.equal(badType.status, 400);
    assert.match(JSON.stringify(badType.body), /Machine type with name 'e2-giant' does not exist/);
    const badImage = await post(
      instanceBody('ok-name', {
        disks: [
          {
            boot: true,
            initializeParams: { sourceImage: 'projects/debian-cloud/global/images/family/windows' },
          },
        ],
      }),
    );
    assert.equal(badImage.status, 400);
    const small = await post(
      instanceBody('ok-name', {
        disks: [{ boot: true, initializeParams: { sourceImage: BUSYBOX, diskSizeGb: '0' } }],
      }),
    );
    assert.equal(small.status, 400);
    const unknownField = await post({ ...instanceBody('ok-name'), networkInterfaces: 'nope' });
    assert.equal(unknownField.status, 400);
    const duplicate = await post(instanceBody('web-1'));
    assert.equal(duplicate.status, 409);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/instances/ok-name`)).status, 404);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/disks/ok-name`)).status, 404);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/instances/nope`)).status, 404);

    // A boot that fails in the engine fails the operation and removes the instance and its disk.
    runtime.failStart = new Error('runc: boom');
    const res = await post(instanceBody('doomed'));
    assert.equal(res.status, 200);
    const done = await waitOp(call, res.body);
    runtime.failStart = undefined;
    assert.equal(done.status, 'DONE');
    assert.match(JSON.stringify(done.error), /boom/);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/instances/doomed`)).status, 404);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/disks/doomed`)).status, 404);
  });

  it('stops, changes machine type only when stopped, starts, suspends, resumes and resets', async () => {
    const url = `${BASE}/zones/${ZONE}/instances/web-1`;
    const id = String((await call('GET', url)).body.id);
    const container = () => runtime.containers.get(`nimbus-${id}`);
    const early = await call('POST', `${url}/setMachineType`, {
      machineType: `zones/${ZONE}/machineTypes/e2-small`,
    });
    assert.equal(early.status, 400);

    const stop = await call('POST', `${url}/stop`);
    assert.equal(stop.body.operationType, 'stop');
    assert.equal((await waitOp(call, stop.body)).error, undefined);
    assert.equal((await call('GET', url)).body.status, 'TERMINATED');
    assert.equal(container()?.state, 'stopped');
    assert.ok((await call('GET', url)).body.lastStopTimestamp);

    const change = await call('POST', `${url}/setMachineType`, {
      machineType: `zones/${ZONE}/machineTypes/e2-small`,
    });
    assert.equal(change.status, 200);
    assert.match(String((await call('GET', url)).body.machineType), /e2-small$/);
    const suspendStopped = await call('POST', `${url}/suspend`);
    assert.equal(suspendStopped.status, 400);

    const start = await call('POST', `${url}/start`);
    assert.equal((await waitOp(call, start.body)).error, undefined);
    assert.equal((await call('GET', url)).body.status, 'RUNNING');
    assert.equal(container()?.state, 'running');
    assert.equal(container()?.spec.memoryMb, 2048);
    assert.equal(container()?.boots, 2);

    const suspend = await call('POST', `${url}/suspend`);
    assert.equal((await waitOp(call, suspend.body)).error, undefined);
    assert.equal((await call('GET', url)).body.status, 'SUSPENDED');
    assert.equal(container()?.state, 'paused');
    assert.equal((await call('POST', `${url}/start`)).status, 400);

    const resume = await call('POST', `${url}/resume`);
    assert.equal((await waitOp(call, resume.body)).error, undefined);
    assert.equal((await call('GET', url)).body.status, 'RUNNING');
    assert.equal(container()?.state, 'running');

    const reset = await call('POST', `${url}/reset`);
    assert.equal((await waitOp(call, reset.body)).error, undefined);
    assert.equal((await call('GET', url)).body.status, 'RUNNING');
    assert.equal(container()?.boots, 3);
  });

  it('checks fingerprints on setMetadata, setLabels and setTags', async () => {
    const url = `${BASE}/zones/${ZONE}/instances/web-1`;
    const before = (await call('GET', url)).body;
    const fingerprint = (before.metadata as { fingerprint: string }).fingerprint;
    const missing = await call('POST', `${url}/setMetadata`, { items: [] });
    assert.equal(missing.status, 400);
    const stale = await call('POST', `${url}/setMetadata`, { fingerprint: 'c3RhbGU=', items: [] });
    assert.equal(stale.status, 412);
    assert.equal((stale.body.error as Json).status, 'FAILED_PRECONDITION');
    const ok = await call('POST', `${url}/setMetadata`, {
      fingerprint,
      items: [
        { key: 'startup-script', value: 'echo changed' },
        { key: 'ssh-keys', value: 'me:ssh-ed25519 AAAA me' },
      ],
    });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status, 'DONE');
    const afterSet = (await call('GET', url)).body.metadata as { fingerprint: string; items: Json[] };
    assert.notEqual(afterSet.fingerprint, fingerprint);
    assert.equal(afterSet.items.length, 2);
    assert.equal((await call('POST', `${url}/setMetadata`, { fingerprint, items: [] })).status, 412);

    const labels = await call('POST', `${url}/setLabels`, {
      labelFingerprint: before.labelFingerprint,
      labels: { env: 'prod', team: 'a' },
    });
    assert.equal(labels.status, 200);
    assert.deepEqual((await call('GET', url)).body.labels, { env: 'prod', team: 'a' });
    assert.equal(
      (await call('POST', `${url}/setLabels`, { labelFingerprint: before.labelFingerprint, labels: {} }))
        .status,
      412,
    );

    const tagsFingerprint = (before.tags as { fingerprint: string }).fingerprint;
    const tags = await call('POST', `${url}/setTags`, {
      fingerprint: tagsFingerprint,
      items: ['web', 'ssh'],
    });
    assert.equal(tags.status, 200);
    await waitOp(call, tags.body);
    assert.deepEqual(((await call('GET', url)).body.tags as { items: string[] }).items, ['ssh', 'web']);
    assert.deepEqual(dataplane.updates.at(-1)?.tags, ['ssh', 'web']);
    assert.equal(
      (await call('POST', `${url}/setTags`, { fingerprint: tagsFingerprint, items: [] })).status,
      412,
    );
  });

  it('pages serial port output with start/next byte offsets', async () => {
    const url = `${BASE}/zones/${ZONE}/instances/web-1/serialPort`;
    const all = await call('GET', url);
    assert.equal(all.status, 200);
    assert.equal(all.body.kind, 'compute#serialPortOutput');
    const contents = String(all.body.contents);
    assert.match(contents, /booting web-1/);
    assert.match(contents, /startup-script: hello from web-1/);
    assert.equal(all.body.start, '0');
    assert.equal(all.body.next, String(Buffer.byteLength(contents)));
    const tail = await call('GET', `${url}?start=10`);
    assert.equal(tail.body.start, '10');
    assert.equal(tail.body.contents, Buffer.from(contents).subarray(10).toString());
    const none = await call('GET', `${url}?start=${all.body.next}`);
    assert.equal(none.body.contents, '');
    assert.equal(none.body.next, all.body.next);
    assert.equal((await call('GET', `${url}?start=-1`)).status, 400);
    assert.equal((await call('GET', `${url}?start=abc`)).status, 400);
  });

  it('serves guest metadata on the Unix socket, with a token Nimbus accepts', async () => {
    const created = await call('POST', '/v1/projects/nimbus-local/serviceAccounts', {
      accountId: 'vm-robot',
    });
    assert.equal(created.status, 200);
    const email = String(created.body.email);
    const policy = (await call('POST', `/v1/projects/${P}:getIamPolicy`, {})).body as {
      bindings: { role: string; members: string[] }[];
      etag: string;
    };
    const set = await call('POST', `/v1/projects/${P}:setIamPolicy`, {
      policy: { ...policy, bindings: withBinding(policy, 'roles/viewer', `serviceAccount:${email}`) },
    });
    assert.equal(set.status, 200);
    await create(call, 'md-1', {
      serviceAccounts: [{ email, scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
    });
    const instance = (await call('GET', `${BASE}/zones/${ZONE}/instances/md-1`)).body;
    const ip = String(((instance.networkInterfaces as Json[])[0] ?? {}).networkIP);

    const socket = join(t.dataDir, 'run', 'metadata.sock');
    const from = { 'metadata-flavor': 'Google', 'x-nimbus-metadata-source': `${P} default ${ip}` };
    const md = (path: string, headers: Record<string, string> = from) =>
      metadataGet(socket, `/computeMetadata/v1/${path}`, headers);

    assert.equal(
      (await md('instance/name', { 'x-nimbus-metadata-source': `${P} default ${ip}` })).status,
      403,
    );
    assert.equal(
      (await md('instance/name', { ...from, 'x-nimbus-metadata-source': `${P} default 10.9.9.9` })).status,
      404,
    );
    const name = await md('instance/name');
    assert.equal(name.status, 200);
    assert.equal(name.body, 'md-1');
    assert.equal(name.headers['metadata-flavor'], 'Google');
    assert.equal((await md('instance/id')).body, String(instance.id));
    assert.equal((await md('instance/zone')).body.split('/').at(-1), ZONE);
    assert.match((await md('instance/machine-type')).body, /\/machineTypes\/e2-micro$/);
    assert.equal((await md('instance/hostname')).body, `md-1.${ZONE}.c.${P}.internal`);
    assert.equal((await md('instance/attributes/startup-script')).body, 'echo hello');
    assert.match((await md('instance/attributes/')).body, /startup-script/);
    assert.equal((await md('instance/network-interfaces/0/ip')).body, ip);
    assert.equal((await md('project/project-id')).body, P);
    assert.match((await md('project/numeric-project-id')).body, /^\d+$/);
    assert.equal((await md('instance/service-accounts/default/email')).body, email);
    assert.match((await md('instance/service-accounts/default/scopes')).body, /cloud-platform/);
    const tree = JSON.parse((await md('?recursive=true')).body) as {
      instance: { name: string; attributes: Record<string, string>; networkInterfaces: { ip: string }[] };
      project: { projectId: string };
    };
    assert.equal(tree.instance.name, 'md-1');
    assert.equal(tree.instance.attributes['startup-script'], 'echo hello');
    assert.equal(tree.instance.networkInterfaces[0]?.ip, ip);
    assert.equal(tree.project.projectId, P);
    assert.equal(JSON.parse((await md('instance/name?alt=json')).body), 'md-1');
    assert.equal((await md('instance/nothing')).status, 404);

    const token = JSON.parse((await md('instance/service-accounts/default/token')).body) as {
      access_token: string;
      token_type: string;
    };
    assert.equal(token.token_type, 'Bearer');
    const asVm = await t.app.inject({
      method: 'GET',
      url: `${BASE}/zones/${ZONE}/instances/md-1`,
      headers: bearer(token.access_token),
    });
    assert.equal(asVm.statusCode, 200);
    const denied = await t.app.inject({
      method: 'POST',
      url: `${BASE}/zones/${ZONE}/instances/md-1/stop`,
      headers: bearer(token.access_token),
    });
    assert.equal(denied.statusCode, 403);
  });

  it('runs a terminal session over a WebSocket (hostname, resize, one-shot command)', async () => {
    const url = `${BASE}/zones/${ZONE}/instances/web-1/ssh`;
    const shell = await openTerminal(`${t.url.replace('http', 'ws')}${url}`, t.ownerToken);
    shell.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    shell.ws.send(Buffer.from('hostname\n'), { binary: true });
    shell.ws.send(JSON.stringify({ type: 'input', data: 'exit 3\n' }));
    assert.deepEqual(await shell.exit, { type: 'exit', code: 3 });
    assert.match(Buffer.concat(shell.output).toString(), /web-1\r\n/);
    assert.deepEqual(runtime.resizes.at(-1), { cols: 120, rows: 40 });
    assert.equal(await shell.closed, 1000);

    const once = await openTerminal(
      `${t.url.replace('http', 'ws')}${url}?command=${encodeURIComponent('hostname; exit 4')}`,
      t.ownerToken,
    );
    assert.deepEqual(await once.exit, { type: 'exit', code: 4 });
    assert.equal(Buffer.concat(once.output).toString(), 'web-1\n');
    assert.equal(await once.closed, 1000);

    await assert.rejects(
      openTerminal(`${t.url.replace('http', 'ws')}${BASE}/zones/${ZONE}/instances/nope/ssh`, t.ownerToken),
      /Unexpected server response: 404/,
    );
    await assert.rejects(
      openTerminal(`${t.url.replace('http', 'ws')}${url}`, 'not-a-token'),
      /Unexpected server response: 401/,
    );
  });

  it('nimbus compute ssh --command prints the output and returns the exit code', async () => {
    const written: Buffer[] = [];
    const code = await computeCommand(
      ['ssh', 'web-1', '--command', 'hostname; exit 5', '--port', String(t.port), '--data-dir', t.dataDir],
      { NIMBUS_ACCESS_TOKEN: t.ownerToken },
      (data) => written.push(data),
    );
    assert.equal(code, 5);
    assert.equal(Buffer.concat(written).toString(), 'web-1\n');
    await assert.rejects(
      computeCommand(['ssh', 'nope', '--port', String(t.port), '--data-dir', t.dataDir], {
        NIMBUS_ACCESS_TOKEN: t.ownerToken,
      }),
      /no instance named 'nope'/,
    );
  });

  it('deletes: stops the container, detaches, removes the auto-delete disk', async () => {
    const url = `${BASE}/zones/${ZONE}/instances/web-1`;
    const instance = (await call('GET', url)).body;
    const id = String(instance.id);
    const diskDir = runtime.containers.get(`nimbus-${id}`)?.spec.diskDir ?? '';
    assert.ok(existsSync(diskDir));
    const del = await call('DELETE', url);
    assert.equal(del.body.operationType, 'delete');
    assert.equal((await waitOp(call, del.body)).error, undefined);
    assert.equal((await call('GET', url)).status, 404);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/disks/web-1`)).status, 404);
    assert.equal(runtime.containers.get(`nimbus-${id}`)?.state, 'stopped');
    assert.ok(dataplane.detached.includes(id));
    assert.equal(existsSync(diskDir), false);
    assert.equal((await call('DELETE', url)).status, 404);
  });

  it('keeps a disk with autoDelete=false and boots a new instance from it', async () => {
    await create(call, 'keeper', {
      disks: [
        {
          boot: true,
          autoDelete: false,
          initializeParams: { sourceImage: BUSYBOX, diskName: 'keeper-disk' },
        },
      ],
    });
    const del = await call('DELETE', `${BASE}/zones/${ZONE}/instances/keeper`);
    await waitOp(call, del.body);
    const disk = await call('GET', `${BASE}/zones/${ZONE}/disks/keeper-disk`);
    assert.equal(disk.status, 200);
    assert.equal(disk.body.users, undefined);
    await create(call, 'keeper-2', {
      disks: [{ boot: true, source: `projects/${P}/zones/${ZONE}/disks/keeper-disk` }],
    });
    const inUse = await call('DELETE', `${BASE}/zones/${ZONE}/disks/keeper-disk`);
    assert.equal(inUse.status, 400);
    const del2 = await call('DELETE', `${BASE}/zones/${ZONE}/instances/keeper-2`);
    await waitOp(call, del2.body);
    assert.equal((await call('DELETE', `${BASE}/zones/${ZONE}/disks/keeper-disk`)).status, 200);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/disks`)).body.items instanceof Array, true);
    assert.ok(!existsSync(join(t.dataDir, 'instances', 'disks', String(disk.body.id))));
  });

  it('filters instance and disk lists with Compute filter expressions, paging over the matches', async () => {
    for (const name of ['flt-web-1', 'flt-web-2', 'flt-db-1']) {
      await create(call, name, { labels: { role: name.includes('web') ? 'web' : 'db' } });
    }
    const names = (body: Json): string[] => ((body.items ?? []) as Json[]).map((i) => String(i.name)).sort();
    const aggregatedNames = (body: Json): string[] =>
      Object.values(body.items as Record<string, { instances?: Json[] }>)
        .flatMap((scope) => scope.instances ?? [])
        .map((i) => String(i.name))
        .sort();
    const list = (filter: string, extra = ''): Promise<{ status: number; body: Json }> =>
      call('GET', `${BASE}/zones/${ZONE}/instances?filter=${encodeURIComponent(filter)}${extra}`);

    assert.deepEqual(names((await list('name:"flt-web"')).body), ['flt-web-1', 'flt-web-2']);
    assert.deepEqual(names((await list('name = "flt-*" AND labels.role = db')).body), ['flt-db-1']);
    assert.deepEqual(names((await list('name eq flt-.*-1')).body), ['flt-db-1', 'flt-web-1']);
    assert.deepEqual(names((await list('name:nothing-like-this')).body), []);
    // A page of one holds one match; the token leads to the next match, not to the next instance.
    const first = await list('name:"flt-web"', '&maxResults=1');
    assert.deepEqual(names(first.body), ['flt-web-1']);
    assert.equal(typeof first.body.nextPageToken, 'string');
    const second = await list(
      'name:"flt-web"',
      `&maxResults=1&pageToken=${String(first.body.nextPageToken)}`,
    );
    assert.deepEqual(names(second.body), ['flt-web-2']);
    assert.equal(second.body.nextPageToken, undefined);

    const aggregated = await call(
      'GET',
      `${BASE}/aggregated/instances?filter=${encodeURIComponent('name:"flt-" AND status = RUNNING')}`,
    );
    assert.equal(aggregated.status, 200);
    assert.deepEqual(aggregatedNames(aggregated.body), ['flt-db-1', 'flt-web-1', 'flt-web-2']);
    const disks = await call(
      'GET',
      `${BASE}/zones/${ZONE}/disks?filter=${encodeURIComponent('name = flt-db-1')}`,
    );
    assert.deepEqual(names(disks.body), ['flt-db-1']);

    const bad = await list('name = "open');
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /Invalid list filter expression/);
  });
});

describe('compute instances across a restart', () => {
  it('brings instances back in their last state', async () => {
    const dataDir = tempDir();
    const first = new FakeRuntime();
    useComputeEngines(() => ({ runtime: first }));
    const a = await startTestApp({ dataDir });
    const callA = jsonCaller(a);
    await create(callA, 'alive');
    await create(callA, 'sleeper');
    const stop = await callA('POST', `${BASE}/zones/${ZONE}/instances/sleeper/stop`);
    await waitOp(callA, stop.body);
    await a.dispose();

    // The machine rebooted: the new runtime knows no containers.
    const second = new FakeRuntime();
    useComputeEngines(() => ({ runtime: second }));
    const b = await startTestApp({ dataDir });
    try {
      const service = instancesServiceOf(b.platform);
      assert.ok(service);
      await service.reconcile();
      const callB = jsonCaller(b);
      const alive = (await callB('GET', `${BASE}/zones/${ZONE}/instances/alive`)).body;
      assert.equal(alive.status, 'RUNNING');
      assert.equal(second.containers.get(`nimbus-${String(alive.id)}`)?.state, 'running');
      const sleeper = (await callB('GET', `${BASE}/zones/${ZONE}/instances/sleeper`)).body;
      assert.equal(sleeper.status, 'TERMINATED');
      assert.equal(second.containers.has(`nimbus-${String(sleeper.id)}`), false);
      // Without a dataplane, the instance boots with a loopback-only namespace.
      assert.equal(second.containers.get(`nimbus-${String(alive.id)}`)?.spec.netnsPath, undefined);
    } finally {
      await b.dispose();
      useComputeEngines(undefined);
      const { rmSync } = await import('node:fs');
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('compute when the engine is unavailable', () => {
  let t: TestApp;
  before(async () => {
    useComputeEngines(() => ({
      runtime: new FakeRuntime({ ok: false, reason: 'runc is not installed', fix: 'apt-get install runc' }),
    }));
    t = await startTestApp({ anonymous: 'viewer' });
  });
  after(async () => {
    await t.dispose();
    useComputeEngines(undefined);
  });

  it('answers 503 with the reason, reports it in /_nimbus/services, and other services keep working', async () => {
    const call = jsonCaller(t);
    const res = await call('POST', `${BASE}/zones/${ZONE}/instances`, instanceBody('vm-1'));
    assert.equal(res.status, 503);
    assert.match(JSON.stringify(res.body), /runc is not installed.*apt-get install runc/);
    const services = await call('GET', '/_nimbus/services');
    const compute = (services.body.services as Json[]).find((s) => s.name === 'compute');
    assert.equal(compute?.state, 'unavailable');
    assert.equal(compute?.reason, 'runc is not installed');
    assert.equal(compute?.fix, 'apt-get install runc');
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/instances`)).status, 200);
    assert.equal((await call('GET', `${BASE}/zones/${ZONE}/machineTypes/e2-micro`)).status, 200);
    assert.equal(
      (await call('POST', '/storage/v1/b?project=nimbus-local', { name: 'still-works-bucket' })).status,
      200,
    );
  });

  it('checks IAM: a viewer may list but not create', async () => {
    const anonymous = await t.app.inject({ method: 'GET', url: `${BASE}/zones/${ZONE}/instances` });
    assert.equal(anonymous.statusCode, 200);
    const insert = await t.app.inject({
      method: 'POST',
      url: `${BASE}/zones/${ZONE}/instances`,
      payload: instanceBody('vm-2'),
    });
    assert.equal(insert.statusCode, 403);
    assert.ok(readdirSync(t.dataDir).length > 0);
  });
});
