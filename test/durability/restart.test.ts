/**
 * State survives a restart, and every acknowledged write survives `kill -9` of the server in the
 * middle of a stream of writes. Loopback only; every loop is bounded.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApp, type NimbusApp } from '../../src/app.ts';
import { testConfig } from '../../src/config.ts';
import { signJwt } from '../../src/platform/jwt.ts';
import { bearer } from '../helpers.ts';
import {
  buildBundle,
  databaseIntegrity,
  httpRequest,
  killDuringWrites,
  spawnNimbus,
  type HttpResult,
} from '../nimbus-process.ts';

type Json = Record<string, unknown>;

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-durability-'));
  dirs.push(dir);
  return dir;
}

after(() => {
  for (const dir of dirs) {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function call(
  nimbus: NimbusApp,
  method: 'GET' | 'POST',
  url: string,
  payload?: object,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json }> {
  const res = await nimbus.app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload }),
  });
  return { status: res.statusCode, body: res.json<Json>() };
}

describe('state survives a restart', () => {
  const project = '/v1/projects/nimbus-local';
  const email = 'survivor@nimbus-local.iam.gserviceaccount.com';
  const role = 'projects/nimbus-local/roles/survivorRole';
  let dir: string;
  let keyName: string;
  let keyFile: { private_key: string; private_key_id: string; client_email: string };
  let ownerToken: string;

  before(async () => {
    dir = dataDir();
    const first = await buildApp(testConfig(dir));
    try {
      const sa = await call(first, 'POST', `${project}/serviceAccounts`, { accountId: 'survivor' });
      assert.equal(sa.status, 200);
      const key = await call(first, 'POST', `${project}/serviceAccounts/${email}/keys`, {});
      assert.equal(key.status, 200);
      keyName = String(key.body.name);
      keyFile = JSON.parse(
        Buffer.from(String(key.body.privateKeyData), 'base64').toString('utf8'),
      ) as typeof keyFile;
      const created = await call(first, 'POST', `${project}/roles`, {
        roleId: 'survivorRole',
        role: { title: 'Survivor', includedPermissions: ['resourcemanager.projects.get'] },
      });
      assert.equal(created.status, 200);
      const policy = (await call(first, 'POST', `${project}:getIamPolicy`, {})).body as {
        bindings: { role: string; members: string[] }[];
      };
      policy.bindings.push({ role, members: [`serviceAccount:${email}`] });
      assert.equal((await call(first, 'POST', `${project}:setIamPolicy`, { policy })).status, 200);
      ownerToken = first.platform.tokens.issueAccessToken(first.platform.ownerPrincipal()).accessToken;
    } finally {
      await first.close();
    }
  });

  it('has the service account, key, custom role and binding after a new app opens the data dir', async () => {
    const second = await buildApp(testConfig(dir));
    try {
      const sa = await call(second, 'GET', `${project}/serviceAccounts/${email}`);
      assert.equal(sa.status, 200);
      assert.equal(sa.body.email, email);
      const keys = await call(
        second,
        'GET',
        `${project}/serviceAccounts/${email}/keys?keyTypes=USER_MANAGED`,
      );
      assert.deepEqual(
        (keys.body.keys as Json[]).map((k) => k.name),
        [keyName],
      );
      const customRole = await call(second, 'GET', `/v1/${role}`);
      assert.equal(customRole.status, 200);
      assert.deepEqual(customRole.body.includedPermissions, ['resourcemanager.projects.get']);
      const policy = (await call(second, 'POST', `${project}:getIamPolicy`, {})).body as {
        bindings: { role: string; members: string[] }[];
      };
      assert.deepEqual(policy.bindings.find((b) => b.role === role)?.members, [`serviceAccount:${email}`]);

      // All of it works together: a JWT signed with the stored key, authorized by the custom role.
      const now = Math.floor(Date.now() / 1000);
      const selfSigned = signJwt(
        {
          iss: email,
          sub: email,
          aud: 'https://cloudresourcemanager.googleapis.com/',
          iat: now,
          exp: now + 600,
        },
        keyFile.private_key,
        keyFile.private_key_id,
      );
      assert.equal((await call(second, 'GET', project, undefined, bearer(selfSigned))).status, 200);
      assert.equal(
        (await call(second, 'POST', `${project}:getIamPolicy`, {}, bearer(selfSigned))).status,
        403,
      );
      // Nimbus's own signing key survived too: a token issued before the restart still works.
      assert.equal((await call(second, 'GET', project, undefined, bearer(ownerToken))).status, 200);
    } finally {
      await second.close();
    }
  });
});

describe('acknowledged writes survive kill -9', () => {
  before(() => {
    buildBundle();
  });

  it('keeps every write that got a 2xx before the server was killed mid-stream', async () => {
    const dir = dataDir();
    const server = await spawnNimbus(dir);
    const port = server.port;
    const CONCURRENCY = 8;
    const MAX_REQUESTS = 3000;
    const KILL_AFTER_ACKS = 150;
    const acknowledged: { kind: 'sa' | 'project'; id: string }[] = [];

    const writeOne = async (i: number): Promise<'ack' | 'lost' | { refused: string }> => {
      const kind = i % 2 === 0 ? 'sa' : 'project';
      const id = `${kind === 'sa' ? 'dur-sa' : 'dur-proj'}-${String(i).padStart(5, '0')}`;
      let result: HttpResult;
      try {
        result =
          kind === 'sa'
            ? await httpRequest(port, 'POST', '/v1/projects/nimbus-local/serviceAccounts', { accountId: id })
            : await httpRequest(port, 'POST', '/v1/projects', { projectId: id });
      } catch {
        return 'lost'; // connection reset by the kill: not acknowledged
      }
      if (result.status >= 200 && result.status < 300) {
        acknowledged.push({ kind, id });
        return 'ack';
      }
      return { refused: `${id}: ${result.status} ${result.body}` };
    };
    const run = await killDuringWrites(
      server,
      { concurrency: CONCURRENCY, max: MAX_REQUESTS, killAfterAcks: KILL_AFTER_ACKS },
      writeOne,
    );
    assert.equal(run.signal, 'SIGKILL');
    assert.deepEqual(run.refused, [], 'every write before the kill succeeds');
    assert.ok(run.killed, `the kill came after ${KILL_AFTER_ACKS} acknowledged writes`);
    assert.ok(run.inFlightAtKill > 0, 'requests were in flight when the server was killed');
    console.log(
      `kill -9 after ${acknowledged.length} acknowledged writes of ${run.issued} issued, ${run.inFlightAtKill} in flight`,
    );

    // The database opens cleanly (WAL recovery) and is intact.
    assert.equal(databaseIntegrity(dir), 'ok');

    // A new server on the same data dir (server.json is stale: its pid is dead) has every write.
    const restarted = await spawnNimbus(dir);
    try {
      for (const { kind, id } of acknowledged) {
        const url =
          kind === 'sa'
            ? `/v1/projects/nimbus-local/serviceAccounts/${id}@nimbus-local.iam.gserviceaccount.com`
            : `/v1/projects/${id}`;
        const res = await httpRequest(restarted.port, 'GET', url);
        assert.equal(res.status, 200, `${kind} ${id} was acknowledged but is missing after kill -9`);
      }
      // And it takes new writes.
      const next = await httpRequest(restarted.port, 'POST', '/v1/projects/nimbus-local/serviceAccounts', {
        accountId: 'after-restart',
      });
      assert.equal(next.status, 200, next.body);
    } finally {
      assert.deepEqual(await restarted.stop('SIGTERM'), { code: 0, signal: null });
    }
  });
});
