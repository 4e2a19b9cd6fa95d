import { InvalidArgument } from './errors.ts';

/**
 * Page tokens are opaque to clients: base64url JSON of the last key returned. Listing is by key
 * order, so a page token stays valid while items are added or removed.
 */
export function encodePageToken(lastKey: string): string {
  return Buffer.from(JSON.stringify({ k: lastKey })).toString('base64url');
}

export function decodePageToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && 'k' in parsed && typeof parsed.k === 'string') {
      return parsed.k;
    }
  } catch {
    // fall through
  }
  throw new InvalidArgument('The page token is not valid.', { reason: 'invalid' });
}

export interface PageRequest {
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

/** Normalises a page size as Google does: absent or 0 means the default, larger than max is clamped. */
export function pageSizeOf(
  request: PageRequest,
  defaultSize = DEFAULT_PAGE_SIZE,
  max = MAX_PAGE_SIZE,
): number {
  const size = request.pageSize;
  if (size === undefined || size === 0) {
    return defaultSize;
  }
  if (!Number.isInteger(size) || size < 0) {
    throw new InvalidArgument('The page size must be a non-negative integer.', { reason: 'invalid' });
  }
  return Math.min(size, max);
}

/**
 * Pages through key-ordered items: `fetch(after, limit)` returns up to `limit` items whose key is
 * greater than `after`. Filtering happens in `keep`, so a page is full whenever more items exist.
 */
export function paginate<T>(
  request: PageRequest,
  keyOf: (item: T) => string,
  fetch: (after: string | undefined, limit: number) => T[],
  keep: (item: T) => boolean = () => true,
  defaultSize?: number,
): Page<T> {
  const size = pageSizeOf(request, defaultSize);
  let after = decodePageToken(request.pageToken);
  const items: T[] = [];
  for (;;) {
    const batch = fetch(after, size + 1);
    for (const item of batch) {
      if (!keep(item)) {
        after = keyOf(item);
        continue;
      }
      if (items.length === size) {
        const last = items[items.length - 1];
        return last === undefined ? { items } : { items, nextPageToken: encodePageToken(keyOf(last)) };
      }
      items.push(item);
      after = keyOf(item);
    }
    if (batch.length < size + 1) {
      return { items };
    }
  }
}
