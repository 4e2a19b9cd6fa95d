import { useId, useState, type ReactNode, type SyntheticEvent } from 'react';
import { call, download, enc, saveFile, type ServiceAccount } from '../api.ts';
import { ErrorBox, Link, Loading } from '../components.tsx';
import { useI18n, type Translate } from '../i18n.ts';
import { navigate, withProject } from '../router.ts';
import {
  base64ToHex,
  folderLink,
  formatSize,
  objectPath,
  publicUrl,
  type BucketResource,
  type ObjectResource,
} from './storage/common.ts';
import { signedReadUrl } from './storage/signed-url.ts';
import '../styles/storage.css';
import { ActionStatus, useAction } from '../ui/action.tsx';
import { SelectField } from '../ui/forms.tsx';
import { useLoad } from '../ui/load.ts';
import { RowButton } from '../ui/table.tsx';

/** Expiry choices for signed URLs, in seconds (Google allows up to 7 days). */
const EXPIRIES = [15 * 60, 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600];

function expiryLabel(t: Translate, seconds: number): string {
  if (seconds < 3600) {
    return t('storage.minutes', { n: seconds / 60 });
  }
  if (seconds < 24 * 3600) {
    return seconds === 3600 ? t('storage.hour') : t('storage.hours', { n: seconds / 3600 });
  }
  return seconds === 24 * 3600 ? t('storage.day') : t('storage.days', { n: seconds / (24 * 3600) });
}

type Publicity = 'public' | 'private' | 'prevented' | 'unknown';

/** Whether anonymous callers can read the object: a public IAM binding on the bucket or a public ACL entry. */
async function publicityOf(bucket: BucketResource, object: ObjectResource): Promise<Publicity> {
  if (bucket.iamConfiguration?.publicAccessPrevention === 'enforced') {
    return 'prevented';
  }
  const readers = [
    'roles/storage.objectViewer',
    'roles/storage.legacyObjectReader',
    'roles/storage.objectAdmin',
  ];
  try {
    const policy = await call<{ bindings?: { role: string; members: string[] }[] }>(
      'GET',
      `/storage/v1/b/${enc(bucket.name)}/iam`,
    );
    const bound = (policy.bindings ?? []).some(
      (binding) =>
        (readers.includes(binding.role) || binding.role === 'roles/storage.admin') &&
        binding.members.includes('allUsers'),
    );
    if (bound) {
      return 'public';
    }
    if (bucket.iamConfiguration?.uniformBucketLevelAccess?.enabled === true) {
      return 'private';
    }
    const acl = await call<{ items?: { entity: string }[] }>(
      'GET',
      `${objectPath(bucket.name, object.name)}/acl?generation=${enc(object.generation ?? '')}`,
    );
    return (acl.items ?? []).some((entry) => entry.entity === 'allUsers') ? 'public' : 'private';
  } catch {
    return 'unknown';
  }
}

function CopyField(props: { label: string; value: string; multiline?: boolean }) {
  const { t } = useI18n();
  const id = useId();
  const [copied, setCopied] = useState(false);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(props.value);
    } catch {
      // Without clipboard access (plain HTTP on another host): select the text for Ctrl+C.
      const field = document.getElementById(id);
      if (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) {
        field.select();
      }
    }
    setCopied(true);
  };
  return (
    <div className="copy-field">
      <label htmlFor={id}>{props.label}</label>
      <div className="copy-row">
        {props.multiline === true ? (
          <textarea id={id} readOnly rows={4} value={props.value} />
        ) : (
          <input id={id} readOnly value={props.value} />
        )}
        <button
          type="button"
          onClick={() => void copy()}
          aria-label={t('storage.copyThe', { what: props.label })}
        >
          {t('storage.copy')}
        </button>
        {copied && (
          <span role="status" className="ok">
            {t('storage.copied')}
          </span>
        )}
      </div>
    </div>
  );
}

function SignedUrlForm(props: { project: string; bucket: string; object: string }) {
  const { t } = useI18n();
  const [account, setAccount] = useState('');
  const [expires, setExpires] = useState(EXPIRIES[0] ?? 900);
  const [result, setResult] = useState<{ url: string; until: Date } | undefined>();
  const action = useAction();
  // One page of accounts (the first 100) is plenty for a picker.
  const load = useLoad(async () => {
    const r = await call<{ accounts?: ServiceAccount[] }>(
      'GET',
      `/v1/projects/${enc(props.project)}/serviceAccounts?pageSize=100`,
    );
    const usable = (r.accounts ?? []).filter((a) => a.disabled !== true);
    setAccount(usable[0]?.email ?? '');
    return usable;
  }, [props.project]);
  const accounts = load.error === undefined ? load.value : [];
  const error = action.error ?? load.error;

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setResult(undefined);
    await action.run(async () => {
      const now = new Date();
      const url = await signedReadUrl({
        bucket: props.bucket,
        name: props.object,
        serviceAccount: account,
        expiresSeconds: expires,
        now,
      });
      setResult({ url, until: new Date(now.getTime() + expires * 1000) });
    });
  };

  return (
    <section className="card" aria-labelledby="signed-url-title">
      <h2 id="signed-url-title">{t('storage.signedUrl')}</h2>
      <p className="muted">{t('storage.signedHint')}</p>
      {accounts === undefined && <Loading />}
      {accounts?.length === 0 && error === undefined && (
        <p className="muted">{t('storage.noServiceAccounts')}</p>
      )}
      {accounts !== undefined && accounts.length > 0 && (
        <form className="form signed-form" onSubmit={(event) => void submit(event)}>
          <SelectField
            label={t('storage.serviceAccount')}
            aria-label={t('storage.serviceAccount')}
            value={account}
            onValue={setAccount}
            options={accounts.map((a) => a.email)}
          />
          <SelectField
            label={t('storage.expiry')}
            aria-label={t('storage.expiry')}
            value={expires}
            onValue={(value) => {
              setExpires(Number(value));
            }}
            options={EXPIRIES.map((seconds) => ({ value: seconds, label: expiryLabel(t, seconds) }))}
          />
          <button type="submit" className="primary" disabled={action.busy || account === ''}>
            {t('storage.createSignedUrl')}
          </button>
        </form>
      )}
      {error !== undefined && <ErrorBox error={error} />}
      {result !== undefined && (
        <CopyField
          label={t('storage.signedUrlFor', { time: result.until.toLocaleString() })}
          value={result.url}
          multiline
        />
      )}
    </section>
  );
}

