/**
 * docs/tutorial.md, run: every ```sh / ```bash / ```python block, in document order, against a spawned
 * Nimbus (temp data dir in a temp HOME, `--anonymous none` so every call must carry a credential),
 * like one terminal session: exported variables and the working directory carry from block to block.
 * A block runs under `set -eo pipefail` and must exit 0; key outputs are checked (the VM's hostname,
 * the downloaded file equals the uploaded one, the Python client got its token from the key file).
 *
 * Markers, an HTML comment on the line before a block (the only exceptions, kept few):
 * - `<!-- not run: REASON -->`: not run (starting Nimbus, `npm link`, making a virtualenv);
 * - `<!-- needs: compute -->`: skipped, with the reason printed, when Compute Engine cannot run VMs;
 * - `<!-- file: NAME -->`: a ```python block is written to NAME in the session's directory.
 * `nimbus` is bin/nimbus.js, `python` is the repository's .venv (google-cloud-storage from
 * requirements-test.txt), and `pip install google-cloud-storage` only checks that it is installed.
 * docs/tutorial.ko.md must hold exactly the same blocks, so running one runs both.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findGcloud } from '../gcloud-cli.ts';
import { buildBundle, CLI, REPO_ROOT, spawnNimbus, type NimbusProcess } from '../nimbus-process.ts';

const DOC = join(REPO_ROOT, 'docs', 'tutorial.md');
const DOC_KO = join(REPO_ROOT, 'docs', 'tutorial.ko.md');
const PYTHON = join(REPO_ROOT, '.venv', 'bin', 'python');
const GCLOUD = findGcloud();
const PROJECT = 'nimbus-local';
/** Long enough for the first debian-12 image build (once; later runs find it cached). */
const VM_BLOCK_TIMEOUT_MS = 360_000;
const BLOCK_TIMEOUT_MS = 120_000;

interface Marker {
  kind: 'not run' | 'needs' | 'file';
  value: string;
}

interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  marker?: Marker;
}

const RUNNABLE = ['sh', 'bash', 'python'];
const MARKER = /^<!--\s*(not run|needs|file):\s*(.*?)\s*-->$/;

/**
 * The ```sh / ```bash / ```python blocks of a markdown text, each with the marker on the last
 * non-blank line before its fence. A comment that looks like a marker but is malformed, or a marker
 * not followed by a runnable block, throws: a typo must not silently skip a block.
 */
function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  let pending: Marker | undefined;
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] ?? '';
    const trimmed = text.trim();
    if (trimmed.startsWith('<!--')) {
      const match = MARKER.exec(trimmed);
      if (/not.?run|needs|file/i.test(trimmed) && match === null) {
        throw new Error(`line ${String(i + 1)}: malformed marker ${trimmed}`);
      }
      if (match !== null) {
        if (pending !== undefined) {
          throw new Error(`line ${String(i + 1)}: two markers before one block`);
        }
        pending = { kind: match[1] as Marker['kind'], value: match[2] ?? '' };
      }
      continue;
    }
    const fence = /^```([\w-]*)\s*$/.exec(text);
    if (fence === null) {
      if (trimmed !== '' && pending !== undefined) {
        throw new Error(`line ${String(i + 1)}: a marker must be followed by a code block`);
      }
      continue;
    }
    const lang = fence[1] ?? '';
    const start = i;
    const body: string[] = [];
    for (i += 1; i < lines.length && !/^```\s*$/.test(lines[i] ?? ''); i++) {
      body.push(lines[i] ?? '');
    }
    if (i >= lines.length) {
      throw new Error(`line ${String(start + 1)}: unclosed code block`);
    }
    if (!RUNNABLE.includes(lang)) {
      if (pending !== undefined) {
        throw new Error(`line ${String(start + 1)}: a marker before a \`\`\`${lang} block`);
      }
      continue;
    }
    blocks.push({
      lang,
      code: `${body.join('\n')}\n`,
      line: start + 1,
      ...(pending === undefined ? {} : { marker: pending }),
    });
    pending = undefined;
  }
  if (pending !== undefined) {
    throw new Error('a marker at the end of the document');
  }
  return blocks;
}

