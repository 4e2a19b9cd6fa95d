import { useState, type SyntheticEvent } from 'react';
import { call, enc } from '../../api.ts';
import { ErrorBox, Loading, Pager } from '../../components.tsx';
import { useI18n } from '../../i18n.ts';
import { usePaged, type Page } from '../../paging.ts';
import {
  computeBase,
  last,
  MutationStatus,
  mutate,
  PAGE_SIZE,
  text,
  useMutations,
  useNetworkNames,
  useRegionNames,
  type Row,
} from './common.tsx';

const NAME_PATTERN = '[a-z]([\\-a-z0-9]*[a-z0-9])?';

async function listSubnets(project: string, pageToken: string | undefined): Promise<Page<Row>> {
  const query = new URLSearchParams({ maxResults: String(PAGE_SIZE) });
  if (pageToken !== undefined) {
    query.set('pageToken', pageToken);
  }
  const r = await call<{ items?: Record<string, { subnetworks?: Row[] }>; nextPageToken?: string }>(
    'GET',
    `${computeBase(project)}/aggregated/subnetworks?${query.toString()}`,
  );
  const items = Object.values(r.items ?? {}).flatMap((scope) => scope.subnetworks ?? []);
  return { items, nextPageToken: r.nextPageToken };
}

const subnetPath = (project: string, row: Row): string =>
  `${computeBase(project)}/regions/${enc(last(text(row.region)))}/subnetworks/${enc(text(row.name))}`;

