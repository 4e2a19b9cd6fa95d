/**
 * `gcloud storage hmac create|list|describe|update|delete` (the real Google Cloud CLI) against a
 * Nimbus server started in-process, acting as the local owner.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findGcloud, gcloudSession } from '../gcloud-cli.ts';
import { bearer } from '../helpers.ts';

const GCLOUD = findGcloud();
const PROJECT = 'nimbus-local';
const SA = `gcloud-hmac@${PROJECT}.iam.gserviceaccount.com`;

interface HmacMetadata {
  accessId: string;
  serviceAccountEmail: string;
  state: string;
  etag: string;
  projectId: string;
}

/** gcloud prints the metadata nested (create) or flat, in camelCase or snake_case depending on the command. */
function metadataOf(output: string): HmacMetadata {
  const parsed = JSON.parse(output) as Record<string, unknown>;
  const flat = (parsed.metadata ?? parsed) as Record<string, unknown>;
  const pick = (camel: string, snake: string): string => {
    const value = flat[camel] ?? flat[snake];
    return typeof value === 'string' ? value : '';
  };
  return {
    accessId: pick('accessId', 'access_id'),
    serviceAccountEmail: pick('serviceAccountEmail', 'service_account_email'),
    state: pick('state', 'state'),
    etag: pick('etag', 'etag'),
    projectId: pick('projectId', 'project_id'),
  };
}

describe(
  'gcloud storage hmac against Nimbus',
  { skip: GCLOUD === undefined ? 'gcloud not installed' : false },
  () => {
    let accessId = '';

    const session = gcloudSession({
      prefix: 'nimbus-gcloud-hmac-',
      command: ['storage', 'hmac'],
      env: { CLOUDSDK_CORE_PROJECT: PROJECT },
      timeoutMs: 120_000,
    });
    const { gcloud: run, ok } = session;

    before(async () => {
      await session.open();
      const { t } = session;
      const created = await fetch(`${t.url}/v1/projects/${PROJECT}/serviceAccounts`, {
        method: 'POST',
        headers: { ...bearer(t.ownerToken), 'content-type': 'application/json' },
        body: JSON.stringify({ accountId: 'gcloud-hmac' }),
      });
      assert.equal(created.status, 200, await created.text());
    });

    after(() => session.close());

    it('creates a key and prints its secret once', async () => {
      const result = await ok(['create', SA, '--format=json']);
      const parsed = JSON.parse(result.stdout) as { secret?: string };
      assert.match(parsed.secret ?? '', /^[A-Za-z0-9+/]{40}$/);
      const metadata = metadataOf(result.stdout);
      assert.match(metadata.accessId, /^GOOG1[A-Z0-9]{56}$/);
      assert.equal(metadata.serviceAccountEmail, SA);
      assert.equal(metadata.state, 'ACTIVE');
      accessId = metadata.accessId;
    });

    it('lists and describes the key', async () => {
      const listed = await ok(['list', '--format=value(accessId)']);
      assert.ok(listed.stdout.split('\n').includes(accessId), listed.stdout);
      const filtered = await ok(['list', `--service-account=${SA}`, '--format=value(accessId)']);
      assert.deepEqual(filtered.stdout.trim().split('\n'), [accessId]);
      const described = metadataOf((await ok(['describe', accessId, '--format=json'])).stdout);
      assert.equal(described.accessId, accessId);
      assert.equal(described.projectId, PROJECT);
      assert.equal(described.state, 'ACTIVE');
    });

    it('refuses to delete an active key, deactivates it and deletes it', async () => {
      const refused = await run(['delete', accessId]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /ACTIVE/);
      const updated = metadataOf((await ok(['update', accessId, '--deactivate', '--format=json'])).stdout);
      assert.equal(updated.state, 'INACTIVE');
      const stale = await run(['update', accessId, '--activate', '--etag=c3RhbGU=']);
      assert.notEqual(stale.code, 0, 'a stale etag is refused');
      const reactivated = metadataOf(
        (await ok(['update', accessId, '--activate', `--etag=${updated.etag}`, '--format=json'])).stdout,
      );
      assert.equal(reactivated.state, 'ACTIVE');
      await ok(['update', accessId, '--deactivate']);
      await ok(['delete', accessId]);
      const described = metadataOf((await ok(['describe', accessId, '--format=json'])).stdout);
      assert.equal(described.state, 'DELETED');
      const active = await ok(['list', '--format=value(accessId)']);
      assert.equal(active.stdout.split('\n').includes(accessId), false);
      const all = await ok(['list', '--all', '--format=value(accessId)']);
      assert.ok(all.stdout.split('\n').includes(accessId));
    });
  },
);
