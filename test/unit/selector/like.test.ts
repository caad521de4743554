// UNIT: the LIKE matcher — agrees with a regex reference on small inputs, and stays linear on
// inputs that make backtracking regex engines explode.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileLike } from '../../../src/protocols/shared/selector/like.js';
import { compileSelector } from '../../../src/protocols/shared/selector/index.js';

const RUNS = Number(process.env.SELECTOR_FUZZ_RUNS ?? 400);

/** ActiveMQ's LikeExpression rules, as a regex (fine for tiny inputs only). */
function reference(pattern: string, escape: string | undefined): RegExp {
  const chars = [...pattern];
  let body = '';
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i] as string;
    const next = chars[i + 1];
    if (escape !== undefined && ch === escape && (next === '%' || next === '_' || next === escape)) {
      ch = next;
      i++;
      body += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      continue;
    }
    if (ch === '%') body += '.*';
    else if (ch === '_') body += '.';
    else body += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${body}$`, 'su');
}

describe('selector - LIKE matcher', () => {
  it('agrees with a regex reference on generated patterns and values', () => {
    const pattern = fc.string({ unit: fc.constantFrom('a', 'b', '%', '_', '.', '*', '!', '😀'), maxLength: 8 });
    const value = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '!', '%', '_', '😀', '\n'), maxLength: 10 });
    fc.assert(
      fc.property(pattern, fc.option(fc.constantFrom('!', 'a', '%', '😀'), { nil: undefined }), fc.array(value, { maxLength: 6 }),
        (p, esc, values) => {
          const match = compileLike(p, esc);
          const re = reference(p, esc);
          for (const v of values) expect(match(v), `${p} ESCAPE ${esc} on ${v}`).toBe(re.test(v));
        }),
      { numRuns: RUNS * 5 },
    );
  });

  it('treats a surrogate pair as one character for _, at either end and in the middle', () => {
    const pattern = fc.string({ unit: fc.constantFrom('a', '%', '_', '😀'), maxLength: 6 });
    const value = fc.string({ unit: fc.constantFrom('a', '😀'), maxLength: 6 });
    fc.assert(
      fc.property(pattern, fc.array(value, { minLength: 1, maxLength: 8 }), (p, values) => {
        const match = compileLike(p, undefined);
        const re = reference(p, undefined);
        for (const v of values) expect(match(v), `${p} on ${v}`).toBe(re.test(v));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('matches patterns found inside the value with the value built around them', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 }), (pre, mid, post) => {
        const literal = mid.replaceAll('!', '!!').replaceAll('%', '!%').replaceAll('_', '!_');
        expect(compileLike(`%${literal}%`, '!')(pre + mid + post)).toBe(true);
        expect(compileLike(`${literal}%`, '!')(mid + post)).toBe(true);
        expect(compileLike(`%${literal}`, '!')(pre + mid)).toBe(true);
        expect(compileLike(literal, '!')(mid)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('stays fast on inputs that make backtracking matchers blow up', () => {
    const big = 'a'.repeat(200_000);
    const cases: [string, boolean][] = [
      ['%a%a%a%a%a%a%a%a%a%a%a%a%b', false],
      [`${'%a'.repeat(100)}%`, true],
      ['%a_a_a_a_a_a_a_a_a_a_b%', false],
      [`%${'_'.repeat(200)}b`, false],
      [`a${'%_'.repeat(100)}`, true],
      ['%aaaaaaaaaaaaaaaaaaaaaaab%', false],
    ];
    for (const [pattern, expected] of cases) {
      const started = performance.now();
      const selector = compileSelector(`x LIKE '${pattern}'`);
      expect(selector.matches({ headers: { x: big } }), pattern).toBe(expected);
      // a backtracking matcher takes minutes to forever here; we take milliseconds
      expect(performance.now() - started, pattern).toBeLessThan(1500);
    }
  });
});
