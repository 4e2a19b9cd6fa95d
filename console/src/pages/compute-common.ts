/**
 * What the VM instances list and the instance details page share: the shapes they read, paths,
 * the SSH window, and the row actions with their confirmations (stopping warns that disks are
 * still billed, with their monthly list price when console/src/pricing.ts knows it).
 */
import { ApiError, call, enc } from '../api.ts';
import type { Language, Translate } from '../i18n.ts';
import { pageQuery, type Page } from '../paging.ts';
import { diskMonthlyUsd, formatUsd, regionOfZone } from '../pricing.ts';

/** States an instance passes through on its way somewhere: pages refresh while one shows. */
export const MOVING = new Set(['PROVISIONING', 'STAGING', 'STOPPING', 'SUSPENDING', 'REPAIRING']);

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** The scopes Google's console (and gcloud) give an instance under "Allow default access". */
export const DEFAULT_SCOPES = [
  'https://www.googleapis.com/auth/devstorage.read_only',
  'https://www.googleapis.com/auth/logging.write',
  'https://www.googleapis.com/auth/monitoring.write',
  'https://www.googleapis.com/auth/service.management.readonly',
  'https://www.googleapis.com/auth/servicecontrol',
  'https://www.googleapis.com/auth/trace.append',
];

export interface AttachedDisk {
  source?: string;
  deviceName?: string;
  boot?: boolean;
  autoDelete?: boolean;
  diskSizeGb?: string;
}

export interface Instance {
  id?: string;
  name: string;
  zone: string;
  status: string;
  statusMessage?: string;
  machineType?: string;
  creationTimestamp?: string;
  lastStartTimestamp?: string;
  labels?: Record<string, string>;
  networkInterfaces?: {
    network?: string;
    subnetwork?: string;
    networkIP?: string;
    accessConfigs?: { name?: string; natIP?: string; type?: string }[];
  }[];
  disks?: AttachedDisk[];
  serviceAccounts?: { email: string; scopes?: string[] }[];
  metadata?: { items?: { key: string; value?: string }[] };
}

export interface Disk {
  name: string;
  sizeGb?: string;
  type?: string;
}

export interface MachineType {
  name: string;
  guestCpus?: number;
  memoryMb?: number;
}

export type Verb = 'start' | 'stop' | 'reset' | 'delete';

/** The last segment of a resource URL (`…/zones/asia-northeast3-a` -> `asia-northeast3-a`). */
export const last = (url: string | undefined): string => url?.split('/').pop() ?? '';

export const computeBase = (project: string): string => `/compute/v1/projects/${enc(project)}`;

export const instanceApiPath = (project: string, zone: string, name: string): string =>
  `${computeBase(project)}/zones/${enc(zone)}/instances/${enc(name)}`;

/** The console route of an instance's details page (App.tsx routes it). */
export const detailsRoute = (zone: string, name: string): string =>
  `/compute/instances/details/${enc(zone)}/${enc(name)}`;

interface Operation {
  name?: string;
  status?: string;
  selfLink?: string;
  error?: { errors?: { code?: string; message?: string }[] };
}

const POLL_MS = 500;
const POLL_LIMIT_MS = 10 * 60_000;

