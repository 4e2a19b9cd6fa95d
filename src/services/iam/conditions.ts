/**
 * IAM Conditions: the subset of the Common Expression Language (CEL) that Google's role-binding
 * conditions use, parsed once per policy write (a syntax error is a 400) and evaluated per access
 * check against the request's attributes (`request.time`, `resource.name/type/service`).
 *
 * Semantics follow CEL: `&&` / `||` are commutative and absorb errors (`false && error` is false,
 * `true || error` is true); any other error (a missing attribute, a bad timestamp, a type mismatch)
 * makes the whole condition false, so the binding grants nothing.
 */

/** The request attributes a condition can see. */
export interface ConditionContext {
  /** Google's resource name, e.g. `projects/_/buckets/B/objects/O`. */
  name?: string;
  /** e.g. `storage.googleapis.com/Object`. */
  type?: string;
  /** e.g. `storage.googleapis.com`. */
  service?: string;
  /** `request.time`; now when absent. */
  time?: Date;
}

/** A syntactically invalid expression; `column` is 1-based. */
export class ConditionSyntaxError extends Error {
  constructor(
    readonly detail: string,
    readonly column: number,
  ) {
    super(`ERROR: <input>:1:${String(column)}: ${detail}`);
  }
}

class EvalError extends Error {
  readonly evaluation = true;
}

type Value =
  | { t: 'string'; v: string }
  | { t: 'int'; v: number }
  | { t: 'double'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'null' }
  | { t: 'timestamp'; v: number }
  | { t: 'duration'; v: number }
  | { t: 'list'; v: Value[] }
  | { t: 'map'; v: Map<string, Value> };

type Node =
  | { k: 'lit'; value: Value }
  | { k: 'ident'; name: string; pos: number }
  | { k: 'select'; operand: Node; field: string }
  | { k: 'index'; operand: Node; index: Node }
  | { k: 'call'; target?: Node; fn: string; args: Node[]; pos: number }
  | { k: 'list'; items: Node[] }
  | { k: 'unary'; op: '!' | '-'; operand: Node }
  | { k: 'binary'; op: string; left: Node; right: Node }
  | { k: 'ternary'; cond: Node; then: Node; else: Node };

interface Token {
  kind: 'ident' | 'string' | 'int' | 'double' | 'op' | 'eof';
  text: string;
  value?: string | number;
  pos: number;
}

