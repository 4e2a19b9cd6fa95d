import { useState, type SyntheticEvent } from 'react';
import { enc } from '../../api.ts';
import { useI18n, type Translate } from '../../i18n.ts';
import type { Action } from '../../ui/action.tsx';
import { SelectField, TextField } from '../../ui/forms.tsx';
import { RowButton } from '../../ui/table.tsx';
import {
  computeBase,
  last,
  listGlobal,
  mutate,
  splitList,
  text,
  useNetworkNames,
  type Row,
} from './common.tsx';
import { FormButtons, NameField, TabLayout, useTab } from './parts.tsx';

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
  const { list, state, remove, filter } = useTab(
    (token, typed) => listGlobal(project, 'routes', token, typed),
    project,
  );

  return (
    <TabLayout
      intro={t('vpc.routesIntro')}
      create={t('vpc.createRoute')}
      form={(close) => <CreateRouteForm project={project} state={state} onDone={close} />}
      state={state}
      list={list}
      filter={filter}
      filterLabel={t('vpc.filterRoutes')}
      empty={t('vpc.emptyRoutes')}
      label={t('vpc.routes')}
      columns={[
        t('common.name'),
        t('vpc.network'),
        t('vpc.destination'),
        t('vpc.priority'),
        t('vpc.nextHop'),
        t('vpc.routeType'),
        t('common.actions'),
      ]}
      row={(row) => {
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
                <RowButton
                  verb={t('common.delete')}
                  name={name}
                  disabled={state.busy}
                  onClick={() => {
                    remove(
                      `${computeBase(project)}/global/routes/${enc(name)}`,
                      name,
                      t('vpc.confirmDeleteRoute', { name }),
                    );
                  }}
                />
              )}
            </td>
          </tr>
        );
      }}
    />
  );
}

function CreateRouteForm(props: { project: string; state: Action; onDone: () => void }) {
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
      {
        done: t('vpc.created', { name }),
      },
    );
    if (ok) {
      props.onDone();
    }
  };

  return (
    <form className="card form vpc-form" aria-labelledby="vpc-create-route" onSubmit={(e) => void submit(e)}>
      <h2 id="vpc-create-route">{t('vpc.createRoute')}</h2>
      <NameField value={name} onValue={setName} />
      <TextField label={t('vpc.description')} value={description} onValue={setDescription} />
      <SelectField label={t('vpc.network')} value={chosenNetwork} onValue={setNetwork} options={networks} />
      <TextField
        label={t('vpc.destination')}
        required
        placeholder="0.0.0.0/0"
        value={destRange}
        onValue={setDestRange}
      />
      <TextField
        label={t('vpc.priority')}
        type="number"
        min={0}
        max={65535}
        required
        value={priority}
        onValue={setPriority}
      />
      <TextField label={t('vpc.instanceTags')} value={tags} onValue={setTags} />
      <SelectField
        label={t('vpc.nextHop')}
        value={hop}
        onValue={(value) => {
          setHop(value as Hop);
        }}
        options={[
          { value: 'gateway', label: t('vpc.hopGateway') },
          { value: 'ip', label: t('vpc.hopIp') },
          { value: 'instance', label: t('vpc.hopInstance') },
        ]}
      />
      {hop !== 'gateway' && (
        <TextField
          label={t(hop === 'ip' ? 'vpc.hopIpValue' : 'vpc.hopInstanceValue')}
          required
          placeholder={hop === 'ip' ? '10.0.0.5' : 'zones/asia-northeast3-a/instances/vm-1'}
          value={hopValue}
          onValue={setHopValue}
        />
      )}
      <FormButtons busy={props.state.busy} submit={t('common.create')} onCancel={props.onDone} />
    </form>
  );
}
