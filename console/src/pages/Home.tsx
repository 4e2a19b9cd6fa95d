import { useEffect, useState, type SyntheticEvent } from 'react';
import { call, enc, errorText, type Project, type ServiceInfo } from '../api.ts';
import { ErrorBox, Loading } from '../components.tsx';
import { useI18n, type MessageKey } from '../i18n.ts';

/** Internal plugins that are not services a user manages. */
const HIDDEN = new Set(['nimbus', 'longrunning', 'metadata', 'testbench']);

interface Count {
  n: number;
  more: boolean;
}

/** How many resources a service holds in the project (first page of its main list). */
const COUNTERS: Record<string, { key: MessageKey; count: (project: string) => Promise<Count> }> = {
  storage: {
    key: 'home.buckets',
    count: async (project) => {
      const r = await call<{ items?: unknown[]; nextPageToken?: string }>(
        'GET',
        `/storage/v1/b?project=${enc(project)}&maxResults=1000`,
      );
      return { n: r.items?.length ?? 0, more: r.nextPageToken !== undefined };
    },
  },
  iam: {
    key: 'home.serviceAccounts',
    count: async (project) => {
      const r = await call<{ accounts?: unknown[]; nextPageToken?: string }>(
        'GET',
        `/v1/projects/${enc(project)}/serviceAccounts?pageSize=100`,
      );
      return { n: r.accounts?.length ?? 0, more: r.nextPageToken !== undefined };
    },
  },
  compute: {
    key: 'home.instances',
    count: async (project) => {
      const r = await call<{ items?: Record<string, { instances?: unknown[] }>; nextPageToken?: string }>(
        'GET',
        `/compute/v1/projects/${enc(project)}/aggregated/instances?maxResults=500`,
      );
      const n = Object.values(r.items ?? {}).reduce((sum, scope) => sum + (scope.instances?.length ?? 0), 0);
      return { n, more: r.nextPageToken !== undefined };
    },
  },
};

function ResourceCount(props: { service: ServiceInfo; project: string }) {
  const { t } = useI18n();
  const counter = COUNTERS[props.service.name];
  const [text, setText] = useState<string>(counter === undefined ? t('home.noCount') : t('common.loading'));
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (counter === undefined || props.service.state !== 'ready') {
      setText(t('home.noCount'));
      return;
    }
    let live = true;
    counter.count(props.project).then(
      (c) => {
        if (live) {
          setText(c.more ? t('home.more', { n: c.n }) : t(counter.key, { n: c.n }));
        }
      },
      (error: unknown) => {
        if (live) {
          setFailed(true);
          setText(t('common.error', { message: errorText(error) }));
        }
      },
    );
    return () => {
      live = false;
    };
  }, [counter, props.project, props.service.state, t]);
  return <span className={failed ? 'error-text' : undefined}>{text}</span>;
}

/** Resource Manager projects.create (v1 answers a finished operation). */
function CreateProjectForm(props: { onCreated: (projectId: string) => void }) {
  const { t } = useI18n();
  const [projectId, setProjectId] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState<unknown>();
  const submit = async (event: SyntheticEvent): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    try {
      await call('POST', '/v1/projects', { projectId, ...(name === '' ? {} : { name }) });
      props.onCreated(projectId);
      setProjectId('');
      setName('');
    } catch (failure) {
      setError(failure);
    }
  };
  return (
    <details className="card">
      <summary>{t('project.create')}</summary>
      <form className="form" onSubmit={(event) => void submit(event)}>
        <label>
          {t('home.projectId')}
          <input
            name="projectId"
            required
            pattern="[a-z][a-z0-9\-]{4,28}[a-z0-9]"
            value={projectId}
            onChange={(event) => {
              setProjectId(event.target.value);
            }}
          />
        </label>
        <label>
          {t('home.projectName')}
          <input
            name="projectName"
            value={name}
            onChange={(event) => {
              setName(event.target.value);
            }}
          />
        </label>
        <button type="submit" className="primary">
          {t('common.create')}
        </button>
        {error !== undefined && <ErrorBox error={error} />}
      </form>
    </details>
  );
}

export function HomePage(props: {
  project: Project | undefined;
  projectsError: unknown;
  onProjectCreated: (projectId: string) => void;
}) {
  const { t } = useI18n();
  const [services, setServices] = useState<ServiceInfo[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [version, setVersion] = useState(0);
  useEffect(() => {
    setError(undefined);
    call<{ services: ServiceInfo[] }>('GET', '/_nimbus/services').then(
      (r) => {
        setServices(r.services.filter((s) => !HIDDEN.has(s.name)));
      },
      (failure: unknown) => {
        setError(failure);
      },
    );
  }, [version]);

  const project = props.project;
  return (
    <>
      <h1>{t('home.title')}</h1>
      {props.projectsError !== undefined && <ErrorBox error={props.projectsError} />}
      {project === undefined ? (
        props.projectsError === undefined && <p>{t('home.noProject')}</p>
      ) : (
        <section className="card" aria-labelledby="project-info">
          <h2 id="project-info">{t('home.projectInfo')}</h2>
          <dl className="facts">
            <dt>{t('home.projectName')}</dt>
            <dd data-testid="project-name">{project.name ?? project.projectId}</dd>
            <dt>{t('home.projectId')}</dt>
            <dd data-testid="project-id">{project.projectId}</dd>
            <dt>{t('home.projectNumber')}</dt>
            <dd data-testid="project-number">{project.projectNumber ?? ''}</dd>
          </dl>
        </section>
      )}
      <CreateProjectForm onCreated={props.onProjectCreated} />
      <section className="card" aria-labelledby="resources">
        <h2 id="resources">{t('home.resources')}</h2>
        {error !== undefined && (
          <ErrorBox
            error={error}
            onRetry={() => {
              setVersion((v) => v + 1);
            }}
          />
        )}
        {services === undefined && error === undefined && <Loading />}
        {services !== undefined && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('home.service')}</th>
                  <th scope="col" className="hide-narrow">
                    {t('home.api')}
                  </th>
                  <th scope="col">{t('home.state')}</th>
                  <th scope="col">{t('home.count')}</th>
                </tr>
              </thead>
              <tbody>
                {services.map((service) => (
                  <tr key={service.name}>
                    <td>{service.title}</td>
                    <td className="hide-narrow">
                      <code>{service.name}</code>
                    </td>
                    <td>
                      {service.state === 'ready' ? (
                        <span className="ok">{t('home.ready')}</span>
                      ) : (
                        <span className="warn" title={service.fix}>
                          {t('home.unavailable')}
                          {service.reason !== undefined && `: ${service.reason}`}
                        </span>
                      )}
                    </td>
                    <td>
                      {project !== undefined ? (
                        <ResourceCount service={service} project={project.projectId} />
                      ) : (
                        ''
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
