// QoS 1 publishes of an MQTT 3.1.1 client awaiting the broker's confirm, with mqtt.js against
// RabbitMQ: 3.x has no Receive Maximum, so the gateway keeps a wider window than
// limits.maxInflightPerSession (the MQTT 5 Receive Maximum) — bounded in bytes by
// limits.maxPendingBytesPerConnection — and still sends each PUBACK only after the broker
// confirmed that publish, in publish order.
import { connect as amqpConnect, type Channel, type ChannelModel } from 'amqplib';
import type { Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, brokerAvailable, uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { connectClient, type TestClient } from '../unit/mqtt/support/clients.js';

const WINDOW = 4;
const BYTES = 64 * 1024;

describe.runIf(brokerAvailable)('[rabbitmq] MQTT 3.1.1 QoS 1 publishes in flight', () => {
  let gw: TestGateway;
  let conn: ChannelModel;
  let ch: Channel;
  const clients: TestClient[] = [];
  const queues: string[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ limits: { maxInflightPerSession: WINDOW, maxPendingBytesPerConnection: BYTES } }, { fabric: 'amqp' });
    conn = await amqpConnect(amqpUrl);
    ch = await conn.createChannel();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end(true).catch(() => undefined)));
    for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
    await conn?.close().catch(() => undefined);
    await gw?.stop();
  });

  /** a queue bound to the topic's routing key; persistent messages into a durable queue are confirmed once written, so confirms take a while */
  async function queueFor(routingKey: string, args: Record<string, unknown> = {}): Promise<string> {
    const { queue } = await ch.assertQueue(uniqueName('mqtt-window'), { durable: true, arguments: args });
    queues.push(queue);
    await ch.bindQueue(queue, 'amq.topic', routingKey);
    return queue;
  }

  async function publisher(): Promise<{ client: TestClient; published: number[]; pubacks: number[]; closed: Promise<void> }> {
    const client = await connectClient(gw.ports.mqtt!, { protocolVersion: 4 });
    clients.push(client);
    const published: number[] = [];
    const pubacks: number[] = [];
    client.client.on('packetsend', (p: Packet) => {
      if (p.cmd === 'publish' && p.messageId !== undefined) published.push(p.messageId);
    });
    client.client.on('packetreceive', (p: Packet) => {
      if (p.cmd === 'puback' && p.messageId !== undefined) pubacks.push(p.messageId);
    });
    const closed = new Promise<void>((resolve) => client.client.once('close', () => resolve()));
    return { client, published, pubacks, closed };
  }

  /** the most MQTT QoS 1 publishes seen awaiting their confirm at once while `work` runs */
  async function maxInFlightDuring(work: Promise<unknown>): Promise<number> {
    const { messagesReceived, messagesConfirmed } = gw.gateway.ctx.metrics;
    const count = async (metric: typeof messagesReceived): Promise<number> => (await metric.get()).values.find((v) => v.labels.protocol === 'mqtt')?.value ?? 0;
    let sampling = true;
    let max = 0;
    const sampler = (async () => {
      while (sampling) {
        // received read before confirmed: the difference can only under-state what is in flight
        const inFlight = (await count(messagesReceived)) - (await count(messagesConfirmed));
        max = Math.max(max, inFlight);
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      await work;
    } finally {
      sampling = false;
      await sampler;
    }
    return max;
  }

  it('small payloads: more than maxInflightPerSession publishes await their confirm at once; every PUBACK, in publish order; all in the queue', async () => {
    const topic = uniqueName('win').replace(/-/g, '_');
    const queue = await queueFor(topic);
    const { client, published, pubacks } = await publisher();
    const total = 500;
    const all = Promise.all(Array.from({ length: total }, (_, i) => client.client.publishAsync(topic, `m${i}`, { qos: 1 })));
    const max = await maxInFlightDuring(all);
    expect(pubacks).toHaveLength(total);
    expect(pubacks).toEqual(published);
    expect(max).toBeGreaterThan(WINDOW);
    expect(max).toBeLessThanOrEqual(total);
    expect((await ch.checkQueue(queue)).messageCount).toBe(total);
  });

  it('large payloads: past maxInflightPerSession, no more than maxPendingBytesPerConnection of payload awaits its confirm', async () => {
    const topic = uniqueName('win').replace(/-/g, '_');
    const queue = await queueFor(topic);
    const { client, published, pubacks } = await publisher();
    const size = 16 * 1024;
    const total = 100;
    const payload = Buffer.alloc(size, 7);
    const all = Promise.all(Array.from({ length: total }, () => client.client.publishAsync(topic, payload, { qos: 1 })));
    const max = await maxInFlightDuring(all);
    expect(pubacks).toEqual(published);
    expect(pubacks).toHaveLength(total);
    // the publish that takes the payloads past the budget is the last one before the wait
    expect(max).toBeLessThanOrEqual(Math.max(WINDOW, Math.floor(BYTES / size)) + 1);
    expect((await ch.checkQueue(queue)).messageCount).toBe(total);
  });

  it('a publish the broker refuses (full queue, reject-publish): PUBACK for exactly the confirmed ones before it, in order, then the connection closes (3.1.1 has no error code)', async () => {
    const topic = uniqueName('win').replace(/-/g, '_');
    const kept = 50;
    const queue = await queueFor(topic, { 'x-max-length': kept, 'x-overflow': 'reject-publish' });
    const { client, published, pubacks, closed } = await publisher();
    const total = 200;
    for (let i = 0; i < total; i++) client.client.publish(topic, `m${i}`, { qos: 1 }, () => undefined);
    await closed;
    expect(published.length).toBeGreaterThan(kept);
    // the broker confirmed the first `kept` and nacked the next one: nothing is acknowledged after it
    expect(pubacks).toEqual(published.slice(0, kept));
    expect((await ch.checkQueue(queue)).messageCount).toBe(kept);
  });
});
