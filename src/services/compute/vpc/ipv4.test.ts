import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { autoSubnetRange, AUTO_SUBNET_RANGES } from './auto-ranges.ts';
import {
  cidrContains,
  cidrsOverlap,
  formatCidr,
  formatIp,
  isValidSubnetRange,
  parseCidr,
  parseIp,
} from './ipv4.ts';
import { REGIONS } from '../../../core/locations.ts';

const cidr = (text: string) => {
  const parsed = parseCidr(text);
  assert.ok(parsed, text);
  return parsed;
};

describe('ipv4', () => {
  it('parses and formats addresses', () => {
    assert.equal(parseIp('10.128.0.1'), 0x0a800001);
    assert.equal(formatIp(0x0a800001), '10.128.0.1');
    assert.equal(formatIp(0xffffffff), '255.255.255.255');
    for (const bad of ['10.0.0', '256.0.0.1', '01.2.3.4', 'a.b.c.d', '1.2.3.4.5']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });

  it('parses CIDRs strictly and loosely', () => {
    assert.equal(formatCidr(cidr('10.0.0.0/8')), '10.0.0.0/8');
    assert.equal(parseCidr('10.0.0.1/24'), undefined, 'host bits');
    assert.equal(formatCidr(parseCidr('10.0.0.1/24', false) ?? cidr('0.0.0.0/0')), '10.0.0.0/24');
    assert.equal(parseCidr('10.0.0.0/33'), undefined);
    assert.equal(formatCidr(cidr('1.2.3.4')), '1.2.3.4/32');
  });

  it('computes containment and overlap', () => {
    assert.ok(cidrContains(cidr('10.0.0.0/8'), cidr('10.1.0.0/16')));
    assert.ok(!cidrContains(cidr('10.1.0.0/16'), cidr('10.0.0.0/8')));
    assert.ok(cidrsOverlap(cidr('10.0.0.0/24'), cidr('10.0.0.128/25')));
    assert.ok(!cidrsOverlap(cidr('10.0.0.0/25'), cidr('10.0.0.128/25')));
  });

  it('accepts RFC 1918 and the other allowed subnet ranges only', () => {
    for (const ok of ['10.0.0.0/24', '172.16.5.0/24', '192.168.0.0/16', '100.64.0.0/10', '240.0.0.0/24']) {
      assert.ok(isValidSubnetRange(cidr(ok)), ok);
    }
    for (const bad of ['8.8.8.0/24', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/8', '172.32.0.0/16']) {
      assert.ok(!isValidSubnetRange(cidr(bad)), bad);
    }
  });

  it('gives every catalog region a distinct auto mode /20 inside 10.128.0.0/9', () => {
    const regions = REGIONS.map((r) => r.name);
    const ranges = regions.map((r) => autoSubnetRange(r, regions));
    assert.equal(new Set(ranges).size, ranges.length);
    for (const range of ranges) {
      assert.ok(cidrContains(cidr('10.128.0.0/9'), cidr(range)), range);
    }
    assert.equal(AUTO_SUBNET_RANGES['us-central1'], '10.128.0.0/20');
    const unlisted = autoSubnetRange('xx-new1', [...regions, 'xx-new1']);
    assert.ok(!Object.values(AUTO_SUBNET_RANGES).includes(unlisted));
  });
});
