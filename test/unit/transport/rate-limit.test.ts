// The connection-rate token bucket and the admission that uses it, on a fake clock.
import { describe, expect, it } from 'vitest';
import { ConnectionAdmission } from '../../../src/transport/admission.js';
import { ConnectionRateLimiter } from '../../../src/transport/rate-limit.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => { now += ms; } };
}

function takes(limiter: ConnectionRateLimiter, address: string, n: number): number {
  let admitted = 0;
  for (let i = 0; i < n; i++) if (limiter.take(address)) admitted++;
  return admitted;
}

describe('transport - connection rate limiter', () => {
  it('admits a burst of `rate` connections, then `rate` per second, refilling continuously', () => {
    const c = clock();
    const limiter = new ConnectionRateLimiter(5, c.now);
    expect(takes(limiter, '10.0.0.1', 8)).toBe(5);
    c.advance(199);
    expect(limiter.take('10.0.0.1')).toBe(false);
    c.advance(1);
    expect(limiter.take('10.0.0.1')).toBe(true);
    expect(limiter.take('10.0.0.1')).toBe(false);
    c.advance(10_000);
    expect(takes(limiter, '10.0.0.1', 8)).toBe(5);
  });

  it('refused attempts do not drain the bucket further (a client that keeps knocking gets in at the rate)', () => {
    const c = clock();
    const limiter = new ConnectionRateLimiter(2, c.now);
    expect(takes(limiter, 'a', 2)).toBe(2);
    let admitted = 0;
    for (let ms = 0; ms < 3_000; ms += 10) {
      c.advance(10);
      if (limiter.take('a')) admitted++;
    }
    expect(admitted).toBe(6);
  });

  it('addresses have their own buckets', () => {
    const limiter = new ConnectionRateLimiter(3, clock().now);
    expect(takes(limiter, '10.0.0.1', 10)).toBe(3);
    expect(takes(limiter, '10.0.0.2', 10)).toBe(3);
    expect(takes(limiter, '::1', 10)).toBe(3);
  });

  it('rate 0 is no limit and tracks nothing', () => {
    const limiter = new ConnectionRateLimiter(0, clock().now);
    expect(takes(limiter, 'a', 10_000)).toBe(10_000);
    expect(limiter.enabled).toBe(false);
    expect(limiter.trackedAddresses).toBe(0);
  });

  it('the table is bounded: refilled buckets are forgotten, and past maxTracked the oldest address goes', () => {
    const c = clock();
    const limiter = new ConnectionRateLimiter(10, c.now, 100);
    for (let i = 0; i < 1_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.trackedAddresses).toBe(100);
    c.advance(1_000);
    for (let i = 0; i < 100; i++) limiter.take('10.9.9.9');
    // one full bucket is dropped per call, so 100 calls after a full refill empty the table of old entries
    expect(limiter.trackedAddresses).toBe(1);
  });
});

describe('transport - admission with a connection rate', () => {
  it('knock() spends a token and says why; count limits come first and spend none', () => {
    const c = clock();
    const admission = new ConnectionAdmission({ maxConnections: 10, maxConnectionsPerAddress: 1, maxConnectionRatePerAddress: 2 }, c.now);
    expect(admission.knock('a')).toBeUndefined();
    const held = admission.admit('a');
    expect(held.admitted).toBe(true);
    expect(admission.knock('a')).toMatchObject({ kind: 'max_per_address' });
    if (held.admitted) held.release();
    expect(admission.knock('a')).toBeUndefined();
    expect(admission.knock('a')).toEqual({ kind: 'rate', reason: 'more than 2 new connections per second from a' });
    c.advance(500);
    expect(admission.knock('a')).toBeUndefined();
    admission.close('stopping');
    expect(admission.knock('b')).toEqual({ kind: 'shutdown', reason: 'stopping' });
  });
});
