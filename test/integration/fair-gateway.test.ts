// Fair streams through a real gateway: real MQTT and STOMP clients on a stream with a
// per-publisher cap (MQTT 5 PUBACK 0x97, MQTT 3.1.1 PUBACK withheld until there is room, QoS 0
// copy dropped, STOMP ERROR instead of a RECEIPT), the management API and metrics, and on
// RabbitMQ a gateway restart and a failover between two gateways with every message counted.
//
// The streams here identify publishers by client id: the MQTT and STOMP sessions pass theirs
// (SessionOwner.publisher) when they open their fabric session.
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { AmqpFabric } from '../../src/fabric/amqp/index.js';
import { fairOutputQueue, publisherQueue, type FairFabric } from '../../src/fair/index.js';
import { DEFAULT_TUNING } from '../../src/fair/tuning.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';
import { connectClient } from '../unit/mqtt/support/clients.js';
import { BrokerRelay, makeFabric } from './fabric-amqp-helpers.js';
import { deleteStreamQueues, eventually, streamConfig, Worker } from './fair-helpers.js';

const MQTT_CLIENT_ID = 'client-id';
const admin = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function gateway(streams: ReturnType<typeof streamConfig>[], fabric?: 'amqp' | AmqpFabric): Promise<TestGateway> {
  const gw = await startTestGateway({ fair: { streams }, shutdownTimeoutMs: 2_000 }, fabric === undefined ? {} : { fabric });
  cleanups.push(() => gw.stop());
  return gw;
}

const fairOf = (gw: TestGateway): FairFabric => gw.gateway.ctx.fabric as FairFabric;

/** publish QoS 1 one after another until one is refused; how many got in, and the refusal */
async function publishUntilRefused(client: mqtt.MqttClient, topic: string, limit: number): Promise<{ accepted: number; code: number | undefined }> {
  for (let i = 0; i < limit; i++) {
    try {
      await client.publishAsync(topic, `m${i}`, { qos: 1 });
    } catch (err) {
      return { accepted: i, code: (err as { code?: number }).code };
    }
  }
  return { accepted: limit, code: undefined };
}

/**
 * MQTT 3.1.1 has no code for "quota exceeded": the gateway publishes with whenFull 'wait', so
 * the PUBACK of the publish that found the queue full (and of those behind it) is withheld
 * until the dispatcher has made room. Counted: every publish is acknowledged once, and every
 * message comes out of the stream.
 */
async function pubackWithheldUntilRoom(fabric: 'embedded' | 'amqp'): Promise<void> {
  const stream = fabric === 'amqp' ? uniqueName('cap3').replace(/[^A-Za-z0-9_-]/g, '') : 'cap3';
  const clientId = 'flood311';
  if (fabric === 'amqp') removeStreamQueues(stream, [clientId]);
  const gw = await gateway([streamConfig(stream, { maxPerPublisher: 2, outputQueueLength: 1, publisherBy: MQTT_CLIENT_ID })], fabric === 'amqp' ? 'amqp' : undefined);
  await eventually(() => fairOf(gw).isDispatching(stream), 10_000, 'the dispatcher');
  const flood = await connectClient(gw.ports.mqtt as number, { protocolVersion: 4, clientId });
  cleanups.push(() => flood.end(true));
  const total = 60;
  let acked = 0;
  const all = Array.from({ length: total }, (_, i) => flood.client.publishAsync(`${stream}/x`, `m${i}`, { qos: 1 }).then(() => void (acked += 1)));
  await eventually(() => (fairOf(gw).fairStatus(stream)?.ingress.refused ?? 0) >= 1, 10_000, 'the publisher queue to be full');
  // held back, not refused and not closed: its queue (2) + what the dispatcher holds + the output (1)
  expect(acked).toBeLessThanOrEqual(2 + DEFAULT_TUNING.prefetchPerPublisher + 1);
  expect(acked).toBeLessThan(total);
  expect(flood.client.connected).toBe(true);

  const session = fabric === 'embedded' ? fairOf(gw).inner.openSession({ vhost: '/' }) : await amqpSession();
  const worker = await new Worker(session, stream).start(10);
  cleanups.push(() => worker.stop());
  await Promise.all(all);
  expect(acked).toBe(total);
  await worker.waitUntil(() => new Set(worker.bodies()).size === total, 15_000, () => `${total} distinct (have ${new Set(worker.bodies()).size})`);
  expect(new Set(worker.bodies())).toEqual(new Set(Array.from({ length: total }, (_, i) => `m${i}`)));
  expect(flood.client.connected).toBe(true);
  console.log(`[fair 3.1.1 backpressure ${fabric}] ${total} published, PUBACKs withheld while full, ${acked} acked, ${worker.got.length} delivered (${worker.got.length - total} duplicates), refused-then-waited ${fairOf(gw).fairStatus(stream)?.ingress.refused}`);
}