/** Attributes Google declares for conditions; anything else is an undeclared reference. */
const ROOTS = new Set(['request', 'resource', 'api', 'destination', 'origin', 'levels']);
const GLOBAL_FUNCTIONS = new Set(['timestamp', 'duration', 'size', 'int', 'string', 'double', 'has']);
const METHODS = new Set([
  'startsWith',
  'endsWith',
  'contains',
  'matches',
  'size',
  'extract',
  'getFullYear',
  'getMonth',
  'getDate',
  'getDayOfMonth',
  'getDayOfWeek',
  'getDayOfYear',
  'getHours',
  'getMinutes',
  'getSeconds',
  'getMilliseconds',
  'getAttribute',
]);
const RESERVED = new Set(['true', 'false', 'null', 'in']);
const OPERATORS = [
  '&&',
  '||',
  '==',
  '!=',
  '<=',
  '>=',
  '<',
  '>',
  '!',
  '+',
  '-',
  '*',
  '/',
  '%',
  '(',
  ')',
  '[',
  ']',
  '.',
  ',',
  '?',
  ':',
];
const MAX_LENGTH = 12_800;

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source.charAt(i);
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const rawString = (c === 'r' || c === 'R') && /["']/.test(source.charAt(i + 1));
    if (/[A-Za-z_]/.test(c) && !rawString) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i))?.[0] ?? c;
      tokens.push({ kind: 'ident', text: m, pos: i });
      i += m.length;
      continue;
    }
    if (/[0-9]/.test(c)) {
      const m = /^(0x[0-9a-fA-F]+|[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?)u?/.exec(source.slice(i))?.[0] ?? c;
      const text = m.endsWith('u') ? m.slice(0, -1) : m;
      const isDouble = !text.startsWith('0x') && /[.eE]/.test(text);
      tokens.push({ kind: isDouble ? 'double' : 'int', text: m, value: Number(text), pos: i });
      i += m.length;
      continue;
    }
    if (c === '"' || c === "'" || rawString) {
      const start = i;
      const raw = rawString;
      if (raw) {
        i += 1;
      }
      const quote = source.charAt(i);
      i += 1;
      let value = '';
      for (;;) {
        if (i >= source.length) {
          throw new ConditionSyntaxError('Syntax error: unterminated string literal', start + 1);
        }
        const ch = source.charAt(i);
        if (ch === quote) {
          i += 1;
          break;
        }
        if (ch === '\n') {
          throw new ConditionSyntaxError('Syntax error: newline in string literal', i + 1);
        }
        if (ch === '\\' && !raw) {
          const next = source.charAt(i + 1);
          const simple: Record<string, string> = {
            n: '\n',
            t: '\t',
            r: '\r',
            '\\': '\\',
            '"': '"',
            "'": "'",
            '`': '`',
            '?': '?',
            a: '\u0007',
            b: '\b',
            f: '\f',
            v: '\v',
          };
          const mapped = simple[next];
          if (mapped !== undefined) {
            value += mapped;
            i += 2;
            continue;
          }
          const hex = /^(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})/.exec(source.slice(i + 1))?.[0];
          if (hex !== undefined) {
            value += String.fromCodePoint(parseInt(hex.slice(1), 16));
            i += 1 + hex.length;
            continue;
          }
          throw new ConditionSyntaxError(`Syntax error: invalid escape sequence \\${next}`, i + 1);
        }
        value += ch;
        i += 1;
      }
      tokens.push({ kind: 'string', text: source.slice(start, i), value, pos: start });
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op === undefined) {
      throw new ConditionSyntaxError(`Syntax error: token recognition error at: '${c}'`, i + 1);
    }
    tokens.push({ kind: 'op', text: op, pos: i });
    i += op.length;
  }
  tokens.push({ kind: 'eof', text: '<EOF>', pos: source.length });
  return tokens;
}

