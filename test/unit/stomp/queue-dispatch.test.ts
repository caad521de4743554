// UNIT: gateway-side dispatch of a shared queue's messages (message groups, queue selectors).
import { describe, expect, it, vi } from 'vitest';
import type { Delivery } from '../../../src/fabric/types.js';
import { DispatchRegistry, QueueDispatch, type DispatchMember, type Settler } from '../../../src/protocols/stomp/queue-dispatch.js';

function delivery(headers: Record<string, string> = {}, n = 0): Delivery {
  return { body: Buffer.from(String(n)), properties: { headers }, exchange: '', routingKey: 'q', redelivered: false, deliveryTag: n, consumerTag: 'c' };
}

class Member implements DispatchMember {
  live = true;
  readonly got: Array<{ body: string; foreign: boolean }> = [];
  constructor(private readonly accept: (d: Delivery) => boolean = () => true) {}
  matches(d: Delivery): boolean {
    return this.accept(d);
  }
  deliver(d: Delivery, _s: Settler, foreign: boolean): void {
    this.got.push({ body: d.body.toString(), foreign });
  }
}

const settler = (): Settler & { nacks: boolean[] } => {
  const nacks: boolean[] = [];
  return { nacks, ack: () => undefined, nack: (r) => void nacks.push(r) };
};

describe('UNIT: queue dispatch', () => {
  it('a group sticks to its first consumer, whoever the broker hands it to', () => {
    const d = new QueueDispatch({ maxGroups: 10, requeueDelayMs: 10 }, () => undefined);
    const [a, b] = [new Member(), new Member()];
    d.join(a);
    d.join(b);
    d.route(a, delivery({ JMSXGroupID: 'g' }, 1), settler());
    d.route(b, delivery({ JMSXGroupID: 'g' }, 2), settler());
    d.route(b, delivery({}, 3), settler());
    expect(a.got).toEqual([{ body: '1', foreign: false }, { body: '2', foreign: true }]);
    expect(b.got).toEqual([{ body: '3', foreign: false }]);
  });

  it('JMSXGroupSeq -1 closes the group; leaving drops the groups a member owned', () => {
    const d = new QueueDispatch({ maxGroups: 10, requeueDelayMs: 10 }, () => undefined);
    const [a, b] = [new Member(), new Member()];
    d.join(a);
    d.join(b);
    d.route(a, delivery({ JMSXGroupID: 'g', JMSXGroupSeq: '-1' }, 1), settler());
    expect(d.groupCount).toBe(0);
    d.route(a, delivery({ JMSXGroupID: 'h' }, 2), settler());
    expect(d.groupCount).toBe(1);
    d.leave(a);
    expect(d.groupCount).toBe(0);
    d.route(b, delivery({ JMSXGroupID: 'h' }, 3), settler());
    expect(b.got.map((g) => g.body)).toEqual(['3']);
  });

  it('remembers at most maxGroups groups, forgetting the least recently used', () => {
    const d = new QueueDispatch({ maxGroups: 2, requeueDelayMs: 10 }, () => undefined);
    const [a, b] = [new Member(), new Member()];
    d.join(a);
    d.join(b);
    d.route(a, delivery({ JMSXGroupID: 'g1' }), settler());
    d.route(a, delivery({ JMSXGroupID: 'g2' }), settler());
    d.route(a, delivery({ JMSXGroupID: 'g1' }), settler()); // g1 used again: g2 is now the oldest
    d.route(b, delivery({ JMSXGroupID: 'g3' }), settler());
    expect(d.groupCount).toBe(2);
    d.route(b, delivery({ JMSXGroupID: 'g2' }, 9), settler()); // forgotten: b takes it
    expect(b.got.at(-1)).toEqual({ body: '9', foreign: false });
  });

  it('selectors: a refused message goes to a member that wants it, else back to the queue later', () => {
    vi.useFakeTimers();
    try {
      const d = new QueueDispatch({ maxGroups: 10, requeueDelayMs: 1000 }, () => undefined);
      const red = new Member((m) => m.properties.headers?.['color'] === 'red');
      const blue = new Member((m) => m.properties.headers?.['color'] === 'blue');
      d.join(red);
      d.join(blue);
      d.route(red, delivery({ color: 'blue' }, 1), settler());
      expect(blue.got).toEqual([{ body: '1', foreign: true }]);
      const s = settler();
      d.route(red, delivery({ color: 'green' }, 2), s);
      expect(s.nacks).toEqual([]);
      vi.advanceTimersByTime(1000);
      expect(s.nacks).toEqual([true]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('the registry keeps a dispatch per (vhost, queue) only while it has members', () => {
    const r = new DispatchRegistry();
    const [m1, m2, m3] = [new Member(), new Member(), new Member()];
    const d1 = r.join('/', 'q', m1);
    expect(r.join('/', 'q', m2)).toBe(d1);
    const d2 = r.join('other', 'q', m3);
    expect(d2).not.toBe(d1);
    expect(r.size).toBe(2);
    d1.leave(m1);
    expect(r.size).toBe(2);
    d1.leave(m2);
    expect(r.size).toBe(1);
    d2.leave(m3);
    expect(r.size).toBe(0);
  });
});
