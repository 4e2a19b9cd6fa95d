import { useEffect, useState, type SyntheticEvent } from 'react';
import { call, enc, errorText, type Bucket, type Project, type ServiceInfo } from '../api.ts';
import { ErrorBox, Loading } from '../components.tsx';
import { useI18n, type MessageKey } from '../i18n.ts';
import {
  diskMonthlyUsd,
  formatUsd,
  HOURS_PER_MONTH,
  machineHourlyUsd,
  PRICE_SOURCES,
  regionOfZone,
  storageMonthlyUsd,
} from '../pricing.ts';
import { formatSize } from '../format.ts';
import '../styles/home.css';
import { TextField } from '../ui/forms.tsx';
import { useLoad } from '../ui/load.ts';
import { DataTable } from '../ui/table.tsx';

/** Internal plugins that are not services a user manages. */
const HIDDEN = new Set(['nimbus', 'longrunning', 'metadata', 'testbench']);

interface Count {
  n: number;
  more: boolean;
}

/** How many resources a service holds in the project (first page of its main list). */
const COUNTERS: Record<string, { key: MessageKey; count: (project: string) => Promise<Count> }> = {
  storage: {
    key: 'home.buckets',
    count: async (project) => {
      const r = await call<{ items?: unknown[]; nextPageToken?: string }>(
        'GET',
        `/storage/v1/b?project=${enc(project)}&maxResults=1000`,
      );
      return { n: r.items?.length ?? 0, more: r.nextPageToken !== undefined };
    },
  },
  iam: {
    key: 'home.serviceAccounts',
    count: async (project) => {
      const r = await call<{ accounts?: unknown[]; nextPageToken?: string }>(
        'GET',
        `/v1/projects/${enc(project)}/serviceAccounts?pageSize=100`,
      );
      return { n: r.accounts?.length ?? 0, more: r.nextPageToken !== undefined };
    },
  },
  compute: {
    key: 'home.instances',
    count: async (project) => {
      const r = await call<{ items?: Record<string, { instances?: unknown[] }>; nextPageToken?: string }>(
        'GET',
        `/compute/v1/projects/${enc(project)}/aggregated/instances?maxResults=500`,
      );
      const n = Object.values(r.items ?? {}).reduce((sum, scope) => sum + (scope.instances?.length ?? 0), 0);
      return { n, more: r.nextPageToken !== undefined };
    },
  },
};

function ResourceCount(props: { service: ServiceInfo; project: string }) {
  const { t } = useI18n();
  const counter = COUNTERS[props.service.name];
  const [text, setText] = useState<string>(counter === undefined ? t('home.noCount') : t('common.loading'));
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (counter === undefined || props.service.state !== 'ready') {
      setText(t('home.noCount'));
      return;
    }
    let live = true;
    counter.count(props.project).then(
      (c) => {
        if (live) {
          setText(c.more ? t('home.more', { n: c.n }) : t(counter.key, { n: c.n }));
        }
      },
      (error: unknown) => {
        if (live) {
          setFailed(true);
          setText(t('common.error', { message: errorText(error) }));
        }
      },
    );
    return () => {
      live = false;
    };
  }, [counter, props.project, props.service.state, t]);
  return <span className={failed ? 'error-text' : undefined}>{text}</span>;
}

/** Resource Manager projects.create (v1 answers a finished operation). */
function CreateProjectForm(props: { onCreated: (projectId: string) => void }) {
  const { t } = useI18n();
  const [projectId, setProjectId] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    try {
      await call('POST', '/v1/projects', { projectId, ...(name === '' ? {} : { name }) });
      props.onCreated(projectId);
      setProjectId('');
      setName('');
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <details className="card">
      <summary>{t('project.create')}</summary>
      <form className="form" onSubmit={(event) => void submit(event)}>
        <TextField
          label={t('home.projectId')}
          name="projectId"
          required
          pattern="[a-z][a-z0-9\-]{4,28}[a-z0-9]"
          value={projectId}
          onValue={setProjectId}
        />
        <TextField label={t('home.projectName')} name="projectName" value={name} onValue={setName} />
        <button type="submit" className="primary">
          {t('common.create')}
        </button>
        {error !== undefined && <ErrorBox error={error} />}
      </form>
    </details>
  );
}

// --- Estimated monthly cost ------------------------------------------------------------------------
// Built from the project's resources (aggregated instance and disk lists, buckets and their object
// sizes) and the public list prices in ../pricing.ts. Every list is read a bounded number of pages,
// so a project with thousands of objects never freezes the page: past a cap the card says "at least".

