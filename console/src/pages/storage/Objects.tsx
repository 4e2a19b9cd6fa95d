import {
  useRef,
  useState,
  type ChangeEvent,
  type DragEvent,
  type ReactNode,
  type SyntheticEvent,
} from 'react';
import { call, download, enc, errorText, saveFile, upload } from '../../api.ts';
import { ErrorBox, Link } from '../../components.tsx';
import { useI18n } from '../../i18n.ts';
import { pageQuery, usePaged } from '../../paging.ts';
import { navigate, useLocation, useProject, withProject } from '../../router.ts';
import { BucketSettings } from './BucketSettings.tsx';
import {
  detailsLink,
  folderLink,
  formatSize,
  formatTime,
  objectPath,
  type ObjectResource,
} from './common.ts';
import '../../styles/storage.css';
import { useAction } from '../../ui/action.tsx';
import { TextField } from '../../ui/forms.tsx';
import { FilterBox, useUrlFilter } from '../../ui/filter.tsx';
import { PagedTable, RowButton } from '../../ui/table.tsx';
import { droppedFiles, pickedFiles, uploadFile, type PendingFile } from './transfer.ts';

const PAGE_SIZE = 50;
/** Files uploaded at once. */
const PARALLEL_UPLOADS = 3;
/** Objects deleted at once when a folder goes. */
const PARALLEL_DELETES = 4;
/** Past this many objects the folder-delete confirmation says "1000+". */
const COUNT_CAP = 1000;

interface ActiveUpload {
  id: number;
  name: string;
  fraction: number;
}

/** The bucket's views: its objects (the folder browser) or its configuration (`?tab=configuration`). */
export function ObjectsPage(props: { project: string; bucket: string; prefix: string }) {
  const { t } = useI18n();
  const configuration = useLocation().query.get('tab') === 'configuration';
  const { bucket, prefix } = props;
  const objects = folderLink(bucket, prefix);
  const tabs = (
    <nav aria-label={t('storage.bucketTabs')} className="tabs bucket-tabs">
      <Link to={objects} current={!configuration}>
        {t('storage.tabObjects')}
      </Link>
      <Link to={`${objects}${objects.includes('?') ? '&' : '?'}tab=configuration`} current={configuration}>
        {t('storage.tabConfiguration')}
      </Link>
    </nav>
  );
  if (configuration) {
    return (
      <>
        <h1>{t('storage.bucketTitle', { name: bucket })}</h1>
        <p className="crumbs">
          <Link to="/storage/browser">{t('storage.title')}</Link> / {bucket}
        </p>
        {tabs}
        <BucketSettings bucket={bucket} />
      </>
    );
  }
  return <ObjectBrowser {...props} tabs={tabs} />;
}

