/**
 * What the VPC network tabs share: paths, list loading, the networks/regions pickers and the firewall
 * protocol text (`tcp:22,80; udp:53; icmp`). Operations are waited for by compute-common's `mutate`.
 */
import { call } from '../../api.ts';
import { usePickerList } from '../../ui/load.ts';
import { computeBase, listCompute, nameFilter } from '../compute-common.ts';

export { computeBase, last, mutate } from '../compute-common.ts';

export const PAGE_SIZE = 50;

/** What the VPC names must look like (RFC 1035, as Compute checks). */
export const NAME_PATTERN = '[a-z]([\\-a-z0-9]*[a-z0-9])?';

export type Row = Record<string, unknown>;

export const text = (value: unknown): string =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';

export const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];

/** One page of a global collection (networks, firewalls, routes). */
export const listGlobal = (project: string, collection: string, pageToken: string | undefined, filter = '') =>
  listCompute<Row>(project, `global/${collection}`, pageToken, PAGE_SIZE, nameFilter(filter));

/** One page of the subnets of every region. */
export const listSubnets = (project: string, pageToken: string | undefined, filter = '') =>
  listCompute<Row>(project, 'aggregated/subnetworks', pageToken, PAGE_SIZE, nameFilter(filter));

const names = async (path: string): Promise<string[]> =>
  ((await call<{ items?: { name: string }[] }>('GET', path)).items ?? []).map((n) => n.name);

/** Names of the project's networks (for pickers; projects have a handful). */
export const useNetworkNames = (project: string): string[] =>
  usePickerList(() => names(`${computeBase(project)}/global/networks?maxResults=500`), [project]);

/** Names of the regions. */
export const useRegionNames = (project: string): string[] =>
  usePickerList(
    async () => (await names(`${computeBase(project)}/regions?maxResults=500`)).sort(),
    [project],
  );

/** The region picker's choices: the known regions and the chosen one, sorted. */
export const regionChoices = (region: string, regions: string[]): string[] =>
  [...new Set([region, ...regions])].sort();

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
