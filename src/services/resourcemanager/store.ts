import type { DocumentStore } from '../../core/store.ts';

export interface ProjectRecord {
  projectId: string;
  projectNumber: string;
  /** Display name. */
  name: string;
  lifecycleState: 'ACTIVE' | 'DELETE_REQUESTED' | 'DELETE_IN_PROGRESS';
  labels: Record<string, string>;
  parent: { type: 'organization'; id: string };
  createTime: string;
  updateTime: string;
  deleteTime?: string;
  etag: string;
}

export interface ProjectOperationRecord {
  name: string;
  response: unknown;
  metadata: unknown;
}

const PROJECTS = 'resourcemanager/projects';
const NUMBERS = 'resourcemanager/projectNumbers';
const OPERATIONS = 'resourcemanager/operations';

export class ProjectStore {
  constructor(private readonly docs: DocumentStore) {}

  transaction<R>(fn: () => R): R {
    return this.docs.transaction(fn);
  }
  get(projectId: string): ProjectRecord | undefined {
    return this.docs.get<ProjectRecord>(PROJECTS, projectId);
  }
  idForNumber(projectNumber: string): string | undefined {
    return this.docs.get<{ projectId: string }>(NUMBERS, projectNumber)?.projectId;
  }
  insert(project: ProjectRecord): boolean {
    const inserted = this.docs.insert(PROJECTS, project.projectId, project);
    if (inserted) {
      this.docs.put(NUMBERS, project.projectNumber, { projectId: project.projectId });
    }
    return inserted;
  }
  put(project: ProjectRecord): void {
    this.docs.put(PROJECTS, project.projectId, project);
  }
  list(after: string | undefined, limit: number): ProjectRecord[] {
    return this.docs.list<ProjectRecord>(PROJECTS, { after, limit });
  }
  count(): number {
    return this.docs.count(PROJECTS);
  }
  putOperation(op: ProjectOperationRecord): void {
    this.docs.put(OPERATIONS, op.name, op);
  }
  getOperation(name: string): ProjectOperationRecord | undefined {
    return this.docs.get<ProjectOperationRecord>(OPERATIONS, name);
  }
}
