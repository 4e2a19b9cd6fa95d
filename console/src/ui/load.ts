import { useCallback, useEffect, useState } from 'react';

/**
 * Loads a value when `deps` change (and on reload); a late answer for older deps is dropped.
 * A failure clears the value. `reset`: clear the value while reloading too.
 */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: readonly unknown[],
  options: { reset?: boolean } = {},
) {
  const [value, setValue] = useState<T | undefined>();
  const [error, setError] = useState<unknown>();
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let live = true;
    setError(undefined);
    if (options.reset === true) {
      setValue(undefined);
    }
    load().then(
      (result) => {
        if (live) {
          setValue(result);
        }
      },
      (failure: unknown) => {
        if (live) {
          setValue(undefined);
          setError(failure);
        }
      },
    );
    return () => {
      live = false;
    };
    // `load` changes identity each render; `deps` say what it reads.
  }, [...deps, version]);
  const reload = useCallback(() => {
    setVersion((v) => v + 1);
  }, []);
  return { value, error, reload, setValue };
}

/** A list for a picker: [] until it loads or when it cannot be read. */
export function usePickerList<T>(load: () => Promise<T[]>, deps: readonly unknown[]): T[] {
  return useLoad(load, deps).value ?? [];
}