class Parser {
  private at = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): Node {
    const node = this.expr();
    const next = this.peek();
    if (next.kind !== 'eof') {
      this.fail(next, `Syntax error: extraneous input '${next.text}'`);
    }
    return node;
  }

  private peek(): Token {
    return this.tokens[this.at] ?? { kind: 'eof', text: '<EOF>', pos: 0 };
  }

  private next(): Token {
    const token = this.peek();
    this.at += 1;
    return token;
  }

  private isOp(text: string): boolean {
    const token = this.peek();
    return (token.kind === 'op' || (token.kind === 'ident' && text === 'in')) && token.text === text;
  }

  private expect(text: string): void {
    const token = this.next();
    if (token.text !== text || token.kind === 'string') {
      this.fail(token, `Syntax error: mismatched input '${token.text}' expecting '${text}'`);
    }
  }

  private fail(token: Token, message: string): never {
    throw new ConditionSyntaxError(message, token.pos + 1);
  }

  private expr(): Node {
    const cond = this.or();
    if (this.isOp('?')) {
      this.next();
      const then = this.or();
      this.expect(':');
      return { k: 'ternary', cond, then, else: this.expr() };
    }
    return cond;
  }

  private or(): Node {
    let left = this.and();
    while (this.isOp('||')) {
      this.next();
      left = { k: 'binary', op: '||', left, right: this.and() };
    }
    return left;
  }

  private and(): Node {
    let left = this.relation();
    while (this.isOp('&&')) {
      this.next();
      left = { k: 'binary', op: '&&', left, right: this.relation() };
    }
    return left;
  }

  private relation(): Node {
    let left = this.addition();
    for (;;) {
      const op = ['==', '!=', '<=', '>=', '<', '>', 'in'].find((o) => this.isOp(o));
      if (op === undefined) {
        return left;
      }
      this.next();
      left = { k: 'binary', op, left, right: this.addition() };
    }
  }

  private addition(): Node {
    let left = this.multiplication();
    for (;;) {
      const op = ['+', '-'].find((o) => this.isOp(o));
      if (op === undefined) {
        return left;
      }
      this.next();
      left = { k: 'binary', op, left, right: this.multiplication() };
    }
  }

  private multiplication(): Node {
    let left = this.unary();
    for (;;) {
      const op = ['*', '/', '%'].find((o) => this.isOp(o));
      if (op === undefined) {
        return left;
      }
      this.next();
      left = { k: 'binary', op, left, right: this.unary() };
    }
  }

  private unary(): Node {
    if (this.isOp('!')) {
      this.next();
      return { k: 'unary', op: '!', operand: this.unary() };
    }
    if (this.isOp('-')) {
      this.next();
      const operand = this.unary();
      if (operand.k === 'lit' && (operand.value.t === 'int' || operand.value.t === 'double')) {
        return { k: 'lit', value: { t: operand.value.t, v: -operand.value.v } };
      }
      return { k: 'unary', op: '-', operand };
    }
    return this.member();
  }

  private member(): Node {
    let node = this.primary();
    for (;;) {
      if (this.isOp('.')) {
        this.next();
        const name = this.next();
        if (name.kind !== 'ident') {
          this.fail(name, `Syntax error: mismatched input '${name.text}' expecting IDENTIFIER`);
        }
        if (this.isOp('(')) {
          if (!METHODS.has(name.text)) {
            this.fail(name, `undeclared reference to '${name.text}' (in container '')`);
          }
          node = { k: 'call', target: node, fn: name.text, args: this.args(), pos: name.pos };
        } else {
          node = { k: 'select', operand: node, field: name.text };
        }
      } else if (this.isOp('[')) {
        this.next();
        const index = this.expr();
        this.expect(']');
        node = { k: 'index', operand: node, index };
      } else {
        return node;
      }
    }
  }

  private args(): Node[] {
    this.expect('(');
    const args: Node[] = [];
    if (this.isOp(')')) {
      this.next();
      return args;
    }
    for (;;) {
      args.push(this.expr());
      if (this.isOp(',')) {
        this.next();
        continue;
      }
      this.expect(')');
      return args;
    }
  }

  private primary(): Node {
    const token = this.next();
    switch (token.kind) {
      case 'string':
        return { k: 'lit', value: { t: 'string', v: String(token.value) } };
      case 'int':
        return { k: 'lit', value: { t: 'int', v: Number(token.value) } };
      case 'double':
        return { k: 'lit', value: { t: 'double', v: Number(token.value) } };
      case 'ident': {
        if (token.text === 'true' || token.text === 'false') {
          return { k: 'lit', value: { t: 'bool', v: token.text === 'true' } };
        }
        if (token.text === 'null') {
          return { k: 'lit', value: { t: 'null' } };
        }
        if (RESERVED.has(token.text)) {
          this.fail(token, `Syntax error: extraneous input '${token.text}'`);
        }
        if (this.isOp('(')) {
          if (!GLOBAL_FUNCTIONS.has(token.text)) {
            this.fail(token, `undeclared reference to '${token.text}' (in container '')`);
          }
          const args = this.args();
          if (token.text === 'has' && (args.length !== 1 || args[0]?.k !== 'select')) {
            this.fail(token, 'invalid argument to has() macro');
          }
          return { k: 'call', fn: token.text, args, pos: token.pos };
        }
        if (!ROOTS.has(token.text)) {
          this.fail(token, `undeclared reference to '${token.text}' (in container '')`);
        }
        return { k: 'ident', name: token.text, pos: token.pos };
      }
      case 'op':
        if (token.text === '(') {
          const inner = this.expr();
          this.expect(')');
          return inner;
        }
        if (token.text === '[') {
          const items: Node[] = [];
          if (!this.isOp(']')) {
            for (;;) {
              items.push(this.expr());
              if (!this.isOp(',')) {
                break;
              }
              this.next();
            }
          }
          this.expect(']');
          return { k: 'list', items };
        }
        return this.fail(token, `Syntax error: mismatched input '${token.text}'`);
      case 'eof':
        return this.fail(token, "Syntax error: mismatched input '<EOF>'");
    }
  }
}

/** A parsed condition: evaluate it any number of times. */
export class Condition {
  private constructor(private readonly root: Node) {}

