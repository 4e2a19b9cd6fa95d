/**
 * Compute Engine's `filter` list parameter, evaluated on the resources as the API returns them.
 *
 * Google accepts two forms that cannot be mixed:
 * - regular expressions: `name eq web-.*`, `(name ne .*-old) (status eq RUNNING)`; the literal (bare,
 *   'single' or "double" quoted, RE2 syntax) must match the whole field. This is what gcloud sends:
 *   `--filter='name:web status=RUNNING'` becomes `(name eq ".*\bweb\b.*")(status eq "RUNNING")`;
 * - AIP-160: `name = "web-*"`, `name != a`, `cpus > 2`, `name:web` (substring), `labels.env:*` (the
 *   key is set), nested fields, parentheses, `AND`, `OR` (binds tighter than AND), `NOT` or `-`, and
 *   juxtaposed terms meaning AND. `*` in an `=` / `!=` string is a wildcard.
 * An array field matches when any element does. Anything else is Google's 400 "Invalid list filter
 * expression".
 */
import { InvalidArgument } from '../../core/errors.ts';

type Wire = Record<string, unknown>;
export type ItemFilter = (item: Wire) => boolean;

const OPERATORS = ['!=', '<=', '>=', '=', '<', '>', ':'] as const;
type Operator = (typeof OPERATORS)[number];

function invalid(filter: string): InvalidArgument {
  return new InvalidArgument(
    `Invalid value for field 'filter': '${filter}'. Invalid list filter expression.`,
    { reason: 'invalid' },
  );
}

/** The values at a dotted path; arrays on the way are flattened (a match on any element counts). */
function valuesAt(item: unknown, path: string[]): unknown[] {
  let values: unknown[] = [item];
  for (const key of path) {
    const next: unknown[] = [];
    for (const value of values) {
      const list = Array.isArray(value) ? (value as unknown[]) : [value];
      for (const entry of list) {
        if (entry !== null && typeof entry === 'object' && !Array.isArray(entry) && key in entry) {
          next.push((entry as Wire)[key]);
        }
      }
    }
    values = next;
  }
  return values.flatMap((value) => (Array.isArray(value) ? (value as unknown[]) : [value]));
}

function scalar(value: unknown): string | undefined {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : undefined;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`, 's');
}

const NUMBER = /^-?\d+(\.\d+)?$/;

function compare(value: unknown, op: Operator, arg: string): boolean {
  if (op === ':' && value !== null && typeof value === 'object') {
    return arg in value;
  }
  const text = scalar(value);
  if (text === undefined) {
    return false;
  }
  const numeric = typeof value === 'number' && NUMBER.test(arg);
  switch (op) {
    case ':':
      return typeof value === 'string' ? text.includes(arg) : text === arg;
    case '=':
    case '!=':
      return numeric ? Number(text) === Number(arg) : wildcard(arg).test(text);
    default: {
      const order = numeric ? Number(text) - Number(arg) : text < arg ? -1 : text > arg ? 1 : 0;
      return op === '<' ? order < 0 : op === '<=' ? order <= 0 : op === '>' ? order > 0 : order >= 0;
    }
  }
}

// --- regular-expression form -----------------------------------------------------------------

const FIELD = '[A-Za-z_][\\w]*(?:\\.[\\w]+)*';
const REGEX_SINGLE = new RegExp(`^\\s*(${FIELD})\\s+(eq|ne)\\s+(.+?)\\s*$`, 's');
const REGEX_GROUP = new RegExp(
  `\\(\\s*(${FIELD})\\s+(eq|ne)\\s+("(?:[^"\\\\]|\\\\.)*"|'(?:[^'\\\\]|\\\\.)*'|[^)]*?)\\s*\\)`,
  'gs',
);

/** The pattern of a literal: quotes dropped, `\"` unescaped; other escapes are the pattern's (`\b`, `\-`). */
function unquote(literal: string): string {
  const first = literal[0];
  if (literal.length >= 2 && (first === '"' || first === "'") && literal.endsWith(first)) {
    return literal.slice(1, -1).replaceAll(`\\${first}`, first);
  }
  return literal;
}

function regexClause(filter: string, field: string, op: string, literal: string): ItemFilter {
  let pattern: RegExp;
  // RE2's leading `(?i)` (case-insensitive) is JavaScript's `i` flag.
  const source = unquote(literal);
  const insensitive = source.startsWith('(?i)');
  try {
    pattern = new RegExp(`^(?:${insensitive ? source.slice(4) : source})$`, insensitive ? 'is' : 's');
  } catch {
    throw invalid(filter);
  }
  const path = field.split('.');
  return (item) => {
    const found = valuesAt(item, path).some((v) => {
      const text = scalar(v);
      return text !== undefined && pattern.test(text);
    });
    return op === 'eq' ? found : !found;
  };
}

