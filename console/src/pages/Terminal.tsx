import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { accessToken, enc } from '../api.ts';
import { useI18n } from '../i18n.ts';

type State = 'connecting' | 'open' | 'closed';

/**
 * The browser terminal ("SSH" on VM instances opens it in a new window): xterm.js over the
 * terminal WebSocket (`.../instances/N/ssh`, see src/services/compute/ssh.ts). Keyboard input goes
 * out as binary frames, size changes as `{"type":"resize"}`; output comes back as binary frames and
 * a final `{"type":"exit","code":N}`. Browsers cannot set headers on a WebSocket, so the owner's
 * token travels as `access_token` in the URL (same origin).
 */
export function TerminalPage(props: { project: string; zone: string; name: string }) {
  const { t } = useI18n();
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<State>('connecting');
  const [exitCode, setExitCode] = useState<number | undefined>();
  const { project, zone, name } = props;

  useEffect(() => {
    document.title = `${name} — ${t('ssh.title')}`;
  }, [name, t]);

  useEffect(() => {
    const element = host.current;
    if (element === null) {
      return;
    }
    let disposed = false;
    let socket: WebSocket | undefined;
    const term = new Terminal({ cursorBlink: true, fontSize: 14, lineHeight: 1.15, convertEol: false });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(element);
    fit.fit();
    const onWindowResize = (): void => {
      fit.fit();
    };
    window.addEventListener('resize', onWindowResize);
    const encoder = new TextEncoder();
    term.onData((data) => {
      if (socket?.readyState === WebSocket.OPEN) {
        socket.send(encoder.encode(data));
      }
    });
    term.onResize(({ cols, rows }) => {
      if (socket?.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: 'resize', cols, rows }));
      }
    });
    void accessToken().then((token) => {
      if (disposed) {
        return;
      }
      const url = new URL(
        `/compute/v1/projects/${enc(project)}/zones/${enc(zone)}/instances/${enc(name)}/ssh`,
        window.location.href,
      );
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      url.searchParams.set('cols', String(term.cols));
      url.searchParams.set('rows', String(term.rows));
      if (token !== '') {
        url.searchParams.set('access_token', token);
      }
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      socket = ws;
      ws.onopen = () => {
        setState('open');
        term.focus();
      };
      ws.onmessage = (event: MessageEvent<ArrayBuffer | string>) => {
        if (typeof event.data === 'string') {
          try {
            const message = JSON.parse(event.data) as { type?: string; code?: number };
            if (message.type === 'exit' && typeof message.code === 'number') {
              setExitCode(message.code);
            }
          } catch {
            // Not a control message: ignore.
          }
          return;
        }
        term.write(new Uint8Array(event.data));
      };
      ws.onclose = () => {
        setState('closed');
      };
    });
    return () => {
      disposed = true;
      window.removeEventListener('resize', onWindowResize);
      socket?.close();
      term.dispose();
    };
  }, [project, zone, name]);

  const status =
    state === 'connecting'
      ? t('ssh.connecting')
      : state === 'open'
        ? t('ssh.connected')
        : exitCode === undefined
          ? t('ssh.closed')
          : t('ssh.exited', { code: exitCode });
  return (
    <div className="terminal-page">
      <header className="terminal-bar">
        <h1>{t('ssh.heading', { name, zone })}</h1>
        <span role="status" data-testid="ssh-status">
          {status}
        </span>
      </header>
      <div className="terminal" ref={host} aria-label={t('ssh.title')} />
    </div>
  );
}
