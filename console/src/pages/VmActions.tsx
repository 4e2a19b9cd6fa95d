/** What the VM instances list and the details page share on screen: the row actions and the refresh. */
import { useEffect, useState } from 'react';
import { useI18n } from '../i18n.ts';
import { actionEnabled, openSsh, last, type Instance, type Verb } from './compute-common.ts';

const VERBS: readonly Verb[] = ['start', 'stop', 'reset', 'delete'];

/** SSH, start, stop, reset and delete, each named "Verb: NAME", greyed out where the state forbids it. */
export function VmActions(props: { project: string; instance: Instance; onAct: (verb: Verb) => void }) {
  const { t } = useI18n();
  const { instance } = props;
  return (
    <>
      <button
        type="button"
        disabled={!actionEnabled(instance.status, 'ssh')}
        onClick={() => {
          openSsh(props.project, last(instance.zone), instance.name);
        }}
        aria-label={`${t('vm.ssh')}: ${instance.name}`}
      >
        {t('vm.ssh')}
      </button>
      {VERBS.map((verb) => (
        <button
          key={verb}
          type="button"
          disabled={!actionEnabled(instance.status, verb)}
          onClick={() => {
            props.onAct(verb);
          }}
          aria-label={`${t(`vm.${verb}`)}: ${instance.name}`}
        >
          {t(`vm.${verb}`)}
        </button>
      ))}
    </>
  );
}

/**
 * Calls `refresh` every 1.5 s while an instance is `moving`, and until the deadline set with the
 * returned `watch(ms)` (after an action, whose operation may not have started yet).
 */
export function useRefreshWhile(
  moving: boolean,
  refresh: () => void,
  initialUntil: number | (() => number) = 0,
): (ms: number) => void {
  const [watchUntil, setWatchUntil] = useState(initialUntil);
  useEffect(() => {
    if (!moving && watchUntil === 0) {
      return;
    }
    const timer = setInterval(() => {
      if (!moving && Date.now() > watchUntil) {
        setWatchUntil(0);
      }
      refresh();
    }, 1500);
    return () => {
      clearInterval(timer);
    };
  }, [moving, watchUntil, refresh]);
  return (ms: number) => {
    setWatchUntil(Date.now() + ms);
  };
}