  /** Parses `expression`; throws ConditionSyntaxError. */
  static parse(expression: string): Condition {
    if (expression.trim() === '') {
      throw new ConditionSyntaxError('Syntax error: the expression is empty', 1);
    }
    if (expression.length > MAX_LENGTH) {
      throw new ConditionSyntaxError(
        `the expression is longer than ${String(MAX_LENGTH)} characters`,
        MAX_LENGTH + 1,
      );
    }
    return new Condition(new Parser(tokenize(expression)).parse());
  }

  /** True only when the expression evaluates to boolean true; an error or a non-bool is false. */
  evaluate(context: ConditionContext): boolean {
    try {
      const value = evaluate(this.root, environment(context));
      return value.t === 'bool' && value.v;
    } catch (error) {
      if (error instanceof EvalError || error instanceof RangeError) {
        return false;
      }
      throw error;
    }
  }
}

const CACHE = new Map<string, Condition | ConditionSyntaxError>();

/** Parses with a small cache (policies are evaluated on every call). */
export function compileCondition(expression: string): Condition {
  let entry = CACHE.get(expression);
  if (entry === undefined) {
    try {
      entry = Condition.parse(expression);
    } catch (error) {
      if (!(error instanceof ConditionSyntaxError)) {
        throw error;
      }
      entry = error;
    }
    if (CACHE.size > 1000) {
      CACHE.clear();
    }
    CACHE.set(expression, entry);
  }
  if (entry instanceof ConditionSyntaxError) {
    throw entry;
  }
  return entry;
}

/** Evaluates `expression` (false when it does not parse). */
export function conditionHolds(expression: string, context: ConditionContext): boolean {
  try {
    return compileCondition(expression).evaluate(context);
  } catch (error) {
    if (error instanceof ConditionSyntaxError) {
      return false;
    }
    throw error;
  }
}

function str(v: string): Value {
  return { t: 'string', v };
}

function environment(context: ConditionContext): Map<string, Value> {
  return new Map<string, Value>([
    [
      'request',
      { t: 'map', v: new Map([['time', { t: 'timestamp', v: (context.time ?? new Date()).getTime() }]]) },
    ],
    [
      'resource',
      {
        t: 'map',
        v: new Map([
          ['name', str(context.name ?? '')],
          ['type', str(context.type ?? '')],
          ['service', str(context.service ?? '')],
        ]),
      },
    ],
  ]);
}

function fail(message: string): never {
  throw new EvalError(message);
}

function truth(value: Value): boolean {
  return value.t === 'bool' ? value.v : fail('no matching overload for a logical operator');
}

/** Runs `fn`, returning an evaluation error instead of throwing it (for `&&` and `||`). */
function attempt(fn: () => Value): Value | EvalError {
  try {
    return fn();
  } catch (error) {
    if (error instanceof EvalError) {
      return error;
    }
    if (error instanceof RangeError) {
      return new EvalError(error.message);
    }
    throw error;
  }
}

function evaluate(node: Node, env: Map<string, Value>): Value {
  switch (node.k) {
    case 'lit':
      return node.value;
    case 'ident':
      return env.get(node.name) ?? fail(`no value for '${node.name}'`);
    case 'select': {
      const operand = evaluate(node.operand, env);
      if (operand.t !== 'map') {
        return fail(`no such key: ${node.field}`);
      }
      return operand.v.get(node.field) ?? fail(`no such attribute: ${node.field}`);
    }
    case 'index': {
      const operand = evaluate(node.operand, env);
      const index = evaluate(node.index, env);
      if (operand.t === 'list' && index.t === 'int') {
        return operand.v[index.v] ?? fail('index out of range');
      }
      if (operand.t === 'map' && index.t === 'string') {
        return operand.v.get(index.v) ?? fail(`no such key: ${index.v}`);
      }
      return fail('no matching overload for index');
    }
    case 'list':
      return { t: 'list', v: node.items.map((item) => evaluate(item, env)) };
    case 'unary': {
      const operand = evaluate(node.operand, env);
      if (node.op === '!') {
        return { t: 'bool', v: !truth(operand) };
      }
      if (operand.t === 'int' || operand.t === 'double' || operand.t === 'duration') {
        return { ...operand, v: -operand.v };
      }
      return fail('no matching overload for -');
    }
    case 'ternary':
      return truth(evaluate(node.cond, env)) ? evaluate(node.then, env) : evaluate(node.else, env);
    case 'binary':
      return binary(node.op, node.left, node.right, env);
    case 'call':
      return call(node, env);
  }
}

