import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Code, MAX_ID, out, parseMessage } from '../../../src/protocols/wamp/messages.js';
import { jsonSerializer, msgpackSerializer } from '../../../src/protocols/wamp/serializer.js';
import { wampAnyValue, wampNearMessage } from '../../support/fuzz-arbitraries.js';

// UNIT: every message a client may send, as written on the wire, → the parsed shape
const valid: Array<{ name: string; wire: unknown[]; parsed: Record<string, unknown> }> = [
  { name: 'HELLO', wire: [1, 'realm1', { roles: { subscriber: {} } }], parsed: { type: 'HELLO', realm: 'realm1', details: { roles: { subscriber: {} } } } },
  { name: 'AUTHENTICATE', wire: [5, 'sig', {}], parsed: { type: 'AUTHENTICATE', signature: 'sig', extra: {} } },
  { name: 'ABORT', wire: [3, {}, 'wamp.error.cannot_authenticate'], parsed: { type: 'ABORT', details: {}, reason: 'wamp.error.cannot_authenticate' } },
  { name: 'GOODBYE', wire: [6, { message: 'bye' }, 'wamp.close.close_realm'], parsed: { type: 'GOODBYE', details: { message: 'bye' }, reason: 'wamp.close.close_realm' } },
  { name: 'ERROR for INVOCATION', wire: [8, 68, 7, {}, 'app.error', ['x'], { k: 1 }], parsed: { type: 'ERROR', requestType: 68, requestId: 7, details: {}, error: 'app.error', args: ['x'], kwargs: { k: 1 } } },
  { name: 'PUBLISH bare', wire: [16, 1, {}, 'a.b'], parsed: { type: 'PUBLISH', requestId: 1, options: {}, topic: 'a.b' } },
  { name: 'PUBLISH args', wire: [16, 2, { acknowledge: true }, 'a.b', [1, 2]], parsed: { type: 'PUBLISH', requestId: 2, options: { acknowledge: true }, topic: 'a.b', args: [1, 2] } },
  { name: 'PUBLISH args+kwargs', wire: [16, MAX_ID, {}, 'a.b', [], { x: null }], parsed: { type: 'PUBLISH', requestId: MAX_ID, options: {}, topic: 'a.b', args: [], kwargs: { x: null } } },
  { name: 'SUBSCRIBE', wire: [32, 3, { match: 'prefix' }, 'a'], parsed: { type: 'SUBSCRIBE', requestId: 3, options: { match: 'prefix' }, topic: 'a' } },
  { name: 'UNSUBSCRIBE', wire: [34, 4, 99], parsed: { type: 'UNSUBSCRIBE', requestId: 4, subscriptionId: 99 } },
  { name: 'CALL', wire: [48, 5, {}, 'com.add', [1, 2]], parsed: { type: 'CALL', requestId: 5, options: {}, procedure: 'com.add', args: [1, 2] } },
  { name: 'CANCEL', wire: [49, 5, { mode: 'kill' }], parsed: { type: 'CANCEL', requestId: 5, options: { mode: 'kill' } } },
  { name: 'REGISTER', wire: [64, 6, {}, 'com.add'], parsed: { type: 'REGISTER', requestId: 6, options: {}, procedure: 'com.add' } },
  { name: 'UNREGISTER', wire: [66, 7, 12], parsed: { type: 'UNREGISTER', requestId: 7, registrationId: 12 } },
  { name: 'YIELD', wire: [70, 8, { progress: true }, [3]], parsed: { type: 'YIELD', requestId: 8, options: { progress: true }, args: [3] } },
];

