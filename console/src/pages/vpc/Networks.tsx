import { useState, type SyntheticEvent } from 'react';
import { enc } from '../../api.ts';
import { useI18n } from '../../i18n.ts';
import type { Action } from '../../ui/action.tsx';
import { CheckField, RadioGroup, SelectField, TextField } from '../../ui/forms.tsx';
import { RowButton } from '../../ui/table.tsx';
import {
  computeBase,
  listGlobal,
  mutate,
  regionChoices,
  strings,
  text,
  useRegionNames,
  type Row,
} from './common.tsx';
import { FormButtons, NameField, TabLayout, useTab } from './parts.tsx';

const DEFAULT_REGION = 'asia-northeast3';

/** VPC networks: list, create (auto or custom with a first subnet), edit description/MTU, delete. */
export function NetworksTab(props: { project: string }) {
  const { t } = useI18n();
  const { project } = props;
  const { list, state, remove, filter } = useTab(
    (token, typed) => listGlobal(project, 'networks', token, typed),
    project,
  );
  const [editing, setEditing] = useState<string | undefined>();

  return (
    <TabLayout
      intro={t('vpc.networksIntro')}
      create={t('vpc.createNetwork')}
      form={(close) => <CreateNetworkForm project={project} state={state} onDone={close} />}
      state={state}
      list={list}
      filter={filter}
      filterLabel={t('vpc.filterNetworks')}
      empty={t('vpc.emptyNetworks')}
      label={t('vpc.networks')}
      columns={[
        t('common.name'),
        t('vpc.mode'),
        t('vpc.subnets'),
        t('vpc.mtu'),
        t('vpc.description'),
        t('common.actions'),
      ]}
      row={(row) =>
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
                <RowButton
                  verb={t('vpc.edit')}
                  name={text(row.name)}
                  onClick={() => {
                    setEditing(text(row.name));
                  }}
                />
                <RowButton
                  verb={t('common.delete')}
                  name={text(row.name)}
                  disabled={state.busy}
                  onClick={() => {
                    remove(
                      `${computeBase(project)}/global/networks/${enc(text(row.name))}`,
                      text(row.name),
                      t('vpc.confirmDeleteNetwork', { name: text(row.name) }),
                    );
                  }}
                />
              </div>
            </td>
          </tr>
        )
      }
    />
  );
}

function EditNetworkRow(props: { project: string; row: Row; state: Action; onClose: () => void }) {
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
      { done: t('vpc.saved', { name }) },
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
          <TextField label={t('vpc.description')} value={description} onValue={setDescription} />
          <TextField
            label={t('vpc.mtu')}
            type="number"
            min={1300}
            max={8896}
            required
            value={mtu}
            onValue={setMtu}
          />
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

function CreateNetworkForm(props: { project: string; state: Action; onDone: () => void }) {
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
      { done: t('vpc.created', { name }) },
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
      <NameField name="name" value={name} onValue={setName} />
      <TextField
        label={t('vpc.description')}
        name="description"
        value={description}
        onValue={setDescription}
      />
      <SelectField label={t('vpc.mtu')} value={mtu} onValue={setMtu} options={['1460', '1500', '8896']} />
      <RadioGroup
        legend={t('vpc.mode')}
        className="vpc-choice"
        name="mode"
        value={mode}
        onValue={setMode}
        options={[
          { value: 'custom', label: t('vpc.custom') },
          { value: 'auto', label: t('vpc.auto') },
        ]}
      />
      {mode === 'auto' && <p className="muted vpc-wide">{t('vpc.autoHelp')}</p>}
      {mode === 'custom' && (
        <fieldset className="vpc-subnet">
          <legend>{t('vpc.firstSubnet')}</legend>
          <NameField
            label={t('vpc.subnetName')}
            name="subnetName"
            required={range !== ''}
            value={subnetName}
            onValue={setSubnetName}
          />
          <SelectField
            label={t('vpc.region')}
            value={region}
            onValue={setRegion}
            options={regionChoices(region, regions)}
          />
          <TextField
            label={t('vpc.range')}
            name="ipCidrRange"
            placeholder="10.0.0.0/24"
            required={subnetName !== ''}
            value={range}
            onValue={setRange}
          />
          <CheckField
            label={t('vpc.privateGoogleAccess')}
            labelClassName="vpc-check"
            checked={privateAccess}
            onChecked={setPrivateAccess}
          />
          <p className="muted vpc-wide">{t('vpc.firstSubnetHelp')}</p>
        </fieldset>
      )}
      <FormButtons busy={props.state.busy} submit={t('common.create')} onCancel={props.onDone} />
    </form>
  );
}