interface BlockRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs shell blocks one after another like one terminal: each in a fresh `bash` under
 * `set -eo pipefail` that first restores the exported variables and the directory the previous
 * block left (`export -p` and `cd`, saved only when a block succeeds).
 */
class ShellSession {
  private readonly state: string;
  private readonly cwdFile: string;

  constructor(
    private readonly dir: string,
    env: Record<string, string>,
    startDir: string,
  ) {
    this.state = join(dir, 'session-state.sh');
    this.cwdFile = join(dir, 'session-cwd');
    const lines = Object.entries(env)
      .filter(([key]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      .map(([key, value]) => `export ${key}=${quote(value)}`);
    writeFileSync(this.state, `${lines.join('\n')}\ncd ${quote(startDir)}\n`);
    writeFileSync(this.cwdFile, startDir);
  }

  /** The directory the last successful block ended in. */
  cwd(): string {
    return readFileSync(this.cwdFile, 'utf8');
  }

  async run(code: string, timeoutMs: number): Promise<BlockRun> {
    const script = join(this.dir, 'block.sh');
    writeFileSync(
      script,
      [
        'set -eo pipefail',
        `. ${quote(this.state)}`,
        code,
        `{ export -p; printf 'cd %q\\n' "$PWD"; } > ${quote(`${this.state}.next`)}`,
        `mv ${quote(`${this.state}.next`)} ${quote(this.state)}`,
        `printf '%s' "$PWD" > ${quote(this.cwdFile)}`,
      ].join('\n'),
    );
    return await new Promise<BlockRun>((resolve) => {
      // No inherited environment: the state file is the session's whole environment.
      const child = spawn('/bin/bash', ['--noprofile', '--norc', script], {
        env: {},
        cwd: this.dir,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const timer = setTimeout(() => {
        stderr += `\n[killed after ${String(timeoutMs)} ms]`;
        if (child.pid !== undefined) {
          process.kill(-child.pid, 'SIGKILL');
        }
      }, timeoutMs);
      child.on('close', (exitCode) => {
        clearTimeout(timer);
        resolve({ code: exitCode, stdout, stderr });
      });
    });
  }
}

function quote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

function firstLine(block: CodeBlock): string {
  return block.code.split('\n')[0] ?? '';
}

describe('docs/tutorial.md and docs/tutorial.ko.md', () => {
  it('the Korean tutorial has exactly the same code blocks and markers', () => {
    const strip = (block: CodeBlock) => ({
      lang: block.lang,
      code: block.code,
      // The reason of a "not run" marker may be translated; what it does may not differ.
      marker:
        block.marker === undefined
          ? undefined
          : `${block.marker.kind}: ${block.marker.kind === 'not run' ? '' : block.marker.value}`,
    });
    const english = codeBlocks(readFileSync(DOC, 'utf8')).map(strip);
    const korean = codeBlocks(readFileSync(DOC_KO, 'utf8')).map(strip);
    assert.ok(english.length >= 10, `only ${String(english.length)} blocks in ${DOC}`);
    assert.deepEqual(korean, english);
  });

  it('runs only a few blocks by exception: starting Nimbus, npm link and the virtualenv', () => {
    const blocks = codeBlocks(readFileSync(DOC, 'utf8'));
    assert.deepEqual(blocks.filter((b) => b.marker?.kind === 'not run').map(firstLine), [
      'npm start',
      'npm link',
      'python3 -m venv ~/seed-venv',
    ]);
    for (const block of blocks) {
      if (block.marker?.kind === 'needs') {
        assert.equal(block.marker.value, 'compute', `line ${String(block.line)}`);
      }
      if (block.lang === 'python') {
        assert.ok(
          block.marker?.kind === 'file' || block.marker?.kind === 'not run',
          `line ${String(block.line)}: a python block needs <!-- file: NAME -->`,
        );
      }
    }
  });
});

describe('the session runner the tutorial test uses', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nimbus-tutorial-runner-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses markers, carries variables and the directory, and fails on a failing command', async () => {
    const blocks = codeBlocks(
      [
        '<!-- not run: demo -->',
        '',
        '```sh',
        'exit 1',
        '```',
        '```sh',
        'export GREETING="hi there"',
        'mkdir -p sub && cd sub',
        '```',
        '```text',
        'ignored',
        '```',
        '```bash',
        'test "$GREETING" = "hi there"',
        'pwd',
        '```',
        '```sh',
        'false',
        'echo "not reached"',
        '```',
        '```sh',
        'ls /no/such/dir | cat',
        '```',
      ].join('\n'),
    );
    assert.deepEqual(
      blocks.map((b) => [b.lang, b.line, b.marker?.kind]),
      [
        ['sh', 3, 'not run'],
        ['sh', 6, undefined],
        ['bash', 13, undefined],
        ['sh', 17, undefined],
        ['sh', 21, undefined],
      ],
    );
    assert.throws(() => codeBlocks('<!-- not-run: typo -->\n```sh\nls\n```\n'), /malformed marker/);
    assert.throws(
      () => codeBlocks('<!-- needs: compute -->\n\ntext\n```sh\nls\n```\n'),
      /followed by a code/,
    );
    const session = new ShellSession(dir, { PATH: process.env.PATH ?? '/usr/bin:/bin' }, dir);
    const runs = [];
    for (const block of blocks.slice(1)) {
      runs.push(await session.run(block.code, 10_000));
    }
    assert.deepEqual(
      runs.map((r) => r.code),
      [0, 0, 1, 2],
    );
    assert.equal(runs[1]?.stdout.trim(), join(dir, 'sub'));
    assert.ok(!(runs[2]?.stdout ?? '').includes('not reached'));
    assert.equal(session.cwd(), join(dir, 'sub'));
  });
});

/** What a block's output (stdout and stderr) must show, found by a pattern on its code. */
const EXPECTED: { block: RegExp; output: RegExp[] }[] = [
  {
    block: /^nimbus status$/m,
    output: [/Nimbus is running at http:\/\/127\.0\.0\.1:\d+/, /storage\s+ready/],
  },
  {
    block: /gcloud projects describe/,
    output: [new RegExp(`projectId: ${PROJECT}`), /projectNumber: '\d+'/],
  },
  {
    block: /gcloud compute instances create seed-vm/,
    output: [/seed-vm\s+asia-northeast3-a\s+e2-micro\s+10\.\d+\.\d+\.\d+\s+127\.77\.\d+\.\d+\s+RUNNING/],
  },
  { block: /nimbus compute ssh seed-vm/, output: [/^Linux seed-vm /m, /^seed-vm$/m] },
  {
    block: /gcloud compute instances stop seed-vm/,
    output: [
      /seed-vm\s+asia-northeast3-a\s+e2-micro\s+10\.\d+\.\d+\.\d+\s+TERMINATED/,
      /seed-vm\s+asia-northeast3-a\s+zone/,
    ],
  },
  { block: /gcloud compute instances delete seed-vm/, output: [/Deleted \[/, /Listed 0 items/] },
  {
    block: /gcloud storage ls -r gs:\/\/awesome-gcp/,
    output: [
      /^gs:\/\/awesome-gcp\/hello\.txt$/m,
      /^gs:\/\/awesome-gcp\/photos\/cat\.txt$/m,
      /^gs:\/\/awesome-gcp\/photos\/2024\/dog\.txt$/m,
    ],
  },
  {
    block: /keys create key\.json/,
    output: [
      /Created service account \[storage-robot\]/,
      /storage-robot@nimbus-local\.iam\.gserviceaccount\.com/,
      /created key \[[0-9a-f]+\] of type \[json\] as \[key\.json\]/,
    ],
  },
  { block: /^pip install google-cloud-storage$/m, output: [/google-cloud-storage/] },
  {
    block: /^python storage_demo\.py$/m,
    output: [
      /^Uploaded hello\.txt to gs:\/\/awesome-gcp\/uploads\/hello\.txt$/m,
      /^Downloaded gs:\/\/awesome-gcp\/uploads\/hello\.txt to hello-downloaded\.txt$/m,
      /^hello, cloud$/m,
    ],
  },
  {
    block: /gcloud storage rm -r gs:\/\/awesome-gcp$/m,
    output: [/Removing gs:\/\/awesome-gcp\/uploads\/hello\.txt/, /Removing gs:\/\/awesome-gcp\/\.\.\./],
  },
];

const skipRun =
  GCLOUD === undefined
    ? 'gcloud is not installed (package google-cloud-cli)'
    : existsSync(PYTHON)
      ? false
      : `${PYTHON} is missing: run sh scripts/bootstrap.sh (it installs requirements-test.txt)`;
if (skipRun !== false) {
  process.stdout.write(`# tutorial: skipped: ${skipRun}\n`);
}

describe('docs/tutorial.md, every command against a spawned Nimbus', { skip: skipRun }, () => {
  const blocks = codeBlocks(readFileSync(DOC, 'utf8'));
  let root: string;
  let home: string;
  let nimbus: NimbusProcess;
  let session: ShellSession;
  let computeReason: string | undefined;
  let failedAt: number | undefined;
  const outputs = new Map<number, string>();

  const ownerToken = (): string => readFileSync(join(home, '.nimbus', 'owner.token'), 'utf8').trim();
  const api = async (
    method: string,
    path: string,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${nimbus.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ownerToken()}` },
    });
    const text = await response.text();
    return {
      status: response.status,
      body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown>,
    };
  };

  before(async () => {
    buildBundle();
    root = mkdtempSync(join(tmpdir(), 'nimbus-tutorial-'));
    home = join(root, 'home');
    const shims = join(root, 'bin');
    mkdirSync(home, { recursive: true });
    mkdirSync(shims, { recursive: true });
    // The data dir is the default one of the session's HOME, so `nimbus env` finds the server.
    nimbus = await spawnNimbus(join(home, '.nimbus'), { args: ['--anonymous', 'none'], timeoutMs: 60_000 });
    const shim = (name: string, body: string): void => {
      writeFileSync(join(shims, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(shims, name), 0o755);
    };
    shim('nimbus', `exec ${quote(process.execPath)} ${quote(CLI)} "$@"`);
    shim('python', `exec ${quote(PYTHON)} "$@"`);
    // `pip install google-cloud-storage` without the network: the package must already be there.
    shim(
      'pip',
      [
        `[ "$*" = "install google-cloud-storage" ] || { echo "pip shim: unexpected: pip $*" >&2; exit 2; }`,
        `exec ${quote(PYTHON)} -c 'import importlib.metadata as m, google.cloud.storage; print("Requirement already satisfied: google-cloud-storage==" + m.version("google-cloud-storage"))'`,
      ].join('\n'),
    );
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        (entry): entry is [string, string] =>
          entry[1] !== undefined &&
          !/^(CLOUDSDK_|GOOGLE_|GCE_|NIMBUS_|BOTO_|AWS_|STORAGE_EMULATOR_HOST$|API_ENDPOINT_OVERRIDE$|METADATA_SERVER_DETECTION$|(HTTPS?|ALL|NO)_PROXY$|VIRTUAL_ENV$|PYTHON)/i.test(
            entry[0],
          ),
      ),
    );
    // Anything not addressed to 127.0.0.1 goes to a closed port instead of leaving the machine.
    const guard = 'http://127.0.0.1:9';
    session = new ShellSession(
      root,
      {
        ...inherited,
        HOME: home,
        PATH: `${shims}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        METADATA_SERVER_DETECTION: 'none',
        PYTHONDONTWRITEBYTECODE: '1',
        HTTP_PROXY: guard,
        HTTPS_PROXY: guard,
        http_proxy: guard,
        https_proxy: guard,
        NO_PROXY: '127.0.0.1,localhost',
        no_proxy: '127.0.0.1,localhost',
      },
      home,
    );
    const services = (await (await fetch(`${nimbus.url}/_nimbus/services`)).json()) as {
      services: { name: string; state: string; reason?: string }[];
    };
    const compute = services.services.find((s) => s.name === 'compute');
    computeReason =
      compute?.state === 'ready' ? undefined : (compute?.reason ?? 'Compute Engine is unavailable');
    if (computeReason !== undefined) {
      process.stdout.write(`# tutorial: the VM blocks are skipped: ${computeReason}\n`);
    }
  });

