import { useEffect, useState, type SyntheticEvent } from 'react';
import { call, enc, type Project, type ServiceAccount } from '../api.ts';
import { ErrorBox, Link, Loading, Pager } from '../components.tsx';
import { useI18n } from '../i18n.ts';
import { usePaged } from '../paging.ts';
import '../styles/compute.css';
import {
  actionEnabled,
  CLOUD_PLATFORM_SCOPE,
  computeBase,
  confirmAndAct,
  DEFAULT_SCOPES,
  describeMachineType,
  detailsRoute,
  last,
  MOVING,
  openSsh,
  takeListWatch,
  type Instance,
  type MachineType,
  type Verb,
} from './compute-common.ts';

const PAGE_SIZE = 50;
const DEFAULT_REGION = 'asia-northeast3';
const DEFAULT_ZONE = 'asia-northeast3-a';
const IMAGES = [
  { label: 'Debian 12', value: 'projects/debian-cloud/global/images/family/debian-12' },
  { label: 'BusyBox', value: 'projects/nimbus-images/global/images/family/busybox' },
];
/** The select's value for the Compute Engine default service account (its email may not be known yet). */
const DEFAULT_ACCOUNT = 'default';
const NO_ACCOUNT = '';
const VERBS: readonly Verb[] = ['start', 'stop', 'reset', 'delete'];

interface Zone {
  name: string;
  region: string;
}