/** Aggregated lists: pages of 500 read at most (5,000 instances, 5,000 disks). */
const AGGREGATED_PAGE_SIZE = 500;
const AGGREGATED_PAGES = 10;
/** Buckets whose objects are summed, and pages of 1,000 objects read per bucket. */
const BUCKET_CAP = 20;
const OBJECT_PAGE_SIZE = 1000;
const OBJECT_PAGES = 10;

interface CostInstance {
  name: string;
  zone: string;
  status: string;
  machineType?: string;
  disks?: { source?: string }[];
}

interface CostDisk {
  name: string;
  zone: string;
  sizeGb?: string;
  type?: string;
}

type CostSection = 'running' | 'stopped' | 'disks' | 'storage';

interface CostLine {
  section: CostSection;
  key: string;
  label: string;
  /** The details message; `hourly` (a price per hour) is formatted in the page's language. */
  detail: { key: MessageKey; params: Record<string, string | number>; hourly?: number };
  /** Undefined: the table has no list price for it. */
  amount: number | undefined;
  /** The amount is a lower bound (a listing stopped at its cap). */
  atLeast: boolean;
}

interface Estimate {
  lines: CostLine[];
  /** Sum of the priced lines. */
  total: number;
  /** Some list stopped at its cap, so the total is a lower bound. */
  atLeast: boolean;
  bucketsCapped: boolean;
  instancesCapped: boolean;
  errors: { section: CostSection; error: unknown }[];
}

const SECTIONS: { section: CostSection; key: MessageKey }[] = [
  { section: 'running', key: 'home.cost.running' },
  { section: 'stopped', key: 'home.cost.stopped' },
  { section: 'disks', key: 'home.cost.disks' },
  { section: 'storage', key: 'home.cost.storage' },
];

const lastOf = (url: string | undefined): string => url?.split('/').pop() ?? '';

/** `zone/name` of a disk, from its resource or from an instance's `disks[].source` URL. */
const diskKey = (zone: string, name: string): string => `${lastOf(zone)}/${name}`;

function sourceKey(source: string | undefined): string | undefined {
  const match = /zones\/([^/]+)\/disks\/([^/?]+)$/.exec(source ?? '');
  return match === null ? undefined : `${match[1] ?? ''}/${match[2] ?? ''}`;
}

/** Every item of an aggregated list (`items: { "zones/Z": { field: [...] } }`), up to the page cap. */
async function aggregatedList(path: string, field: string): Promise<{ items: unknown[]; capped: boolean }> {
  const items: unknown[] = [];
  let token: string | undefined;
  for (let page = 0; page < AGGREGATED_PAGES; page += 1) {
    const query = `maxResults=${String(AGGREGATED_PAGE_SIZE)}${token === undefined ? '' : `&pageToken=${enc(token)}`}`;
    const r = await call<{ items?: Record<string, Record<string, unknown>>; nextPageToken?: string }>(
      'GET',
      `${path}?${query}`,
    );
    for (const scope of Object.values(r.items ?? {})) {
      const values = scope[field];
      if (Array.isArray(values)) {
        items.push(...(values as unknown[]));
      }
    }
    token = r.nextPageToken;
    if (token === undefined) {
      return { items, capped: false };
    }
  }
  return { items, capped: true };
}

/** Bytes stored in a bucket, summed from its object listing (at most OBJECT_PAGES pages). */
async function bucketBytes(bucket: string): Promise<{ bytes: number; capped: boolean }> {
  let bytes = 0;
  let token: string | undefined;
  for (let page = 0; page < OBJECT_PAGES; page += 1) {
    const r = await call<{ items?: { size?: string }[]; nextPageToken?: string }>(
      'GET',
      `/storage/v1/b/${enc(bucket)}/o?fields=${enc('items(size),nextPageToken')}&maxResults=${String(OBJECT_PAGE_SIZE)}${
        token === undefined ? '' : `&pageToken=${enc(token)}`
      }`,
    );
    for (const item of r.items ?? []) {
      const size = Number(item.size ?? 0);
      bytes += Number.isFinite(size) ? size : 0;
    }
    token = r.nextPageToken;
    if (token === undefined) {
      return { bytes, capped: false };
    }
  }
  return { bytes, capped: true };
}

function formatHourly(amount: number, language: string): string {
  return new Intl.NumberFormat(language === 'ko' ? 'ko-KR' : 'en-US', {
    style: 'currency',
    currency: 'USD',
    minimumFractionDigits: 2,
    maximumFractionDigits: 4,
  }).format(amount);
}

