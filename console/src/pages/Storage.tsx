import { useRef, useState, type ChangeEvent, type SyntheticEvent } from 'react';
import { call, download, enc, saveFile, upload, type Bucket, type StorageObject } from '../api.ts';
import { ErrorBox, Link, Loading, Pager } from '../components.tsx';
import { useI18n } from '../i18n.ts';
import { usePaged } from '../paging.ts';
import { navigate, useProject, withProject } from '../router.ts';

const PAGE_SIZE = 50;

function size(bytes: string | undefined): string {
  const n = Number(bytes ?? 0);
  if (n < 1024) {
    return `${n} B`;
  }
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

function CreateBucketForm(props: { project: string; onCreated: (bucket: Bucket) => void }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [location, setLocation] = useState('US');
  const [storageClass, setStorageClass] = useState('STANDARD');
  const [error, setError] = useState<unknown>();
  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    try {
      const bucket = await call<Bucket>('POST', `/storage/v1/b?project=${enc(props.project)}`, {
        name,
        location,
        storageClass,
      });
      setName('');
      props.onCreated(bucket);
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <form className="card form" onSubmit={(event) => void submit(event)} aria-labelledby="bucket-create">
      <h2 id="bucket-create">{t('storage.create')}</h2>
      <label>
        {t('storage.bucketName')}
        <input
          name="bucketName"
          required
          value={name}
          onChange={(event) => {
            setName(event.target.value);
          }}
        />
      </label>
      <label>
        {t('storage.location')}
        <select
          aria-label={t('storage.location')}
          value={location}
          onChange={(event) => {
            setLocation(event.target.value);
          }}
        >
          {['US', 'EU', 'ASIA', 'us-central1', 'asia-northeast3'].map((l) => (
            <option key={l}>{l}</option>
          ))}
        </select>
      </label>
      <label>
        {t('storage.storageClass')}
        <select
          aria-label={t('storage.storageClass')}
          value={storageClass}
          onChange={(event) => {
            setStorageClass(event.target.value);
          }}
        >
          {['STANDARD', 'NEARLINE', 'COLDLINE', 'ARCHIVE'].map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
      </label>
      <button type="submit" className="primary">
        {t('common.create')}
      </button>
      {error !== undefined && <ErrorBox error={error} />}
    </form>
  );
}

export function BucketsPage(props: { project: string }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>();
  const list = usePaged(async (pageToken) => {
    const query = new URLSearchParams({ project: props.project, maxResults: String(PAGE_SIZE) });
    if (pageToken !== undefined) {
      query.set('pageToken', pageToken);
    }
    const r = await call<{ items?: Bucket[]; nextPageToken?: string }>(
      'GET',
      `/storage/v1/b?${query.toString()}`,
    );
    return { items: r.items ?? [], nextPageToken: r.nextPageToken };
  }, props.project);
  const remove = async (bucket: Bucket): Promise<void> => {
    if (!window.confirm(t('storage.confirmDeleteBucket', { name: bucket.name }))) {
      return;
    }
    setError(undefined);
    try {
      await call('DELETE', `/storage/v1/b/${enc(bucket.name)}`);
      list.reload();
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <>
      <h1>{t('storage.title')}</h1>
      <CreateBucketForm project={props.project} onCreated={list.reload} />
      {error !== undefined && <ErrorBox error={error} />}
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.page === undefined && list.error === undefined && <Loading />}
      {list.page?.items.length === 0 && list.pageIndex === 0 && <p className="muted">{t('storage.empty')}</p>}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table aria-label={t('storage.title')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('storage.location')}</th>
                <th scope="col">{t('storage.storageClass')}</th>
                <th scope="col">{t('storage.created')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((bucket) => (
                <tr key={bucket.name}>
                  <td>
                    <Link to={`/storage/browser/${enc(bucket.name)}`}>{bucket.name}</Link>
                  </td>
                  <td>{bucket.location ?? ''}</td>
                  <td>{bucket.storageClass ?? ''}</td>
                  <td>{bucket.timeCreated ?? ''}</td>
                  <td>
                    <button
                      type="button"
                      onClick={() => void remove(bucket)}
                      aria-label={`${t('common.delete')}: ${bucket.name}`}
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
      <Pager page={list.pageIndex} hasNext={list.hasNext} onPrevious={list.previous} onNext={list.next} />
    </>
  );
}

export function ObjectsPage(props: { project: string; bucket: string; prefix: string }) {
  const { t } = useI18n();
  const project = useProject();
  const { bucket, prefix } = props;
  const base = `/storage/v1/b/${enc(bucket)}/o`;
  const list = usePaged(async (pageToken) => {
    const query = new URLSearchParams({ prefix, delimiter: '/', maxResults: String(PAGE_SIZE) });
    if (pageToken !== undefined) {
      query.set('pageToken', pageToken);
    }
    const r = await call<{ items?: StorageObject[]; prefixes?: string[]; nextPageToken?: string }>(
      'GET',
      `${base}?${query.toString()}`,
    );
    const folders = (r.prefixes ?? []).map((p): StorageObject => ({ name: p }));
    return {
      items: [...folders, ...(r.items ?? []).filter((o) => o.name !== prefix)],
      nextPageToken: r.nextPageToken,
    };
  }, `${bucket}/${prefix}`);
  const [progress, setProgress] = useState<{ name: string; fraction: number } | undefined>();
  const [message, setMessage] = useState('');
  const [error, setError] = useState<unknown>();
  const input = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement | null>(null);

  const folderLink = (p: string): string => {
    const query = p === '' ? '' : `?prefix=${enc(p)}`;
    return `/storage/browser/${enc(bucket)}${query}`;
  };

  const onFiles = async (event: ChangeEvent<HTMLInputElement>): Promise<void> => {
    const files = [...(event.target.files ?? [])];
    setError(undefined);
    setMessage('');
    try {
      for (const file of files) {
        const relative = file.webkitRelativePath === '' ? file.name : file.webkitRelativePath;
        const name = `${prefix}${relative}`;
        setProgress({ name, fraction: 0 });
        await upload(
          `/upload/storage/v1/b/${enc(bucket)}/o?uploadType=media&name=${enc(name)}`,
          file,
          (fraction) => {
            setProgress({ name, fraction });
          },
        );
      }
      setMessage(t('storage.uploaded', { n: files.length }));
    } catch (failure) {
      setError(failure);
    } finally {
      setProgress(undefined);
      for (const element of [input.current, folderInput.current]) {
        if (element !== null) {
          element.value = '';
        }
      }
      list.reload();
    }
  };

  const get = async (object: StorageObject): Promise<void> => {
    try {
      const blob = await download(`${base}/${enc(object.name)}?alt=media`);
      saveFile(blob, object.name.split('/').pop() ?? object.name);
    } catch (failure) {
      setError(failure);
    }
  };
  const remove = async (object: StorageObject): Promise<void> => {
    if (!window.confirm(t('storage.confirmDelete', { name: object.name }))) {
      return;
    }
    try {
      await call('DELETE', `${base}/${enc(object.name)}`);
      list.reload();
    } catch (failure) {
      setError(failure);
    }
  };

  const parent = prefix.split('/').slice(0, -2).join('/');
  return (
    <>
      <h1>{t('storage.objects', { bucket })}</h1>
      <nav aria-label={t('storage.folder')} className="row">
        <span>
          <Link to="/storage/browser">{t('storage.title')}</Link> / <Link to={folderLink('')}>{bucket}</Link>
          {prefix !== '' && ` / ${prefix}`}
        </span>
        {prefix !== '' && (
          <button
            type="button"
            onClick={() => {
              navigate(withProject(folderLink(parent === '' ? '' : `${parent}/`), project));
            }}
          >
            {t('storage.up')}
          </button>
        )}
      </nav>
      <div className="form uploads">
        <label>
          {t('storage.upload')}
          <input ref={input} type="file" multiple onChange={(event) => void onFiles(event)} />
        </label>
        <label>
          {t('storage.uploadFolder')}
          <input
            ref={(element) => {
              // Chromium and Firefox pick whole folders with this (non-standard) attribute.
              element?.setAttribute('webkitdirectory', '');
              folderInput.current = element;
            }}
            type="file"
            multiple
            onChange={(event) => void onFiles(event)}
          />
        </label>
      </div>
      {progress !== undefined && (
        <p role="status">
          {t('storage.uploading', { name: progress.name, percent: Math.round(progress.fraction * 100) })}{' '}
          <progress value={progress.fraction} max={1} aria-label={progress.name} />
        </p>
      )}
      {message !== '' && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {error !== undefined && <ErrorBox error={error} />}
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.page === undefined && list.error === undefined && <Loading />}
      {list.page?.items.length === 0 && list.pageIndex === 0 && (
        <p className="muted">{t('storage.noObjects')}</p>
      )}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table aria-label={t('storage.objects', { bucket })}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('storage.size')}</th>
                <th scope="col">{t('storage.type')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((object) => {
                const label = object.name.slice(prefix.length);
                const folder = object.name.endsWith('/') && object.size === undefined;
                return (
                  <tr key={object.name}>
                    <td>{folder ? <Link to={folderLink(object.name)}>{label}</Link> : label}</td>
                    <td>{folder ? t('storage.folder') : size(object.size)}</td>
                    <td>{object.contentType ?? ''}</td>
                    <td>
                      <div className="actions">
                        {!folder && (
                          <>
                            <button
                              type="button"
                              onClick={() => void get(object)}
                              aria-label={`${t('storage.download')}: ${object.name}`}
                            >
                              {t('storage.download')}
                            </button>
                            <button
                              type="button"
                              onClick={() => void remove(object)}
                              aria-label={`${t('common.delete')}: ${object.name}`}
                            >
                              {t('common.delete')}
                            </button>
                          </>
                        )}
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
