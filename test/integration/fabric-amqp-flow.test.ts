// Flow control and scale: the confirm window turns into `writable` false (never into
// buffering), and thousands of sessions share a bounded number of connections and channels.
// The broker memory-alarm test lives in test/faults/memory-alarm.test.ts: it blocks every
// publisher on the broker, so it runs in the sequential faults phase.

import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics.js';
import type { FabricSession } from '../../src/fabric/types.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { Inbox, body, cleanups, makeFabric, rabbitmqctl, waitUntil, witness } from './fabric-amqp-helpers.js';

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric flow control and scale', () => {
  const cleanup = cleanups();
  afterEach(() => cleanup.run());
  const deleteQueueLater = (name: string) => cleanup.deleteQueueLater(name);

  it('a full confirm window makes the session unwritable; past the hard limit publishes are refused', async () => {
    const fabric = makeFabric({ confirmWindow: 10, maxUnconfirmed: 30 });
    cleanup.push(() => fabric.close());
    await fabric.start();
    const s = fabric.openSession({ vhost: '/' });
    const q = (await s.declareQueue('', { exclusive: true })).queue;
    let writableAgain = 0;
    s.onWritable(() => writableAgain++);
    const publishes: Promise<void>[] = [];
    const writableAfter: boolean[] = [];
    for (let i = 0; i < 30; i++) {
      publishes.push(s.publish('', q, { body: body(String(i)), properties: {} }, { confirm: i % 2 === 0 }));
      writableAfter.push(s.writable);
    }
    expect(writableAfter.slice(0, 9).every(Boolean)).toBe(true);
    expect(writableAfter.slice(9).some(Boolean)).toBe(false);
    const refused = await s.publish('', q, { body: body('31st'), properties: {} }).catch((e: unknown) => e);
    expect(isGatewayError(refused, ErrorCode.LIMIT_EXCEEDED)).toBe(true);
    await Promise.all(publishes);
    await waitUntil(() => s.writable, 5000, 'writable again');
    expect(writableAgain).toBe(1);
    expect((await s.checkQueue(q)).messageCount).toBe(30);
    await s.close();
  });

  it('2,000 sessions with a queue, a binding and a consumer each use 4 connections and ~50 channels', async () => {
    const marker = uniqueName('scale');
    const metrics = createMetrics({ defaultMetrics: false });
    const fabric = makeFabric({ connectionsPerVhost: 2, connectionName: marker, metrics });
    cleanup.push(() => fabric.close());
    await fabric.start();
    const n = 2000;
    const t0 = Date.now();
    const sessions = Array.from({ length: n }, (_, i) => fabric.openSession({ vhost: '/', label: `s${i}` }));
    const inboxes = sessions.map(() => new Inbox());
    const keyPrefix = uniqueName('scale-key');
    const queues = await Promise.all(
      sessions.map(async (s, i) => {
        const { queue } = await s.declareQueue('', { exclusive: true });
        await s.bindQueue(queue, 'amq.topic', `${keyPrefix}.${i}`);
        await s.consume(queue, { prefetch: 10, noAck: true }, inboxes[i]!.push);
        return queue;
      }),
    );
    const setupMs = Date.now() - t0;

    const consumersPerChannel = 50;
    // per slot: 2 publish (confirm + plain) + 4 topology channels; consumer channels: 50 consumers each, at most one partly filled per slot
    const expectedChannels = 2 * (2 + 4) + Math.ceil(n / consumersPerChannel) + 2;
    expect(fabric.connections()).toHaveLength(4);
    expect(fabric.channelCount()).toBeLessThanOrEqual(expectedChannels);
    expect((await metrics.fabricChannels.get()).values[0]?.value).toBe(fabric.channelCount());
    // what the broker sees
    const lines = (await rabbitmqctl('list_connections', 'channels', 'client_properties')).split('\n').filter((l) => l.includes(marker));
    expect(lines).toHaveLength(4);
    const brokerChannels = lines.reduce((sum, l) => sum + Number(l.split('\t')[0]), 0);
    expect(brokerChannels).toBeLessThanOrEqual(expectedChannels);

    // every 100th session receives what is published for it, and only that
    const t1 = Date.now();
    const sample = Array.from({ length: n / 100 }, (_, k) => k * 100);
    await Promise.all(sample.map((i) => sessions[(i + 1) % n]!.publish('amq.topic', `${keyPrefix}.${i}`, { body: body(`for ${i}`), properties: {} }, { confirm: true })));
    for (const i of sample) expect((await inboxes[i]!.waitFor(1))[0]?.body.toString()).toBe(`for ${i}`);
    const roundTripMs = Date.now() - t1;

    const t2 = Date.now();
    await Promise.all(sessions.map((s) => s.close()));
    const closeMs = Date.now() - t2;
    const w = await witness();
    try {
      for (const i of sample) expect(await w.queueExists(queues[i]!)).toBe(false);
    } finally {
      await w.close();
    }
    console.info(`[scale] ${n} sessions: setup ${setupMs} ms, ${sample.length} routed round trips ${roundTripMs} ms, close ${closeMs} ms, channels ${brokerChannels}`);
  }, 120_000);
});
