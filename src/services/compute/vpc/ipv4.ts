/**
 * IPv4 arithmetic for VPC ranges: parsing dotted quads and CIDRs, containment and overlap, and the
 * ranges Google accepts for subnets. Addresses are unsigned 32-bit integers held in JS numbers.
 */
export interface Cidr {
  /** Network address (host bits zero). */
  base: number;
  prefix: number;
}

const QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIp(text: string): number | undefined {
  const match = QUAD.exec(text);
  if (match === null) {
    return undefined;
  }
  let value = 0;
  for (const part of match.slice(1)) {
    const octet = Number(part);
    if (octet > 255 || (part.length > 1 && part.startsWith('0'))) {
      return undefined;
    }
    value = value * 256 + octet;
  }
  return value;
}

export function formatIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => String(Math.floor(value / 2 ** shift) % 256)).join('.');
}

function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

/** Parses `A.B.C.D/N`; `strict` requires host bits to be zero (Google rejects `10.0.0.1/24`). */
export function parseCidr(text: string, strict = true): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const prefixText = slash < 0 ? '32' : text.slice(slash + 1);
  if (ip === undefined || !/^\d{1,2}$/.test(prefixText)) {
    return undefined;
  }
  const prefix = Number(prefixText);
  if (prefix > 32) {
    return undefined;
  }
  const base = ip - (ip % blockSize(prefix));
  if (strict && base !== ip) {
    return undefined;
  }
  return { base, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp(cidr.base)}/${String(cidr.prefix)}`;
}

export function lastAddress(cidr: Cidr): number {
  return cidr.base + blockSize(cidr.prefix) - 1;
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && inner.base >= outer.base && lastAddress(inner) <= lastAddress(outer);
}

export function containsIp(cidr: Cidr, ip: number): boolean {
  return ip >= cidr.base && ip <= lastAddress(cidr);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.base <= lastAddress(b) && b.base <= lastAddress(a);
}

/** Ranges Google accepts as subnet primary ranges (RFC 1918 and the other documented ones). */
export const VALID_SUBNET_RANGES: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '100.64.0.0/10',
  '192.0.0.0/24',
  '192.0.2.0/24',
  '198.18.0.0/15',
  '198.51.100.0/24',
  '203.0.113.0/24',
  '240.0.0.0/4',
];

const VALID = VALID_SUBNET_RANGES.map((range) => parseCidr(range)).filter((c): c is Cidr => c !== undefined);

export function isValidSubnetRange(cidr: Cidr): boolean {
  return VALID.some((range) => cidrContains(range, cidr));
}

/** Google reserves four addresses per subnet: network, gateway (.1), second-to-last and broadcast. */
export function gatewayOf(cidr: Cidr): number {
  return cidr.base + 1;
}

export function firstUsable(cidr: Cidr): number {
  return cidr.base + 2;
}

export function lastUsable(cidr: Cidr): number {
  return lastAddress(cidr) - 2;
}
