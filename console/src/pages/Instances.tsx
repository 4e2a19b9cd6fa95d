import { useState, type SyntheticEvent } from 'react';
import { call, enc, type Project, type ServiceAccount } from '../api.ts';
import { ErrorBox, Link } from '../components.tsx';
import { useI18n } from '../i18n.ts';
import { usePaged } from '../paging.ts';
import '../styles/compute.css';
import { ActionStatus, useAction } from '../ui/action.tsx';
import { RadioGroup, SelectField, TextAreaField, TextField } from '../ui/forms.tsx';
import { useLoad, usePickerList } from '../ui/load.ts';
import { FilterBox, useUrlFilter } from '../ui/filter.tsx';
import { PagedTable } from '../ui/table.tsx';
import { useRefreshWhile, VmActions } from './VmActions.tsx';
import {
  CLOUD_PLATFORM_SCOPE,
  computeBase,
  confirmAndAct,
  DEFAULT_SCOPES,
  describeMachineType,
  detailsRoute,
  last,
  listCompute,
  MOVING,
  nameFilter,
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

interface Zone {
  name: string;
  region: string;
}

const serviceAccountsPath = (project: string): string =>
  `/v1/projects/${enc(project)}/serviceAccounts?pageSize=100`;

function CreateForm(props: { project: string; onCreated: () => void }) {
  const { t } = useI18n();
  const base = computeBase(props.project);
  const [region, setRegion] = useState(DEFAULT_REGION);
  const [zone, setZone] = useState(DEFAULT_ZONE);
  const [machineType, setMachineType] = useState('e2-micro');
  const [image, setImage] = useState(IMAGES[0]?.value ?? '');
  const [name, setName] = useState('');
  const [startup, setStartup] = useState('');
  const [account, setAccount] = useState(DEFAULT_ACCOUNT);
  const [fullAccess, setFullAccess] = useState(false);
  const action = useAction();

  const zonesLoad = useLoad(async () => {
    const r = await call<{ items?: { name: string; region?: string }[] }>(
      'GET',
      `${base}/zones?maxResults=500`,
    );
    return (r.items ?? []).map((z): Zone => ({ name: z.name, region: last(z.region) }));
  }, [base]);
  const typesLoad = useLoad(
    async () =>
      (await call<{ items?: MachineType[] }>('GET', `${base}/zones/${enc(zone)}/machineTypes?maxResults=500`))
        .items ?? [],
    [base, zone],
  );
  // The default account is named after the project number; the project's own accounts follow.
  // Either may be refused (a viewer): the choices then fall back to "default" and "none".
  const defaultEmail = useLoad(async () => {
    const p = await call<Project>('GET', `/v1/projects/${enc(props.project)}`);
    return p.projectNumber === undefined
      ? undefined
      : `${p.projectNumber}-compute@developer.gserviceaccount.com`;
  }, [props.project]).value;
  const accounts = usePickerList(
    async () =>
      (
        (await call<{ accounts?: ServiceAccount[] }>('GET', serviceAccountsPath(props.project))).accounts ??
        []
      ).filter((a) => a.disabled !== true),
    [props.project],
  );
  const zones = zonesLoad.value ?? [];
  const types = typesLoad.value ?? [];
  const loadError = zonesLoad.error ?? typesLoad.error;

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
    const email = account === DEFAULT_ACCOUNT ? (defaultEmail ?? 'default') : account;
    await action.run(async () => {
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
    });
  };

  return (
    <form className="card form vm-form" onSubmit={(event) => void submit(event)} aria-labelledby="vm-create">
      <h2 id="vm-create">{t('vm.create')}</h2>
      <TextField
        label={t('common.name')}
        name="name"
        required
        pattern="[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
        autoComplete="off"
        value={name}
        onValue={setName}
      />
      <SelectField
        label={t('vm.region')}
        aria-label={t('vm.region')}
        value={region}
        onValue={changeRegion}
        options={regions}
      />
      <SelectField
        label={t('vm.zone')}
        aria-label={t('vm.zone')}
        value={zone}
        onValue={setZone}
        options={zoneChoices}
      />
      <SelectField
        label={t('vm.machineType')}
        aria-label={t('vm.machineType')}
        value={machineType}
        onValue={setMachineType}
        options={types.map((m) => ({ value: m.name, label: describeMachineType(t, m) }))}
      />
      <SelectField
        label={t('vm.image')}
        aria-label={t('vm.image')}
        value={image}
        onValue={setImage}
        options={IMAGES}
      />
      <SelectField
        label={t('vm.serviceAccount')}
        aria-label={t('vm.serviceAccount')}
        value={account}
        onValue={setAccount}
        options={[
          {
            value: DEFAULT_ACCOUNT,
            label:
              defaultEmail === undefined
                ? t('vm.defaultServiceAccount')
                : `${t('vm.defaultServiceAccount')} (${defaultEmail})`,
          },
          ...others.map((a) => ({
            value: a.email,
            label:
              a.displayName !== undefined && a.displayName !== '' ? `${a.displayName} (${a.email})` : a.email,
          })),
          { value: NO_ACCOUNT, label: t('vm.noServiceAccount') },
        ]}
      />
      <RadioGroup
        legend={t('vm.scopes')}
        className="vm-scopes"
        disabled={account === NO_ACCOUNT}
        name="scopes"
        value={fullAccess}
        onValue={setFullAccess}
        options={[
          { value: false, label: t('vm.scopesDefault') },
          { value: true, label: t('vm.scopesFull') },
        ]}
      />
      <TextAreaField
        label={t('vm.startupScript')}
        labelClassName="vm-startup"
        rows={2}
        spellCheck={false}
        value={startup}
        onValue={setStartup}
      />
      <button type="submit" className="primary" disabled={action.busy}>
        {t('common.create')}
      </button>
      {loadError !== undefined && <ErrorBox error={loadError} />}
      <ActionStatus action={action} />
    </form>
  );
}

