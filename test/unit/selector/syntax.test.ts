// UNIT: selector syntax and type errors (code, message, detail with column) and limits.
import { describe, expect, it } from 'vitest';
import {
  compileSelector, DEFAULT_SELECTOR_LIMITS, MAX_SELECTOR_DEPTH,
} from '../../../src/protocols/shared/selector/index.js';
import { compileError } from './support.js';

const errors: [selector: string, detail: RegExp][] = [
  // tokens
  ["a = 'x", /^unterminated string literal starting at column 5$/],
  ["a = 'it''s", /^unterminated string literal starting at column 5$/],
  ['a = "x"', /^unexpected character '"' at column 5 \(string literals use single quotes\)$/],
  ['a != 1', /^unexpected '!=' at column 3 \(use '<>'\)$/],
  ['a # 1', /^unexpected character "#" at column 3$/],
  ['a.b = 1', /^unexpected character "\." at column 2$/],
  ['a = 1\u0000', /^unexpected character "\\u0000" at column 6$/],
  ['12abc = 1', /^invalid numeric literal "12a" at column 1$/],
  ['a = 1.5L', /^invalid numeric literal "1.5L" at column 5$/],
  ['a = 09', /^invalid octal literal "09" at column 5$/],
  ['a = 1e', /^invalid exponent in numeric literal at column 5$/],
  ['a = 1e+', /^invalid exponent in numeric literal at column 5$/],
  ['a = 0x', /^invalid hexadecimal literal at column 5$/],
  ['a = 0xZ', /^invalid hexadecimal literal at column 5$/],
  ['a = 0x8000000000000000', /^hexadecimal literal out of range for a long at column 5$/],
  ['a = 01000000000000000000000', /^octal literal out of range for a long at column 5$/],
  // structure
  ['a =', /^unexpected end of selector at column 4: expected an operand$/],
  ['a == 1', /^unexpected '=' at column 4: expected an operand$/],
  ['(a = 1', /^expected '\)' at column 7 to close the '\(' from column 1, found end of selector$/],
  ['a = 1)', /^unexpected '\)' at column 6$/],
  ['a = 1 b = 2', /^unexpected identifier "b" at column 7$/],
  ["a = 1 'x\ny'", /^unexpected string "x\\ny" at column 7$/],
  ['a = 1 AND', /^unexpected end of selector at column 10: expected an operand$/],
  ['AND = 1', /^unexpected AND at column 1: expected an operand$/],
  ['NOT', /^unexpected end of selector at column 4: expected an operand$/],
  ['a NOT 1', /^unexpected NOT at column 3$/],
  ['()', /^unexpected '\)' at column 2: expected an operand$/],
  ['a = 1 = 2', /^comparisons do not chain: unexpected '=' at column 7 \(add parentheses\)$/],
  ['a < b < c', /^comparisons do not chain: unexpected '<' at column 7/],
  ['a = 1 IS NULL', /^comparisons do not chain: unexpected IS at column 7/],
  ["a LIKE 'x' NOT IN ('y')", /^comparisons do not chain: unexpected NOT at column 12/],
  ['a BETWEEN 1 2', /^expected AND at column 13 in BETWEEN, found number 2$/],
  ['a BETWEEN 1', /^expected AND at column 12 in BETWEEN, found end of selector$/],
  ['a IS 1', /^expected NULL at column 6 after IS, found number 1$/],
  ['a IS NOT TRUE', /^expected NULL at column 10 after IS NOT, found TRUE$/],
  ["a IN 'x'", /^expected '\(' at column 6 after IN, found string "x"$/],
  ['a IN ()', /^expected a string literal at column 7 in the IN list, found '\)'$/],
  ['a IN (1, 2)', /^expected a string literal at column 7 in the IN list, found number 1$/],
  ["a IN ('x',)", /^expected a string literal at column 11 in the IN list, found '\)'$/],
  ["a IN ('x' 'y')", /^expected '\)' at column 11 to close the IN list, found string "y"$/],
  ['a LIKE 5', /^expected a string literal at column 8 after LIKE, found number 5$/],
  ['a LIKE b', /^expected a string literal at column 8 after LIKE, found identifier "b"$/],
  ["a LIKE 'x' ESCAPE 'ab'", /^ESCAPE must be exactly one character at column 19, found "ab"$/],
  ["a LIKE 'x' ESCAPE ''", /^ESCAPE must be exactly one character at column 19, found ""$/],
  ["a LIKE 'x' ESCAPE", /^expected a string literal at column 18 after ESCAPE, found end of selector$/],
  // static types (as ActiveMQ checks them at parse time)
  ['1 + 1', /^the selector must be a boolean expression, not a number at column 1$/],
  ["'abc'", /^the selector must be a boolean expression, not a string at column 1$/],
  ['NULL', /^the selector must be a boolean expression, not NULL at column 1$/],
  ['a AND 1', /^an operand of AND must be a boolean expression, not a number at column 7$/],
  ["'x' OR a", /^an operand of OR must be a boolean expression, not a string at column 1$/],
  ['NOT 5', /^the operand of NOT must be a boolean expression, not a number at column 5$/],
  ["a > 'x'", /^'>' takes numbers, not a string at column 5$/],
  ['TRUE < 1', /^'<' takes numbers, not a boolean at column 1$/],
  ['(a = 1) >= 1', /^'>=' takes numbers, not a boolean at column 2$/],
  ["a + 'x' = 1", /^'\+' takes numbers, not a string at column 5$/],
  ["-'x' = 1", /^unary '-' takes numbers, not a string at column 2$/],
  ['a = NULL', /^NULL cannot be an operand of '=' at column 5 \(use IS \[NOT\] NULL\)$/],
  ['NULL <> a', /^NULL cannot be an operand of '<>' at column 1/],
  ['a + NULL = 1', /^NULL cannot be an operand of '\+' at column 5/],
  ['a BETWEEN NULL AND 2', /^NULL cannot be an operand of BETWEEN at column 11/],
  ["a BETWEEN 'a' AND 'z'", /^BETWEEN takes numbers, not a string at column 11$/],
  ["1 IN ('a')", /^IN needs an identifier on its left at column 1$/],
  ["a + 1 IN ('a')", /^IN needs an identifier on its left at column 1$/],
  ["1 LIKE 'a'", /^LIKE takes a string, not a number at column 1$/],
  ["(a = 1) LIKE 'a'", /^LIKE takes a string, not a boolean at column 2$/],
];

