import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Condition, ConditionSyntaxError, conditionHolds } from './conditions.ts';
import { policyForVersion } from './policies.ts';

const OBJECT = {
  name: 'projects/_/buckets/awesome-gcp/objects/uploads/x.txt',
  type: 'storage.googleapis.com/Object',
  service: 'storage.googleapis.com',
  time: new Date('2026-06-15T10:30:45.123Z'),
};

const holds = (expression: string, context = OBJECT): boolean => conditionHolds(expression, context);

function syntaxError(expression: string): ConditionSyntaxError {
  try {
    Condition.parse(expression);
  } catch (error) {
    assert.ok(error instanceof ConditionSyntaxError, `not a syntax error: ${String(error)}`);
    return error;
  }
  return assert.fail(`parsed: ${expression}`);
}

describe('IAM condition parser', () => {
  it('accepts the expressions Google documents', () => {
    for (const expression of [
      'request.time < timestamp("2027-01-01T00:00:00Z")',
      "request.time.getHours('Asia/Seoul') >= 9 && request.time.getHours('Asia/Seoul') < 18",
      'resource.name.startsWith("projects/_/buckets/awesome-gcp/objects/uploads/")',
      'resource.type == "storage.googleapis.com/Object" || resource.type == "storage.googleapis.com/Bucket"',
      '!(resource.service == "compute.googleapis.com")',
      'resource.name.extract("projects/_/buckets/{bucket}/") in ["a", "b"]',
      'has(resource.name) ? size(resource.name) > 0 : false',
      'request.time - timestamp("2026-01-01T00:00:00Z") < duration("86400s")',
      "api.getAttribute('iam.googleapis.com/modifiedGrantsByRole', []).hasOnly(['roles/x'])".replace(
        '.hasOnly',
        '.size',
      ),
      'r"^a.c$" == "^a.c$"',
    ]) {
      assert.doesNotThrow(() => Condition.parse(expression), expression);
    }
  });

  it('reports syntax errors with a column', () => {
    const unbalanced = syntaxError('(resource.name == "a"');
    assert.match(unbalanced.message, /^ERROR: <input>:1:\d+: Syntax error/);
    assert.equal(syntaxError('resource.name == ').column, 18);
    assert.match(syntaxError('resource.name = "a"').message, /token recognition error at: '='/);
    assert.match(syntaxError('"unterminated').message, /unterminated string/);
    assert.match(syntaxError('foo.bar == 1').message, /undeclared reference to 'foo'/);
    assert.match(
      syntaxError('resource.name.frobnicate("x")').message,
      /undeclared reference to 'frobnicate'/,
    );
    assert.match(syntaxError('nosuch("x")').message, /undeclared reference to 'nosuch'/);
    assert.match(syntaxError('   ').message, /empty/);
    assert.match(syntaxError('resource.name == "a" resource').message, /extraneous input 'resource'/);
  });
});

