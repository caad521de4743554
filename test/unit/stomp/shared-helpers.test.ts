// UNIT: the protocol-neutral helpers in src/protocols/shared/ that STOMP, MQTT and WAMP share.
import { describe, expect, it, vi } from 'vitest';
import { EmbeddedFabric } from '../../../src/fabric/embedded/index.js';
import { createMetrics } from '../../../src/metrics.js';
import { AuthorizationCache } from '../../../src/protocols/shared/authorization-cache.js';
import { BatchedWriter } from '../../../src/protocols/shared/batched-writer.js';
import { ConfirmedPublisher } from '../../../src/protocols/shared/confirmed-publisher.js';
import { startDeadline } from '../../../src/protocols/shared/deadline.js';
import { Heartbeat } from '../../../src/protocols/shared/heartbeat.js';
import { ReaderThrottle } from '../../../src/protocols/shared/reader-throttle.js';
import { SerialQueue } from '../../../src/protocols/shared/serial-queue.js';
import { declareTopicQueue, durableQueueName } from '../../../src/protocols/shared/topic-subscription.js';
import { negotiateHeartbeat, negotiateVersion } from '../../../src/protocols/stomp/negotiation.js';

function recordingLink() {
  const calls: string[] = [];
  return { calls, pauseReading: () => void calls.push('pause'), resumeReading: () => void calls.push('resume') };
}

