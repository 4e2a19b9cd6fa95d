/**
 * External access configs on real instances (root + runc + the VPC dataplane): an instance with a
 * ONE_TO_ONE_NAT access config is reachable on its own loopback address (natIP, 127.77.x.y) at the
 * ports the API reports (22 and `nimbus-forward-ports`, on their own numbers), one without is not,
 * stop closes the forward and start reopens it on the same address and port. A debian-12
 * instance's real sshd answers the real `ssh` client at natIP with a key from `ssh-keys` metadata
 * (the command printed by `nimbus compute ssh --print-ssh`), a key added to project metadata after
 * boot works within seconds (the guest agent watches metadata), and the metadata server inside
 * hands out a token of the default compute service account that Nimbus's APIs accept. Skips with
 * the reason where root, runc, ip, nft or ssh are missing.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { computeCommand } from '../../src/cli/compute.ts';
import { RuncRuntime } from '../../src/platform/containers/runtime.ts';
import { useComputeEngines } from '../../src/services/compute/instances-engines.ts';
import { NetfabricDataplane } from '../../src/services/compute/vpc/dataplane.ts';
import { createVpcDataplane, vpcNetworkExists } from '../../src/services/compute/vpc/index.ts';
import { jsonCaller, startTestServer, tempDir, type Json, type TestApp } from '../helpers.ts';

const P = 'nimbus-local';
const ZONE = 'asia-northeast3-a';
const BASE = `/compute/v1/projects/${P}`;
const AT = `${BASE}/zones/${ZONE}/instances`;

const dataplaneCheck = await NetfabricDataplane.check();
const runtimeCheck = dataplaneCheck.ok ? await new RuncRuntime().available() : { ok: false, reason: '' };
const SKIP = !dataplaneCheck.ok
  ? `VPC dataplane unavailable: ${dataplaneCheck.reason ?? ''}`
  : !runtimeCheck.ok
    ? `container runtime unavailable: ${runtimeCheck.reason ?? ''}`
    : false;
const SSH_SKIP =
  SKIP !== false
    ? SKIP
    : !existsSync('/usr/bin/ssh') || !existsSync('/usr/bin/ssh-keygen')
      ? 'the ssh client is missing (apt-get install openssh-client)'
      : false;

/** An HTTP GET over a fresh connection; undefined when the connection is refused or reset. */
async function httpGet(host: string, port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${host}:${String(port)}/`, { signal: AbortSignal.timeout(5000) });
    return await res.text();
  } catch {
    return undefined;
  }
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

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

describe('external access configs of real instances', { skip: SKIP, timeout: 600_000 }, () => {
  let t: TestApp & { url: string; port: number };
  let call: ReturnType<typeof jsonCaller>;
  const created = new Set<string>();

  const waitOp = async (op: Json): Promise<Json> => {
    const res = await call('POST', `${BASE}/zones/${ZONE}/operations/${String(op.name)}/wait`);
    assert.equal(res.status, 200);
    assert.equal(res.body.error, undefined, JSON.stringify(res.body.error));
    return res.body;
  };
  const accessConfigOf = async (name: string): Promise<Json | undefined> => {
    const instance = (await call('GET', `${AT}/${name}`)).body;
    return ((instance.networkInterfaces as Json[])[0]?.accessConfigs as Json[] | undefined)?.[0];
  };
  const forwardsOf = async (name: string): Promise<Map<number, number>> => {
    const ac = await accessConfigOf(name);
    const ports = (ac?.nimbusForwardedPorts ?? []) as { port: number; hostPort: number }[];
    return new Map(ports.map((f) => [f.port, f.hostPort]));
  };
  const create = async (name: string, image: string, extra: Json): Promise<void> => {
    const res = await call('POST', AT, {
      name,
      machineType: `zones/${ZONE}/machineTypes/e2-small`,
      disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: image } }],
      ...extra,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    created.add(name);
    await waitOp(res.body);
  };
  /** Retries `probe` until it returns a value (a guest boots in the background). */
  const eventually = async <T>(probe: () => Promise<T | undefined>, tries = 60): Promise<T | undefined> => {
    for (let i = 0; i < tries; i++) {
      const value = await probe();
      if (value !== undefined) {
        return value;
      }
      await sleep(500);
    }
    return undefined;
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
  });

  after(async () => {
    for (const name of created) {
      const res = await call('DELETE', `${AT}/${name}`);
      if (res.status === 200) {
        await waitOp(res.body).catch(() => undefined);
      }
    }
    await t.dispose();
    useComputeEngines(undefined);
  });

  it('forwards 22 and nimbus-forward-ports on the natIP only with an access config', async () => {
    const web = 'mkdir -p /www; echo "hello from $(hostname)" > /www/index.html; httpd -p 8080 -h /www';
    const busybox = 'projects/nimbus-images/global/images/family/busybox';
    const metadata = {
      items: [
        { key: 'startup-script', value: web },
        { key: 'nimbus-forward-ports', value: '8080' },
      ],
    };
    await create('pub-web', busybox, {
      networkInterfaces: [{ accessConfigs: [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] }],
      metadata,
    });
    await create('priv-web', busybox, { networkInterfaces: [{}], metadata });

    const forwards = await forwardsOf('pub-web');
    assert.deepEqual([...forwards.keys()], [22, 8080]);
    const natIP = String((await accessConfigOf('pub-web'))?.natIP);
    assert.match(natIP, /^127\.77\.\d{1,3}\.\d{1,3}$/);
    const hostPort = forwards.get(8080) ?? 0;
    assert.equal(hostPort, 8080, 'the instance port number, on its own address');
    const page = await eventually(() => httpGet(natIP, hostPort));
    assert.equal(page, 'hello from pub-web\n');
    assert.equal((await forwardsOf('priv-web')).size, 0, 'no access config: no host port');
    assert.equal((await accessConfigOf('priv-web'))?.natIP, undefined);

    await waitOp((await call('POST', `${AT}/pub-web/stop`)).body);
    assert.equal(await listening(natIP, hostPort), false, 'a stopped instance closes its forward');
    assert.equal((await forwardsOf('pub-web')).size, 0);
    await waitOp((await call('POST', `${AT}/pub-web/start`)).body);
    assert.equal((await forwardsOf('pub-web')).get(8080), hostPort, 'start reuses the host port');
    assert.equal((await accessConfigOf('pub-web'))?.natIP, natIP, 'and the address');
    assert.equal(await eventually(() => httpGet(natIP, hostPort)), 'hello from pub-web\n');

    await waitOp((await call('DELETE', `${AT}/pub-web`)).body);
    created.delete('pub-web');
    assert.equal(await listening(natIP, hostPort), false, 'delete closes the forward');
  });

  it(
    'real ssh through the forwarded port, and a metadata token that Nimbus accepts',
    { skip: SSH_SKIP },
    async () => {
      const dir = tempDir('nimbus-ssh-');
      const key = join(dir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice', '-f', key]);
      const publicKey = readFileSync(`${key}.pub`, 'utf8').trim();
      await create('ssh-vm', 'projects/debian-cloud/global/images/family/debian-12', {
        networkInterfaces: [{ accessConfigs: [{ name: 'External NAT', type: 'ONE_TO_ONE_NAT' }] }],
        metadata: { items: [{ key: 'ssh-keys', value: `alice:${publicKey}` }] },
        serviceAccounts: [{ email: 'default', scopes: ['https://www.googleapis.com/auth/cloud-platform'] }],
      });

      const printed: Buffer[] = [];
      const code = await computeCommand(
        [
          'ssh',
          'ssh-vm',
          '--print-ssh',
          '--user',
          'alice',
          '--port',
          String(t.port),
          '--data-dir',
          t.dataDir,
        ],
        { NIMBUS_ACCESS_TOKEN: t.ownerToken },
        (data) => printed.push(data),
      );
      assert.equal(code, 0);
      const line = Buffer.concat(printed).toString().trim();
      const match = /^ssh (?:-p (\d+) )?alice@(127\.77\.\d{1,3}\.\d{1,3})$/.exec(line);
      assert.ok(match?.[2], line);
      const natIP = match[2];
      const port = match[1] ?? '22';
      assert.equal(natIP, (await accessConfigOf('ssh-vm'))?.natIP);
      assert.equal(Number(port), (await forwardsOf('ssh-vm')).get(22));

      const ssh = (command: string, user = 'alice', identity = key): Promise<string | undefined> =>
        new Promise((resolve) => {
          execFile(
            'ssh',
            [
              '-p',
              port,
              '-i',
              identity,
              '-o',
              'StrictHostKeyChecking=no',
              '-o',
              'UserKnownHostsFile=/dev/null',
              '-o',
              'BatchMode=yes',
              '-o',
              'ConnectTimeout=5',
              '-o',
              'LogLevel=ERROR',
              `${user}@${natIP}`,
              command,
            ],
            { encoding: 'utf8', timeout: 20_000 },
            (error, stdout) => {
              resolve(error === null ? stdout : undefined);
            },
          );
        });
      // sshd and the guest agent (user alice, authorized_keys) start while systemd boots.
      assert.equal((await eventually(() => ssh('hostname'), 120))?.trim(), 'ssh-vm');

      // A key added to project metadata after boot: the guest agent's metadata watch installs it.
      const bobKey = join(dir, 'bob_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bob', '-f', bobKey]);
      const bobPublic = readFileSync(`${bobKey}.pub`, 'utf8').trim();
      const project = await call('GET', BASE);
      const fingerprint = String((project.body.commonInstanceMetadata as Json).fingerprint);
      const set = await call('POST', `${BASE}/setCommonInstanceMetadata`, {
        fingerprint,
        items: [{ key: 'ssh-keys', value: `bob:${bobPublic}` }],
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal((await eventually(() => ssh('id -un', 'bob', bobKey), 20))?.trim(), 'bob');

      const tokenJson = await ssh(
        "curl -s -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token",
      );
      assert.ok(tokenJson, 'the metadata server answers inside');
      const token = (JSON.parse(tokenJson) as { access_token: string }).access_token;
      const accounts = await fetch(`${t.url}/v1/projects/${P}/serviceAccounts`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(accounts.status, 200, await accounts.clone().text());
      const body = (await accounts.json()) as { accounts: { email: string }[] };
      assert.ok(body.accounts.some((a) => /^\d+-compute@developer\.gserviceaccount\.com$/.test(a.email)));
    },
  );
});
