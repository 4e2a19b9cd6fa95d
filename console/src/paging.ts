import { useCallback, useEffect, useState } from 'react';

export interface Page<T> {
  items: T[];
  nextPageToken?: string;
}

/** A list call's query string: `params` plus the page token when there is one. */
export function pageQuery(params: Record<string, string>, pageToken: string | undefined): string {
  const query = new URLSearchParams(params);
  if (pageToken !== undefined) {
    query.set('pageToken', pageToken);
  }
  return query.toString();
}

/**
 * Loads one page at a time; remembers the tokens of earlier pages so "previous" works. A new `key`
 * (another project, another filter) starts again from the first page.
 */
export function usePaged<T>(load: (pageToken: string | undefined) => Promise<Page<T>>, key: string) {
  const [trail, setTrail] = useState<{ key: string; tokens: (string | undefined)[] }>({
    key,
    tokens: [undefined],
  });
  const tokens = trail.key === key ? trail.tokens : [undefined];
  const setTokens = useCallback(
    (update: (list: (string | undefined)[]) => (string | undefined)[]) => {
      setTrail((current) => ({
        key,
        tokens: update(current.key === key ? current.tokens : [undefined]),
      }));
    },
    [key],
  );
  // The page with the key it was loaded for: another key's page is never shown as this one's.
  const [loaded, setLoaded] = useState<{ key: string; page: Page<T> } | undefined>();
  const page = loaded?.key === key ? loaded.page : undefined;
  const [error, setError] = useState<unknown>();
  const [version, setVersion] = useState(0);
  const token = tokens[tokens.length - 1];

  useEffect(() => {
    let live = true;
    setError(undefined);
    load(token).then(
      (result) => {
        if (live) {
          setLoaded({ key, page: result });
        }
      },
      (failure: unknown) => {
        if (live) {
          setLoaded(undefined);
          setError(failure);
        }
      },
    );
    return () => {
      live = false;
    };
    // `load` changes identity each render; `key` and the token say what to load.
  }, [key, token, version]);

  const reload = useCallback(() => {
    setVersion((v) => v + 1);
  }, []);
  const next = useCallback(() => {
    if (page?.nextPageToken !== undefined) {
      const nextToken = page.nextPageToken;
      setTokens((list) => [...list, nextToken]);
    }
  }, [page, setTokens]);
  const previous = useCallback(() => {
    setTokens((list) => (list.length > 1 ? list.slice(0, -1) : list));
  }, [setTokens]);
  return {
    page,
    error,
    reload,
    next,
    previous,
    pageIndex: tokens.length - 1,
    hasNext: page?.nextPageToken !== undefined,
  };
}
