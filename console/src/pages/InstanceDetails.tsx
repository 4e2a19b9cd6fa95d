import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, call, enc } from '../api.ts';
import { ErrorBox, Link, Loading } from '../components.tsx';
import { useI18n, type Translate } from '../i18n.ts';
import { formatUsd, regionOfZone, diskMonthlyUsd } from '../pricing.ts';
import { navigate, withProject } from '../router.ts';
import { formatTime } from '../format.ts';
import '../styles/compute.css';
import { ActionStatus, useAction } from '../ui/action.tsx';
import { useLoad } from '../ui/load.ts';
import { DataTable } from '../ui/table.tsx';
import { useRefreshWhile, VmActions } from './VmActions.tsx';
import {
  CLOUD_PLATFORM_SCOPE,
  computeBase,
  confirmAndAct,
  DEFAULT_SCOPES,
  describeMachineType,
  disksMonthly,
  instanceApiPath,
  last,
  loadDisks,
  MOVING,
  type Disk,
  type Instance,
  type MachineType,
  watchListFor,
  type Verb,
} from './compute-common.ts';

/** Terminal control sequences (colours, cursor moves) that a <pre> cannot render. */
const CONTROL_SEQUENCES = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[()][0-9A-Za-z]|\u001b[=>78]|\r(?=\n)/g;

/** Google returns at most 1 MB of serial output per call; the page keeps about that much. */
const SERIAL_KEEP_CHARS = 1024 * 1024;
/** After a start, the guest keeps booting (systemd, startup script) for a while: watch its console. */
const BOOT_WATCH_MS = 60_000;

interface SerialPortOutput {
  contents?: string;
  start?: string;
  next?: string;
}

function scopesText(t: Translate, scopes: string[]): string {
  if (scopes.includes(CLOUD_PLATFORM_SCOPE)) {
    return t('vm.scopesFull');
  }
  const defaults = new Set(DEFAULT_SCOPES);
  if (scopes.length === defaults.size && scopes.every((s) => defaults.has(s))) {
    return t('vm.scopesDefault');
  }
  return t('vm.scopesCustom', { count: scopes.length });
}

/**
 * Serial port 1: the most recent output first (up to 1 MB), then what follows `next` on each
 * refresh; `restart` changes when the instance (re)starts, which starts over from the latest output.
 */
function SerialOutput(props: { path: string; watching: boolean; restart: number }) {
  const { t } = useI18n();
  const [text, setText] = useState<string | undefined>();
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<unknown>();
  const next = useRef<number | undefined>(undefined);
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const { path, watching, restart } = props;

  const fetchMore = useCallback(
    async (fromLatest: boolean): Promise<void> => {
      const query = new URLSearchParams({ port: '1' });
      const from = fromLatest ? undefined : next.current;
      if (from !== undefined) {
        query.set('start', String(from));
      }
      try {
        const r = await call<SerialPortOutput>('GET', `${path}/serialPort?${query.toString()}`);
        const raw = r.contents ?? '';
        const contents = raw.replace(CONTROL_SEQUENCES, '');
        const start = Number(r.start ?? '0');
        next.current = Number(r.next ?? String(start + raw.length));
        setError(undefined);
        if (from === undefined) {
          setTruncated(start > 0);
          setText(contents);
        } else {
          setText((previous) => {
            const joined = (previous ?? '') + contents;
            if (joined.length > SERIAL_KEEP_CHARS) {
              setTruncated(true);
              return joined.slice(joined.length - SERIAL_KEEP_CHARS);
            }
            return joined;
          });
        }
      } catch (failure) {
        setError(failure);
      }
    },
    [path],
  );

  useEffect(() => {
    next.current = undefined;
    void fetchMore(true);
  }, [fetchMore, restart]);

  useEffect(() => {
    if (!watching) {
      return;
    }
    const timer = setInterval(() => {
      void fetchMore(false);
    }, 2000);
    return () => {
      clearInterval(timer);
    };
  }, [watching, fetchMore]);

  // Follow the end of the output, unless the reader scrolled up.
  useEffect(() => {
    const element = pre.current;
    if (element !== null && stick.current) {
      element.scrollTop = element.scrollHeight;
    }
  }, [text]);

  return (
    <section className="card" aria-labelledby="vm-serial">
      <div className="row">
        <h2 id="vm-serial">{t('vm.serial')}</h2>
        <button
          type="button"
          onClick={() => {
            void fetchMore(false);
          }}
          aria-label={`${t('vm.refresh')}: ${t('vm.serial')}`}
        >
          {t('vm.refresh')}
        </button>
      </div>
      {watching && (
        <p className="muted" role="status">
          {t('vm.serialAuto')}
        </p>
      )}
      {truncated && <p className="muted">{t('vm.serialTruncated', { size: '1 MB' })}</p>}
      {error !== undefined && <ErrorBox error={error} />}
      {text === undefined && error === undefined && <Loading />}
      {text !== undefined && (
        <pre
          ref={pre}
          className="vm-serial"
          tabIndex={0}
          role="region"
          aria-label={t('vm.serial')}
          data-testid="serial-output"
          onScroll={(event) => {
            const element = event.currentTarget;
            stick.current = element.scrollTop + element.clientHeight >= element.scrollHeight - 8;
          }}
        >
          {text === '' ? t('vm.serialEmpty') : text}
        </pre>
      )}
    </section>
  );
}

