// Flow control and scale: the confirm window and RabbitMQ's connection.blocked turn into
// `writable` false (never into buffering), consumers keep going while publishers are blocked,
// and thousands of sessions share a bounded number of connections and channels.

import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../src/errors.js';
import { createMetrics } from '../../src/metrics.js';
import type { FabricSession } from '../../src/fabric/types.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { Inbox, body, makeFabric, once, rabbitmqctl, waitUntil, witness } from './fabric-amqp-helpers.js';

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric flow control and scale', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
  });

  async function deleteQueueLater(name: string): Promise<void> {
    cleanup.push(async () => {
      const w = await witness();
      const ch = await w.conn.createChannel();
      await ch.deleteQueue(name);
      await w.close();
    });
  }

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

  it('memory alarm: blocked → unwritable while consumers keep consuming; unblocked → the held publish is confirmed', async () => {
    const status = await rabbitmqctl('status');
    const setting = /Memory high watermark setting: ([\d.]+) of available memory/.exec(status)?.[1];
    expect(setting, 'this test restores a relative watermark; the broker has another kind').toBeDefined();
    const fabric = makeFabric();
    cleanup.push(() => fabric.close());
    await fabric.start();
    const s: FabricSession = fabric.openSession({ vhost: '/' });
    const q = uniqueName('fblocked');
    await deleteQueueLater(q);
    await s.declareQueue(q, {});
    for (let i = 0; i < 5; i++) await s.publish('', q, { body: body(`before-${i}`), properties: {} }, { confirm: true });
    let writableAgain = 0;
    s.onWritable(() => writableAgain++);

    const inbox = new Inbox();
    let heldSettled = false;
    let held: Promise<void> | undefined;
    const unblocked = once(fabric, 'unblocked', 60_000);
    try {
      const blocked = once<[string]>(fabric, 'blocked', 30_000);
      await rabbitmqctl('set_vm_memory_high_watermark', '0.000001');
      // RabbitMQ tells a connection it is blocked when it publishes
      held = s.publish('', q, { body: body('during'), properties: {} }, { confirm: true });
      void held.finally(() => (heldSettled = true));
      const [reason] = await blocked;
      expect(reason).toMatch(/memory/i);
      expect(fabric.status()).toMatchObject({ connected: true, blocked: true });
      expect(s.writable).toBe(false);
      // consumers live on the other connection, which the alarm does not block
      const consumer = await s.consume(q, { prefetch: 2 }, (d) => {
        inbox.push(d);
        consumer.ack(d);
      });
      await inbox.waitFor(5);
      expect(heldSettled).toBe(false);
    } finally {
      await rabbitmqctl('set_vm_memory_high_watermark', setting ?? '0.4');
    }
    await unblocked;
    await held;
    expect(fabric.status()).toEqual({ connected: true, blocked: false });
    expect(s.writable).toBe(true);
    expect(writableAgain).toBeGreaterThanOrEqual(1);
    const all = await inbox.waitFor(6);
    expect(all.map((d) => d.body.toString())).toEqual(['before-0', 'before-1', 'before-2', 'before-3', 'before-4', 'during']);
    await s.close();
  }, 90_000);

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
