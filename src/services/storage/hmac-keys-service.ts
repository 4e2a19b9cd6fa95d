import { randomBytes, randomInt } from 'node:crypto';
import { rfc3339, type Clock } from '../../core/clock.ts';
import { ConditionNotMet, InvalidArgument, NotFound } from '../../core/errors.ts';
import { contentEtag } from '../../core/ids.ts';
import { paginate, type Page } from '../../core/paging.ts';
import { storeKeyOf, type HmacKeyRecord, type HmacKeyState, type HmacKeyStore } from './hmac-keys-store.ts';

/** Google allows at most 10 HMAC keys (active or inactive) per service account. */
export const MAX_KEYS_PER_SERVICE_ACCOUNT = 10;
/** `hmacKeys.list` returns at most 250 items per page. */
const MAX_LIST_PAGE = 250;
const ACCESS_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** An access id shaped like Google's for service-account keys: `GOOG1` + 56 upper-case alphanumerics. */
export function newAccessId(): string {
  let out = 'GOOG1';
  while (out.length < 61) {
    out += ACCESS_ID_ALPHABET[randomInt(ACCESS_ID_ALPHABET.length)] ?? 'A';
  }
  return out;
}

/** A 40-character base64 secret (30 random bytes), as Google's HMAC secrets are. */
export function newSecret(): string {
  return randomBytes(30).toString('base64');
}

export interface ListHmacKeysRequest {
  projectId: string;
  serviceAccountEmail?: string | undefined;
  showDeletedKeys: boolean;
  maxResults?: number | undefined;
  pageToken?: string | undefined;
}

/** Cloud Storage `projects.hmacKeys`: keys bound to service accounts, used by the XML face. */
export class HmacKeysService {
  constructor(
    private readonly store: HmacKeyStore,
    private readonly clock: Clock,
  ) {}

  createKey(projectId: string, serviceAccountEmail: string): HmacKeyRecord {
    const account = this.store.serviceAccount(serviceAccountEmail);
    if (account === undefined) {
      throw new InvalidArgument(`Service account ${serviceAccountEmail} does not exist.`, {
        reason: 'invalid',
      });
    }
    return this.store.transaction(() => {
      if (this.store.countForAccount(projectId, account.email) >= MAX_KEYS_PER_SERVICE_ACCOUNT) {
        throw new InvalidArgument(
          `Service account ${account.email} already has the maximum of ${String(MAX_KEYS_PER_SERVICE_ACCOUNT)} HMAC keys; delete one first.`,
          { reason: 'invalid' },
        );
      }
      const now = rfc3339(this.clock.now());
      for (;;) {
        const key: HmacKeyRecord = {
          accessId: newAccessId(),
          secret: newSecret(),
          projectId,
          serviceAccountEmail: account.email,
          state: 'ACTIVE',
          timeCreated: now,
          updated: now,
          etag: '',
        };
        key.etag = etagOf(key);
        if (this.store.insert(key)) {
          return key;
        }
      }
    });
  }

  getKey(projectId: string, accessId: string): HmacKeyRecord {
    const key = this.store.get(projectId, accessId);
    if (key === undefined) {
      throw new NotFound(`Access ID not found in project ${projectId}.`, { reason: 'notFound' });
    }
    return key;
  }

  listKeys(request: ListHmacKeysRequest): Page<HmacKeyRecord> {
    return paginate(
      { pageSize: request.maxResults, pageToken: request.pageToken },
      storeKeyOf,
      (after, limit) => this.store.list(request.projectId, after, limit),
      (key) =>
        (request.showDeletedKeys || key.state !== 'DELETED') &&
        (request.serviceAccountEmail === undefined ||
          key.serviceAccountEmail === request.serviceAccountEmail),
      MAX_LIST_PAGE,
    );
  }

  /** `hmacKeys.update`: only the state changes (ACTIVE <-> INACTIVE); a stale etag is 412. */
  updateKey(projectId: string, accessId: string, state: string, etag: string | undefined): HmacKeyRecord {
    return this.store.transaction(() => {
      const key = this.getKey(projectId, accessId);
      if (etag !== undefined && etag !== '' && etag !== key.etag) {
        throw new ConditionNotMet('At least one of the pre-conditions you specified did not hold.');
      }
      if (key.state === 'DELETED') {
        throw new InvalidArgument("Cannot update keys in 'DELETED' state.", { reason: 'invalid' });
      }
      if (state !== 'ACTIVE' && state !== 'INACTIVE') {
        throw new InvalidArgument(
          state === 'DELETED'
            ? "Cannot set the state of a key to 'DELETED'; use hmacKeys.delete."
            : `Invalid value for field 'state': '${state}'. Must be ACTIVE or INACTIVE.`,
          { reason: 'invalid' },
        );
      }
      if (state === key.state) {
        return key;
      }
      return this.save(key, state);
    });
  }

  /** `hmacKeys.delete`: only an INACTIVE key can be deleted (it stays listed as DELETED). */
  deleteKey(projectId: string, accessId: string): void {
    this.store.transaction(() => {
      const key = this.getKey(projectId, accessId);
      if (key.state !== 'INACTIVE') {
        throw new InvalidArgument(`Cannot delete keys in '${key.state}' state.`, { reason: 'invalid' });
      }
      this.save(key, 'DELETED');
    });
  }

  private save(key: HmacKeyRecord, state: HmacKeyState): HmacKeyRecord {
    const next: HmacKeyRecord = { ...key, state, updated: rfc3339(this.clock.now()) };
    next.etag = etagOf(next);
    this.store.put(next);
    return next;
  }
}

function etagOf(key: HmacKeyRecord): string {
  return contentEtag({ accessId: key.accessId, state: key.state, updated: key.updated });
}
