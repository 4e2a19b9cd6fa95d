import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileFirewall, evaluationOrder, type FirewallRuleSpec } from './nft.ts';

const rule = (overrides: Partial<FirewallRuleSpec>): FirewallRuleSpec => ({
  name: 'r',
  direction: 'INGRESS',
  priority: 1000,
  action: 'allow',
  protocols: [{ IPProtocol: 'all' }],
  ...overrides,
});

/** The rule lines of one chain, without indentation. */
function chain(ruleset: string, name: string): string[] {
  const start = ruleset.indexOf(`  chain ${name} {`);
  const end = ruleset.indexOf('\n  }', start);
  return ruleset
    .slice(start, end)
    .split('\n')
    .slice(1)
    .map((line) => line.trim());
}

describe('firewall compiler', () => {
  it('orders rules by priority, deny before allow at equal priority', () => {
    const order = evaluationOrder([
      rule({ name: 'allow-1000', priority: 1000 }),
      rule({ name: 'deny-1000', priority: 1000, action: 'deny' }),
      rule({ name: 'allow-10', priority: 10 }),
    ]).map((r) => r.name);
    assert.deepEqual(order, ['allow-10', 'deny-1000', 'allow-1000']);
  });

  it('compiles protocols, ports, ranges and tags into the ingress chain with implied deny', () => {
    const text = compileFirewall({
      metadataAddress: '169.254.169.254',
      endpoints: [
        { ip: '10.0.0.2', tags: ['web'], serviceAccounts: [], port: 'nvaaaa' },
        { ip: '10.0.0.3', tags: ['db'], serviceAccounts: [], port: 'nvbbbb' },
      ],
      rules: [
        rule({
          name: 'ssh',
          protocols: [{ IPProtocol: 'tcp', ports: ['22', '8000-8080'] }],
          sourceRanges: ['0.0.0.0/0'],
        }),
        rule({
          name: 'web-to-db',
          priority: 500,
          sourceTags: ['web'],
          targetTags: ['db'],
          protocols: [{ IPProtocol: 'icmp' }],
        }),
      ],
    });
    assert.deepEqual(chain(text, 'ingress'), [
      'ip daddr @tag_0 ip saddr @tag_1 meta l4proto icmp counter accept comment "web-to-db"',
      'meta l4proto tcp th dport { 22, 8000-8080 } counter accept comment "ssh"',
      'counter drop comment "implied deny ingress"',
    ]);
    assert.match(text, /set tag_0 \{ type ipv4_addr; comment "tag db"; elements = \{ 10\.0\.0\.3 \}; \}/);
    assert.match(text, /set instances \{ type ipv4_addr; elements = \{ 10\.0\.0\.2, 10\.0\.0\.3 \}; \}/);
    assert.match(text, /iifname "nvaaaa" ether type ip ip saddr != 10\.0\.0\.2 drop/);
    assert.ok(text.startsWith('table inet nimbus\ndelete table inet nimbus\n'), 'replaces atomically');
  });

  it('compiles egress rules to return (allow) or drop (deny), implied allow last', () => {
    const text = compileFirewall({
      metadataAddress: '169.254.169.254',
      endpoints: [],
      rules: [
        rule({
          name: 'no-udp',
          direction: 'EGRESS',
          action: 'deny',
          destinationRanges: ['10.1.0.0/16'],
          protocols: [{ IPProtocol: 'udp' }],
        }),
        rule({
          name: 'dns',
          direction: 'EGRESS',
          priority: 10,
          destinationRanges: ['0.0.0.0/0'],
          protocols: [{ IPProtocol: 'udp', ports: ['53'] }],
        }),
      ],
    });
    assert.deepEqual(chain(text, 'egress'), [
      'meta l4proto udp th dport 53 counter return comment "dns"',
      'ip daddr 10.1.0.0/16 meta l4proto udp counter drop comment "no-udp"',
      'return comment "implied allow egress"',
    ]);
    assert.deepEqual(chain(text, 'ingress'), ['counter drop comment "implied deny ingress"']);
  });

  it('lets established traffic and metadata requests through', () => {
    const text = compileFirewall({ metadataAddress: '169.254.169.254', endpoints: [], rules: [] });
    assert.ok(chain(text, 'forward').includes('ct state established,related accept'));
    assert.ok(chain(text, 'input').includes('ip daddr 169.254.169.254 tcp dport 80 accept'));
  });
});
