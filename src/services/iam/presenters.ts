import type { RoleDefinition } from './roles-catalog.ts';
import type { ServiceAccountKeyRecord, ServiceAccountRecord } from './store.ts';

/** Wire JSON as iam.googleapis.com v1 prints it (empty strings and false are omitted). */
export function presentServiceAccount(account: ServiceAccountRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: account.name,
    projectId: account.projectId,
    uniqueId: account.uniqueId,
    email: account.email,
    etag: account.etag,
    oauth2ClientId: account.uniqueId,
  };
  if (account.displayName !== '') {
    out.displayName = account.displayName;
  }
  if (account.description !== '') {
    out.description = account.description;
  }
  if (account.disabled) {
    out.disabled = true;
  }
  return out;
}

export function presentKey(
  key: ServiceAccountKeyRecord,
  publicKeyType?: 'TYPE_X509_PEM_FILE' | 'TYPE_RAW_PUBLIC_KEY',
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: key.name,
    validAfterTime: key.validAfterTime,
    validBeforeTime: key.validBeforeTime,
    keyAlgorithm: key.keyAlgorithm,
    keyOrigin: key.keyOrigin,
    keyType: key.keyType,
  };
  if (key.disabled) {
    out.disabled = true;
  }
  if (publicKeyType === 'TYPE_X509_PEM_FILE') {
    out.publicKeyData = Buffer.from(key.certificatePem).toString('base64');
  } else if (publicKeyType === 'TYPE_RAW_PUBLIC_KEY') {
    out.publicKeyData = Buffer.from(key.publicKeyPem).toString('base64');
  }
  return out;
}

export function presentRole(role: RoleDefinition, view: 'BASIC' | 'FULL'): Record<string, unknown> {
  // proto3 JSON: empty strings are omitted (a custom role made without --description has none).
  const out: Record<string, unknown> = { name: role.name };
  if (role.title !== '') {
    out.title = role.title;
  }
  if (role.description !== '') {
    out.description = role.description;
  }
  if (view === 'FULL') {
    out.includedPermissions = role.includedPermissions;
  }
  out.stage = role.stage;
  out.etag = role.etag;
  if (role.deleted === true) {
    out.deleted = true;
  }
  return out;
}
