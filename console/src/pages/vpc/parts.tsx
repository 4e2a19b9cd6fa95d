/** Pieces every VPC tab shows: the intro with its create button, and a form's submit and cancel. */
import { useState, type ReactNode } from 'react';
import { useI18n } from '../../i18n.ts';
import { usePaged, type Page } from '../../paging.ts';
import { ActionStatus, useAction, type Action } from '../../ui/action.tsx';
import { FilterBox, useUrlFilter } from '../../ui/filter.tsx';
import { PagedTable } from '../../ui/table.tsx';
import { TextField } from '../../ui/forms.tsx';
import { mutate, NAME_PATTERN, type Row } from './common.tsx';

export function Toolbar(props: {
  intro: string;
  label: string;
  open: boolean;
  onToggle: (open: boolean) => void;
}) {
  return (
    <div className="row vpc-toolbar">
      <p className="muted">{props.intro}</p>
      <button
        type="button"
        className="primary"
        aria-expanded={props.open}
        onClick={() => {
          props.onToggle(!props.open);
        }}
      >
        {props.label}
      </button>
    </div>
  );
}

export function FormButtons(props: { busy: boolean; submit: string; onCancel: () => void }) {
  const { t } = useI18n();
  return (
    <div className="actions vpc-wide">
      <button type="submit" className="primary" disabled={props.busy}>
        {props.submit}
      </button>
      <button type="button" onClick={props.onCancel}>
        {t('common.cancel')}
      </button>
    </div>
  );
}

/**
 * A tab's list (filtered on the server by the URL's `?filter=`), its actions' state and the delete
 * action (asks first, then waits for the operation).
 */
export function useTab(
  load: (pageToken: string | undefined, filter: string) => Promise<Page<Row>>,
  project: string,
) {
  const { t } = useI18n();
  const filter = useUrlFilter();
  const list = usePaged((pageToken) => load(pageToken, filter), `${project}\n${filter}`);
  const state = useAction(list.reload);
  const remove = (path: string, name: string, confirm: string): void => {
    void state.run(() => mutate('DELETE', path), { confirm, done: t('vpc.deleted', { name }) });
  };
  return { list, state, remove, filter };
}

/**
 * A tab: the intro with its create button, the form, the actions' outcome and the paged table.
 * `form` as a function is the create form, shown while the button is on (the tab keeps that state);
 * as a node it is shown as it is, with `open` and `onToggle` driving the button.
 */
export function TabLayout<T>(
  props: Omit<Parameters<typeof PagedTable<T>>[0], 'className'> & {
    intro: string;
    create: string;
    form: ReactNode | ((close: () => void) => ReactNode);
    open?: boolean;
    onToggle?: (open: boolean) => void;
    state: Action;
    /** The filter box's accessible name, and the filter in force (from `useTab`). */
    filterLabel: string;
    filter: string;
  },
) {
  const { t } = useI18n();
  const [creating, setCreating] = useState(false);
  const { intro, create, form, open, onToggle, state, filterLabel, filter, empty, ...table } = props;
  return (
    <>
      <Toolbar intro={intro} label={create} open={open ?? creating} onToggle={onToggle ?? setCreating} />
      {typeof form === 'function'
        ? creating &&
          form(() => {
            setCreating(false);
          })
        : form}
      <ActionStatus action={state} working={t('vpc.working')} />
      <FilterBox label={filterLabel} placeholder={t('vpc.filterPlaceholder')} />
      <PagedTable {...table} empty={filter === '' ? empty : t('vpc.noResults')} className="vpc-table" />
    </>
  );
}

/** A resource name field: RFC 1035 names of up to 63 characters, as Compute checks them. */
export function NameField(
  props: Omit<Parameters<typeof TextField>[0], 'label' | 'pattern' | 'maxLength'> & { label?: string },
) {
  const { t } = useI18n();
  const { label, ...input } = props;
  return (
    <TextField label={label ?? t('common.name')} required pattern={NAME_PATTERN} maxLength={63} {...input} />
  );
}