/** GETs a Compute operation until it is DONE; throws its error (or a timeout after 10 minutes). */
export async function waitForOperation(operation: Operation): Promise<void> {
  let op = operation;
  const started = Date.now();
  while (op.status !== undefined && op.status !== 'DONE') {
    if (op.selfLink === undefined || Date.now() - started > POLL_LIMIT_MS) {
      throw new ApiError(`Operation ${op.name ?? ''} is still ${op.status}`, 0, 'timeout');
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    op = await call<Operation>('GET', apiPathOf(op.selfLink));
  }
  const failure = op.error?.errors?.[0];
  if (failure !== undefined) {
    throw new ApiError(failure.message ?? failure.code ?? 'Operation failed', 400, failure.code ?? '');
  }
}

/** A Compute mutation that waits: sends it, then waits for the operation it answers with. */
export async function mutate(method: string, path: string, body?: unknown): Promise<void> {
  await waitForOperation(await call<Operation>(method, path, body));
}

/**
 * One page of a Compute list: a global or zonal collection (`global/networks`), or an aggregated
 * one (`aggregated/instances`), whose per-scope lists are joined.
 */
export async function listCompute<T>(
  project: string,
  collection: string,
  pageToken: string | undefined,
  pageSize: number,
  filter = '',
): Promise<Page<T>> {
  const params: Record<string, string> = { maxResults: String(pageSize) };
  if (filter !== '') {
    params.filter = filter;
  }
  const r = await call<{ items?: T[] | Record<string, Record<string, unknown>>; nextPageToken?: string }>(
    'GET',
    `${computeBase(project)}/${collection}?${pageQuery(params, pageToken)}`,
  );
  const items = Array.isArray(r.items)
    ? r.items
    : Object.values(r.items ?? {}).flatMap((scope) =>
        Object.values(scope).flatMap((list) => (Array.isArray(list) ? (list as T[]) : [])),
      );
  return { items, nextPageToken: r.nextPageToken };
}

/**
 * What the filter box's text asks Compute for: names containing it (AIP-160's `:` on a string is a
 * substring match), '' for no filter.
 */
export function nameFilter(text: string): string {
  return text === '' ? '' : `name:"${text.replace(/["\\]/g, '\\$&')}"`;
}

/** `e2-micro (2 vCPU, 1.0 GB memory)`. */
export function describeMachineType(t: Translate, m: MachineType): string {
  return `${m.name} (${t('vm.shape', { cpus: m.guestCpus ?? 0, memory: ((m.memoryMb ?? 0) / 1024).toFixed(1) })})`;
}

/** "SSH" as Google's console does it: a window of its own with the browser terminal. */
export function openSsh(project: string, zone: string, name: string): void {
  window.open(
    `/compute/instances/ssh/${enc(zone)}/${enc(name)}?project=${enc(project)}`,
    `ssh-${name}`,
    'popup,width=900,height=600',
  );
}

/** A compute selfLink as a same-origin API path (the console talks to the server that made it). */
export function apiPathOf(url: string): string {
  return new URL(url, window.location.href).pathname;
}

/** The instance's disks (GET each attached disk's source). */
export async function loadDisks(instance: Instance): Promise<Disk[]> {
  const sources = (instance.disks ?? []).flatMap((d) => (d.source === undefined ? [] : [d.source]));
  return await Promise.all(sources.map((source) => call<Disk>('GET', apiPathOf(source))));
}

/** Total size and monthly list price of disks in a zone (amount undefined when any has no price). */
export function disksMonthly(disks: Disk[], zone: string): { sizeGb: number; amount: number | undefined } {
  const region = regionOfZone(zone);
  let sizeGb = 0;
  let amount: number | undefined = 0;
  for (const disk of disks) {
    const size = Number(disk.sizeGb ?? '0');
    sizeGb += size;
    const price = diskMonthlyUsd(last(disk.type), size, region);
    amount = price === undefined || amount === undefined ? undefined : amount + price;
  }
  return { sizeGb, amount: disks.length === 0 ? undefined : amount };
}

/**
 * The confirmation for an action ('' when it needs none). Stopping keeps the disk-billing warning
 * and adds what the disks cost a month when the price is known.
 */
export async function confirmationOf(
  t: Translate,
  language: Language,
  instance: Instance,
  verb: Verb,
): Promise<string> {
  const name = instance.name;
  if (verb === 'start') {
    return '';
  }
  if (verb === 'reset') {
    return t('vm.confirmReset', { name });
  }
  if (verb === 'delete') {
    return t('vm.confirmDelete', { name });
  }
  const warning = t('vm.confirmStop', { name });
  try {
    const { sizeGb, amount } = disksMonthly(await loadDisks(instance), last(instance.zone));
    return amount === undefined
      ? warning
      : `${warning}\n\n${t('vm.confirmStopCost', { size: sizeGb, amount: formatUsd(amount, language) })}`;
  } catch {
    // The disks could not be read: the warning still stands, without an amount.
    return warning;
  }
}

/** Asks (when the action needs it) and sends the action; false when the user declined. */
export async function confirmAndAct(
  t: Translate,
  language: Language,
  project: string,
  instance: Instance,
  verb: Verb,
): Promise<boolean> {
  const question = await confirmationOf(t, language, instance, verb);
  if (question !== '' && !window.confirm(question)) {
    return false;
  }
  const path = instanceApiPath(project, last(instance.zone), instance.name);
  await call(verb === 'delete' ? 'DELETE' : 'POST', verb === 'delete' ? path : `${path}/${verb}`);
  return true;
}

let listWatchUntil = 0;

/** Asks the VM instances list to keep refreshing for a while when it opens next (after a delete elsewhere). */
export function watchListFor(ms: number): void {
  listWatchUntil = Date.now() + ms;
}

/** The refresh deadline asked for by watchListFor (0 when none), consumed once. */
export function takeListWatch(): number {
  const until = listWatchUntil;
  listWatchUntil = 0;
  return until > Date.now() ? until : 0;
}

/** Which actions make sense in a state (as Google's console greys them out). */
export function actionEnabled(status: string, verb: Verb | 'ssh'): boolean {
  switch (verb) {
    case 'start':
      return status === 'TERMINATED';
    case 'stop':
    case 'reset':
    case 'ssh':
      return status === 'RUNNING';
    case 'delete':
      return true;
  }
}
