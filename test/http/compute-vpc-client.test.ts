/**
 * The official Node client (@google-cloud/compute 6.15.0, REST fallback over http) against the VPC
 * API: the wire shapes and operation handling it relies on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  FirewallsClient,
  NetworksClient,
  SubnetworksClient,
  GlobalOperationsClient,
} from '@google-cloud/compute';
import { startTestServer, type TestApp } from '../helpers.ts';

const PROJECT = 'nimbus-local';

describe('@google-cloud/compute against the VPC API', () => {
  let t: TestApp & { url: string; port: number };
  let options: NonNullable<ConstructorParameters<typeof NetworksClient>[0]>;

  before(async () => {
    t = await startTestServer();
    // The smallest auth client gax's REST transport uses: it only calls fetch (and reads headers).
    const token = t.ownerToken;
    const authClient = {
      universeDomain: 'googleapis.com',
      getRequestHeaders: () => Promise.resolve(new Headers({ authorization: `Bearer ${token}` })),
      fetch: (url: string, init: RequestInit & { headers: Headers }) => {
        const headers = new Headers(init.headers);
        headers.set('authorization', `Bearer ${token}`);
        return fetch(url, {
          method: init.method ?? 'GET',
          headers,
          body: init.body ?? null,
          signal: init.signal ?? null,
        });
      },
    };
    options = {
      fallback: true,
      protocol: 'http',
      apiEndpoint: '127.0.0.1',
      port: t.port,
      authClient: authClient as unknown as NonNullable<typeof options.authClient>,
    };
  });
  after(async () => {
    await t.dispose();
  });

  it('creates a network, a subnet and a firewall rule, and reads them back', async () => {
    const networks = new NetworksClient(options);
    const subnetworks = new SubnetworksClient(options);
    const firewalls = new FirewallsClient(options);
    const operations = new GlobalOperationsClient(options);

    const [insert] = await networks.insert({
      project: PROJECT,
      networkResource: { name: 'client-net', autoCreateSubnetworks: false },
    });
    // Compute operations are not google.longrunning ones; the typings say the latter.
    const latest = insert.latestResponse as unknown as { status: string; name: string };
    assert.equal(latest.status, 'DONE');
    const [op] = await operations.get({ project: PROJECT, operation: latest.name });
    assert.equal(op.status, 'DONE');

    await subnetworks.insert({
      project: PROJECT,
      region: 'asia-northeast3',
      subnetworkResource: {
        name: 'client-sub',
        network: `projects/${PROJECT}/global/networks/client-net`,
        ipCidrRange: '172.20.0.0/24',
      },
    });
    await subnetworks.expandIpCidrRange({
      project: PROJECT,
      region: 'asia-northeast3',
      subnetwork: 'client-sub',
      subnetworksExpandIpCidrRangeRequestResource: { ipCidrRange: '172.20.0.0/22' },
    });
    const [subnet] = await subnetworks.get({
      project: PROJECT,
      region: 'asia-northeast3',
      subnetwork: 'client-sub',
    });
    assert.equal(subnet.ipCidrRange, '172.20.0.0/22');
    assert.equal(subnet.gatewayAddress, '172.20.0.1');

    await firewalls.insert({
      project: PROJECT,
      firewallResource: {
        name: 'client-allow-ssh',
        network: `projects/${PROJECT}/global/networks/client-net`,
        allowed: [{ IPProtocol: 'tcp', ports: ['22'] }],
        priority: 900,
      },
    });
    const [rule] = await firewalls.get({ project: PROJECT, firewall: 'client-allow-ssh' });
    assert.equal(rule.priority, 900);
    assert.deepEqual(rule.sourceRanges, ['0.0.0.0/0']);
    // update (PUT) with the resource as read back, output-only fields included.
    await firewalls.update({
      project: PROJECT,
      firewall: 'client-allow-ssh',
      firewallResource: { ...rule, priority: 800 },
    });
    const [updated] = await firewalls.get({ project: PROJECT, firewall: 'client-allow-ssh' });
    assert.equal(updated.priority, 800);

    const listed: string[] = [];
    for await (const network of networks.listAsync({ project: PROJECT })) {
      listed.push(String(network.name));
    }
    assert.deepEqual(listed.sort(), ['client-net', 'default']);

    // Deletes go over plain HTTP: the client labels its bodiless DELETEs application/json, which the
    // server's JSON body parser refuses today (an app-wide fix, outside the VPC module).
    const remove = async (path: string): Promise<{ status: number; text: string }> => {
      const res = await fetch(`${t.url}/compute/v1/projects/${PROJECT}/${path}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${t.ownerToken}` },
      });
      return { status: res.status, text: await res.text() };
    };
    const inUse = await remove('global/networks/client-net');
    assert.equal(inUse.status, 400);
    assert.match(inUse.text, /resourceInUseByAnotherResource/);
    assert.equal((await remove('global/firewalls/client-allow-ssh')).status, 200);
    assert.equal((await remove('regions/asia-northeast3/subnetworks/client-sub')).status, 200);
    assert.equal((await remove('global/networks/client-net')).status, 200);
    await Promise.all([networks.close(), subnetworks.close(), firewalls.close(), operations.close()]);
  });
});
