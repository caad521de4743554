// UNIT: the publish path's shared pieces without promise chains: ConfirmedPublisher's counters
// (window, roomAvailable, settled() by epochs, publishThen) and SerialQueue's synchronous path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AuthorizeRequest } from '../../src/auth/types.js';
import { createMetrics } from '../../src/metrics.js';
import { AuthorizationCache } from '../../src/protocols/shared/authorization-cache.js';
import { ConfirmedPublisher } from '../../src/protocols/shared/confirmed-publisher.js';
import { SerialQueue } from '../../src/protocols/shared/serial-queue.js';

/** a fabric session whose publishes settle when the test says so */
function manualSession() {
  const pending: Array<{ resolve: () => void; reject: (err: unknown) => void }> = [];
  const session = {
    writable: true,
    onWritable: () => () => undefined,
    publish: () =>
      new Promise<void>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
  };
  return { session, pending };
}

const msg = { body: Buffer.from('x'), properties: {} };
const turn = () => new Promise<void>((r) => setImmediate(r));

describe('UNIT: ConfirmedPublisher.settled()', () => {
  it('resolves once every earlier publish settled, whatever their order; later publishes do not hold it', async () => {
    const { session, pending } = manualSession();
    const p = new ConfirmedPublisher(session, createMetrics({ defaultMetrics: false }), 'stomp');
    const results = [p.publish('', 'q', msg, { confirm: true }), p.publish('', 'q', msg), p.publish('', 'q', msg, { confirm: true })];
    for (const r of results) r.catch(() => undefined);
    let first = false;
    void p.settled().then(() => (first = true));
    const later = p.publish('', 'q', msg, { confirm: true });
    let second = false;
    void p.settled().then(() => (second = true));
    pending[2]?.resolve();
    pending[0]?.reject(new Error('nack'));
    await turn();
    expect(first).toBe(false); // publish 1 is still out
    pending[1]?.resolve();
    await turn();
    expect(first).toBe(true);
    expect(second).toBe(false); // the one made between the two calls
    pending[3]?.resolve();
    await later;
    await turn();
    expect(second).toBe(true);
    expect(p.outstanding).toBe(0);
    await expect(p.settled()).resolves.toBeUndefined();
  });

  it('random publishes, settles (either way) and settled() calls: each settled() resolves exactly when everything before it settled', async () => {
    const op = fc.oneof(
      { arbitrary: fc.constant({ kind: 'publish' as const }), weight: 3 },
      { arbitrary: fc.record({ kind: fc.constant('settle' as const), pick: fc.nat(), ok: fc.boolean() }), weight: 3 },
      { arbitrary: fc.constant({ kind: 'settled' as const }), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const { session, pending } = manualSession();
        const p = new ConfirmedPublisher(session, createMetrics({ defaultMetrics: false }), 'mqtt');
        const settledFlags: boolean[] = []; // per publish, in order
        const open: number[] = []; // publishes not yet settled
        const waits: Array<{ before: number; done: boolean }> = [];
        for (const o of ops) {
          if (o.kind === 'publish') {
            const i = settledFlags.length;
            settledFlags.push(false);
            open.push(i);
            p.publish('', 'q', msg, { confirm: i % 2 === 0 }).catch(() => undefined);
          } else if (o.kind === 'settle' && open.length > 0) {
            const i = open.splice(o.pick % open.length, 1)[0] as number;
            settledFlags[i] = true;
            if (o.ok) pending[i]?.resolve();
            else pending[i]?.reject(new Error('lost'));
          } else if (o.kind === 'settled') {
            const w = { before: settledFlags.length, done: false };
            waits.push(w);
            p.settled().then(
              () => (w.done = true),
              () => expect.unreachable('settled() rejected'),
            );
          }
          await turn();
          for (const w of waits) expect(w.done).toBe(settledFlags.slice(0, w.before).every(Boolean));
          expect(p.outstanding).toBe(open.length);
        }
        for (const i of [...open]) pending[i]?.resolve();
        await turn();
        expect(waits.every((w) => w.done)).toBe(true);
        expect(p.outstanding).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('UNIT: ConfirmedPublisher window and publishThen', () => {
  it('roomAvailable waits while `window` publishes are out and resumes on a settle, a failed one too', async () => {
    const { session, pending } = manualSession();
    const p = new ConfirmedPublisher(session, createMetrics({ defaultMetrics: false }), 'mqtt', 2);
    p.publish('', 'q', msg, { confirm: true }).catch(() => undefined);
    await p.roomAvailable();
    p.publish('', 'q', msg, { confirm: true }).catch(() => undefined);
    let room = false;
    const waiting = p.roomAvailable().then(() => (room = true));
    await turn();
    expect(room).toBe(false);
    pending[1]?.reject(new Error('nack'));
    await waiting;
    expect(p.outstanding).toBe(1);
  });

  it('publishThen maps the outcome in one step, after the publish is counted settled; publish() rejects with the error', async () => {
    const { session, pending } = manualSession();
    const metrics = createMetrics({ defaultMetrics: false });
    const p = new ConfirmedPublisher(session, metrics, 'mqtt');
    const seen: number[] = [];
    const ok = p.publishThen('', 'q', msg, { confirm: true }, () => (seen.push(p.outstanding), 0), () => 0x80);
    const bad = p.publishThen('', 'q', msg, { confirm: true }, () => 0, (err) => (err instanceof Error ? 0x83 : 1));
    const err = new Error('nack');
    const rejected = p.publish('', 'q', msg, { confirm: false });
    pending[0]?.resolve();
    pending[1]?.reject(err);
    pending[2]?.reject(err);
    expect(await ok).toBe(0);
    expect(seen).toEqual([2]); // its own publish already released
    expect(await bad).toBe(0x83);
    await expect(rejected).rejects.toBe(err);
    expect(p.outstanding).toBe(0);
    expect((await metrics.messagesConfirmed.get()).values[0]?.value).toBe(1);
    expect((await metrics.messagesReceived.get()).values[0]?.value).toBe(3);
  });
});

describe('UNIT: SerialQueue with synchronous handlers', () => {
  it('a handler that returns nothing lets the next item run at once; a promise holds the rest; order kept', async () => {
    const log: string[] = [];
    let release!: () => void;
    const q = new SerialQueue<number>({
      handle: (n) => {
        log.push(`start ${n}`);
        if (n === 2) {
          return new Promise<void>((r) => (release = r)).then(() => void log.push(`end ${n}`));
        }
        if (n === 1) q.push(10); // pushed from inside a handler: queued behind the rest
        log.push(`end ${n}`);
        return undefined;
      },
      onError: () => undefined,
      highWater: 100,
      onHigh: () => log.push('high'),
      onLow: () => log.push('low'),
    });
    q.push(1);
    expect(log).toEqual(['start 1', 'end 1', 'start 10', 'end 10']); // no promise hop
    expect(q.busy).toBe(false);
    q.push(2);
    q.push(3);
    q.push(4);
    expect(log.slice(4)).toEqual(['start 2']);
    expect(q.length).toBe(2);
    release();
    await turn();
    expect(log.slice(4)).toEqual(['start 2', 'end 2', 'start 3', 'end 3', 'start 4', 'end 4']);
    expect(q.busy).toBe(false);
  });

  it('a synchronous throw stops the queue like a rejection, and onLow follows a high mark only when not stopped', async () => {
    const handled: number[] = [];
    const errors: unknown[] = [];
    const q = new SerialQueue<number>({
      handle: (n) => {
        handled.push(n);
        if (n === 2) throw new Error('boom');
      },
      onError: (err) => errors.push(err),
      highWater: 10,
      onHigh: () => undefined,
      onLow: () => undefined,
    });
    for (const n of [1, 2, 3]) q.push(n);
    q.push(4);
    await turn();
    expect(handled).toEqual([1, 2]);
    expect(errors).toHaveLength(1);
    expect(q.busy).toBe(false);
  });
});

describe('UNIT: AuthorizationCache lookups', () => {
  /** the cache as it was: one key string per grant in an insertion-ordered Set */
  class ReferenceCache {
    readonly granted = new Set<string>();
    constructor(readonly capacity: number) {}
    key(r: AuthorizeRequest): string {
      return `${r.kind}\u0000${r.permission}\u0000${r.name}\u0000${r.routingKey ?? ''}\u0000${r.vhost}`;
    }
    add(r: AuthorizeRequest): void {
      const key = this.key(r);
      if (this.granted.has(key)) return;
      if (this.granted.size >= this.capacity) this.granted.delete(this.granted.values().next().value as string);
      this.granted.add(key);
    }
  }

  it('granted() and authorize() agree with a key-per-grant model over random requests, refusals and evictions', async () => {
    const request = fc.record({
      vhost: fc.constantFrom('/', 'v2'),
      kind: fc.constantFrom('topic' as const, 'exchange' as const, 'queue' as const),
      name: fc.constantFrom('amq.topic', 'amq.default', 'q'),
      permission: fc.constantFrom('write' as const, 'read' as const),
      routingKey: fc.option(fc.constantFrom('a', 'b', 'c', 'no', ''), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { maxLength: 80 }), fc.integer({ min: 1, max: 6 }), async (requests, capacity) => {
        let asked = 0;
        const auth = {
          authorize: async (_p: unknown, r: AuthorizeRequest) => {
            asked += 1;
            if (r.routingKey === 'no') throw new Error('refused');
          },
        };
        const cache = new AuthorizationCache(auth, { username: 'u', tags: [], via: 'password' }, capacity);
        const model = new ReferenceCache(capacity);
        for (const r of requests) {
          const known = model.granted.has(model.key(r));
          expect(cache.granted(r.vhost, r.kind, r.permission, r.name, r.routingKey)).toBe(known);
          const before = asked;
          const outcome = await cache.authorize(r).then(
            () => 'ok',
            () => 'refused',
          );
          expect(asked - before).toBe(known ? 0 : 1);
          expect(outcome).toBe(r.routingKey === 'no' ? 'refused' : 'ok');
          if (outcome === 'ok') model.add(r);
          expect(cache.granted(r.vhost, r.kind, r.permission, r.name, r.routingKey)).toBe(outcome === 'ok');
        }
      }),
      { numRuns: 400 },
    );
  });

  it('the remembered last grant is forgotten when it is evicted', async () => {
    const cache = new AuthorizationCache({ authorize: async () => undefined }, { username: 'u', tags: [], via: 'password' }, 1);
    await cache.authorize({ vhost: '/', kind: 'topic', name: 'amq.topic', permission: 'write', routingKey: 'a' });
    expect(cache.granted('/', 'topic', 'write', 'amq.topic', 'a')).toBe(true);
    await cache.authorize({ vhost: '/', kind: 'topic', name: 'amq.topic', permission: 'write', routingKey: 'b' });
    expect(cache.granted('/', 'topic', 'write', 'amq.topic', 'a')).toBe(false);
    expect(cache.granted('/', 'topic', 'write', 'amq.topic', 'b')).toBe(true);
    await cache.authorize({ vhost: '/', kind: 'exchange', name: 'amq.default', permission: 'write' });
    expect(cache.granted('/', 'topic', 'write', 'amq.topic', 'b')).toBe(false);
    expect(cache.granted('/', 'exchange', 'write', 'amq.default')).toBe(true);
    expect(cache.granted('v2', 'exchange', 'write', 'amq.default')).toBe(false);
  });
});