function ObjectBrowser(props: { project: string; bucket: string; prefix: string; tabs: ReactNode }) {
  const { t } = useI18n();
  const project = useProject();
  const { bucket, prefix } = props;
  const base = `/storage/v1/b/${enc(bucket)}/o`;
  // The filter box narrows the folder by name prefix (objects.list `prefix` = folder + typed text).
  const filter = useUrlFilter();
  const list = usePaged(async (pageToken) => {
    const query = pageQuery(
      { prefix: `${prefix}${filter}`, delimiter: '/', maxResults: String(PAGE_SIZE) },
      pageToken,
    );
    const r = await call<{ items?: ObjectResource[]; prefixes?: string[]; nextPageToken?: string }>(
      'GET',
      `${base}?${query}`,
    );
    const folders = (r.prefixes ?? []).map((p): ObjectResource => ({ name: p }));
    return {
      items: [...folders, ...(r.items ?? []).filter((o) => o.name !== prefix)],
      nextPageToken: r.nextPageToken,
    };
  }, `${bucket}/${prefix}\n${filter}`);
  const [active, setActive] = useState<ActiveUpload[]>([]);
  const [counts, setCounts] = useState<{ done: number; total: number } | undefined>();
  const [folderProgress, setFolderProgress] = useState<
    { name: string; done: number; total: string } | undefined
  >();
  const [failures, setFailures] = useState<string[]>([]);
  const action = useAction(list.reload);
  const { setError, setMessage } = action;
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
    // As Google's console: a zero-byte object whose name ends with '/'.
    const objectName = `${prefix}${name}/`;
    await action.run(
      async () => {
        await upload(
          `/upload/storage/v1/b/${enc(bucket)}/o?uploadType=media&name=${enc(objectName)}`,
          new Blob([]),
          () => undefined,
        );
        setFolderName('');
        setFolderFormOpen(false);
      },
      { done: t('storage.folderCreated', { name: `${name}/` }) },
    );
  };

  const get = (object: ObjectResource): void => {
    void action.run(async () => {
      saveFile(
        await download(`${objectPath(bucket, object.name)}?alt=media`),
        object.name.split('/').pop() ?? object.name,
      );
    });
  };

  const removeAll = async (names: string[], confirm: string): Promise<void> => {
    if (names.length === 0) {
      return;
    }
    let removed = 0;
    await action.run(
      async () => {
        try {
          for (const name of names) {
            await call('DELETE', objectPath(bucket, name));
            removed += 1;
          }
          if (names.length > 1) {
            setMessage(t('storage.deleted', { n: removed }));
          }
        } finally {
          setSelected(new Set());
        }
      },
      { confirm },
    );
  };

  /** Objects under `folder` (no delimiter), counted a page at a time up to just past COUNT_CAP. */
  const countUnder = async (folder: string): Promise<number> => {
    let count = 0;
    let token: string | undefined;
    do {
      const query = pageQuery({ prefix: folder, maxResults: String(COUNT_CAP) }, token);
      const r = await call<{ items?: { name: string }[]; nextPageToken?: string }>('GET', `${base}?${query}`);
      count += r.items?.length ?? 0;
      token = r.nextPageToken;
    } while (token !== undefined && count <= COUNT_CAP);
    return count;
  };

  const removeFolder = async (folder: string): Promise<void> => {
    setError(undefined);
    setMessage(t('storage.counting', { name: folder }));
    let count: number;
    try {
      count = await countUnder(folder);
    } catch (failure) {
      setMessage('');
      setError(failure);
      return;
    }
    setMessage('');
    const total = count > COUNT_CAP ? `${String(COUNT_CAP)}+` : String(count);
    let done = 0;
    await action.run(
      async () => {
        setFolderProgress({ name: folder, done, total });
        try {
          // Every round lists the first page again: what the last round deleted is gone from it.
          for (;;) {
            const query = pageQuery({ prefix: folder, maxResults: '100' }, undefined);
            const r = await call<{ items?: { name: string }[] }>('GET', `${base}?${query}`);
            const names = (r.items ?? []).map((item) => item.name);
            if (names.length === 0) {
              break;
            }
            let next = 0;
            const worker = async (): Promise<void> => {
              for (let name = names[next++]; name !== undefined; name = names[next++]) {
                await call('DELETE', objectPath(bucket, name));
                done += 1;
                setFolderProgress({ name: folder, done, total });
              }
            };
            await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, names.length) }, worker));
          }
          setMessage(t('storage.folderDeleted', { name: folder, n: done }));
        } finally {
          setFolderProgress(undefined);
        }
      },
      { confirm: t('storage.confirmDeleteFolder', { name: folder, n: total }) },
    );
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
      {props.tabs}
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
          <TextField
            label={t('storage.folderName')}
            autoFocus
            required
            value={folderName}
            onValue={setFolderName}
          />
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
      {folderProgress !== undefined && (
        <p role="status" className="muted">
          {t('storage.deletingFolder', {
            name: folderProgress.name,
            done: folderProgress.done,
            total: folderProgress.total,
          })}
        </p>
      )}
      {action.message !== '' && (
        <p role="status" className="ok">
          {action.message}
        </p>
      )}
      {failures.length > 0 && (
        <ul role="alert" className="error upload-failures">
          {failures.map((failure) => (
            <li key={failure}>{failure}</li>
          ))}
        </ul>
      )}
      {action.error !== undefined && <ErrorBox error={action.error} />}
      <FilterBox label={t('storage.filterObjects')} placeholder={t('storage.filterPlaceholder')} />
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
        <PagedTable
          list={list}
          empty={filter === '' ? t('storage.noObjects') : t('storage.noResults')}
          label={t('storage.objects', { bucket })}
          className="storage-table"
          columns={[
            {
              className: 'select',
              label: (
                <input
                  type="checkbox"
                  aria-label={t('storage.selectAll')}
                  checked={allSelected}
                  disabled={files.length === 0}
                  onChange={(event) => {
                    setSelected(new Set(event.target.checked ? files.map((object) => object.name) : []));
                  }}
                />
              ),
            },
            t('common.name'),
            t('storage.size'),
            { label: t('storage.type'), hideNarrow: true },
            { label: t('storage.updated'), hideNarrow: true },
            t('common.actions'),
          ]}
          row={(object) => {
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
                <td className="hide-narrow">{formatTime(object.updated)}</td>
                <td>
                  <div className="actions">
                    {folder && (
                      <RowButton
                        verb={t('common.delete')}
                        name={object.name}
                        disabled={action.busy}
                        onClick={() => void removeFolder(object.name)}
                      />
                    )}
                    {!folder && (
                      <>
                        <RowButton
                          verb={t('storage.download')}
                          name={object.name}
                          onClick={() => {
                            get(object);
                          }}
                        />
                        <RowButton
                          verb={t('common.delete')}
                          name={object.name}
                          onClick={() =>
                            void removeAll([object.name], t('storage.confirmDelete', { name: object.name }))
                          }
                        />
                      </>
                    )}
                  </div>
                </td>
              </tr>
            );
          }}
        />
      </section>
    </>
  );
}