/** Compute Engine › VM instance details (`/compute/instances/details/ZONE/NAME`). */
export function InstanceDetailsPage(props: { project: string; zone: string; name: string }) {
  const { t, language } = useI18n();
  const { project, zone, name } = props;
  const path = instanceApiPath(project, zone, name);
  const load = useLoad(() => call<Instance>('GET', path), [path]);
  const { value: instance, error, reload } = load;
  const action = useAction();
  const [restart, setRestart] = useState(0);
  const [shape, setShape] = useState<MachineType | undefined>();
  const [disks, setDisks] = useState<Disk[] | undefined>();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    setNow(Date.now());
  }, [instance]);

  const status = instance?.status ?? '';
  const watch = useRefreshWhile(MOVING.has(status), reload);

  const machineType = last(instance?.machineType);
  useEffect(() => {
    if (machineType === '') {
      return;
    }
    call<MachineType>(
      'GET',
      `${computeBase(project)}/zones/${enc(zone)}/machineTypes/${enc(machineType)}`,
    ).then(setShape, () => {
      setShape(undefined);
    });
  }, [project, zone, machineType]);

  // The boot window closes on its own: re-evaluate when it ends.
  const lastStartMs =
    instance?.lastStartTimestamp === undefined ? Number.NaN : Date.parse(instance.lastStartTimestamp);
  useEffect(() => {
    const remaining = lastStartMs + BOOT_WATCH_MS - Date.now();
    if (status !== 'RUNNING' || !(remaining > 0)) {
      return;
    }
    const timer = setTimeout(() => {
      setNow(Date.now());
    }, remaining + 100);
    return () => {
      clearTimeout(timer);
    };
  }, [status, lastStartMs]);

  const diskSources = (instance?.disks ?? []).map((d) => d.source ?? '').join(' ');
  const instanceForDisks = useRef(instance);
  instanceForDisks.current = instance;
  useEffect(() => {
    const current = instanceForDisks.current;
    if (current === undefined || diskSources === '') {
      return;
    }
    loadDisks(current).then(setDisks, () => {
      setDisks(undefined);
    });
  }, [diskSources]);

  const act = (verb: Verb): void => {
    if (instance === undefined) {
      return;
    }
    void action.run(async () => {
      if (!(await confirmAndAct(t, language, project, instance, verb))) {
        return;
      }
      if (verb === 'delete') {
        watchListFor(30_000);
        navigate(withProject('/compute/instances', project));
        return;
      }
      if (verb === 'start' || verb === 'reset') {
        setRestart((r) => r + 1);
      }
      watch(30_000);
      reload();
    });
  };

  const back = (
    <nav aria-label={t('vm.title')} className="vm-crumbs">
      <Link to="/compute/instances">{t('vm.back')}</Link>
      <span aria-hidden="true"> › </span>
      <span>{name}</span>
    </nav>
  );
  if (instance === undefined) {
    const gone = error instanceof ApiError && error.status === 404;
    return (
      <>
        {back}
        <h1>{name}</h1>
        {error === undefined && <Loading />}
        {gone && (
          <p role="alert" className="notice">
            {t('vm.gone', { name, zone })}
          </p>
        )}
        {error !== undefined && !gone && <ErrorBox error={error} onRetry={reload} />}
      </>
    );
  }

  const nic = instance.networkInterfaces?.[0];
  const access = nic?.accessConfigs?.[0];
  const accounts = instance.serviceAccounts ?? [];
  const metadata = instance.metadata?.items ?? [];
  const labels = Object.entries(instance.labels ?? {});
  const booting =
    status === 'PROVISIONING' ||
    status === 'STAGING' ||
    (status === 'RUNNING' && now - lastStartMs < BOOT_WATCH_MS);
  const region = regionOfZone(zone);
  const stoppedCost = disks === undefined ? undefined : disksMonthly(disks, zone).amount;

  return (
    <>
      {back}
      <div className="vm-heading">
        <h1>{instance.name}</h1>
        <span className={`vm-status vm-status-${status.toLowerCase()}`} data-testid="vm-status">
          {status}
        </span>
      </div>
      <div className="actions vm-toolbar">
        <VmActions project={project} instance={instance} onAct={act} />
        <button type="button" onClick={reload}>
          {t('vm.refresh')}
        </button>
      </div>
      <ActionStatus action={action} />
      {status === 'TERMINATED' && (
        <p className="notice" data-testid="vm-stopped-notice">
          {t('vm.stoppedNotice')}
          {stoppedCost !== undefined &&
            ` ${t('vm.stoppedCost', { amount: formatUsd(stoppedCost, language) })}`}
        </p>
      )}

      <section className="card" aria-labelledby="vm-details">
        <h2 id="vm-details">{t('vm.details')}</h2>
        <dl className="facts vm-facts">
          <dt>{t('common.status')}</dt>
          <dd>{status}</dd>
          {instance.statusMessage !== undefined && (
            <>
              <dt>{t('vm.statusMessage')}</dt>
              <dd>{instance.statusMessage}</dd>
            </>
          )}
          <dt>{t('vm.id')}</dt>
          <dd>{instance.id ?? ''}</dd>
          <dt>{t('vm.zone')}</dt>
          <dd>{zone}</dd>
          <dt>{t('vm.machineType')}</dt>
          <dd data-testid="vm-machine-type">
            {shape === undefined ? machineType : describeMachineType(t, shape)}
          </dd>
          <dt>{t('vm.internalIp')}</dt>
          <dd>{nic?.networkIP ?? ''}</dd>
          <dt>{t('vm.externalIp')}</dt>
          <dd>{access === undefined ? t('vm.none') : (access.natIP ?? access.type ?? '')}</dd>
          <dt>{t('vm.network')}</dt>
          <dd>{last(nic?.network)}</dd>
          <dt>{t('vm.subnetwork')}</dt>
          <dd>{nic?.subnetwork === undefined ? '' : `${last(nic.subnetwork)} (${region})`}</dd>
          <dt>{t('vm.created')}</dt>
          <dd>{formatTime(instance.creationTimestamp, language)}</dd>
          {instance.lastStartTimestamp !== undefined && (
            <>
              <dt>{t('vm.lastStart')}</dt>
              <dd>{formatTime(instance.lastStartTimestamp, language)}</dd>
            </>
          )}
          <dt>{t('vm.labels')}</dt>
          <dd>
            {labels.length === 0
              ? t('vm.noLabels')
              : labels.map(([key, value]) => (
                  <span key={key} className="vm-label">
                    {key}: {value}
                  </span>
                ))}
          </dd>
        </dl>
      </section>

      <section className="card" aria-labelledby="vm-disks">
        <h2 id="vm-disks">{t('vm.disks')}</h2>
        <DataTable
          labelledBy="vm-disks"
          columns={[
            t('vm.diskName'),
            t('vm.diskSize'),
            t('vm.diskType'),
            { label: t('vm.diskBoot'), hideNarrow: true },
            { label: t('vm.diskAutoDelete'), hideNarrow: true },
            t('vm.diskCost'),
          ]}
        >
          {(instance.disks ?? []).map((attached, index) => {
            const disk = disks?.[index];
            const size = Number(disk?.sizeGb ?? attached.diskSizeGb ?? '0');
            const type = last(disk?.type);
            const price = disk === undefined ? undefined : diskMonthlyUsd(type, size, region);
            return (
              <tr key={attached.source ?? String(index)}>
                <td>{last(attached.source)}</td>
                <td>{t('vm.gb', { size })}</td>
                <td>{type}</td>
                <td className="hide-narrow">{attached.boot === true ? t('vm.yes') : t('vm.no')}</td>
                <td className="hide-narrow">{attached.autoDelete === true ? t('vm.yes') : t('vm.no')}</td>
                <td>{price === undefined ? t('vm.noPrice') : formatUsd(price, language)}</td>
              </tr>
            );
          })}
        </DataTable>
      </section>

      <section className="card" aria-labelledby="vm-access">
        <h2 id="vm-access">{t('vm.apiAccess')}</h2>
        <dl className="facts vm-facts">
          <dt>{t('vm.serviceAccount')}</dt>
          <dd data-testid="vm-service-account">
            {accounts.length === 0 ? t('vm.noServiceAccount') : accounts.map((a) => a.email).join(', ')}
          </dd>
          <dt>{t('vm.scopes')}</dt>
          <dd>
            {accounts.length === 0 ? (
              t('vm.scopesNone')
            ) : (
              <>
                {scopesText(t, accounts[0]?.scopes ?? [])}
                <ul className="vm-scope-list">
                  {(accounts[0]?.scopes ?? []).map((scope) => (
                    <li key={scope}>{scope}</li>
                  ))}
                </ul>
              </>
            )}
          </dd>
        </dl>
      </section>

      <section className="card" aria-labelledby="vm-metadata">
        <h2 id="vm-metadata">{t('vm.metadata')}</h2>
        {metadata.length === 0 ? (
          <p className="muted">{t('vm.noMetadata')}</p>
        ) : (
          <DataTable labelledBy="vm-metadata" columns={[t('vm.metadataKey'), t('vm.metadataValue')]}>
            {metadata.map((item) => (
              <tr key={item.key}>
                <td>{item.key}</td>
                <td>
                  <pre className="vm-meta-value">{item.value ?? ''}</pre>
                </td>
              </tr>
            ))}
          </DataTable>
        )}
      </section>

      <SerialOutput path={path} watching={booting} restart={restart} />
    </>
  );
}
