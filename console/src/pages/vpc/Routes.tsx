import { useState, type SyntheticEvent } from 'react';
import { enc } from '../../api.ts';
import { ErrorBox, Loading, Pager } from '../../components.tsx';
import { useI18n, type Translate } from '../../i18n.ts';
import { usePaged } from '../../paging.ts';
import {
  computeBase,
  last,
  listGlobal,
  MutationStatus,
  mutate,
  splitList,
  text,
  useMutations,
  useNetworkNames,
  type Row,
} from './common.tsx';

const NAME_PATTERN = '[a-z]([\\-a-z0-9]*[a-z0-9])?';
type Hop = 'gateway' | 'ip' | 'instance';

const nextHop = (row: Row, t: Translate): string => {
  if (row.nextHopGateway !== undefined) {
    return t('vpc.hopGateway');
  }
  if (row.nextHopIp !== undefined) {
    return text(row.nextHopIp);
  }
  if (row.nextHopInstance !== undefined) {
    return t('vpc.hopInstanceNamed', { name: last(text(row.nextHopInstance)) });
  }
  if (row.nextHopNetwork !== undefined) {
    return t('vpc.peering', { network: last(text(row.nextHopNetwork)) });
  }
  return '';
};

/** Routes: list; create static routes; delete them (subnet routes go with their subnet). */
export function RoutesTab(props: { project: string }) {
  const { t } = useI18n();
  const { project } = props;
  const list = usePaged((token) => listGlobal(project, 'routes', token), project);
  const state = useMutations(list.reload);
  const [creating, setCreating] = useState(false);

  const remove = (name: string): void => {
    if (!window.confirm(t('vpc.confirmDeleteRoute', { name }))) {
      return;
    }
    void state.run(
      () => mutate('DELETE', `${computeBase(project)}/global/routes/${enc(name)}`),
      t('vpc.deleted', { name }),
    );
  };

  return (
    <>
      <div className="row vpc-toolbar">
        <p className="muted">{t('vpc.routesIntro')}</p>
        <button
          type="button"
          className="primary"
          aria-expanded={creating}
          onClick={() => {
            setCreating(!creating);
          }}
        >
          {t('vpc.createRoute')}
        </button>
      </div>
      {creating && (
        <CreateRouteForm
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
        <p className="muted">{t('vpc.emptyRoutes')}</p>
      )}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table className="vpc-table" aria-label={t('vpc.routes')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('vpc.network')}</th>
                <th scope="col">{t('vpc.destination')}</th>
                <th scope="col">{t('vpc.priority')}</th>
                <th scope="col">{t('vpc.nextHop')}</th>
                <th scope="col">{t('vpc.routeType')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((row) => {
                const name = text(row.name);
                const subnetRoute = text(row.routeType) === 'SUBNET';
                return (
                  <tr key={name}>
                    <td>{name}</td>
                    <td>{last(text(row.network))}</td>
                    <td>{text(row.destRange)}</td>
                    <td>{text(row.priority)}</td>
                    <td>{nextHop(row, t)}</td>
                    <td>{t(subnetRoute ? 'vpc.subnetRoute' : 'vpc.staticRoute')}</td>
                    <td>
                      {subnetRoute ? (
                        <span className="muted">{t('vpc.subnetRouteFixed')}</span>
                      ) : (
                        <button
                          type="button"
                          aria-label={`${t('common.delete')}: ${name}`}
                          disabled={state.busy}
                          onClick={() => {
                            remove(name);
                          }}
                        >
                          {t('common.delete')}
                        </button>
                      )}
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

function CreateRouteForm(props: {
  project: string;
  state: ReturnType<typeof useMutations>;
  onDone: () => void;
}) {
  const { t } = useI18n();
  const networks = useNetworkNames(props.project);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [network, setNetwork] = useState('');
  const [destRange, setDestRange] = useState('');
  const [priority, setPriority] = useState('1000');
  const [hop, setHop] = useState<Hop>('gateway');
  const [hopValue, setHopValue] = useState('');
  const [tags, setTags] = useState('');
  const chosenNetwork = network === '' ? (networks[0] ?? '') : network;

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const body: Record<string, unknown> = {
      name,
      network: `projects/${props.project}/global/networks/${chosenNetwork}`,
      destRange,
      priority: Number(priority),
    };
    if (description !== '') {
      body.description = description;
    }
    if (splitList(tags).length > 0) {
      body.tags = splitList(tags);
    }
    if (hop === 'gateway') {
      body.nextHopGateway = `projects/${props.project}/global/gateways/default-internet-gateway`;
    } else if (hop === 'ip') {
      body.nextHopIp = hopValue;
    } else {
      body.nextHopInstance = hopValue.includes('/')
        ? `projects/${props.project}/${hopValue.replace(/^projects\/[^/]+\//, '')}`
        : hopValue;
    }
    const ok = await props.state.run(
      () => mutate('POST', `${computeBase(props.project)}/global/routes`, body),
      t('vpc.created', { name }),
    );
    if (ok) {
      props.onDone();
    }
  };

  return (
    <form className="card form vpc-form" aria-labelledby="vpc-create-route" onSubmit={(e) => void submit(e)}>
      <h2 id="vpc-create-route">{t('vpc.createRoute')}</h2>
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
        {t('vpc.destination')}
        <input
          required
          placeholder="0.0.0.0/0"
          value={destRange}
          onChange={(event) => {
            setDestRange(event.target.value);
          }}
        />
      </label>
      <label>
        {t('vpc.priority')}
        <input
          type="number"
          min={0}
          max={65535}
          required
          value={priority}
          onChange={(event) => {
            setPriority(event.target.value);
          }}
        />
      </label>
      <label>
        {t('vpc.instanceTags')}
        <input
          value={tags}
          onChange={(event) => {
            setTags(event.target.value);
          }}
        />
      </label>
      <label>
        {t('vpc.nextHop')}
        <select
          value={hop}
          onChange={(event) => {
            setHop(event.target.value as Hop);
          }}
        >
          <option value="gateway">{t('vpc.hopGateway')}</option>
          <option value="ip">{t('vpc.hopIp')}</option>
          <option value="instance">{t('vpc.hopInstance')}</option>
        </select>
      </label>
      {hop !== 'gateway' && (
        <label>
          {t(hop === 'ip' ? 'vpc.hopIpValue' : 'vpc.hopInstanceValue')}
          <input
            required
            placeholder={hop === 'ip' ? '10.0.0.5' : 'zones/asia-northeast3-a/instances/vm-1'}
            value={hopValue}
            onChange={(event) => {
              setHopValue(event.target.value);
            }}
          />
        </label>
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