const sum = (values: (number | undefined)[]): number | undefined =>
  values.some((v) => v === undefined) ? undefined : values.reduce<number>((a, v) => a + (v ?? 0), 0);

async function computeLines(project: string): Promise<{ lines: CostLine[]; capped: boolean }> {
  const base = `/compute/v1/projects/${enc(project)}`;
  const [instanceList, diskList] = await Promise.all([
    aggregatedList(`${base}/aggregated/instances`, 'instances'),
    aggregatedList(`${base}/aggregated/disks`, 'disks'),
  ]);
  const instances = { ...instanceList, items: instanceList.items as CostInstance[] };
  const disks = { ...diskList, items: diskList.items as CostDisk[] };
  const lines: CostLine[] = [];
  const disksByKey = new Map(disks.items.map((d) => [diskKey(d.zone, d.name), d]));
  const diskPrice = (disk: CostDisk): number | undefined =>
    diskMonthlyUsd(disk.type ?? '', Number(disk.sizeGb ?? 0), regionOfZone(lastOf(disk.zone)));

  // Running VMs, grouped by machine type and region.
  const running = new Map<string, { type: string; region: string; count: number }>();
  const stoppedDisks = new Set<string>();
  for (const instance of instances.items) {
    const region = regionOfZone(lastOf(instance.zone));
    if (instance.status === 'TERMINATED' || instance.status === 'SUSPENDED') {
      const own = (instance.disks ?? [])
        .map((d) => sourceKey(d.source))
        .flatMap((key) => (key === undefined ? [] : [key]));
      const found = own.flatMap((key) => {
        const disk = disksByKey.get(key);
        return disk === undefined ? [] : [disk];
      });
      own.forEach((key) => stoppedDisks.add(key));
      const gb = found.reduce((a, d) => a + Number(d.sizeGb ?? 0), 0);
      lines.push({
        section: 'stopped',
        key: `stopped/${lastOf(instance.zone)}/${instance.name}`,
        label: `${instance.name} (${lastOf(instance.zone)})`,
        detail: { key: 'home.cost.stoppedDetail', params: { disks: found.length, gb } },
        amount: sum(found.map(diskPrice)),
        atLeast: false,
      });
      continue;
    }
    const type = lastOf(instance.machineType);
    const key = `${type}@${region}`;
    const group = running.get(key) ?? { type, region, count: 0 };
    group.count += 1;
    running.set(key, group);
  }
  for (const [key, group] of [...running.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const hourly = machineHourlyUsd(group.type, group.region);
    lines.push({
      section: 'running',
      key: `running/${key}`,
      label: `${group.type} · ${group.region}`,
      detail:
        hourly === undefined
          ? { key: 'home.instances', params: { n: group.count } }
          : {
              key: 'home.cost.runningDetail',
              params: { count: group.count, hours: HOURS_PER_MONTH },
              hourly,
            },
      amount: hourly === undefined ? undefined : group.count * hourly * HOURS_PER_MONTH,
      atLeast: false,
    });
  }

  // Every other disk (of running VMs, or attached to nothing), grouped by type and region.
  const diskGroups = new Map<string, { type: string; region: string; disks: CostDisk[] }>();
  for (const disk of disks.items) {
    if (stoppedDisks.has(diskKey(disk.zone, disk.name))) {
      continue;
    }
    const type = lastOf(disk.type);
    const region = regionOfZone(lastOf(disk.zone));
    const key = `${type}@${region}`;
    const group = diskGroups.get(key) ?? { type, region, disks: [] };
    group.disks.push(disk);
    diskGroups.set(key, group);
  }
  for (const [key, group] of [...diskGroups.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push({
      section: 'disks',
      key: `disks/${key}`,
      label: `${group.type} · ${group.region}`,
      detail: {
        key: 'home.cost.disksDetail',
        params: { count: group.disks.length, gb: group.disks.reduce((a, d) => a + Number(d.sizeGb ?? 0), 0) },
      },
      amount: sum(group.disks.map(diskPrice)),
      atLeast: false,
    });
  }
  return { lines, capped: instances.capped || disks.capped };
}

async function storageLines(project: string): Promise<{ lines: CostLine[]; capped: boolean }> {
  const r = await call<{ items?: Bucket[]; nextPageToken?: string }>(
    'GET',
    `/storage/v1/b?project=${enc(project)}&maxResults=${String(BUCKET_CAP)}`,
  );
  const buckets = r.items ?? [];
  const sizes = await Promise.all(buckets.map((b) => bucketBytes(b.name)));
  const groups = new Map<
    string,
    { storageClass: string; location: string; count: number; bytes: number; capped: boolean }
  >();
  buckets.forEach((bucket, index) => {
    const storageClass = (bucket.storageClass ?? 'STANDARD').toUpperCase();
    const location = (bucket.location ?? 'US').toUpperCase();
    const key = `${storageClass}@${location}`;
    const group = groups.get(key) ?? { storageClass, location, count: 0, bytes: 0, capped: false };
    const size = sizes[index] ?? { bytes: 0, capped: false };
    group.count += 1;
    group.bytes += size.bytes;
    group.capped ||= size.capped;
    groups.set(key, group);
  });
  const lines = [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, group]): CostLine => ({
      section: 'storage',
      key: `storage/${key}`,
      label: `${group.storageClass} · ${group.location}`,
      detail: group.capped
        ? {
            key: 'home.cost.storageDetailAtLeast',
            params: {
              count: group.count,
              size: formatSize(group.bytes, 'price'),
              objects: OBJECT_PAGES * OBJECT_PAGE_SIZE,
            },
          }
        : {
            key: 'home.cost.storageDetail',
            params: { count: group.count, size: formatSize(group.bytes, 'price') },
          },
      amount: storageMonthlyUsd(group.storageClass, group.location, group.bytes),
      atLeast: group.capped,
    }));
  return { lines, capped: r.nextPageToken !== undefined };
}

