import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, onSessionEnded, setCsrfToken } from './api.js';
import { Loading } from './components.js';
import { checkSessionWith, startLive, stopLive, useLiveState } from './live.js';
import { AccountPage } from './pages/account.js';
import { AdminPage } from './pages/admin.js';
import { AuditPage } from './pages/audit.js';
import { DashboardPage } from './pages/dashboard.js';
import { InboxPage } from './pages/inbox.js';
import { LoginPage } from './pages/login.js';
import { RequestPage } from './pages/request.js';
import { RequestsPage } from './pages/requests.js';
import { linkProps, match, navigate, useLocation } from './router.js';
import { canOf, NotifyContext, SessionContext, type Notify, type Session } from './session.js';
import type { SessionInfo } from './types.js';

interface NavItem {
  readonly path: string;
  readonly label: string;
  readonly scope?: string;
}

const NAV: readonly NavItem[] = [
  { path: '/inbox', label: 'Inbox', scope: 'approvals:read' },
  { path: '/requests', label: 'Requests', scope: 'approvals:read' },
  { path: '/dashboard', label: 'Dashboard', scope: 'approvals:read' },
  { path: '/audit', label: 'Audit', scope: 'approvals:read' },
  { path: '/admin', label: 'Admin' },
  { path: '/account', label: 'Account' },
];

function LiveIndicator() {
  const state = useLiveState();
  const text = { off: 'not live', connecting: 'connecting…', live: 'live', offline: 'offline, retrying' }[state];
  return (
    <span class={`live live-${state}`} role="status" title="Updates from the server arrive as they happen">
      <span class="live-dot" aria-hidden="true" /> {text}
    </span>
  );
}

function Page(props: { path: string; params: URLSearchParams; session: Session }) {
  const { path, params, session } = props;
  const request = match('/requests/:id', path);
  if (request?.id) return <RequestPage id={request.id} />;
  if (path === '/inbox') return <InboxPage />;
  if (path === '/requests') return <RequestsPage params={params} />;
  if (path === '/dashboard') return <DashboardPage params={params} />;
  if (path === '/audit') return <AuditPage params={params} />;
  if (path === '/admin' || path.startsWith('/admin/')) return <AdminPage path={path} />;
  if (path === '/account') return <AccountPage />;
  return (
    <section>
      <h1>Not found</h1>
      <p>
        There is no page {path}. Go to the <a {...linkProps(session.can('approvals:read') ? '/inbox' : '/account')}>start</a>.
      </p>
    </section>
  );
}

interface Toast {
  readonly id: number;
  readonly message: string;
  readonly kind: 'ok' | 'error' | 'info';
}

export function App() {
  const [info, setInfo] = useState<SessionInfo | undefined>(undefined);
  const [ended, setEnded] = useState(false);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextToast = useRef(0);
  const { path, params } = useLocation();

  const load = useCallback(async () => {
    const answer = await api<SessionInfo>('GET', '/v1/auth/session');
    setCsrfToken(answer.csrf_token);
    setInfo(answer);
  }, []);

  useEffect(() => {
    const ended = () => {
      stopLive();
      setCsrfToken(undefined);
      setEnded(true);
      setInfo({ authenticated: false });
    };
    onSessionEnded(ended);
    checkSessionWith(async () => {
      const answer = await api<SessionInfo>('GET', '/v1/auth/session');
      if (!answer.authenticated) ended();
      return answer.authenticated;
    });
    load().catch(() => setInfo({ authenticated: false }));
  }, []);

  const notify: Notify = useCallback((message, kind = 'info') => {
    const id = ++nextToast.current;
    setToasts((current) => [...current.slice(-3), { id, message, kind }]);
    setTimeout(() => setToasts((current) => current.filter((toast) => toast.id !== id)), kind === 'error' ? 10_000 : 6000);
  }, []);

  const session = useMemo<Session | undefined>(() => {
    if (!info?.authenticated || !info.whoami) return undefined;
    const whoami = info.whoami;
    return {
      whoami,
      totpEnrolled: info.totp_enrolled === true,
      expiresAt: info.expires_at,
      can: canOf(whoami.scopes),
      refresh: load,
      logout: async () => {
        stopLive();
        try {
          await api('POST', '/v1/auth/logout');
        } finally {
          setCsrfToken(undefined);
          setEnded(false);
          setInfo({ authenticated: false });
          navigate('/', true);
        }
      },
    };
  }, [info, load]);

  useEffect(() => {
    if (!session) return;
    if (session.can('approvals:read')) startLive();
    if (path === '/') navigate(session.can('approvals:read') ? '/inbox' : '/account', true);
  }, [session, path]);

  const toastRegion = (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.map((toast) => (
        <p key={toast.id} class={`toast toast-${toast.kind}`}>
          {toast.message}
        </p>
      ))}
    </div>
  );

  if (!info) return <Loading what="Airlock" />;
  if (!session) {
    return (
      <NotifyContext.Provider value={notify}>
        <LoginPage
          ended={ended}
          onLoggedIn={(csrf) => {
            setCsrfToken(csrf);
            setEnded(false);
            load().catch(() => setInfo({ authenticated: false }));
          }}
        />
        {toastRegion}
      </NotifyContext.Provider>
    );
  }

  const items = NAV.filter((item) => !item.scope || session.can(item.scope));
  return (
    <SessionContext.Provider value={session}>
      <NotifyContext.Provider value={notify}>
        <a class="skip" href="#main">
          Skip to the content
        </a>
        <header class="top">
          <a class="brand" {...linkProps('/')}>
            <span class="logo" aria-hidden="true" /> Airlock
          </a>
          <nav aria-label="Main">
            <ul>
              {items.map((item) => (
                <li key={item.path}>
                  <a {...linkProps(item.path)} aria-current={path === item.path || path.startsWith(`${item.path}/`) ? 'page' : undefined}>
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <div class="who">
            {session.can('approvals:read') ? <LiveIndicator /> : null}
            <span class="user">
              {session.whoami.user.username} <span class="muted">({session.whoami.role})</span>
            </span>
            <button type="button" class="secondary small" onClick={() => void session.logout()}>
              Log out
            </button>
          </div>
        </header>
        <main id="main" tabIndex={-1}>
          <Page key={path} path={path} params={params} session={session} />
        </main>
        {toastRegion}
      </NotifyContext.Provider>
    </SessionContext.Provider>
  );
}
