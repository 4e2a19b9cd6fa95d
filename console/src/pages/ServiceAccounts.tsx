import { useState, type SyntheticEvent } from 'react';
import { call, enc, saveFile, type ServiceAccount, type ServiceAccountKey } from '../api.ts';
import { ActionStatus, useAction } from '../ui/action.tsx';
import { TextField } from '../ui/forms.tsx';
import { FilterBox, useUrlFilter } from '../ui/filter.tsx';
import { PagedTable, RowButton } from '../ui/table.tsx';
import { useI18n } from '../i18n.ts';
import { pageQuery, usePaged } from '../paging.ts';

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
  const action = useAction(keys.reload);

  const addKey = (): void => {
    void action.run(async () => {
      const key = await call<ServiceAccountKey>('POST', base, {
        privateKeyType: 'TYPE_GOOGLE_CREDENTIALS_FILE',
      });
      const bytes = Uint8Array.from(atob(key.privateKeyData ?? ''), (c) => c.charCodeAt(0));
      const id = keyId(key);
      saveFile(new Blob([bytes], { type: 'application/json' }), `${props.project}-${id.slice(0, 12)}.json`);
      action.setMessage(t('keys.downloaded', { id }));
    });
  };

  const deleteKey = (key: ServiceAccountKey): void => {
    void action.run(() => call('DELETE', `${base}/${enc(keyId(key))}`), {
      confirm: t('keys.confirmDelete', { id: keyId(key) }),
    });
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
        <button type="button" className="primary" onClick={addKey} disabled={action.busy}>
          {t('keys.add')}
        </button>
      </p>
      <ActionStatus action={action} />
      <PagedTable
        list={keys}
        empty={t('keys.empty')}
        columns={[t('keys.id'), t('keys.created'), t('keys.expires'), t('common.actions')]}
        row={(key) => (
          <tr key={key.name}>
            <td>
              <code>{keyId(key)}</code>
            </td>
            <td>{key.validAfterTime ?? ''}</td>
            <td>{key.validBeforeTime ?? ''}</td>
            <td>
              <button
                type="button"
                onClick={() => {
                  deleteKey(key);
                }}
                aria-label={`${t('common.delete')} ${keyId(key)}`}
              >
                {t('common.delete')}
              </button>
            </td>
          </tr>
        )}
      />
    </section>
  );
}

function CreateForm(props: { project: string; onCreated: (account: ServiceAccount) => void }) {
  const { t } = useI18n();
  const [accountId, setAccountId] = useState('');
  const [displayName, setDisplayName] = useState('');
  const action = useAction();
  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    await action.run(async () => {
      const account = await call<ServiceAccount>(
        'POST',
        `/v1/projects/${enc(props.project)}/serviceAccounts`,
        { accountId, serviceAccount: displayName === '' ? {} : { displayName } },
      );
      setAccountId('');
      setDisplayName('');
      props.onCreated(account);
    });
  };
  return (
    <form className="card form" onSubmit={(event) => void submit(event)} aria-labelledby="sa-create">
      <h2 id="sa-create">{t('sa.create')}</h2>
      <TextField
        label={t('sa.accountId')}
        name="accountId"
        required
        pattern="[a-z][a-z0-9\-]{4,28}[a-z0-9]"
        value={accountId}
        onValue={setAccountId}
      />
      <TextField
        label={t('sa.displayName')}
        name="displayName"
        value={displayName}
        onValue={setDisplayName}
      />
      <button type="submit" className="primary" disabled={action.busy}>
        {t('common.create')}
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

export function ServiceAccountsPage(props: { project: string }) {
  const { t } = useI18n();
  const list = usePaged(async (pageToken) => {
    const query = pageQuery({ pageSize: String(PAGE_SIZE) }, pageToken);
    const r = await call<{ accounts?: ServiceAccount[]; nextPageToken?: string }>(
      'GET',
      `/v1/projects/${enc(props.project)}/serviceAccounts?${query}`,
    );
    return { items: r.accounts ?? [], nextPageToken: r.nextPageToken };
  }, props.project);
  // The IAM API has no filter: the box narrows the page on screen (its placeholder says so).
  const filter = useUrlFilter().toLowerCase();
  const shown: typeof list =
    filter === '' || list.page === undefined
      ? list
      : {
          ...list,
          page: {
            ...list.page,
            items: list.page.items.filter((account) =>
              `${account.email}\n${account.displayName ?? ''}`.toLowerCase().includes(filter),
            ),
          },
        };
  const [selected, setSelected] = useState<ServiceAccount | undefined>();
  const action = useAction(list.reload);

  const act = (account: ServiceAccount, verb: 'disable' | 'enable' | 'delete'): void => {
    const path = `/v1/projects/${enc(props.project)}/serviceAccounts/${enc(account.email)}`;
    if (verb !== 'delete') {
      void action.run(() => call('POST', `${path}:${verb}`, {}));
      return;
    }
    void action.run(
      async () => {
        await call('DELETE', path);
        if (selected?.email === account.email) {
          setSelected(undefined);
        }
      },
      { confirm: t('sa.confirmDelete', { email: account.email }) },
    );
  };

  return (
    <>
      <h1>{t('sa.title')}</h1>
      <p className="muted">{t('sa.intro', { project: props.project })}</p>
      <CreateForm
        project={props.project}
        onCreated={(account) => {
          list.reload();
          action.setMessage(t('sa.created', { email: account.email }));
        }}
      />
      <ActionStatus action={action} />
      <FilterBox label={t('sa.filter')} placeholder={t('sa.filterPlaceholder')} />
      <PagedTable
        list={shown}
        empty={filter === '' ? t('sa.empty') : t('sa.noResults')}
        emptyOnEveryPage={filter !== ''}
        label={t('sa.title')}
        columns={[t('sa.email'), t('sa.displayName'), t('common.status'), t('common.actions')]}
        row={(account) => {
          const toggle = account.disabled === true ? 'enable' : 'disable';
          return (
            <tr key={account.email}>
              <td>{account.email}</td>
              <td>{account.displayName ?? ''}</td>
              <td>{account.disabled === true ? t('sa.disabled') : t('sa.enabled')}</td>
              <td>
                <div className="actions">
                  <RowButton
                    verb={t('sa.manageKeys')}
                    name={account.email}
                    onClick={() => {
                      setSelected(account);
                    }}
                  />
                  <RowButton
                    verb={t(toggle === 'enable' ? 'sa.enable' : 'sa.disable')}
                    name={account.email}
                    onClick={() => {
                      act(account, toggle);
                    }}
                  />
                  <RowButton
                    verb={t('common.delete')}
                    name={account.email}
                    onClick={() => {
                      act(account, 'delete');
                    }}
                  />
                </div>
              </td>
            </tr>
          );
        }}
      />
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
