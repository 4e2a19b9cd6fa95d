import type { ProjectRecord } from './store.ts';

export function presentProjectV1(project: ProjectRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    projectNumber: project.projectNumber,
    projectId: project.projectId,
    lifecycleState: project.lifecycleState,
    name: project.name,
    createTime: project.createTime,
    parent: project.parent,
  };
  if (Object.keys(project.labels).length > 0) {
    out.labels = project.labels;
  }
  return out;
}

const V3_STATE: Record<ProjectRecord['lifecycleState'], string> = {
  ACTIVE: 'ACTIVE',
  DELETE_REQUESTED: 'DELETE_REQUESTED',
  DELETE_IN_PROGRESS: 'DELETE_REQUESTED',
};

export function presentProjectV3(project: ProjectRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: `projects/${project.projectNumber}`,
    parent: `organizations/${project.parent.id}`,
    projectId: project.projectId,
    state: V3_STATE[project.lifecycleState],
    displayName: project.name,
    createTime: project.createTime,
    updateTime: project.updateTime,
    etag: project.etag,
  };
  if (project.deleteTime !== undefined) {
    out.deleteTime = project.deleteTime;
  }
  if (Object.keys(project.labels).length > 0) {
    out.labels = project.labels;
  }
  return out;
}

/**
 * Matches the v1 `filter` / v3 `query` language for projects: space-separated terms, all of
 * which must hold; `key:value` or `key=value`; keys id|projectId, name|displayName,
 * lifecycleState|state, labels.KEY, parent.id, parent.type; `*` in a value matches anything.
 */
export function projectMatches(project: ProjectRecord, filter: string | undefined): boolean {
  if (filter === undefined || filter.trim() === '') {
    return true;
  }
  const terms = filter.match(/[^\s"]+(?:"[^"]*"[^\s"]*)*/g) ?? [];
  return terms.every((term) => {
    const match = /^(-?)([A-Za-z.\-_]+)\s*[:=]\s*"?([^"]*)"?$/.exec(term);
    if (match === null) {
      return term.toUpperCase() === 'AND';
    }
    const [, negate = '', rawKey = '', value = ''] = match;
    const key = rawKey.toLowerCase();
    let actual: string | undefined;
    if (key === 'id' || key === 'projectid') {
      actual = project.projectId;
    } else if (key === 'name' || key === 'displayname') {
      actual = project.name;
    } else if (key === 'lifecyclestate' || key === 'state') {
      actual = project.lifecycleState;
    } else if (key === 'parent.id') {
      actual = project.parent.id;
    } else if (key === 'parent.type') {
      actual = project.parent.type;
    } else if (key === 'parent') {
      actual = `organizations/${project.parent.id}`;
    } else if (key.startsWith('labels.')) {
      actual = project.labels[rawKey.slice('labels.'.length)];
    }
    const pattern = new RegExp(`^${value.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`, 'i');
    const ok = actual !== undefined && pattern.test(actual);
    return negate === '-' ? !ok : ok;
  });
}
