import { describe, expect, it } from 'vitest';
import { consumerPriority, pickIndex } from '../../../src/protocols/wamp/dealer/invoke-policy.js';
import { admits, publicationHeaders, readPublication } from '../../../src/protocols/wamp/broker/publication.js';
import { jsonSerializer } from '../../../src/protocols/wamp/serializer.js';
import type { WampPeer } from '../../../src/protocols/wamp/peer.js';

describe('UNIT: wamp shared registration policies', () => {
  it('picks by policy, in order of registration', () => {
    expect([0, 1, 2, 3].map((t) => pickIndex('roundrobin', 3, t))).toEqual([0, 1, 2, 0]);
    expect(pickIndex('first', 3, 7)).toBe(0);
    expect(pickIndex('single', 1, 7)).toBe(0);
    expect(pickIndex('last', 3, 7)).toBe(2);
    expect(pickIndex('roundrobin', 0, 1)).toBeUndefined();
    const random = new Set(Array.from({ length: 200 }, (_, t) => pickIndex('random', 3, t)));
    expect(random).toEqual(new Set([0, 1, 2]));
  });

  it('first prefers the earlier registration, last the later one (consumer priority)', () => {
    const earlier = Date.UTC(2026, 0, 1);
    const later = earlier + 60_000;
    expect(consumerPriority('first', earlier)!).toBeGreaterThan(consumerPriority('first', later)!);
    expect(consumerPriority('last', later)!).toBeGreaterThan(consumerPriority('last', earlier)!);
    expect(Math.abs(consumerPriority('last', later)!)).toBeLessThan(2 ** 31);
    expect(consumerPriority('roundrobin')).toBeUndefined();
  });
});

describe('UNIT: wamp publication headers', () => {
  const peer = (sessionId: number, authid = 'bob', authrole = 'user') =>
    ({ sessionId, authid, authrole, serializer: jsonSerializer }) as unknown as WampPeer;

  it('round-trips through AMQP headers and applies the lists', () => {
    const publisher = peer(1);
    const headers = publicationHeaders(publisher, 99, { exclude: [5], eligible_authrole: ['user'], disclose_me: true });
    const facts = readPublication(headers);
    expect(facts.publicationId).toBe(99);
    expect(facts.publisher).toEqual({ session: 1, authid: 'bob', authrole: 'user' });
    expect(admits(facts.audience, peer(1))).toBe(false); // exclude_me by default
    expect(admits(facts.audience, peer(5))).toBe(false); // excluded
    expect(admits(facts.audience, peer(6, 'eve', 'anonymous'))).toBe(false); // not an eligible role
    expect(admits(facts.audience, peer(7))).toBe(true);
  });

  it('reads what other AMQP clients hand back: 64-bit numbers as strings, longstr as bytes', () => {
    const facts = readPublication({ 'x-wamp-publication': '12345678901234', 'x-wamp-exclude': ['3'], 'x-wamp-disclose': true, 'x-wamp-publisher': 4, 'x-wamp-publisher-authid': Buffer.from('amy') });
    expect(facts.publicationId).toBe(12345678901234);
    expect(facts.publisher?.authid).toBe('amy');
    expect(admits(facts.audience, peer(3))).toBe(false);
    expect(readPublication(undefined)).toEqual({ publicationId: null, publisher: null, audience: {} });
  });
});