function logical(op: '&&' | '||', left: Node, right: Node, env: Map<string, Value>): Value {
  const absorbing = op === '||';
  const l = attempt(() => evaluate(left, env));
  if (!(l instanceof EvalError) && truth(l) === absorbing) {
    return l;
  }
  const r = attempt(() => evaluate(right, env));
  if (!(r instanceof EvalError) && truth(r) === absorbing) {
    return r;
  }
  if (l instanceof EvalError) {
    throw l;
  }
  if (r instanceof EvalError) {
    throw r;
  }
  return { t: 'bool', v: !absorbing };
}

function isNumber(value: Value): value is { t: 'int' | 'double'; v: number } {
  return value.t === 'int' || value.t === 'double';
}

function equal(a: Value, b: Value): boolean {
  if (isNumber(a) && isNumber(b)) {
    return a.v === b.v;
  }
  if (a.t !== b.t) {
    return false;
  }
  switch (a.t) {
    case 'null':
      return true;
    case 'list':
      return (
        b.t === 'list' &&
        a.v.length === b.v.length &&
        a.v.every((item, i) => equal(item, b.v[i] ?? { t: 'null' }))
      );
    case 'map':
      return (
        b.t === 'map' &&
        a.v.size === b.v.size &&
        [...a.v].every(([k, v]) => {
          const other = b.v.get(k);
          return other !== undefined && equal(v, other);
        })
      );
    default:
      return 'v' in b && a.v === b.v;
  }
}

function compare(a: Value, b: Value): number {
  if (isNumber(a) && isNumber(b)) {
    return a.v - b.v;
  }
  if (a.t === 'string' && b.t === 'string') {
    return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  }
  if ((a.t === 'timestamp' && b.t === 'timestamp') || (a.t === 'duration' && b.t === 'duration')) {
    return a.v - b.v;
  }
  if (a.t === 'bool' && b.t === 'bool') {
    return Number(a.v) - Number(b.v);
  }
  return fail(`no matching overload for comparing ${a.t} and ${b.t}`);
}

function arithmetic(op: string, a: Value, b: Value): Value {
  if (a.t === 'int' && b.t === 'int') {
    const r =
      op === '+'
        ? a.v + b.v
        : op === '-'
          ? a.v - b.v
          : op === '*'
            ? a.v * b.v
            : b.v === 0
              ? fail(op === '/' ? 'divide by zero' : 'modulus by zero')
              : op === '/'
                ? Math.trunc(a.v / b.v)
                : a.v % b.v;
    return { t: 'int', v: r };
  }
  if (a.t === 'double' && b.t === 'double' && op !== '%') {
    return {
      t: 'double',
      v: op === '+' ? a.v + b.v : op === '-' ? a.v - b.v : op === '*' ? a.v * b.v : a.v / b.v,
    };
  }
  if (op === '+') {
    if (a.t === 'string' && b.t === 'string') {
      return str(a.v + b.v);
    }
    if (a.t === 'list' && b.t === 'list') {
      return { t: 'list', v: [...a.v, ...b.v] };
    }
    if (a.t === 'timestamp' && b.t === 'duration') {
      return { t: 'timestamp', v: a.v + b.v };
    }
    if (a.t === 'duration' && b.t === 'timestamp') {
      return { t: 'timestamp', v: a.v + b.v };
    }
    if (a.t === 'duration' && b.t === 'duration') {
      return { t: 'duration', v: a.v + b.v };
    }
  }
  if (op === '-') {
    if (a.t === 'timestamp' && b.t === 'timestamp') {
      return { t: 'duration', v: a.v - b.v };
    }
    if (a.t === 'timestamp' && b.t === 'duration') {
      return { t: 'timestamp', v: a.v - b.v };
    }
    if (a.t === 'duration' && b.t === 'duration') {
      return { t: 'duration', v: a.v - b.v };
    }
  }
  return fail(`no matching overload for ${a.t} ${op} ${b.t}`);
}