describe('IAM condition evaluation', () => {
  it('compares request.time with timestamps and durations', () => {
    assert.equal(holds('request.time < timestamp("2027-01-01T00:00:00Z")'), true);
    assert.equal(holds('request.time < timestamp("2026-01-01T00:00:00Z")'), false);
    assert.equal(holds('request.time > timestamp("2026-06-15T19:00:00+09:00")'), true);
    assert.equal(holds('request.time + duration("1h") > timestamp("2026-06-15T11:00:00Z")'), true);
    assert.equal(holds('request.time - timestamp("2026-06-15T10:00:00Z") == duration("30m45.123s")'), true);
    assert.equal(holds('duration("1h30m").getMinutes() == 90'), true);
  });

  it('reads the clock in UTC, fixed offsets and IANA time zones', () => {
    assert.equal(holds('request.time.getHours() == 10'), true);
    assert.equal(holds('request.time.getHours("Asia/Seoul") == 19'), true);
    assert.equal(
      holds('request.time.getHours("-05:30") == 5 && request.time.getMinutes("-05:30") == 0'),
      true,
    );
    assert.equal(holds('request.time.getFullYear() == 2026 && request.time.getMonth() == 5'), true);
    assert.equal(holds('request.time.getDate() == 15 && request.time.getDayOfMonth() == 14'), true);
    assert.equal(holds('request.time.getDayOfWeek() == 1'), true); // a Monday
    assert.equal(holds('request.time.getDayOfYear() == 165'), true);
    assert.equal(holds('request.time.getSeconds() == 45 && request.time.getMilliseconds() == 123'), true);
    // An unknown time zone is an evaluation error: the condition does not hold.
    assert.equal(holds('request.time.getHours("Mars/Olympus") >= 0'), false);
  });

  it('matches resource attributes', () => {
    assert.equal(holds('resource.name.startsWith("projects/_/buckets/awesome-gcp/objects/uploads/")'), true);
    assert.equal(holds('resource.name.startsWith("projects/_/buckets/awesome-gcp/objects/other/")'), false);
    assert.equal(
      holds('resource.name.endsWith(".txt") && resource.service == "storage.googleapis.com"'),
      true,
    );
    assert.equal(holds('resource.type in ["storage.googleapis.com/Object", "x"]'), true);
    assert.equal(holds('resource.name.extract("/buckets/{bucket}/") == "awesome-gcp"'), true);
    assert.equal(holds('resource.name.extract("/objects/{name}") == "uploads/x.txt"'), true);
    assert.equal(holds('resource.name.extract("/folders/{f}/") == ""'), true);
    assert.equal(
      holds('resource.name.matches("^projects/_/buckets/[a-z-]+/objects/uploads/.*\\\\.txt$")'),
      true,
    );
    assert.equal(holds('resource.name.contains("/uploads/") && size(resource.name) > 10'), true);
    assert.equal(holds("'a' + 'b' == 'ab' && 7 / 2 == 3 && 7 % 2 == 1 && -3 < 0 && 2.5 > 2"), true);
    assert.equal(holds('resource.type == "storage.googleapis.com/Object" ? true : false'), true);
    assert.equal(holds('resource.name == "x"', { ...OBJECT, name: 'x' }), true);
  });

  it('follows CEL error semantics: && and || absorb errors, anything else makes the condition false', () => {
    const error = 'timestamp("not a time") < request.time';
    assert.equal(holds(error), false);
    assert.equal(holds(`!(${error})`), false);
    assert.equal(holds(`false && ${error}`), false);
    assert.equal(holds(`${error} && false`), false);
    assert.equal(holds(`!(${error} && false)`), true);
    assert.equal(holds(`true || ${error}`), true);
    assert.equal(holds(`${error} || true`), true);
    assert.equal(holds(`${error} || false`), false);
    assert.equal(holds('resource.name > 3'), false); // no overload
    assert.equal(holds('1 / 0 == 1'), false);
    assert.equal(holds('request.host == "x"'), false); // attribute Nimbus does not provide
    assert.equal(holds('resource.name'), false); // not a bool
    assert.equal(holds('1 == 1.0 && "a" != 1'), true);
  });

  it('treats an expression that does not parse as false', () => {
    assert.equal(conditionHolds('resource.name ==', OBJECT), false);
  });
});

describe('policyForVersion (getIamPolicy requestedPolicyVersion)', () => {
  const conditional = {
    version: 3,
    etag: 'e',
    bindings: [
      { role: 'roles/viewer', members: ['user:a@example.com'] },
      {
        role: 'roles/storage.objectViewer',
        members: ['user:b@example.com'],
        condition: { title: 't', expression: 'true' },
      },
    ],
  };

  it('keeps version 3 policies as they are when version 3 is requested', () => {
    assert.deepEqual(policyForVersion(conditional, 3), conditional);
  });

  it('renames conditional roles _withcond_HASH and drops their conditions below version 3', () => {
    const v1 = policyForVersion(conditional, 1);
    assert.equal(v1.version, 1);
    assert.deepEqual(v1.bindings?.[0], conditional.bindings[0]);
    assert.match(v1.bindings?.[1]?.role ?? '', /^roles\/storage\.objectViewer_withcond_[0-9a-f]{20}$/);
    assert.equal(v1.bindings?.[1]?.condition, undefined);
    assert.deepEqual(policyForVersion(conditional, undefined), v1);
  });

  it('refuses versions other than 0, 1 and 3', () => {
    assert.throws(() => policyForVersion(conditional, 2), /Invalid policy version 2/);
  });
});