describe('UNIT: SerialQueue', () => {
  it('handles one item at a time, in order, pausing above the high-water mark', async () => {
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new SerialQueue<number>({
      handle: async (n) => {
        log.push(`start ${n}`);
        if (n === 1) await gate;
        log.push(`end ${n}`);
      },
      onError: () => undefined,
      highWater: 2,
      onHigh: () => log.push('high'),
      onLow: () => log.push('low'),
    });
    for (const n of [1, 2, 3, 4]) q.push(n);
    expect(log).toEqual(['start 1', 'high']);
    release();
    await vi.waitFor(() => expect(log.at(-1)).toBe('low'));
    expect(log).toEqual(['start 1', 'high', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3', 'start 4', 'end 4', 'low']);
  });

  it('stops at the first handler error and drops the rest', async () => {
    const handled: number[] = [];
    const errors: unknown[] = [];
    const q = new SerialQueue<number>({
      handle: async (n) => {
        handled.push(n);
        if (n === 2) throw new Error('boom');
      },
      onError: (err) => errors.push(err),
      highWater: 10,
      onHigh: () => undefined,
      onLow: () => undefined,
    });
    for (const n of [1, 2, 3]) q.push(n);
    await vi.waitFor(() => expect(errors).toHaveLength(1));
    q.push(4);
    await new Promise((r) => setImmediate(r));
    expect(handled).toEqual([1, 2]);
  });
});

describe('UNIT: BatchedWriter', () => {
  function fakeLink(acceptUpTo: number) {
    const sent: string[] = [];
    const drains: Array<() => void> = [];
    return {
      sent,
      drains,
      closed: false,
      pendingBytes: 0,
      send(data: Buffer | string) {
        sent.push(data.toString());
        return sent.join('').length <= acceptUpTo;
      },
      onDrain(fn: () => void) {
        drains.push(fn);
      },
    };
  }

  it('one send per loop turn, in order; afterFlush runs once the batch reached the link', async () => {
    const link = fakeLink(1000);
    const w = new BatchedWriter(link, 8);
    const flushed: string[] = [];
    w.write(Buffer.from('abc'), () => flushed.push('abc'));
    w.write(Buffer.from('de'));
    expect(link.sent).toEqual([]);
    expect(flushed).toEqual([]);
    w.write(Buffer.from('fgh')); // 8 bytes waiting: sent at once
    expect(link.sent).toEqual(['abcdefgh']);
    expect(flushed).toEqual(['abc']);
    w.write(Buffer.from('i'));
    await new Promise((r) => setImmediate(r));
    expect(link.sent).toEqual(['abcdefgh', 'i']);
  });

  it('when the link is backed up, afterFlush waits for the drain', () => {
    const link = fakeLink(3);
    const w = new BatchedWriter(link);
    let acked = false;
    w.write(Buffer.from('12345'), () => (acked = true));
    w.flush();
    expect(w.congested).toBe(true);
    expect(acked).toBe(false);
    for (const d of link.drains.splice(0)) d();
    expect(acked).toBe(true);
    expect(w.congested).toBe(false);
    w.write(Buffer.from('lost'), () => (acked = false));
    w.discard();
    expect(link.sent).toEqual(['12345']);
    expect(acked).toBe(true);
  });

  it('backlogBytes counts what waits for the turn and what the link has not flushed', () => {
    const link = fakeLink(1000);
    const w = new BatchedWriter(link);
    w.write(Buffer.from('abcd'));
    expect(w.backlogBytes).toBe(4);
    link.pendingBytes = 10;
    expect(w.backlogBytes).toBe(14);
    w.flush();
    expect(w.backlogBytes).toBe(10);
    w.discard();
  });
});

describe('UNIT: ReaderThrottle', () => {
  it('pauses while any reason holds and resumes when none does', () => {
    const link = recordingLink();
    const t = new ReaderThrottle(link);
    t.block('queue');
    t.block('connect');
    t.unblock('queue');
    expect(t.paused).toBe(true);
    t.unblock('connect');
    t.unblock('connect');
    expect(link.calls).toEqual(['pause', 'resume']);
  });

  it('after a publish, waits for the fabric to become writable', () => {
    const link = recordingLink();
    const t = new ReaderThrottle(link);
    const listeners: Array<() => void> = [];
    const session = { writable: false, onWritable: (l: () => void) => (listeners.push(l), () => listeners.splice(listeners.indexOf(l), 1)) };
    t.afterPublish(session);
    t.afterPublish(session);
    expect(link.calls).toEqual(['pause']);
    expect(listeners).toHaveLength(1);
    session.writable = true;
    listeners[0]!();
    expect(link.calls).toEqual(['pause', 'resume']);
    expect(listeners).toHaveLength(0);
    t.afterPublish(session);
    expect(link.calls).toEqual(['pause', 'resume']);
  });
});

describe('UNIT: ConfirmedPublisher', () => {
  it('counts, bounds and orders publishes on a real fabric session', async () => {
    const fabric = new EmbeddedFabric();
    await fabric.start();
    const session = fabric.openSession({ vhost: '/' });
    await session.declareQueue('q', {});
    const metrics = createMetrics({ defaultMetrics: false });
    const p = new ConfirmedPublisher(session, metrics, 'stomp', 2);
    const msg = { body: Buffer.from('x'), properties: {} };
    const a = p.publish('', 'q', msg, { confirm: true });
    void p.publish('', 'q', msg);
    expect(p.outstanding).toBe(2);
    let roomy = false;
    const room = p.roomAvailable().then(() => (roomy = true));
    expect(roomy).toBe(false);
    await a;
    await room;
    await p.settled();
    expect(p.outstanding).toBe(0);
    expect((await metrics.messagesReceived.get()).values[0]?.value).toBe(2);
    expect((await metrics.messagesConfirmed.get()).values[0]?.value).toBe(1);
    await expect(p.publish('no-such-exchange', 'k', msg, { confirm: true })).rejects.toMatchObject({ code: expect.stringMatching(/^GW_ERR_/) });
    await p.settled();
    expect(p.outstanding).toBe(0);
    await fabric.close();
  });
});

describe('UNIT: ConfirmedPublisher and an unwritable fabric', () => {
  it('roomAvailable waits while the fabric session is not writable', async () => {
    const listeners = new Set<() => void>();
    const session = {
      writable: false,
      onWritable: (l: () => void) => (listeners.add(l), () => void listeners.delete(l)),
      publish: async () => undefined,
    };
    const p = new ConfirmedPublisher(session, createMetrics({ defaultMetrics: false }), 'stomp');
    let room = false;
    const waiting = p.roomAvailable().then(() => (room = true));
    await new Promise((r) => setImmediate(r));
    expect(room).toBe(false);
    session.writable = true;
    for (const l of [...listeners]) l();
    await waiting;
    expect(room).toBe(true);
    expect(listeners.size).toBe(0);
  });
});

describe('UNIT: topic subscription queues', () => {
  it('transient queues are exclusive and bound; durable ones are named stably', async () => {
    const fabric = new EmbeddedFabric();
    await fabric.start();
    const s = fabric.openSession({ vhost: '/' });
    const q = await declareTopicQueue(s, { exchange: 'amq.topic', routingKey: 'a.*', prefix: 'p-' });
    expect(q).toMatch(/^p-/);
    const name = durableQueueName('p-', '/topic/a', 'id1');
    expect(durableQueueName('p-', '/topic/a', 'id1')).toBe(name);
    expect(durableQueueName('p-', '/topic/a', 'id2')).not.toBe(name);
    expect(await declareTopicQueue(s, { exchange: 'amq.topic', routingKey: 'a.#', prefix: 'p-', durableName: name })).toBe(name);
    await s.publish('amq.topic', 'a.b', { body: Buffer.from('x'), properties: {} });
    expect((await s.checkQueue(q)).messageCount).toBe(1);
    expect((await s.checkQueue(name)).messageCount).toBe(1);
    await s.close();
    const other = fabric.openSession({ vhost: '/' });
    await expect(other.checkQueue(q)).rejects.toBeDefined();
    expect((await other.checkQueue(name)).messageCount).toBe(1);
    await fabric.close();
  });
});

describe('UNIT: timers', () => {
  it('a deadline fires once unless cancelled', () => {
    vi.useFakeTimers();
    try {
      let fired = 0;
      const d = startDeadline(100, () => fired++);
      const e = startDeadline(100, () => fired++);
      e.cancel();
      vi.advanceTimersByTime(150);
      expect(fired).toBe(1);
      expect(d.expired).toBe(true);
      expect(e.expired).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it('heart-beat: beats when idle, not when busy; times out after grace × interval of silence', () => {
    vi.useFakeTimers();
    try {
      let beats = 0;
      let timedOut = 0;
      const hb = new Heartbeat({ sendEveryMs: 100, expectEveryMs: 100, sendBeat: () => beats++, onTimeout: () => timedOut++ });
      vi.advanceTimersByTime(140);
      expect(timedOut).toBe(0);
      hb.noteRead();
      vi.advanceTimersByTime(140);
      expect(timedOut).toBe(0);
      expect(beats).toBeGreaterThanOrEqual(2);
      const before = beats;
      for (let i = 0; i < 5; i++) {
        hb.noteWrite();
        hb.noteRead();
        vi.advanceTimersByTime(40);
      }
      expect(beats).toBe(before);
      vi.advanceTimersByTime(200);
      expect(timedOut).toBe(1);
      hb.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('UNIT: AuthorizationCache', () => {
  it('asks once per grant, never caches refusals, and stays bounded', async () => {
    const asked: string[] = [];
    const auth = {
      authorize: async (_p: unknown, r: { name: string }) => {
        asked.push(r.name);
        if (r.name === 'no') throw new Error('refused');
      },
    };
    const cache = new AuthorizationCache(auth, { username: 'u', tags: [], via: 'password' }, 2);
    const req = (name: string) => ({ vhost: '/', kind: 'queue' as const, name, permission: 'read' as const });
    await cache.authorize(req('a'));
    await cache.authorize(req('a'));
    await expect(cache.authorize(req('no'))).rejects.toThrow('refused');
    await expect(cache.authorize(req('no'))).rejects.toThrow('refused');
    await cache.authorize(req('b'));
    await cache.authorize(req('c')); // evicts a
    await cache.authorize(req('a'));
    expect(asked).toEqual(['a', 'no', 'no', 'b', 'c', 'a']);
  });
});

describe('UNIT: STOMP negotiation', () => {
  it('versions', () => {
    expect(negotiateVersion(undefined)).toBe('1.0');
    expect(negotiateVersion('1.1, 1.0')).toBe('1.1');
    expect(() => negotiateVersion('3.0')).toThrow(expect.objectContaining({ message: 'unsupported protocol version' }));
  });

  it('heart-beats follow STOMP 1.2 §Heart-beating', () => {
    expect(negotiateHeartbeat('0,0', 10_000, '1.2')).toEqual({ sendEveryMs: 0, expectEveryMs: 0, header: '10000,10000' });
    expect(negotiateHeartbeat('5000,20000', 10_000, '1.2')).toEqual({ sendEveryMs: 20_000, expectEveryMs: 10_000, header: '10000,10000' });
    expect(negotiateHeartbeat('30000,1000', 10_000, '1.1')).toEqual({ sendEveryMs: 10_000, expectEveryMs: 30_000, header: '10000,10000' });
    expect(negotiateHeartbeat('1000,1000', 0, '1.2')).toEqual({ sendEveryMs: 0, expectEveryMs: 0, header: '0,0' });
    expect(negotiateHeartbeat('1000,1000', 10_000, '1.0').sendEveryMs).toBe(0);
    expect(() => negotiateHeartbeat('fast', 10_000, '1.2')).toThrow(expect.objectContaining({ message: 'invalid heart-beat header' }));
  });
});
