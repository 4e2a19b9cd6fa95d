import { lazy, Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { call, defaultProject, type Project } from './api.ts';
import { Link } from './components.tsx';
import {
  I18nContext,
  initialLanguage,
  LANGUAGE_NAMES,
  translator,
  useI18n,
  type I18n,
  type Language,
  type MessageKey,
} from './i18n.ts';
import { HomePage } from './pages/Home.tsx';
import { InstanceDetailsPage } from './pages/InstanceDetails.tsx';
import { InstancesPage } from './pages/Instances.tsx';
import { NotBuiltPage, NotFoundPage } from './pages/NotBuilt.tsx';
import { ObjectDetailsPage } from './pages/ObjectDetails.tsx';
import { PrincipalsPage } from './pages/Principals.tsx';
import { VpcPage } from './pages/Vpc.tsx';
import { ServiceAccountsPage } from './pages/ServiceAccounts.tsx';
import { BucketsPage, ObjectsPage } from './pages/Storage.tsx';
import { navigate, ProjectContext, useLocation, withProject } from './router.ts';

// The terminal (xterm.js) loads only when an SSH window opens.
const TerminalPage = lazy(async () => ({ default: (await import('./pages/Terminal.tsx')).TerminalPage }));
const SSH_PREFIX = '/compute/instances/ssh/';
/** Google's console: /compute/instancesDetail/zones/Z/instances/N; ours stays under the list's prefix. */
const INSTANCE_DETAILS = '/compute/instances/details/';
/** As Google's console: /storage/browser/_details/BUCKET/OBJECT (bucket names never start with _). */
const OBJECT_DETAILS = '/storage/browser/_details/';

interface NavItem {
  path: string;
  label: MessageKey;
  /** A console page not built yet (the page says so plainly). */
  notBuilt?: boolean;
  children?: NavItem[];
}

const NAV: NavItem[] = [
  { path: '/home', label: 'nav.home' },
  {
    path: '/compute/instances',
    label: 'nav.compute',
    children: [{ path: '/compute/instances', label: 'nav.vmInstances' }],
  },
  { path: '/networking', label: 'nav.vpc' },
  { path: '/storage/browser', label: 'nav.storage' },
  {
    path: '/iam-admin/iam',
    label: 'nav.iam',
    children: [
      { path: '/iam-admin/iam', label: 'nav.iamPrincipals' },
      { path: '/iam-admin/serviceaccounts', label: 'nav.serviceAccounts' },
    ],
  },
  { path: '/services/run', label: 'nav.run', notBuilt: true },
  { path: '/services/functions', label: 'nav.functions', notBuilt: true },
  { path: '/services/sql', label: 'nav.sql', notBuilt: true },
  { path: '/services/bigquery', label: 'nav.bigquery', notBuilt: true },
  { path: '/services/vertex-ai', label: 'nav.vertex', notBuilt: true },
];

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

function Navigation(props: { path: string }) {
  const { t } = useI18n();
  const item = (entry: NavItem) => (
    <li key={entry.path + entry.label}>
      <Link to={entry.path} current={entry.children === undefined && isUnder(props.path, entry.path)}>
        {t(entry.label)}
        {entry.notBuilt === true && <span className="badge">{t('nav.notBuilt')}</span>}
      </Link>
      {entry.children !== undefined && <ul>{entry.children.map(item)}</ul>}
    </li>
  );
  return (
    <nav className="sidebar" aria-label={t('nav.label')}>
      <ul>{NAV.map(item)}</ul>
    </nav>
  );
}

function TopBar(props: { projects: Project[]; project: string }) {
  const { t, language, setLanguage } = useI18n();
  return (
    <header className="topbar">
      <Link to="/home" className="brand">
        {t('app.title')}
      </Link>
      <label>
        <span className="label">{t('top.project')}</span>
        <select
          aria-label={t('top.project')}
          value={props.project}
          onChange={(event) => {
            const url = new URL(window.location.href);
            url.searchParams.set('project', event.target.value);
            navigate(`${url.pathname}${url.search}`);
          }}
        >
          {props.projects.length === 0 && <option value="">{t('top.noProjects')}</option>}
          {props.projects.map((p) => (
            <option key={p.projectId} value={p.projectId}>
              {p.name !== undefined && p.name !== p.projectId ? `${p.name} (${p.projectId})` : p.projectId}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span className="label">{t('top.language')}</span>
        <select
          aria-label={t('top.language')}
          value={language}
          onChange={(event) => {
            setLanguage(event.target.value as Language);
          }}
        >
          {(Object.keys(LANGUAGE_NAMES) as Language[]).map((code) => (
            <option key={code} value={code} lang={code}>
              {LANGUAGE_NAMES[code]}
            </option>
          ))}
        </select>
      </label>
    </header>
  );
}

function Page(props: {
  path: string;
  query: URLSearchParams;
  project: Project | undefined;
  projectsError: unknown;
  onProjectCreated: (projectId: string) => void;
}) {
  const { t } = useI18n();
  const { path } = props;
  const projectId = props.project?.projectId ?? '';
  if (path === '/' || path === '/home') {
    return (
      <HomePage
        project={props.project}
        projectsError={props.projectsError}
        onProjectCreated={props.onProjectCreated}
      />
    );
  }
  const needsProject = ['/iam-admin', '/storage/browser', '/compute/instances', '/networking'].some((p) =>
    isUnder(path, p),
  );
  if (projectId === '' && needsProject) {
    return <p>{t('home.noProject')}</p>;
  }
  if (path.startsWith(INSTANCE_DETAILS)) {
    const [zone = '', name = ''] = path.slice(INSTANCE_DETAILS.length).split('/').map(decodeURIComponent);
    return (
      <InstanceDetailsPage key={`${projectId}/${zone}/${name}`} project={projectId} zone={zone} name={name} />
    );
  }
  if (isUnder(path, '/compute/instances')) {
    return <InstancesPage key={projectId} project={projectId} />;
  }
  if (isUnder(path, '/networking')) {
    return <VpcPage project={projectId} path={path} />;
  }
  if (isUnder(path, '/iam-admin/iam')) {
    return <PrincipalsPage key={projectId} project={projectId} />;
  }
  if (isUnder(path, '/iam-admin/serviceaccounts')) {
    return <ServiceAccountsPage key={projectId} project={projectId} />;
  }
  if (path.startsWith(OBJECT_DETAILS)) {
    const rest = path.slice(OBJECT_DETAILS.length);
    const slash = rest.indexOf('/');
    const bucket = decodeURIComponent(slash < 0 ? rest : rest.slice(0, slash));
    const object =
      slash < 0
        ? ''
        : rest
            .slice(slash + 1)
            .split('/')
            .map(decodeURIComponent)
            .join('/');
    return (
      <ObjectDetailsPage key={`${bucket}/${object}`} project={projectId} bucket={bucket} object={object} />
    );
  }
  if (path === '/storage/browser') {
    return <BucketsPage key={projectId} project={projectId} />;
  }
  if (isUnder(path, '/storage/browser')) {
    const bucket = decodeURIComponent(path.slice('/storage/browser/'.length).split('/')[0] ?? '');
    const prefix = props.query.get('prefix') ?? '';
    return <ObjectsPage key={`${bucket}/${prefix}`} project={projectId} bucket={bucket} prefix={prefix} />;
  }
  const unbuilt = NAV.find((entry) => entry.notBuilt === true && isUnder(path, entry.path));
  if (unbuilt !== undefined) {
    return <NotBuiltPage service={t(unbuilt.label)} />;
  }
  return <NotFoundPage path={path} />;
}

export function App() {
  const [language, setLanguageState] = useState<Language>(initialLanguage);
  const i18n = useMemo<I18n>(
    () => ({
      language,
      setLanguage: (next) => {
        localStorage.setItem('nimbus.language', next);
        setLanguageState(next);
      },
      t: translator(language),
    }),
    [language],
  );
  useEffect(() => {
    document.documentElement.lang = language;
    document.title = i18n.t('app.title');
  }, [language, i18n]);

  const location = useLocation();
  // After in-app navigation, move focus to the page (screen readers announce it; Tab starts there).
  const main = useRef<HTMLElement>(null);
  const firstPath = useRef(location.path);
  useEffect(() => {
    if (location.path !== firstPath.current) {
      firstPath.current = '';
      main.current?.focus();
    }
  }, [location.path]);
  const [projects, setProjects] = useState<Project[] | undefined>();
  const [projectsError, setProjectsError] = useState<unknown>();
  const [projectsVersion, setProjectsVersion] = useState(0);
  useEffect(() => {
    Promise.all([call<{ projects?: Project[] }>('GET', '/v1/projects?pageSize=500'), defaultProject()]).then(
      ([r, preferred]) => {
        const active = (r.projects ?? []).filter((p) => p.lifecycleState !== 'DELETE_REQUESTED');
        // The server's default project first: it is the one a bare URL opens.
        active.sort((a, b) => Number(b.projectId === preferred) - Number(a.projectId === preferred));
        setProjects(active);
      },
      (error: unknown) => {
        setProjects([]);
        setProjectsError(error);
      },
    );
  }, [projectsVersion]);

  const wanted = location.query.get('project') ?? '';
  const project = projects?.find((p) => p.projectId === wanted) ?? projects?.[0];
  const projectId = project?.projectId ?? '';
  useEffect(() => {
    // Keep the selection in the address (links, reloads, the back button).
    if (projects !== undefined && projectId !== '' && wanted !== projectId) {
      const path = location.path === '/' ? '/home' : location.path;
      const query = new URLSearchParams(location.query);
      query.delete('project');
      const rest = query.toString();
      navigate(withProject(rest === '' ? path : `${path}?${rest}`, projectId), true);
    }
  }, [projects, projectId, wanted, location]);

  if (location.path.startsWith(SSH_PREFIX)) {
    // A window of its own, as Google's console opens "SSH in browser": no navigation around it.
    const [zone = '', name = ''] = location.path.slice(SSH_PREFIX.length).split('/').map(decodeURIComponent);
    return (
      <I18nContext.Provider value={i18n}>
        <Suspense fallback={<p role="status">{i18n.t('common.loading')}</p>}>
          <TerminalPage project={wanted} zone={zone} name={name} />
        </Suspense>
      </I18nContext.Provider>
    );
  }

  return (
    <I18nContext.Provider value={i18n}>
      <ProjectContext.Provider value={projectId}>
        <a className="skip" href="#main">
          {i18n.t('app.skip')}
        </a>
        <TopBar projects={projects ?? []} project={projectId} />
        <div className="layout">
          <Navigation path={location.path} />
          <main id="main" tabIndex={-1} ref={main}>
            {projects === undefined ? (
              <p role="status">{i18n.t('common.loading')}</p>
            ) : (
              <Page
                path={location.path}
                query={location.query}
                project={project}
                projectsError={projectsError}
                onProjectCreated={(created) => {
                  // Loading state first, so the old list does not redirect away from the new project.
                  setProjects(undefined);
                  navigate(withProject('/home', created));
                  setProjectsVersion((v) => v + 1);
                }}
              />
            )}
          </main>
        </div>
      </ProjectContext.Provider>
    </I18nContext.Provider>
  );
}
