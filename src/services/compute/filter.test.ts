import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../core/errors.ts';
import { compileFilter } from './filter.ts';

const items = [
  {
    name: 'web-1',
    status: 'RUNNING',
    cpus: 2,
    labels: { env: 'prod' },
    scheduling: { automaticRestart: true },
    tags: { items: ['http', 'ssh'] },
  },
  { name: 'web-2', status: 'TERMINATED', cpus: 4, scheduling: { automaticRestart: false } },
  { name: 'db-1', status: 'RUNNING', cpus: 8, labels: { env: 'dev' }, tags: { items: ['ssh'] } },
];

function names(filter: string): string[] {
  const keep = compileFilter(filter);
  assert.ok(keep !== undefined);
  return items.filter((item) => keep(item)).map((item) => item.name);
}

describe('compute list filter', () => {
  it('has no predicate without a filter', () => {
    assert.equal(compileFilter(undefined), undefined);
    assert.equal(compileFilter('  '), undefined);
  });

  it('compares with AIP-160 operators, wildcards and substrings', () => {
    assert.deepEqual(names('name = web-1'), ['web-1']);
    assert.deepEqual(names('name = "web-*"'), ['web-1', 'web-2']);
    assert.deepEqual(names('name != web-1'), ['web-2', 'db-1']);
    assert.deepEqual(names('name:eb'), ['web-1', 'web-2']);
    assert.deepEqual(names('name:"b-"'), ['web-1', 'web-2', 'db-1']);
    assert.deepEqual(names('cpus > 2'), ['web-2', 'db-1']);
    assert.deepEqual(names('cpus <= 4'), ['web-1', 'web-2']);
    assert.deepEqual(names('scheduling.automaticRestart = false'), ['web-2']);
    assert.deepEqual(names('labels.env:*'), ['web-1', 'db-1']);
    assert.deepEqual(names('labels:env'), ['web-1', 'db-1']);
    assert.deepEqual(names('tags.items = http'), ['web-1']);
    assert.deepEqual(names('nothing = x'), []);
  });

  it('combines with parentheses, AND, OR, NOT and juxtaposition', () => {
    assert.deepEqual(names('(status = RUNNING) (cpus > 2)'), ['db-1']);
    assert.deepEqual(names('status = RUNNING AND name:web'), ['web-1']);
    assert.deepEqual(names('(name = db-1) OR (cpus = 4)'), ['web-2', 'db-1']);
    assert.deepEqual(names('NOT name:web'), ['db-1']);
    assert.deepEqual(names('-name:web'), ['db-1']);
  });

  it('matches whole fields with eq / ne regular expressions', () => {
    assert.deepEqual(names('name eq web-.*'), ['web-1', 'web-2']);
    assert.deepEqual(names('name eq web'), []);
    assert.deepEqual(names("name ne '.*-1'"), ['web-2']);
    assert.deepEqual(names('(name eq web-.*) (status eq "RUNNING")'), ['web-1']);
    assert.deepEqual(names('name eq (db|web)-2'), ['web-2']);
    assert.deepEqual(names('name eq "(?i)WEB-1"'), ['web-1']);
  });

  it("understands gcloud's rewritten --filter (escapes, word boundaries, nested AND groups)", () => {
    assert.deepEqual(names(String.raw`name eq ".*\bweb\-1\b.*"`), ['web-1']);
    assert.deepEqual(names(String.raw`(name eq ".*\bweb.*")(status eq "RUNNING")`), ['web-1']);
    assert.deepEqual(names(String.raw`((name ne ".*\bdb\b.*")(status eq "RUNNING"))(cpus eq 2)`), ['web-1']);
    assert.deepEqual(names(String.raw`(scheduling.automaticRestart eq false)`), ['web-2']);
    assert.deepEqual(names(String.raw`name eq "web\"x"`), []);
  });

  it('refuses broken expressions with a 400', () => {
    for (const bad of ['name', 'name =', '= x', '(name = a', 'name = "open', 'name eq (', '(a eq b) c = d']) {
      assert.throws(
        () => compileFilter(bad),
        (error: unknown) => error instanceof ApiError && error.httpStatus === 400,
        bad,
      );
    }
  });
});
