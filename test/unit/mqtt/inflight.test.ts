import { describe, expect, it } from 'vitest';
import { AwaitingRelease, OrderedAcks, OutboundInflight } from '../../../src/protocols/mqtt/inflight.js';

describe('mqtt inflight - outbound window', () => {
  it('hands out free packet ids up to the window and settles on PUBACK / PUBREC+PUBCOMP only', () => {
    const w = new OutboundInflight(2);
    const done: string[] = [];
    const a = w.start(1, () => done.push('a'));
    const b = w.start(2, () => done.push('b'));
    expect([a?.packetId, b?.packetId]).toEqual([1, 2]);
    expect(w.start(1, () => done.push('c'))).toBeUndefined();
    expect(w.pubcomp(2)).toBe(false); // PUBCOMP before PUBREC: not this stage
    expect(w.pubrec(2, false)).toBe(true);
    expect(done).toEqual([]);
    expect(w.pubcomp(2)).toBe(true);
    expect(w.puback(1)).toBe(true);
    expect(w.puback(1)).toBe(false);
    expect(done).toEqual(['b', 'a']);
  });

  it('skips ids still in flight when the counter wraps', () => {
    const w = new OutboundInflight(3);
    const first = w.start(1, () => undefined)!;
    for (let i = 0; i < 65534; i++) {
      const f = w.start(1, () => undefined)!;
      w.puback(f.packetId);
    }
    const next = w.start(1, () => undefined)!;
    expect(next.packetId).not.toBe(first.packetId);
  });
});

describe('mqtt inflight - inbound', () => {
  it('sends acknowledgements in PUBLISH order even when confirms come back out of order', async () => {
    const acks = new OrderedAcks();
    const sent: number[] = [];
    let release1!: (v: number) => void;
    const slow = new Promise<number>((r) => (release1 = r));
    acks.push(slow, () => sent.push(1));
    acks.push(Promise.resolve(0), () => sent.push(2));
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual([]);
    expect(acks.pending).toBe(2);
    release1(0);
    await acks.drained();
    expect(sent).toEqual([1, 2]);
    expect(acks.pending).toBe(0);
  });

  it('remembers QoS 2 ids until PUBREL, up to its limit', () => {
    const r = new AwaitingRelease(2);
    r.add(5, Promise.resolve(0));
    r.add(6, Promise.resolve(0));
    expect(r.full).toBe(true);
    expect(r.get(5)).toBeDefined();
    expect(r.release(5)).toBe(true);
    expect(r.release(5)).toBe(false);
    expect(r.full).toBe(false);
  });
});