  after(async () => {
    // Whatever a failed step left behind goes with the server and the temp dirs.
    if (nimbus !== undefined) {
      await api('DELETE', `/compute/v1/projects/${PROJECT}/zones/asia-northeast3-a/instances/seed-vm`).catch(
        () => undefined,
      );
      await nimbus.stop();
    }
    rmSync(root, { recursive: true, force: true });
  });

  blocks.forEach((block, index) => {
    const title = `block ${String(index + 1)} (line ${String(block.line)}): ${firstLine(block)}`;
    it(title, { timeout: VM_BLOCK_TIMEOUT_MS + 30_000 }, async (t) => {
      if (block.marker?.kind === 'not run') {
        t.skip(`not run: ${block.marker.value}`);
        return;
      }
      if (block.marker?.kind === 'needs' && computeReason !== undefined) {
        t.skip(`Compute Engine is unavailable: ${computeReason}`);
        return;
      }
      if (failedAt !== undefined) {
        t.skip(`block ${String(failedAt + 1)} failed`);
        return;
      }
      failedAt = index;
      if (block.lang === 'python') {
        if (block.marker?.kind !== 'file') {
          assert.fail('a python block needs <!-- file: NAME -->');
        }
        writeFileSync(join(session.cwd(), block.marker.value), block.code);
        failedAt = undefined;
        return;
      }
      const run = await session.run(
        block.code,
        block.marker?.kind === 'needs' ? VM_BLOCK_TIMEOUT_MS : BLOCK_TIMEOUT_MS,
      );
      const output = `${run.stdout}\n${run.stderr}`;
      assert.equal(
        run.code,
        0,
        `the block exited ${String(run.code)}:\n${block.code}\n--- output:\n${output}`,
      );
      for (const expected of EXPECTED.filter((e) => e.block.test(block.code))) {
        for (const pattern of expected.output) {
          assert.match(output, pattern, `block output:\n${output}`);
        }
      }
      outputs.set(index, output);
      failedAt = undefined;
    });
  });

