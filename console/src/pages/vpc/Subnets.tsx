import { useState, type SyntheticEvent } from 'react';
import { enc } from '../../api.ts';
import { useI18n } from '../../i18n.ts';
import type { Action } from '../../ui/action.tsx';
import { CheckField, SelectField, TextField } from '../../ui/forms.tsx';
import { RowButton } from '../../ui/table.tsx';
import {
  computeBase,
  last,
  listSubnets,
  mutate,
  regionChoices,
  text,
  useNetworkNames,
  useRegionNames,
  type Row,
} from './common.tsx';
import { FormButtons, NameField, TabLayout, useTab } from './parts.tsx';

const subnetPath = (project: string, row: Row): string =>
  `${computeBase(project)}/regions/${enc(last(text(row.region)))}/subnetworks/${enc(text(row.name))}`;

/** Subnets of every region: create, Private Google Access on/off, expand the range, delete. */
export function SubnetsTab(props: { project: string }) {
  const { t } = useI18n();
  const { project } = props;
  const { list, state, remove, filter } = useTab(
    (token, typed) => listSubnets(project, token, typed),
    project,
  );
  const [expanding, setExpanding] = useState<string | undefined>();

  const setAccess = (row: Row, enabled: boolean): void => {
    void state.run(
      () =>
        mutate('POST', `${subnetPath(project, row)}/setPrivateIpGoogleAccess`, {
          privateIpGoogleAccess: enabled,
        }),
      { done: t(enabled ? 'vpc.accessOn' : 'vpc.accessOff', { name: text(row.name) }) },
    );
  };

  return (
    <TabLayout
      intro={t('vpc.subnetsIntro')}
      create={t('vpc.createSubnet')}
      form={(close) => <CreateSubnetForm project={project} state={state} onDone={close} />}
      state={state}
      list={list}
      filter={filter}
      filterLabel={t('vpc.filterSubnets')}
      empty={t('vpc.emptySubnets')}
      label={t('vpc.subnetsTab')}
      columns={[
        t('common.name'),
        t('vpc.region'),
        t('vpc.network'),
        t('vpc.range'),
        t('vpc.gateway'),
        t('vpc.privateGoogleAccess'),
        t('common.actions'),
      ]}
      row={(row) => {
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
              <CheckField
                label={t(on ? 'vpc.on' : 'vpc.off')}
                labelClassName="vpc-check"
                checked={on}
                disabled={state.busy}
                aria-label={`${t('vpc.privateGoogleAccess')}: ${name}`}
                onChecked={(checked) => {
                  setAccess(row, checked);
                }}
              />
            </td>
            <td>
              <div className="actions">
                <RowButton
                  verb={t('vpc.expand')}
                  name={name}
                  onClick={() => {
                    setExpanding(key);
                  }}
                />
                <RowButton
                  verb={t('common.delete')}
                  name={name}
                  disabled={state.busy}
                  onClick={() => {
                    remove(
                      subnetPath(project, row),
                      name,
                      t('vpc.confirmDeleteSubnet', { name, region: last(text(row.region)) }),
                    );
                  }}
                />
              </div>
            </td>
          </tr>
        );
      }}
    />
  );
}

function ExpandForm(props: { project: string; row: Row; state: Action; onClose: () => void }) {
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
      { done: t('vpc.expanded', { name, range }) },
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

function CreateSubnetForm(props: { project: string; state: Action; onDone: () => void }) {
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
      { done: t('vpc.created', { name }) },
    );
    if (ok) {
      props.onDone();
    }
  };

  return (
    <form className="card form vpc-form" aria-labelledby="vpc-create-subnet" onSubmit={(e) => void submit(e)}>
      <h2 id="vpc-create-subnet">{t('vpc.createSubnet')}</h2>
      <NameField value={name} onValue={setName} />
      <TextField label={t('vpc.description')} value={description} onValue={setDescription} />
      <SelectField
        label={t('vpc.network')}
        required
        value={chosenNetwork}
        onValue={setNetwork}
        options={networks}
      />
      <SelectField
        label={t('vpc.region')}
        value={region}
        onValue={setRegion}
        options={regionChoices(region, regions)}
      />
      <TextField label={t('vpc.range')} required placeholder="10.0.0.0/24" value={range} onValue={setRange} />
      <CheckField
        label={t('vpc.privateGoogleAccess')}
        labelClassName="vpc-check"
        checked={privateAccess}
        onChecked={setPrivateAccess}
      />
      <FormButtons busy={props.state.busy} submit={t('common.create')} onCancel={props.onDone} />
    </form>
  );
}