function regexForm(filter: string): ItemFilter | undefined {
  const trimmed = filter.trim();
  if (!trimmed.startsWith('(')) {
    const single = REGEX_SINGLE.exec(trimmed);
    return single === null
      ? undefined
      : regexClause(filter, single[1] ?? '', single[2] ?? '', single[3] ?? '');
  }
  const clauses: ItemFilter[] = [];
  let rest = trimmed;
  for (const match of trimmed.matchAll(REGEX_GROUP)) {
    clauses.push(regexClause(filter, match[1] ?? '', match[2] ?? '', match[3] ?? ''));
    rest = rest.replace(match[0], '');
  }
  if (clauses.length === 0) {
    return undefined;
  }
  // gcloud writes AND as `(a)(b)` and nests it: `((a)(b))(c)`; only parentheses may be left.
  if (!/^[\s()]*$/.test(rest)) {
    throw invalid(filter);
  }
  return (item) => clauses.every((clause) => clause(item));
}

// --- AIP-160 form ----------------------------------------------------------------------------

type Token =
  { kind: 'open' | 'close' } | { kind: 'op'; op: Operator } | { kind: 'text'; text: string; quoted: boolean };

function tokenize(filter: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < filter.length) {
    const c = filter[at] ?? '';
    if (/\s/.test(c)) {
      at++;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: c === '(' ? 'open' : 'close' });
      at++;
    } else if (c === '"' || c === "'") {
      let text = '';
      at++;
      for (;;) {
        const d = filter[at];
        if (d === undefined) {
          throw invalid(filter);
        }
        at++;
        if (d === c) {
          break;
        }
        text += d === '\\' ? (filter[at++] ?? '') : d;
      }
      tokens.push({ kind: 'text', text, quoted: true });
    } else {
      const op = OPERATORS.find((o) => filter.startsWith(o, at));
      if (op !== undefined) {
        tokens.push({ kind: 'op', op });
        at += op.length;
        continue;
      }
      const word = /^[^\s()"'=!<>:]+/.exec(filter.slice(at))?.[0];
      if (word === undefined) {
        throw invalid(filter);
      }
      tokens.push({ kind: 'text', text: word, quoted: false });
      at += word.length;
    }
  }
  return tokens;
}

class Parser {
  private at = 0;
  constructor(
    private readonly filter: string,
    private readonly tokens: Token[],
  ) {}

  parse(): ItemFilter {
    const result = this.expression();
    if (this.at !== this.tokens.length) {
      throw invalid(this.filter);
    }
    return result;
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private isWord(word: string): boolean {
    const token = this.peek();
    return token?.kind === 'text' && !token.quoted && token.text === word;
  }

  /** sequence { AND sequence } */
  private expression(): ItemFilter {
    const parts = [this.sequence()];
    while (this.isWord('AND')) {
      this.at++;
      parts.push(this.sequence());
    }
    return (item) => parts.every((part) => part(item));
  }

  /** factor { factor }: juxtaposition is AND. */
  private sequence(): ItemFilter {
    const parts = [this.factor()];
    for (;;) {
      const token = this.peek();
      if (token === undefined || token.kind === 'close' || this.isWord('AND')) {
        break;
      }
      parts.push(this.factor());
    }
    return (item) => parts.every((part) => part(item));
  }

  /** term { OR term } */
  private factor(): ItemFilter {
    const parts = [this.term()];
    while (this.isWord('OR')) {
      this.at++;
      parts.push(this.term());
    }
    return (item) => parts.some((part) => part(item));
  }

  private term(): ItemFilter {
    const token = this.peek();
    if (this.isWord('NOT')) {
      this.at++;
      const inner = this.simple();
      return (item) => !inner(item);
    }
    if (token?.kind === 'text' && !token.quoted && token.text.startsWith('-') && token.text.length > 1) {
      this.tokens[this.at] = { kind: 'text', text: token.text.slice(1), quoted: false };
      const inner = this.simple();
      return (item) => !inner(item);
    }
    return this.simple();
  }

  private simple(): ItemFilter {
    const token = this.peek();
    if (token?.kind === 'open') {
      this.at++;
      const inner = this.expression();
      if (this.peek()?.kind !== 'close') {
        throw invalid(this.filter);
      }
      this.at++;
      return inner;
    }
    const op = this.tokens[this.at + 1];
    const arg = this.tokens[this.at + 2];
    if (
      token?.kind !== 'text' ||
      token.quoted ||
      !new RegExp(`^${FIELD}$`).test(token.text) ||
      op?.kind !== 'op' ||
      arg?.kind !== 'text'
    ) {
      throw invalid(this.filter);
    }
    this.at += 3;
    const path = token.text.split('.');
    if (op.op === ':' && arg.text === '*' && !arg.quoted) {
      return (item) => valuesAt(item, path).length > 0;
    }
    if (op.op === '!=') {
      return (item) => !valuesAt(item, path).some((v) => compare(v, '=', arg.text));
    }
    return (item) => valuesAt(item, path).some((v) => compare(v, op.op, arg.text));
  }
}

/** The filter's predicate on a returned resource, or undefined when there is no filter. */
export function compileFilter(filter: string | undefined): ItemFilter | undefined {
  if (filter === undefined || filter.trim() === '') {
    return undefined;
  }
  return regexForm(filter) ?? new Parser(filter, tokenize(filter)).parse();
}
