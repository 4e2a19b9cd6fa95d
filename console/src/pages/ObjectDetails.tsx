import { useEffect, useId, useState, type ReactNode, type SyntheticEvent } from 'react';
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
  const [accounts, setAccounts] = useState<ServiceAccount[] | undefined>();
  const [account, setAccount] = useState('');
  const [expires, setExpires] = useState(EXPIRIES[0] ?? 900);
  const [result, setResult] = useState<{ url: string; until: Date } | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    let live = true;
    // One page of accounts (the first 100) is plenty for a picker.
    call<{ accounts?: ServiceAccount[] }>(
      'GET',
      `/v1/projects/${enc(props.project)}/serviceAccounts?pageSize=100`,
    ).then(
      (r) => {
        if (live) {
          const usable = (r.accounts ?? []).filter((a) => a.disabled !== true);
          setAccounts(usable);
          setAccount(usable[0]?.email ?? '');
        }
      },
      (failure: unknown) => {
        if (live) {
          setAccounts([]);
          setError(failure);
        }
      },
    );
    return () => {
      live = false;
    };
  }, [props.project]);

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    setResult(undefined);
    setBusy(true);
    try {
      const now = new Date();
      const url = await signedReadUrl({
        bucket: props.bucket,
        name: props.object,
        serviceAccount: account,
        expiresSeconds: expires,
        now,
      });
      setResult({ url, until: new Date(now.getTime() + expires * 1000) });
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
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
          <label>
            {t('storage.serviceAccount')}
            <select
              aria-label={t('storage.serviceAccount')}
              value={account}
              onChange={(event) => {
                setAccount(event.target.value);
              }}
            >
              {accounts.map((a) => (
                <option key={a.email} value={a.email}>
                  {a.email}
                </option>
              ))}
            </select>
          </label>
          <label>
            {t('storage.expiry')}
            <select
              aria-label={t('storage.expiry')}
              value={expires}
              onChange={(event) => {
                setExpires(Number(event.target.value));
              }}
            >
              {EXPIRIES.map((seconds) => (
                <option key={seconds} value={seconds}>
                  {expiryLabel(t, seconds)}
                </option>
              ))}
            </select>
          </label>
          <button type="submit" className="primary" disabled={busy || account === ''}>
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
  const [data, setData] = useState<
    { object: ObjectResource; bucket: BucketResource; publicity: Publicity; url: string } | undefined
  >();
  const [loadError, setLoadError] = useState<unknown>();
  const [error, setError] = useState<unknown>();
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let live = true;
    setLoadError(undefined);
    (async () => {
      const [objectResource, bucketResource] = await Promise.all([
        call<ObjectResource>('GET', objectPath(bucket, object)),
        call<BucketResource>('GET', `/storage/v1/b/${enc(bucket)}`),
      ]);
      const [publicity, url] = await Promise.all([
        publicityOf(bucketResource, objectResource),
        publicUrl(bucket, object),
      ]);
      return { object: objectResource, bucket: bucketResource, publicity, url: url.toString() };
    })().then(
      (loaded) => {
        if (live) {
          setData(loaded);
        }
      },
      (failure: unknown) => {
        if (live) {
          setLoadError(failure);
        }
      },
    );
    return () => {
      live = false;
    };
  }, [bucket, object, version]);

  const slash = object.lastIndexOf('/');
  const parent = slash < 0 ? '' : object.slice(0, slash + 1);
  const baseName = slash < 0 ? object : object.slice(slash + 1);

  const get = async (): Promise<void> => {
    setError(undefined);
    try {
      saveFile(await download(`${objectPath(bucket, object)}?alt=media`), baseName);
    } catch (failure) {
      setError(failure);
    }
  };
  const remove = async (): Promise<void> => {
    if (!window.confirm(t('storage.confirmDelete', { name: object }))) {
      return;
    }
    setError(undefined);
    try {
      await call('DELETE', objectPath(bucket, object));
      navigate(withProject(folderLink(bucket, parent), project));
    } catch (failure) {
      setError(failure);
    }
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
        <button type="button" onClick={() => void get()} aria-label={`${t('storage.download')}: ${object}`}>
          {t('storage.download')}
        </button>
        <button type="button" onClick={() => void remove()} aria-label={`${t('common.delete')}: ${object}`}>
          {t('storage.deleteObject')}
        </button>
      </div>
      {error !== undefined && <ErrorBox error={error} />}
      {loadError !== undefined && (
        <ErrorBox
          error={loadError}
          onRetry={() => {
            setVersion((v) => v + 1);
          }}
        />
      )}
      {data === undefined && loadError === undefined && <Loading />}
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
