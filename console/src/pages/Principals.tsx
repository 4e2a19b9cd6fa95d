import { useEffect, useState, type SyntheticEvent } from 'react';
import { call, enc } from '../api.ts';
import { ErrorBox, Loading } from '../components.tsx';
import { useI18n } from '../i18n.ts';

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
  const [policy, setPolicy] = useState<Policy | undefined>();
  const [roles, setRoles] = useState<Role[]>([]);
  const [error, setError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [version, setVersion] = useState(0);
  const [member, setMember] = useState('');
  const [role, setRole] = useState('roles/owner');
  const [message, setMessage] = useState('');

  useEffect(() => {
    let live = true;
    setError(undefined);
    call<Policy>('POST', `${resource}:getIamPolicy`, { options: { requestedPolicyVersion: 3 } }).then(
      (p) => {
        if (live) {
          setPolicy(p);
        }
      },
      (failure: unknown) => {
        if (live) {
          setError(failure);
        }
      },
    );
    return () => {
      live = false;
    };
  }, [resource, version]);

  useEffect(() => {
    call<{ roles?: Role[] }>('GET', '/v1/roles?pageSize=1000').then(
      (r) => {
        setRoles(r.roles ?? []);
      },
      () => {
        setRoles([]);
      },
    );
  }, []);

  /** Applies `change` to the latest policy and writes it back (etag-guarded). */
  const update = async (change: (bindings: Binding[]) => Binding[]): Promise<boolean> => {
    setActionError(undefined);
    try {
      const latest = await call<Policy>('POST', `${resource}:getIamPolicy`, {
        options: { requestedPolicyVersion: 3 },
      });
      const bindings = change(
        (latest.bindings ?? []).map((b) => ({ ...b, members: [...(b.members ?? [])] })),
      );
      const next = await call<Policy>('POST', `${resource}:setIamPolicy`, {
        policy: { ...latest, bindings: bindings.filter((b) => (b.members ?? []).length > 0) },
      });
      setPolicy(next);
      return true;
    } catch (failure) {
      setActionError(failure);
      return false;
    }
  };

  const grant = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const who = member.trim();
    const done = await update((bindings) => {
      const existing = bindings.find((b) => b.role === role && b.condition === undefined);
      if (existing === undefined) {
        return [...bindings, { role, members: [who] }];
      }
      if (!(existing.members ?? []).includes(who)) {
        existing.members = [...(existing.members ?? []), who];
      }
      return bindings;
    });
    if (done) {
      setMessage(t('iam.granted', { member: who, role }));
      setMember('');
    }
  };

  const remove = async (binding: Binding, who: string): Promise<void> => {
    if (!window.confirm(t('iam.confirmRemove', { member: who, role: binding.role }))) {
      return;
    }
    const done = await update((bindings) =>
      bindings.map((b) =>
        b.role === binding.role && b.condition?.expression === binding.condition?.expression
          ? { ...b, members: (b.members ?? []).filter((m) => m !== who) }
          : b,
      ),
    );
    if (done) {
      setMessage(t('iam.removed', { member: who, role: binding.role }));
    }
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
        <label>
          {t('iam.principal')}
          <input
            name="member"
            required
            size={48}
            placeholder="serviceAccount:NAME@PROJECT.iam.gserviceaccount.com"
            pattern="(user|serviceAccount|group|domain):.+|allUsers|allAuthenticatedUsers"
            value={member}
            onChange={(event) => {
              setMember(event.target.value);
            }}
          />
        </label>
        <label>
          {t('iam.role')}
          <select
            aria-label={t('iam.role')}
            value={role}
            onChange={(event) => {
              setRole(event.target.value);
            }}
          >
            {roleNames.map((name) => (
              <option key={name} value={name}>
                {title(name) === name ? name : `${title(name)} (${name})`}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="primary">
          {t('iam.save')}
        </button>
      </form>
      {message !== '' && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {actionError !== undefined && <ErrorBox error={actionError} />}
      {error !== undefined && (
        <ErrorBox
          error={error}
          onRetry={() => {
            setVersion((v) => v + 1);
          }}
        />
      )}
      {policy === undefined && error === undefined && <Loading />}
      {policy !== undefined && rows.length === 0 && <p className="muted">{t('iam.empty')}</p>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <table aria-label={t('iam.title')}>
            <thead>
              <tr>
                <th scope="col">{t('iam.principal')}</th>
                <th scope="col">{t('iam.role')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ binding, who }) => (
                <tr key={`${who} ${binding.role} ${binding.condition?.expression ?? ''}`}>
                  <td>{who}</td>
                  <td>
                    {title(binding.role)} <code>{binding.role}</code>
                    {binding.condition !== undefined && ` (${binding.condition.title ?? t('iam.condition')})`}
                  </td>
                  <td>
                    <button
                      type="button"
                      onClick={() => void remove(binding, who)}
                      aria-label={`${t('iam.remove')}: ${who} ${binding.role}`}
                    >
                      {t('iam.remove')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
