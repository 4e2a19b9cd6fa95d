/**
 * Tables the pages repeat: a scrolling wrapper, column headers (some hidden at phone width), and for
 * paged lists the error, loading and empty states plus the pager.
 */
import type { ReactNode } from 'react';
import { ErrorBox, Loading, Pager } from '../components.tsx';
import type { usePaged } from '../paging.ts';

/** A header: its text, or the text with `narrow: false` (hidden at phone width) or a class. */
export type Column = ReactNode | { label: ReactNode; hideNarrow?: boolean; className?: string };

function header(column: Column, index: number): ReactNode {
  if (column !== null && typeof column === 'object' && 'label' in column) {
    const className = [column.hideNarrow === true ? 'hide-narrow' : '', column.className ?? '']
      .filter((c) => c !== '')
      .join(' ');
    return (
      <th key={index} scope="col" className={className === '' ? undefined : className}>
        {column.label}
      </th>
    );
  }
  return (
    <th key={index} scope="col">
      {column}
    </th>
  );
}

export function DataTable(props: {
  columns: readonly Column[];
  children: ReactNode;
  /** The table's accessible name, or the id of the heading that names it. */
  label?: string;
  labelledBy?: string;
  className?: string;
}) {
  return (
    <div className="table-wrap">
      <table className={props.className} aria-label={props.label} aria-labelledby={props.labelledBy}>
        <thead>
          <tr>{props.columns.map(header)}</tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

export type Paged<T> = ReturnType<typeof usePaged<T>>;

/** One page of a list: its error (with retry), loading, empty text, the table of rows and the pager. */
export function PagedTable<T>(props: {
  list: Paged<T>;
  columns: readonly Column[];
  row: (item: T) => ReactNode;
  empty: string;
  /** Say `empty` on any empty page, not only the first (a page filtered on screen can be empty). */
  emptyOnEveryPage?: boolean;
  label?: string;
  className?: string;
}) {
  const { list } = props;
  return (
    <>
      {list.error !== undefined && <ErrorBox error={list.error} onRetry={list.reload} />}
      {list.page === undefined && list.error === undefined && <Loading />}
      {list.page?.items.length === 0 && (list.pageIndex === 0 || props.emptyOnEveryPage === true) && (
        <p className="muted">{props.empty}</p>
      )}
      {list.page !== undefined && list.page.items.length > 0 && (
        <DataTable columns={props.columns} label={props.label} className={props.className}>
          {list.page.items.map(props.row)}
        </DataTable>
      )}
      <Pager page={list.pageIndex} hasNext={list.hasNext} onPrevious={list.previous} onNext={list.next} />
    </>
  );
}

/** A row action named "Verb: NAME" for screen readers, showing "Verb". */
export function RowButton(props: { verb: string; name: string; onClick: () => void; disabled?: boolean }) {
  return (
    <button
      type="button"
      aria-label={`${props.verb}: ${props.name}`}
      disabled={props.disabled}
      onClick={props.onClick}
    >
      {props.verb}
    </button>
  );
}
