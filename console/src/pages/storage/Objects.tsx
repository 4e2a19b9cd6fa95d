import { useRef, useState, type ChangeEvent, type DragEvent, type SyntheticEvent } from 'react';
import { call, download, errorText, saveFile, upload } from '../../api.ts';
import { ErrorBox, Link, Loading, Pager } from '../../components.tsx';
import { useI18n } from '../../i18n.ts';
import { usePaged } from '../../paging.ts';
import { navigate, useProject, withProject } from '../../router.ts';
import { detailsLink, folderLink, formatSize, objectPath, type ObjectResource } from './common.ts';
import '../../styles/storage.css';
import { droppedFiles, pickedFiles, uploadFile, type PendingFile } from './transfer.ts';

const PAGE_SIZE = 50;
/** Files uploaded at once. */
const PARALLEL_UPLOADS = 3;

interface ActiveUpload {
  id: number;
  name: string;
  fraction: number;
}

export function ObjectsPage(props: { project: string; bucket: string; prefix: string }) {
  const { t } = useI18n();
  const project = useProject();
  const { bucket, prefix } = props;
  const base = `/storage/v1/b/${encodeURIComponent(bucket)}/o`;
  const list = usePaged(async (pageToken) => {
    const query = new URLSearchParams({ prefix, delimiter: '/', maxResults: String(PAGE_SIZE) });
    if (pageToken !== undefined) {
      query.set('pageToken', pageToken);
    }
    const r = await call<{ items?: ObjectResource[]; prefixes?: string[]; nextPageToken?: string }>(
      'GET',
      `${base}?${query.toString()}`,
    );
    const folders = (r.prefixes ?? []).map((p): ObjectResource => ({ name: p }));
    return {
      items: [...folders, ...(r.items ?? []).filter((o) => o.name !== prefix)],
      nextPageToken: r.nextPageToken,
    };
  }, `${bucket}/${prefix}`);
  const [active, setActive] = useState<ActiveUpload[]>([]);
  const [counts, setCounts] = useState<{ done: number; total: number } | undefined>();
  const [failures, setFailures] = useState<string[]>([]);
  const [message, setMessage] = useState('');
  const [error, setError] = useState<unknown>();
  const [dragging, setDragging] = useState(false);
  const [folderName, setFolderName] = useState('');
  const [folderFormOpen, setFolderFormOpen] = useState(false);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const input = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement | null>(null);
  const nextId = useRef(0);
  const folderLabel = prefix === '' ? bucket : `${bucket}/${prefix}`;

  const runUploads = async (files: PendingFile[]): Promise<void> => {
    if (files.length === 0) {
      return;
    }
    setError(undefined);
    setMessage('');
    setFailures([]);
    const failed: string[] = [];
    let done = 0;
    let next = 0;
    setCounts({ done, total: files.length });
    const worker = async (): Promise<void> => {
      for (let item = files[next++]; item !== undefined; item = files[next++]) {
        const id = nextId.current++;
        const { name } = item;
        setActive((rows) => [...rows, { id, name, fraction: 0 }]);
        try {
          await uploadFile(bucket, item, (fraction) => {
            setActive((rows) => rows.map((row) => (row.id === id ? { ...row, fraction } : row)));
          });
        } catch (failure) {
          failed.push(t('storage.uploadFailed', { name, message: errorText(failure) }));
        } finally {
          done += 1;
          setActive((rows) => rows.filter((row) => row.id !== id));
          setCounts({ done, total: files.length });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, files.length) }, worker));
    setCounts(undefined);
    setFailures(failed);
    if (failed.length < files.length) {
      setMessage(t('storage.uploaded', { n: files.length - failed.length }));
    }
    list.reload();
  };

  const onPicked = async (event: ChangeEvent<HTMLInputElement>): Promise<void> => {
    const files = pickedFiles(event.target.files, prefix);
    try {
      await runUploads(files);
    } finally {
      for (const element of [input.current, folderInput.current]) {
        if (element !== null) {
          element.value = '';
        }
      }
    }
  };

  const onDrop = (event: DragEvent<HTMLElement>): void => {
    event.preventDefault();
    setDragging(false);
    droppedFiles(event.dataTransfer, prefix).then(runUploads, (failure: unknown) => {
      setError(failure);
    });
  };
  const onDragOver = (event: DragEvent<HTMLElement>): void => {
    if ([...event.dataTransfer.types].includes('Files')) {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      setDragging(true);
    }
  };

  const createFolder = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const name = folderName.trim().replace(/\/+$/, '');
    if (name === '' || name.includes('/')) {
      setError(new Error(t('storage.badFolderName')));
      return;
    }
    setError(undefined);
    setMessage('');
    try {
      // As Google's console: a zero-byte object whose name ends with '/'.
      const objectName = `${prefix}${name}/`;
      await upload(
        `/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=media&name=${encodeURIComponent(objectName)}`,
        new Blob([]),
        () => undefined,
      );
      setFolderName('');
      setFolderFormOpen(false);
      setMessage(t('storage.folderCreated', { name: `${name}/` }));
      list.reload();
    } catch (failure) {
      setError(failure);
    }
  };

  const get = async (object: ObjectResource): Promise<void> => {
    try {
      const blob = await download(`${objectPath(bucket, object.name)}?alt=media`);
      saveFile(blob, object.name.split('/').pop() ?? object.name);
    } catch (failure) {
      setError(failure);
    }
  };

  const removeAll = async (names: string[], confirmText: string): Promise<void> => {
    if (names.length === 0 || !window.confirm(confirmText)) {
      return;
    }
    setError(undefined);
    setMessage('');
    let removed = 0;
    try {
      for (const name of names) {
        await call('DELETE', objectPath(bucket, name));
        removed += 1;
      }
      if (names.length > 1) {
        setMessage(t('storage.deleted', { n: removed }));
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setSelected(new Set());
      list.reload();
    }
  };

  const toggle = (name: string, on: boolean): void => {
    setSelected((current) => {
      const next = new Set(current);
      if (on) {
        next.add(name);
      } else {
        next.delete(name);
      }
      return next;
    });
  };

  const parent = prefix.split('/').slice(0, -2).join('/');
  const files = (list.page?.items ?? []).filter(
    (object) => !(object.name.endsWith('/') && object.size === undefined),
  );
  // Only what this page shows counts as selected (a selection never reaches objects out of sight).
  const chosen = files.filter((object) => selected.has(object.name)).map((object) => object.name);
  const allSelected = files.length > 0 && chosen.length === files.length;
  const uploading = counts !== undefined;

  return (
    <>
      <h1>{t('storage.objects', { bucket })}</h1>
      <nav aria-label={t('storage.folder')} className="row">
        <span className="crumbs">
          <Link to="/storage/browser">{t('storage.title')}</Link> /{' '}
          <Link to={folderLink(bucket, '')}>{bucket}</Link>
          {prefix
            .split('/')
            .slice(0, -1)
            .map((segment, index, all) => {
              const target = `${all.slice(0, index + 1).join('/')}/`;
              return (
                <span key={target}>
                  {' / '}
                  {index === all.length - 1 ? (
                    <span aria-current="page">{segment}</span>
                  ) : (
                    <Link to={folderLink(bucket, target)}>{segment}</Link>
                  )}
                </span>
              );
            })}
        </span>
        {prefix !== '' && (
          <button
            type="button"
            onClick={() => {
              navigate(withProject(folderLink(bucket, parent === '' ? '' : `${parent}/`), project));
            }}
          >
            {t('storage.up')}
          </button>
        )}
      </nav>
      <div className="form uploads">
        <label>
          {t('storage.upload')}
          <input
            ref={input}
            type="file"
            multiple
            disabled={uploading}
            onChange={(event) => void onPicked(event)}
          />
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
            disabled={uploading}
            onChange={(event) => void onPicked(event)}
          />
        </label>
        <button
          type="button"
          aria-expanded={folderFormOpen}
          onClick={() => {
            setFolderFormOpen((open) => !open);
          }}
        >
          {t('storage.createFolder')}
        </button>
        <button
          type="button"
          disabled={chosen.length === 0}
          onClick={() => void removeAll(chosen, t('storage.confirmDeleteSelected', { n: chosen.length }))}
        >
          {t('storage.deleteSelected', { n: chosen.length })}
        </button>
      </div>
      {folderFormOpen && (
        <form className="card form" onSubmit={(event) => void createFolder(event)}>
          <label>
            {t('storage.folderName')}
            <input
              autoFocus
              required
              value={folderName}
              onChange={(event) => {
                setFolderName(event.target.value);
              }}
            />
          </label>
          <button type="submit" className="primary">
            {t('common.create')}
          </button>
          <button
            type="button"
            onClick={() => {
              setFolderFormOpen(false);
            }}
          >
            {t('common.cancel')}
          </button>
        </form>
      )}
      {counts !== undefined && (
        <div role="status" className="upload-status">
          <p>{t('storage.uploadingCount', { done: counts.done, total: counts.total })}</p>
          <ul>
            {active.map((row) => (
              <li key={row.id}>
                <span>
                  {t('storage.uploading', { name: row.name, percent: Math.round(row.fraction * 100) })}
                </span>
                <progress value={row.fraction} max={1} aria-label={row.name} />
              </li>
            ))}
          </ul>
        </div>
      )}
      {message !== '' && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {failures.length > 0 && (
        <ul role="alert" className="error upload-failures">
          {failures.map((failure) => (
            <li key={failure}>{failure}</li>
          ))}
        </ul>
      )}
      {error !== undefined && <ErrorBox error={error} />}
      <section
        className={dragging ? 'drop-zone dragging' : 'drop-zone'}
        aria-label={t('storage.dropZone', { folder: folderLabel })}
        onDragOver={onDragOver}
        onDragEnter={onDragOver}
        onDragLeave={(event) => {
          if (!event.currentTarget.contains(event.relatedTarget as Node | null)) {
            setDragging(false);
          }
        }}
        onDrop={onDrop}
      >
        <p className="drop-hint muted">
          {t(dragging ? 'storage.dropHere' : 'storage.dropZone', { folder: folderLabel })}
        </p>
        {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
        {list.page === undefined && list.error === undefined && <Loading />}
        {list.page?.items.length === 0 && list.pageIndex === 0 && (
          <p className="muted">{t('storage.noObjects')}</p>
        )}
        {list.page !== undefined && list.page.items.length > 0 && (
          <div className="table-wrap">
            <table className="storage-table" aria-label={t('storage.objects', { bucket })}>
              <thead>
                <tr>
                  <th scope="col" className="select">
                    <input
                      type="checkbox"
                      aria-label={t('storage.selectAll')}
                      checked={allSelected}
                      disabled={files.length === 0}
                      onChange={(event) => {
                        setSelected(new Set(event.target.checked ? files.map((object) => object.name) : []));
                      }}
                    />
                  </th>
                  <th scope="col">{t('common.name')}</th>
                  <th scope="col">{t('storage.size')}</th>
                  <th scope="col" className="hide-narrow">
                    {t('storage.type')}
                  </th>
                  <th scope="col" className="hide-narrow">
                    {t('storage.updated')}
                  </th>
                  <th scope="col">{t('common.actions')}</th>
                </tr>
              </thead>
              <tbody>
                {list.page.items.map((object) => {
                  const label = object.name.slice(prefix.length);
                  const folder = object.name.endsWith('/') && object.size === undefined;
                  return (
                    <tr key={object.name}>
                      <td className="select">
                        {!folder && (
                          <input
                            type="checkbox"
                            aria-label={`${t('storage.select')}: ${object.name}`}
                            checked={selected.has(object.name)}
                            onChange={(event) => {
                              toggle(object.name, event.target.checked);
                            }}
                          />
                        )}
                      </td>
                      <td>
                        {folder ? (
                          <Link to={folderLink(bucket, object.name)}>{label}</Link>
                        ) : (
                          <Link to={detailsLink(bucket, object.name)}>{label}</Link>
                        )}
                      </td>
                      <td>{folder ? t('storage.folder') : formatSize(object.size)}</td>
                      <td className="hide-narrow">{object.contentType ?? ''}</td>
                      <td className="hide-narrow">
                        {object.updated === undefined ? '' : new Date(object.updated).toLocaleString()}
                      </td>
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
                                onClick={() =>
                                  void removeAll(
                                    [object.name],
                                    t('storage.confirmDelete', { name: object.name }),
                                  )
                                }
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
      </section>
    </>
  );
}
