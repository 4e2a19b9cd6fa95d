import { useState, type SyntheticEvent } from 'react';
import { call, enc, saveFile, type ServiceAccount, type ServiceAccountKey } from '../api.ts';
import { ErrorBox, Loading, Pager } from '../components.tsx';
import { useI18n } from '../i18n.ts';
import { usePaged } from '../paging.ts';

const PAGE_SIZE = 20;

function keyId(key: ServiceAccountKey): string {
  return key.name.split('/').pop() ?? key.name;
}

function KeysPanel(props: { project: string; account: ServiceAccount; onClose: () => void }) {
  const { t } = useI18n();
  const base = `/v1/projects/${enc(props.project)}/serviceAccounts/${enc(props.account.email)}/keys`;
  const keys = usePaged(async () => {
    const r = await call<{ keys?: ServiceAccountKey[] }>('GET', `${base}?keyTypes=USER_MANAGED`);
    return { items: r.keys ?? [] };
  }, props.account.email);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const addKey = async (): Promise<void> => {
    setBusy(true);
    setError(undefined);
    try {
      const key = await call<ServiceAccountKey>('POST', base, {
        privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE',
      });
      const bytes = Uint8Array.from(atob(key.privateKeyData ?? ''), (c) => c.charCodeAt(0));
      const id = keyId(key);
      saveFile(new Blob([bytes], { type: 'application/json' }), `${props.project}-${id.slice(0, 12)}.json`);
      setMessage(t('keys.downloaded', { id }));
      keys.reload();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  const deleteKey = async (key: ServiceAccountKey): Promise<void> => {
    if (!window.confirm(t('keys.confirmDelete', { id: keyId(key) }))) {
      return;
    }
    try {
      await call('DELETE', `${base}/${enc(keyId(key))}`);
      keys.reload();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <section className="card" aria-labelledby="keys-title">
      <div className="row">
        <h2 id="keys-title">{t('keys.title', { email: props.account.email })}</h2>
        <button type="button" onClick={props.onClose}>
          {t('keys.close')}
        </button>
      </div>
      <p>
        <button type="button" className="primary" onClick={() => void addKey()} disabled={busy}>
          {t('keys.add')}
        </button>
      </p>
      {message !== '' && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {error !== undefined && <ErrorBox error={error} />}
      {keys.error !== undefined && <ErrorBox error={keys.error} onRetry={keys.reload} />}
      {keys.page === undefined && keys.error === undefined && <Loading />}
      {keys.page?.items.length === 0 && <p className="muted">{t('keys.empty')}</p>}
      {keys.page !== undefined && keys.page.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('keys.id')}</th>
                <th scope="col">{t('keys.created')}</th>
                <th scope="col">{t('keys.expires')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {keys.page.items.map((key) => (
                <tr key={key.name}>
                  <td>
                    <code>{keyId(key)}</code>
                  </td>
                  <td>{key.validAfterTime ?? ''}</td>
                  <td>{key.validBeforeTime ?? ''}</td>
                  <td>
                    <button
                      type="button"
                      onClick={() => void deleteKey(key)}
                      aria-label={`${t('common.delete')} ${keyId(key)}`}
                    >
                      {t('common.delete')}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function CreateForm(props: { project: string; onCreated: (account: ServiceAccount) => void }) {
  const { t } = useI18n();
  const [accountId, setAccountId] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const account = await call<ServiceAccount>(
        'POST',
        `/v1/projects/${enc(props.project)}/serviceAccounts`,
        { accountId, serviceAccount: displayName === '' ? {} : { displayName } },
      );
      setAccountId('');
      setDisplayName('');
      props.onCreated(account);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card form" onSubmit={(event) => void submit(event)} aria-labelledby="sa-create">
      <h2 id="sa-create">{t('sa.create')}</h2>
      <label>
        {t('sa.accountId')}
        <input
          name="accountId"
          required
          pattern="[a-z][a-z0-9\-]{4,28}[a-z0-9]"
          value={accountId}
          onChange={(event) => {
            setAccountId(event.target.value);
          }}
        />
      </label>
      <label>
        {t('sa.displayName')}
        <input
          name="displayName"
          value={displayName}
          onChange={(event) => {
            setDisplayName(event.target.value);
          }}
        />
      </label>
      <button type="submit" className="primary" disabled={busy}>
        {t('common.create')}
      </button>
      {error !== undefined && <ErrorBox error={error} />}
    </form>
  );
}

export function ServiceAccountsPage(props: { project: string }) {
  const { t } = useI18n();
  const list = usePaged(async (pageToken) => {
    const query = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
    if (pageToken !== undefined) {
      query.set('pageToken', pageToken);
    }
    const r = await call<{ accounts?: ServiceAccount[]; nextPageToken?: string }>(
      'GET',
      `/v1/projects/${enc(props.project)}/serviceAccounts?${query.toString()}`,
    );
    return { items: r.accounts ?? [], nextPageToken: r.nextPageToken };
  }, props.project);
  const [selected, setSelected] = useState<ServiceAccount | undefined>();
  const [message, setMessage] = useState('');
  const [error, setError] = useState<unknown>();

  const act = async (account: ServiceAccount, action: 'disable' | 'enable' | 'delete'): Promise<void> => {
    setError(undefined);
    const path = `/v1/projects/${enc(props.project)}/serviceAccounts/${enc(account.email)}`;
    try {
      if (action === 'delete') {
        if (!window.confirm(t('sa.confirmDelete', { email: account.email }))) {
          return;
        }
        await call('DELETE', path);
        if (selected?.email === account.email) {
          setSelected(undefined);
        }
      } else {
        await call('POST', `${path}:${action}`, {});
      }
      list.reload();
    } catch (failure) {
      setError(failure);
    }
  };

  return (
    <>
      <h1>{t('sa.title')}</h1>
      <p className="muted">{t('sa.intro', { project: props.project })}</p>
      <CreateForm
        project={props.project}
        onCreated={(account) => {
          setMessage(t('sa.created', { email: account.email }));
          list.reload();
        }}
      />
      {message !== '' && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {error !== undefined && <ErrorBox error={error} />}
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.page === undefined && list.error === undefined && <Loading />}
      {list.page?.items.length === 0 && list.pageIndex === 0 && <p className="muted">{t('sa.empty')}</p>}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table aria-label={t('sa.title')}>
            <thead>
              <tr>
                <th scope="col">{t('sa.email')}</th>
                <th scope="col">{t('sa.displayName')}</th>
                <th scope="col">{t('common.status')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((account) => (
                <tr key={account.email}>
                  <td>{account.email}</td>
                  <td>{account.displayName ?? ''}</td>
                  <td>{account.disabled === true ? t('sa.disabled') : t('sa.enabled')}</td>
                  <td>
                    <div className="actions">
                      <button
                        type="button"
                        onClick={() => {
                          setSelected(account);
                        }}
                        aria-label={`${t('sa.manageKeys')}: ${account.email}`}
                      >
                        {t('sa.manageKeys')}
                      </button>
                      <button
                        type="button"
                        onClick={() => void act(account, account.disabled === true ? 'enable' : 'disable')}
                        aria-label={`${account.disabled === true ? t('sa.enable') : t('sa.disable')}: ${account.email}`}
                      >
                        {account.disabled === true ? t('sa.enable') : t('sa.disable')}
                      </button>
                      <button
                        type="button"
                        onClick={() => void act(account, 'delete')}
                        aria-label={`${t('common.delete')}: ${account.email}`}
                      >
                        {t('common.delete')}
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={list.pageIndex} hasNext={list.hasNext} onPrevious={list.previous} onNext={list.next} />
      {selected !== undefined && (
        <KeysPanel
          key={selected.email}
          project={props.project}
          account={selected}
          onClose={() => {
            setSelected(undefined);
          }}
        />
      )}
    </>
  );
}
