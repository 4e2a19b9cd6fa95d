import { useState, type SyntheticEvent } from 'react';
import { enc } from '../../api.ts';
import { useI18n } from '../../i18n.ts';
import type { Action } from '../../ui/action.tsx';
import { RadioGroup, SelectField, TextField } from '../../ui/forms.tsx';
import { RowButton } from '../../ui/table.tsx';
import {
  computeBase,
  formatProtocols,
  last,
  listGlobal,
  mutate,
  parseProtocols,
  splitList,
  strings,
  text,
  useNetworkNames,
  type Row,
} from './common.tsx';
import { FormButtons, NameField, TabLayout, useTab } from './parts.tsx';

/** Firewall rules: list, create, edit (PATCH), delete. */
export function FirewallsTab(props: { project: string }) {
  const { t } = useI18n();
  const { project } = props;
  const { list, state, remove, filter } = useTab(
    (token, typed) => listGlobal(project, 'firewalls', token, typed),
    project,
  );
  /** undefined: no form; null: the create form; a row: its edit form. */
  const [form, setForm] = useState<Row | null | undefined>();

  return (
    <TabLayout
      intro={t('vpc.firewallsIntro')}
      create={t('vpc.createFirewall')}
      open={form === null}
      onToggle={(open) => {
        setForm(open ? null : undefined);
      }}
      form={
        form !== undefined && (
          <FirewallForm
            key={form === null ? '' : text(form.name)}
            project={project}
            rule={form ?? undefined}
            state={state}
            onDone={() => {
              setForm(undefined);
            }}
          />
        )
      }
      state={state}
      list={list}
      filter={filter}
      filterLabel={t('vpc.filterFirewalls')}
      empty={t('vpc.emptyFirewalls')}
      label={t('vpc.firewalls')}
      columns={[
        t('common.name'),
        t('vpc.network'),
        t('vpc.direction'),
        t('vpc.priority'),
        t('vpc.filters'),
        t('vpc.protocols'),
        t('vpc.targets'),
        t('common.actions'),
      ]}
      row={(row) => {
        const name = text(row.name);
        const ingress = text(row.direction) !== 'EGRESS';
        const allowed = Array.isArray(row.allowed) && row.allowed.length > 0;
        const ranges = strings(ingress ? row.sourceRanges : row.destinationRanges);
        const sourceTags = strings(row.sourceTags);
        const targets = strings(row.targetTags);
        return (
          <tr key={name}>
            <td>{name}</td>
            <td>{last(text(row.network))}</td>
            <td>{t(ingress ? 'vpc.ingress' : 'vpc.egress')}</td>
            <td>{text(row.priority)}</td>
            <td>
              {ranges.length > 0 &&
                t(ingress ? 'vpc.fromRanges' : 'vpc.toRanges', { ranges: ranges.join(', ') })}
              {sourceTags.length > 0 && (
                <span className="vpc-block">{t('vpc.fromTags', { tags: sourceTags.join(', ') })}</span>
              )}
            </td>
            <td>
              {allowed
                ? t('vpc.allow', { rules: formatProtocols(row.allowed) })
                : t('vpc.deny', { rules: formatProtocols(row.denied) })}
            </td>
            <td>{targets.length > 0 ? targets.join(', ') : t('vpc.allInstances')}</td>
            <td>
              <div className="actions">
                <RowButton
                  verb={t('vpc.edit')}
                  name={name}
                  onClick={() => {
                    setForm(row);
                  }}
                />
                <RowButton
                  verb={t('common.delete')}
                  name={name}
                  disabled={state.busy}
                  onClick={() => {
                    remove(
                      `${computeBase(project)}/global/firewalls/${enc(name)}`,
                      name,
                      t('vpc.confirmDeleteFirewall', { name }),
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

/** Create (no `rule`) or edit a rule; editing PATCHes every field the form shows (name and network stay). */
function FirewallForm(props: { project: string; rule?: Row; state: Action; onDone: () => void }) {
  const { t } = useI18n();
  const { rule } = props;
  const editing = rule !== undefined;
  const networks = useNetworkNames(props.project);
  const [name, setName] = useState(text(rule?.name));
  const [description, setDescription] = useState(text(rule?.description));
  const [network, setNetwork] = useState(last(text(rule?.network)));
  const [direction, setDirection] = useState(text(rule?.direction) || 'INGRESS');
  const [priority, setPriority] = useState(text(rule?.priority) || '1000');
  const [action, setAction] = useState<'allow' | 'deny'>(
    rule !== undefined && Array.isArray(rule.denied) && rule.denied.length > 0 ? 'deny' : 'allow',
  );
  const [protocols, setProtocols] = useState(
    formatProtocols(rule === undefined ? [] : action === 'deny' ? rule.denied : rule.allowed),
  );
  const [ranges, setRanges] = useState(
    strings(direction === 'EGRESS' ? rule?.destinationRanges : rule?.sourceRanges).join(', '),
  );
  const [targetTags, setTargetTags] = useState(strings(rule?.targetTags).join(', '));
  const [badProtocols, setBadProtocols] = useState(false);
  const chosenNetwork = network === '' ? (networks[0] ?? '') : network;
  const egress = direction === 'EGRESS';

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const parsed = parseProtocols(protocols);
    setBadProtocols(parsed === undefined);
    if (parsed === undefined) {
      return;
    }
    const body: Record<string, unknown> = {
      description,
      priority: Number(priority),
      targetTags: splitList(targetTags),
      [action === 'allow' ? 'allowed' : 'denied']: parsed,
      [egress ? 'destinationRanges' : 'sourceRanges']: splitList(ranges),
    };
    const base = `${computeBase(props.project)}/global/firewalls`;
    const ok = await props.state.run(
      () =>
        editing
          ? mutate('PATCH', `${base}/${enc(name)}`, body)
          : mutate('POST', base, {
              ...body,
              name,
              network: `projects/${props.project}/global/networks/${chosenNetwork}`,
              direction,
            }),
      { done: t(editing ? 'vpc.saved' : 'vpc.created', { name }) },
    );
    if (ok) {
      props.onDone();
    }
  };

  const title = editing ? t('vpc.editFirewall', { name }) : t('vpc.createFirewall');
  return (
    <form className="card form vpc-form" aria-label={title} onSubmit={(e) => void submit(e)}>
      <h2>{title}</h2>
      <NameField disabled={editing} value={name} onValue={setName} />
      <TextField label={t('vpc.description')} value={description} onValue={setDescription} />
      <SelectField
        label={t('vpc.network')}
        disabled={editing}
        value={chosenNetwork}
        onValue={setNetwork}
        options={[...new Set([chosenNetwork, ...networks])].filter((n) => n !== '')}
      />
      <SelectField
        label={t('vpc.direction')}
        disabled={editing}
        value={direction}
        onValue={setDirection}
        options={[
          { value: 'INGRESS', label: t('vpc.ingress') },
          { value: 'EGRESS', label: t('vpc.egress') },
        ]}
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
      <RadioGroup
        legend={t('vpc.actionOnMatch')}
        className="vpc-choice"
        name="action"
        value={action}
        onValue={setAction}
        options={[
          { value: 'allow', label: t('vpc.actionAllow') },
          { value: 'deny', label: t('vpc.actionDeny') },
        ]}
      />
      <TextField
        label={t('vpc.protocolsPorts')}
        labelClassName="vpc-grow"
        required
        placeholder="tcp:22,80; udp:53; icmp"
        aria-invalid={badProtocols}
        aria-describedby="vpc-protocols-help"
        value={protocols}
        onValue={setProtocols}
      />
      <p id="vpc-protocols-help" className={badProtocols ? 'error-text vpc-wide' : 'muted vpc-wide'}>
        {t(badProtocols ? 'vpc.badProtocols' : 'vpc.protocolsHelp')}
      </p>
      <TextField
        label={t(egress ? 'vpc.destinationRanges' : 'vpc.sourceRanges')}
        labelClassName="vpc-grow"
        placeholder="0.0.0.0/0"
        value={ranges}
        onValue={setRanges}
      />
      <TextField
        label={t('vpc.targetTags')}
        labelClassName="vpc-grow"
        placeholder={t('vpc.targetTagsHint')}
        value={targetTags}
        onValue={setTargetTags}
      />
      <FormButtons
        busy={props.state.busy}
        submit={editing ? t('vpc.save') : t('common.create')}
        onCancel={props.onDone}
      />
    </form>
  );
}
