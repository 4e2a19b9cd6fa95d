import { rfc3339 } from '../../core/clock.ts';
import { contentEtag, numericId } from '../../core/ids.ts';
import type { Platform } from '../../core/platform.ts';
import { IamStore } from '../iam/index.ts';

/** Per project: the default compute service account was created (deleting it afterwards sticks). */
const MARKER = 'compute/defaultServiceAccount';
const EDITOR = 'roles/editor';

export function defaultServiceAccountEmail(projectNumber: string): string {
  return `${projectNumber}-compute@developer.gserviceaccount.com`;
}

/**
 * The Compute Engine default service account, `NUMBER-compute@developer.gserviceaccount.com`, as
 * Google creates it when a project enables the Compute API: an IAM account of the project with
 * `roles/editor` on it. Nimbus creates it the first time the project uses compute (once: a deleted
 * account is not brought back). Returns its email.
 */
export function ensureDefaultServiceAccount(platform: Platform, projectId: string): string {
  const project = platform.projects.require(projectId);
  const email = defaultServiceAccountEmail(project.projectNumber);
  if (platform.store.get(MARKER, project.projectId) !== undefined) {
    return email;
  }
  const iam = new IamStore(platform.store);
  const resource = `projects/${project.projectId}`;
  const created = iam.transaction(() => {
    if (!platform.store.insert(MARKER, project.projectId, { email })) {
      return false;
    }
    const account = {
      name: `${resource}/serviceAccounts/${email}`,
      projectId: project.projectId,
      uniqueId: numericId(21),
      email,
      displayName: 'Compute Engine default service account',
      description: '',
      disabled: false,
      etag: '',
      createTime: rfc3339(platform.clock.now()),
    };
    account.etag = contentEtag(account);
    iam.insertAccount(account);
    return true;
  });
  if (created) {
    const member = `serviceAccount:${email}`;
    const policy = platform.policies.getPolicy(resource);
    const bindings = policy.bindings ?? [];
    const editor = bindings.find((b) => b.role === EDITOR && b.condition === undefined);
    if (editor?.members.includes(member) !== true) {
      platform.policies.setPolicy(resource, {
        ...policy,
        bindings:
          editor === undefined
            ? [...bindings, { role: EDITOR, members: [member] }]
            : bindings.map((b) => (b === editor ? { ...b, members: [...b.members, member] } : b)),
      });
    }
  }
  return email;
}
