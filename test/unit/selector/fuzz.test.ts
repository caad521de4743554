// UNIT: selector properties with fast-check — robustness on arbitrary input, a differential test
// against an independent reference evaluator, NOT/UNKNOWN, and literal round trips.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, GatewayError } from '../../../src/errors.js';
import { compileSelector } from '../../../src/protocols/shared/selector/index.js';
import { evaluate, type Outcome } from './support.js';

const RUNS = Number(process.env.SELECTOR_FUZZ_RUNS ?? 400);

// ---- arbitrary input --------------------------------------------------------------------------

const TOKENS = [
  'a', 'b', 'JMSPriority', 'JMSType', 'NOT', 'AND', 'OR', 'BETWEEN', 'LIKE', 'ESCAPE', 'IN', 'IS', 'NULL',
  'TRUE', 'FALSE', 'not', 'and', '=', '<>', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', '(', ')', ',',
  "'x'", "'%'", "'_'", "'!'", "''", "'", '1', '0', '-1', '1.5', '.5', '1e3', '0x1F', '010', '9223372036854775807',
  '9223372036854775808', '12abc', '!=', '"', '.', '#', '\u0000', 'é', '😀', ' ', '\n',
];

const soup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map((t) => t.join(' '));
const tightSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 30 }).map((t) => t.join(''));
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
  soup,
  tightSoup,
);

