import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { rfc3339, type Clock } from '../../core/clock.ts';
import type { ProjectDirectory } from '../../core/auth.ts';
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound } from '../../core/errors.ts';
import { contentEtag, hexId, numericId, sameEtag } from '../../core/ids.ts';
import { paginate, type Page, type PageRequest } from '../../core/paging.ts';
import { selfSignedCertificate } from '../../platform/x509.ts';
import { isKnownPermission, predefinedRoles, type RoleDefinition } from './roles-catalog.ts';
import type { Policies } from './policies.ts';
import type { CustomRoleRecord, IamStore, ServiceAccountKeyRecord, ServiceAccountRecord } from './store.ts';

const ACCOUNT_ID = /^[a-z]([-a-z0-9]{4,28}[a-z0-9])$/;
const ROLE_ID = /^[a-zA-Z0-9_.]{3,64}$/;
const MAX_KEYS_PER_ACCOUNT = 10;
const UNDELETE_WINDOW_MS = 30 * 24 * 3600 * 1000;
const KEY_NEVER_EXPIRES = Date.parse('9999-12-31T23:59:59Z');

/** Key validity times are whole seconds on Google (`2026-01-01T00:00:00Z`, `9999-12-31T23:59:59Z`). */
function wholeSeconds(ms: number): string {
  return rfc3339(Math.floor(ms / 1000) * 1000).replace(/\.000Z$/, 'Z');
}

export interface CreatedKey {
  key: ServiceAccountKeyRecord;
  /** Google's JSON key file, returned once (base64 in `privateKeyData`). */
  keyFile: Record<string, string>;
}

/** Service accounts, their keys and custom roles (iam.googleapis.com v1). */
export class IamService {
  constructor(
    private readonly store: IamStore,
    private readonly clock: Clock,
    private readonly projects: ProjectDirectory,
    private readonly policies: Policies,
  ) {}

  // --- service accounts ----------------------------------------------------------------------

  /**
   * Resolves `projects/P/serviceAccounts/X` where P may be `-` and X an email or unique id to the
   * canonical resource name, without loading it (so callers can authorize before 404).
   */
  accountName(project: string, idOrEmail: string): string {
    if (idOrEmail.includes('@')) {
      const known = this.store.accountNameForEmail(idOrEmail);
      if (known !== undefined) {
        return known;
      }
      const projectId = project === '-' ? '' : (this.projects.find(project)?.projectId ?? project);
      return `projects/${projectId}/serviceAccounts/${idOrEmail}`;
    }
    if (/^\d+$/.test(idOrEmail)) {
      const name = this.store.accountNameByUniqueId(idOrEmail);
      if (name !== undefined) {
        return name;
      }
      const deleted = this.store.getDeleted(idOrEmail);
      if (deleted !== undefined) {
        return deleted.name;
      }
    }
    return `projects/${project}/serviceAccounts/${idOrEmail}`;
  }

  getAccount(name: string): ServiceAccountRecord {
    const account = this.store.getAccount(name);
    if (account === undefined) {
      throw new NotFound(`Service account ${name} does not exist.`);
    }
    return account;
  }

  createAccount(
    project: string,
    accountId: string,
    fields: { displayName?: string | undefined; description?: string | undefined },
  ): ServiceAccountRecord {
    const projectRef = this.projects.require(project);
    if (!ACCOUNT_ID.test(accountId)) {
      throw new InvalidArgument(
        `Invalid value for field 'accountId': '${accountId}'. Account ID must be between 6 and 30 characters, start with a lowercase letter, and contain only lowercase letters, digits and hyphens, not ending with a hyphen.`,
        { reason: 'invalid' },
      );
    }
    if ((fields.displayName ?? '').length > 100) {
      throw new InvalidArgument('Display name must be at most 100 characters.', { reason: 'invalid' });
    }
    if ((fields.description ?? '').length > 256) {
      throw new InvalidArgument('Description must be at most 256 characters.', { reason: 'invalid' });
    }
    const email = `${accountId}@${projectRef.projectId}.iam.gserviceaccount.com`;
    const account: ServiceAccountRecord = {
      name: `projects/${projectRef.projectId}/serviceAccounts/${email}`,
      projectId: projectRef.projectId,
      uniqueId: numericId(21),
      email,
      displayName: fields.displayName ?? '',
      description: fields.description ?? '',
      disabled: false,
      etag: '',
      createTime: rfc3339(this.clock.now()),
    };
    account.etag = contentEtag(account);
    return this.store.transaction(() => {
      if (!this.store.insertAccount(account)) {
        throw new AlreadyExists(
          `Service account ${accountId} already exists within project projects/${projectRef.projectId}.`,
        );
      }
      return account;
    });
  }