/** Cloud Storage › object details (`/storage/browser/_details/BUCKET/OBJECT`). */
export function ObjectDetailsPage(props: { project: string; bucket: string; object: string }) {
  const { t } = useI18n();
  const { bucket, object, project } = props;
  const load = useLoad(async () => {
    const [objectResource, bucketResource] = await Promise.all([
      call<ObjectResource>('GET', objectPath(bucket, object)),
      call<BucketResource>('GET', `/storage/v1/b/${enc(bucket)}`),
    ]);
    const [publicity, url] = await Promise.all([
      publicityOf(bucketResource, objectResource),
      publicUrl(bucket, object),
    ]);
    return { object: objectResource, bucket: bucketResource, publicity, url: url.toString() };
  }, [bucket, object]);
  const data = load.value;
  const action = useAction();

  const slash = object.lastIndexOf('/');
  const parent = slash < 0 ? '' : object.slice(0, slash + 1);
  const baseName = slash < 0 ? object : object.slice(slash + 1);

  const get = (): void => {
    void action.run(async () => {
      saveFile(await download(`${objectPath(bucket, object)}?alt=media`), baseName);
    });
  };
  const remove = (): void => {
    void action.run(
      async () => {
        await call('DELETE', objectPath(bucket, object));
        navigate(withProject(folderLink(bucket, parent), project));
      },
      { confirm: t('storage.confirmDelete', { name: object }) },
    );
  };

  const facts: [string, ReactNode][] =
    data === undefined
      ? []
      : [
          [t('common.name'), data.object.name],
          [t('storage.bucket'), bucket],
          [
            t('storage.size'),
            `${formatSize(data.object.size)} (${t('storage.bytes', { n: data.object.size ?? '0' })})`,
          ],
          [t('storage.type'), data.object.contentType ?? ''],
          [t('storage.created'), data.object.timeCreated ?? ''],
          [t('storage.updated'), data.object.updated ?? ''],
          [t('storage.storageClass'), data.object.storageClass ?? ''],
          [t('storage.generation'), data.object.generation ?? ''],
          [t('storage.metageneration'), data.object.metageneration ?? ''],
          [t('storage.crc32c'), data.object.crc32c ?? ''],
          [t('storage.crc32cHex'), base64ToHex(data.object.crc32c)],
          [t('storage.md5'), data.object.md5Hash ?? t('storage.noMd5')],
          [t('storage.md5Hex'), base64ToHex(data.object.md5Hash)],
          [t('storage.etag'), data.object.etag ?? ''],
        ];
  const publicityText: Record<Publicity, string> = {
    public: t('storage.publicYes'),
    private: t('storage.publicNo'),
    prevented: t('storage.publicPrevented'),
    unknown: t('storage.publicUnknown'),
  };

  return (
    <>
      <nav aria-label={t('storage.folder')} className="crumbs">
        <Link to="/storage/browser">{t('storage.title')}</Link> /{' '}
        <Link to={folderLink(bucket, '')}>{bucket}</Link>
        {parent !== '' && (
          <>
            {' / '}
            <Link to={folderLink(bucket, parent)}>{parent.slice(0, -1)}</Link>
          </>
        )}
      </nav>
      <h1>
        {t('storage.objectDetails')}: {baseName}
      </h1>
      <div className="actions details-actions">
        <RowButton verb={t('storage.download')} name={object} onClick={get} />
        <button type="button" onClick={remove} aria-label={`${t('common.delete')}: ${object}`}>
          {t('storage.deleteObject')}
        </button>
      </div>
      <ActionStatus action={action} />
      {load.error !== undefined && <ErrorBox error={load.error} onRetry={load.reload} />}
      {data === undefined && load.error === undefined && <Loading />}
      {data !== undefined && (
        <>
          <section className="card" aria-labelledby="object-overview">
            <h2 id="object-overview">{t('storage.overview')}</h2>
            <dl className="facts object-facts">
              {facts.map(([term, value]) => (
                <div key={term} className="fact">
                  <dt>{term}</dt>
                  <dd>{value}</dd>
                </div>
              ))}
            </dl>
          </section>
          <section className="card" aria-labelledby="object-access">
            <h2 id="object-access">{t('storage.access')}</h2>
            <dl className="facts object-facts">
              <div className="fact">
                <dt>{t('storage.isPublic')}</dt>
                <dd>{publicityText[data.publicity]}</dd>
              </div>
            </dl>
            <CopyField label={t('storage.publicUrl')} value={data.url} />
            <CopyField label={t('storage.authenticatedUrl')} value={data.object.mediaLink ?? ''} />
            <p className="muted">{t('storage.authenticatedHint')}</p>
          </section>
          <SignedUrlForm project={project} bucket={bucket} object={object} />
        </>
      )}
    </>
  );
}
