// AMQP fabric on a real RabbitMQ: the core (publish/confirm, declare/bind, consume/ack,
// session close) and what only the AMQP implementation has to get right: one session's
// channel error never disturbing another session, returns, and bounded connections.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../src/errors.js';
import type { AmqpFabric } from '../../src/fabric/amqp/index.js';
import type { FabricSession } from '../../src/fabric/types.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { Inbox, body, makeFabric, waitUntil, witness } from './fabric-amqp-helpers.js';

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isGatewayError(err), `expected a GatewayError ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric core', () => {
  let fabric: AmqpFabric;
  const sessions: FabricSession[] = [];
  const open = () => {
    const s = fabric.openSession({ vhost: '/', label: 'test' });
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    fabric = makeFabric({ connectionsPerVhost: 2 });
    await fabric.start();
  });

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await fabric.close();
  });

  it('start: reports connected; status is ready', () => {
    expect(fabric.status()).toEqual({ connected: true, blocked: false });
    expect(fabric.kind).toBe('amqp');
  });

  it('start opens every slot\'s confirm channel and topology lanes before the first session needs them', async () => {
    const f = makeFabric({ connectionsPerVhost: 2, topologyChannels: 3 });
    try {
      await f.start();
      // per slot: the confirm channel + 3 lanes; the plain publish channel and consumer channels open on first use
      expect(f.channelCount()).toBe(2 * (1 + 3));
    } finally {
      await f.close();
    }
  });

  it('publish with confirm → consume → ack; properties cross unchanged', async () => {
    const s = open();
    const { queue } = await s.declareQueue('', { exclusive: true });
    const inbox = new Inbox();
    const consumer = await s.consume(queue, { prefetch: 10 }, inbox.push);
    const properties = {
      contentType: 'application/json',
      headers: { 'x-a': 'b', n: 7, flag: true },
      deliveryMode: 2 as const,
      priority: 3,
      correlationId: 'c-1',
      replyTo: 'r',
      expiration: '60000',
      messageId: 'm-1',
      timestamp: 1_700_000_000,
      type: 't',
      appId: 'app',
    };
    await s.publish('', queue, { body: body('hello'), properties }, { confirm: true });
    const [d] = await inbox.waitFor(1);
    expect(d?.body.toString()).toBe('hello');
    expect(d?.properties).toEqual(properties);
    expect(d?.exchange).toBe('');
    expect(d?.routingKey).toBe(queue);
    expect(d?.redelivered).toBe(false);
    expect(d?.consumerTag).toBe(consumer.tag);
    consumer.ack(d!);
    consumer.ack(d!); // settling twice must not close the channel
    await s.publish('', queue, { body: body('after double ack'), properties: {} }, { confirm: true });
    const [, d2] = await inbox.waitFor(2);
    expect(d2?.body.toString()).toBe('after double ack');
    consumer.ack(d2!);
    expect((await s.checkQueue(queue)).messageCount).toBe(0);
  });

  it('declareQueue("") picks a unique name; declareExchange + bindQueue route by key', async () => {
    const s = open();
    const exchange = uniqueName('fx');
    await s.declareExchange(exchange, 'topic', { autoDelete: true });
    const a = await s.declareQueue('', { exclusive: true });
    const b = await s.declareQueue('', { exclusive: true });
    expect(a.queue).not.toBe(b.queue);
    await s.bindQueue(a.queue, exchange, 'devices.*.temp');
    const inbox = new Inbox();
    const c = await s.consume(a.queue, { noAck: true }, inbox.push);
    await s.publish(exchange, 'devices.d1.temp', { body: body('21'), properties: {} }, { confirm: true });
    await s.publish(exchange, 'devices.d1.hum', { body: body('nope'), properties: {} }, { confirm: true });
    await s.publish(exchange, 'devices.d2.temp', { body: body('22'), properties: {} }, { confirm: true });
    const got = await inbox.waitFor(2);
    expect(got.map((d) => d.body.toString())).toEqual(['21', '22']);
    await c.cancel();
    await s.unbindQueue(a.queue, exchange, 'devices.*.temp');
    await s.deleteExchange(exchange);
  });

  it('nack with requeue redelivers with redelivered=true; cancel requeues what is unacked', async () => {
    const s = open();
    const { queue } = await s.declareQueue('', { exclusive: true });
    const inbox = new Inbox();
    const consumer = await s.consume(queue, { prefetch: 5 }, inbox.push);
    await s.publish('', queue, { body: body('one'), properties: {} }, { confirm: true });
    const [first] = await inbox.waitFor(1);
    consumer.nack(first!, { requeue: true });
    const [, again] = await inbox.waitFor(2);
    expect(again?.body.toString()).toBe('one');
    expect(again?.redelivered).toBe(true);
    await s.publish('', queue, { body: body('two'), properties: {} }, { confirm: true });
    await inbox.waitFor(3);
    await consumer.cancel(); // 'one' (redelivered) and 'two' are unacked → back to the queue
    expect((await s.checkQueue(queue)).messageCount).toBe(2);
    const got = await s.get(queue);
    expect(got?.redelivered).toBe(true);
    got?.settle('ack');
    got?.settle('ack');
    expect((await s.checkQueue(queue)).messageCount).toBe(1);
  });

  it('ack(multiple) settles only this consumer\'s deliveries on a shared channel', async () => {
    const s = open();
    const q1 = (await s.declareQueue('', { exclusive: true })).queue;
    const q2 = (await s.declareQueue('', { exclusive: true })).queue;
    const in1 = new Inbox();
    const in2 = new Inbox();
    const c1 = await s.consume(q1, { prefetch: 10 }, in1.push);
    const c2 = await s.consume(q2, { prefetch: 10 }, in2.push);
    for (let i = 0; i < 3; i++) {
      await s.publish('', q1, { body: body(`a${i}`), properties: {} }, { confirm: true });
      await s.publish('', q2, { body: body(`b${i}`), properties: {} }, { confirm: true });
    }
    const d1 = await in1.waitFor(3);
    await in2.waitFor(3);
    c1.ack(d1[2]!, true);
    await c2.cancel(); // requeues all three of q2's
    expect((await s.checkQueue(q1)).messageCount).toBe(0);
    expect((await s.checkQueue(q2)).messageCount).toBe(3);
    await c1.cancel();
  });

  it('a handler can ack with the Consumer from the very first delivery (deliveries wait for consume() to resolve)', async () => {
    const s = open();
    const { queue } = await s.declareQueue('', { exclusive: true });
    for (let i = 0; i < 20; i++) await s.publish('', queue, { body: body(String(i)), properties: {} }, { confirm: true });
    const inbox = new Inbox();
    // with 20 ready messages, the first deliveries arrive in the same read as consume-ok
    const consumer = await s.consume(queue, { prefetch: 2 }, (d) => {
      inbox.push(d);
      consumer.ack(d);
    });
    const got = await inbox.waitFor(20);
    expect(got.map((d) => d.body.toString())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    await consumer.cancel();
  });

  it('per-consumer prefetch bounds unacked deliveries', async () => {
    const s = open();
    const { queue } = await s.declareQueue('', { exclusive: true });
    for (let i = 0; i < 10; i++) await s.publish('', queue, { body: body(String(i)), properties: {} }, { confirm: true });
    const inbox = new Inbox();
    const consumer = await s.consume(queue, { prefetch: 3 }, inbox.push);
    await inbox.waitFor(3);
    // a fourth would have arrived by the time a round trip to the broker completes
    await s.checkQueue(queue);
    await s.checkQueue(queue);
    expect(inbox.items.length).toBe(3);
    consumer.ack(inbox.items[2]!, true);
    await inbox.waitFor(6);
    await consumer.cancel();
  });

  it('checkQueue / checkExchange on missing names → NOT_FOUND; deleteQueue reports the count', async () => {
    const s = open();
    await rejectsWith(s.checkQueue(uniqueName('missing')), ErrorCode.NOT_FOUND);
    await rejectsWith(s.checkExchange(uniqueName('missing')), ErrorCode.NOT_FOUND);
    await s.checkExchange('amq.topic');
    const name = uniqueName('fq');
    await s.declareQueue(name, { autoDelete: false });
    await s.publish('', name, { body: body('x'), properties: {} }, { confirm: true });
    await s.publish('', name, { body: body('y'), properties: {} }, { confirm: true });
    expect(await s.purgeQueue(name)).toEqual({ messageCount: 2 });
    await s.publish('', name, { body: body('z'), properties: {} }, { confirm: true });
    expect(await s.deleteQueue(name)).toEqual({ messageCount: 1 });
    await rejectsWith(s.checkQueue(name), ErrorCode.NOT_FOUND);
  });

  it('a 404 in one session does not disturb another session\'s consumer or publishes', async () => {
    const calm = open();
    const clumsy = open();
    const { queue } = await calm.declareQueue('', { exclusive: true });
    const inbox = new Inbox();
    const consumer = await calm.consume(queue, { prefetch: 100 }, inbox.push);
    await calm.publish('', queue, { body: body('before'), properties: {} }, { confirm: true });
    await inbox.waitFor(1);

    const missing = uniqueName('no-such-exchange');
    // all at once, so that the failures land while the other session's traffic is in flight
    const results = await Promise.allSettled([
      clumsy.publish(missing, 'k', { body: body('lost'), properties: {} }, { confirm: true }),
      calm.publish('', queue, { body: body('during-1'), properties: {} }, { confirm: true }),
      clumsy.checkQueue(uniqueName('no-such-queue')),
      calm.publish('', queue, { body: body('during-2'), properties: {} }, { confirm: true }),
      clumsy.bindQueue(queue + '-nope', 'amq.topic', 'x'),
      clumsy.consume(uniqueName('no-such-queue'), {}, () => undefined),
      calm.publish('', queue, { body: body('during-3'), properties: {} }, { confirm: true }),
    ]);
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
    expect(codes).toEqual(['GW_ERR_NOT_FOUND', 'ok', 'GW_ERR_NOT_FOUND', 'ok', 'GW_ERR_NOT_FOUND', 'GW_ERR_NOT_FOUND', 'ok']);
    await inbox.waitFor(4);
    // unacked deliveries from before the errors can still be acked: the consumer channel survived
    for (const d of inbox.items) consumer.ack(d);
    await calm.publish('', queue, { body: body('after'), properties: {} }, { confirm: true });
    const all = await inbox.waitFor(5);
    expect(all.map((d) => d.body.toString())).toEqual(['before', 'during-1', 'during-2', 'during-3', 'after']);
    expect(all.every((d) => !d.redelivered)).toBe(true);
    consumer.ack(all[4]!);
  });

  it('an exchange deleted behind the fabric\'s back: that publish gets NOT_FOUND, the publish channel comes back', async () => {
    const s = open();
    const x = uniqueName('fgone');
    await s.declareExchange(x, 'fanout');
    const { queue } = await s.declareQueue('', { exclusive: true });
    await s.bindQueue(queue, x, '');
    await s.publish(x, '', { body: body('1'), properties: {} }, { confirm: true }); // now known to exist
    const w = await witness();
    try {
      const ch = await w.conn.createChannel();
      await ch.deleteExchange(x);
      await ch.close();
    } finally {
      await w.close();
    }
    // the cache still believes in x: the publish reaches the shared channel, which the broker closes
    await rejectsWith(s.publish(x, '', { body: body('2'), properties: {} }, { confirm: true }), ErrorCode.NOT_FOUND);
    await s.publish('', queue, { body: body('3'), properties: {} }, { confirm: true });
    expect((await s.checkQueue(queue)).messageCount).toBe(2);
    expect(fabric.status().connected).toBe(true);
  });

  it('redeclaring with other arguments → PRECONDITION_FAILED, and the session carries on', async () => {
    const s = open();
    const name = uniqueName('fq406');
    await s.declareQueue(name, { exclusive: true, arguments: { 'x-max-length': 10 } });
    await rejectsWith(s.declareQueue(name, { exclusive: true, arguments: { 'x-max-length': 20 } }), ErrorCode.PRECONDITION_FAILED);
    await rejectsWith(s.declareExchange('amq.topic', 'direct'), ErrorCode.PRECONDITION_FAILED);
    await rejectsWith(s.declareExchange(uniqueName('amq.reserved'), 'direct'), ErrorCode.NOT_AUTHORIZED);
    const info = await s.declareQueue(name, { exclusive: true, arguments: { 'x-max-length': 10 } });
    expect(info.queue).toBe(name);
  });

  it('an exclusive queue belongs to its session: another session gets RESOURCE_LOCKED', async () => {
    const owner = open();
    const other = open();
    const { queue } = await owner.declareQueue('', { exclusive: true });
    await rejectsWith(other.consume(queue, {}, () => undefined), ErrorCode.RESOURCE_LOCKED);
    await rejectsWith(other.declareQueue(queue, { exclusive: true }), ErrorCode.RESOURCE_LOCKED);
    // publishing to it is allowed, as in AMQP
    await other.publish('', queue, { body: body('hi'), properties: {} }, { confirm: true });
    expect((await owner.checkQueue(queue)).messageCount).toBe(1);
  });

  it('mandatory publish nobody receives → UNROUTABLE; routed ones resolve', async () => {
    const s = open();
    const { queue } = await s.declareQueue('', { exclusive: true });
    const results = await Promise.allSettled([
      s.publish('amq.direct', uniqueName('nobody'), { body: body('a'), properties: {} }, { confirm: true, mandatory: true }),
      s.publish('', queue, { body: body('b'), properties: {} }, { confirm: true, mandatory: true }),
      s.publish('amq.direct', uniqueName('nobody'), { body: body('b'), properties: {} }, { confirm: true, mandatory: true }),
      s.publish('amq.direct', uniqueName('nobody'), { body: body('c'), properties: {} }, { confirm: true }),
    ]);
    const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code));
    expect(codes).toEqual(['GW_ERR_UNROUTABLE', 'ok', 'GW_ERR_UNROUTABLE', 'ok']);
  });

  it('refuses locally what RabbitMQ would answer with a channel error', async () => {
    const s = open();
    await rejectsWith(s.publish('', 'q', { body: body('x'), properties: { expiration: 'soon' } }), ErrorCode.PRECONDITION_FAILED);
    await rejectsWith(s.publish('', 'q', { body: body('x'), properties: { userId: 'mallory' } }), ErrorCode.PRECONDITION_FAILED);
    await rejectsWith(s.publish('', 'k'.repeat(256), { body: body('x'), properties: {} }), ErrorCode.INVALID_DESTINATION);
    await rejectsWith(s.declareQueue('q'.repeat(256)), ErrorCode.INVALID_DESTINATION);
    await s.publish('amq.topic', 'fine', { body: body('x'), properties: { userId: 'guest' } }, { confirm: true });
  });

  it('session.close deletes its exclusive and auto-delete queues and requeues unacked deliveries', async () => {
    const w = await witness();
    try {
      const s = fabric.openSession({ vhost: '/' });
      const exclusive = (await s.declareQueue('', { exclusive: true })).queue;
      const autoDel = (await s.declareQueue(uniqueName('fad'), { autoDelete: true })).queue;
      const shared = uniqueName('fshared');
      await s.declareQueue(shared, {});
      await s.publish('', shared, { body: body('held'), properties: {} }, { confirm: true });
      const inbox = new Inbox();
      await s.consume(shared, { prefetch: 1 }, inbox.push);
      await inbox.waitFor(1);
      expect(await w.queueExists(exclusive)).toBe(true);
      await s.close();
      expect(await w.queueExists(exclusive)).toBe(false);
      expect(await w.queueExists(autoDel)).toBe(false);
      const ch = await w.conn.createChannel();
      expect((await ch.checkQueue(shared)).messageCount).toBe(1);
      const msg = await ch.get(shared);
      expect(msg && msg.fields.redelivered).toBe(true);
      await ch.deleteQueue(shared);
      await ch.close();
      await rejectsWith(s.declareQueue(''), ErrorCode.NOT_CONNECTED);
      await rejectsWith(s.publish('', 'x', { body: body(''), properties: {} }), ErrorCode.NOT_CONNECTED);
    } finally {
      await w.close();
    }
  });

  it('a vhost that does not exist: the session\'s calls fail with NOT_AUTHORIZED, the fabric stays up', async () => {
    const s = fabric.openSession({ vhost: uniqueName('no-such-vhost') });
    await rejectsWith(s.declareQueue(''), ErrorCode.NOT_AUTHORIZED);
    expect(s.writable).toBe(false);
    await s.close();
    expect(fabric.status().connected).toBe(true);
  });
});

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric shared consumer channels', () => {
  it('a consume the broker refuses (403, exclusive consumer) closes a shared channel: the others on it resume, own-queue consumers never notice', async () => {
    const fabric = makeFabric({ connectionsPerVhost: 1 });
    await fabric.start();
    const w = await witness();
    const shared = uniqueName('fshared');
    try {
      const a = fabric.openSession({ vhost: '/' });
      const b = fabric.openSession({ vhost: '/' });
      // a: a consumer on its own exclusive queue, and one on a shared queue
      const own = (await a.declareQueue('', { exclusive: true })).queue;
      await a.declareQueue(shared, {});
      const ownInbox = new Inbox();
      const ownConsumer = await a.consume(own, { prefetch: 10 }, ownInbox.push);
      const sharedInbox = new Inbox();
      const sharedConsumer = await a.consume(shared, { prefetch: 10 }, sharedInbox.push);
      await a.publish('', own, { body: body('own-unacked'), properties: {} }, { confirm: true });
      await a.publish('', shared, { body: body('shared-unacked'), properties: {} }, { confirm: true });
      const [ownHeld] = await ownInbox.waitFor(1);
      const [sharedHeld] = await sharedInbox.waitFor(1);
      // b: an exclusive consumer on an auto-delete queue, then a consume the broker refuses
      const qb = uniqueName('fexcl');
      await b.declareQueue(qb, { autoDelete: true });
      await b.bindQueue(qb, 'amq.direct', qb);
      const ex = await b.consume(qb, { exclusive: true }, () => undefined);
      await rejectsWith(b.consume(qb, {}, () => undefined), ErrorCode.NOT_AUTHORIZED);

      // a's shared-queue consumer moved to a fresh channel: its unacked delivery comes back redelivered
      const [, again] = await sharedInbox.waitFor(2);
      expect(again?.body.toString()).toBe('shared-unacked');
      expect(again?.redelivered).toBe(true);
      sharedConsumer.ack(sharedHeld!); // from the dead channel: ignored
      sharedConsumer.ack(again!);
      // b's auto-delete queue went with its consumer; it was declared again (with its binding) and ex resumed
      await waitUntil(async () => (await b.checkQueue(qb).catch(() => ({ consumerCount: 0 }))).consumerCount === 1, 5000, 'exclusive consumer resumed');
      await b.publish('amq.direct', qb, { body: body('routed again'), properties: {} }, { confirm: true, mandatory: true });
      // the own-queue consumer was on another channel: nothing redelivered, its ack still counts
      ownConsumer.ack(ownHeld!);
      await a.publish('', own, { body: body('own-next'), properties: {} }, { confirm: true });
      const [, ownNext] = await ownInbox.waitFor(2);
      expect(ownNext?.body.toString()).toBe('own-next');
      expect(ownNext?.redelivered).toBe(false);
      ownConsumer.ack(ownNext!);
      expect((await a.checkQueue(own)).messageCount).toBe(0);
      await ex.cancel();
      await Promise.all([a.close(), b.close()]);
    } finally {
      await w.conn.createChannel().then((ch) => ch.deleteQueue(shared)).catch(() => undefined);
      await w.close();
      await fabric.close();
    }
  });
});

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric start', () => {
  it('rejects when the broker cannot be reached, naming the URL without the password', async () => {
    const fabric = makeFabric({ url: 'amqp://guest:secret@127.0.0.1:1' });
    const err = await fabric.start().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(isGatewayError(err, ErrorCode.BACKEND_UNAVAILABLE)).toBe(true);
    expect(err?.message).toContain('amqp://guest:***@127.0.0.1:1');
    expect(err?.message).not.toContain('secret');
    await fabric.close();
  });
});
