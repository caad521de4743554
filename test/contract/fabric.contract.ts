// The Fabric contract: one suite, run against every Fabric implementation (the embedded
// fabric, and the amqp fabric on a real RabbitMQ). It asserts only what RabbitMQ 3.10 itself
// does, through the Fabric interface only. `makeFabric` returns a fabric that is not started
// yet; the suite starts it and closes it.
//
// Conventions the suite fixes for both implementations:
//  - `durable`, `autoDelete`, `exclusive` default to false when omitted (AMQP's own defaults).
//  - A failed operation (NOT_FOUND, PRECONDITION_FAILED…) fails that call only; the session
//    stays usable.
//  - Exclusive queues belong to the declaring FabricSession (not to a shared connection).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { Delivery, Fabric, FabricSession } from '../../src/fabric/types.js';
import { uniqueName } from '../support/broker.js';
import { Collector, eventually, expectCode, expectOneOf, msg, quiet, text } from './helpers.js';

export function fabricContract(name: string, makeFabric: () => Promise<Fabric>): void {
  describe(`Fabric contract: ${name}`, () => {
    let fabric: Fabric;
    let admin: FabricSession;
    const sessions: FabricSession[] = [];
    const queues: string[] = [];
    const exchanges: string[] = [];

    beforeAll(async () => {
      fabric = await makeFabric();
      await fabric.start();
      admin = fabric.openSession({ vhost: '/', label: 'contract-admin' });
    });

    afterEach(async () => {
      for (const s of sessions.splice(0)) await s.close().catch(() => {});
      for (const q of queues.splice(0)) await admin.deleteQueue(q).catch(() => {});
      for (const x of exchanges.splice(0)) await admin.deleteExchange(x).catch(() => {});
    });

    afterAll(async () => {
      await admin?.close().catch(() => {});
      await fabric?.close();
    });

    function open(label = 'contract'): FabricSession {
      const s = fabric.openSession({ vhost: '/', label });
      sessions.push(s);
      return s;
    }

    /** a queue name this test owns; deleted after the test */
    function qname(prefix = 'contract-q'): string {
      const n = uniqueName(prefix);
      queues.push(n);
      return n;
    }

    function xname(prefix = 'contract-x'): string {
      const n = uniqueName(prefix);
      exchanges.push(n);
      return n;
    }

    async function queue(s: FabricSession, opts: Parameters<FabricSession['declareQueue']>[1] = {}): Promise<string> {
      const n = qname();
      await s.declareQueue(n, opts);
      return n;
    }

    async function drain(s: FabricSession, q: string): Promise<string[]> {
      const out: string[] = [];
      for (let d = await s.get(q, { noAck: true }); d !== null; d = await s.get(q, { noAck: true })) out.push(text(d));
      return out;
    }

    type Fetched = NonNullable<Awaited<ReturnType<FabricSession['get']>>>;

    /** basic.get until a message arrives */
    async function getOne(s: FabricSession, q: string, noAck: boolean): Promise<Fetched> {
      const box: { d: Fetched | null } = { d: null };
      await eventually(async () => {
        box.d = await s.get(q, { noAck });
        expect(box.d).not.toBeNull();
      });
      return box.d as Fetched;
    }

    describe('lifecycle', () => {
      it('is connected and writable once started', () => {
        expect(fabric.status().connected).toBe(true);
        const s = open();
        expect(s.writable).toBe(true);
        expect(s.vhost).toBe('/');
        expect(typeof s.id).toBe('string');
        const off = s.onWritable(() => {});
        expect(typeof off).toBe('function');
        off();
      });

      it('emits up on start, and close() closes every session', async () => {
        const f = await makeFabric();
        const up = new Promise<void>((resolve) => f.once('up', resolve));
        await f.start();
        await up;
        expect(f.status()).toMatchObject({ connected: true, blocked: false });
        const s = f.openSession({ vhost: '/', label: 'contract-close' });
        const { queue: q } = await s.declareQueue('', { exclusive: true });
        await f.close();
        await expect(s.checkQueue(q)).rejects.toThrow();
        await eventually(() => expectCode(admin.checkQueue(q), ErrorCode.NOT_FOUND));
      });

      it('gives every session its own id', () => {
        const a = open();
        const b = open();
        expect(a.id).not.toBe(b.id);
      });
    });

    describe('exchanges', () => {
      it('has the pre-declared amq.* exchanges', async () => {
        const s = open();
        for (const x of ['amq.direct', 'amq.topic', 'amq.fanout', 'amq.headers', 'amq.match']) await s.checkExchange(x);
      });

      it('declares idempotently and refuses an inequivalent redeclare with PRECONDITION_FAILED', async () => {
        const s = open();
        const x = xname();
        await s.declareExchange(x, 'topic');
        await s.declareExchange(x, 'topic', { durable: false });
        await expectCode(s.declareExchange(x, 'direct'), ErrorCode.PRECONDITION_FAILED);
        await expectCode(s.declareExchange(x, 'topic', { durable: true }), ErrorCode.PRECONDITION_FAILED);
        await expectCode(s.declareExchange(x, 'topic', { autoDelete: true }), ErrorCode.PRECONDITION_FAILED);
        await s.checkExchange(x); // the session survived the failures
      });

      it('accepts redeclaring amq.topic as it is (durable topic)', async () => {
        const s = open();
        await s.declareExchange('amq.topic', 'topic', { durable: true });
        await expectCode(s.declareExchange('amq.topic', 'direct', { durable: true }), ErrorCode.PRECONDITION_FAILED);
      });

      it('checkExchange rejects a missing exchange with NOT_FOUND', async () => {
        const s = open();
        await expectCode(s.checkExchange(uniqueName('contract-nox')), ErrorCode.NOT_FOUND);
        await s.checkExchange('amq.topic');
      });

      it('publishing to a missing exchange rejects with NOT_FOUND', async () => {
        const s = open();
        await expectCode(s.publish(uniqueName('contract-nox'), 'k', msg('x'), { confirm: true }), ErrorCode.NOT_FOUND);
        const q = await queue(s);
        await s.publish('', q, msg('still usable'), { confirm: true });
        expect(await drain(s, q)).toEqual(['still usable']);
      });

      it('deleteExchange removes it; ifUnused refuses while it has bindings', async () => {
        const s = open();
        const x = xname();
        const q = await queue(s);
        await s.declareExchange(x, 'fanout');
        await s.bindQueue(q, x, '');
        await expectCode(s.deleteExchange(x, { ifUnused: true }), ErrorCode.PRECONDITION_FAILED);
        await s.deleteExchange(x);
        await expectCode(s.checkExchange(x), ErrorCode.NOT_FOUND);
      });

      it('an auto-delete exchange goes when its last binding is removed', async () => {
        const s = open();
        const x = xname();
        const q = await queue(s);
        await s.declareExchange(x, 'direct', { autoDelete: true });
        await s.bindQueue(q, x, 'a');
        await s.bindQueue(q, x, 'b');
        await s.unbindQueue(q, x, 'a');
        await s.checkExchange(x);
        await s.unbindQueue(q, x, 'b');
        await eventually(() => expectCode(s.checkExchange(x), ErrorCode.NOT_FOUND));
      });
    });

    describe('refusals', () => {
      it("names with the reserved 'amq.' prefix cannot be declared (NOT_AUTHORIZED)", async () => {
        const s = open();
        await expectCode(s.declareExchange(`amq.${uniqueName('x')}`, 'topic'), ErrorCode.NOT_AUTHORIZED);
        await expectCode(s.declareQueue(`amq.${uniqueName('q')}`), ErrorCode.NOT_AUTHORIZED);
        await s.checkExchange('amq.topic');
      });

      it('the default exchange cannot be bound to (NOT_AUTHORIZED)', async () => {
        const s = open();
        const q = await queue(s);
        await expectCode(s.bindQueue(q, '', q), ErrorCode.NOT_AUTHORIZED);
        await s.checkQueue(q);
      });

      it('invalid queue arguments are refused with PRECONDITION_FAILED', async () => {
        const s = open();
        const bad: Record<string, unknown>[] = [
          { 'x-message-ttl': -1 },
          { 'x-expires': 0 },
          { 'x-max-length': 'ten' },
          { 'x-overflow': 'explode' },
        ];
        for (const args of bad) {
          const q = qname();
          await expectCode(s.declareQueue(q, { arguments: args as never }), ErrorCode.PRECONDITION_FAILED);
          await expectCode(s.checkQueue(q), ErrorCode.NOT_FOUND);
        }
      });

      it('an invalid expiration property is refused with PRECONDITION_FAILED', async () => {
        const s = open();
        const q = await queue(s);
        await expectCode(s.publish('', q, msg('x', { expiration: 'soon' }), { confirm: true }), ErrorCode.PRECONDITION_FAILED);
        await s.publish('', q, msg('ok', { expiration: '60000' }), { confirm: true });
        expect(await drain(s, q)).toEqual(['ok']);
      });
    });

    describe('routing', () => {
      it('the default exchange routes to the queue named by the routing key', async () => {
        const s = open();
        const q = await queue(s);
        await s.publish('', q, msg('hello'), { confirm: true });
        const d = await s.get(q);
        expect(d).not.toBeNull();
        expect(text(d as Delivery)).toBe('hello');
        expect(d?.exchange).toBe('');
        expect(d?.routingKey).toBe(q);
        expect(d?.redelivered).toBe(false);
        d?.settle('ack');
      });

      it('direct exchanges match the routing key exactly', async () => {
        const s = open();
        const x = xname();
        const q = await queue(s);
        await s.declareExchange(x, 'direct');
        await s.bindQueue(q, x, 'a.b');
        for (const k of ['a.b', 'a', 'a.b.c', 'A.B', 'a.*']) await s.publish(x, k, msg(k), { confirm: true });
        expect(await drain(s, q)).toEqual(['a.b']);
      });

      it('fanout exchanges ignore the routing key and copy to every bound queue', async () => {
        const s = open();
        const x = xname();
        const q1 = await queue(s);
        const q2 = await queue(s);
        await s.declareExchange(x, 'fanout');
        await s.bindQueue(q1, x, 'whatever');
        await s.bindQueue(q2, x, '');
        await s.publish(x, 'any.key', msg('m'), { confirm: true });
        expect(await drain(s, q1)).toEqual(['m']);
        expect(await drain(s, q2)).toEqual(['m']);
      });

      it('topic exchanges: * is one word, # is zero or more', async () => {
        const s = open();
        const cases: [string, string[], string[]][] = [
          ['a.*.c', ['a.b.c', 'a.x.c'], ['a.c', 'a.b.b.c', 'a.b.c.d', 'b.b.c']],
          ['a.#', ['a', 'a.b', 'a.b.c.d'], ['b', 'ab', 'b.a']],
          ['#', ['', 'a', 'a.b.c'], []],
          ['a.#.c', ['a.c', 'a.b.c', 'a.b.b.c'], ['a.b', 'a.c.d', 'c']],
          ['*', ['a', 'b'], ['', 'a.b']],
          ['*.*', ['a.b'], ['a', 'a.b.c']],
          ['#.z', ['z', 'a.z', 'a.b.z'], ['z.a', 'az']],
          ['a.b', ['a.b'], ['a.b.c', 'a', 'a.bb']],
          ['*.#', ['a', 'a.b', 'a.b.c'], ['']],
          ['a..b', ['a..b'], ['a.b', 'a.x.b']],
        ];
        for (const [pattern, yes, no] of cases) {
          const x = xname();
          await s.declareExchange(x, 'topic');
          const q = await queue(s);
          await s.bindQueue(q, x, pattern);
          for (const k of [...yes, ...no]) await s.publish(x, k, msg(k), { confirm: true });
          expect(await drain(s, q), `pattern '${pattern}'`).toEqual(yes);
        }
      });

      it('a queue matched by several bindings gets one copy', async () => {
        const s = open();
        const x = xname();
        const q = await queue(s);
        await s.declareExchange(x, 'topic');
        await s.bindQueue(q, x, 'a.*');
        await s.bindQueue(q, x, 'a.#');
        await s.bindQueue(q, x, '#');
        await s.bindQueue(q, x, '#'); // binding twice is idempotent
        await s.publish(x, 'a.b', msg('once'), { confirm: true });
        expect(await drain(s, q)).toEqual(['once']);
      });

      it('an alternate exchange takes what its exchange cannot route', async () => {
        const s = open();
        const ae = xname('contract-ae');
        const x = xname();
        await s.declareExchange(ae, 'fanout');
        await s.declareExchange(x, 'direct', { arguments: { 'alternate-exchange': ae } });
        const routed = await queue(s);
        const orphans = await queue(s);
        await s.bindQueue(routed, x, 'known');
        await s.bindQueue(orphans, ae, '');
        await s.publish(x, 'known', msg('k'), { confirm: true });
        await s.publish(x, 'unknown', msg('u'), { mandatory: true, confirm: true });
        expect(await drain(s, routed)).toEqual(['k']);
        expect(await drain(s, orphans)).toEqual(['u']);
        await expectCode(s.declareExchange(x, 'direct'), ErrorCode.PRECONDITION_FAILED);
      });

      it('unbindQueue stops routing through that binding only', async () => {
        const s = open();
        const q = await queue(s);
        const k1 = uniqueName('k1');
        const k2 = uniqueName('k2');
        await s.bindQueue(q, 'amq.direct', k1);
        await s.bindQueue(q, 'amq.direct', k2);
        await s.unbindQueue(q, 'amq.direct', k1);
        await s.publish('amq.direct', k1, msg('one'), { confirm: true });
        await s.publish('amq.direct', k2, msg('two'), { confirm: true });
        expect(await drain(s, q)).toEqual(['two']);
        await s.unbindQueue(q, 'amq.direct', k2);
      });

      it('headers exchanges match on x-match all and any', async () => {
        const s = open();
        const x = xname();
        await s.declareExchange(x, 'headers');
        const all = await queue(s);
        const any = await queue(s);
        await s.bindQueue(all, x, '', { 'x-match': 'all', kind: 'temp', site: 'north' });
        await s.bindQueue(any, x, '', { 'x-match': 'any', kind: 'temp', site: 'north' });
        await s.publish(x, '', msg('both', { headers: { kind: 'temp', site: 'north', extra: 1 } }), { confirm: true });
        await s.publish(x, '', msg('kind', { headers: { kind: 'temp' } }), { confirm: true });
        await s.publish(x, '', msg('wrong', { headers: { kind: 'humidity', site: 'south' } }), { confirm: true });
        await s.publish(x, '', msg('none'), { confirm: true });
        expect(await drain(s, all)).toEqual(['both']);
        expect(await drain(s, any)).toEqual(['both', 'kind']);
      });

      it('exchange-to-exchange bindings route onwards, and unbinding stops them', async () => {
        const s = open();
        const src = xname('contract-src');
        const dst = xname('contract-dst');
        const q = await queue(s);
        await s.declareExchange(src, 'topic');
        await s.declareExchange(dst, 'fanout');
        await s.bindExchange(dst, src, 'sensors.#');
        await s.bindQueue(q, dst, '');
        await s.publish(src, 'sensors.t1', msg('in'), { confirm: true });
        await s.publish(src, 'other.t1', msg('out'), { confirm: true });
        expect(await drain(s, q)).toEqual(['in']);
        await s.unbindExchange(dst, src, 'sensors.#');
        await s.publish(src, 'sensors.t1', msg('after'), { confirm: true });
        expect(await drain(s, q)).toEqual([]);
      });

      it('binding to a missing queue or exchange rejects with NOT_FOUND', async () => {
        const s = open();
        const q = await queue(s);
        await expectCode(s.bindQueue(uniqueName('contract-noq'), 'amq.topic', '#'), ErrorCode.NOT_FOUND);
        await expectCode(s.bindQueue(q, uniqueName('contract-nox'), '#'), ErrorCode.NOT_FOUND);
        await s.bindQueue(q, 'amq.topic', uniqueName('k'));
      });

      it('mandatory publishes that reach no queue reject with UNROUTABLE', async () => {
        const s = open();
        const key = uniqueName('nobody');
        await expectCode(s.publish('amq.topic', key, msg('lost'), { mandatory: true, confirm: true }), ErrorCode.UNROUTABLE);
        // not mandatory: the broker takes responsibility and drops it
        await s.publish('amq.topic', key, msg('dropped'), { confirm: true });
        const q = await queue(s);
        await s.bindQueue(q, 'amq.topic', key);
        await s.publish('amq.topic', key, msg('routed'), { mandatory: true, confirm: true });
        expect(await drain(s, q)).toEqual(['routed']);
      });

      it('carries every basic property and header unchanged', async () => {
        const s = open();
        const q = await queue(s);
        const body = Buffer.from([0, 1, 2, 255, 254, 10, 13]);
        const properties = {
          contentType: 'application/octet-stream',
          contentEncoding: 'gzip',
          headers: { s: 'text', n: 42, neg: -7, f: 1.5, b: true, nested: { a: 'b' }, arr: ['x', 1] },
          deliveryMode: 2 as const,
          priority: 3,
          correlationId: 'corr-1',
          replyTo: 'reply-q',
          messageId: 'mid-1',
          timestamp: 1_700_000_000,
          type: 'test.type',
          appId: 'contract',
        };
        await s.publish('', q, { body, properties }, { confirm: true });
        const d = await s.get(q);
        expect(d).not.toBeNull();
        expect(Buffer.compare(d?.body as Buffer, body)).toBe(0);
        expect(d?.properties).toMatchObject(properties);
        d?.settle('ack');
      });
    });

    describe('queues', () => {
      it('declareQueue reports counts and is idempotent with equal arguments', async () => {
        const s = open();
        const q = qname();
        expect(await s.declareQueue(q, { arguments: { 'x-max-length': 10 } })).toEqual({ queue: q, messageCount: 0, consumerCount: 0 });
        await s.publish('', q, msg('1'), { confirm: true });
        expect(await s.declareQueue(q, { durable: false, arguments: { 'x-max-length': 10 } })).toEqual({
          queue: q,
          messageCount: 1,
          consumerCount: 0,
        });
        expect(await s.checkQueue(q)).toEqual({ queue: q, messageCount: 1, consumerCount: 0 });
      });

      it('refuses an inequivalent redeclare with PRECONDITION_FAILED', async () => {
        const s = open();
        const q = qname();
        await s.declareQueue(q, { arguments: { 'x-message-ttl': 1000 } });
        await expectCode(s.declareQueue(q, { durable: true, arguments: { 'x-message-ttl': 1000 } }), ErrorCode.PRECONDITION_FAILED);
        await expectCode(s.declareQueue(q, { arguments: { 'x-message-ttl': 2000 } }), ErrorCode.PRECONDITION_FAILED);
        await expectCode(s.declareQueue(q, {}), ErrorCode.PRECONDITION_FAILED);
        await expectCode(s.declareQueue(q, { autoDelete: true, arguments: { 'x-message-ttl': 1000 } }), ErrorCode.PRECONDITION_FAILED);
        await s.checkQueue(q);
      });

      it("name '' makes a unique amq.gen- name", async () => {
        const s = open();
        const a = await s.declareQueue('', { exclusive: true });
        const b = await s.declareQueue('', { exclusive: true });
        expect(a.queue).toMatch(/^amq\.gen-/);
        expect(b.queue).toMatch(/^amq\.gen-/);
        expect(a.queue).not.toBe(b.queue);
        await s.publish('', a.queue, msg('to gen'), { confirm: true });
        expect(await drain(s, a.queue)).toEqual(['to gen']);
      });

      it('checkQueue rejects a missing queue with NOT_FOUND, and the session stays usable', async () => {
        const s = open();
        await expectCode(s.checkQueue(uniqueName('contract-noq')), ErrorCode.NOT_FOUND);
        await expectCode(s.purgeQueue(uniqueName('contract-noq')), ErrorCode.NOT_FOUND);
        const q = await queue(s);
        expect((await s.checkQueue(q)).queue).toBe(q);
      });

      it('purgeQueue and deleteQueue return the number of ready messages', async () => {
        const s = open();
        const q = await queue(s);
        for (let i = 0; i < 3; i++) await s.publish('', q, msg(`m${i}`), { confirm: true });
        expect(await s.purgeQueue(q)).toEqual({ messageCount: 3 });
        expect((await s.checkQueue(q)).messageCount).toBe(0);
        for (let i = 0; i < 2; i++) await s.publish('', q, msg(`n${i}`), { confirm: true });
        expect(await s.deleteQueue(q)).toEqual({ messageCount: 2 });
        await expectCode(s.checkQueue(q), ErrorCode.NOT_FOUND);
      });

      it('deleteQueue ifEmpty / ifUnused refuse with PRECONDITION_FAILED', async () => {
        const s = open();
        const q = await queue(s);
        await s.publish('', q, msg('m'), { confirm: true });
        await expectCode(s.deleteQueue(q, { ifEmpty: true }), ErrorCode.PRECONDITION_FAILED);
        await s.purgeQueue(q);
        const c = await s.consume(q, { prefetch: 1 }, () => {});
        await expectCode(s.deleteQueue(q, { ifUnused: true }), ErrorCode.PRECONDITION_FAILED);
        await c.cancel();
        expect(await s.deleteQueue(q, { ifUnused: true, ifEmpty: true })).toEqual({ messageCount: 0 });
      });

      it('deleting a queue removes its bindings', async () => {
        const s = open();
        const q = await queue(s);
        const key = uniqueName('k');
        await s.bindQueue(q, 'amq.direct', key);
        await s.deleteQueue(q);
        await expectCode(s.publish('amq.direct', key, msg('x'), { mandatory: true, confirm: true }), ErrorCode.UNROUTABLE);
      });
    });

    describe('consumers', () => {
      it('delivers in publish order, asynchronously, with the consumer tag', async () => {
        const s = open();
        const q = await queue(s);
        const c = new Collector();
        let inPublish = false;
        const consumer = await s.consume(q, { prefetch: 0, noAck: true }, (d) => {
          expect(inPublish).toBe(false);
          c.handler(d);
        });
        const n = 500;
        for (let i = 0; i < n; i++) {
          inPublish = true;
          const p = s.publish('', q, msg(String(i)));
          inPublish = false;
          await p;
        }
        await c.count(n);
        expect(c.texts).toEqual(Array.from({ length: n }, (_, i) => String(i)));
        expect(c.items.every((d) => d.consumerTag === consumer.tag && d.redelivered === false)).toBe(true);
        expect(consumer.queue).toBe(q);
        await consumer.cancel();
      });

      it('uses the consumer tag given, generates unique ones otherwise, and refuses a duplicate', async () => {
        const s = open();
        const q = await queue(s);
        const tag = uniqueName('ctag');
        const a = await s.consume(q, { consumerTag: tag }, () => {});
        const b = await s.consume(q, {}, () => {});
        const c = await s.consume(q, {}, () => {});
        expect(a.tag).toBe(tag);
        expect(b.tag).not.toBe(c.tag);
        expect(b.tag.length).toBeGreaterThan(0);
        await expect(s.consume(q, { consumerTag: tag }, () => {})).rejects.toThrow();
        const s2 = open();
        expect((await s2.consume(q, {}, () => {})).tag).not.toBe(b.tag);
      });

      it('consuming from a missing queue rejects with NOT_FOUND', async () => {
        const s = open();
        await expectCode(s.consume(uniqueName('contract-noq'), {}, () => {}), ErrorCode.NOT_FOUND);
        const q = await queue(s);
        await s.consume(q, {}, () => {});
      });

      it('shares a queue round-robin among its consumers', async () => {
        const s = open();
        const q = await queue(s);
        const a = new Collector();
        const b = new Collector();
        await s.consume(q, { prefetch: 10 }, a.handler);
        await s.consume(q, { prefetch: 10 }, b.handler);
        for (let i = 0; i < 6; i++) await s.publish('', q, msg(String(i)), { confirm: true });
        await eventually(() => expect(a.items.length + b.items.length).toBe(6));
        expect(a.items.length).toBe(3);
        expect(b.items.length).toBe(3);
      });

      it('prefetch bounds unacked deliveries; ack releases more', async () => {
        const s = open();
        const q = await queue(s);
        for (let i = 0; i < 5; i++) await s.publish('', q, msg(String(i)), { confirm: true });
        const c = new Collector();
        const consumer = await s.consume(q, { prefetch: 2 }, c.handler);
        await c.count(2);
        await eventually(async () => expect((await s.checkQueue(q)).messageCount).toBe(3));
        await quiet();
        expect(c.texts).toEqual(['0', '1']);
        consumer.ack(c.items[0] as Delivery);
        await c.count(3);
        await quiet();
        expect(c.texts).toEqual(['0', '1', '2']);
        consumer.ack(c.items[2] as Delivery, true); // acks 1 and 2
        await c.count(5);
        expect(c.texts).toEqual(['0', '1', '2', '3', '4']);
        consumer.ack(c.items[4] as Delivery, true);
        await eventually(async () => expect((await s.checkQueue(q)).messageCount).toBe(0));
      });

      it('nack with requeue puts the message back in its place, redelivered', async () => {
        const s = open();
        const q = await queue(s);
        for (const m of ['a', 'b', 'c']) await s.publish('', q, msg(m), { confirm: true });
        const c = new Collector();
        const consumer = await s.consume(q, { prefetch: 1 }, c.handler);
        const [first] = await c.count(1);
        expect(text(first as Delivery)).toBe('a');
        consumer.nack(first as Delivery, { requeue: true });
        const [, again] = await c.count(2);
        expect(text(again as Delivery)).toBe('a');
        expect(again?.redelivered).toBe(true);
        consumer.ack(again as Delivery);
        await c.count(3);
        expect(text(c.items[2] as Delivery)).toBe('b');
        expect(c.items[2]?.redelivered).toBe(false);
        consumer.ack(c.items[2] as Delivery);
        await c.count(4);
        consumer.ack(c.items[3] as Delivery);
        expect(c.texts).toEqual(['a', 'a', 'b', 'c']);
      });

      it('nack multiple settles every earlier unacked delivery', async () => {
        const s = open();
        const q = await queue(s);
        for (const m of ['a', 'b', 'c']) await s.publish('', q, msg(m), { confirm: true });
        const c = new Collector();
        const consumer = await s.consume(q, { prefetch: 3 }, c.handler);
        await c.count(3);
        consumer.nack(c.items[1] as Delivery, { requeue: false, multiple: true });
        await eventually(async () => expect((await s.checkQueue(q)).messageCount).toBe(0));
        await consumer.cancel();
        expect(await drain(s, q)).toEqual(['c']);
      });

      it('cancel requeues the consumer\'s unacked deliveries, redelivered', async () => {
        const s = open();
        const q = await queue(s);
        for (const m of ['a', 'b', 'c']) await s.publish('', q, msg(m), { confirm: true });
        const c = new Collector();
        const consumer = await s.consume(q, { prefetch: 2 }, c.handler);
        await c.count(2);
        await consumer.cancel();
        const got: [string, boolean][] = [];
        for (let d = await s.get(q); d !== null; d = await s.get(q)) {
          got.push([text(d), d.redelivered]);
          d.settle('ack');
        }
        expect(got).toEqual([
          ['a', true],
          ['b', true],
          ['c', false],
        ]);
      });

      it('closing a session requeues its unacked deliveries', async () => {
        const s = open();
        const q = await queue(s);
        for (const m of ['a', 'b']) await s.publish('', q, msg(m), { confirm: true });
        const s2 = open();
        const c = new Collector();
        await s2.consume(q, { prefetch: 10 }, c.handler);
        await c.count(2);
        await s2.close();
        await eventually(async () => expect((await s.checkQueue(q)).messageCount).toBe(2));
        const d = await s.get(q);
        expect(d?.redelivered).toBe(true);
        expect(text(d as Delivery)).toBe('a');
        d?.settle('ack');
      });

      it('no more deliveries reach a cancelled consumer', async () => {
        const s = open();
        const q = await queue(s);
        const c = new Collector();
        const consumer = await s.consume(q, { noAck: true }, c.handler);
        await s.publish('', q, msg('before'), { confirm: true });
        await c.count(1);
        await consumer.cancel();
        await s.publish('', q, msg('after'), { confirm: true });
        await quiet();
        expect(c.texts).toEqual(['before']);
        expect(await drain(s, q)).toEqual(['after']);
      });

      it('cancelling a busy no-ack consumer loses nothing: what was sent is delivered, in order, the rest stays queued', async () => {
        const s = open();
        const q = await queue(s);
        const c = new Collector();
        const consumer = await s.consume(q, { noAck: true }, c.handler);
        const total = 2000;
        const published: Promise<void>[] = [];
        for (let i = 0; i < total; i += 1) published.push(s.publish('', q, msg(`m${i}`), { confirm: true }));
        await c.count(1);
        await consumer.cancel(); // mid-stream: deliveries are in flight towards the consumer
        const deliveredBeforeCancel = c.texts.length;
        await Promise.all(published);
        await quiet();
        expect(c.texts.length).toBe(deliveredBeforeCancel); // nothing after cancel() resolved
        const rest = await drain(s, q);
        const all = [...c.texts, ...rest];
        expect(all).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
      });
    });

    describe('exclusive and auto-delete queues', () => {
      it('an exclusive queue is locked to its session and deleted when the session closes', async () => {
        const owner = open('owner');
        const other = open('other');
        const q = qname();
        await owner.declareQueue(q, { exclusive: true });
        await expectCode(other.consume(q, {}, () => {}), ErrorCode.RESOURCE_LOCKED);
        await expectCode(other.declareQueue(q, { exclusive: true }), ErrorCode.RESOURCE_LOCKED);
        await expectCode(other.declareQueue(q), ErrorCode.RESOURCE_LOCKED);
        await expectCode(other.get(q), ErrorCode.RESOURCE_LOCKED);
        // anyone may publish to it
        await other.publish('', q, msg('for owner'), { confirm: true });
        const c = new Collector();
        await owner.consume(q, { noAck: true }, c.handler);
        await c.count(1);
        await owner.close();
        await eventually(() => expectCode(other.checkQueue(q), ErrorCode.NOT_FOUND));
      });

      it('an auto-delete queue goes when its last consumer is cancelled, not before', async () => {
        const s = open();
        const q = await queue(s, { autoDelete: true });
        const a = await s.consume(q, {}, () => {});
        const b = await s.consume(q, {}, () => {});
        await a.cancel();
        await quiet();
        expect((await s.checkQueue(q)).consumerCount).toBe(1);
        await b.cancel();
        await eventually(() => expectCode(s.checkQueue(q), ErrorCode.NOT_FOUND));
      });

      it('an auto-delete queue that never had a consumer stays', async () => {
        const s = open();
        const q = await queue(s, { autoDelete: true });
        await quiet();
        await s.checkQueue(q);
      });

      it('an exclusive consumer keeps others off the queue', async () => {
        const s = open();
        const q = await queue(s);
        const ex = await s.consume(q, { exclusive: true }, () => {});
        await expectOneOf(s.consume(q, {}, () => {}), [ErrorCode.RESOURCE_LOCKED, ErrorCode.NOT_AUTHORIZED]);
        await ex.cancel();
        await s.consume(q, {}, () => {});
        await expectOneOf(s.consume(q, { exclusive: true }, () => {}), [ErrorCode.RESOURCE_LOCKED, ErrorCode.NOT_AUTHORIZED]);
      });
    });

    describe('TTL, expiry, length limits and dead-lettering', () => {
      /** a queue that dead-letters into a fresh queue through the default exchange */
      async function withDeadLetterQueue(s: FabricSession, args: Record<string, number | string> = {}): Promise<{ q: string; dlq: string }> {
        const dlq = await queue(s);
        const q = await queue(s, { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq, ...args } });
        return { q, dlq };
      }

      const one = (s: FabricSession, q: string): Promise<Delivery> => getOne(s, q, true);

      it('x-message-ttl expires messages, dead-lettered with reason expired', async () => {
        const s = open();
        const { q, dlq } = await withDeadLetterQueue(s, { 'x-message-ttl': 100 });
        await s.publish('', q, msg('old'), { confirm: true });
        const dead = await one(s, dlq);
        expect(text(dead)).toBe('old');
        expect(await s.get(q)).toBeNull();
        const [death] = dead.properties.headers?.['x-death'] as Record<string, unknown>[];
        expect(death).toMatchObject({ count: 1, reason: 'expired', queue: q, exchange: '', 'routing-keys': [q] });
        expect(dead.properties.headers).toMatchObject({ 'x-first-death-reason': 'expired', 'x-first-death-queue': q, 'x-first-death-exchange': '' });
        expect(dead.routingKey).toBe(dlq);
      });

      it('a consumer never sees an expired message', async () => {
        const s = open();
        const q = await queue(s, { arguments: { 'x-message-ttl': 50 } });
        await s.publish('', q, msg('stale'), { confirm: true });
        await eventually(async () => expect((await s.checkQueue(q)).messageCount).toBe(0));
        const c = new Collector();
        await s.consume(q, { noAck: true }, c.handler);
        await s.publish('', q, msg('fresh'), { confirm: true });
        await c.count(1);
        await quiet();
        expect(c.texts).toEqual(['fresh']);
      });

      it('per-message expiration: expired messages are dead-lettered, without their expiration', async () => {
        const s = open();
        const { q, dlq } = await withDeadLetterQueue(s);
        await s.publish('', q, msg('short', { expiration: '100' }), { confirm: true });
        const dead = await one(s, dlq);
        expect(text(dead)).toBe('short');
        expect(dead.properties.expiration).toBeUndefined();
        const [death] = dead.properties.headers?.['x-death'] as Record<string, unknown>[];
        expect(death).toMatchObject({ count: 1, reason: 'expired', queue: q, 'original-expiration': '100' });
        await s.publish('', q, msg('long', { expiration: '60000' }), { confirm: true });
        const kept = await s.get(q, { noAck: true });
        expect(kept?.properties.expiration).toBe('60000');
      });

      /** probes without touching the queue: a passive declare or a get would count as use and restart x-expires */
      const expectGone = (s: FabricSession, q: string): Promise<void> =>
        expectCode(s.publish('', q, msg('probe'), { mandatory: true, confirm: true }), ErrorCode.UNROUTABLE);

      it('x-expires deletes a queue left unused that long', async () => {
        const s = open();
        const q = await queue(s, { arguments: { 'x-expires': 300 } });
        await s.publish('', q, msg('inside'), { confirm: true });
        await eventually(() => expectGone(s, q), 5000, 50);
      });

      it('x-expires does not delete a queue while it has a consumer', async () => {
        const s = open();
        const q = await queue(s, { arguments: { 'x-expires': 200 } });
        const c = await s.consume(q, {}, () => {});
        await quiet(600);
        await s.publish('', q, msg('probe'), { mandatory: true, confirm: true });
        await c.cancel();
        await eventually(() => expectGone(s, q), 5000, 50);
      });

      it('x-max-length drops from the head and dead-letters with reason maxlen', async () => {
        const s = open();
        const { q, dlq } = await withDeadLetterQueue(s, { 'x-max-length': 2 });
        for (const m of ['1', '2', '3', '4']) await s.publish('', q, msg(m), { confirm: true });
        expect((await s.checkQueue(q)).messageCount).toBe(2);
        expect(await drain(s, q)).toEqual(['3', '4']);
        const first = await one(s, dlq);
        expect(text(first)).toBe('1');
        const [death] = first.properties.headers?.['x-death'] as Record<string, unknown>[];
        expect(death).toMatchObject({ count: 1, reason: 'maxlen', queue: q });
        expect(text(await one(s, dlq))).toBe('2');
      });

      it('x-overflow reject-publish nacks the confirm and keeps the queue as it was', async () => {
        const s = open();
        const q = await queue(s, { arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' } });
        await s.publish('', q, msg('kept'), { confirm: true });
        await expectCode(s.publish('', q, msg('refused'), { confirm: true }), ErrorCode.PUBLISH_NACKED);
        expect(await drain(s, q)).toEqual(['kept']);
        await s.publish('', q, msg('room again'), { confirm: true });
        expect(await drain(s, q)).toEqual(['room again']);
      });

      it('nack without requeue dead-letters with reason rejected, to the dead-letter routing key', async () => {
        const s = open();
        const dlx = xname('contract-dlx');
        await s.declareExchange(dlx, 'direct');
        const dlq = await queue(s);
        await s.bindQueue(dlq, dlx, 'dead');
        const q = await queue(s, { arguments: { 'x-dead-letter-exchange': dlx, 'x-dead-letter-routing-key': 'dead' } });
        const key = uniqueName('orig');
        await s.bindQueue(q, 'amq.direct', key);
        await s.publish('amq.direct', key, msg('bad', { headers: { mine: 'kept' } }), { confirm: true });
        const c = new Collector();
        const consumer = await s.consume(q, { prefetch: 1 }, c.handler);
        const [d] = await c.count(1);
        consumer.nack(d as Delivery, { requeue: false });
        const dead = await one(s, dlq);
        expect(text(dead)).toBe('bad');
        expect(dead.exchange).toBe(dlx);
        expect(dead.routingKey).toBe('dead');
        expect(dead.redelivered).toBe(false);
        expect(dead.properties.headers?.mine).toBe('kept');
        const deaths = dead.properties.headers?.['x-death'] as Record<string, unknown>[];
        expect(deaths).toHaveLength(1);
        expect(deaths[0]).toMatchObject({ count: 1, reason: 'rejected', queue: q, exchange: 'amq.direct', 'routing-keys': [key] });
        expect(deaths[0]).toHaveProperty('time'); // a timestamp; its JS shape is the fabric's business
        expect(dead.properties.headers).toMatchObject({ 'x-first-death-reason': 'rejected', 'x-first-death-queue': q, 'x-first-death-exchange': 'amq.direct' });
      });

      it('dead-lettering again in the same queue counts up and moves that entry first', async () => {
        const s = open();
        const a = qname();
        const b = qname();
        await s.declareQueue(a, { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': b } });
        await s.declareQueue(b, { arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': a } });
        await s.publish('', a, msg('ping-pong'), { confirm: true });
        const reject = async (q: string): Promise<Delivery> => {
          const got = await getOne(s, q, false);
          got.settle('discard');
          return got;
        };
        await reject(a); // a → b
        await reject(b); // b → a (a rejection on the cycle, so not dropped)
        await reject(a); // a → b again
        const last = await reject(b);
        const deaths = (last.properties.headers?.['x-death'] as Record<string, unknown>[]).map((d) => [d.queue, d.reason, d.count]);
        expect(deaths).toEqual([
          [a, 'rejected', 2],
          [b, 'rejected', 1],
        ]);
        expect(last.properties.headers?.['x-first-death-queue']).toBe(a);
        await eventually(async () => expect((await s.checkQueue(a)).messageCount).toBe(1));
        await s.purgeQueue(a);
      });

      it('a message that would expire back into its own queue is dropped (no rejection on the cycle)', async () => {
        const s = open();
        // dead-letters through the default exchange with its original routing key: its own name
        const q = await queue(s, { arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': '' } });
        await s.publish('', q, msg('loop'), { confirm: true });
        await eventually(async () => expect((await s.checkQueue(q)).messageCount).toBe(0));
        await quiet(300);
        expect((await s.checkQueue(q)).messageCount).toBe(0);
        expect(await s.get(q)).toBeNull();
      });

      it('TTL 0: delivered to a consumer ready for it, otherwise expired at once', async () => {
        const s = open();
        const q = await queue(s, { arguments: { 'x-message-ttl': 0 } });
        await s.publish('', q, msg('nobody home'), { confirm: true });
        expect(await s.get(q)).toBeNull();
        const c = new Collector();
        await s.consume(q, { prefetch: 10 }, c.handler);
        await s.publish('', q, msg('taken'), { confirm: true });
        await c.count(1);
        expect(c.texts).toEqual(['taken']);
      });

      it('dead-lettering to a missing exchange drops the message', async () => {
        const s = open();
        const q = await queue(s, { arguments: { 'x-dead-letter-exchange': uniqueName('contract-nox') } });
        await s.publish('', q, msg('gone'), { confirm: true });
        const d = await s.get(q);
        d?.settle('discard');
        await eventually(async () => expect((await s.checkQueue(q)).messageCount).toBe(0));
      });
    });

    describe('basic.get', () => {
      it('returns null on an empty queue and settles ack / requeue / discard', async () => {
        const s = open();
        const q = await queue(s);
        expect(await s.get(q)).toBeNull();
        for (const m of ['a', 'b', 'c']) await s.publish('', q, msg(m), { confirm: true });
        const a = await s.get(q);
        expect(text(a as Delivery)).toBe('a');
        a?.settle('requeue');
        const a2 = await s.get(q);
        expect(text(a2 as Delivery)).toBe('a');
        expect(a2?.redelivered).toBe(true);
        a2?.settle('ack');
        const b = await s.get(q);
        b?.settle('discard');
        expect(await drain(s, q)).toEqual(['c']);
      });
    });
  });
}
