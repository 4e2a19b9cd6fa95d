import type { ProjectDirectory, ProjectRef } from '../../core/auth.ts';
import { rfc3339, type Clock } from '../../core/clock.ts';
import {
  AlreadyExists,
  FailedPrecondition,
  InvalidArgument,
  NotFound,
  PermissionDenied,
} from '../../core/errors.ts';
import { contentEtag, numericId } from '../../core/ids.ts';
import { paginate, type Page, type PageRequest } from '../../core/paging.ts';
import type { ProjectRecord, ProjectStore } from './store.ts';

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const RESERVED = ['google', 'null', 'undefined', 'ssl'];
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const UNDELETE_WINDOW_MS = 30 * 24 * 3600 * 1000;
export const ROOT_ORGANIZATION_ID = '1';

export interface ProjectInput {
  projectId: string;
  name?: string | undefined;
  labels?: Record<string, string> | undefined;
}

export function validateLabels(labels: Record<string, string>): void {
  const entries = Object.entries(labels);
  if (entries.length > 64) {
    throw new InvalidArgument('A resource can have at most 64 labels.', { reason: 'invalid' });
  }
  for (const [key, value] of entries) {
    if (!LABEL_KEY.test(key) || typeof value !== 'string' || !LABEL_VALUE.test(value)) {
      throw new InvalidArgument(
        `Label '${key}' is invalid: keys start with a lowercase letter, keys and values are at most 63 lowercase letters, digits, '_' or '-'.`,
        { reason: 'invalid' },
      );
    }
  }
}

/** Cloud Resource Manager projects; also the ProjectDirectory other services resolve projects with. */
export class ProjectsService implements ProjectDirectory {
  constructor(
    private readonly store: ProjectStore,
    private readonly clock: Clock,
  ) {}

  find(idOrNumber: string): ProjectRef | undefined {
    const id = /^\d+$/.test(idOrNumber) ? this.store.idForNumber(idOrNumber) : idOrNumber;
    return id === undefined ? undefined : this.store.get(id);
  }

  require(idOrNumber: string): ProjectRef {
    const project = this.find(idOrNumber);
    if (project === undefined) {
      throw new NotFound(`Project '${idOrNumber}' not found or deleted.`);
    }
    if (project.lifecycleState !== 'ACTIVE') {
      throw new PermissionDenied(`Project '${idOrNumber}' has been scheduled for deletion.`, {
        reason: 'forbidden',
      });
    }
    return project;
  }

  get(idOrNumber: string): ProjectRecord {
    const id = /^\d+$/.test(idOrNumber) ? this.store.idForNumber(idOrNumber) : idOrNumber;
    const project = id === undefined ? undefined : this.store.get(id);
    if (project === undefined) {
      throw new NotFound(`Project '${idOrNumber}' not found or deleted.`);
    }
    return project;
  }

  create(input: ProjectInput, onCreated?: (project: ProjectRecord) => void): ProjectRecord {
    if (!PROJECT_ID.test(input.projectId) || RESERVED.some((word) => input.projectId.includes(word))) {
      throw new InvalidArgument(
        `Project id '${input.projectId}' is invalid: it must be 6 to 30 lowercase letters, digits or hyphens, start with a letter, not end with a hyphen, and not contain a restricted word.`,
        { reason: 'invalid' },
      );
    }
    const name = input.name ?? input.projectId;
    if (name.length < 4 || name.length > 30 || !/^[\p{L}\p{N} '"!-]+$/u.test(name)) {
      throw new InvalidArgument(
        `Project name '${name}' is invalid: 4 to 30 letters, digits, spaces, quotes, hyphens or '!'.`,
        {
          reason: 'invalid',
        },
      );
    }
    validateLabels(input.labels ?? {});
    const now = rfc3339(this.clock.now());
    const project: ProjectRecord = {
      projectId: input.projectId,
      projectNumber: numericId(12),
      name,
      lifecycleState: 'ACTIVE',
      labels: input.labels ?? {},
      parent: { type: 'organization', id: ROOT_ORGANIZATION_ID },
      createTime: now,
      updateTime: now,
      etag: '',
    };
    project.etag = contentEtag(project);
    return this.store.transaction(() => {
      if (!this.store.insert(project)) {
        throw new AlreadyExists('Requested entity already exists', { reason: 'alreadyExists' });
      }
      onCreated?.(project);
      return project;
    });
  }

  /** Creates the project if it does not exist (the default project on first start). */
  ensure(input: ProjectInput, onCreated?: (project: ProjectRecord) => void): ProjectRecord {
    return this.store.get(input.projectId) ?? this.create(input, onCreated);
  }

  list(page: PageRequest, keep: (project: ProjectRecord) => boolean): Page<ProjectRecord> {
    return paginate(
      page,
      (p) => p.projectId,
      (after, limit) => this.store.list(after, limit),
      keep,
      500,
    );
  }

  update(
    idOrNumber: string,
    patch: { name?: string | undefined; labels?: Record<string, string> | undefined },
  ): ProjectRecord {
    return this.store.transaction(() => {
      const project = this.get(idOrNumber);
      if (project.lifecycleState !== 'ACTIVE') {
        throw new FailedPrecondition(`Project '${idOrNumber}' is not active.`);
      }
      if (patch.labels !== undefined) {
        validateLabels(patch.labels);
      }
      const next: ProjectRecord = {
        ...project,
        name: patch.name ?? project.name,
        labels: patch.labels ?? project.labels,
        updateTime: rfc3339(this.clock.now()),
      };
      next.etag = contentEtag({ ...next, previous: project.etag });
      this.store.put(next);
      return next;
    });
  }

  delete(idOrNumber: string): ProjectRecord {
    return this.store.transaction(() => {
      const project = this.get(idOrNumber);
      if (project.lifecycleState !== 'ACTIVE') {
        throw new FailedPrecondition(`Project '${idOrNumber}' is already scheduled for deletion.`);
      }
      const next: ProjectRecord = {
        ...project,
        lifecycleState: 'DELETE_REQUESTED',
        deleteTime: rfc3339(this.clock.now()),
        updateTime: rfc3339(this.clock.now()),
      };
      this.store.put(next);
      return next;
    });
  }

  undelete(idOrNumber: string): ProjectRecord {
    return this.store.transaction(() => {
      const project = this.get(idOrNumber);
      if (project.lifecycleState !== 'DELETE_REQUESTED') {
        throw new FailedPrecondition(`Project '${idOrNumber}' is not scheduled for deletion.`);
      }
      if (this.clock.now() - Date.parse(project.deleteTime ?? '') > UNDELETE_WINDOW_MS) {
        throw new NotFound(`Project '${idOrNumber}' was deleted more than 30 days ago.`);
      }
      const next: ProjectRecord = {
        ...project,
        lifecycleState: 'ACTIVE',
        updateTime: rfc3339(this.clock.now()),
      };
      delete next.deleteTime;
      this.store.put(next);
      return next;
    });
  }

  recordOperation(name: string, response: unknown, metadata: unknown): void {
    this.store.putOperation({ name, response, metadata });
  }

  getOperation(name: string): { name: string; response: unknown; metadata: unknown } {
    const op = this.store.getOperation(name);
    if (op === undefined) {
      throw new NotFound(`Operation ${name} not found.`);
    }
    return op;
  }
}
