import { useI18n } from '../i18n.ts';

export function NotBuiltPage(props: { service: string }) {
  const { t } = useI18n();
  return (
    <>
      <h1>{t('notBuilt.title', { service: props.service })}</h1>
      <p className="notice">{t('notBuilt.body', { service: props.service })}</p>
    </>
  );
}

export function NotFoundPage(props: { path: string }) {
  const { t } = useI18n();
  return (
    <>
      <h1>{t('notFound.title')}</h1>
      <p>{t('notFound.body', { path: props.path })}</p>
    </>
  );
}