const headerValue = fc.oneof(
  fc.constantFrom('1', '1.5', 'x', '', 'true', 'FALSE', '1e400', '-0', '9223372036854775808'),
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.bigInt(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant({ toString: 'boom' }),
);
const headers = fc.dictionary(
  fc.constantFrom('a', 'b', 'priority', 'type', 'persistent', 'timestamp', 'constructor', '__proto__'),
  headerValue,
);

describe('selector - arbitrary input', () => {
  it('compileSelector returns a Selector or throws GatewayError(PROTOCOL) with a detail, quickly', () => {
    fc.assert(
      fc.property(anyText, fc.array(headers, { maxLength: 4 }), (text, messages) => {
        const started = performance.now();
        let selector;
        try {
          selector = compileSelector(text);
        } catch (err) {
          if (!(err instanceof GatewayError)) throw err;
          expect(err.code).toBe(ErrorCode.PROTOCOL);
          expect(err.message).toBe('invalid selector');
          expect(err.detail).toMatch(/at column \d+|selector too long/);
        }
        if (selector !== undefined) {
          for (const h of messages) expect(typeof selector.matches({ headers: h })).toBe('boolean');
        }
        expect(performance.now() - started).toBeLessThan(1000); // generous: shared CI cores
      }),
      { numRuns: RUNS * 5 },
    );
  });
});

// ---- differential test against a reference evaluator --------------------------------------------

type Headers = Record<string, string>;
type Ref = (h: Headers) => Outcome;
interface Expr { text: string; ref: Ref }

const IDS = ['a', 'b', 'c'] as const;
const VALUES = ['1', '2', '10', '1.5', '-1', '0', 'x', '', 'true', 'FALSE', '1e1', '01', ' 1'];
const NUMS = ['0', '1', '2', '10', '1.5', '-1', '1e1'];
const STRS = ['1', 'x', '', 'true', '1.5', "it's"];
const PATTERNS = ['%', 'x%', '_', '1%', '%1', '', '%.%', '1_', '_._', '%0'];

// an implementation independent of values.ts: regex number syntax, plain JS numbers
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
function num(v: string): number | undefined {
  return NUMERIC.test(v) ? Number(v) : undefined;
}
const not3 = (o: Outcome): Outcome => (o === 'U' ? 'U' : o === 'T' ? 'F' : 'T');
const tri = (b: boolean): Outcome => (b ? 'T' : 'F');
function likeRegex(p: string): RegExp {
  const body = [...p]
    .map((ch) => (ch === '%' ? '[\\s\\S]*' : ch === '_' ? '[\\s\\S]' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 'u');
}
const sq = (s: string) => `'${s.replaceAll("'", "''")}'`;

const id = fc.constantFrom(...IDS);
const atom: fc.Arbitrary<Expr> = fc.oneof(
  fc.tuple(id, fc.constantFrom('=', '<>', '<', '<=', '>', '>='), fc.constantFrom(...NUMS)).map(([i, op, n]) => ({
    text: `${i} ${op} ${n}`,
    ref: (h: Headers) => {
      const v = h[i];
      if (v === undefined) return 'U';
      const x = num(v);
      const y = Number(n);
      if (x === undefined) return op === '<>' ? 'T' : 'F';
      const r = { '=': x === y, '<>': x !== y, '<': x < y, '<=': x <= y, '>': x > y, '>=': x >= y }[op];
      return tri(r as boolean);
    },
  })),
  fc.tuple(id, fc.constantFrom('=', '<>'), fc.constantFrom(...STRS)).map(([i, op, s]) => ({
    text: `${i} ${op} ${sq(s)}`,
    ref: (h: Headers) => {
      const v = h[i];
      if (v === undefined) return 'U';
      return tri((v === s) === (op === '='));
    },
  })),
  fc.tuple(id, fc.boolean()).map(([i, neg]) => ({
    text: `${i} IS ${neg ? 'NOT ' : ''}NULL`,
    ref: (h: Headers) => tri((h[i] === undefined) !== neg),
  })),
  fc.tuple(id, fc.boolean(), fc.constantFrom(...NUMS), fc.constantFrom(...NUMS)).map(([i, neg, lo, hi]) => ({
    text: `${i} ${neg ? 'NOT ' : ''}BETWEEN ${lo} AND ${hi}`,
    ref: (h: Headers) => {
      const v = h[i];
      if (v === undefined) return 'U';
      const x = num(v);
      if (x === undefined) return 'F';
      return tri(neg ? x < Number(lo) || x > Number(hi) : x >= Number(lo) && x <= Number(hi));
    },
  })),
  fc.tuple(id, fc.boolean(), fc.uniqueArray(fc.constantFrom(...STRS), { minLength: 1, maxLength: 4 })).map(
    ([i, neg, list]) => ({
      text: `${i} ${neg ? 'NOT ' : ''}IN (${list.map(sq).join(', ')})`,
      ref: (h: Headers) => {
        const v = h[i];
        if (v === undefined) return 'U';
        return tri(list.includes(v) !== neg);
      },
    }),
  ),
  fc.tuple(id, fc.boolean(), fc.constantFrom(...PATTERNS)).map(([i, neg, p]) => ({
    text: `${i} ${neg ? 'NOT ' : ''}LIKE ${sq(p)}`,
    ref: (h: Headers) => {
      const v = h[i];
      if (v === undefined) return 'U';
      return tri(likeRegex(p).test(v) !== neg);
    },
  })),
  fc.tuple(id, fc.constantFrom('+', '-', '*'), fc.constantFrom('1', '2', '0.5'), fc.constantFrom('>', '=', '<'),
    fc.constantFrom(...NUMS)).map(([i, aop, k, op, n]) => ({
    text: `${i} ${aop} ${k} ${op} ${n}`,
    ref: (h: Headers) => {
      const v = h[i];
      if (v === undefined) return 'U';
      const x = num(v);
      if (x === undefined) return 'U'; // arithmetic on a non-number is NULL
      const y = aop === '+' ? x + Number(k) : aop === '-' ? x - Number(k) : x * Number(k);
      return tri(op === '>' ? y > Number(n) : op === '<' ? y < Number(n) : y === Number(n));
    },
  })),
  id.map((i) => ({
    text: i,
    ref: (h: Headers) => {
      const v = h[i];
      if (v === undefined) return 'U';
      return tri(v.toLowerCase() === 'true');
    },
  })),
  fc.constantFrom<Expr>(
    { text: 'TRUE', ref: () => 'T' },
    { text: 'FALSE', ref: () => 'F' },
  ),
);

const expr: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    atom,
    tie('e').map((a) => ({ text: `NOT (${a.text})`, ref: (h: Headers) => not3(a.ref(h)) })),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => ({
      text: `(${a.text}) AND (${b.text})`,
      ref: (h: Headers) => {
        const x = a.ref(h);
        const y = b.ref(h);
        return x === 'F' || y === 'F' ? 'F' : x === 'U' || y === 'U' ? 'U' : 'T';
      },
    })),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => ({
      text: `(${a.text}) OR (${b.text})`,
      ref: (h: Headers) => {
        const x = a.ref(h);
        const y = b.ref(h);
        return x === 'T' || y === 'T' ? 'T' : x === 'U' || y === 'U' ? 'U' : 'F';
      },
    })),
  ),
})).e;