function binary(op: string, leftNode: Node, rightNode: Node, env: Map<string, Value>): Value {
  if (op === '&&' || op === '||') {
    return logical(op, leftNode, rightNode, env);
  }
  const a = evaluate(leftNode, env);
  const b = evaluate(rightNode, env);
  switch (op) {
    case '==':
      return { t: 'bool', v: equal(a, b) };
    case '!=':
      return { t: 'bool', v: !equal(a, b) };
    case '<':
      return { t: 'bool', v: compare(a, b) < 0 };
    case '<=':
      return { t: 'bool', v: compare(a, b) <= 0 };
    case '>':
      return { t: 'bool', v: compare(a, b) > 0 };
    case '>=':
      return { t: 'bool', v: compare(a, b) >= 0 };
    case 'in':
      if (b.t === 'list') {
        return { t: 'bool', v: b.v.some((item) => equal(a, item)) };
      }
      if (b.t === 'map' && a.t === 'string') {
        return { t: 'bool', v: b.v.has(a.v) };
      }
      return fail('no matching overload for in');
    default:
      return arithmetic(op, a, b);
  }
}

function stringArg(args: Value[], index: number): string {
  const value = args[index];
  return value?.t === 'string' ? value.v : fail('expected a string argument');
}

/** RFC 3339, as CEL's timestamp() accepts it. */
function parseTimestamp(text: string): number {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i.test(text)) {
    return fail(`invalid timestamp "${text}"`);
  }
  const ms = Date.parse(text.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? fail(`invalid timestamp "${text}"`) : ms;
}

const DURATION_UNITS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  ns: 0.000001,
};

/** Go-style durations as CEL's duration() accepts them: `3600s`, `1h30m`, `1.5h`, `-100ms`. */
function parseDuration(text: string): number {
  const match = /^([+-])?((?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|us|ns|m|s))+$/.exec(text);
  if (match === null && text !== '0') {
    return fail(`invalid duration "${text}"`);
  }
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(h|ms|us|ns|m|s)/g)) {
    total += Number(part[1]) * (DURATION_UNITS[part[2] ?? 's'] ?? 0);
  }
  return text.startsWith('-') ? -total : total;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  weekday: number;
  /** Milliseconds since the epoch of this wall-clock time read as UTC. */
  asUtc: number;
}

/** The wall clock at `ms` in `zone`: UTC, a fixed offset (`+09:00`, `-05:30`) or an IANA name. */
function wallClock(ms: number, zone: string | undefined): WallClock {
  let shifted = ms;
  if (zone !== undefined && zone !== 'UTC' && zone !== '') {
    const offset = /^([+-])(\d{2}):(\d{2})$/.exec(zone);
    if (offset !== null) {
      const minutes = Number(offset[2]) * 60 + Number(offset[3]);
      shifted = ms + (offset[1] === '-' ? -minutes : minutes) * 60_000;
    } else {
      // Throws RangeError for an unknown zone: an evaluation error.
      const parts = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      }).formatToParts(new Date(ms));
      const part = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
      shifted =
        Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second')) +
        (((ms % 1000) + 1000) % 1000);
    }
  }
  const d = new Date(shifted);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth(),
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    ms: d.getUTCMilliseconds(),
    weekday: d.getUTCDay(),
    asUtc: shifted,
  };
}

/** `{name}` placeholders as Google's extract() reads them. */
function extract(value: string, template: string): string {
  const match = /^(.*?)\{[^}]+\}(.*)$/.exec(template);
  if (match === null) {
    return fail('extract() template needs a {placeholder}');
  }
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const suffix = match[2] ?? '';
  const pattern = new RegExp(`${escape(match[1] ?? '')}(${suffix === '' ? '.*' : '.*?'})${escape(suffix)}`);
  return pattern.exec(value)?.[1] ?? '';
}

