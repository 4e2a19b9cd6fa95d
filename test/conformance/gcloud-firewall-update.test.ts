/**
 * `gcloud compute firewall-rules update` against Nimbus (firewalls.patch, as the console's edit
 * uses it): `--allow` replaces the protocols and ports and keeps every other field; `--target-tags=`
 * clears the tags; a bad source range and a missing rule fail with Google's errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findGcloud, gcloudSession } from '../gcloud-cli.ts';

const GCLOUD = findGcloud();

interface Firewall {
  name: string;
  priority: number;
  sourceRanges?: string[];
  targetTags?: string[];
  allowed?: { IPProtocol: string; ports?: string[] }[];
  denied?: { IPProtocol: string; ports?: string[] }[];
}

describe(
  'gcloud compute firewall-rules update against Nimbus',
  { skip: GCLOUD === undefined ? 'gcloud not installed' : false },
  () => {
    const session = gcloudSession({ prefix: 'nimbus-gcloud-fw-', quiet: true });
    const { gcloud, ok } = session;
    const describeRule = async (name: string): Promise<Firewall> =>
      JSON.parse(
        (await ok(['compute', 'firewall-rules', 'describe', name, '--format=json'])).stdout,
      ) as Firewall;
    /** Creates through the API (quicker than gcloud; gcloud's create is covered elsewhere). */
    const api = async (method: string, path: string, body: unknown): Promise<number> => {
      const { t } = session;
      const response = await fetch(`${t.url}/compute/v1/projects/nimbus-local/${path}`, {
        method,
        headers: { authorization: `Bearer ${t.ownerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      await response.arrayBuffer();
      return response.status;
    };

    before(async () => {
      await session.open();
      assert.equal(await api('POST', 'global/networks', { name: 'shop', autoCreateSubnetworks: false }), 200);
      assert.equal(
        await api('POST', 'global/firewalls', {
          name: 'shop-web',
          network: 'global/networks/shop',
          priority: 900,
          sourceRanges: ['10.0.0.0/8'],
          targetTags: ['web'],
          allowed: [{ IPProtocol: 'tcp', ports: ['80'] }],
        }),
        200,
      );
    });

    after(() => session.close());

    it('replaces the allowed protocols with --allow and keeps the other fields', async () => {
      await ok(['compute', 'firewall-rules', 'update', 'shop-web', '--allow', 'tcp:8080']);
      const rule = await describeRule('shop-web');
      assert.deepEqual(rule.allowed, [{ IPProtocol: 'tcp', ports: ['8080'] }]);
      assert.equal(rule.priority, 900);
      assert.deepEqual(rule.sourceRanges, ['10.0.0.0/8']);
      assert.deepEqual(rule.targetTags, ['web']);

      await ok(['compute', 'firewall-rules', 'update', 'shop-web', '--allow=tcp:8080,tcp:8443,icmp']);
      const two = await describeRule('shop-web');
      assert.deepEqual(two.allowed, [
        { IPProtocol: 'tcp', ports: ['8080'] },
        { IPProtocol: 'tcp', ports: ['8443'] },
        { IPProtocol: 'icmp' },
      ]);
    });

    it('clears target tags and refuses bad updates', async () => {
      await ok(['compute', 'firewall-rules', 'update', 'shop-web', '--target-tags=']);
      assert.equal((await describeRule('shop-web')).targetTags, undefined);

      const badRange = await gcloud([
        'compute',
        'firewall-rules',
        'update',
        'shop-web',
        '--source-ranges=10.0.0.0/33',
      ]);
      assert.notEqual(badRange.code, 0);
      assert.match(badRange.stderr, /sourceRanges/);
      const missing = await gcloud(['compute', 'firewall-rules', 'update', 'nope', '--allow=tcp:22']);
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /was not found/);
      assert.deepEqual((await describeRule('shop-web')).sourceRanges, ['10.0.0.0/8']);
    });
  },
);