  listAccounts(project: string, page: PageRequest): Page<ServiceAccountRecord> {
    const projectRef = this.projects.require(project);
    return paginate(
      page,
      (a) => a.name,
      (after, limit) => this.store.listAccounts(projectRef.projectId, after, limit),
      undefined,
      100,
    );
  }

  patchAccount(
    name: string,
    patch: { displayName?: string | undefined; description?: string | undefined; etag?: string | undefined },
    updateMask: string[],
  ): ServiceAccountRecord {
    return this.store.transaction(() => {
      const account = this.getAccount(name);
      if (patch.etag !== undefined && patch.etag !== '' && !sameEtag(patch.etag, account.etag)) {
        throw new FailedPrecondition('The etag of the service account does not match; re-read and retry.');
      }
      const next = { ...account };
      for (const field of updateMask) {
        if (field === 'displayName' || field === 'display_name') {
          next.displayName = patch.displayName ?? '';
        } else if (field === 'description') {
          next.description = patch.description ?? '';
        } else {
          throw new InvalidArgument(`Invalid update mask path: '${field}'.`, { reason: 'invalid' });
        }
      }
      next.etag = contentEtag({ ...next, etag: account.etag });
      this.store.putAccount(next);
      return next;
    });
  }

  setDisabled(name: string, disabled: boolean): void {
    this.store.transaction(() => {
      const account = this.getAccount(name);
      this.store.putAccount({ ...account, disabled });
    });
  }

  deleteAccount(name: string): void {
    this.store.transaction(() => {
      const account = this.getAccount(name);
      this.store.markDeleted({ ...account, deleteTime: rfc3339(this.clock.now()) });
      this.policies.dropPolicy(account.name);
    });
  }

  undeleteAccount(uniqueId: string): ServiceAccountRecord {
    return this.store.transaction(() => {
      const deleted = this.store.getDeleted(uniqueId);
      if (
        deleted?.deleteTime === undefined ||
        this.clock.now() - Date.parse(deleted.deleteTime) > UNDELETE_WINDOW_MS
      ) {
        throw new NotFound(
          `Service account with unique id ${uniqueId} cannot be undeleted: no deleted account found.`,
        );
      }
      if (this.store.getAccount(deleted.name) !== undefined) {
        throw new FailedPrecondition(`An active service account with email ${deleted.email} already exists.`);
      }
      const restored: ServiceAccountRecord = { ...deleted };
      delete restored.deleteTime;
      this.store.insertAccount(restored);
      this.store.dropDeleted(uniqueId);
      return restored;
    });
  }

  // --- keys --------------------------------------------------------------------------------

  createKey(accountName: string, baseUrl: string): CreatedKey {
    return this.store.transaction(() => {
      const account = this.getAccount(accountName);
      const active = this.store.listKeys(account.name).filter((k) => k.keyType === 'USER_MANAGED');
      if (active.length >= MAX_KEYS_PER_ACCOUNT) {
        throw new FailedPrecondition('Precondition check failed.', { reason: 'failedPrecondition' });
      }
      const { key, privateKey } = this.newKey(account, 'USER_MANAGED');
      this.store.putKey(key);
      const encodedEmail = encodeURIComponent(account.email);
      const keyFile = {
        type: 'service_account',
        project_id: account.projectId,
        private_key_id: key.keyId,
        private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        client_email: account.email,
        client_id: account.uniqueId,
        auth_uri: `${baseUrl}/o/oauth2/auth`,
        token_uri: `${baseUrl}/token`,
        auth_provider_x509_cert_url: `${baseUrl}/oauth2/v1/certs`,
        client_x509_cert_url: `${baseUrl}/robot/v1/metadata/x509/${encodedEmail}`,
        universe_domain: 'googleapis.com',
      };
      return { key, keyFile };
    });
  }