const message = fc.record(
  { a: fc.constantFrom(...VALUES), b: fc.constantFrom(...VALUES), c: fc.constantFrom(...VALUES) },
  { requiredKeys: [] },
) as fc.Arbitrary<Headers>;

describe('selector - generated valid expressions', () => {
  it('evaluate exactly as the reference evaluator (TRUE/FALSE/UNKNOWN)', () => {
    fc.assert(
      fc.property(expr, message, (e, h) => {
        expect(evaluate(e.text, h), e.text).toBe(e.ref(h));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('NOT (e) matches exactly when e evaluates FALSE, never when it is UNKNOWN', () => {
    fc.assert(
      fc.property(expr, message, (e, h) => {
        const outcome = e.ref(h);
        expect(compileSelector(`NOT (${e.text})`).matches({ headers: h })).toBe(outcome === 'F');
        expect(compileSelector(e.text).matches({ headers: h })).toBe(outcome === 'T');
      }),
      { numRuns: RUNS },
    );
  });

  it('parentheses are redundant around AND/OR chains of one operator (flattening is sound)', () => {
    fc.assert(
      fc.property(fc.array(expr, { minLength: 2, maxLength: 5 }), fc.constantFrom('AND', 'OR'), message, (es, op, h) => {
        const flat = es.map((e) => `(${e.text})`).join(` ${op} `);
        const nested = es.slice(1).reduce((acc, e) => `(${acc}) ${op} (${e.text})`, `(${(es[0] as Expr).text})`);
        expect(evaluate(flat, h)).toBe(evaluate(nested, h));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- literal round trips ------------------------------------------------------------------------

describe('selector - literals', () => {
  it('any string survives quoting as a string literal', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), (s, t) => {
        expect(compileSelector(`x = ${sq(s)}`).matches({ headers: { x: s } })).toBe(true);
        expect(compileSelector(`x IN (${sq(t)}, ${sq(s)})`).matches({ headers: { x: s } })).toBe(true);
        expect(compileSelector(`x = ${sq(s)}`).matches({ headers: { x: t } })).toBe(s === t);
      }),
      { numRuns: RUNS },
    );
  });

  it('any long is an exact literal, compared exactly with string headers', () => {
    const long = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    fc.assert(
      fc.property(long, long, (n, m) => {
        expect(compileSelector(`x = ${n}`).matches({ headers: { x: String(n) } })).toBe(true);
        expect(compileSelector(`x = ${n}`).matches({ headers: { x: String(m) } })).toBe(n === m);
        expect(compileSelector(`x < ${n}`).matches({ headers: { x: String(m) } })).toBe(m < n);
      }),
      { numRuns: RUNS },
    );
  });

  it('any finite double is an approximate literal, compared with string headers', () => {
    const dbl = fc.double({ noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(dbl, dbl, (d, e) => {
        expect(compileSelector(`x = ${d}`).matches({ headers: { x: String(d) } })).toBe(true);
        expect(compileSelector(`x > ${d}`).matches({ headers: { x: String(e) } })).toBe(e > d);
        expect(compileSelector(`x >= ${e} AND x <= ${e}`).matches({ headers: { x: String(d) } })).toBe(d === e);
      }),
      { numRuns: RUNS },
    );
  });
});
