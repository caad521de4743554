import { expect } from 'vitest';
import { ErrorCode, GatewayError } from '../../../src/errors.js';
import { compileSelector, type SelectorLimits } from '../../../src/protocols/shared/selector/index.js';

export type Outcome = 'T' | 'F' | 'U';

/**
 * The three-valued result of a selector, through the public API only: e is TRUE when it
 * matches, FALSE when NOT (e) matches, UNKNOWN when (e) IS NULL matches. Exactly one of the
 * three must hold; anything else is a bug and fails here.
 */
export function evaluate(selector: string, headers: Record<string, unknown>): Outcome {
  const message = { headers };
  const t = compileSelector(selector).matches(message);
  const f = compileSelector(`NOT (${selector})`).matches(message);
  const u = compileSelector(`(${selector}) IS NULL`).matches(message);
  const holds = [t, f, u].filter(Boolean).length;
  if (holds !== 1) {
    throw new Error(`${selector} on ${JSON.stringify(headers)}: TRUE=${t} FALSE=${f} UNKNOWN=${u}`);
  }
  return t ? 'T' : f ? 'F' : 'U';
}

/** The error compileSelector throws (failing the test if it does not throw one). */
export function compileError(selector: string, limits?: SelectorLimits): GatewayError {
  try {
    compileSelector(selector, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    const e = err as GatewayError;
    expect(e.code).toBe(ErrorCode.PROTOCOL);
    expect(e.message).toBe('invalid selector');
    expect(typeof e.detail).toBe('string');
    return e;
  }
  throw new Error(`expected ${JSON.stringify(selector)} to be rejected`);
}
