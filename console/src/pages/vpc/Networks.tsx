import { useState, type SyntheticEvent } from 'react';
import { enc } from '../../api.ts';
import { ErrorBox, Loading, Pager } from '../../components.tsx';
import { useI18n } from '../../i18n.ts';
import { usePaged } from '../../paging.ts';
import {
  computeBase,
  listGlobal,
  MutationStatus,
  mutate,
  strings,
  text,
  useMutations,
  useRegionNames,
  type Row,
} from './common.tsx';

const NAME_PATTERN = '[a-z]([\\-a-z0-9]*[a-z0-9])?';
const DEFAULT_REGION = 'asia-northeast3';

/** VPC networks: list, create (auto or custom with a first subnet), edit description/MTU, delete. */
export function NetworksTab(props: { project: string }) {
  const { t } = useI18n();
  const { project } = props;
  const list = usePaged((token) => listGlobal(project, 'networks', token), project);
  const state = useMutations(list.reload);
  const [creating, setCreating] = useState(false);
  const [editing, setEditing] = useState<string | undefined>();

  const remove = (name: string): void => {
    if (!window.confirm(t('vpc.confirmDeleteNetwork', { name }))) {
      return;
    }
    void state.run(
      () => mutate('DELETE', `${computeBase(project)}/global/networks/${enc(name)}`),
      t('vpc.deleted', { name }),
    );
  };

  return (
    <>
      <div className="row vpc-toolbar">
        <p className="muted">{t('vpc.networksIntro')}</p>
        <button
          type="button"
          className="primary"
          aria-expanded={creating}
          onClick={() => {
            setCreating(!creating);
          }}
        >
          {t('vpc.createNetwork')}
        </button>
      </div>
      {creating && (
        <CreateNetworkForm
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
        <p className="muted">{t('vpc.emptyNetworks')}</p>
      )}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table className="vpc-table" aria-label={t('vpc.networks')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('vpc.mode')}</th>
                <th scope="col">{t('vpc.subnets')}</th>
                <th scope="col">{t('vpc.mtu')}</th>
                <th scope="col">{t('vpc.description')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((row) =>
                editing === text(row.name) ? (
                  <EditNetworkRow
                    key={text(row.name)}
                    project={project}
                    row={row}
                    state={state}
                    onClose={() => {
                      setEditing(undefined);
                    }}
                  />
                ) : (
                  <tr key={text(row.name)}>
                    <td>{text(row.name)}</td>
                    <td>{t(row.autoCreateSubnetworks === true ? 'vpc.auto' : 'vpc.custom')}</td>
                    <td>{strings(row.subnetworks).length}</td>
                    <td>{text(row.mtu)}</td>
                    <td>{text(row.description)}</td>
                    <td>
                      <div className="actions">
                        <button
                          type="button"
                          aria-label={`${t('vpc.edit')}: ${text(row.name)}`}
                          onClick={() => {
                            setEditing(text(row.name));
                          }}
                        >
                          {t('vpc.edit')}
                        </button>
                        <button
                          type="button"
                          aria-label={`${t('common.delete')}: ${text(row.name)}`}
                          disabled={state.busy}
                          onClick={() => {
                            remove(text(row.name));
                          }}
                        >
                          {t('common.delete')}
                        </button>
                      </div>
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={list.pageIndex} hasNext={list.hasNext} onPrevious={list.previous} onNext={list.next} />
    </>
  );
}

function EditNetworkRow(props: {
  project: string;
  row: Row;
  state: ReturnType<typeof useMutations>;
  onClose: () => void;
}) {
  const { t } = useI18n();
  const name = text(props.row.name);
  const [description, setDescription] = useState(text(props.row.description));
  const [mtu, setMtu] = useState(text(props.row.mtu) || '1460');
  const save = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const ok = await props.state.run(
      () =>
        mutate('PATCH', `${computeBase(props.project)}/global/networks/${enc(name)}`, {
          description,
          mtu: Number(mtu),
        }),
      t('vpc.saved', { name }),
    );
    if (ok) {
      props.onClose();
    }
  };
  return (
    <tr>
      <td colSpan={6}>
        <form
          className="form vpc-inline"
          aria-label={t('vpc.editNetwork', { name })}
          onSubmit={(event) => void save(event)}
        >
          <strong>{name}</strong>
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
            {t('vpc.mtu')}
            <input
              type="number"
              min={1300}
              max={8896}
              required
              value={mtu}
              onChange={(event) => {
                setMtu(event.target.value);
              }}
            />
          </label>
          <button type="submit" className="primary" disabled={props.state.busy}>
            {t('vpc.save')}
          </button>
          <button type="button" onClick={props.onClose}>
            {t('common.cancel')}
          </button>
        </form>
      </td>
    </tr>
  );
}

function CreateNetworkForm(props: {
  project: string;
  state: ReturnType<typeof useMutations>;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const regions = useRegionNames(props.project);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [mode, setMode] = useState<'custom' | 'auto'>('custom');
  const [mtu, setMtu] = useState('1460');
  const [subnetName, setSubnetName] = useState('');
  const [region, setRegion] = useState(DEFAULT_REGION);
  const [range, setRange] = useState('');
  const [privateAccess, setPrivateAccess] = useState(false);

  /** The network this form already created when its subnet failed: a retry only adds the subnet. */
  const [created, setCreated] = useState('');

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const base = computeBase(props.project);
    const ok = await props.state.run(
      async () => {
        if (created !== name) {
          const network: Record<string, unknown> = {
            name,
            autoCreateSubnetworks: mode === 'auto',
            mtu: Number(mtu),
            routingConfig: { routingMode: 'REGIONAL' },
          };
          if (description !== '') {
            network.description = description;
          }
          await mutate('POST', `${base}/global/networks`, network);
          setCreated(name);
        }
        if (mode === 'custom' && subnetName !== '') {
          await mutate('POST', `${base}/regions/${enc(region)}/subnetworks`, {
            name: subnetName,
            network: `projects/${props.project}/global/networks/${name}`,
            ipCidrRange: range,
            privateIpGoogleAccess: privateAccess,
          });
        }
      },
      t('vpc.created', { name }),
    );
    if (ok) {
      props.onDone();
    }
  };

  return (
    <form
      className="card form vpc-form"
      aria-labelledby="vpc-create-network"
      onSubmit={(e) => void submit(e)}
    >
      <h2 id="vpc-create-network">{t('vpc.createNetwork')}</h2>
      <label>
        {t('common.name')}
        <input
          name="name"
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
          name="description"
          value={description}
          onChange={(event) => {
            setDescription(event.target.value);
          }}
        />
      </label>
      <label>
        {t('vpc.mtu')}
        <select
          value={mtu}
          onChange={(event) => {
            setMtu(event.target.value);
          }}
        >
          {['1460', '1500', '8896'].map((value) => (
            <option key={value} value={value}>
              {value}
            </option>
          ))}
        </select>
      </label>
      <fieldset className="vpc-choice">
        <legend>{t('vpc.mode')}</legend>
        {(['custom', 'auto'] as const).map((value) => (
          <label key={value}>
            <input
              type="radio"
              name="mode"
              value={value}
              checked={mode === value}
              onChange={() => {
                setMode(value);
              }}
            />
            {t(value === 'auto' ? 'vpc.auto' : 'vpc.custom')}
          </label>
        ))}
      </fieldset>
      {mode === 'auto' && <p className="muted vpc-wide">{t('vpc.autoHelp')}</p>}
      {mode === 'custom' && (
        <fieldset className="vpc-subnet">
          <legend>{t('vpc.firstSubnet')}</legend>
          <label>
            {t('vpc.subnetName')}
            <input
              name="subnetName"
              pattern={NAME_PATTERN}
              maxLength={63}
              required={range !== ''}
              value={subnetName}
              onChange={(event) => {
                setSubnetName(event.target.value);
              }}
            />
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
              name="ipCidrRange"
              placeholder="10.0.0.0/24"
              required={subnetName !== ''}
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
          <p className="muted vpc-wide">{t('vpc.firstSubnetHelp')}</p>
        </fieldset>
      )}
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
