/**
 * `gcloud compute ssh` against Nimbus with the real engines: an instance with an access config gets
 * its own loopback address (127.77.x.y) as natIP with port 22 forwarded on port 22, so gcloud's own
 * flow works unchanged: it makes ~/.ssh/google_compute_engine (temp HOME), adds the key to the
 * project's `ssh-keys` metadata, and runs the real `ssh` to USER@natIP; the guest agent picks up the
 * key added after boot. A second run reuses the key (no new metadata entry). Skipped with the reason
 * where gcloud, ssh, root/runc or the VPC dataplane are missing, or where 127.77.x.y:22 cannot be
 * bound (a host sshd listening on 0.0.0.0:22).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RuncRuntime } from '../../src/platform/containers/runtime.ts';
import { NetfabricDataplane } from '../../src/services/compute/vpc/dataplane.ts';
import { findGcloud, gcloudSession, type GcloudResult } from '../gcloud-cli.ts';

const GCLOUD = findGcloud();
const ZONE = 'asia-northeast3-a';
const NAME = 'seed-vm';
const USER = 'seeduser';
const CREATE_TIMEOUT_MS = 300_000;
const CALL_TIMEOUT_MS = 90_000;

/** Whether this process can listen on 127.77.255.254:22 (root, and no host service on 0.0.0.0:22). */
function canBindPort22(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => {
      resolve(false);
    });
    server.listen(22, '127.77.255.254', () => {
      server.close(() => {
        resolve(true);
      });
    });
  });
}

const runtime = await new RuncRuntime().available();
const dataplane = runtime.ok ? await NetfabricDataplane.check() : { ok: false, reason: '' };
const skip =
  GCLOUD === undefined
    ? 'gcloud not installed'
    : !existsSync('/usr/bin/ssh')
      ? 'the ssh client is missing (apt-get install openssh-client)'
      : !runtime.ok
        ? `compute runtime unavailable: ${runtime.reason ?? ''}`
        : !dataplane.ok
          ? `VPC dataplane unavailable: ${dataplane.reason ?? ''}`
          : !(await canBindPort22())
            ? 'cannot listen on 127.77.x.y:22 (not root, or a host sshd listens on 0.0.0.0:22)'
            : false;
if (skip !== false) {
  process.stdout.write(`# skipping gcloud compute ssh: ${skip}\n`);
}

interface AccessConfig {
  natIP?: string;
  nimbusForwardedPorts?: { port: number; hostPort: number }[];
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

describe('gcloud compute ssh against Nimbus', { skip, timeout: CREATE_TIMEOUT_MS + 300_000 }, () => {
  let home: string;
  const session = gcloudSession({
    prefix: 'nimbus-gcloud-ssh-',
    timeoutMs: CALL_TIMEOUT_MS,
    // gcloud makes its key in ~/.ssh and logs in as USER: a temp HOME and a fixed user.
    setup: (_t, dir) => {
      home = join(dir, 'home');
      mkdirSync(home, { recursive: true });
    },
    env: () => ({ HOME: home, USER, LOGNAME: USER }),
  });
  const { gcloud, ok: gcloudOk } = session;
  const accessConfig = async (): Promise<AccessConfig | undefined> => {
    const out = await gcloudOk(['compute', 'instances', 'describe', NAME, '--zone', ZONE, '--format=json']);
    const instance = JSON.parse(out.stdout) as { networkInterfaces: { accessConfigs?: AccessConfig[] }[] };
    return instance.networkInterfaces[0]?.accessConfigs?.[0];
  };
  const projectSshKeys = async (): Promise<string[]> => {
    const out = await gcloudOk(['compute', 'project-info', 'describe', '--format=json']);
    const project = JSON.parse(out.stdout) as {
      commonInstanceMetadata?: { items?: { key: string; value: string }[] };
    };
    const value = project.commonInstanceMetadata?.items?.find((i) => i.key === 'ssh-keys')?.value ?? '';
    return value.split('\n').filter((line) => line.trim() !== '');
  };
  const sshArgs = ['compute', 'ssh', NAME, '--zone', ZONE, '--command', 'hostname; id -un', '--quiet'];

  before(() => session.open());
  after(async () => {
    await gcloud(['compute', 'instances', 'delete', NAME, '--zone', ZONE, '--quiet']);
    await session.close();
  });

  it(
    'creates a debian-12 instance whose natIP is its own loopback address',
    { timeout: CREATE_TIMEOUT_MS },
    async () => {
      await gcloudOk(
        [
          'compute',
          'instances',
          'create',
          NAME,
          '--zone',
          ZONE,
          '--machine-type',
          'e2-small',
          '--image-family',
          'debian-12',
          '--image-project',
          'debian-cloud',
        ],
        CREATE_TIMEOUT_MS,
      );
      const ac = await accessConfig();
      assert.match(ac?.natIP ?? '', /^127\.77\.\d{1,3}\.\d{1,3}$/);
      assert.deepEqual(ac?.nimbusForwardedPorts, [{ port: 22, hostPort: 22 }]);
    },
  );

  it('runs a command with gcloud compute ssh, then reuses its key', { timeout: 300_000 }, async () => {
    // sshd starts while systemd boots: retry while the connection is refused (ssh exits 255).
    let result: GcloudResult | undefined;
    for (let attempt = 0; attempt < 40; attempt++) {
      result = await gcloud(sshArgs);
      if (result.code === 0) {
        break;
      }
      await sleep(2000);
    }
    assert.equal(result?.code, 0, `gcloud compute ssh failed:\n${result?.stderr ?? ''}`);
    // The first run also prints ssh-keygen's report of the new key.
    assert.deepEqual(result.stdout.trim().split('\n').slice(-2), [NAME, USER]);

    const keyFile = join(home, '.ssh', 'google_compute_engine');
    const publicKey = readFileSync(`${keyFile}.pub`, 'utf8').trim();
    const keys = await projectSshKeys();
    assert.equal(keys.length, 1, keys.join('\n'));
    assert.ok(keys[0]?.startsWith(`${USER}:`), keys[0]);
    assert.ok(keys[0]?.includes(publicKey.split(' ')[1] ?? 'missing'), 'the key gcloud made is in ssh-keys');

    const again = await gcloudOk([...sshArgs, '--verbosity=debug']);
    assert.deepEqual(again.stdout.trim().split('\n'), [NAME, USER]);
    const natIP = (await accessConfig())?.natIP ?? 'missing';
    assert.ok(again.stderr.includes(`${USER}@${natIP}`), `ssh dials USER@natIP:\n${again.stderr}`);
    assert.equal(readFileSync(`${keyFile}.pub`, 'utf8').trim(), publicKey, 'the key is reused');
    assert.deepEqual(await projectSshKeys(), keys, 'no second ssh-keys entry');
  });
});
