import { createHash } from 'node:crypto';

/**
 * External addresses of Nimbus instances: each access config gets its own loopback address from
 * 127.77.0.0/16 (Linux routes all of 127.0.0.0/8 to `lo`, so no interface setup is needed), and the
 * instance's forwarded ports listen there with their own numbers: `ssh USER@NATIP` reaches the
 * instance's sshd, as `gcloud compute ssh` expects.
 */
export const EXTERNAL_POOL = '127.77.0.0/16';
const HOSTS_PER_BLOCK = 254;
const POOL_SIZE = 256 * HOSTS_PER_BLOCK;

/** The pool's `index`-th address: 127.77.B.H with H in 1..254 (never .0 or .255). */
export function externalAddressAt(index: number): string {
  const i = ((index % POOL_SIZE) + POOL_SIZE) % POOL_SIZE;
  return `127.77.${String(Math.floor(i / HOSTS_PER_BLOCK))}.${String((i % HOSTS_PER_BLOCK) + 1)}`;
}

export function isExternalAddress(ip: string): boolean {
  const match = /^127\.77\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (match === null) {
    return false;
  }
  const block = Number(match[1]);
  const host = Number(match[2]);
  return block <= 255 && host >= 1 && host <= HOSTS_PER_BLOCK;
}

/**
 * The first free address, searching from an offset derived from the data dir, so that two Nimbus
 * servers on one machine (separate data dirs) rarely hand out the same address. Deterministic for a
 * data dir: the first instance always gets the same address, and a released one is reused first.
 */
export function allocateExternalAddress(dataDir: string, used: ReadonlySet<string>): string {
  const start = createHash('sha256').update(dataDir).digest().readUInt32BE(0) % POOL_SIZE;
  for (let n = 0; n < POOL_SIZE; n++) {
    const candidate = externalAddressAt(start + n);
    if (!used.has(candidate)) {
      return candidate;
    }
  }
  throw new Error(`no free address left in ${EXTERNAL_POOL}`);
}
