import { describe, expect, it } from 'vitest';
import { consumerPriority, pickIndex } from '../../../src/protocols/wamp/dealer/invoke-policy.js';
import { admits, publicationHeaders, readPublication } from '../../../src/protocols/wamp/broker/publication.js';
import { jsonSerializer } from '../../../src/protocols/wamp/serializer.js';
import type { WampPeer } from '../../../src/protocols/wamp/peer.js';
import type { Headers } from '../../../src/fabric/types.js';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// amqplib's own field-table codec (not in its exports): the headers after a trip through the broker
const require = createRequire(import.meta.url);
const { decodeFields, encodeTable } = require(join(dirname(require.resolve('amqplib')), 'lib', 'codec.js')) as {
  encodeTable(buffer: Buffer, value: unknown, offset: number): number;
  decodeFields(slice: Buffer): Headers;
};

function throughAmqp(headers: Headers): Headers {
  const buffer = Buffer.alloc(4096);
  const size = encodeTable(buffer, headers, 0);
  return decodeFields(buffer.subarray(4, size));
}

/** how the previous version read x-wamp-exclude: only the list on the message, nothing else */
function excludedByPreviousVersion(headers: Headers, sessionId: number): boolean {
  const list = headers['x-wamp-exclude'];
  return Array.isArray(list) && list.map(Number).includes(sessionId);
}

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

  it('writes x-wamp-exclude only when it says more than "not the publisher"', () => {
    const publisher = peer(1);
    expect(publicationHeaders(publisher, 99, {})).toEqual({ 'x-wamp-publication': 99, 'x-wamp-publisher': 1 });
    expect(publicationHeaders(publisher, 99, { exclude_me: true, exclude: [] })).not.toHaveProperty('x-wamp-exclude');
    expect(publicationHeaders(publisher, 99, { exclude_me: false })['x-wamp-exclude']).toEqual([]);
    expect(publicationHeaders(publisher, 99, { exclude: [5] })['x-wamp-exclude']).toEqual([5, 1]);
    expect(publicationHeaders(publisher, 99, { exclude: [5], exclude_me: false })['x-wamp-exclude']).toEqual([5]);
  });

  it('exclude_me and exclude lists survive the AMQP field table, with or without the header', () => {
    const cases: Array<{ options: Record<string, unknown>; admitted: number[] }> = [
      { options: {}, admitted: [5, 7] },
      { options: { exclude_me: false }, admitted: [1, 5, 7] },
      { options: { exclude: [5] }, admitted: [7] },
      { options: { exclude: [5], exclude_me: false }, admitted: [1, 7] },
    ];
    for (const { options, admitted } of cases) {
      const facts = readPublication(throughAmqp(publicationHeaders(peer(1), 99, options)));
      expect([1, 5, 7].filter((id) => admits(facts.audience, peer(id))), JSON.stringify(options)).toEqual(admitted);
    }
  });

  it('mixed versions during a rolling upgrade hand out the same events', () => {
    // The previous version always wrote the list: [publisher] by default, nothing for
    // exclude_me=false without a list. Read by this version, its messages exclude the same
    // sessions, except that exclude_me=false without a list now excludes the publisher, which
    // lives in the writing (old) process and so is never among a newer reader's sessions.
    const old = (publisher: number, exclude: number[] | undefined): Headers => ({
      'x-wamp-publication': 99, 'x-wamp-publisher': publisher, ...(exclude === undefined ? {} : { 'x-wamp-exclude': exclude }),
    });
    const other = peer(42); // a session of the reading process: never the publisher
    expect(admits(readPublication(throughAmqp(old(1, [1]))).audience, peer(1))).toBe(false);
    expect(admits(readPublication(throughAmqp(old(1, [1]))).audience, other)).toBe(true);
    expect(admits(readPublication(throughAmqp(old(1, undefined))).audience, other)).toBe(true);
    expect(admits(readPublication(throughAmqp(old(1, [1, 42]))).audience, other)).toBe(false);
    // This version's messages read by the previous version: nothing excluded but the list; the
    // publisher (missing from the default message's list) is not among an old reader's sessions.
    const fresh = throughAmqp(publicationHeaders(peer(1), 99, {}));
    expect(excludedByPreviousVersion(fresh, 42)).toBe(false);
    expect(excludedByPreviousVersion(throughAmqp(publicationHeaders(peer(1), 99, { exclude: [42] })), 42)).toBe(true);
    expect(excludedByPreviousVersion(throughAmqp(publicationHeaders(peer(1), 99, { exclude_me: false })), 42)).toBe(false);
  });
});
