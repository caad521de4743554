// Losing RabbitMQ and getting it back: 'down' then 'up', topology declared again, consumers
// resumed with the same Consumer objects, unconfirmed publishes rejected (never falsely
// resolved), nothing buffered while the broker is away.

import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../src/errors.js';
import type { AmqpFabric } from '../../src/fabric/amqp/index.js';
import type { Delivery, FabricSession } from '../../src/fabric/types.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { BrokerRelay, Inbox, body, connectionPids, makeFabric, once, rabbitmqctl, waitUntil, witness } from './fabric-amqp-helpers.js';

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric recovery', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });

  it('connections closed by the broker mid-stream: down, up, topology and consumers back; no false confirms', async () => {
    const marker = uniqueName('recovery');
    const fabric = makeFabric({ connectionName: marker });
    cleanup.push(() => fabric.close());
    await fabric.start();
    const s = fabric.openSession({ vhost: '/' });

    // a named queue that survives the loss (to account for every confirmed publish) …
    const durableish = uniqueName('frec');
    cleanup.push(async () => {
      const w = await witness();
      const ch = await w.conn.createChannel();
      await ch.deleteQueue(durableish);
      await w.close();
    });
    await s.declareQueue(durableish, {});
    const exchange = uniqueName('frec-x');
    cleanup.push(async () => {
      const w = await witness();
      const ch = await w.conn.createChannel();
      await ch.deleteExchange(exchange);
      await w.close();
    });
    await s.declareExchange(exchange, 'topic');
    await s.bindQueue(durableish, exchange, 'stream.#');
    // … and a server-named exclusive queue with a binding, which the broker deletes with the connection
    const temp = (await s.declareQueue('', { exclusive: true })).queue;
    await s.bindQueue(temp, exchange, 'temp.*');

    const received = new Inbox();
    const consumer = await s.consume(durableish, { prefetch: 50 }, (d) => {
      received.push(d);
      consumer.ack(d);
    });
    const tempInbox = new Inbox();
    const tempConsumer = await s.consume(temp, { noAck: true }, tempInbox.push);

    const events: string[] = [];
    fabric.on('down', () => events.push('down'));
    fabric.on('up', () => events.push('up'));
    const down = once(fabric, 'down');
    const up = once(fabric, 'up');

    // a stream of confirmed publishes, with the connections closed in the middle of it
    const outcomes: Promise<'ok' | string>[] = [];
    let sent = 0;
    let stop = false;
    const pump = (async () => {
      while (!stop) {
        const n = sent++;
        outcomes.push(
          s.publish(exchange, 'stream.x', { body: body(`m${n}`), properties: {} }, { confirm: true }).then(
            () => 'ok',
            (e: unknown) => (isGatewayError(e) ? e.code : String(e)),
          ),
        );
        // a well-behaved reader: pause while not writable (but keep trying while the broker is away)
        if (!s.writable) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, 10);
            const off = s.onWritable(done);
            function done() {
              clearTimeout(timer);
              off();
              resolve();
            }
          });
        } else if (n % 10 === 0) await new Promise((r) => setTimeout(r, 1));
      }
    })();
    await received.waitFor(100);
    const pids = await connectionPids(marker);
    expect(pids).toHaveLength(2); // one consume + one publish connection
    await Promise.all(pids.map((pid) => rabbitmqctl('close_connection', pid, 'test: simulated broker loss')));
    await down;
    await up;
    // both connections were replaced (they may have gone one after the other)
    await waitUntil(async () => {
      const now = await connectionPids(marker);
      return fabric.status().connected && now.length === 2 && now.every((p) => !pids.includes(p));
    }, 20_000, 'both connections re-established');
    stop = true;
    await pump;
    expect(events[0]).toBe('down');
    expect(events.at(-1)).toBe('up');
    expect(events.join(',')).toMatch(/^(down,up,?)+$/);
    expect(fabric.status()).toEqual({ connected: true, blocked: false });

    const results = await Promise.all(outcomes);
    const confirmed = new Set(results.flatMap((r, i) => (r === 'ok' ? [`m${i}`] : [])));
    const failures = new Set(results.filter((r) => r !== 'ok'));
    expect([...failures].every((code) => code === ErrorCode.BACKEND_UNAVAILABLE), [...failures].join()).toBe(true);
    expect(failures.size).toBeGreaterThan(0); // some were in flight when the connections went
    // every publish the fabric confirmed reaches the consumer (at least once), after the resume
    const seen = () => new Set(received.items.map((d) => d.body.toString()));
    await waitUntil(() => {
      const got = seen();
      return [...confirmed].every((m) => got.has(m));
    }, 30_000, `all ${confirmed.size} confirmed messages`);

    // the same consumer objects keep working, the binding of the renamed temp queue is back
    await s.publish(exchange, 'stream.after', { body: body('after'), properties: {} }, { confirm: true });
    await waitUntil(() => seen().has('after'), 10_000, 'post-recovery delivery');
    await s.publish(exchange, 'temp.x', { body: body('temp-after'), properties: {} }, { confirm: true });
    const [t] = await tempInbox.waitFor(1);
    expect(t?.body.toString()).toBe('temp-after');
    expect(t?.consumerTag).toBe(tempConsumer.tag);
    expect(tempConsumer.queue).toMatch(/^amq\.gen-/);
    expect(tempConsumer.queue).not.toBe(temp); // the broker deleted it and gave it a new name
    await s.close();
  }, 90_000);

  it('while the broker is away: publishes and declares fail at once, writable is false; back: onWritable fires, stale acks are ignored', async () => {
    const relay = new BrokerRelay();
    await relay.up();
    cleanup.push(() => relay.down());
    const fabric = makeFabric({ url: relay.url });
    cleanup.push(() => fabric.close());
    await fabric.start();
    const s: FabricSession = fabric.openSession({ vhost: '/' });
    const q = uniqueName('frelay');
    cleanup.push(async () => {
      const w = await witness();
      const ch = await w.conn.createChannel();
      await ch.deleteQueue(q);
      await w.close();
    });
    await s.declareQueue(q, {});
    await s.publish('', q, { body: body('held'), properties: {} }, { confirm: true });
    const inbox = new Inbox();
    const consumer = await s.consume(q, { prefetch: 10 }, inbox.push);
    const [held] = await inbox.waitFor(1);
    let writableCalls = 0;
    s.onWritable(() => writableCalls++);

    const down = once<[string]>(fabric, 'down');
    await relay.down();
    const [reason] = await down;
    expect(reason).toMatch(/connection lost/);
    await waitUntil(() => fabric.connections().every((c) => !c.isUp), 5000, 'both connections down');
    expect(fabric.status()).toMatchObject({ connected: false });
    expect(fabric.status().reason).toBeTruthy();
    expect(s.writable).toBe(false);

    const t0 = Date.now();
    const failures = await Promise.all([
      s.publish('', q, { body: body('while down'), properties: {} }, { confirm: true }).catch((e: unknown) => e),
      s.publish('', q, { body: body('while down, no confirm'), properties: {} }).catch((e: unknown) => e),
      s.declareQueue(uniqueName('frelay-down')).catch((e: unknown) => e),
      s.checkQueue(q).catch((e: unknown) => e),
    ]);
    expect(Date.now() - t0).toBeLessThan(1000);
    for (const f of failures) expect(isGatewayError(f, ErrorCode.BACKEND_UNAVAILABLE), String(f)).toBe(true);
    consumer.ack(held as Delivery); // its channel is gone: must be ignored, not thrown

    const up = once(fabric, 'up');
    await relay.up();
    await up;
    expect(s.writable).toBe(true);
    expect(writableCalls).toBeGreaterThan(0);

    // the unacked delivery comes back, redelivered, to the same consumer object
    const [, again] = await inbox.waitFor(2);
    expect(again?.body.toString()).toBe('held');
    expect(again?.redelivered).toBe(true);
    consumer.ack(held as Delivery); // stale tag from the old channel: ignored
    consumer.ack(again as Delivery);
    await s.publish('', q, { body: body('fresh'), properties: {} }, { confirm: true });
    const [, , fresh] = await inbox.waitFor(3);
    expect(fresh?.body.toString()).toBe('fresh');
    consumer.ack(fresh as Delivery);
    await waitUntil(async () => (await s.checkQueue(q)).messageCount === 0, 5000, 'queue empty');
    expect(inbox.items).toHaveLength(3); // the channel survived the stale ack: nothing redelivered
    await s.close();
  });
});