/** Subnets of every region: create, Private Google Access on/off, expand the range, delete. */
export function SubnetsTab(props: { project: string }) {
  const { t } = useI18n();
  const { project } = props;
  const list = usePaged((token) => listSubnets(project, token), project);
  const state = useMutations(list.reload);
  const [creating, setCreating] = useState(false);
  const [expanding, setExpanding] = useState<string | undefined>();

  const setAccess = (row: Row, enabled: boolean): void => {
    void state.run(
      () =>
        mutate('POST', `${subnetPath(project, row)}/setPrivateIpGoogleAccess`, {
          privateIpGoogleAccess: enabled,
        }),
      t(enabled ? 'vpc.accessOn' : 'vpc.accessOff', { name: text(row.name) }),
    );
  };
  const remove = (row: Row): void => {
    const name = text(row.name);
    if (!window.confirm(t('vpc.confirmDeleteSubnet', { name, region: last(text(row.region)) }))) {
      return;
    }
    void state.run(() => mutate('DELETE', subnetPath(project, row)), t('vpc.deleted', { name }));
  };

  return (
    <>
      <div className="row vpc-toolbar">
        <p className="muted">{t('vpc.subnetsIntro')}</p>
        <button
          type="button"
          className="primary"
          aria-expanded={creating}
          onClick={() => {
            setCreating(!creating);
          }}
        >
          {t('vpc.createSubnet')}
        </button>
      </div>
      {creating && (
        <CreateSubnetForm
          project={project}
          state={state}
          onDone={() => {
            setCreating(false);
          }}
        />
      )}
      <MutationStatus state={state} />
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.page === undefined && list.error === undefined && <Loading />}
      {list.page?.items.length === 0 && list.pageIndex === 0 && (
        <p className="muted">{t('vpc.emptySubnets')}</p>
      )}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table className="vpc-table" aria-label={t('vpc.subnetsTab')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('vpc.region')}</th>
                <th scope="col">{t('vpc.network')}</th>
                <th scope="col">{t('vpc.range')}</th>
                <th scope="col">{t('vpc.gateway')}</th>
                <th scope="col">{t('vpc.privateGoogleAccess')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((row) => {
                const key = text(row.selfLink) || `${text(row.region)}/${text(row.name)}`;
                const name = text(row.name);
                const on = row.privateIpGoogleAccess === true;
                return (
                  <tr key={key}>
                    <td>{name}</td>
                    <td>{last(text(row.region))}</td>
                    <td>{last(text(row.network))}</td>
                    <td>
                      {expanding === key ? (
                        <ExpandForm
                          project={project}
                          row={row}
                          state={state}
                          onClose={() => {
                            setExpanding(undefined);
                          }}
                        />
                      ) : (
                        text(row.ipCidrRange)
                      )}
                    </td>
                    <td>{text(row.gatewayAddress)}</td>
                    <td>
                      <label className="vpc-check">
                        <input
                          type="checkbox"
                          checked={on}
                          disabled={state.busy}
                          aria-label={`${t('vpc.privateGoogleAccess')}: ${name}`}
                          onChange={(event) => {
                            setAccess(row, event.target.checked);
                          }}
                        />
                        {t(on ? 'vpc.on' : 'vpc.off')}
                      </label>
                    </td>
                    <td>
                      <div className="actions">
                        <button
                          type="button"
                          aria-label={`${t('vpc.expand')}: ${name}`}
                          onClick={() => {
                            setExpanding(key);
                          }}
                        >
                          {t('vpc.expand')}
                        </button>
                        <button
                          type="button"
                          aria-label={`${t('common.delete')}: ${name}`}
                          disabled={state.busy}
                          onClick={() => {
                            remove(row);
                          }}
                        >
                          {t('common.delete')}
                        </button>
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

function ExpandForm(props: {
  project: string;
  row: Row;
  state: ReturnType<typeof useMutations>;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const name = text(props.row.name);
  const [range, setRange] = useState(text(props.row.ipCidrRange));
  const save = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const ok = await props.state.run(
      () =>
        mutate('POST', `${subnetPath(props.project, props.row)}/expandIpCidrRange`, {
          ipCidrRange: range,
        }),
      t('vpc.expanded', { name, range }),
    );
    if (ok) {
      props.onClose();
    }
  };
  return (
    <form className="vpc-inline" onSubmit={(event) => void save(event)}>
      <input
        aria-label={t('vpc.newRange', { name })}
        required
        value={range}
        onChange={(event) => {
          setRange(event.target.value);
        }}
      />
      <button type="submit" className="primary" disabled={props.state.busy}>
        {t('vpc.save')}
      </button>
      <button type="button" onClick={props.onClose}>
        {t('common.cancel')}
      </button>
    </form>
  );
}

function CreateSubnetForm(props: {
  project: string;
  state: ReturnType<typeof useMutations>;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const networks = useNetworkNames(props.project);
  const regions = useRegionNames(props.project);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [network, setNetwork] = useState('');
  const [region, setRegion] = useState('asia-northeast3');
  const [range, setRange] = useState('');
  const [privateAccess, setPrivateAccess] = useState(false);
  const chosenNetwork = network === '' ? (networks[0] ?? '') : network;

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const body: Record<string, unknown> = {
      name,
      network: `projects/${props.project}/global/networks/${chosenNetwork}`,
      ipCidrRange: range,
      privateIpGoogleAccess: privateAccess,
    };
    if (description !== '') {
      body.description = description;
    }
    const ok = await props.state.run(
      () => mutate('POST', `${computeBase(props.project)}/regions/${enc(region)}/subnetworks`, body),
      t('vpc.created', { name }),
    );
    if (ok) {
      props.onDone();
    }
  };

  return (
    <form className="card form vpc-form" aria-labelledby="vpc-create-subnet" onSubmit={(e) => void submit(e)}>
      <h2 id="vpc-create-subnet">{t('vpc.createSubnet')}</h2>
      <label>
        {t('common.name')}
        <input
          required
          pattern={NAME_PATTERN}
          maxLength={63}
          value={name}
          onChange={(event) => {
            setName(event.target.value);
          }}
        />
      </label>
      <label>
        {t('vpc.description')}
        <input
          value={description}
          onChange={(event) => {
            setDescription(event.target.value);
          }}
        />
      </label>
      <label>
        {t('vpc.network')}
        <select
          required
          value={chosenNetwork}
          onChange={(event) => {
            setNetwork(event.target.value);
          }}
        >
          {networks.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('vpc.region')}
        <select
          value={region}
          onChange={(event) => {
            setRegion(event.target.value);
          }}
        >
          {[...new Set([region, ...regions])].sort().map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      <label>
        {t('vpc.range')}
        <input
          required
          placeholder="10.0.0.0/24"
          value={range}
          onChange={(event) => {
            setRange(event.target.value);
          }}
        />
      </label>
      <label className="vpc-check">
        <input
          type="checkbox"
          checked={privateAccess}
          onChange={(event) => {
            setPrivateAccess(event.target.checked);
          }}
        />
        {t('vpc.privateGoogleAccess')}
      </label>
      <div className="actions vpc-wide">
        <button type="submit" className="primary" disabled={props.state.busy}>
          {t('common.create')}
        </button>
        <button type="button" onClick={props.onDone}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}
