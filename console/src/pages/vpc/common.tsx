/**
 * What the VPC network tabs share: paths, list loading, Compute operations (wait until DONE), the
 * networks/regions pickers and the firewall protocol text (`tcp:22,80; udp:53; icmp`).
 */
import { useCallback, useEffect, useState } from 'react';
import { ApiError, call, enc } from '../../api.ts';
import { ErrorBox } from '../../components.tsx';
import { useI18n } from '../../i18n.ts';
import type { Page } from '../../paging.ts';

export const PAGE_SIZE = 50;

export type Row = Record<string, unknown>;

/** The last segment of a resource URL (`…/networks/default` -> `default`). */
export const last = (url: string | undefined): string => url?.split('/').pop() ?? '';

export const text = (value: unknown): string =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';

export const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

export const computeBase = (project: string): string => `/compute/v1/projects/${enc(project)}`;

/** One page of a global collection (networks, firewalls, routes). */
export async function listGlobal(
  project: string,
  collection: string,
  pageToken: string | undefined,
): Promise<Page<Row>> {
  const query = new URLSearchParams({ maxResults: String(PAGE_SIZE) });
  if (pageToken !== undefined) {
    query.set('pageToken', pageToken);
  }
  const r = await call<{ items?: Row[]; nextPageToken?: string }>(
    'GET',
    `${computeBase(project)}/global/${collection}?${query.toString()}`,
  );
  return { items: r.items ?? [], nextPageToken: r.nextPageToken };
}

interface Operation {
  name?: string;
  status?: string;
  selfLink?: string;
  error?: { errors?: { code?: string; message?: string }[] };
}

const POLL_MS = 500;
const POLL_LIMIT_MS = 10 * 60_000;

/** A mutation: sends it, then GETs the operation it answers with until DONE; throws its error. */
export async function mutate(method: string, path: string, body?: unknown): Promise<void> {
  let op = await call<Operation>(method, path, body);
  const started = Date.now();
  while (op.status !== undefined && op.status !== 'DONE') {
    if (op.selfLink === undefined || Date.now() - started > POLL_LIMIT_MS) {
      throw new ApiError(`Operation ${op.name ?? ''} is still ${op.status}`, 0, 'timeout');
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    op = await call<Operation>('GET', new URL(op.selfLink, window.location.origin).pathname);
  }
  const failure = op.error?.errors?.[0];
  if (failure !== undefined) {
    throw new ApiError(failure.message ?? failure.code ?? 'Operation failed', 400, failure.code ?? '');
  }
}

/** Busy/error/success state of the mutations of one tab; `refresh` runs after each one. */
export function useMutations(refresh: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState('');
  const run = useCallback(
    async (steps: () => Promise<void>, done: string): Promise<boolean> => {
      setBusy(true);
      setError(undefined);
      setMessage('');
      try {
        await steps();
        setMessage(done);
        return true;
      } catch (failure) {
        setError(failure);
        return false;
      } finally {
        setBusy(false);
        refresh();
      }
    },
    [refresh],
  );
  return { busy, error, message, run };
}

export function MutationStatus(props: { state: ReturnType<typeof useMutations> }) {
  const { t } = useI18n();
  const { busy, error, message } = props.state;
  return (
    <>
      {busy && (
        <p role="status" className="muted">
          {t('vpc.working')}
        </p>
      )}
      {!busy && message !== '' && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {error !== undefined && <ErrorBox error={error} />}
    </>
  );
}

/** Names of the project's networks (for pickers; projects have a handful). */
export function useNetworkNames(project: string, version = 0): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    call<{ items?: { name: string }[] }>(
      'GET',
      `${computeBase(project)}/global/networks?maxResults=500`,
    ).then(
      (r) => {
        if (live) {
          setNames((r.items ?? []).map((n) => n.name));
        }
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [project, version]);
  return names;
}

/** Names of the regions. */
export function useRegionNames(project: string): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    call<{ items?: { name: string }[] }>('GET', `${computeBase(project)}/regions?maxResults=500`).then(
      (r) => {
        if (live) {
          setNames((r.items ?? []).map((n) => n.name).sort());
        }
      },
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [project]);
  return names;
}

export interface FirewallProtocol {
  IPProtocol: string;
  ports?: string[];
}

const PORT = /^\d{1,5}(?:-\d{1,5})?$/;

/**
 * `tcp:22,80; udp:53; icmp` (also gcloud's `tcp:22,tcp:80,icmp`) -> Compute's allowed/denied list;
 * undefined when it cannot be read. A bare number opening a `;` group is a protocol number.
 */
export function parseProtocols(input: string): FirewallProtocol[] | undefined {
  const out: FirewallProtocol[] = [];
  for (const group of input.split(';')) {
    const items = group.split(/[,\s]+/).filter((item) => item !== '');
    let current: FirewallProtocol | undefined;
    for (const [index, item] of items.entries()) {
      const colon = item.indexOf(':');
      if (colon > 0) {
        const port = item.slice(colon + 1);
        if (!PORT.test(port)) {
          return undefined;
        }
        current = { IPProtocol: item.slice(0, colon).toLowerCase(), ports: [port] };
        out.push(current);
      } else if (colon === 0) {
        return undefined;
      } else if (PORT.test(item) && index > 0) {
        if (current === undefined) {
          return undefined;
        }
        (current.ports ??= []).push(item);
      } else if (/^[a-z]+$/i.test(item) || /^\d{1,3}$/.test(item)) {
        current = { IPProtocol: item.toLowerCase() };
        out.push(current);
      } else {
        return undefined;
      }
    }
  }
  return out.length === 0 ? undefined : out;
}

/** The inverse of parseProtocols: `tcp:22,80; icmp`. */
export function formatProtocols(list: unknown): string {
  if (!Array.isArray(list)) {
    return '';
  }
  return (list as FirewallProtocol[])
    .map((p) =>
      p.ports === undefined || p.ports.length === 0 ? p.IPProtocol : `${p.IPProtocol}:${p.ports.join(',')}`,
    )
    .join('; ');
}

/** `a, b c` -> ['a', 'b', 'c']. */
export const splitList = (input: string): string[] => input.split(/[,\s]+/).filter((item) => item !== '');
