import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodePageToken, encodePageToken, paginate } from './paging.ts';

const items = Array.from({ length: 25 }, (_, i) => `item-${String(i).padStart(2, '0')}`);
const fetch = (after: string | undefined, limit: number): string[] =>
  items.filter((k) => after === undefined || k > after).slice(0, limit);

describe('paginate', () => {
  it('walks every item exactly once across pages', () => {
    const seen: string[] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = paginate({ pageSize: 10, pageToken }, (k) => k, fetch);
      seen.push(...page.items);
      pageToken = page.nextPageToken;
      pages += 1;
    } while (pageToken !== undefined);
    assert.deepEqual(seen, items);
    assert.equal(pages, 3);
  });

  it('fills pages even when a filter drops items', () => {
    const page = paginate(
      { pageSize: 5 },
      (k) => k,
      fetch,
      (k) => Number(k.slice(5)) % 2 === 0,
    );
    assert.deepEqual(page.items, ['item-00', 'item-02', 'item-04', 'item-06', 'item-08']);
    assert.ok(page.nextPageToken !== undefined);
  });

  it('gives no token on the last page', () => {
    const page = paginate({ pageSize: 100 }, (k) => k, fetch);
    assert.equal(page.items.length, 25);
    assert.equal(page.nextPageToken, undefined);
  });

  it('rejects a malformed page token with 400', () => {
    assert.throws(() => decodePageToken('not-a-token'), { httpStatus: 400 });
    assert.equal(decodePageToken(encodePageToken('abc')), 'abc');
  });

  it('rejects a negative page size', () => {
    assert.throws(() => paginate({ pageSize: -1 }, (k: string) => k, fetch), { httpStatus: 400 });
  });
});
