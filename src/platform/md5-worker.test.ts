import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { OffloadedMd5 } from './md5-worker.ts';

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

describe('OffloadedMd5', () => {
  it('matches node:crypto for sizes around the batch and in-flight limits', async () => {
    for (const size of [0, 1, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 9 * 1024 * 1024 + 17]) {
      const data = randomBytes(size);
      const hash = new OffloadedMd5();
      // Uneven chunks, awaiting back-pressure as ingest does.
      for (let offset = 0; offset < size; offset += 65_521) {
        await hash.update(data.subarray(offset, Math.min(size, offset + 65_521)));
      }
      assert.equal(await hash.digest(), md5(data), `size ${size}`);
    }
  });

  it('keeps concurrent sessions apart, and a dropped one does not disturb the others', async () => {
    const a = randomBytes(3 * 1024 * 1024);
    const b = randomBytes(2 * 1024 * 1024 + 5);
    const ha = new OffloadedMd5();
    const hb = new OffloadedMd5();
    const dropped = new OffloadedMd5();
    await dropped.update(randomBytes(1024 * 1024 + 3));
    for (let i = 0; i < 4; i++) {
      await ha.update(a.subarray((i * a.length) / 4, ((i + 1) * a.length) / 4));
      await hb.update(b.subarray(Math.floor((i * b.length) / 4), Math.floor(((i + 1) * b.length) / 4)));
    }
    dropped.drop();
    const [da, db] = await Promise.all([ha.digest(), hb.digest()]);
    assert.equal(da, md5(a));
    assert.equal(db, md5(b));
  });
});