const invalid: Array<{ name: string; wire: unknown; reason: RegExp }> = [
  { name: 'not an array', wire: { 0: 1 }, reason: /non-empty array/ },
  { name: 'empty array', wire: [], reason: /non-empty array/ },
  { name: 'string code', wire: ['1', 'realm1', {}], reason: /integer/ },
  { name: 'unknown code', wire: [99, 1], reason: /not accepted/ },
  { name: 'router-to-client WELCOME', wire: [2, 1, {}], reason: /not accepted/ },
  { name: 'router-to-client EVENT', wire: [36, 1, 1, {}], reason: /not accepted/ },
  { name: 'HELLO without details', wire: [1, 'realm1'], reason: /3 elements/ },
  { name: 'HELLO realm not a string', wire: [1, 5, {}], reason: /Realm/ },
  { name: 'HELLO details an array', wire: [1, 'r', []], reason: /Details/ },
  { name: 'PUBLISH id zero', wire: [16, 0, {}, 'a'], reason: /Request/ },
  { name: 'PUBLISH id above 2^53', wire: [16, MAX_ID + 2, {}, 'a'], reason: /Request/ },
  { name: 'PUBLISH id fractional', wire: [16, 1.5, {}, 'a'], reason: /Request/ },
  { name: 'PUBLISH args not a list', wire: [16, 1, {}, 'a', { x: 1 }], reason: /Arguments must be a list/ },
  { name: 'PUBLISH kwargs not a dict', wire: [16, 1, {}, 'a', [], [1]], reason: /ArgumentsKw/ },
  { name: 'PUBLISH too long', wire: [16, 1, {}, 'a', [], {}, 'extra'], reason: /4 to 6/ },
  { name: 'SUBSCRIBE with args', wire: [32, 1, {}, 'a', []], reason: /4 elements/ },
  { name: 'options null', wire: [48, 1, null, 'p'], reason: /Options/ },
  { name: 'options a Buffer', wire: [48, 1, Buffer.from('x'), 'p'], reason: /Options/ },
];

describe('UNIT: wamp messages - parse', () => {
  it.each(valid)('parses $name', ({ wire, parsed }) => {
    expect(parseMessage(wire)).toEqual({ ok: true, message: parsed });
  });

  it.each(valid)('parses $name after a JSON and a MessagePack round trip', ({ wire, parsed }) => {
    for (const s of [jsonSerializer, msgpackSerializer]) {
      const encoded = s.encode(wire);
      const decoded = s.decode(Buffer.from(encoded));
      expect(decoded.ok).toBe(true);
      if (decoded.ok) expect(parseMessage(decoded.value)).toEqual({ ok: true, message: parsed });
    }
  });

  it.each(invalid)('refuses $name', ({ wire, reason }) => {
    const result = parseMessage(wire);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe('UNIT: wamp messages - build', () => {
  it('omits empty payloads and keeps args when kwargs follow', () => {
    expect(out.event(1, 2, {}, {})).toEqual([Code.EVENT, 1, 2, {}]);
    expect(out.event(1, 2, {}, { args: [] })).toEqual([Code.EVENT, 1, 2, {}]);
    expect(out.event(1, 2, {}, { args: [1] })).toEqual([Code.EVENT, 1, 2, {}, [1]]);
    expect(out.event(1, 2, {}, { kwargs: { a: 1 } })).toEqual([Code.EVENT, 1, 2, {}, [], { a: 1 }]);
    expect(out.result(3, { progress: true }, { args: ['x'], kwargs: {} })).toEqual([Code.RESULT, 3, { progress: true }, ['x']]);
    expect(out.error(Code.CALL, 4, 'wamp.error.canceled')).toEqual([Code.ERROR, 48, 4, {}, 'wamp.error.canceled']);
  });
});

// Fuzz: arbitrary values and arbitrary bytes never throw; they parse or are refused.
describe('UNIT: wamp messages - fuzz', () => {
  const anyValue = wampAnyValue;
  const nearMessage = wampNearMessage;

  it('parseMessage never throws on any value', () => {
    fc.assert(fc.property(fc.oneof(anyValue, nearMessage), (value) => {
      const r = parseMessage(value);
      expect(typeof r.ok).toBe('boolean');
    }), { numRuns: 3000 });
  });

  it('decode + parse never throws on any bytes, for both serializers', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
      for (const s of [jsonSerializer, msgpackSerializer]) {
        const d = s.decode(Buffer.from(bytes));
        if (d.ok) parseMessage(d.value);
      }
    }), { numRuns: 3000 });
  });

  it('a parsed message survives encode → decode → parse unchanged', () => {
    fc.assert(fc.property(nearMessage, (value) => {
      const first = parseMessage(value);
      if (!first.ok) return;
      for (const s of [jsonSerializer, msgpackSerializer]) {
        const d = s.decode(Buffer.from(s.encode(value as unknown[])));
        expect(d.ok && parseMessage(d.value).ok).toBe(true);
      }
    }), { numRuns: 2000 });
  });
});

import { randomId } from '../../../src/protocols/wamp/ids.js';
describe('UNIT: wamp ids', () => {
  it('random IDs are in [1, 2^53] and differ', () => {
    const ids = Array.from({ length: 1000 }, randomId);
    for (const id of ids) expect(id >= 1 && id <= MAX_ID && Number.isInteger(id)).toBe(true);
    expect(new Set(ids).size).toBe(1000);
  });
});