  /**
   * The account's Google-managed key (made on first use), whose private key Nimbus keeps to sign
   * blobs and JWTs for iamcredentials `signBlob` / `signJwt`.
   */
  systemKey(accountName: string): { key: ServiceAccountKeyRecord; privateKey: KeyObject } {
    return this.store.transaction(() => {
      const account = this.getAccount(accountName);
      if (account.disabled) {
        throw new FailedPrecondition(`Service account ${account.email} is disabled.`);
      }
      const existing = this.store
        .listKeys(account.name)
        .find((k) => k.keyType === 'SYSTEM_MANAGED' && !k.disabled && k.privateKeyPem !== undefined);
      if (existing?.privateKeyPem !== undefined) {
        return { key: existing, privateKey: createPrivateKey(existing.privateKeyPem) };
      }
      const made = this.newKey(account, 'SYSTEM_MANAGED');
      made.key.privateKeyPem = made.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      this.store.putKey(made.key);
      return made;
    });
  }

  private newKey(
    account: ServiceAccountRecord,
    keyType: ServiceAccountKeyRecord['keyType'],
  ): { key: ServiceAccountKeyRecord; privateKey: KeyObject } {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const now = this.clock.now();
    const keyId = hexId(20);
    const key: ServiceAccountKeyRecord = {
      name: `${account.name}/keys/${keyId}`,
      keyId,
      email: account.email,
      accountUniqueId: account.uniqueId,
      publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
      certificatePem: selfSignedCertificate({
        commonName: account.email,
        serial: randomBytes(16),
        notBefore: now,
        notAfter: KEY_NEVER_EXPIRES,
        privateKey,
      }),
      validAfterTime: wholeSeconds(now),
      validBeforeTime: wholeSeconds(KEY_NEVER_EXPIRES),
      keyAlgorithm: 'KEY_ALG_RSA_2048',
      keyOrigin: 'GOOGLE_PROVIDED',
      keyType,
      disabled: false,
    };
    return { key, privateKey };
  }

  listKeys(accountName: string, keyTypes: string[]): ServiceAccountKeyRecord[] {
    this.getAccount(accountName);
    const keys = this.store.listKeys(accountName);
    return keyTypes.length === 0 ? keys : keys.filter((k) => keyTypes.includes(k.keyType));
  }

  getKey(keyName: string): ServiceAccountKeyRecord {
    const key = this.store.getKey(keyName);
    if (key === undefined) {
      throw new NotFound(`Service account key ${keyName} does not exist.`);
    }
    return key;
  }

  setKeyDisabled(keyName: string, disabled: boolean): void {
    this.store.transaction(() => {
      this.store.putKey({ ...this.getKey(keyName), disabled });
    });
  }

  deleteKey(keyName: string): void {
    this.store.transaction(() => {
      this.store.deleteKey(this.getKey(keyName));
    });
  }

  /** Certificates of an account's enabled keys, by key id (the x509 metadata endpoint). */
  certificates(email: string): Record<string, string> {
    const project = /@([^.]+)\.iam\.gserviceaccount\.com$/.exec(email)?.[1] ?? '';
    const accountName = `projects/${project}/serviceAccounts/${email}`;
    this.getAccount(accountName);
    return Object.fromEntries(
      this.store
        .listKeys(accountName)
        .filter((k) => !k.disabled)
        .map((k) => [k.keyId, k.certificatePem]),
    );
  }

  // --- roles -------------------------------------------------------------------------------

  listPredefinedRoles(page: PageRequest): Page<RoleDefinition> {
    const roles = predefinedRoles();
    return paginate(
      page,
      (r) => r.name,
      (after, limit) => roles.filter((r) => after === undefined || r.name > after).slice(0, limit),
      undefined,
      300,
    );
  }

