/**
 * Google's Cloud Storage retry-conformance scenarios (`retry_tests.json`, copied from
 * googleapis/conformance-tests) driven with the official Node client (@google-cloud/storage 7.22.0)
 * against one Nimbus started with `--testbench`, as Google's runners drive the storage testbench:
 * for each scenario x method x instruction list, create a retry test, call the client method with
 * `x-retry-test-id` on every request (a request interceptor), and check the outcome against
 * `expectSuccess` and that the retry test reports `completed: true`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as StorageModule from '@google-cloud/storage';
import type { Bucket, File, HmacKey, Notification, Storage as StorageClient } from '@google-cloud/storage';
import { REPO_ROOT } from '../nimbus-process.ts';
import { startTestServer, type TestApp } from '../helpers.ts';

// Set before the client is imported (dynamically, below): never probe the metadata server.
process.env.METADATA_SERVER_DETECTION = 'none';
delete process.env.STORAGE_EMULATOR_HOST;

const PROJECT = 'nimbus-local';
const KiB = 1024;

interface RetryScenario {
  id: number;
  description: string;
  cases: { instructions: string[] }[];
  methods: { name: string; resources: string[]; group?: string }[];
  preconditionProvided: boolean;
  expectSuccess: boolean;
}

const SCENARIOS = (
  JSON.parse(
    readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'conformance', 'storage', 'retry_tests.json'), 'utf8'),
  ) as { retryTests: RetryScenario[] }
).retryTests;

/** What a library call may use: the resources created for it before the faults are armed. */
interface Context {
  storage: StorageClient;
  bucket: Bucket;
  file: File;
  notification: Notification;
  hmacKey: HmacKey;
  /** The service account HMAC keys are created for. */
  serviceAccount: string;
  preconditions: boolean;
  projectNumber: string;
  /** A fresh name for objects and buckets the call creates. */
  fresh: (kind: string) => string;
  bucketMetageneration: number;
  fileGeneration: number;
  fileMetageneration: number;
  hmacEtag: string;
}

type Call = (ctx: Context) => Promise<unknown>;

/** Methods the Node client never sends (it has no call for them): covered over raw HTTP instead. */
const NOT_CALLABLE: Record<string, string> = {
  'storage.buckets.update': 'the Node client changes buckets with PATCH (buckets.patch), never PUT',
  'storage.objects.update': 'the Node client changes objects with PATCH (objects.patch), never PUT',
  'storage.objects.copy': 'the Node client copies with objects.rewrite (file.copy), never copyTo',
  'storage.bucket_acl.patch': 'the Node client updates ACL entries with PUT (acl.update), never PATCH',
  'storage.default_object_acl.patch': 'the Node client updates ACL entries with PUT, never PATCH',
  'storage.object_acl.patch': 'the Node client updates ACL entries with PUT, never PATCH',
};

/**
 * Cases where @google-cloud/storage 7.22.0 itself departs from the scenario (measured against this
 * server, and visible in the client's source): the test then expects the client's actual outcome
 * and still checks the server's part (every instruction applied and consumed).
 */
interface Deviation {
  reason: string;
  /** How many of the case's instructions the server applies before the client stops. */
  consumed: number;
}

function clientDeviation(
  scenario: RetryScenario,
  method: string,
  instructions: string[],
): Deviation | undefined {
  if (scenario.id === 4 && /^storage\.(bucket|default_object|object)_acl\.(update|delete)$/.test(method)) {
    return {
      reason: 'the client retries ACL update/delete (only acl.add sets maxRetries: 0), so the call succeeds',
      consumed: instructions.length,
    };
  }
  if (
    method === 'storage.resumable.upload' &&
    instructions.includes('return-408') &&
    instructions.length > 1
  ) {
    return {
      reason:
        'the client does not retry a 408 on its upload-status query (checkUploadStatus), so the upload fails',
      consumed: instructions.length,
    };
  }
  if (method === 'storage.objects.download') {
    // The first break is applied; the client gives up there, so later instructions stay queued.
    return {
      reason: 'file.download() does not resume or retry a download broken mid-stream, so it fails',
      consumed: 1,
    };
  }
  return undefined;
}

const owners = (ctx: Context): string => `project-owners-${ctx.projectNumber}`;
const viewers = (ctx: Context): string => `project-viewers-${ctx.projectNumber}`;
const ifGeneration0 = (ctx: Context) =>
  ctx.preconditions ? { preconditionOpts: { ifGenerationMatch: 0 } } : {};

