// ConsumeOptions.ownChannel on the AMQP fabric: the consumer gets a channel nobody else joins,
// so that its acks coalesce into multiple acks even while another consumer of the same
// connection holds a delivery unacked (which keeps a shared channel's acks one by one: a
// multiple ack there would settle the other consumer's delivery too).

import { afterEach, describe, expect, it } from 'vitest';
import type { Channel } from 'amqplib';
import type { AmqpConsumer } from '../../src/fabric/amqp/consumer.js';
import type { Consumer, Delivery } from '../../src/fabric/types.js';
import { brokerAvailable } from '../support/broker.js';
import { body, cleanups, makeFabric, waitUntil } from './fabric-amqp-helpers.js';

const N = 300;

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric: a consumer on a channel of its own', () => {
  const cleanup = cleanups();
  afterEach(() => cleanup.run());

  /** acks sent on the busy consumer's channel while another consumer holds one delivery */
  async function acksWhileAnotherHolds(ownChannel: boolean): Promise<{ calls: number; multiple: number; shared: boolean; busy: AmqpConsumer }> {
    const fabric = makeFabric();
    cleanup.push(() => fabric.close());
    await fabric.start();
    const s = fabric.openSession({ vhost: '/' });
    const holdQ = (await s.declareQueue('', { exclusive: true })).queue;
    const busyQ = (await s.declareQueue('', { exclusive: true })).queue;
    let held: Delivery | null = null;
    const hold = (await s.consume(holdQ, { prefetch: 10 }, (d) => {
      held = d; // never acked while the busy consumer works
    })) as AmqpConsumer;
    await s.publish('', holdQ, { body: body('held'), properties: {} }, { confirm: true });
    await waitUntil(() => held !== null, 5000, 'the held delivery');

    let handled = 0;
    let busyConsumer: Consumer | null = null;
    const busy = (await s.consume(busyQ, { prefetch: 1000, ownChannel }, (d) => {
      handled += 1;
      busyConsumer?.ack(d);
    })) as AmqpConsumer;
    busyConsumer = busy;
    const ch = busy.channel?.ch as Channel;
    const counted = { calls: 0, multiple: 0 };
    const ack = ch.ack.bind(ch);
    ch.ack = (message, allUpTo) => {
      counted.calls += 1;
      if (allUpTo === true) counted.multiple += 1;
      ack(message, allUpTo);
    };
    await Promise.all(Array.from({ length: N }, (_, i) => s.publish('', busyQ, { body: body(String(i)), properties: {} }, { confirm: true })));
    await waitUntil(() => handled === N, 10_000, `${N} deliveries`);
    await waitUntil(async () => (await s.checkQueue(busyQ)).messageCount === 0, 5000, 'busy queue drained');
    // every delivery was settled: none comes back once the consumer goes
    const shared = busy.channel === hold.channel;
    await busy.cancel();
    expect((await s.checkQueue(busyQ)).messageCount).toBe(0);
    return { ...counted, shared, busy };
  }

  it('acks of an ownChannel consumer coalesce although another consumer holds a delivery unacked', async () => {
    const own = await acksWhileAnotherHolds(true);
    expect(own.shared).toBe(false);
    expect(own.multiple).toBeGreaterThan(0);
    expect(own.calls).toBeLessThan(N / 2);
  });

  it('without it, the consumers share a channel and every ack goes alone (what ownChannel avoids)', async () => {
    const shared = await acksWhileAnotherHolds(false);
    expect(shared.shared).toBe(true);
    expect(shared.multiple).toBe(0);
    expect(shared.calls).toBe(N);
  });

  it('the dedicated channel closes with its consumer, and a new ownChannel consumer gets a new one', async () => {
    const fabric = makeFabric();
    cleanup.push(() => fabric.close());
    await fabric.start();
    const s = fabric.openSession({ vhost: '/' });
    const q1 = (await s.declareQueue('', { exclusive: true })).queue;
    const q2 = (await s.declareQueue('', { exclusive: true })).queue;
    const plain = (await s.consume(q1, { prefetch: 1 }, () => undefined)) as AmqpConsumer;
    const first = (await s.consume(q2, { prefetch: 1, ownChannel: true }, () => undefined)) as AmqpConsumer;
    const dedicated = first.channel;
    expect(dedicated).not.toBe(plain.channel);
    expect(dedicated?.dedicated).toBe(true);
    await first.cancel();
    expect(dedicated?.closed).toBe(true);
    const second = (await s.consume(q2, { prefetch: 1, ownChannel: true }, () => undefined)) as AmqpConsumer;
    expect(second.channel).not.toBe(dedicated);
    expect(second.channel).not.toBe(plain.channel);
    // a plain consumer never joins a dedicated channel
    const third = (await s.consume(q1, { prefetch: 1 }, () => undefined)) as AmqpConsumer;
    expect(third.channel).toBe(plain.channel);
    await s.close();
  });
});
