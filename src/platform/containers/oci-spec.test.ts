import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerSpec } from '../../services/compute/contracts.ts';
import { buildOciConfig, CONTAINER_CAPABILITIES, hostsFileText } from './oci-spec.ts';

const spec: ContainerSpec = {
  id: 'nimbus-123',
  hostname: 'vm-one',
  image: 'debian-12',
  diskDir: '/data/disks/123',
  cpus: 0.5,
  memoryMb: 1024,
  pids: 4096,
  serialLogPath: '/data/serial/123.log',
  hosts: ['169.254.169.254 metadata.google.internal metadata'],
};

function config(overrides: Partial<ContainerSpec> = {}) {
  return buildOciConfig({
    spec: { ...spec, ...overrides },
    rootfs: '/run/nimbus/runc/bundles/nimbus-123/rootfs',
    initArgv: ['/sbin/init'],
    hostsFile: '/run/h',
    hostnameFile: '/run/n',
    cgroupsPath: '/nimbus/nimbus-123',
  });
}

describe('OCI config for a system container', () => {
  it('maps machine-type limits to cgroup memory, cpu quota/shares and pids', () => {
    const { resources } = config().linux;
    assert.equal(resources.memory.limit, 1024 * 1024 * 1024);
    assert.equal(resources.cpu.quota, 50_000);
    assert.equal(resources.cpu.period, 100_000);
    assert.equal(resources.cpu.shares, 512);
    assert.equal(resources.pids.limit, 4096);
  });

  it('lets shared-core types burst to cpus while sharing by cpuShare', () => {
    const { cpu } = config({ cpus: 2, cpuShare: 0.25 }).linux.resources;
    assert.equal(cpu.quota, 200_000);
    assert.equal(cpu.shares, 256);
    assert.throws(() => config({ cpuShare: 0 }), RangeError);
  });

  it('joins the dataplane network namespace when given, else gets a private one', () => {
    const joined = config({ netnsPath: '/run/netns/nimbus-i-1' }).linux.namespaces;
    assert.deepEqual(
      joined.find((n) => n.type === 'network'),
      { type: 'network', path: '/run/netns/nimbus-i-1' },
    );
    const own = config().linux.namespaces;
    assert.deepEqual(
      own.find((n) => n.type === 'network'),
      { type: 'network' },
    );
    assert.deepEqual(own.map((n) => n.type).sort(), ['cgroup', 'ipc', 'mount', 'network', 'pid', 'uts']);
  });

  it('boots init on a console with container=oci, tmpfs /run and a writable cgroup mount', () => {
    const c = config();
    assert.equal(c.process.terminal, true);
    assert.ok(c.process.env.includes('container=oci'));
    assert.deepEqual(c.process.args, ['/sbin/init']);
    assert.equal(c.hostname, 'vm-one');
    const byDestination = new Map(c.mounts.map((m) => [m.destination, m]));
    for (const dir of ['/run', '/run/lock', '/tmp']) {
      assert.equal(byDestination.get(dir)?.type, 'tmpfs', dir);
    }
    assert.ok(byDestination.get('/sys/fs/cgroup')?.options?.includes('rw'));
    assert.equal(byDestination.get('/etc/hosts')?.source, '/run/h');
    assert.ok(CONTAINER_CAPABILITIES.includes('CAP_SYS_ADMIN'));
    assert.ok(CONTAINER_CAPABILITIES.includes('CAP_NET_ADMIN'));
    assert.ok(!CONTAINER_CAPABILITIES.includes('CAP_SYS_MODULE'));
  });

  it('writes the hostname and the extra hosts lines into /etc/hosts', () => {
    const text = hostsFileText(spec);
    assert.match(text, /^127\.0\.1\.1\tvm-one$/m);
    assert.match(text, /^169\.254\.169\.254 metadata\.google\.internal metadata$/m);
  });

  it('rejects limits the kernel would refuse', () => {
    assert.throws(() => config({ cpus: 0 }), RangeError);
    assert.throws(() => config({ memoryMb: 4 }), RangeError);
    assert.throws(() => config({ pids: 1.5 }), RangeError);
  });
});