async function amqpSession() {
  const fabric = makeFabric();
  await fabric.start();
  cleanups.push(() => fabric.close());
  return fabric.openSession({ vhost: '/' });
}

describe('E2E: fair streams through the gateway (embedded fabric)', () => {
  it('MQTT 5 QoS 1: PUBACK 0x97 (quota exceeded) for the publisher whose queue is full; others unaffected', async () => {
    const stream = 'cap5';
    const gw = await gateway([streamConfig(stream, { maxPerPublisher: 3, outputQueueLength: 1, publisherBy: MQTT_CLIENT_ID })]);
    const flood = await connectClient(gw.ports.mqtt as number, { protocolVersion: 5, clientId: 'flood' });
    const quiet = await connectClient(gw.ports.mqtt as number, { protocolVersion: 5, clientId: 'quiet' });
    cleanups.push(() => flood.end(true), () => quiet.end(true));

    const { accepted, code } = await publishUntilRefused(flood.client, `${stream}/flood/x`, 100);
    expect(code).toBe(0x97);
    // its queue (3) + what the dispatcher holds (its prefetch) + the output queue (1)
    expect(accepted).toBeGreaterThanOrEqual(3);
    expect(accepted).toBeLessThanOrEqual(3 + DEFAULT_TUNING.prefetchPerPublisher + 1);
    await quiet.client.publishAsync(`${stream}/quiet/x`, 'fine', { qos: 1 });
    expect(flood.client.connected).toBe(true); // refused, not disconnected

    const status = (await gw.gateway.http.inject({ url: `/api/fair/${stream}`, headers: admin })).json();
    expect(status).toMatchObject({ stream, role: 'leader', maxPerPublisher: 3, outputQueue: fairOutputQueue(stream) });
    expect(status.ingress.refused).toBeGreaterThanOrEqual(1);
    expect(status.publishers).toBe(2);
    expect(status.backlogTop[0]).toMatchObject({ publisher: 'flood' });
  });

  it('MQTT 3.1.1 QoS 1: the PUBACK is withheld while the publisher queue is full, and sent once the dispatcher made room; nothing lost', async () => {
    await pubackWithheldUntilRoom('embedded');
  });

  it('MQTT QoS 0: a copy that does not fit is dropped; the normal route still gets every message', async () => {
    const stream = 'cap0';
    const gw = await gateway([streamConfig(stream, { maxPerPublisher: 2, outputQueueLength: 1, publisherBy: MQTT_CLIENT_ID })]);
    await eventually(() => fairOf(gw).isDispatching(stream), 5_000, 'the dispatcher');
    const normal = await connectClient(gw.ports.mqtt as number, { protocolVersion: 4 });
    const dev = await connectClient(gw.ports.mqtt as number, { protocolVersion: 4, clientId: 'dev0' });
    cleanups.push(() => normal.end(true), () => dev.end(true));
    await normal.client.subscribeAsync(`${stream}/#`, { qos: 1 });
    const total = 80;
    for (let i = 0; i < total; i++) await dev.client.publishAsync(`${stream}/x`, `m${i}`, { qos: 0 });
    // a QoS 1 marker behind them in the publisher queue (its PUBACK waits for room: 3.1.1)
    const marker = dev.client.publishAsync(`${stream}/x`, 'end', { qos: 1 });
    expect((await normal.waitFor(total + 1, 10_000)).map((m) => m.payload.toString())).toEqual([...Array.from({ length: total }, (_, i) => `m${i}`), 'end']);

    const worker = await new Worker(fairOf(gw).inner.openSession({ vhost: '/' }), stream).start(10);
    cleanups.push(() => worker.stop());
    await marker;
    await worker.waitUntil(() => worker.bodies().includes('end'), 10_000, () => 'the QoS 1 marker');
    // its queue (2) + what the dispatcher held (prefetch) + the output queue (1): the rest was dropped
    const fairCopies = worker.bodies().filter((b) => b !== 'end').length;
    expect(fairCopies).toBeGreaterThanOrEqual(2);
    expect(fairCopies).toBeLessThanOrEqual(2 + DEFAULT_TUNING.prefetchPerPublisher + 1);
    expect(dev.client.connected).toBe(true);
  });

  it('STOMP SEND with a receipt: ERROR (quota exceeded) instead of the RECEIPT once the queue is full', async () => {
    const stream = 'capstomp';
    const gw = await gateway([streamConfig(stream, { maxPerPublisher: 2, outputQueueLength: 1 })]);
    const c = await RawStompClient.connect(gw.ports.stomp as number, { login: 'guest', passcode: 'guest' });
    cleanups.push(() => c.disconnect());
    let error: string | undefined;
    let receipts = 0;
    for (let i = 0; i < 100 && error === undefined; i++) {
      await c.withReceipt('SEND', { destination: `/topic/${stream}.x` }, `m${i}`).then(
        () => void (receipts += 1),
        (err: Error) => void (error = err.message),
      );
    }
    expect(error).toMatch(/quota exceeded/i);
    expect(error).toMatch(/is full \(2 messages\)/);
    // as after any STOMP ERROR the connection closes; every SEND that got its RECEIPT is in the stream
    await eventually(() => !c.isOpen, 5_000, 'the connection to close');
    expect(fairOf(gw).fairStatus(stream)?.ingress).toEqual({ placed: receipts, refused: 1 });
  });

  it('STOMP SEND without a receipt: unconfirmed, like QoS 0: a copy that does not fit is dropped, the connection stays', async () => {
    const stream = 'capstomp0';
    const gw = await gateway([streamConfig(stream, { maxPerPublisher: 2, outputQueueLength: 1 })]);
    await eventually(() => fairOf(gw).isDispatching(stream), 5_000, 'the dispatcher');
    const normal = await connectClient(gw.ports.mqtt as number, { protocolVersion: 4 });
    cleanups.push(() => normal.end(true));
    await normal.client.subscribeAsync(`${stream}/#`, { qos: 1 });
    const c = await RawStompClient.connect(gw.ports.stomp as number, { login: 'guest', passcode: 'guest', 'client-id': 'stomp-dev' });
    cleanups.push(() => c.disconnect());
    const total = 80;
    for (let i = 0; i < total; i++) c.send('SEND', { destination: `/topic/${stream}.x` }, `m${i}`);
    await c.withReceipt('SUBSCRIBE', { id: 'other', destination: `/topic/${stream}.nothing` }); // every SEND before it was handled
    expect(await normal.waitFor(total, 10_000)).toHaveLength(total);

    const worker = await new Worker(fairOf(gw).inner.openSession({ vhost: '/' }), stream).start(10);
    cleanups.push(() => worker.stop());
    // drained: the publisher queue empty, nothing held by the dispatcher, the worker has all it dispatched
    const look = fairOf(gw).inner.openSession({ vhost: '/' });
    await eventually(async () => {
      const left = (await look.checkQueue(publisherQueue(stream, 'stomp-dev'))).messageCount;
      const st = fairOf(gw).fairStatus(stream);
      return left === 0 && st?.activePublishers === 0 && st.dispatchedTotal > 0 && worker.got.length === st.dispatchedTotal;
    }, 10_000, 'the stream to drain');
    expect(worker.got.length).toBeGreaterThanOrEqual(2);
    expect(worker.got.length).toBeLessThanOrEqual(2 + DEFAULT_TUNING.prefetchPerPublisher + 1);
    expect(c.isOpen).toBe(true);
  });

  it('/api/fair lists streams, /api/fair/<unknown> is 404, and the Prometheus gauges are there', async () => {
    const gw = await gateway([streamConfig('apia'), streamConfig('apib', { amqpIntake: true, publisherBy: 'header:x-device' })]);
    await eventually(() => fairOf(gw).isDispatching('apib'), 5_000, 'dispatchers');
    const list = (await gw.gateway.http.inject({ url: '/api/fair', headers: admin })).json();
    expect(list.streams.map((s: { stream: string }) => s.stream)).toEqual(['apia', 'apib']);
    expect(list.streams[1]).toMatchObject({ publisherBy: 'header:x-device', intake: { sorted: 0, dropped: 0 } });
    expect((await gw.gateway.http.inject({ url: '/api/fair/nope', headers: admin })).statusCode).toBe(404);
    expect((await gw.gateway.http.inject({ url: '/api/fair/apia' })).statusCode).toBe(401);
    const metrics = (await gw.gateway.http.inject('/metrics')).body;
    expect(metrics).toMatch(/tributary_fair_dispatching\{stream="apia"\} 1/);
    expect(metrics).toMatch(/tributary_fair_publishers\{stream="apib"\} 0/);
  });
});

