import { useState, type SyntheticEvent } from 'react';
import { call, enc } from '../../api.ts';
import { ErrorBox, Loading } from '../../components.tsx';
import { useI18n } from '../../i18n.ts';
import { ActionStatus, useAction, type Action } from '../../ui/action.tsx';
import { CheckField, SelectField } from '../../ui/forms.tsx';
import { useLoad } from '../../ui/load.ts';
import { formatTime, STORAGE_CLASSES, type BucketResource } from './common.ts';

/** The bucket fields the settings view reads beyond BucketResource. */
interface BucketSettingsResource extends BucketResource {
  storageClass?: string;
  versioning?: { enabled?: boolean };
  labels?: Record<string, string>;
  metageneration?: string;
}

/** A bucket's configuration (Google's "Configuration" tab) with the few settings it can change. */
export function BucketSettings(props: { bucket: string }) {
  const path = `/storage/v1/b/${enc(props.bucket)}`;
  const loaded = useLoad(() => call<BucketSettingsResource>('GET', path), [path]);
  const bucket = loaded.value;
  // Outlives the form (re-keyed after each save), so the outcome stays on screen.
  const action = useAction(loaded.reload);
  if (loaded.error !== undefined) {
    return <ErrorBox error={loaded.error} onRetry={loaded.reload} />;
  }
  if (bucket === undefined) {
    return <Loading />;
  }
  // Keyed by metageneration: after a save the form starts again from what the server holds.
  return (
    <>
      <SettingsForm key={bucket.metageneration ?? ''} bucket={bucket} path={path} action={action} />
      <ActionStatus action={action} />
    </>
  );
}

function SettingsForm(props: { bucket: BucketSettingsResource; path: string; action: Action }) {
  const { t } = useI18n();
  const { bucket } = props;
  const prevented = bucket.iamConfiguration?.publicAccessPrevention === 'enforced';
  const versioned = bucket.versioning?.enabled === true;
  const storageClass = bucket.storageClass ?? 'STANDARD';
  const [prevent, setPrevent] = useState(prevented);
  const [versioning, setVersioning] = useState(versioned);
  const [klass, setKlass] = useState(storageClass);
  const { action } = props;
  const labels = Object.entries(bucket.labels ?? {});
  const changed = prevent !== prevented || versioning !== versioned || klass !== storageClass;

  const save = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    const body: Record<string, unknown> = {};
    if (prevent !== prevented) {
      body.iamConfiguration = { publicAccessPrevention: prevent ? 'enforced' : 'inherited' };
    }
    if (versioning !== versioned) {
      body.versioning = { enabled: versioning };
    }
    if (klass !== storageClass) {
      body.storageClass = klass;
    }
    await action.run(() => call('PATCH', props.path, body), { done: t('storage.settingsSaved') });
  };

  return (
    <section aria-labelledby="bucket-settings" className="bucket-settings">
      <h2 id="bucket-settings">{t('storage.settings')}</h2>
      <dl className="facts object-facts">
        <div className="fact">
          <dt>{t('storage.location')}</dt>
          <dd>
            {bucket.location ?? ''}
            {bucket.locationType === undefined ? '' : ` (${bucket.locationType})`}
          </dd>
        </div>
        <div className="fact">
          <dt>{t('storage.storageClass')}</dt>
          <dd>{storageClass}</dd>
        </div>
        <div className="fact">
          <dt>{t('storage.publicAccessPrevention')}</dt>
          <dd>{prevented ? t('storage.enforced') : t('storage.inherited')}</dd>
        </div>
        <div className="fact">
          <dt>{t('storage.uniformAccess')}</dt>
          <dd>
            {bucket.iamConfiguration?.uniformBucketLevelAccess?.enabled === true
              ? t('storage.enabled')
              : t('storage.disabled')}
          </dd>
        </div>
        <div className="fact">
          <dt>{t('storage.versioning')}</dt>
          <dd>{versioned ? t('storage.enabled') : t('storage.disabled')}</dd>
        </div>
        <div className="fact">
          <dt>{t('storage.labels')}</dt>
          <dd>
            {labels.length === 0 ? t('storage.noLabels') : labels.map(([k, v]) => `${k}: ${v}`).join(', ')}
          </dd>
        </div>
        <div className="fact">
          <dt>{t('storage.created')}</dt>
          <dd>{formatTime(bucket.timeCreated)}</dd>
        </div>
      </dl>
      <h2>{t('storage.editSettings')}</h2>
      <form className="card form settings-form" onSubmit={(event) => void save(event)}>
        <CheckField
          label={t('storage.preventPublic')}
          labelClassName="inline"
          checked={prevent}
          onChecked={setPrevent}
        />
        <CheckField
          label={t('storage.enableVersioning')}
          labelClassName="inline"
          checked={versioning}
          onChecked={setVersioning}
        />
        <SelectField
          label={t('storage.defaultStorageClass')}
          value={klass}
          onValue={setKlass}
          options={STORAGE_CLASSES.map((value) => ({ value, label: value }))}
        />
        <button type="submit" className="primary" disabled={!changed || action.busy}>
          {t('storage.save')}
        </button>
      </form>
    </section>
  );
}