function CreateForm(props: { project: string; onCreated: () => void }) {
  const { t } = useI18n();
  const base = computeBase(props.project);
  const [zones, setZones] = useState<Zone[]>([]);
  const [region, setRegion] = useState(DEFAULT_REGION);
  const [zone, setZone] = useState(DEFAULT_ZONE);
  const [types, setTypes] = useState<MachineType[]>([]);
  const [machineType, setMachineType] = useState('e2-micro');
  const [image, setImage] = useState(IMAGES[0]?.value ?? '');
  const [name, setName] = useState('');
  const [startup, setStartup] = useState('');
  const [defaultEmail, setDefaultEmail] = useState<string | undefined>();
  const [accounts, setAccounts] = useState<ServiceAccount[]>([]);
  const [account, setAccount] = useState(DEFAULT_ACCOUNT);
  const [fullAccess, setFullAccess] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    call<{ items?: { name: string; region?: string }[] }>('GET', `${base}/zones?maxResults=500`).then(
      (r) => {
        setZones((r.items ?? []).map((z) => ({ name: z.name, region: last(z.region) })));
      },
      (failure: unknown) => {
        setError(failure);
      },
    );
  }, [base]);
  useEffect(() => {
    // The default account is named after the project number; the project's own accounts follow.
    // Either may be refused (a viewer): the choices then fall back to "default" and "none".
    call<Project>('GET', `/v1/projects/${enc(props.project)}`).then(
      (p) => {
        if (p.projectNumber !== undefined) {
          setDefaultEmail(`${p.projectNumber}-compute@developer.gserviceaccount.com`);
        }
      },
      () => undefined,
    );
    call<{ accounts?: ServiceAccount[] }>(
      'GET',
      `/v1/projects/${enc(props.project)}/serviceAccounts?pageSize=100`,
    ).then(
      (r) => {
        setAccounts((r.accounts ?? []).filter((a) => a.disabled !== true));
      },
      () => undefined,
    );
  }, [props.project]);
  useEffect(() => {
    call<{ items?: MachineType[] }>('GET', `${base}/zones/${enc(zone)}/machineTypes?maxResults=500`).then(
      (r) => {
        setTypes(r.items ?? []);
      },
      (failure: unknown) => {
        setError(failure);
      },
    );
  }, [base, zone]);

  const regions = [...new Set([region, ...zones.map((z) => z.region)])].sort();
  const regionZones = zones.filter((z) => z.region === region).map((z) => z.name);
  const zoneChoices = regionZones.includes(zone) ? regionZones : [zone, ...regionZones];
  const others = accounts.filter((a) => a.email !== defaultEmail);

  const changeRegion = (next: string): void => {
    setRegion(next);
    const inRegion = zones.filter((z) => z.region === next).map((z) => z.name);
    setZone(inRegion.includes(`${next}-a`) ? `${next}-a` : (inRegion[0] ?? zone));
  };

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    const email = account === DEFAULT_ACCOUNT ? (defaultEmail ?? 'default') : account;
    try {
      await call('POST', `${base}/zones/${enc(zone)}/instances`, {
        name,
        machineType: `zones/${zone}/machineTypes/${machineType}`,
        disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: image } }],
        networkInterfaces: [
          { network: 'global/networks/default', accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] },
        ],
        serviceAccounts:
          account === NO_ACCOUNT
            ? []
            : [{ email, scopes: fullAccess ? [CLOUD_PLATFORM_SCOPE] : DEFAULT_SCOPES }],
        ...(startup === '' ? {} : { metadata: { items: [{ key: 'startup-script', value: startup }] } }),
      });
      setName('');
      props.onCreated();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form vm-form" onSubmit={(event) => void submit(event)} aria-labelledby="vm-create">
      <h2 id="vm-create">{t('vm.create')}</h2>
      <label>
        {t('common.name')}
        <input
          name="name"
          required
          pattern="[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
          autoComplete="off"
          value={name}
          onChange={(event) => {
            setName(event.target.value);
          }}
        />
      </label>
      <label>
        {t('vm.region')}
        <select
          aria-label={t('vm.region')}
          value={region}
          onChange={(event) => {
            changeRegion(event.target.value);
          }}
        >
          {regions.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      <label>
        {t('vm.zone')}
        <select
          aria-label={t('vm.zone')}
          value={zone}
          onChange={(event) => {
            setZone(event.target.value);
          }}
        >
          {zoneChoices.map((z) => (
            <option key={z}>{z}</option>
          ))}
        </select>
      </label>
      <label>
        {t('vm.machineType')}
        <select
          aria-label={t('vm.machineType')}
          value={machineType}
          onChange={(event) => {
            setMachineType(event.target.value);
          }}
        >
          {types.map((m) => (
            <option key={m.name} value={m.name}>
              {describeMachineType(t, m)}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('vm.image')}
        <select
          aria-label={t('vm.image')}
          value={image}
          onChange={(event) => {
            setImage(event.target.value);
          }}
        >
          {IMAGES.map((i) => (
            <option key={i.value} value={i.value}>
              {i.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('vm.serviceAccount')}
        <select
          aria-label={t('vm.serviceAccount')}
          value={account}
          onChange={(event) => {
            setAccount(event.target.value);
          }}
        >
          <option value={DEFAULT_ACCOUNT}>
            {defaultEmail === undefined
              ? t('vm.defaultServiceAccount')
              : `${t('vm.defaultServiceAccount')} (${defaultEmail})`}
          </option>
          {others.map((a) => (
            <option key={a.email} value={a.email}>
              {a.displayName !== undefined && a.displayName !== ''
                ? `${a.displayName} (${a.email})`
                : a.email}
            </option>
          ))}
          <option value={NO_ACCOUNT}>{t('vm.noServiceAccount')}</option>
        </select>
      </label>
      <fieldset className="vm-scopes" disabled={account === NO_ACCOUNT}>
        <legend>{t('vm.scopes')}</legend>
        <label>
          <input
            type="radio"
            name="scopes"
            checked={!fullAccess}
            onChange={() => {
              setFullAccess(false);
            }}
          />
          {t('vm.scopesDefault')}
        </label>
        <label>
          <input
            type="radio"
            name="scopes"
            checked={fullAccess}
            onChange={() => {
              setFullAccess(true);
            }}
          />
          {t('vm.scopesFull')}
        </label>
      </fieldset>
      <label className="vm-startup">
        {t('vm.startupScript')}
        <textarea
          rows={2}
          spellCheck={false}
          value={startup}
          onChange={(event) => {
            setStartup(event.target.value);
          }}
        />
      </label>
      <button type="submit" className="primary" disabled={busy}>
        {t('common.create')}
      </button>
      {error !== undefined && <ErrorBox error={error} />}
    </form>
  );
}

export function InstancesPage(props: { project: string }) {
  const { t, language } = useI18n();
  const base = computeBase(props.project);
  const list = usePaged(async (pageToken) => {
    const query = new URLSearchParams({ maxResults: String(PAGE_SIZE) });
    if (pageToken !== undefined) {
      query.set('pageToken', pageToken);
    }
    const r = await call<{ items?: Record<string, { instances?: Instance[] }>; nextPageToken?: string }>(
      'GET',
      `${base}/aggregated/instances?${query.toString()}`,
    );
    const items = Object.values(r.items ?? {}).flatMap((scope) => scope.instances ?? []);
    items.sort((a, b) => a.name.localeCompare(b.name));
    return { items, nextPageToken: r.nextPageToken };
  }, props.project);
  const [error, setError] = useState<unknown>();
  const moving = list.page?.items.some((i) => MOVING.has(i.status)) ?? false;
  // After an action, keep refreshing for a while: its operation may not have started yet.
  const [watchUntil, setWatchUntil] = useState(takeListWatch);
  const { reload } = list;
  useEffect(() => {
    if (!moving && watchUntil === 0) {
      return;
    }
    const timer = setInterval(() => {
      if (!moving && Date.now() > watchUntil) {
        setWatchUntil(0);
      }
      reload();
    }, 1500);
    return () => {
      clearInterval(timer);
    };
  }, [moving, watchUntil, reload]);

  const act = async (instance: Instance, verb: Verb): Promise<void> => {
    setError(undefined);
    try {
      if (await confirmAndAct(t, language, props.project, instance, verb)) {
        setWatchUntil(Date.now() + 30_000);
        reload();
      }
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <>
      <h1>{t('vm.title')}</h1>
      <CreateForm
        project={props.project}
        onCreated={() => {
          setWatchUntil(Date.now() + 30_000);
          reload();
        }}
      />
      {error !== undefined && <ErrorBox error={error} />}
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={reload} />}
      {list.page === undefined && list.error === undefined && <Loading />}
      {list.page?.items.length === 0 && list.pageIndex === 0 && <p className="muted">{t('vm.empty')}</p>}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table className="vm-table" aria-label={t('vm.title')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('vm.zone')}</th>
                <th scope="col" className="hide-narrow">
                  {t('vm.machineType')}
                </th>
                <th scope="col">{t('vm.internalIp')}</th>
                <th scope="col" className="hide-narrow">
                  {t('vm.externalIp')}
                </th>
                <th scope="col">{t('common.status')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((instance) => {
                const nic = instance.networkInterfaces?.[0];
                const zone = last(instance.zone);
                return (
                  <tr key={`${instance.zone}/${instance.name}`}>
                    <td>
                      <Link to={detailsRoute(zone, instance.name)}>{instance.name}</Link>
                    </td>
                    <td>{zone}</td>
                    <td className="hide-narrow">{last(instance.machineType)}</td>
                    <td>{nic?.networkIP ?? ''}</td>
                    <td className="hide-narrow">{nic?.accessConfigs?.[0]?.natIP ?? t('vm.none')}</td>
                    <td>
                      <span className={`vm-status vm-status-${instance.status.toLowerCase()}`}>
                        {instance.status}
                      </span>
                    </td>
                    <td>
                      <div className="actions">
                        <button
                          type="button"
                          disabled={!actionEnabled(instance.status, 'ssh')}
                          onClick={() => {
                            openSsh(props.project, zone, instance.name);
                          }}
                          aria-label={`${t('vm.ssh')}: ${instance.name}`}
                        >
                          {t('vm.ssh')}
                        </button>
                        {VERBS.map((verb) => (
                          <button
                            key={verb}
                            type="button"
                            disabled={!actionEnabled(instance.status, verb)}
                            onClick={() => void act(instance, verb)}
                            aria-label={`${t(`vm.${verb}`)}: ${instance.name}`}
                          >
                            {t(`vm.${verb}`)}
                          </button>
                        ))}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={list.pageIndex} hasNext={list.hasNext} onPrevious={list.previous} onNext={list.next} />
    </>
  );
}
