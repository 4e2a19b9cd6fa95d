import { createContext, useContext, useEffect, useState } from 'react';

/** A tiny history router: the console's few routes do not need a library. */
export interface Location {
  path: string;
  query: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false): void {
  if (replace) {
    window.history.replaceState(null, '', to);
  } else {
    window.history.pushState(null, '', to);
  }
  for (const listener of listeners) {
    listener();
  }
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = (): void => {
      setLocation(current());
    };
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return location;
}

/** The selected project id (kept in `?project=`, as Google's console does). */
export const ProjectContext = createContext<string>('');

export function useProject(): string {
  return useContext(ProjectContext);
}

/** `path` with the current project appended, for links that keep the selection. */
export function withProject(path: string, project: string): string {
  if (project === '') {
    return path;
  }
  const [base, search = ''] = path.split('?');
  const query = new URLSearchParams(search);
  query.set('project', project);
  return `${base ?? path}?${query.toString()}`;
}
