import { call, enc } from '../api.ts';
import { ErrorBox, Link, Loading, Pager } from '../components.tsx';
import { useI18n, type MessageKey, type Translate } from '../i18n.ts';
import { usePaged, type Page } from '../paging.ts';

const PAGE_SIZE = 50;
const last = (url: string | undefined): string => url?.split('/').pop() ?? '';

type Row = Record<string, unknown>;
interface Column {
  label: MessageKey;
  value: (row: Row, t: Translate) => string;
}

const text = (value: unknown): string =>
  typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';

const rules = (row: Row, key: 'allowed' | 'denied'): string => {
  const list = row[key];
  if (!Array.isArray(list)) {
    return '';
  }
  return (list as { IPProtocol?: string; ports?: string[] }[])
    .map((r) => `${r.IPProtocol ?? ''}${r.ports === undefined ? '' : `:${r.ports.join(',')}`}`)
    .join(' ');
};

interface Tab {
  path: string;
  label: MessageKey;
  empty: MessageKey;
  columns: Column[];
  load: (project: string, pageToken: string | undefined) => Promise<Page<Row>>;
}

async function listGlobal(project: string, kind: string, pageToken: string | undefined): Promise<Page<Row>> {
  const query = new URLSearchParams({ maxResults: String(PAGE_SIZE) });
  if (pageToken !== undefined) {
    query.set('pageToken', pageToken);
  }
  const r = await call<{ items?: Row[]; nextPageToken?: string }>(
    'GET',
    `/compute/v1/projects/${enc(project)}/global/${kind}?${query.toString()}`,
  );
  return { items: r.items ?? [], nextPageToken: r.nextPageToken };
}

const TABS: Tab[] = [
  {
    path: '/networking/networks',
    label: 'vpc.networks',
    empty: 'vpc.emptyNetworks',
    columns: [
      { label: 'common.name', value: (r) => text(r.name) },
      {
        label: 'vpc.mode',
        value: (r) =>
          r.autoCreateSubnetworks === true ? 'auto' : r.IPv4Range === undefined ? 'custom' : 'legacy',
      },
      { label: 'vpc.subnets', value: (r) => String(Array.isArray(r.subnetworks) ? r.subnetworks.length : 0) },
      { label: 'vpc.mtu', value: (r) => text(r.mtu) },
    ],
    load: (project, token) => listGlobal(project, 'networks', token),
  },
  {
    path: '/networking/subnets',
    label: 'vpc.subnetsTab',
    empty: 'vpc.emptySubnets',
    columns: [
      { label: 'common.name', value: (r) => text(r.name) },
      { label: 'vpc.region', value: (r) => last(text(r.region)) },
      { label: 'vpc.network', value: (r) => last(text(r.network)) },
      { label: 'vpc.range', value: (r) => text(r.ipCidrRange) },
      { label: 'vpc.gateway', value: (r) => text(r.gatewayAddress) },
      {
        label: 'vpc.privateGoogleAccess',
        value: (r, t) => t(r.privateIpGoogleAccess === true ? 'vpc.on' : 'vpc.off'),
      },
    ],
    load: async (project, pageToken) => {
      const query = new URLSearchParams({ maxResults: String(PAGE_SIZE) });
      if (pageToken !== undefined) {
        query.set('pageToken', pageToken);
      }
      const r = await call<{ items?: Record<string, { subnetworks?: Row[] }>; nextPageToken?: string }>(
        'GET',
        `/compute/v1/projects/${enc(project)}/aggregated/subnetworks?${query.toString()}`,
      );
      const items = Object.values(r.items ?? {}).flatMap((scope) => scope.subnetworks ?? []);
      return { items, nextPageToken: r.nextPageToken };
    },
  },
  {
    path: '/networking/firewalls',
    label: 'vpc.firewalls',
    empty: 'vpc.emptyFirewalls',
    columns: [
      { label: 'common.name', value: (r) => text(r.name) },
      { label: 'vpc.network', value: (r) => last(text(r.network)) },
      { label: 'vpc.direction', value: (r) => text(r.direction) },
      { label: 'vpc.priority', value: (r) => text(r.priority) },
      {
        label: 'vpc.sources',
        value: (r) => (Array.isArray(r.sourceRanges) ? (r.sourceRanges as string[]).join(', ') : ''),
      },
      {
        label: 'vpc.action',
        value: (r) =>
          rules(r, 'allowed') !== '' ? `allow ${rules(r, 'allowed')}` : `deny ${rules(r, 'denied')}`,
      },
    ],
    load: (project, token) => listGlobal(project, 'firewalls', token),
  },
  {
    path: '/networking/routes',
    label: 'vpc.routes',
    empty: 'vpc.emptyRoutes',
    columns: [
      { label: 'common.name', value: (r) => text(r.name) },
      { label: 'vpc.network', value: (r) => last(text(r.network)) },
      { label: 'vpc.destination', value: (r) => text(r.destRange) },
      { label: 'vpc.priority', value: (r) => text(r.priority) },
      {
        label: 'vpc.nextHop',
        value: (r, t) =>
          last(text(r.nextHopGateway)) ||
          text(r.nextHopIp) ||
          last(text(r.nextHopInstance)) ||
          (r.nextHopNetwork !== undefined ? t('vpc.peering', { network: last(text(r.nextHopNetwork)) }) : ''),
      },
    ],
    load: (project, token) => listGlobal(project, 'routes', token),
  },
];

/** VPC network: networks, subnets, firewall rules and routes (read-only lists). */
export function VpcPage(props: { project: string; path: string }) {
  const { t } = useI18n();
  const tab = TABS.find((candidate) => props.path === candidate.path) ?? TABS[0];
  if (tab === undefined) {
    return null;
  }
  return (
    <>
      <h1>{t('nav.vpc')}</h1>
      <nav aria-label={t('nav.vpc')} className="tabs">
        {TABS.map((candidate) => (
          <Link key={candidate.path} to={candidate.path} current={candidate === tab}>
            {t(candidate.label)}
          </Link>
        ))}
      </nav>
      <VpcList key={`${props.project} ${tab.path}`} project={props.project} tab={tab} />
    </>
  );
}

function VpcList(props: { project: string; tab: Tab }) {
  const { t } = useI18n();
  const { tab } = props;
  const list = usePaged((pageToken) => tab.load(props.project, pageToken), `${props.project} ${tab.path}`);
  return (
    <>
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.page === undefined && list.error === undefined && <Loading />}
      {list.page?.items.length === 0 && list.pageIndex === 0 && <p className="muted">{t(tab.empty)}</p>}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table aria-label={t(tab.label)}>
            <thead>
              <tr>
                {tab.columns.map((column) => (
                  <th scope="col" key={column.label}>
                    {t(column.label)}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((row) => (
                <tr key={text(row.selfLink) || text(row.name)}>
                  {tab.columns.map((column) => (
                    <td key={column.label}>{column.value(row, t)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={list.pageIndex} hasNext={list.hasNext} onPrevious={list.previous} onNext={list.next} />
    </>
  );
}
