// The error catalog (fastify's errors.test.js idea): codes unique and well formed, each with text.
import { describe, expect, it } from 'vitest';
import { ErrorCode, ErrorText, GatewayError, isGatewayError, toGatewayError } from '../../src/errors.js';

const codes = Object.values(ErrorCode);

describe('errors - catalog', () => {
  it('every code is unique and named GW_ERR_<KEY>', () => {
    expect(new Set(codes).size).toBe(codes.length);
    for (const [key, code] of Object.entries(ErrorCode)) expect(code).toBe(`GW_ERR_${key}`);
  });

  it('every code has a short, client-safe text, and no text exists without a code', () => {
    for (const code of codes) {
      expect(ErrorText[code], code).toMatch(/^[a-z][a-z ]+$/);
      expect(ErrorText[code].length, code).toBeLessThanOrEqual(40);
    }
    expect(Object.keys(ErrorText).sort()).toEqual([...codes].sort());
  });
});

describe('errors - GatewayError', () => {
  it('defaults its message to the catalog text, and is not fatal unless said', () => {
    const err = new GatewayError(ErrorCode.NOT_FOUND);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'GatewayError', code: 'GW_ERR_NOT_FOUND', message: 'not found', fatal: false, detail: undefined });
  });

  it('keeps detail, fatal and a private cause', () => {
    const cause = new Error('socket hang up');
    const err = new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, 'broker gone', { detail: 'retry later', fatal: true, cause });
    expect(err).toMatchObject({ message: 'broker gone', detail: 'retry later', fatal: true });
    expect(err.cause).toBe(cause);
    expect(new GatewayError(ErrorCode.PROTOCOL, 'x')).not.toHaveProperty('cause');
  });

  it('isGatewayError checks the class and, when given, the code', () => {
    const err = new GatewayError(ErrorCode.CONFIG, 'bad');
    expect(isGatewayError(err)).toBe(true);
    expect(isGatewayError(err, ErrorCode.CONFIG)).toBe(true);
    expect(isGatewayError(err, ErrorCode.PROTOCOL)).toBe(false);
    expect(isGatewayError(new Error('bad'))).toBe(false);
    expect(isGatewayError({ code: ErrorCode.CONFIG })).toBe(false);
  });

  it('toGatewayError passes GatewayErrors through and wraps anything else as INTERNAL, keeping it as cause', () => {
    const own = new GatewayError(ErrorCode.SLOW_CONSUMER);
    expect(toGatewayError(own)).toBe(own);
    const thrown = new TypeError('undefined is not a function');
    const wrapped = toGatewayError(thrown);
    expect(wrapped).toMatchObject({ code: ErrorCode.INTERNAL, message: 'internal error' });
    expect(wrapped.cause).toBe(thrown);
    expect(wrapped.message).not.toContain('undefined is not a function');
    expect(toGatewayError('a string').code).toBe(ErrorCode.INTERNAL);
  });
});