function call(node: Extract<Node, { k: 'call' }>, env: Map<string, Value>): Value {
  if (node.fn === 'has') {
    const select = node.args[0];
    if (select?.k !== 'select') {
      return fail('invalid has()');
    }
    const operand = evaluate(select.operand, env);
    return { t: 'bool', v: operand.t === 'map' && operand.v.has(select.field) };
  }
  const target = node.target === undefined ? undefined : evaluate(node.target, env);
  const args = node.args.map((arg) => evaluate(arg, env));
  if (target === undefined) {
    const first = args[0] ?? fail(`${node.fn}() needs an argument`);
    switch (node.fn) {
      case 'timestamp':
        return first.t === 'timestamp' ? first : { t: 'timestamp', v: parseTimestamp(stringArg(args, 0)) };
      case 'duration':
        return first.t === 'duration' ? first : { t: 'duration', v: parseDuration(stringArg(args, 0)) };
      case 'size':
        return size(first);
      case 'int':
        if (first.t === 'timestamp') {
          return { t: 'int', v: Math.floor(first.v / 1000) };
        }
        if (isNumber(first)) {
          return { t: 'int', v: Math.trunc(first.v) };
        }
        return first.t === 'string' && /^-?\d+$/.test(first.v)
          ? { t: 'int', v: Number(first.v) }
          : fail('bad int()');
      case 'double':
        return isNumber(first) ? { t: 'double', v: first.v } : fail('bad double()');
      case 'string':
        return first.t === 'string' ? first : isNumber(first) ? str(String(first.v)) : fail('bad string()');
      default:
        return fail(`unknown function ${node.fn}`);
    }
  }
  if (target.t === 'string') {
    switch (node.fn) {
      case 'startsWith':
        return { t: 'bool', v: target.v.startsWith(stringArg(args, 0)) };
      case 'endsWith':
        return { t: 'bool', v: target.v.endsWith(stringArg(args, 0)) };
      case 'contains':
        return { t: 'bool', v: target.v.includes(stringArg(args, 0)) };
      case 'matches':
        // RE2 syntax is close to JavaScript's for the patterns conditions use; a pattern JavaScript
        // rejects (SyntaxError) is an evaluation error.
        try {
          return { t: 'bool', v: new RegExp(stringArg(args, 0), 'u').test(target.v) };
        } catch (error) {
          return error instanceof SyntaxError ? fail('invalid regular expression') : fail(String(error));
        }
      case 'extract':
        return str(extract(target.v, stringArg(args, 0)));
      case 'size':
        return size(target);
      default:
        return fail(`no matching overload for string.${node.fn}`);
    }
  }
  if (target.t === 'timestamp') {
    const zone = args.length === 0 ? undefined : stringArg(args, 0);
    const w = wallClock(target.v, zone);
    const startOfYear = Date.UTC(w.year, 0, 1);
    const values: Record<string, number> = {
      getFullYear: w.year,
      getMonth: w.month,
      getDate: w.day,
      getDayOfMonth: w.day - 1,
      getDayOfWeek: w.weekday,
      getDayOfYear: Math.floor((w.asUtc - startOfYear) / 86_400_000),
      getHours: w.hour,
      getMinutes: w.minute,
      getSeconds: w.second,
      getMilliseconds: w.ms,
    };
    const result = values[node.fn];
    return result === undefined
      ? fail(`no matching overload for timestamp.${node.fn}`)
      : { t: 'int', v: result };
  }
  if (target.t === 'duration') {
    const units: Record<string, number> = {
      getHours: 3_600_000,
      getMinutes: 60_000,
      getSeconds: 1000,
      getMilliseconds: 1,
    };
    const unit = units[node.fn];
    return unit === undefined
      ? fail(`no matching overload for duration.${node.fn}`)
      : { t: 'int', v: Math.trunc(target.v / unit) };
  }
  if (node.fn === 'size') {
    return size(target);
  }
  return fail(`no matching overload for ${target.t}.${node.fn}`);
}

function size(value: Value): Value {
  if (value.t === 'string') {
    return { t: 'int', v: Array.from(value.v).length };
  }
  if (value.t === 'list') {
    return { t: 'int', v: value.v.length };
  }
  if (value.t === 'map') {
    return { t: 'int', v: value.v.size };
  }
  return fail('no matching overload for size');
}
