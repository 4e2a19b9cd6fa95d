import { useState, type SyntheticEvent } from 'react';
import { call, enc } from '../api.ts';
import { ErrorBox, Loading } from '../components.tsx';
import { useI18n } from '../i18n.ts';
import { ActionStatus, useAction } from '../ui/action.tsx';
import { SelectField, TextField } from '../ui/forms.tsx';
import { useLoad, usePickerList } from '../ui/load.ts';
import { DataTable, RowButton } from '../ui/table.tsx';

interface Binding {
  role: string;
  members?: string[];
  condition?: { title?: string; expression?: string };
}

interface Policy {
  version?: number;
  etag?: string;
  bindings?: Binding[];
}

interface Role {
  name: string;
  title?: string;
}

/** Roles offered first (the seed grants Owner); the rest come from GET /v1/roles. */
const COMMON_ROLES = ['roles/owner', 'roles/editor', 'roles/viewer'];

/** Project principals and their roles: getIamPolicy, then read-modify-write setIamPolicy with the etag. */
export function PrincipalsPage(props: { project: string }) {
  const { t } = useI18n();
  const resource = `/v1/projects/${enc(props.project)}`;
  const load = useLoad(
    () => call<Policy>('POST', `${resource}:getIamPolicy`, { options: { requestedPolicyVersion: 3 } }),
    [resource],
  );
  const policy = load.value;
  const roles = usePickerList(
    async () => (await call<{ roles?: Role[] }>('GET', '/v1/roles?pageSize=1000')).roles ?? [],
    [],
  );
  const action = useAction();
  const [member, setMember] = useState('');
  const [role, setRole] = useState('roles/owner');

  /** Applies `change` to the latest policy and writes it back (etag-guarded). */
  const update = async (
    change: (bindings: Binding[]) => Binding[],
    options: { confirm?: string; done: string },
  ): Promise<boolean> =>
    await action.run(async () => {
      const latest = await call<Policy>('POST', `${resource}:getIamPolicy`, {
        options: { requestedPolicyVersion: 3 },
      });
      const bindings = change(
        (latest.bindings ?? []).map((b) => ({ ...b, members: [...(b.members ?? [])] })),
      );
      const next = await call<Policy>('POST', `${resource}:setIamPolicy`, {
        policy: { ...latest, bindings: bindings.filter((b) => (b.members ?? []).length > 0) },
      });
      load.setValue(next);
    }, options);

  const grant = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const who = member.trim();
    const done = await update(
      (bindings) => {
        const existing = bindings.find((b) => b.role === role && b.condition === undefined);
        if (existing === undefined) {
          return [...bindings, { role, members: [who] }];
        }
        if (!(existing.members ?? []).includes(who)) {
          existing.members = [...(existing.members ?? []), who];
        }
        return bindings;
      },
      { done: t('iam.granted', { member: who, role }) },
    );
    if (done) {
      setMember('');
    }
  };

  const remove = async (binding: Binding, who: string): Promise<void> => {
    await update(
      (bindings) =>
        bindings.map((b) =>
          b.role === binding.role && b.condition?.expression === binding.condition?.expression
            ? { ...b, members: (b.members ?? []).filter((m) => m !== who) }
            : b,
        ),
      {
        confirm: t('iam.confirmRemove', { member: who, role: binding.role }),
        done: t('iam.removed', { member: who, role: binding.role }),
      },
    );
  };

  const roleNames = [...COMMON_ROLES, ...roles.map((r) => r.name).filter((n) => !COMMON_ROLES.includes(n))];
  const title = (name: string): string => roles.find((r) => r.name === name)?.title ?? name;
  const rows = (policy?.bindings ?? []).flatMap((binding) =>
    (binding.members ?? []).map((who) => ({ binding, who })),
  );
  rows.sort((a, b) => a.who.localeCompare(b.who) || a.binding.role.localeCompare(b.binding.role));

  return (
    <>
      <h1>{t('iam.title')}</h1>
      <p className="muted">{t('iam.intro', { project: props.project })}</p>
      <form className="card form" onSubmit={(event) => void grant(event)} aria-labelledby="iam-grant">
        <h2 id="iam-grant">{t('iam.grant')}</h2>
        <TextField
          label={t('iam.principal')}
          name="member"
          required
          size={48}
          placeholder="serviceAccount:NAME@PROJECT.iam.gserviceaccount.com"
          pattern="(user|serviceAccount|group|domain):.+|allUsers|allAuthenticatedUsers"
          value={member}
          onValue={setMember}
        />
        <SelectField
          label={t('iam.role')}
          aria-label={t('iam.role')}
          value={role}
          onValue={setRole}
          options={roleNames.map((name) => ({
            value: name,
            label: title(name) === name ? name : `${title(name)} (${name})`,
          }))}
        />
        <button type="submit" className="primary">
          {t('iam.save')}
        </button>
      </form>
      <ActionStatus action={action} />
      {load.error !== undefined && <ErrorBox error={load.error} onRetry={load.reload} />}
      {policy === undefined && load.error === undefined && <Loading />}
      {policy !== undefined && rows.length === 0 && <p className="muted">{t('iam.empty')}</p>}
      {rows.length > 0 && (
        <DataTable label={t('iam.title')} columns={[t('iam.principal'), t('iam.role'), t('common.actions')]}>
          {rows.map(({ binding, who }) => (
            <tr key={`${who} ${binding.role} ${binding.condition?.expression ?? ''}`}>
              <td>{who}</td>
              <td>
                {title(binding.role)} <code>{binding.role}</code>
                {binding.condition !== undefined && ` (${binding.condition.title ?? t('iam.condition')})`}
              </td>
              <td>
                <RowButton
                  verb={t('iam.remove')}
                  name={`${who} ${binding.role}`}
                  onClick={() => void remove(binding, who)}
                />
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}
