import { useId, useState, type SyntheticEvent } from 'react';
import { call, enc } from '../../api.ts';
import { ErrorBox, Link, Loading, Pager } from '../../components.tsx';
import { useI18n, type MessageKey } from '../../i18n.ts';
import { usePaged } from '../../paging.ts';
import '../../styles/storage.css';
import { MULTI_REGIONS, REGIONS, STORAGE_CLASSES, type BucketResource } from './common.ts';

const PAGE_SIZE = 50;

type LocationType = 'multi-region' | 'region';

function CreateBucketForm(props: { project: string; onCreated: (bucket: BucketResource) => void }) {
  const { t } = useI18n();
  const id = useId();
  const [name, setName] = useState('');
  const [locationType, setLocationType] = useState<LocationType>('multi-region');
  const [location, setLocation] = useState('US');
  const [storageClass, setStorageClass] = useState('STANDARD');
  // Google's console enforces public access prevention and uniform access on new buckets by default.
  const [preventPublic, setPreventPublic] = useState(true);
  const [uniform, setUniform] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const locations = locationType === 'multi-region' ? MULTI_REGIONS : REGIONS;

  const chooseType = (type: LocationType): void => {
    setLocationType(type);
    setLocation(type === 'multi-region' ? 'US' : 'us-central1');
  };

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const bucket = await call<BucketResource>('POST', `/storage/v1/b?project=${enc(props.project)}`, {
        name: name.trim(),
        location,
        storageClass,
        iamConfiguration: {
          uniformBucketLevelAccess: { enabled: uniform },
          publicAccessPrevention: preventPublic ? 'enforced' : 'inherited',
        },
      });
      setName('');
      props.onCreated(bucket);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="card form storage-create"
      onSubmit={(event) => void submit(event)}
      aria-labelledby={`${id}-title`}
    >
      <h2 id={`${id}-title`}>{t('storage.create')}</h2>
      <label>
        {t('storage.bucketName')}
        <input
          name="bucketName"
          required
          autoComplete="off"
          spellCheck={false}
          value={name}
          aria-describedby={`${id}-name-hint`}
          onChange={(event) => {
            setName(event.target.value);
          }}
        />
        <span id={`${id}-name-hint`} className="hint">
          {t('storage.bucketNameHint')}
        </span>
      </label>
      <fieldset>
        <legend>{t('storage.locationType')}</legend>
        {(['multi-region', 'region'] as const).map((type) => (
          <label key={type} className="inline">
            <input
              type="radio"
              name={`${id}-location-type`}
              checked={locationType === type}
              onChange={() => {
                chooseType(type);
              }}
            />
            {t(type === 'multi-region' ? 'storage.multiRegion' : 'storage.region')}
          </label>
        ))}
      </fieldset>
      <label>
        {t('storage.location')}
        <select
          aria-label={t('storage.location')}
          value={location}
          onChange={(event) => {
            setLocation(event.target.value);
          }}
        >
          {locations.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
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
          {STORAGE_CLASSES.map((c) => (
            <option key={c} value={c}>
              {t(`storage.class.${c}` as MessageKey)}
            </option>
          ))}
        </select>
      </label>
      <fieldset>
        <legend>{t('storage.accessControl')}</legend>
        {[true, false].map((value) => (
          <label key={String(value)} className="inline">
            <input
              type="radio"
              name={`${id}-access`}
              checked={uniform === value}
              onChange={() => {
                setUniform(value);
              }}
            />
            {t(value ? 'storage.uniform' : 'storage.fineGrained')}
          </label>
        ))}
      </fieldset>
      <label className="inline check">
        <input
          type="checkbox"
          checked={preventPublic}
          aria-describedby={`${id}-public-hint`}
          onChange={(event) => {
            setPreventPublic(event.target.checked);
          }}
        />
        {t('storage.preventPublic')}
      </label>
      <p id={`${id}-public-hint`} className="hint full">
        {t('storage.preventPublicHint')}
      </p>
      <button type="submit" className="primary" disabled={busy}>
        {t('common.create')}
      </button>
      {error !== undefined && <ErrorBox error={error} />}
    </form>
  );
}

export function BucketsPage(props: { project: string }) {
  const { t } = useI18n();
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState('');
  const list = usePaged(async (pageToken) => {
    const query = new URLSearchParams({ project: props.project, maxResults: String(PAGE_SIZE) });
    if (pageToken !== undefined) {
      query.set('pageToken', pageToken);
    }
    const r = await call<{ items?: BucketResource[]; nextPageToken?: string }>(
      'GET',
      `/storage/v1/b?${query.toString()}`,
    );
    return { items: r.items ?? [], nextPageToken: r.nextPageToken };
  }, props.project);

  const remove = async (bucket: BucketResource): Promise<void> => {
    if (!window.confirm(t('storage.confirmDeleteBucket', { name: bucket.name }))) {
      return;
    }
    setError(undefined);
    setMessage('');
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
      <CreateBucketForm
        project={props.project}
        onCreated={(bucket) => {
          setMessage(t('storage.bucketCreated', { name: bucket.name }));
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
      {list.page?.items.length === 0 && list.pageIndex === 0 && <p className="muted">{t('storage.empty')}</p>}
      {list.page !== undefined && list.page.items.length > 0 && (
        <div className="table-wrap">
          <table className="storage-table" aria-label={t('storage.title')}>
            <thead>
              <tr>
                <th scope="col">{t('common.name')}</th>
                <th scope="col">{t('storage.location')}</th>
                <th scope="col">{t('storage.storageClass')}</th>
                <th scope="col">{t('storage.publicAccess')}</th>
                <th scope="col" className="hide-narrow">
                  {t('storage.accessControl')}
                </th>
                <th scope="col" className="hide-narrow">
                  {t('storage.created')}
                </th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {list.page.items.map((bucket) => {
                const prevented = bucket.iamConfiguration?.publicAccessPrevention === 'enforced';
                const uniform = bucket.iamConfiguration?.uniformBucketLevelAccess?.enabled === true;
                return (
                  <tr key={bucket.name}>
                    <td>
                      <Link to={`/storage/browser/${enc(bucket.name)}`}>{bucket.name}</Link>
                    </td>
                    <td>
                      {bucket.location ?? ''}
                      {bucket.locationType !== undefined && (
                        <span className="muted"> ({bucket.locationType})</span>
                      )}
                    </td>
                    <td className="nowrap">{bucket.storageClass ?? ''}</td>
                    <td>{t(prevented ? 'storage.prevented' : 'storage.notPrevented')}</td>
                    <td className="hide-narrow">{t(uniform ? 'storage.uniform' : 'storage.fineGrained')}</td>
                    <td className="hide-narrow">
                      {bucket.timeCreated === undefined ? '' : new Date(bucket.timeCreated).toLocaleString()}
                    </td>
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
