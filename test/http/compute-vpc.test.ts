/**
 * Compute Engine VPC API through app.inject: networks (auto/custom, the default network), subnetworks
 * (CIDR rules, overlap, expandIpCidrRange), firewalls, routes, internal addresses, operations and errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { vpcFor } from '../../src/services/compute/vpc/index.ts';
import { jsonCaller, startTestApp, type Json, type TestApp } from '../helpers.ts';

const P = 'nimbus-local';
const BASE = `/compute/v1/projects/${P}`;

describe('Compute VPC API', () => {
  let t: TestApp;
  let call: ReturnType<typeof jsonCaller>;
  before(async () => {
    t = await startTestApp();
    call = jsonCaller(t);
  });
  after(async () => {
    await t.dispose();
  });

  const items = (body: Json): Json[] => (body.items as Json[] | undefined) ?? [];
  const reason = (body: Json): string =>
    (body.error as { errors?: { reason: string }[] } | undefined)?.errors?.[0]?.reason ?? '';

  it('creates the default auto mode network with its firewall rules and routes', async () => {
    const networks = await call('GET', `${BASE}/global/networks`);
    assert.equal(networks.status, 200);
    assert.equal(networks.body.kind, 'compute#networkList');
    const network = items(networks.body).find((n) => n.name === 'default');
    assert.ok(network);
    assert.equal(network.autoCreateSubnetworks, true);
    assert.match(
      String(network.selfLink),
      /\/compute\/v1\/projects\/nimbus-local\/global\/networks\/default$/,
    );
    assert.ok((network.subnetworks as string[]).length >= 22);

    const central = await call('GET', `${BASE}/regions/us-central1/subnetworks/default`);
    assert.equal(central.body.ipCidrRange, '10.128.0.0/20');
    assert.equal(central.body.gatewayAddress, '10.128.0.1');
    const seoul = await call('GET', `${BASE}/regions/asia-northeast3/subnetworks/default`);
    assert.equal(seoul.body.ipCidrRange, '10.178.0.0/20');

    const rules = items((await call('GET', `${BASE}/global/firewalls`)).body).map((f) => f.name);
    for (const name of [
      'default-allow-internal',
      'default-allow-ssh',
      'default-allow-icmp',
      'default-allow-rdp',
    ]) {
      assert.ok(rules.includes(name), name);
    }
    const internal = await call('GET', `${BASE}/global/firewalls/default-allow-internal`);
    assert.deepEqual(internal.body.sourceRanges, ['10.128.0.0/9']);
    assert.equal(internal.body.priority, 65534);
    assert.equal(internal.body.direction, 'INGRESS');

    const routes = items((await call('GET', `${BASE}/global/routes`)).body).filter((r) =>
      String(r.network).endsWith('/networks/default'),
    );
    assert.ok(
      routes.some(
        (r) => r.destRange === '0.0.0.0/0' && String(r.nextHopGateway).endsWith('default-internet-gateway'),
      ),
    );
    assert.ok(routes.some((r) => r.destRange === '10.128.0.0/20' && r.priority === 0));
  });

  it('creates a custom network, answers with a DONE global operation, and lists it', async () => {
    const op = await call('POST', `${BASE}/global/networks`, {
      name: 'shop',
      autoCreateSubnetworks: false,
      routingConfig: { routingMode: 'REGIONAL' },
    });
    assert.equal(op.status, 200);
    assert.equal(op.body.kind, 'compute#operation');
    assert.equal(op.body.status, 'DONE');
    assert.equal(op.body.operationType, 'insert');
    assert.match(String(op.body.targetLink), /\/global\/networks\/shop$/);
    assert.match(
      String(op.body.selfLink),
      /\/compute\/v1\/projects\/nimbus-local\/global\/operations\/operation-/,
    );
    const polled = await call('GET', `${BASE}/global/operations/${String(op.body.name)}`);
    assert.equal(polled.body.status, 'DONE');

    const network = await call('GET', `${BASE}/global/networks/shop`);
    assert.equal(network.body.autoCreateSubnetworks, false);
    assert.deepEqual(network.body.subnetworks, []);
    assert.equal(
      (await call('POST', `${BASE}/global/networks`, { name: 'shop', autoCreateSubnetworks: false })).status,
      409,
    );
  });

  it('rejects bad names and unknown fields', async () => {
    const bad = await call('POST', `${BASE}/global/networks`, {
      name: 'Bad_Name',
      autoCreateSubnetworks: false,
    });
    assert.equal(bad.status, 400);
    assert.equal(reason(bad.body), 'invalid');
    assert.match(String((bad.body.error as Json).message), /Must be a match of regex/);
    const unknown = await call('POST', `${BASE}/global/networks`, { name: 'x1', bogus: true });
    assert.equal(unknown.status, 400);
    const badSubnet = await call('POST', `${BASE}/regions/us-central1/subnetworks`, {
      name: '-nope',
      network: 'global/networks/shop',
      ipCidrRange: '10.0.0.0/24',
    });
    assert.equal(badSubnet.status, 400);
    assert.equal((await call('GET', `${BASE}/global/networks/missing`)).status, 404);
    assert.equal((await call('GET', `${BASE}/regions/mars-east1/subnetworks`)).status, 404);
  });

  it('creates subnets in a custom network, validating ranges and overlap', async () => {
    const create = (name: string, ipCidrRange: string, region = 'us-central1') =>
      call('POST', `${BASE}/regions/${region}/subnetworks`, {
        name,
        network: `https://www.googleapis.com/compute/v1/projects/${P}/global/networks/shop`,
        ipCidrRange,
      });
    const ok = await create('public', '10.10.0.0/24');
    assert.equal(ok.status, 200);
    assert.match(String(ok.body.region), /\/regions\/us-central1$/);
    assert.match(String(ok.body.selfLink), /\/regions\/us-central1\/operations\//);
    const subnet = await call('GET', `${BASE}/regions/us-central1/subnetworks/public`);
    assert.equal(subnet.body.gatewayAddress, '10.10.0.1');
    assert.equal(subnet.body.privateIpGoogleAccess, false);
    assert.equal((await create('private', '10.20.0.0/24', 'asia-northeast3')).status, 200);

    const overlap = await create('clash', '10.10.0.128/25', 'europe-west1');
    assert.equal(overlap.status, 400);
    assert.match(String((overlap.body.error as Json).message), /conflicts with existing subnetwork 'public'/);
    assert.equal((await create('public2', '8.8.8.0/24')).status, 400, 'public range refused');
    assert.equal((await create('tiny', '10.30.0.0/30')).status, 400, 'prefix /30 refused');
    assert.equal((await create('hostbits', '10.30.0.1/24')).status, 400, 'host bits refused');
    assert.equal((await create('garbage', 'ten')).status, 400);
    assert.equal((await create('public', '10.40.0.0/24')).status, 409);

    const network = await call('GET', `${BASE}/global/networks/shop`);
    assert.equal((network.body.subnetworks as string[]).length, 2);

    const aggregated = await call('GET', `${BASE}/aggregated/subnetworks`);
    const scoped = aggregated.body.items as Record<string, { subnetworks?: Json[]; warning?: Json }>;
    assert.ok(scoped['regions/us-central1']?.subnetworks?.some((s) => s.name === 'public'));
    const listed = await call('GET', `${BASE}/regions/asia-northeast3/subnetworks`);
    assert.ok(items(listed.body).some((s) => s.name === 'private'));
  });

  it('expands a subnet range and toggles private Google access', async () => {
    const smaller = await call('POST', `${BASE}/regions/us-central1/subnetworks/public/expandIpCidrRange`, {
      ipCidrRange: '10.10.0.0/25',
    });
    assert.equal(smaller.status, 400);
    const op = await call('POST', `${BASE}/regions/us-central1/subnetworks/public/expandIpCidrRange`, {
      ipCidrRange: '10.10.0.0/23',
    });
    assert.equal(op.status, 200);
    assert.equal(op.body.operationType, 'expandIpCidrRange');
    const subnet = await call('GET', `${BASE}/regions/us-central1/subnetworks/public`);
    assert.equal(subnet.body.ipCidrRange, '10.10.0.0/23');
    const route = items((await call('GET', `${BASE}/global/routes`)).body).find(
      (r) => String(r.network).endsWith('/shop') && r.destRange === '10.10.0.0/23',
    );
    assert.ok(route, 'the subnet route follows the expansion');

    const access = await call(
      'POST',
      `${BASE}/regions/us-central1/subnetworks/public/setPrivateIpGoogleAccess`,
      {
        privateIpGoogleAccess: true,
      },
    );
    assert.equal(access.status, 200);
    const patched = await call('GET', `${BASE}/regions/us-central1/subnetworks/public`);
    assert.equal(patched.body.privateIpGoogleAccess, true);
    const stale = await call('PATCH', `${BASE}/regions/us-central1/subnetworks/public`, {
      description: 'x',
      fingerprint: 'stale',
    });
    assert.equal(stale.status, 412);
    const fresh = await call('PATCH', `${BASE}/regions/us-central1/subnetworks/public`, {
      description: 'web tier',
      fingerprint: patched.body.fingerprint,
    });
    assert.equal(fresh.status, 200);
  });

  it('creates, patches, replaces and deletes firewall rules', async () => {
    const op = await call('POST', `${BASE}/global/firewalls`, {
      name: 'allow-web',
      network: 'global/networks/shop',
      allowed: [{ IPProtocol: 'tcp', ports: ['80', '443', '8000-8080'] }],
      targetTags: ['web'],
    });
    assert.equal(op.status, 200);
    const rule = await call('GET', `${BASE}/global/firewalls/allow-web`);
    assert.equal(rule.body.priority, 1000);
    assert.equal(rule.body.direction, 'INGRESS');
    assert.deepEqual(rule.body.sourceRanges, ['0.0.0.0/0']);
    assert.equal(rule.body.disabled, false);

    const egress = await call('POST', `${BASE}/global/firewalls`, {
      name: 'deny-out',
      network: 'global/networks/shop',
      direction: 'EGRESS',
      priority: 100,
      denied: [{ IPProtocol: 'udp' }],
    });
    assert.equal(egress.status, 200);
    assert.deepEqual((await call('GET', `${BASE}/global/firewalls/deny-out`)).body.destinationRanges, [
      '0.0.0.0/0',
    ]);

    const patch = await call('PATCH', `${BASE}/global/firewalls/allow-web`, {
      priority: 900,
      sourceRanges: ['10.0.0.0/8'],
    });
    assert.equal(patch.status, 200);
    const patched = await call('GET', `${BASE}/global/firewalls/allow-web`);
    assert.equal(patched.body.priority, 900);
    assert.deepEqual(patched.body.targetTags, ['web']);
    assert.deepEqual(patched.body.sourceRanges, ['10.0.0.0/8']);

    const replaced = await call('PUT', `${BASE}/global/firewalls/allow-web`, {
      name: 'allow-web',
      network: 'global/networks/shop',
      allowed: [{ IPProtocol: 'icmp' }],
    });
    assert.equal(replaced.status, 200);
    const after = await call('GET', `${BASE}/global/firewalls/allow-web`);
    assert.equal(after.body.targetTags, undefined);
    assert.equal(after.body.priority, 1000);

    const bad = async (body: Json) =>
      (await call('POST', `${BASE}/global/firewalls`, { network: 'global/networks/shop', ...body })).status;
    assert.equal(
      await bad({ name: 'both', allowed: [{ IPProtocol: 'tcp' }], denied: [{ IPProtocol: 'udp' }] }),
      400,
    );
    assert.equal(await bad({ name: 'none' }), 400);
    assert.equal(await bad({ name: 'prio', priority: 70000, allowed: [{ IPProtocol: 'tcp' }] }), 400);
    assert.equal(await bad({ name: 'proto', allowed: [{ IPProtocol: 'bogus' }] }), 400);
    assert.equal(await bad({ name: 'ports', allowed: [{ IPProtocol: 'icmp', ports: ['22'] }] }), 400);
    assert.equal(await bad({ name: 'port', allowed: [{ IPProtocol: 'tcp', ports: ['70000'] }] }), 400);
    assert.equal(await bad({ name: 'dir', direction: 'SIDEWAYS', allowed: [{ IPProtocol: 'tcp' }] }), 400);
    assert.equal(
      await bad({ name: 'range', sourceRanges: ['300.0.0.0/8'], allowed: [{ IPProtocol: 'tcp' }] }),
      400,
    );
    assert.equal(
      await bad({
        name: 'egress-tags',
        direction: 'EGRESS',
        sourceTags: ['a'],
        allowed: [{ IPProtocol: 'tcp' }],
      }),
      400,
    );
    assert.equal(
      await bad({ name: 'nonet', network: 'global/networks/nope', allowed: [{ IPProtocol: 'tcp' }] }),
      400,
    );
    assert.equal((await call('DELETE', `${BASE}/global/firewalls/deny-out`)).status, 200);
    assert.equal((await call('GET', `${BASE}/global/firewalls/deny-out`)).status, 404);
  });

  it('reserves internal addresses from a subnet', async () => {
    const op = await call('POST', `${BASE}/regions/us-central1/addresses`, {
      name: 'db-ip',
      addressType: 'INTERNAL',
      subnetwork: `regions/us-central1/subnetworks/public`,
    });
    assert.equal(op.status, 200);
    const address = await call('GET', `${BASE}/regions/us-central1/addresses/db-ip`);
    assert.equal(address.body.address, '10.10.0.2');
    assert.equal(address.body.status, 'RESERVED');
    const chosen = await call('POST', `${BASE}/regions/us-central1/addresses`, {
      name: 'chosen',
      addressType: 'INTERNAL',
      subnetwork: `regions/us-central1/subnetworks/public`,
      address: '10.10.0.50',
    });
    assert.equal(chosen.status, 200);
    const taken = await call('POST', `${BASE}/regions/us-central1/addresses`, {
      name: 'again',
      addressType: 'INTERNAL',
      subnetwork: `regions/us-central1/subnetworks/public`,
      address: '10.10.0.50',
    });
    assert.equal(taken.status, 400);
    const outside = await call('POST', `${BASE}/regions/us-central1/addresses`, {
      name: 'outside',
      addressType: 'INTERNAL',
      subnetwork: `regions/us-central1/subnetworks/public`,
      address: '10.99.0.5',
    });
    assert.equal(outside.status, 400);
    const gateway = await call('POST', `${BASE}/regions/us-central1/addresses`, {
      name: 'gw',
      addressType: 'INTERNAL',
      subnetwork: `regions/us-central1/subnetworks/public`,
      address: '10.10.0.1',
    });
    assert.equal(gateway.status, 400);
    const external = await call('POST', `${BASE}/regions/us-central1/addresses`, { name: 'ext' });
    assert.equal(external.status, 400);
    const aggregated = await call('GET', `${BASE}/aggregated/addresses`);
    const scoped = aggregated.body.items as Record<string, { addresses?: Json[] }>;
    assert.equal(scoped['regions/us-central1']?.addresses?.length, 2);
    assert.equal((await call('DELETE', `${BASE}/regions/us-central1/addresses/chosen`)).status, 200);
  });

  it('adds static routes with next hop IP and refuses routes inside a subnet', async () => {
    const ok = await call('POST', `${BASE}/global/routes`, {
      name: 'to-onprem',
      network: 'global/networks/shop',
      destRange: '192.168.50.0/24',
      nextHopIp: '10.10.0.9',
      priority: 500,
    });
    assert.equal(ok.status, 200);
    const route = await call('GET', `${BASE}/global/routes/to-onprem`);
    assert.equal(route.body.nextHopIp, '10.10.0.9');
    assert.equal(route.body.priority, 500);
    const inside = await call('POST', `${BASE}/global/routes`, {
      name: 'inside',
      network: 'global/networks/shop',
      destRange: '10.10.0.0/28',
      nextHopIp: '10.10.0.9',
    });
    assert.equal(inside.status, 400);
    const nowhere = await call('POST', `${BASE}/global/routes`, {
      name: 'nowhere',
      network: 'global/networks/shop',
      destRange: '192.168.60.0/24',
      nextHopIp: '172.16.0.9',
    });
    assert.equal(nowhere.status, 400);
    const instance = await call('POST', `${BASE}/global/routes`, {
      name: 'via-missing',
      network: 'global/networks/shop',
      destRange: '192.168.70.0/24',
      nextHopInstance: `zones/us-central1-a/instances/ghost`,
    });
    assert.equal(instance.status, 400);
    const subnetRoute = items((await call('GET', `${BASE}/global/routes`)).body).find(
      (r) => String(r.network).endsWith('/shop') && r.destRange === '10.10.0.0/23',
    );
    assert.equal((await call('DELETE', `${BASE}/global/routes/${String(subnetRoute?.name)}`)).status, 400);
  });

  it('refuses to delete a network in use and deletes it once emptied', async () => {
    const inUse = await call('DELETE', `${BASE}/global/networks/shop`);
    assert.equal(inUse.status, 400);
    assert.equal(reason(inUse.body), 'resourceInUseByAnotherResource');
    assert.match(String((inUse.body.error as Json).message), /is already being used by/);

    const subnetInUse = await call('DELETE', `${BASE}/regions/us-central1/subnetworks/public`);
    assert.equal(subnetInUse.status, 400, 'the reserved address holds the subnet');
    assert.equal(reason(subnetInUse.body), 'resourceInUseByAnotherResource');

    for (const url of [
      `${BASE}/global/firewalls/allow-web`,
      `${BASE}/global/routes/to-onprem`,
      `${BASE}/regions/us-central1/addresses/db-ip`,
      `${BASE}/regions/us-central1/subnetworks/public`,
      `${BASE}/regions/asia-northeast3/subnetworks/private`,
    ]) {
      const res = await call('DELETE', url);
      assert.equal(res.status, 200, url);
      assert.equal(res.body.operationType, 'delete');
    }
    const deleted = await call('DELETE', `${BASE}/global/networks/shop`);
    assert.equal(deleted.status, 200);
    assert.equal((await call('GET', `${BASE}/global/networks/shop`)).status, 404);
    const leftovers = items((await call('GET', `${BASE}/global/routes`)).body).filter((r) =>
      String(r.network).endsWith('/shop'),
    );
    assert.deepEqual(leftovers, []);
  });

  it('deletes an auto mode network with its subnets once its firewall rules are gone', async () => {
    assert.equal(
      (await call('POST', `${BASE}/global/networks`, { name: 'auto', autoCreateSubnetworks: true })).status,
      200,
    );
    const subnets = items((await call('GET', `${BASE}/regions/us-central1/subnetworks`)).body).filter((s) =>
      String(s.network).endsWith('/auto'),
    );
    assert.equal(subnets[0]?.ipCidrRange, '10.128.0.0/20');
    const clash = await call('POST', `${BASE}/regions/us-central1/subnetworks`, {
      name: 'extra',
      network: 'global/networks/auto',
      ipCidrRange: '10.200.0.0/24',
    });
    assert.equal(clash.status, 400, 'auto mode networks keep 10.128.0.0/9 for themselves');
    assert.equal((await call('DELETE', `${BASE}/global/networks/auto`)).status, 200);
    const left = Object.values(
      (await call('GET', `${BASE}/aggregated/subnetworks`)).body.items as Record<
        string,
        { subnetworks?: Json[] }
      >,
    ).flatMap((scope) => scope.subnetworks ?? []);
    assert.ok(left.every((s) => !String(s.network).endsWith('/auto')));
  });

  it('keeps a deleted default network deleted', async () => {
    for (const rule of [
      'default-allow-internal',
      'default-allow-ssh',
      'default-allow-icmp',
      'default-allow-rdp',
    ]) {
      assert.equal((await call('DELETE', `${BASE}/global/firewalls/${rule}`)).status, 200);
    }
    assert.equal((await call('DELETE', `${BASE}/global/networks/default`)).status, 200);
    const networks = await call('GET', `${BASE}/global/networks`);
    assert.ok(!items(networks.body).some((n) => n.name === 'default'));
  });

  it('checks compute permissions', async () => {
    const anonymous = await t.app.inject({
      method: 'POST',
      url: `${BASE}/global/networks`,
      headers: { authorization: 'Bearer not-a-token' },
      payload: { name: 'x' },
    });
    assert.equal(anonymous.statusCode, 401);
    const stranger = t.platform.tokens.issueAccessToken({
      kind: 'user',
      email: 'stranger@example.com',
      member: 'user:stranger@example.com',
      scopes: [],
    }).accessToken;
    const asStranger = jsonCaller(t, stranger);
    const denied = await asStranger('POST', `${BASE}/global/firewalls`, {
      name: 'sneaky',
      network: 'global/networks/default',
      allowed: [{ IPProtocol: 'all' }],
    });
    assert.equal(denied.status, 403);
    assert.equal((await asStranger('GET', `${BASE}/global/networks`)).status, 403);
    assert.equal((await call('GET', `${BASE}/global/firewalls/sneaky`)).status, 404);
  });
});

describe('Compute VPC API: the edits the console makes', () => {
  let t: TestApp;
  let call: ReturnType<typeof jsonCaller>;
  /** Networks the service reported as changed (what the dataplane resynchronises). */
  const changes: string[] = [];
  before(async () => {
    t = await startTestApp();
    call = jsonCaller(t);
    vpcFor(t.platform).service.onChange((project, network) => {
      changes.push(`${project}/${network}`);
    });
    const made = [
      await call('POST', `${BASE}/global/networks`, { name: 'edits', autoCreateSubnetworks: false }),
      await call('POST', `${BASE}/regions/asia-northeast3/subnetworks`, {
        name: 'edits-seoul',
        network: `projects/${P}/global/networks/edits`,
        ipCidrRange: '10.20.0.0/24',
      }),
      await call('POST', `${BASE}/global/firewalls`, {
        name: 'edits-web',
        network: 'global/networks/edits',
        sourceRanges: ['10.0.0.0/8'],
        targetTags: ['web'],
        priority: 900,
        allowed: [{ IPProtocol: 'tcp', ports: ['8080'] }],
      }),
    ];
    assert.deepEqual(
      made.map((r) => r.status),
      [200, 200, 200],
    );
  });
  after(async () => {
    await t.dispose();
  });

  const items = (body: Json): Json[] => (body.items as Json[] | undefined) ?? [];
  const message = (body: Json): string => (body.error as { message?: string } | undefined)?.message ?? '';
  const RULE = `${BASE}/global/firewalls/edits-web`;

  it('patches a firewall rule: given fields change, the rest stays, the dataplane is told', async () => {
    changes.length = 0;
    const op = await call('PATCH', RULE, { allowed: [{ IPProtocol: 'tcp', ports: ['8080', '8443'] }] });
    assert.equal(op.status, 200);
    assert.equal(op.body.kind, 'compute#operation');
    assert.equal(op.body.operationType, 'patch');
    assert.equal(op.body.status, 'DONE');
    assert.match(String(op.body.targetLink), /\/global\/firewalls\/edits-web$/);
    assert.deepEqual(changes, [`${P}/edits`]);
    const rule = (await call('GET', RULE)).body;
    assert.deepEqual(rule.allowed, [{ IPProtocol: 'tcp', ports: ['8080', '8443'] }]);
    assert.deepEqual(rule.sourceRanges, ['10.0.0.0/8']);
    assert.deepEqual(rule.targetTags, ['web']);
    assert.equal(rule.priority, 900);

    // Denying instead of allowing: the patch's `denied` replaces `allowed`.
    assert.equal((await call('PATCH', RULE, { denied: [{ IPProtocol: 'udp', ports: ['53'] }] })).status, 200);
    const denied = (await call('GET', RULE)).body;
    assert.equal(denied.allowed, undefined);
    assert.deepEqual(denied.denied, [{ IPProtocol: 'udp', ports: ['53'] }]);
    // An empty list clears a field.
    assert.equal((await call('PATCH', RULE, { targetTags: [] })).status, 200);
    assert.equal((await call('GET', RULE)).body.targetTags, undefined);
  });

  it('updates (PUT) a firewall rule as a whole', async () => {
    changes.length = 0;
    const op = await call('PUT', RULE, {
      name: 'edits-web',
      network: `projects/${P}/global/networks/edits`,
      allowed: [{ IPProtocol: 'tcp', ports: ['443'] }],
    });
    assert.equal(op.status, 200);
    assert.equal(op.body.operationType, 'update');
    assert.deepEqual(changes, [`${P}/edits`]);
    const rule = (await call('GET', RULE)).body;
    assert.deepEqual(rule.allowed, [{ IPProtocol: 'tcp', ports: ['443'] }]);
    assert.equal(rule.priority, 1000, 'fields the body leaves out return to their defaults');
    assert.deepEqual(rule.sourceRanges, ['0.0.0.0/0']);
    assert.equal(rule.denied, undefined);
  });

  it('refuses bad firewall edits with 4xx and leaves the rule as it was', async () => {
    const before = (await call('GET', RULE)).body;
    const cases: [string, Json, number, RegExp][] = [
      ['PATCH', { name: 'renamed' }, 400, /name of a firewall rule cannot be changed/],
      ['PUT', { name: 'renamed', allowed: [{ IPProtocol: 'tcp' }] }, 400, /cannot be changed/],
      ['PATCH', { network: 'global/networks/default' }, 400, /network of a firewall rule cannot be changed/],
      ['PATCH', { network: 'global/networks/nowhere' }, 400, /cannot be found/],
      ['PATCH', { priority: 70000 }, 400, /between 0 and 65535/],
      ['PATCH', { allowed: [{ IPProtocol: 'tcp', ports: ['http'] }] }, 400, /Must be a port/],
      ['PATCH', { allowed: [{ IPProtocol: 'tcp' }], denied: [{ IPProtocol: 'udp' }] }, 400, /exactly one/],
      ['PATCH', { sourceRanges: ['10.0.0.0/33'] }, 400, /IPv4 address or CIDR/],
      ['PATCH', { targetTags: ['Not A Tag'] }, 400, /regex/],
      ['PATCH', { colour: 'blue' }, 400, /colour/],
      ['PUT', { name: 'edits-web' }, 400, /exactly one/],
    ];
    for (const [method, body, status, pattern] of cases) {
      const res = await call(method as 'PATCH' | 'PUT', RULE, body);
      assert.equal(res.status, status, `${method} ${JSON.stringify(body)}`);
      assert.match(message(res.body), pattern, `${method} ${JSON.stringify(body)}`);
    }
    assert.deepEqual((await call('GET', RULE)).body, before);
    const missing = await call('PATCH', `${BASE}/global/firewalls/nope`, { priority: 10 });
    assert.equal(missing.status, 404);
    assert.equal((await call('PUT', `${BASE}/global/firewalls/nope`, { name: 'nope' })).status, 404);
  });

  it('patches a network description and MTU; refuses renames, mode changes and bad MTUs', async () => {
    const op = await call('PATCH', `${BASE}/global/networks/edits`, { description: 'shop tier', mtu: 1500 });
    assert.equal(op.status, 200);
    assert.equal(op.body.operationType, 'patch');
    const network = (await call('GET', `${BASE}/global/networks/edits`)).body;
    assert.equal(network.description, 'shop tier');
    assert.equal(network.mtu, 1500);
    assert.equal(network.autoCreateSubnetworks, false);
    for (const body of [{ name: 'other' }, { autoCreateSubnetworks: true }, { mtu: 9000 }, { mtu: 1200 }]) {
      const res = await call('PATCH', `${BASE}/global/networks/edits`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal((await call('PATCH', `${BASE}/global/networks/nope`, { description: 'x' })).status, 404);
    assert.equal((await call('GET', `${BASE}/global/networks/edits`)).body.mtu, 1500);
  });

  it('sets Private Google Access and expands ranges, refusing bad input', async () => {
    const subnet = `${BASE}/regions/asia-northeast3/subnetworks/edits-seoul`;
    const on = await call('POST', `${subnet}/setPrivateIpGoogleAccess`, { privateIpGoogleAccess: true });
    assert.equal(on.status, 200);
    assert.equal(on.body.operationType, 'setPrivateIpGoogleAccess');
    assert.equal((await call('GET', subnet)).body.privateIpGoogleAccess, true);
    const off = await call('PATCH', subnet, { privateIpGoogleAccess: false });
    assert.equal(off.status, 200);
    assert.equal((await call('GET', subnet)).body.privateIpGoogleAccess, false);

    const bad: [string, string, Json, number][] = [
      ['POST', `${subnet}/setPrivateIpGoogleAccess`, { privateIpGoogleAccess: 'yes' }, 400],
      ['POST', `${subnet}/setPrivateIpGoogleAccess`, { enabled: true }, 400],
      ['POST', `${BASE}/regions/asia-northeast3/subnetworks/nope/setPrivateIpGoogleAccess`, {}, 404],
      ['POST', `${BASE}/regions/mars-north1/subnetworks/edits-seoul/setPrivateIpGoogleAccess`, {}, 404],
      ['POST', `${subnet}/expandIpCidrRange`, { ipCidrRange: 'ten' }, 400],
      ['POST', `${subnet}/expandIpCidrRange`, { ipCidrRange: '10.20.0.0/25' }, 400],
      ['POST', `${subnet}/expandIpCidrRange`, { ipCidrRange: '10.30.0.0/16' }, 400],
      ['POST', `${subnet}/expandIpCidrRange`, {}, 400],
    ];
    for (const [method, url, body, status] of bad) {
      assert.equal(
        (await call(method as 'POST', url, body)).status,
        status,
        `${url} ${JSON.stringify(body)}`,
      );
    }
    const grown = await call('POST', `${subnet}/expandIpCidrRange`, { ipCidrRange: '10.20.0.0/22' });
    assert.equal(grown.status, 200);
    assert.equal((await call('GET', subnet)).body.ipCidrRange, '10.20.0.0/22');
  });

  it('creates and deletes a static route to the internet gateway; subnet routes stay', async () => {
    const route = {
      name: 'edits-egress',
      network: `projects/${P}/global/networks/edits`,
      destRange: '192.168.50.0/24',
      priority: 800,
      nextHopGateway: `projects/${P}/global/gateways/default-internet-gateway`,
    };
    const op = await call('POST', `${BASE}/global/routes`, route);
    assert.equal(op.status, 200);
    const created = (await call('GET', `${BASE}/global/routes/edits-egress`)).body;
    assert.equal(created.destRange, '192.168.50.0/24');
    assert.equal(created.priority, 800);
    assert.match(String(created.nextHopGateway), /\/global\/gateways\/default-internet-gateway$/);
    assert.equal((await call('POST', `${BASE}/global/routes`, route)).status, 409);
    for (const body of [
      { ...route, name: 'two-hops', nextHopIp: '10.20.0.5' },
      { ...route, name: 'bad-dest', destRange: '192.168.50.0' },
      { ...route, name: 'bad-gateway', nextHopGateway: 'global/gateways/elsewhere' },
      { ...route, name: 'no-network', network: 'global/networks/nowhere' },
    ]) {
      const res = await call('POST', `${BASE}/global/routes`, body);
      assert.equal(res.status, 400, body.name);
    }
    assert.equal((await call('DELETE', `${BASE}/global/routes/edits-egress`)).status, 200);
    assert.equal((await call('GET', `${BASE}/global/routes/edits-egress`)).status, 404);
    assert.equal((await call('DELETE', `${BASE}/global/routes/edits-egress`)).status, 404);

    const subnetRoute = items((await call('GET', `${BASE}/global/routes`)).body).find(
      (r) => String(r.network).endsWith('/networks/edits') && r.routeType === 'SUBNET',
    );
    assert.ok(subnetRoute);
    const refused = await call('DELETE', `${BASE}/global/routes/${String(subnetRoute.name)}`);
    assert.equal(refused.status, 400);
  });

  it('pages through aggregated subnetworks with maxResults and pageToken', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const query = new URLSearchParams({ maxResults: '5' });
      if (token !== undefined) {
        query.set('pageToken', token);
      }
      const res = await call('GET', `${BASE}/aggregated/subnetworks?${query.toString()}`);
      assert.equal(res.status, 200);
      const scopes = res.body.items as Record<string, { subnetworks?: Json[]; warning?: Json }>;
      const onPage = Object.values(scopes).flatMap((scope) => scope.subnetworks ?? []);
      assert.ok(onPage.length <= 5);
      assert.ok(Object.values(scopes).every((scope) => scope.subnetworks !== undefined || scope.warning));
      seen.push(...onPage.map((s) => `${String(s.region).split('/').pop() ?? ''}/${String(s.name)}`));
      token = res.body.nextPageToken as string | undefined;
      pages += 1;
    } while (token !== undefined && pages < 20);
    const all = Object.values(
      (await call('GET', `${BASE}/aggregated/subnetworks`)).body.items as Record<
        string,
        { subnetworks?: Json[] }
      >,
    ).flatMap((scope) => scope.subnetworks ?? []);
    assert.equal(seen.length, all.length);
    assert.equal(new Set(seen).size, seen.length);
    assert.ok(seen.includes('asia-northeast3/edits-seoul'));
    assert.ok(pages > 1);
    assert.equal((await call('GET', `${BASE}/aggregated/subnetworks?pageToken=garbage`)).status, 400);
  });
});
