import { useId, useState, type SyntheticEvent } from 'react';
import { call, enc } from '../../api.ts';
import { Link } from '../../components.tsx';
import { useI18n, type MessageKey } from '../../i18n.ts';
import { pageQuery, usePaged } from '../../paging.ts';
import '../../styles/storage.css';
import { ActionStatus, useAction } from '../../ui/action.tsx';
import { CheckField, RadioGroup, SelectField, TextField } from '../../ui/forms.tsx';
import { FilterBox, useUrlFilter } from '../../ui/filter.tsx';
import { PagedTable, RowButton } from '../../ui/table.tsx';
import { formatTime, MULTI_REGIONS, REGIONS, STORAGE_CLASSES, type BucketResource } from './common.ts';

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
  const action = useAction();
  const locations = locationType === 'multi-region' ? MULTI_REGIONS : REGIONS;

  const chooseType = (type: LocationType): void => {
    setLocationType(type);
    setLocation(type === 'multi-region' ? 'US' : 'us-central1');
  };

  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    await action.run(async () => {
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
    });
  };

  return (
    <form
      className="card form storage-create"
      onSubmit={(event) => void submit(event)}
      aria-labelledby={`${id}-title`}
    >
      <h2 id={`${id}-title`}>{t('storage.create')}</h2>
      <TextField
        label={t('storage.bucketName')}
        name="bucketName"
        required
        autoComplete="off"
        spellCheck={false}
        value={name}
        aria-describedby={`${id}-name-hint`}
        onValue={setName}
      >
        <span id={`${id}-name-hint`} className="hint">
          {t('storage.bucketNameHint')}
        </span>
      </TextField>
      <RadioGroup
        legend={t('storage.locationType')}
        name={`${id}-location-type`}
        labelClassName="inline"
        value={locationType}
        onValue={chooseType}
        options={[
          { value: 'multi-region', label: t('storage.multiRegion') },
          { value: 'region', label: t('storage.region') },
        ]}
      />
      <SelectField
        label={t('storage.location')}
        aria-label={t('storage.location')}
        value={location}
        onValue={setLocation}
        options={locations}
      />
      <SelectField
        label={t('storage.storageClass')}
        aria-label={t('storage.storageClass')}
        value={storageClass}
        onValue={setStorageClass}
        options={STORAGE_CLASSES.map((c) => ({ value: c, label: t(`storage.class.${c}` as MessageKey) }))}
      />
      <RadioGroup
        legend={t('storage.accessControl')}
        name={`${id}-access`}
        labelClassName="inline"
        value={uniform}
        onValue={setUniform}
        options={[
          { value: true, label: t('storage.uniform') },
          { value: false, label: t('storage.fineGrained') },
        ]}
      />
      <CheckField
        label={t('storage.preventPublic')}
        labelClassName="inline check"
        checked={preventPublic}
        aria-describedby={`${id}-public-hint`}
        onChecked={setPreventPublic}
      />
      <p id={`${id}-public-hint`} className="hint full">
        {t('storage.preventPublicHint')}
      </p>
      <button type="submit" className="primary" disabled={action.busy}>
        {t('common.create')}
      </button>
      <ActionStatus action={action} />
    </form>
  );
}

export function BucketsPage(props: { project: string }) {
  const { t } = useI18n();
  // buckets.list filters by name prefix only (`prefix`), as Google's console says of its box.
  const filter = useUrlFilter();
  const list = usePaged(async (pageToken) => {
    const params: Record<string, string> = { project: props.project, maxResults: String(PAGE_SIZE) };
    if (filter !== '') {
      params.prefix = filter;
    }
    const r = await call<{ items?: BucketResource[]; nextPageToken?: string }>(
      'GET',
      `/storage/v1/b?${pageQuery(params, pageToken)}`,
    );
    return { items: r.items ?? [], nextPageToken: r.nextPageToken };
  }, `${props.project}\n${filter}`);
  const action = useAction(list.reload);

  const remove = (bucket: BucketResource): void => {
    void action.run(() => call('DELETE', `/storage/v1/b/${enc(bucket.name)}`), {
      confirm: t('storage.confirmDeleteBucket', { name: bucket.name }),
    });
  };

  return (
    <>
      <h1>{t('storage.title')}</h1>
      <CreateBucketForm
        project={props.project}
        onCreated={(bucket) => {
          list.reload();
          action.setMessage(t('storage.bucketCreated', { name: bucket.name }));
        }}
      />
      <ActionStatus action={action} />
      <FilterBox label={t('storage.filterBuckets')} placeholder={t('storage.filterPlaceholder')} />
      <PagedTable
        list={list}
        empty={filter === '' ? t('storage.empty') : t('storage.noResults')}
        label={t('storage.title')}
        className="storage-table"
        columns={[
          t('common.name'),
          t('storage.location'),
          t('storage.storageClass'),
          t('storage.publicAccess'),
          { label: t('storage.accessControl'), hideNarrow: true },
          { label: t('storage.created'), hideNarrow: true },
          t('common.actions'),
        ]}
        row={(bucket) => {
          const prevented = bucket.iamConfiguration?.publicAccessPrevention === 'enforced';
          const uniform = bucket.iamConfiguration?.uniformBucketLevelAccess?.enabled === true;
          return (
            <tr key={bucket.name}>
              <td>
                <Link to={`/storage/browser/${enc(bucket.name)}`}>{bucket.name}</Link>
              </td>
              <td>
                {bucket.location ?? ''}
                {bucket.locationType !== undefined && <span className="muted"> ({bucket.locationType})</span>}
              </td>
              <td className="nowrap">{bucket.storageClass ?? ''}</td>
              <td>{t(prevented ? 'storage.prevented' : 'storage.notPrevented')}</td>
              <td className="hide-narrow">{t(uniform ? 'storage.uniform' : 'storage.fineGrained')}</td>
              <td className="hide-narrow">{formatTime(bucket.timeCreated)}</td>
              <td>
                <RowButton
                  verb={t('common.delete')}
                  name={bucket.name}
                  onClick={() => {
                    remove(bucket);
                  }}
                />
              </td>
            </tr>
          );
        }}
      />
    </>
  );
}
