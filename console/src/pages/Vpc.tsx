import type { ReactNode } from 'react';
import { Link } from '../components.tsx';
import { useI18n, type MessageKey } from '../i18n.ts';
import '../styles/vpc.css';
import { FirewallsTab } from './vpc/Firewalls.tsx';
import { NetworksTab } from './vpc/Networks.tsx';
import { RoutesTab } from './vpc/Routes.tsx';
import { SubnetsTab } from './vpc/Subnets.tsx';

interface Tab {
  path: string;
  label: MessageKey;
  render: (project: string) => ReactNode;
}

const TABS: Tab[] = [
  {
    path: '/networking/networks',
    label: 'vpc.networks',
    render: (project) => <NetworksTab project={project} />,
  },
  {
    path: '/networking/subnets',
    label: 'vpc.subnetsTab',
    render: (project) => <SubnetsTab project={project} />,
  },
  {
    path: '/networking/firewalls',
    label: 'vpc.firewalls',
    render: (project) => <FirewallsTab project={project} />,
  },
  {
    path: '/networking/routes',
    label: 'vpc.routes',
    render: (project) => <RoutesTab project={project} />,
  },
];

/** VPC network: networks, subnets, firewall rules and routes, each with create / edit / delete. */
export function VpcPage(props: { project: string; path: string }) {
  const { t } = useI18n();
  const tab = TABS.find((candidate) => props.path === candidate.path) ?? TABS[0];
  if (tab === undefined) {
    return null;
  }
  return (
    <>
      <h1>{t('nav.vpc')}</h1>
      <nav aria-label={t('nav.vpc')} className="tabs">
        {TABS.map((candidate) => (
          <Link key={candidate.path} to={candidate.path} current={candidate === tab}>
            {t(candidate.label)}
          </Link>
        ))}
      </nav>
      <div key={`${props.project} ${tab.path}`}>{tab.render(props.project)}</div>
    </>
  );
}