  getRole(name: string): RoleDefinition {
    const predefined = predefinedRoles().find((r) => r.name === name);
    if (predefined !== undefined) {
      return predefined;
    }
    const custom = this.store.getRole(name);
    if (custom === undefined) {
      throw new NotFound(`The role named ${name} was not found.`);
    }
    return custom;
  }

  listCustomRoles(parent: string, page: PageRequest, showDeleted: boolean): Page<CustomRoleRecord> {
    return paginate(
      page,
      (r) => r.name,
      (after, limit) => this.store.listRoles(parent, after, limit),
      (r) => showDeleted || r.deleteTime === undefined,
      300,
    );
  }

  createRole(parent: string, roleId: string, role: Partial<RoleDefinition>): CustomRoleRecord {
    if (!ROLE_ID.test(roleId)) {
      throw new InvalidArgument(
        `The role id ${roleId} is invalid. It must be 3 to 64 letters, digits, underscores or periods.`,
        { reason: 'invalid' },
      );
    }
    const permissions = this.validatePermissions(role.includedPermissions ?? []);
    const record: CustomRoleRecord = {
      name: `${parent}/roles/${roleId}`,
      title: role.title ?? '',
      description: role.description ?? '',
      includedPermissions: permissions,
      stage: role.stage ?? 'ALPHA',
      etag: '',
    };
    record.etag = contentEtag(record);
    return this.store.transaction(() => {
      const existing = this.store.getRole(record.name);
      if (existing !== undefined) {
        throw new AlreadyExists(
          existing.deleteTime === undefined
            ? `A role named ${roleId} in ${parent} already exists.`
            : `A role named ${roleId} in ${parent} was deleted and cannot be reused for 44 days.`,
        );
      }
      this.store.putRole(record);
      return record;
    });
  }

  patchRole(name: string, patch: Partial<RoleDefinition>, updateMask: string[]): CustomRoleRecord {
    return this.store.transaction(() => {
      const current = this.store.getRole(name);
      if (current === undefined) {
        throw new NotFound(`The role named ${name} was not found.`);
      }
      if (current.deleteTime !== undefined) {
        throw new FailedPrecondition(`You can't update a deleted role.`);
      }
      if (patch.etag !== undefined && !sameEtag(patch.etag, current.etag)) {
        throw new FailedPrecondition('The etag of the role does not match; re-read and retry.', {
          reason: 'conflict',
        });
      }
      const fields =
        updateMask.length > 0
          ? updateMask
          : (['title', 'description', 'includedPermissions', 'stage'] as const).filter(
              (f) => patch[f] !== undefined,
            );
      const next: CustomRoleRecord = { ...current };
      for (const field of fields) {
        if (field === 'title') {
          next.title = patch.title ?? '';
        } else if (field === 'description') {
          next.description = patch.description ?? '';
        } else if (field === 'includedPermissions' || field === 'included_permissions') {
          next.includedPermissions = this.validatePermissions(patch.includedPermissions ?? []);
        } else if (field === 'stage') {
          next.stage = patch.stage ?? 'ALPHA';
        } else {
          throw new InvalidArgument(`Invalid update mask path: '${field}'.`, { reason: 'invalid' });
        }
      }
      next.etag = contentEtag({ ...next, previous: current.etag });
      this.store.putRole(next);
      return next;
    });
  }

  deleteRole(name: string, deleted: boolean): CustomRoleRecord {
    return this.store.transaction(() => {
      const current = this.store.getRole(name);
      if (current === undefined) {
        throw new NotFound(`The role named ${name} was not found.`);
      }
      const next: CustomRoleRecord = { ...current };
      if (deleted) {
        next.deleteTime = rfc3339(this.clock.now());
        next.deleted = true;
      } else {
        delete next.deleteTime;
        delete next.deleted;
      }
      next.etag = contentEtag({ ...next, previous: current.etag });
      this.store.putRole(next);
      return next;
    });
  }

  private validatePermissions(permissions: string[]): string[] {
    for (const permission of permissions) {
      if (!isKnownPermission(permission)) {
        throw new InvalidArgument(`Permission ${permission} is not valid.`, { reason: 'invalid' });
      }
    }
    return [...new Set(permissions)].sort();
  }
}
