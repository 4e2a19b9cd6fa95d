import type { DocumentStore } from '../../core/store.ts';
import { IamStore } from '../iam/index.ts';

export type HmacKeyState = 'ACTIVE' | 'INACTIVE' | 'DELETED';

/**
 * One HMAC key. The secret is kept (a local emulator must verify signatures with it); it is only
 * ever returned by `hmacKeys.create` and never logged.
 */
export interface HmacKeyRecord {
  accessId: string;
  secret: string;
  projectId: string;
  serviceAccountEmail: string;
  state: HmacKeyState;
  timeCreated: string;
  updated: string;
  etag: string;
}

const KEYS = 'storage/hmacKeys';
/** accessId -> projectId, so the XML face can find a key from the access id alone. */
const KEY_INDEX = 'storage/hmacKeyIndex';

export interface ServiceAccountView {
  email: string;
  projectId: string;
  disabled: boolean;
}

/** HMAC keys keyed `PROJECT/ACCESS_ID`, so a project's keys are one key range. */
export class HmacKeyStore {
  private readonly iam: IamStore;

  constructor(private readonly docs: DocumentStore) {
    this.iam = new IamStore(docs);
  }

  transaction<R>(fn: () => R): R {
    return this.docs.transaction(fn);
  }
  get(projectId: string, accessId: string): HmacKeyRecord | undefined {
    return this.docs.get<HmacKeyRecord>(KEYS, `${projectId}/${accessId}`);
  }
  byAccessId(accessId: string): HmacKeyRecord | undefined {
    const ref = this.docs.get<{ projectId: string }>(KEY_INDEX, accessId);
    return ref === undefined ? undefined : this.get(ref.projectId, accessId);
  }
  insert(key: HmacKeyRecord): boolean {
    if (!this.docs.insert(KEY_INDEX, key.accessId, { projectId: key.projectId })) {
      return false;
    }
    this.docs.put(KEYS, `${key.projectId}/${key.accessId}`, key);
    return true;
  }
  put(key: HmacKeyRecord): void {
    this.docs.put(KEYS, `${key.projectId}/${key.accessId}`, key);
  }
  /** Keys of a project in access-id order; `after` is a store key (`PROJECT/ACCESS_ID`). */
  list(projectId: string, after: string | undefined, limit: number): HmacKeyRecord[] {
    return this.docs.list<HmacKeyRecord>(KEYS, { prefix: `${projectId}/`, after, limit });
  }
  countForAccount(projectId: string, email: string): number {
    return this.docs
      .list<HmacKeyRecord>(KEYS, { prefix: `${projectId}/` })
      .filter((key) => key.serviceAccountEmail === email && key.state !== 'DELETED').length;
  }

  /** The service account an HMAC key authenticates as (through IAM's store); absent once deleted. */
  serviceAccount(email: string): ServiceAccountView | undefined {
    const account = this.iam.accountByEmail(email);
    return account === undefined
      ? undefined
      : { email: account.email, projectId: account.projectId, disabled: account.disabled };
  }
}

export function storeKeyOf(key: HmacKeyRecord): string {
  return `${key.projectId}/${key.accessId}`;
}
