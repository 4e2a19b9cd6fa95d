/**
 * The "Filter" box above a list, as Google's console has one. What is typed lives in the URL's
 * `?filter=` (next to `?project=`), so a reload or the back button keeps it; typing updates the URL
 * 300 ms after the last key. Pages turn the text into the API's own filter (Compute's `filter`,
 * Cloud Storage's `prefix`), so the server filters and the list stays one page at a time.
 */
import { useEffect, useRef, useState } from 'react';
import { navigate, useLocation } from '../router.ts';
import '../styles/filter.css';

const PARAM = 'filter';
const DEBOUNCE_MS = 300;

/** The filter in the URL ('' when none). */
export function useUrlFilter(): string {
  return useLocation().query.get(PARAM) ?? '';
}

function withFilter(value: string): string {
  const query = new URLSearchParams(window.location.search);
  if (value === '') {
    query.delete(PARAM);
  } else {
    query.set(PARAM, value);
  }
  const search = query.toString();
  return `${window.location.pathname}${search === '' ? '' : `?${search}`}`;
}

export function FilterBox(props: { label: string; placeholder: string }) {
  const applied = useUrlFilter();
  const [text, setText] = useState(applied);
  /** The value this box last wrote to the URL: other URL changes (back, a link) replace the text. */
  const written = useRef(applied);

  useEffect(() => {
    if (applied !== written.current) {
      written.current = applied;
      setText(applied);
    }
  }, [applied]);

  useEffect(() => {
    const value = text.trim();
    if (value === written.current) {
      return undefined;
    }
    const timer = window.setTimeout(() => {
      written.current = value;
      navigate(withFilter(value), true);
    }, DEBOUNCE_MS);
    return () => {
      window.clearTimeout(timer);
    };
  }, [text]);

  return (
    <div className="filter-box" role="search">
      <input
        type="search"
        aria-label={props.label}
        placeholder={props.placeholder}
        autoComplete="off"
        spellCheck={false}
        value={text}
        onChange={(event) => {
          setText(event.target.value);
        }}
      />
    </div>
  );
}
