import type { MouseEvent, ReactNode } from 'react';
import { errorText } from './api.ts';
import { useI18n } from './i18n.ts';
import { navigate, useProject, withProject } from './router.ts';

/** An in-app link: a real <a href> (keyboard, middle click) that navigates without reloading. */
export function Link(props: { to: string; children: ReactNode; current?: boolean; className?: string }) {
  const project = useProject();
  const href = withProject(props.to, project);
  const onClick = (event: MouseEvent<HTMLAnchorElement>): void => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    event.preventDefault();
    navigate(href);
  };
  return (
    <a
      href={href}
      onClick={onClick}
      className={props.className}
      aria-current={props.current === true ? 'page' : undefined}
    >
      {props.children}
    </a>
  );
}

export function Loading() {
  const { t } = useI18n();
  return (
    <p role="status" className="muted">
      {t('common.loading')}
    </p>
  );
}

export function ErrorBox(props: { error: unknown; onRetry?: () => void }) {
  const { t } = useI18n();
  return (
    <div role="alert" className="error">
      <span>{t('common.error', { message: errorText(props.error) })}</span>
      {props.onRetry !== undefined && (
        <button type="button" onClick={props.onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

/** Previous/next over page tokens (the APIs only go forward; earlier tokens are remembered). */
export function Pager(props: { page: number; hasNext: boolean; onPrevious: () => void; onNext: () => void }) {
  const { t } = useI18n();
  if (props.page === 0 && !props.hasNext) {
    return null;
  }
  return (
    <nav className="pager" aria-label={t('common.page', { n: props.page + 1 })}>
      <button type="button" onClick={props.onPrevious} disabled={props.page === 0}>
        {t('common.previous')}
      </button>
      <span>{t('common.page', { n: props.page + 1 })}</span>
      <button type="button" onClick={props.onNext} disabled={!props.hasNext}>
        {t('common.next')}
      </button>
    </nav>
  );
}
