import { useState, type SyntheticEvent } from 'react';
import { enc } from '../../api.ts';
import { ErrorBox, Loading, Pager } from '../../components.tsx';
import { useI18n } from '../../i18n.ts';
import { usePaged } from '../../paging.ts';
import {
  computeBase,
  formatProtocols,
  last,
  listGlobal,
  MutationStatus,
  mutate,
  parseProtocols,
  splitList,
  strings,
  text,
  useMutations,
  useNetworkNames,
  type Row,
} from './common.tsx';

const NAME_PATTERN = '[a-z]([\\-a-z0-9]*[a-z0-9])?';

/** Firewall rules: list, create, edit (PATCH), delete. */
export function FirewallsTab(props: { project: string }) {
  const { t } = useI18n();
  const { project } = props;
  const list = usePaged((token) => listGlobal(project, 'firewalls', token), project);
  const state = useMutations(list.reload);
  /** undefined: no form; null: the create form; a row: its edit form. */
  const [form, setForm] = useState<Row | null | undefined>();

  const remove = (name: string): void => {
    if (!window.confirm(t('vpc.confirmDeleteFirewall', { name }))) {
      return;
    }
    void state.run(
      () => mutate('DELETE', `${computeBase(project)}/global/firewalls/${enc(name)}`),
      t('vpc.deleted', { name }),
    );
  };

  return (
    <>
      <div className="row vpc-toolbar">
        <p className="muted">{t('vpc.firewallsIntro')}</p>
        <button
          type="button"
          className="primary"
          aria-expanded={form === null}
          onClick={() => {
            setForm(form === null ? undefined : null);
          }}
        >
          {t('vpc.createFirewall')}
        </button>
      </div>
      {form !== undefined && (
        <FirewallForm
          key={form === null ? '' : text(form.name)}
          project={project}
          rule={form ?? undefined}
          state={state}
          onDone={() => {
            setForm(undefined);
          }}
        />
      )}
      <MutationStatus state={state} />
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.page === undefined && list.error === undefined && <Loading />}
      {list.page?.items.length === 0 && list.pageIndex === 0 && (
        <p className="muted">{t('vpc.emptyFirewalls')}</p>
      )}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table className="vpc-table" aria-label={t('vpc.firewalls')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('vpc.network')}</th>
                <th scope="col">{t('vpc.direction')}</th>
                <th scope="col">{t('vpc.priority')}</th>
                <th scope="col">{t('vpc.filters')}</th>
                <th scope="col">{t('vpc.protocols')}</th>
                <th scope="col">{t('vpc.targets')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((row) => {
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
                        <span className="vpc-block">
                          {t('vpc.fromTags', { tags: sourceTags.join(', ') })}
                        </span>
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
                        <button
                          type="button"
                          aria-label={`${t('vpc.edit')}: ${name}`}
                          onClick={() => {
                            setForm(row);
                          }}
                        >
                          {t('vpc.edit')}
                        </button>
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

/** Create (no `rule`) or edit a rule; editing PATCHes every field the form shows (name and network stay). */
function FirewallForm(props: {
  project: string;
  rule?: Row;
  state: ReturnType<typeof useMutations>;
  onDone: () => void;
}) {
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
      t(editing ? 'vpc.saved' : 'vpc.created', { name }),
    );
    if (ok) {
      props.onDone();
    }
  };

  const title = editing ? t('vpc.editFirewall', { name }) : t('vpc.createFirewall');
  return (
    <form className="card form vpc-form" aria-label={title} onSubmit={(e) => void submit(e)}>
      <h2>{title}</h2>
      <label>
        {t('common.name')}
        <input
          required
          pattern={NAME_PATTERN}
          maxLength={63}
          disabled={editing}
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
          disabled={editing}
          value={chosenNetwork}
          onChange={(event) => {
            setNetwork(event.target.value);
          }}
        >
          {[...new Set([chosenNetwork, ...networks])]
            .filter((n) => n !== '')
            .map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
        </select>
      </label>
      <label>
        {t('vpc.direction')}
        <select
          disabled={editing}
          value={direction}
          onChange={(event) => {
            setDirection(event.target.value);
          }}
        >
          <option value="INGRESS">{t('vpc.ingress')}</option>
          <option value="EGRESS">{t('vpc.egress')}</option>
        </select>
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
      <fieldset className="vpc-choice">
        <legend>{t('vpc.actionOnMatch')}</legend>
        {(['allow', 'deny'] as const).map((value) => (
          <label key={value}>
            <input
              type="radio"
              name="action"
              value={value}
              checked={action === value}
              onChange={() => {
                setAction(value);
              }}
            />
            {t(value === 'allow' ? 'vpc.actionAllow' : 'vpc.actionDeny')}
          </label>
        ))}
      </fieldset>
      <label className="vpc-grow">
        {t('vpc.protocolsPorts')}
        <input
          required
          placeholder="tcp:22,80; udp:53; icmp"
          aria-invalid={badProtocols}
          aria-describedby="vpc-protocols-help"
          value={protocols}
          onChange={(event) => {
            setProtocols(event.target.value);
          }}
        />
      </label>
      <p id="vpc-protocols-help" className={badProtocols ? 'error-text vpc-wide' : 'muted vpc-wide'}>
        {t(badProtocols ? 'vpc.badProtocols' : 'vpc.protocolsHelp')}
      </p>
      <label className="vpc-grow">
        {t(egress ? 'vpc.destinationRanges' : 'vpc.sourceRanges')}
        <input
          placeholder="0.0.0.0/0"
          value={ranges}
          onChange={(event) => {
            setRanges(event.target.value);
          }}
        />
      </label>
      <label className="vpc-grow">
        {t('vpc.targetTags')}
        <input
          placeholder={t('vpc.targetTagsHint')}
          value={targetTags}
          onChange={(event) => {
            setTargetTags(event.target.value);
          }}
        />
      </label>
      <div className="actions vpc-wide">
        <button type="submit" className="primary" disabled={props.state.busy}>
          {editing ? t('vpc.save') : t('common.create')}
        </button>
        <button type="button" onClick={props.onDone}>
          {t('common.cancel')}
        </button>
      </div>
    </form>
  );
}