const CALLS: Record<string, Call> = {
  'storage.bucket_acl.get': async (ctx) => await ctx.bucket.acl.get({ entity: owners(ctx) }),
  'storage.bucket_acl.list': async (ctx) => await ctx.bucket.acl.get(),
  'storage.bucket_acl.insert': async (ctx) =>
    await ctx.bucket.acl.add({ entity: 'allUsers', role: 'READER' }),
  'storage.bucket_acl.update': async (ctx) =>
    await ctx.bucket.acl.update({ entity: viewers(ctx), role: 'OWNER' }),
  'storage.bucket_acl.delete': async (ctx) => await ctx.bucket.acl.delete({ entity: viewers(ctx) }),
  'storage.default_object_acl.get': async (ctx) => await ctx.bucket.acl.default.get({ entity: owners(ctx) }),
  'storage.default_object_acl.list': async (ctx) => await ctx.bucket.acl.default.get(),
  'storage.default_object_acl.insert': async (ctx) =>
    await ctx.bucket.acl.default.add({ entity: 'allUsers', role: 'READER' }),
  'storage.default_object_acl.update': async (ctx) =>
    await ctx.bucket.acl.default.update({ entity: viewers(ctx), role: 'OWNER' }),
  'storage.default_object_acl.delete': async (ctx) =>
    await ctx.bucket.acl.default.delete({ entity: viewers(ctx) }),
  'storage.object_acl.get': async (ctx) => await ctx.file.acl.get({ entity: owners(ctx) }),
  'storage.object_acl.list': async (ctx) => await ctx.file.acl.get(),
  'storage.object_acl.insert': async (ctx) => await ctx.file.acl.add({ entity: 'allUsers', role: 'READER' }),
  'storage.object_acl.update': async (ctx) =>
    await ctx.file.acl.update({ entity: viewers(ctx), role: 'OWNER' }),
  'storage.object_acl.delete': async (ctx) => await ctx.file.acl.delete({ entity: viewers(ctx) }),
  'storage.buckets.delete': async (ctx) => await ctx.bucket.delete(),
  'storage.buckets.get': async (ctx) => await ctx.bucket.getMetadata(),
  'storage.buckets.getIamPolicy': async (ctx) => await ctx.bucket.iam.getPolicy(),
  'storage.buckets.insert': async (ctx) => await ctx.storage.createBucket(ctx.fresh('bucket')),
  'storage.buckets.list': async (ctx) => await ctx.storage.getBuckets(),
  'storage.buckets.lockRetentionPolicy': async (ctx) => await ctx.bucket.lock(ctx.bucketMetageneration),
  'storage.buckets.testIamPermissions': async (ctx) =>
    await ctx.bucket.iam.testPermissions(['storage.buckets.get']),
  'storage.buckets.patch': async (ctx) =>
    await ctx.bucket.setMetadata(
      { labels: { retried: 'yes' } },
      ctx.preconditions ? { ifMetagenerationMatch: ctx.bucketMetageneration } : {},
    ),
  'storage.buckets.setIamPolicy': async (ctx) => {
    const [policy] = await ctx.bucket.iam.getPolicy();
    const next = {
      bindings: [...policy.bindings, { role: 'roles/storage.objectViewer', members: ['allUsers'] }],
    };
    // The policy's etag is the precondition: without it the client must not retry.
    return await ctx.bucket.iam.setPolicy(ctx.preconditions ? { ...next, etag: policy.etag } : next);
  },
  'storage.hmacKey.create': async (ctx) => await ctx.storage.createHmacKey(ctx.serviceAccount),
  'storage.hmacKey.delete': async (ctx) => await ctx.hmacKey.delete(),
  'storage.hmacKey.get': async (ctx) => await ctx.hmacKey.getMetadata(),
  'storage.hmacKey.list': async (ctx) => await ctx.storage.getHmacKeys(),
  'storage.hmacKey.update': async (ctx) =>
    await ctx.hmacKey.setMetadata({
      state: 'INACTIVE',
      ...(ctx.preconditions ? { etag: ctx.hmacEtag } : {}),
    }),
  'storage.notifications.delete': async (ctx) => await ctx.notification.delete(),
  'storage.notifications.get': async (ctx) => await ctx.notification.getMetadata(),
  'storage.notifications.list': async (ctx) => await ctx.bucket.getNotifications(),
  'storage.notifications.insert': async (ctx) => await ctx.bucket.createNotification('retry-topic'),
  'storage.objects.compose': async (ctx) =>
    await ctx.bucket.combine(
      [ctx.file, ctx.file],
      ctx.bucket.file(ctx.fresh('composed')),
      ctx.preconditions ? { ifGenerationMatch: 0 } : {},
    ),
  'storage.objects.delete': async (ctx) =>
    await ctx.file.delete(ctx.preconditions ? { ifGenerationMatch: ctx.fileGeneration } : {}),
  'storage.objects.get': async (ctx) => {
    await ctx.file.download();
  },
  'storage.objects.insert': async (ctx) => {
    await ctx.bucket
      .file(ctx.fresh('inserted'))
      .save('retried bytes', { resumable: false, ...ifGeneration0(ctx) });
  },
  'storage.objects.list': async (ctx) => await ctx.bucket.getFiles(),
  'storage.objects.patch': async (ctx) =>
    await ctx.file.setMetadata(
      { contentType: 'text/x-retried' },
      ctx.preconditions ? { ifMetagenerationMatch: ctx.fileMetageneration } : {},
    ),
  'storage.objects.rewrite': async (ctx) =>
    await ctx.file.copy(ctx.bucket.file(ctx.fresh('rewritten')), ifGeneration0(ctx)),
  'storage.serviceaccount.get': async (ctx) => await ctx.storage.getServiceAccount(),
};