describe('selector - syntax errors', () => {
  it.each(errors)('%s', (selector, detail) => {
    const err = compileError(selector);
    expect(err.detail).toMatch(detail);
  });

  it('accepts the forms right next to the rejected ones', () => {
    for (const ok of [
      "a = 'it''s'", 'a <> 1', 'a = 1.5', 'a = 0', 'a = 00', 'a = 0x1fL', 'a = 1e+5', 'a = 9223372036854775807',
      'a = -9223372036854775808', 'a = 1 AND b = 2', '(a = 1) = TRUE', "a LIKE 'x' ESCAPE '!'",
      "a LIKE 'x' ESCAPE '😀'", 'a IS NOT NULL', 'NULL IS NULL', "a IN ('x')", 'a NOT BETWEEN 1 AND 2',
      'NOT a', 'a', "'x' = a", '(a + 1) IS NULL', 'a = -(-(1))',
    ]) {
      expect(() => compileSelector(ok), ok).not.toThrow();
    }
  });
});

describe('selector - limits', () => {
  it('rejects text longer than maxLength (default 4096) before parsing it', () => {
    const long = `a = '${'x'.repeat(DEFAULT_SELECTOR_LIMITS.maxLength)}'`;
    expect(compileError(long).detail).toBe(`selector too long: ${long.length} characters (limit 4096)`);
    expect(() => compileSelector(long, { maxLength: long.length })).not.toThrow();
    expect(compileError('a = 1 AND b = 2', { maxLength: 10 }).detail).toBe(
      'selector too long: 15 characters (limit 10)',
    );
    // even text that would be a syntax error is only measured
    expect(compileError(')'.repeat(20), { maxLength: 10 }).detail).toMatch(/^selector too long/);
  });

  it('rejects nesting deeper than maxDepth (default 64)', () => {
    const nest = (n: number) => `${'('.repeat(n)}a = 1${')'.repeat(n)}`;
    expect(() => compileSelector(nest(60))).not.toThrow();
    expect(compileError(nest(70)).detail).toMatch(/^selector nested too deeply at column \d+ \(limit 64\)$/);
    expect(() => compileSelector(nest(70), { maxDepth: 100 })).not.toThrow();
    expect(compileError(`${'NOT '.repeat(70)}a`).detail).toMatch(/nested too deeply/);
    expect(compileError(`${'- '.repeat(70)}1 = 1`).detail).toMatch(/nested too deeply/);
    expect(compileError(`a${' + 1'.repeat(70)} > 0`).detail).toMatch(/nested too deeply/); // tree height
    expect(() => compileSelector(`a${' + 1'.repeat(50)} > 0`)).not.toThrow();
  });

  it('never overflows the stack, whatever the limits', () => {
    const deep = 200_000;
    const limits = { maxLength: 10_000_000, maxDepth: 1e9 };
    expect(compileError(`${'('.repeat(deep)}a = 1${')'.repeat(deep)}`, limits).detail).toMatch(
      `(limit ${MAX_SELECTOR_DEPTH})`,
    );
    expect(compileError(`${'NOT '.repeat(deep)}a`, limits).detail).toMatch(/nested too deeply/);
    expect(compileError(`a${' * 2'.repeat(deep)} > 0`, limits).detail).toMatch(/nested too deeply/);
    expect(compileError(`${'-'.repeat(deep)}1 = 1`, limits).detail).toMatch(/nested too deeply/);
  });

  it('flattens long AND/OR chains, so they cost no depth', () => {
    const terms = Array.from({ length: 2000 }, (_, i) => `h${i} = '${i}'`);
    const headers = Object.fromEntries(terms.map((_, i) => [`h${i}`, String(i)]));
    const and = compileSelector(terms.join(' AND '), { maxLength: 100_000 });
    expect(and.matches({ headers })).toBe(true);
    expect(and.matches({ headers: { ...headers, h1999: 'x' } })).toBe(false);
    const or = compileSelector(terms.join(' OR '), { maxLength: 100_000 });
    expect(or.matches({ headers: { h1999: '1999' } })).toBe(true);
    expect(or.matches({ headers: {} })).toBe(false);
  });

  it('bounds IN lists (default 1024 items)', () => {
    const list = (n: number) => `a IN (${Array.from({ length: n }, (_, i) => `'v${i}'`).join(', ')})`;
    expect(compileSelector(list(1024), { maxLength: 100_000 }).matches({ headers: { a: 'v1023' } })).toBe(true);
    expect(compileError(list(1025), { maxLength: 100_000 }).detail).toMatch(
      /^IN list too long at column \d+ \(limit 1024 items\)$/,
    );
    expect(compileError(list(4), { maxInList: 3 }).detail).toMatch(/limit 3 items/);
  });

  it('bounds LIKE patterns (default 256 characters)', () => {
    const like = (n: number) => `a LIKE '${'%'.repeat(n)}'`;
    expect(() => compileSelector(like(256))).not.toThrow();
    expect(compileError(like(257)).detail).toBe('LIKE pattern too long at column 8 (257 characters, limit 256)');
    expect(compileError(like(11), { maxLikePattern: 10 }).detail).toMatch(/limit 10\)$/);
  });

  it('clamps limits: a non-finite one means the default, one below 1 means 1', () => {
    expect(compileError('a = 1', { maxLength: 0 }).detail).toMatch(/limit 1\)/);
    expect(() => compileSelector('a = 1', { maxLength: Number.NaN, maxDepth: -5 })).toThrow(/invalid selector/);
    expect(() => compileSelector('a = 1', { maxLength: Number.NaN })).not.toThrow();
  });

  it('rejects a non-string selector', () => {
    expect(compileError(42 as unknown as string).detail).toBe('selector must be a string');
  });
});
