/**
 * What every button or form that changes something repeats: ask first (optional), mark busy, clear
 * the last error and message, run, then show the outcome (a status line or an ErrorBox).
 */
import { useCallback, useState } from 'react';
import { ErrorBox } from '../components.tsx';

export interface ActionOptions {
  /** Asked with window.confirm first; declining runs nothing. */
  confirm?: string;
  /** Shown as the status line when the steps succeed. */
  done?: string;
}

/** Busy/error/message state of a page's actions; `after` runs after each one (a list reload). */
export function useAction(after?: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState('');
  const run = useCallback(
    async (steps: () => Promise<unknown>, options: ActionOptions = {}): Promise<boolean> => {
      if (options.confirm !== undefined && !window.confirm(options.confirm)) {
        return false;
      }
      setBusy(true);
      setError(undefined);
      setMessage('');
      try {
        await steps();
        if (options.done !== undefined) {
          setMessage(options.done);
        }
        return true;
      } catch (failure) {
        setError(failure);
        return false;
      } finally {
        setBusy(false);
        after?.();
      }
    },
    [after],
  );
  return { busy, error, message, run, setError, setMessage };
}

export type Action = ReturnType<typeof useAction>;

/** The outcome of a page's actions: "working" while busy (when given), the message, the error. */
export function ActionStatus(props: { action: Action; working?: string }) {
  const { busy, error, message } = props.action;
  return (
    <>
      {busy && props.working !== undefined && (
        <p role="status" className="muted">
          {props.working}
        </p>
      )}
      {!(busy && props.working !== undefined) && message !== '' && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      {error !== undefined && <ErrorBox error={error} />}
    </>
  );
}