/** Calls of a method group (retry_tests.json `group`): bigger payloads exercise the byte faults. */
const GROUP_CALLS: Record<string, Call> = {
  // Over 8 MiB, so `return-503-after-8192K` fires inside the upload.
  'storage.resumable.upload': async (ctx) => {
    await ctx.bucket
      .file(ctx.fresh('resumable'))
      .save(Buffer.alloc(8 * 1024 * KiB + 512 * KiB, 1), { resumable: true, ...ifGeneration0(ctx) });
  },
  // Over 256 KiB, so `return-broken-stream-after-256K` fires inside the download.
  'storage.objects.download': async (ctx) => {
    await ctx.file.download();
  },
};

describe('storage retry conformance (retry_tests.json) with @google-cloud/storage', () => {
  let server: TestApp & { url: string; port: number };
  let Storage: typeof StorageClient;
  let IdempotencyStrategy: typeof StorageModule.IdempotencyStrategy;
  let hmacRoutes = false;
  let counter = 0;
  const skipped: string[] = [];
  const deviations: string[] = [];

  const random = Math.random;
  before(async () => {
    // The client adds up to 1 s of random jitter to every retry delay; pinned to 0 so the ~300
    // cases run in seconds (the delays themselves still follow the client's own backoff).
    Math.random = () => 0;
    server = await startTestServer({ testbench: true });
    ({ Storage, IdempotencyStrategy } = await import('@google-cloud/storage'));
    const probe = await fetch(`${server.url}/storage/v1/projects/${PROJECT}/hmacKeys`);
    hmacRoutes = probe.status === 200;
  });
  after(async () => {
    Math.random = random;
    if (deviations.length > 0) {
      console.log(`client deviations (outcome inverted, server checked):\n  ${deviations.join('\n  ')}`);
    }
    if (skipped.length > 0) {
      console.log(
        `skipped (not callable from the Node client, covered in test/http/testbench.test.ts):\n  ${skipped.join('\n  ')}`,
      );
    }
    await server.dispose();
  });

  /** HMAC keys belong to a service account, which must exist. */
  const createServiceAccount = async (accountId: string): Promise<string> => {
    const response = await fetch(`${server.url}/v1/projects/${PROJECT}/serviceAccounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ accountId }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { email: string }).email;
  };

  const createRetryTest = async (method: string, instructions: string[]): Promise<string> => {
    const response = await fetch(`${server.url}/retry_test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instructions: { [method]: instructions }, transport: 'HTTP' }),
    });
    assert.equal(response.status, 200, await response.clone().text());
    return ((await response.json()) as { id: string }).id;
  };
  const retryTest = async (
    id: string,
  ): Promise<{ completed: boolean; instructions: Record<string, string[]> }> => {
    const response = await fetch(`${server.url}/retry_test/${id}`);
    return (await response.json()) as { completed: boolean; instructions: Record<string, string[]> };
  };

  /**
   * Creates the resources a case needs (no faults yet), as Google's runners do, through a separate
   * client: the client turns retries off on itself for a conditionally idempotent call made
   * without preconditions (file.save below), which must not leak into the call under test.
   */
  const prepare = async (
    scenario: RetryScenario,
    method: RetryScenario['methods'][number],
  ): Promise<Context> => {
    const setup = new Storage({ apiEndpoint: server.url, projectId: PROJECT });
    const hmacUpdateWithEtag = method.name === 'storage.hmacKey.update' && scenario.preconditionProvided;
    const storage = new Storage({
      apiEndpoint: server.url,
      projectId: PROJECT,
      retryOptions: {
        // As Google's Node runner: a tiny multiplier (first retry after ~10 ms, see `before`).
        retryDelayMultiplier: 0.01,
        maxRetryDelay: 1,
        totalTimeout: 60,
        // The client never retries hmacKeys.update on its own (it does not send the etag as a
        // precondition); RetryAlways is its documented switch for calls the caller knows are safe.
        ...(hmacUpdateWithEtag ? { idempotencyStrategy: IdempotencyStrategy.RetryAlways } : {}),
      },
    });
    const run = `${process.pid}-${++counter}`;
    const fresh = (kind: string): string => `retry-${run}-${kind}-${++counter}`;
    const bucketName = `retry-${run}`;
    const setupBucket = setup.bucket(bucketName);
    await setupBucket.create();
    const [bucketMetadata] = await setupBucket.getMetadata();
    let bucketMetageneration = Number(bucketMetadata.metageneration);
    if (method.name === 'storage.buckets.lockRetentionPolicy') {
      const [locked] = await setupBucket.setRetentionPeriod(60);
      bucketMetageneration = Number(locked.metageneration);
    }
    const objectName = `object-${run}`;
    let fileGeneration = 0;
    let fileMetageneration = 0;
    if (method.resources.includes('OBJECT')) {
      const setupFile = setupBucket.file(objectName);
      await setupFile.save(
        method.group === 'storage.objects.download' ? Buffer.alloc(300 * KiB, 2) : `object ${run}`,
        {
          resumable: false,
        },
      );
      const [metadata] = await setupFile.getMetadata();
      fileGeneration = Number(metadata.generation);
      fileMetageneration = Number(metadata.metageneration);
    }
    let notificationId = '1';
    if (method.resources.includes('NOTIFICATION')) {
      const [created] = await setupBucket.createNotification('retry-topic');
      notificationId = created.id ?? notificationId;
    }
    let accessId = 'GOOG1NONE';
    let hmacEtag = '';
    // A service account holds at most 10 keys: each HMAC case gets its own.
    const account = method.name.startsWith('storage.hmacKey.') ? await createServiceAccount(`rh-${run}`) : '';
    if (method.resources.includes('HMAC_KEY')) {
      const [created] = await setup.createHmacKey(account);
      accessId = created.id ?? accessId;
      if (method.name === 'storage.hmacKey.delete') {
        await created.setMetadata({ state: 'INACTIVE' });
      }
      const [metadata] = await created.getMetadata();
      hmacEtag = metadata.etag ?? '';
    }
    const bucket = storage.bucket(bucketName);
    return {
      storage,
      bucket,
      file: bucket.file(objectName),
      notification: bucket.notification(notificationId),
      hmacKey: storage.hmacKey(accessId),
      serviceAccount: account,
      preconditions: scenario.preconditionProvided,
      projectNumber: String(bucketMetadata.projectNumber),
      fresh,
      bucketMetageneration,
      fileGeneration,
      fileMetageneration,
      hmacEtag,
    };
  };

  for (const scenario of SCENARIOS) {
    describe(`scenario ${scenario.id}: ${scenario.description}`, () => {
      for (const method of scenario.methods) {
        const label = method.group ?? method.name;
        const call = method.group === undefined ? CALLS[method.name] : GROUP_CALLS[method.group];
        for (const { instructions } of scenario.cases) {
          const name = `${label} [${instructions.join(', ')}] -> ${scenario.expectSuccess ? 'succeeds' : 'fails'}`;
          const notCallable = NOT_CALLABLE[method.name];
          if (notCallable !== undefined || call === undefined) {
            const reason = notCallable ?? 'no client call mapped';
            skipped.push(`${method.name}: ${reason}`);
            it(name, { skip: reason }, () => undefined);
            continue;
          }
          it(name, { timeout: 60_000 }, async (t) => {
            if (method.name.startsWith('storage.hmacKey.') && !hmacRoutes) {
              t.skip('projects.hmacKeys is not served yet');
              return;
            }
            const ctx = await prepare(scenario, method);
            const id = await createRetryTest(method.name, instructions);
            ctx.storage.interceptors.push({
              request: (options) => {
                options.headers = { ...options.headers, 'x-retry-test-id': id };
                return options as ReturnType<StorageClient['interceptors'][number]['request']>;
              },
            });
            const deviation = clientDeviation(scenario, label, instructions);
            const expectSuccess = deviation === undefined ? scenario.expectSuccess : !scenario.expectSuccess;
            if (deviation !== undefined) {
              t.diagnostic(`client deviation: ${deviation.reason}`);
              deviations.push(`${name}: ${deviation.reason}`);
            }
            let outcome: unknown;
            try {
              await call(ctx);
              outcome = 'succeeded';
            } catch (error) {
              outcome = error;
            }
            if (expectSuccess) {
              assert.equal(outcome, 'succeeded', `expected success, got ${String(outcome)}`);
            } else {
              assert.notEqual(outcome, 'succeeded', 'expected the call to fail');
            }
            const state = await retryTest(id);
            const left = state.instructions[method.name] ?? [];
            const consumed = deviation?.consumed ?? instructions.length;
            assert.deepEqual(left, instructions.slice(consumed), 'instructions left on the server');
            assert.equal(state.completed, consumed === instructions.length);
          });
        }
      }
    });
  }
});