export function InstancesPage(props: { project: string }) {
  const { t, language } = useI18n();
  const filter = useUrlFilter();
  const list = usePaged(async (pageToken) => {
    const page = await listCompute<Instance>(
      props.project,
      'aggregated/instances',
      pageToken,
      PAGE_SIZE,
      nameFilter(filter),
    );
    page.items.sort((a, b) => a.name.localeCompare(b.name));
    return page;
  }, `${props.project}\n${filter}`);
  const moving = list.page?.items.some((i) => MOVING.has(i.status)) ?? false;
  // After an action, keep refreshing for a while: its operation may not have started yet.
  const { reload } = list;
  const watch = useRefreshWhile(moving, reload, takeListWatch);
  const action = useAction();

  const act = (instance: Instance, verb: Verb): void => {
    void action.run(async () => {
      if (await confirmAndAct(t, language, props.project, instance, verb)) {
        watch(30_000);
        reload();
      }
    });
  };

  return (
    <>
      <h1>{t('vm.title')}</h1>
      <CreateForm
        project={props.project}
        onCreated={() => {
          watch(30_000);
          reload();
        }}
      />
      <ActionStatus action={action} />
      <FilterBox label={t('vm.filter')} placeholder={t('vm.filterPlaceholder')} />
      <PagedTable
        list={list}
        empty={filter === '' ? t('vm.empty') : t('vm.noResults')}
        label={t('vm.title')}
        className="vm-table"
        columns={[
          t('common.name'),
          t('vm.zone'),
          { label: t('vm.machineType'), hideNarrow: true },
          t('vm.internalIp'),
          { label: t('vm.externalIp'), hideNarrow: true },
          t('common.status'),
          t('common.actions'),
        ]}
        row={(instance) => {
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
                <VmActions
                  project={props.project}
                  instance={instance}
                  onAct={(verb) => {
                    act(instance, verb);
                  }}
                />
              </td>
            </tr>
          );
        }}
      />
    </>
  );
}