async function estimate(project: string): Promise<Estimate> {
  const [compute, storage] = await Promise.allSettled([computeLines(project), storageLines(project)]);
  const errors: Estimate['errors'] = [];
  const lines: CostLine[] = [];
  if (compute.status === 'fulfilled') {
    lines.push(...compute.value.lines);
  } else {
    errors.push({ section: 'running', error: compute.reason });
  }
  if (storage.status === 'fulfilled') {
    lines.push(...storage.value.lines);
  } else {
    errors.push({ section: 'storage', error: storage.reason });
  }
  const instancesCapped = compute.status === 'fulfilled' && compute.value.capped;
  const bucketsCapped = storage.status === 'fulfilled' && storage.value.capped;
  return {
    lines,
    total: lines.reduce((a, line) => a + (line.amount ?? 0), 0),
    atLeast: instancesCapped || bucketsCapped || lines.some((line) => line.atLeast) || errors.length > 0,
    bucketsCapped,
    instancesCapped,
    errors,
  };
}

function CostCard(props: { project: string }) {
  const { t, language } = useI18n();
  const load = useLoad(() => estimate(props.project), [props.project], { reset: true });
  const { value: result, error, reload } = load;

  const money = (amount: number | undefined, atLeast: boolean): string =>
    amount === undefined
      ? t('home.cost.noPrice')
      : atLeast
        ? t('home.cost.atLeast', { amount: formatUsd(amount, language) })
        : formatUsd(amount, language);
  const unpriced = result?.lines.filter((line) => line.amount === undefined).length ?? 0;
  const link = (href: string, key: MessageKey) => (
    <a href={href} target="_blank" rel="noreferrer">
      {t(key)}
      <span className="visually-hidden"> {t('home.cost.newTab')}</span>
    </a>
  );

  return (
    <section
      className="card cost"
      aria-labelledby="cost-title"
      aria-busy={result === undefined && error === undefined}
    >
      <div className="cost-head">
        <h2 id="cost-title">{t('home.cost.title')}</h2>
        <button type="button" onClick={reload}>
          {t('home.cost.refresh')}
        </button>
      </div>
      {error !== undefined && <ErrorBox error={error} onRetry={reload} />}
      {result === undefined && error === undefined && <Loading />}
      {result !== undefined && (
        <>
          <p className="cost-total">
            <span>{t('home.cost.total')}</span>{' '}
            <strong data-testid="cost-total">{money(result.total, result.atLeast)}</strong>
          </p>
          {result.errors.map((e) => (
            <p key={e.section} role="alert" className="error-text">
              {t('home.cost.sectionError', {
                section: t(e.section === 'storage' ? 'home.cost.storage' : 'home.cost.running'),
                message: errorText(e.error),
              })}
            </p>
          ))}
          {result.lines.length === 0 && result.errors.length === 0 && <p>{t('home.cost.empty')}</p>}
          {result.lines.length > 0 && (
            <div className="table-wrap">
              <table className="cost-table">
                <thead>
                  <tr>
                    <th scope="col">{t('home.cost.item')}</th>
                    <th scope="col">{t('home.cost.details')}</th>
                    <th scope="col" className="cost-amount">
                      {t('home.cost.perMonth')}
                    </th>
                  </tr>
                </thead>
                {SECTIONS.map(({ section, key }) => {
                  const lines = result.lines.filter((line) => line.section === section);
                  if (lines.length === 0) {
                    return null;
                  }
                  return (
                    <tbody key={section} data-testid={`cost-${section}`}>
                      <tr className="cost-section">
                        <th scope="colgroup" colSpan={3}>
                          {t(key)}
                        </th>
                      </tr>
                      {section === 'stopped' && (
                        <tr>
                          <td colSpan={3} className="warn cost-warning">
                            {t('home.cost.stoppedWarning')}
                          </td>
                        </tr>
                      )}
                      {lines.map((line) => (
                        <tr key={line.key}>
                          <td>
                            <code>{line.label}</code>
                          </td>
                          <td>
                            {t(line.detail.key, {
                              ...line.detail.params,
                              ...(line.detail.hourly === undefined
                                ? {}
                                : { hourly: formatHourly(line.detail.hourly, language) }),
                            })}
                          </td>
                          <td className={line.amount === undefined ? 'cost-amount muted' : 'cost-amount'}>
                            {money(line.amount, line.atLeast)}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  );
                })}
              </table>
            </div>
          )}
          {unpriced > 0 && <p className="muted">{t('home.cost.unpriced', { n: unpriced })}</p>}
          {result.instancesCapped && (
            <p className="muted">
              {t('home.cost.instancesCapped', { n: AGGREGATED_PAGES * AGGREGATED_PAGE_SIZE })}
            </p>
          )}
          {result.bucketsCapped && <p className="muted">{t('home.cost.bucketsCapped', { n: BUCKET_CAP })}</p>}
        </>
      )}
      <p className="muted cost-note">{t('home.cost.note', { date: PRICE_SOURCES.retrieved })}</p>
      <p className="muted cost-note">
        {t('home.cost.sources')} {link(PRICE_SOURCES.compute, 'home.cost.sourceCompute')} ·{' '}
        {link(PRICE_SOURCES.disks, 'home.cost.sourceDisks')} ·{' '}
        {link(PRICE_SOURCES.storage, 'home.cost.sourceStorage')}
      </p>
    </section>
  );
}

export function HomePage(props: {
  project: Project | undefined;
  projectsError: unknown;
  onProjectCreated: (projectId: string) => void;
}) {
  const { t } = useI18n();
  const load = useLoad(async () => {
    const r = await call<{ services: ServiceInfo[] }>('GET', '/_nimbus/services');
    return r.services.filter((s) => !HIDDEN.has(s.name));
  }, []);
  const { value: services, error } = load;

  const project = props.project;
  return (
    <>
      <h1>{t('home.title')}</h1>
      {props.projectsError !== undefined && <ErrorBox error={props.projectsError} />}
      {project === undefined ? (
        props.projectsError === undefined && <p>{t('home.noProject')}</p>
      ) : (
        <section className="card" aria-labelledby="project-info">
          <h2 id="project-info">{t('home.projectInfo')}</h2>
          <dl className="facts">
            <dt>{t('home.projectName')}</dt>
            <dd data-testid="project-name">{project.name ?? project.projectId}</dd>
            <dt>{t('home.projectId')}</dt>
            <dd data-testid="project-id">{project.projectId}</dd>
            <dt>{t('home.projectNumber')}</dt>
            <dd data-testid="project-number">{project.projectNumber ?? ''}</dd>
          </dl>
        </section>
      )}
      {project !== undefined && <CostCard project={project.projectId} />}
      <CreateProjectForm onCreated={props.onProjectCreated} />
      <section className="card" aria-labelledby="resources">
        <h2 id="resources">{t('home.resources')}</h2>
        {error !== undefined && <ErrorBox error={error} onRetry={load.reload} />}
        {services === undefined && error === undefined && <Loading />}
        {services !== undefined && (
          <DataTable
            columns={[
              t('home.service'),
              { label: t('home.api'), hideNarrow: true },
              t('home.state'),
              t('home.count'),
            ]}
          >
            {services.map((service) => (
              <tr key={service.name}>
                <td>{service.title}</td>
                <td className="hide-narrow">
                  <code>{service.name}</code>
                </td>
                <td>
                  {service.state === 'ready' ? (
                    <span className="ok">{t('home.ready')}</span>
                  ) : (
                    <span className="warn" title={service.fix}>
                      {t('home.unavailable')}
                      {service.reason !== undefined && `: ${service.reason}`}
                    </span>
                  )}
                </td>
                <td>
                  {project !== undefined ? (
                    <ResourceCount service={service} project={project.projectId} />
                  ) : (
                    ''
                  )}
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>
    </>
  );
}