  it('ran every block with a checked output, and left what the tutorial says', async (t) => {
    if (failedAt !== undefined) {
      t.skip(`block ${String(failedAt + 1)} failed`);
      return;
    }
    for (const expected of EXPECTED) {
      const index = blocks.findIndex((b) => expected.block.test(b.code));
      assert.ok(index >= 0, `no block matches ${String(expected.block)}`);
      const vmBlock = blocks[index]?.marker?.kind === 'needs';
      assert.ok(
        outputs.has(index) || (vmBlock && computeReason !== undefined),
        `${String(expected.block)} did not run`,
      );
    }
    // The Python client uploaded hello.txt and downloaded it unchanged.
    const dir = session.cwd();
    assert.equal(dir, join(home, 'seed-tutorial'));
    assert.equal(readFileSync(join(dir, 'hello-downloaded.txt'), 'utf8'), 'hello, cloud\n');
    assert.deepEqual(readFileSync(join(dir, 'hello-downloaded.txt')), readFileSync(join(dir, 'hello.txt')));
    // ...with the key file's credentials: anonymous calls are refused by this server, and the
    // client traded the key for a token at Nimbus's /token.
    const log = readFileSync(join(home, '.nimbus', 'logs', 'nimbus.log'), 'utf8');
    assert.match(log, /"method":"POST","url":"\/token","statusCode":200/);
    // Clean-up left nothing: no bucket, no service account, no VM, no Owner binding.
    const buckets = await api('GET', `/storage/v1/b?project=${PROJECT}`);
    assert.equal(buckets.status, 200);
    assert.deepEqual(buckets.body.items ?? [], []);
    const accounts = await api('GET', `/v1/projects/${PROJECT}/serviceAccounts`);
    assert.equal(accounts.status, 200);
    assert.ok(
      !((accounts.body.accounts ?? []) as { email: string }[]).some((a) =>
        a.email.startsWith('storage-robot@'),
      ),
      JSON.stringify(accounts.body),
    );
    const policy = await api('POST', `/v1/projects/${PROJECT}:getIamPolicy`);
    assert.ok(!JSON.stringify(policy.body).includes('storage-robot@'), JSON.stringify(policy.body));
    const instances = await api('GET', `/compute/v1/projects/${PROJECT}/aggregated/instances`);
    assert.ok(!JSON.stringify(instances.body).includes('seed-vm'), JSON.stringify(instances.body));
    assert.ok(!existsSync(join(dir, 'key.json')));
  });
});
