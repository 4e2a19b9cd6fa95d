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

/** Loads one page at a time; remembers the tokens of earlier pages so "previous" works. */
export function usePaged<T>(load: (pageToken: string | undefined) => Promise<Page<T>>, key: string) {
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<Page<T> | undefined>();
  const [error, setError] = useState<unknown>();
  const [version, setVersion] = useState(0);
  const token = tokens[tokens.length - 1];

  useEffect(() => {
    let live = true;
    setError(undefined);
    load(token).then(
      (result) => {
        if (live) {
          setPage(result);
        }
      },
      (failure: unknown) => {
        if (live) {
          setPage(undefined);
          setError(failure);
        }
      },
    );
    return () => {
      live = false;
    };
    // `load` changes identity each render; `key` and the token say what to load (callers remount
    // the component when `key` changes, which also resets the page tokens).
  }, [key, token, version]);

  const reload = useCallback(() => {
    setVersion((v) => v + 1);
  }, []);
  const next = useCallback(() => {
    if (page?.nextPageToken !== undefined) {
      const nextToken = page.nextPageToken;
      setTokens((list) => [...list, nextToken]);
    }
  }, [page]);
  const previous = useCallback(() => {
    setTokens((list) => (list.length > 1 ? list.slice(0, -1) : list));
  }, []);
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
