/**
 * The real Google Cloud CLI against Nimbus's VPC API: `gcloud compute networks create|list|delete`,
 * `networks subnets create|list|expand-ip-range`, `firewall-rules create|list|update|delete`. gcloud
 * polls the operations it gets back, so these flows also check Compute operations as gcloud reads them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findGcloud, gcloudSession } from '../gcloud-cli.ts';

const GCLOUD = findGcloud();

interface Network {
  name: string;
  autoCreateSubnetworks?: boolean;
  subnetworks?: string[];
  x_gcloud_subnet_mode?: string;
}
interface Subnetwork {
  name: string;
  ipCidrRange: string;
  region: string;
  network: string;
  gatewayAddress: string;
}
interface Firewall {
  name: string;
  network: string;
  direction: string;
  priority: number;
  sourceRanges?: string[];
  targetTags?: string[];
  allowed?: { IPProtocol: string; ports?: string[] }[];
  denied?: { IPProtocol: string; ports?: string[] }[];
}

describe(
  'gcloud compute networks against Nimbus',
  { skip: GCLOUD === undefined ? 'gcloud not installed' : false },
  () => {
    const session = gcloudSession({ prefix: 'nimbus-gcloud-vpc-', quiet: true });
    const { gcloud, ok, json } = session;

    before(() => session.open());
    after(() => session.close());

    it('lists the default network and its firewall rules', async () => {
      const networks = await json<Network[]>(['compute', 'networks', 'list']);
      const network = networks.find((n) => n.name === 'default');
      assert.ok(network);
      assert.equal(
        network.x_gcloud_subnet_mode ?? (network.autoCreateSubnetworks === true ? 'AUTO' : ''),
        'AUTO',
      );
      const rules = await json<Firewall[]>(['compute', 'firewall-rules', 'list']);
      assert.ok(rules.some((r) => r.name === 'default-allow-ssh'));
    });

    it('creates a custom network with two subnets and expands one', async () => {
      await ok(['compute', 'networks', 'create', 'shop', '--subnet-mode=custom']);
      await ok([
        'compute',
        'networks',
        'subnets',
        'create',
        'public',
        '--network=shop',
        '--region=asia-northeast3',
        '--range=10.0.1.0/24',
      ]);
      await ok([
        'compute',
        'networks',
        'subnets',
        'create',
        'private',
        '--network=shop',
        '--region=asia-northeast3',
        '--range=10.0.2.0/24',
        '--enable-private-ip-google-access',
      ]);
      const clash = await gcloud([
        'compute',
        'networks',
        'subnets',
        'create',
        'clash',
        '--network=shop',
        '--region=us-central1',
        '--range=10.0.1.0/25',
      ]);
      assert.notEqual(clash.code, 0);
      assert.match(clash.stderr, /conflicts with existing subnetwork 'public'/);

      const subnets = await json<Subnetwork[]>(['compute', 'networks', 'subnets', 'list', '--network=shop']);
      assert.deepEqual(subnets.map((s) => `${s.name} ${s.ipCidrRange}`).sort(), [
        'private 10.0.2.0/24',
        'public 10.0.1.0/24',
      ]);
      await ok([
        'compute',
        'networks',
        'subnets',
        'expand-ip-range',
        'public',
        '--region=asia-northeast3',
        '--prefix-length=23',
      ]);
      const expanded = await json<Subnetwork>([
        'compute',
        'networks',
        'subnets',
        'describe',
        'public',
        '--region=asia-northeast3',
      ]);
      assert.equal(expanded.ipCidrRange, '10.0.0.0/23');
      const network = await json<Network>(['compute', 'networks', 'describe', 'shop']);
      assert.equal(network.subnetworks?.length, 2);
    });

    it('creates, lists, updates and deletes firewall rules', async () => {
      await ok([
        'compute',
        'firewall-rules',
        'create',
        'shop-allow-web',
        '--network=shop',
        '--allow=tcp:80,tcp:443,icmp',
        '--source-ranges=10.0.0.0/8',
        '--target-tags=web',
      ]);
      await ok([
        'compute',
        'firewall-rules',
        'create',
        'shop-deny-db',
        '--network=shop',
        '--action=DENY',
        '--rules=tcp:5432',
        '--priority=100',
        '--direction=INGRESS',
        '--source-ranges=10.0.1.0/24',
      ]);
      const rules = await json<Firewall[]>(['compute', 'firewall-rules', 'list', '--filter=network~shop']);
      const web = rules.find((r) => r.name === 'shop-allow-web');
      assert.ok(web);
      assert.deepEqual(web.targetTags, ['web']);
      assert.deepEqual(
        web.allowed?.map((a) => `${a.IPProtocol}:${(a.ports ?? []).join(',')}`),
        ['tcp:80', 'tcp:443', 'icmp:'],
      );
      const deny = rules.find((r) => r.name === 'shop-deny-db');
      assert.equal(deny?.priority, 100);
      assert.deepEqual(deny?.denied, [{ IPProtocol: 'tcp', ports: ['5432'] }]);

      await ok([
        'compute',
        'firewall-rules',
        'update',
        'shop-allow-web',
        '--priority=500',
        '--source-ranges=10.0.1.0/24',
      ]);
      const updated = await json<Firewall>(['compute', 'firewall-rules', 'describe', 'shop-allow-web']);
      assert.equal(updated.priority, 500);
      assert.deepEqual(updated.sourceRanges, ['10.0.1.0/24']);
      assert.deepEqual(updated.targetTags, ['web']);

      const bad = await gcloud([
        'compute',
        'firewall-rules',
        'create',
        'Bad_Name',
        '--network=shop',
        '--allow=tcp:22',
      ]);
      assert.notEqual(bad.code, 0);
    });

    it('refuses to delete a network in use, then deletes everything', async () => {
      const inUse = await gcloud(['compute', 'networks', 'delete', 'shop']);
      assert.notEqual(inUse.code, 0);
      assert.match(inUse.stderr, /already being used by/);

      // One resource per command: gcloud sends several through /batch/compute/v1 (not served yet).
      await ok(['compute', 'firewall-rules', 'delete', 'shop-allow-web']);
      await ok(['compute', 'firewall-rules', 'delete', 'shop-deny-db']);
      await ok(['compute', 'networks', 'subnets', 'delete', 'public', '--region=asia-northeast3']);
      await ok(['compute', 'networks', 'subnets', 'delete', 'private', '--region=asia-northeast3']);
      await ok(['compute', 'networks', 'delete', 'shop']);
      const networks = await json<Network[]>(['compute', 'networks', 'list']);
      assert.deepEqual(
        networks.map((n) => n.name),
        ['default'],
      );
    });
  },
);
