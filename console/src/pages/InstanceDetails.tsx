import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, call, enc } from '../api.ts';
import { ErrorBox, Link, Loading } from '../components.tsx';
import { useI18n, type Translate } from '../i18n.ts';
import { formatUsd, regionOfZone, diskMonthlyUsd } from '../pricing.ts';
import { navigate, withProject } from '../router.ts';
import '../styles/compute.css';
import {
  actionEnabled,
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
  openSsh,
  type Disk,
  type Instance,
  type MachineType,
  watchListFor,
  type Verb,
} from './compute-common.ts';

const VERBS: readonly Verb[] = ['start', 'stop', 'reset', 'delete'];
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

function formatTime(value: string | undefined, language: string): string {
  if (value === undefined) {
    return '';
  }
  const date = new Date(value);
  return Number.isNaN(date.getTime())
    ? value
    : date.toLocaleString(language === 'ko' ? 'ko-KR' : 'en-US', {
        dateStyle: 'medium',
        timeStyle: 'medium',
      });
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
  const [instance, setInstance] = useState<Instance | undefined>();
  const [error, setError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [version, setVersion] = useState(0);
  const [watchUntil, setWatchUntil] = useState(0);
  const [restart, setRestart] = useState(0);
  const [shape, setShape] = useState<MachineType | undefined>();
  const [disks, setDisks] = useState<Disk[] | undefined>();
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    let live = true;
    call<Instance>('GET', path).then(
      (result) => {
        if (live) {
          setInstance(result);
          setError(undefined);
          setNow(Date.now());
        }
      },
      (failure: unknown) => {
        if (live) {
          setInstance(undefined);
          setError(failure);
        }
      },
    );
    return () => {
      live = false;
    };
  }, [path, version]);

  const status = instance?.status ?? '';
  const moving = MOVING.has(status);
  useEffect(() => {
    if (!moving && watchUntil === 0) {
      return;
    }
    const timer = setInterval(() => {
      if (!moving && Date.now() > watchUntil) {
        setWatchUntil(0);
      }
      setVersion((v) => v + 1);
    }, 1500);
    return () => {
      clearInterval(timer);
    };
  }, [moving, watchUntil]);

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

  const act = async (verb: Verb): Promise<void> => {
    if (instance === undefined) {
      return;
    }
    setActionError(undefined);
    try {
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
      setWatchUntil(Date.now() + 30_000);
      setVersion((v) => v + 1);
    } catch (failure) {
      setActionError(failure);
    }
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
        {error !== undefined && !gone && (
          <ErrorBox
            error={error}
            onRetry={() => {
              setVersion((v) => v + 1);
            }}
          />
        )}
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
        <button
          type="button"
          disabled={!actionEnabled(status, 'ssh')}
          onClick={() => {
            openSsh(project, zone, instance.name);
          }}
          aria-label={`${t('vm.ssh')}: ${instance.name}`}
        >
          {t('vm.ssh')}
        </button>
        {VERBS.map((verb) => (
          <button
            key={verb}
            type="button"
            disabled={!actionEnabled(status, verb)}
            onClick={() => void act(verb)}
            aria-label={`${t(`vm.${verb}`)}: ${instance.name}`}
          >
            {t(`vm.${verb}`)}
          </button>
        ))}
        <button
          type="button"
          onClick={() => {
            setVersion((v) => v + 1);
          }}
        >
          {t('vm.refresh')}
        </button>
      </div>
      {actionError !== undefined && <ErrorBox error={actionError} />}
      {error !== undefined && <ErrorBox error={error} />}
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
        <div className="table-wrap">
          <table aria-labelledby="vm-disks">
            <thead>
              <tr>
                <th scope="col">{t('vm.diskName')}</th>
                <th scope="col">{t('vm.diskSize')}</th>
                <th scope="col">{t('vm.diskType')}</th>
                <th scope="col" className="hide-narrow">
                  {t('vm.diskBoot')}
                </th>
                <th scope="col" className="hide-narrow">
                  {t('vm.diskAutoDelete')}
                </th>
                <th scope="col">{t('vm.diskCost')}</th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
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
          <div className="table-wrap">
            <table aria-labelledby="vm-metadata">
              <thead>
                <tr>
                  <th scope="col">{t('vm.metadataKey')}</th>
                  <th scope="col">{t('vm.metadataValue')}</th>
                </tr>
              </thead>
              <tbody>
                {metadata.map((item) => (
                  <tr key={item.key}>
                    <td>{item.key}</td>
                    <td>
                      <pre className="vm-meta-value">{item.value ?? ''}</pre>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <SerialOutput path={path} watching={booting} restart={restart} />
    </>
  );
}