function removeStreamQueues(stream: string, publishers: string[]): void {
  cleanups.unshift(() => deleteStreamQueues(stream, publishers));
}

/** QoS 1, at most 16 unacknowledged at a time (the gateway's Receive Maximum is 32: mqtt.js does not enforce it) */
async function mqttPublishAll(port: number, clientId: string, stream: string, count: number): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId, protocolVersion: 5, reconnectPeriod: 0 });
  for (let i = 0; i < count; i += 16) {
    const batch = Array.from({ length: Math.min(16, count - i) }, (_, j) => client.publishAsync(`${stream}/${clientId}`, `${clientId}:${i + j}`, { qos: 1 }));
    await Promise.all(batch);
  }
  await client.endAsync();
}

describe.runIf(brokerAvailable)('[rabbitmq] fair streams through gateways', () => {
  it('MQTT 3.1.1 QoS 1: PUBACK withheld while the publisher queue is full, sent once there is room; nothing lost', async () => {
    await pubackWithheldUntilRoom('amqp');
  }, 40_000);

  it('gateway restart: MQTT QoS 1 messages wait in their publisher queues; the next gateway delivers every one', async () => {
    const stream = uniqueName('gwrs');
    const publishers = ['dev-a', 'dev-b'];
    removeStreamQueues(stream, publishers);
    const streams = [streamConfig(stream, { outputQueueLength: 10, publisherBy: MQTT_CLIENT_ID })];
    const first = await gateway(streams, 'amqp');
    await eventually(() => fairOf(first).isDispatching(stream), 10_000, 'the first gateway to dispatch');
    await Promise.all(publishers.map((p) => mqttPublishAll(first.ports.mqtt as number, p, stream, 200)));
    await eventually(() => fairOf(first).fairStatus(stream)?.publishers === 2, 10_000, 'both publishers known');
    await first.stop();

    const second = await gateway(streams, 'amqp');
    await eventually(() => fairOf(second).isDispatching(stream), 10_000, 'the second gateway to dispatch');
    const witness = makeFabric();
    cleanups.push(() => witness.close());
    await witness.start();
    const worker = await new Worker(witness.openSession({ vhost: '/' }), stream).start(20);
    await worker.waitUntil(() => new Set(worker.bodies()).size === 400, 30_000, () => `400 distinct (have ${new Set(worker.bodies()).size})`);
    for (const p of publishers) {
      const mine = worker.bodies().filter((b) => b.startsWith(`${p}:`));
      expect(new Set(mine).size).toBe(200);
    }
    await worker.stop();
  });

  it('failover between two gateways: the leading gateway loses its broker connections; 0 lost', async () => {
    const stream = uniqueName('gwfo');
    const publishers = ['d1', 'd2', 'd3'];
    removeStreamQueues(stream, publishers);
    const streams = [streamConfig(stream, { outputQueueLength: 20, publisherBy: MQTT_CLIENT_ID })];
    const relay = new BrokerRelay();
    await relay.up();
    cleanups.push(() => relay.down());
    const leader = await gateway(streams, makeFabric({ url: relay.url, backoff: { initialMs: 5_000, maxMs: 5_000, factor: 1, jitter: 0 } }));
    await eventually(() => fairOf(leader).isDispatching(stream), 10_000, 'gateway A to dispatch');
    const standby = await gateway(streams, 'amqp');
    await Promise.all(publishers.map((p) => mqttPublishAll(standby.ports.mqtt as number, p, stream, 200)));

    const witness = makeFabric();
    cleanups.push(() => witness.close());
    await witness.start();
    const worker = await new Worker(witness.openSession({ vhost: '/' }), stream).start(10);
    await worker.waitFor(150);
    const cutAt = Date.now();
    await relay.down();
    await eventually(() => fairOf(standby).isDispatching(stream), 15_000, 'gateway B to take over');
    const takeoverMs = Date.now() - cutAt;
    await worker.waitUntil(() => new Set(worker.bodies()).size === 600, 30_000, () => `600 distinct (have ${new Set(worker.bodies()).size})`);
    console.log(`[fair gateway failover] takeover ${takeoverMs} ms, 600 delivered, duplicates ${worker.got.length - 600}`);
    expect(takeoverMs).toBeLessThan(5_000);
    await worker.stop();
  });
});
