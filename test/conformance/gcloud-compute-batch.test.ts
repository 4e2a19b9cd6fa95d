/**
 * gcloud sends a command that names several resources as one JSON API batch to
 * `/batch/compute/v1` (the shared core batch endpoint): `gcloud compute firewall-rules delete a b`
 * deletes both, and a batch with a missing rule reports it while the other call still succeeds.
 * Also `project-info add-metadata` / `describe` (projects.get, setCommonInstanceMetadata).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findGcloud, gcloudSession, type GcloudResult } from '../gcloud-cli.ts';

const GCLOUD = findGcloud();

describe(
  'gcloud compute batch requests against Nimbus',
  { skip: GCLOUD === undefined ? 'gcloud not installed' : false },
  () => {
    const session = gcloudSession({ prefix: 'nimbus-gcloud-batch-', quiet: true });
    const { gcloud, ok } = session;
    const ruleNames = async (): Promise<string[]> =>
      (
        JSON.parse((await ok(['compute', 'firewall-rules', 'list', '--format=json'])).stdout) as {
          name: string;
        }[]
      ).map((r) => r.name);
    const createRule = (name: string, port: string): Promise<GcloudResult> =>
      ok(['compute', 'firewall-rules', 'create', name, '--network', 'default', '--allow', `tcp:${port}`]);

    before(() => session.open());
    after(() => session.close());

    it('deletes two firewall rules in one command', async () => {
      await createRule('batch-a', '9001');
      await createRule('batch-b', '9002');
      await createRule('batch-c', '9003');
      const before = await ruleNames();
      assert.ok(before.includes('batch-a') && before.includes('batch-b'));
      await ok(['compute', 'firewall-rules', 'delete', 'batch-a', 'batch-b']);
      const after = await ruleNames();
      assert.ok(!after.includes('batch-a') && !after.includes('batch-b'), after.join(','));
      assert.ok(after.includes('batch-c'), 'a rule not named stays');
    });

    it('reports the failing call of a batch and runs the others', async () => {
      const result = await gcloud(['compute', 'firewall-rules', 'delete', 'batch-c', 'batch-missing']);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /batch-missing/);
      assert.ok(!(await ruleNames()).includes('batch-c'));
    });

    it('adds project-wide metadata with project-info add-metadata', async () => {
      await ok(['compute', 'project-info', 'add-metadata', '--metadata', 'team=blue']);
      const info = JSON.parse(
        (await ok(['compute', 'project-info', 'describe', '--format=json'])).stdout,
      ) as { commonInstanceMetadata?: { items?: { key: string; value: string }[] } };
      assert.deepEqual(info.commonInstanceMetadata?.items, [{ key: 'team', value: 'blue' }]);
    });
  },
);
