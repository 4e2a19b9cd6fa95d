import type { Policy } from '../../core/auth.ts';
import type { DocumentStore } from '../../core/store.ts';
import type { RoleDefinition } from './roles-catalog.ts';

export interface ServiceAccountRecord {
  /** projects/P/serviceAccounts/EMAIL */
  name: string;
  projectId: string;
  uniqueId: string;
  email: string;
  displayName: string;
  description: string;
  disabled: boolean;
  etag: string;
  createTime: string;
  /** Set while the account is deleted (undeletable for 30 days). */
  deleteTime?: string;
}

export interface ServiceAccountKeyRecord {
  /** projects/P/serviceAccounts/EMAIL/keys/KEY_ID */
  name: string;
  keyId: string;
  email: string;
  accountUniqueId: string;
  publicKeyPem: string;
  certificatePem: string;
  validAfterTime: string;
  validBeforeTime: string;
  keyAlgorithm: 'KEY_ALG_RSA_2048';
  keyOrigin: 'GOOGLE_PROVIDED';
  keyType: 'USER_MANAGED' | 'SYSTEM_MANAGED';
  disabled: boolean;
  /** Only system-managed keys keep their private key (Nimbus signs with it for signBlob/signJwt). */
  privateKeyPem?: string;
}

export interface CustomRoleRecord extends RoleDefinition {
  deleteTime?: string;
}

export interface SigningKeyRecord {
  kid: string;
  privateKeyPem: string;
  publicKeyPem: string;
}

const ACCOUNTS = 'iam/serviceAccounts';
const DELETED_ACCOUNTS = 'iam/deletedServiceAccounts';
const ACCOUNT_IDS = 'iam/serviceAccountIds';
/** Accounts whose email does not name their project (Compute's `N-compute@developer...`): email -> name. */
const ACCOUNT_EMAILS = 'iam/serviceAccountEmails';
const PROJECT_EMAIL = /@[^.]+\.iam\.gserviceaccount\.com$/;
const KEYS = 'iam/keys';
const KEY_INDEX = 'iam/keyIndex';
const ROLES = 'iam/roles';
const POLICIES = 'iam/policies';
const SIGNING = 'iam/signing';

/** IAM persistence over the document store. Keys are resource names, so children are prefixes. */
export class IamStore {
  constructor(readonly docs: DocumentStore) {}

  transaction<R>(fn: () => R): R {
    return this.docs.transaction(fn);
  }

  // service accounts
  getAccount(name: string): ServiceAccountRecord | undefined {
    return this.docs.get<ServiceAccountRecord>(ACCOUNTS, name);
  }
  accountNameByUniqueId(uniqueId: string): string | undefined {
    return this.docs.get<{ name: string }>(ACCOUNT_IDS, uniqueId)?.name;
  }
  insertAccount(account: ServiceAccountRecord): boolean {
    const inserted = this.docs.insert(ACCOUNTS, account.name, account);
    if (inserted) {
      this.docs.put(ACCOUNT_IDS, account.uniqueId, { name: account.name });
      if (!PROJECT_EMAIL.test(account.email)) {
        this.docs.put(ACCOUNT_EMAILS, account.email, { name: account.name });
      }
    }
    return inserted;
  }
  /** The resource name of an account whose email does not name its project (e.g. Compute's default). */
  accountNameByEmail(email: string): string | undefined {
    return this.docs.get<{ name: string }>(ACCOUNT_EMAILS, email)?.name;
  }
  /**
   * An account's resource name from its email alone: the project named in the email
   * (`ID@P.iam.gserviceaccount.com`), else the email index (Compute's default account).
   */
  accountNameForEmail(email: string): string | undefined {
    const project = /@([^.@]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1];
    return project === undefined
      ? this.accountNameByEmail(email)
      : `projects/${project}/serviceAccounts/${email}`;
  }
  accountByEmail(email: string): ServiceAccountRecord | undefined {
    const name = this.accountNameForEmail(email);
    return name === undefined ? undefined : this.getAccount(name);
  }
  putAccount(account: ServiceAccountRecord): void {
    this.docs.put(ACCOUNTS, account.name, account);
  }
  listAccounts(projectId: string, after: string | undefined, limit: number): ServiceAccountRecord[] {
    return this.docs.list<ServiceAccountRecord>(ACCOUNTS, {
      prefix: `projects/${projectId}/serviceAccounts/`,
      after,
      limit,
    });
  }
  countAccounts(projectId: string): number {
    return this.docs.count(ACCOUNTS, `projects/${projectId}/serviceAccounts/`);
  }
  /** Moves an account to the deleted set (by unique id); its keys go with it. */
  markDeleted(account: ServiceAccountRecord): void {
    this.docs.delete(ACCOUNTS, account.name);
    this.docs.delete(ACCOUNT_IDS, account.uniqueId);
    this.docs.delete(ACCOUNT_EMAILS, account.email);
    this.docs.put(DELETED_ACCOUNTS, account.uniqueId, account);
    for (const key of this.listKeys(account.name)) {
      this.docs.delete(KEYS, key.name);
      this.docs.delete(KEY_INDEX, key.keyId);
    }
  }
  getDeleted(uniqueId: string): ServiceAccountRecord | undefined {
    return this.docs.get<ServiceAccountRecord>(DELETED_ACCOUNTS, uniqueId);
  }
  dropDeleted(uniqueId: string): void {
    this.docs.delete(DELETED_ACCOUNTS, uniqueId);
  }

  // keys
  getKey(name: string): ServiceAccountKeyRecord | undefined {
    return this.docs.get<ServiceAccountKeyRecord>(KEYS, name);
  }
  keyById(keyId: string): ServiceAccountKeyRecord | undefined {
    const ref = this.docs.get<{ name: string }>(KEY_INDEX, keyId);
    return ref === undefined ? undefined : this.getKey(ref.name);
  }
  putKey(key: ServiceAccountKeyRecord): void {
    this.docs.put(KEYS, key.name, key);
    this.docs.put(KEY_INDEX, key.keyId, { name: key.name });
  }
  deleteKey(key: ServiceAccountKeyRecord): void {
    this.docs.delete(KEYS, key.name);
    this.docs.delete(KEY_INDEX, key.keyId);
  }
  listKeys(accountName: string): ServiceAccountKeyRecord[] {
    return this.docs.list<ServiceAccountKeyRecord>(KEYS, { prefix: `${accountName}/keys/` });
  }

  // custom roles
  getRole(name: string): CustomRoleRecord | undefined {
    return this.docs.get<CustomRoleRecord>(ROLES, name);
  }
  putRole(role: CustomRoleRecord): void {
    this.docs.put(ROLES, role.name, role);
  }
  listRoles(parent: string, after: string | undefined, limit: number): CustomRoleRecord[] {
    return this.docs.list<CustomRoleRecord>(ROLES, { prefix: `${parent}/roles/`, after, limit });
  }

  // policies
  getPolicy(resource: string): Policy | undefined {
    return this.docs.get<Policy>(POLICIES, resource);
  }
  putPolicy(resource: string, policy: Policy): void {
    this.docs.put(POLICIES, resource, policy);
  }
  deletePolicy(resource: string): void {
    this.docs.delete(POLICIES, resource);
  }

  // Nimbus's own token-signing key
  getSigningKey(): SigningKeyRecord | undefined {
    return this.docs.get<SigningKeyRecord>(SIGNING, 'current');
  }
  putSigningKey(key: SigningKeyRecord): void {
    this.docs.put(SIGNING, 'current', key);
  }
}
