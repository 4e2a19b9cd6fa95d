import { useEffect, useState, type SyntheticEvent } from 'react';
import { call, enc } from '../api.ts';
import { ErrorBox, Loading, Pager } from '../components.tsx';
import { useI18n } from '../i18n.ts';
import { usePaged } from '../paging.ts';

const PAGE_SIZE = 50;
/** States an instance passes through on its way somewhere: the list refreshes while one shows. */
const MOVING = new Set(['PROVISIONING', 'STAGING', 'STOPPING', 'SUSPENDING', 'REPAIRING']);
const IMAGES = [
  { label: 'Debian 12', value: 'projects/debian-cloud/global/images/family/debian-12' },
  { label: 'BusyBox', value: 'projects/nimbus-images/global/images/family/busybox' },
];

interface Instance {
  name: string;
  zone: string;
  status: string;
  machineType?: string;
  networkInterfaces?: { networkIP?: string; accessConfigs?: { natIP?: string }[] }[];
}

interface MachineType {
  name: string;
  guestCpus?: number;
  memoryMb?: number;
}

const last = (url: string | undefined): string => url?.split('/').pop() ?? '';

function CreateForm(props: { project: string; onCreated: () => void }) {
  const { t } = useI18n();
  const base = `/compute/v1/projects/${enc(props.project)}`;
  const [zones, setZones] = useState<string[]>([]);
  const [zone, setZone] = useState('asia-northeast3-a');
  const [types, setTypes] = useState<MachineType[]>([]);
  const [machineType, setMachineType] = useState('e2-micro');
  const [image, setImage] = useState(IMAGES[0]?.value ?? '');
  const [name, setName] = useState('');
  const [startup, setStartup] = useState('');
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    call<{ items?: { name: string }[] }>('GET', `${base}/zones?maxResults=500`).then(
      (r) => {
        setZones((r.items ?? []).map((z) => z.name));
      },
      (failure: unknown) => {
        setError(failure);
      },
    );
  }, [base]);
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
  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    try {
      await call('POST', `${base}/zones/${enc(zone)}/instances`, {
        name,
        machineType: `zones/${zone}/machineTypes/${machineType}`,
        disks: [{ boot: true, autoDelete: true, initializeParams: { sourceImage: image } }],
        networkInterfaces: [
          { network: 'global/networks/default', accessConfigs: [{ type: 'ONE_TO_ONE_NAT' }] },
        ],
        ...(startup === '' ? {} : { metadata: { items: [{ key: 'startup-script', value: startup }] } }),
      });
      setName('');
      props.onCreated();
    } catch (failure) {
      setError(failure);
    }
  };
  const describe = (m: MachineType): string =>
    `${m.name} (${t('vm.shape', { cpus: m.guestCpus ?? 0, memory: ((m.memoryMb ?? 0) / 1024).toFixed(1) })})`;
  return (
    <form className="card form" onSubmit={(event) => void submit(event)} aria-labelledby="vm-create">
      <h2 id="vm-create">{t('vm.create')}</h2>
      <label>
        {t('common.name')}
        <input
          name="name"
          required
          pattern="[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
          value={name}
          onChange={(event) => {
            setName(event.target.value);
          }}
        />
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
          {(zones.includes(zone) ? zones : [zone, ...zones]).map((z) => (
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
              {describe(m)}
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
        {t('vm.startupScript')}
        <textarea
          rows={1}
          value={startup}
          onChange={(event) => {
            setStartup(event.target.value);
          }}
        />
      </label>
      <button type="submit" className="primary">
        {t('common.create')}
      </button>
      {error !== undefined && <ErrorBox error={error} />}
    </form>
  );
}

export function InstancesPage(props: { project: string }) {
  const { t } = useI18n();
  const base = `/compute/v1/projects/${enc(props.project)}`;
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
  const [watchUntil, setWatchUntil] = useState(0);
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

  const act = async (instance: Instance, verb: 'start' | 'stop' | 'reset' | 'delete'): Promise<void> => {
    const confirmations = {
      start: '',
      stop: t('vm.confirmStop', { name: instance.name }),
      reset: t('vm.confirmReset', { name: instance.name }),
      delete: t('vm.confirmDelete', { name: instance.name }),
    };
    if (confirmations[verb] !== '' && !window.confirm(confirmations[verb])) {
      return;
    }
    setError(undefined);
    const path = `${base}/zones/${enc(last(instance.zone))}/instances/${enc(instance.name)}`;
    try {
      await call(verb === 'delete' ? 'DELETE' : 'POST', verb === 'delete' ? path : `${path}/${verb}`);
      setWatchUntil(Date.now() + 30_000);
      reload();
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
          <table aria-label={t('vm.title')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('vm.zone')}</th>
                <th scope="col">{t('vm.machineType')}</th>
                <th scope="col">{t('vm.internalIp')}</th>
                <th scope="col">{t('vm.externalIp')}</th>
                <th scope="col">{t('common.status')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((instance) => {
                const nic = instance.networkInterfaces?.[0];
                const running = instance.status === 'RUNNING';
                return (
                  <tr key={`${instance.zone}/${instance.name}`}>
                    <td>{instance.name}</td>
                    <td>{last(instance.zone)}</td>
                    <td>{last(instance.machineType)}</td>
                    <td>{nic?.networkIP ?? ''}</td>
                    <td>{nic?.accessConfigs?.[0]?.natIP ?? t('vm.none')}</td>
                    <td>{instance.status}</td>
                    <td>
                      <div className="actions">
                        <button
                          type="button"
                          disabled={!running}
                          onClick={() => {
                            const path = `/compute/instances/ssh/${enc(last(instance.zone))}/${enc(instance.name)}`;
                            window.open(
                              `${path}?project=${enc(props.project)}`,
                              `ssh-${instance.name}`,
                              'popup,width=900,height=600',
                            );
                          }}
                          aria-label={`${t('vm.ssh')}: ${instance.name}`}
                        >
                          {t('vm.ssh')}
                        </button>
                        {(['start', 'stop', 'reset', 'delete'] as const).map((verb) => (
                          <button
                            key={verb}
                            type="button"
                            disabled={
                              (verb === 'start' && instance.status !== 'TERMINATED') ||
                              ((verb === 'stop' || verb === 'reset') && !running)
                            }
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
