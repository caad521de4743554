import { describe, expect, it } from 'vitest';
import { randomId, SessionScopeIds } from '../../../src/protocols/wamp/ids.js';
import { MAX_ID } from '../../../src/protocols/wamp/messages.js';

describe('UNIT: wamp ids', () => {
  it('random IDs are integers in [1, 2^53], spread over the whole range, across pool refills', () => {
    const seen = new Set<number>();
    let high = 0;
    for (let i = 0; i < 5000; i++) {
      const id = randomId();
      expect(Number.isSafeInteger(id) || id === MAX_ID).toBe(true);
      expect(id).toBeGreaterThanOrEqual(1);
      expect(id).toBeLessThanOrEqual(MAX_ID);
      if (id > MAX_ID / 2) high++;
      seen.add(id);
    }
    expect(seen.size).toBe(5000);
    expect(high).toBeGreaterThan(2000); // about half land in the upper half
    expect(high).toBeLessThan(3000);
  });

  it('session-scope IDs count up from 1', () => {
    const ids = new SessionScopeIds();
    expect([ids.next(), ids.next(), ids.next()]).toEqual([1, 2, 3]);
  });
});
