// E2E: MQTT next to AMQP and STOMP on one routing space, and what must survive on RabbitMQ:
// a gateway restart (persistent sessions, retained messages), two gateway processes sharing a
// client id, wills the broker holds back.
import type { Channel, ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionQueueName, sessionStateQueueName } from '../../src/protocols/mqtt/names.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { connectClient, topicName, type TestClient } from '../unit/mqtt/support/clients.js';
import { RawClient } from '../unit/mqtt/support/raw-client.js';
import { amqpConnection, BrokerCleanup, FABRICS } from '../unit/stomp/support/fabrics.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';

for (const [label, fabric, enabled] of FABRICS) {
  describe.runIf(enabled)(`E2E: MQTT ⇄ STOMP on the ${label}`, () => {
    let gw: TestGateway;
    beforeAll(async () => {
      gw = await startTestGateway({ stomp: { heartbeatMs: 0 } }, { fabric });
    });
    afterAll(async () => {
      await gw?.stop();
    });

    it('an MQTT publish to a/b/c reaches STOMP /topic/a.b.c, and a STOMP SEND reaches the MQTT filter', async () => {
      const t = topicName('x');
      const stomp = await RawStompClient.connect(gw.ports.stomp!);
      await stomp.withReceipt('SUBSCRIBE', { id: 's1', destination: `/topic/${t}.d1.temp` });
      const mqttClient = await connectClient(gw.ports.mqtt!, { protocolVersion: 5 });
      await mqttClient.client.subscribeAsync(`${t}/+/cmd`, { qos: 1 });
      const bytes = Buffer.from([0x00, 0x01, 0xfe, 0xff]);
      await mqttClient.client.publishAsync(`${t}/d1/temp`, bytes, { qos: 1 });
      const frame = await stomp.nextMatching((f) => f.command === 'MESSAGE');
      expect(frame.headers['destination']).toBe(`/topic/${t}.d1.temp`);
      expect(Buffer.from(frame.body).equals(bytes)).toBe(true);
      await stomp.withReceipt('SEND', { destination: `/topic/${t}.d2.cmd`, 'content-type': 'text/plain', custom: 'v' }, 'reboot');
      const [m] = await mqttClient.waitFor(1);
      expect([m!.topic, m!.payload.toString()]).toEqual([`${t}/d2/cmd`, 'reboot']);
      expect(m!.packet.properties).toMatchObject({ contentType: 'text/plain', userProperties: { custom: 'v' } });
      stomp.socket.destroy();
      await mqttClient.end();
    });
  });
}

describe.runIf(brokerAvailable)('E2E: MQTT with AMQP peers on [rabbitmq]', () => {
  let gw: TestGateway;
  let amqp: ChannelModel;
  let ch: Channel;
  const cleanup = new BrokerCleanup('amqp');
  const clients: TestClient[] = [];
  const client = async (opts: Parameters<typeof connectClient>[1] = {}, on = gw) => {
    const c = await connectClient(on.ports.mqtt!, opts);
    clients.push(c);
    return c;
  };
  /** an exclusive AMQP queue bound to amq.topic with `key` */
  const amqpQueue = async (key: string) => {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.topic', key);
    return queue;
  };

  beforeAll(async () => {
    gw = await startTestGateway({}, { fabric: 'amqp' });
    amqp = await amqpConnection();
    ch = await amqp.createChannel();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end(true).catch(() => undefined)));
    await amqp?.close().catch(() => undefined);
    await gw?.stop();
    await cleanup.run();
  });

  it('MQTT → an AMQP consumer bound with devices.d1.temp: bytes unchanged, QoS in x-mqtt-publish-qos', async () => {
    const t = topicName('dev');
    const queue = await amqpQueue(`${t}.d1.temp`);
    const pub = await client({ protocolVersion: 4 });
    const payload = Buffer.from([0xde, 0xad, 0x00, 0xbe, 0xef]);
    await pub.client.publishAsync(`${t}/d1/temp`, payload, { qos: 1 });
    await pub.client.publishAsync(`${t}/d1/temp`, 'zero', { qos: 0 });
    const first = await getOne(ch, queue);
    expect(first.content.equals(payload)).toBe(true);
    expect(first.fields.routingKey).toBe(`${t}.d1.temp`);
    expect(first.properties.deliveryMode).toBe(2);
    expect(first.properties.headers).toMatchObject({ 'x-mqtt-publish-qos': 1 });
    const second = await getOne(ch, queue);
    expect(second.properties.headers).toMatchObject({ 'x-mqtt-publish-qos': 0 });
  });

  it('AMQP → MQTT 5: delivery mode → QoS, headers → user properties, content type, correlation id, expiration', async () => {
    const t = topicName('down');
    const sub = await client({ protocolVersion: 5 });
    await sub.client.subscribeAsync(`${t}/#`, { qos: 2 });
    ch.publish('amq.topic', `${t}.d2.cmd`, Buffer.from('{"on":true}'), {
      deliveryMode: 2,
      contentType: 'application/json',
      correlationId: 'c-17',
      expiration: '60000',
      headers: { origin: 'backend', attempt: 3 },
    });
    const [m] = await sub.waitFor(1);
    expect(m!.topic).toBe(`${t}/d2/cmd`);
    expect(m!.packet.qos).toBe(1);
    expect(m!.packet.properties).toMatchObject({
      contentType: 'application/json',
      correlationData: Buffer.from('c-17'),
      userProperties: { origin: 'backend', attempt: '3' },
    });
    expect(m!.packet.properties?.messageExpiryInterval).toBeLessThanOrEqual(60);
  });

  it('request/response: an AMQP RPC service answers an MQTT 5 request through reply-to', async () => {
    const t = topicName('rpc');
    const { queue: requests } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(requests, 'amq.topic', `${t}.service.time`);
    await ch.consume(requests, (msg) => {
      if (msg === null) return;
      // the tutorial-style RPC server: default exchange, routing key = reply-to
      ch.sendToQueue(msg.properties.replyTo as string, Buffer.from(`answer to ${msg.content.toString()}`), { correlationId: msg.properties.correlationId as string });
      ch.ack(msg);
    });
    const requester = await client({ protocolVersion: 5 });
    await requester.client.subscribeAsync(`${t}/replies/me`, { qos: 1 });
    await requester.client.publishAsync(`${t}/service/time`, 'what time is it', {
      qos: 1,
      properties: { responseTopic: `${t}/replies/me`, correlationData: Buffer.from('req-1') },
    });
    const [reply] = await requester.waitFor(1);
    expect(reply!.topic).toBe(`${t}/replies/me`);
    expect(reply!.payload.toString()).toBe('answer to what time is it');
    expect(reply!.packet.properties?.correlationData).toEqual(Buffer.from('req-1'));
  });

  it('a persistent session survives a gateway restart: no QoS 1 message is lost, unacked ones come again with DUP', async () => {
    const t = topicName('restart');
    const clientId = uniqueName('dev').replace(/[^\w-]/g, '');
    cleanup.queue(sessionQueueName(clientId));
    cleanup.queue(sessionStateQueueName(clientId));
    const first = await startTestGateway({}, { fabric: 'amqp' });
    // a raw subscriber that receives but never acks
    const raw = await RawClient.connect(first.ports.mqtt!);
    await raw.connectAs(clientId, { clean: false });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${t}/#`, qos: 1 }] });
    await raw.next('suback');
    const pub = await connectClient(first.ports.mqtt!);
    for (let i = 0; i < 3; i++) await pub.client.publishAsync(`${t}/m`, `before-${i}`, { qos: 1 });
    for (let i = 0; i < 3; i++) expect(await raw.next('publish')).toMatchObject({ dup: false });
    await pub.end();
    await first.stop();
    await raw.closed;
    // published while no gateway serves the client: straight into its queue via AMQP
    for (let i = 0; i < 3; i++) ch.publish('amq.topic', `${t}.m`, Buffer.from(`offline-${i}`), { deliveryMode: 2, headers: { 'x-mqtt-publish-qos': 1 } });

    const second = await startTestGateway({}, { fabric: 'amqp' });
    try {
      const back = await client({ clientId, clean: false }, second);
      expect(back.connack?.sessionPresent).toBe(true);
      const got = await back.waitFor(6);
      expect(got.map((m) => m.payload.toString())).toEqual(['before-0', 'before-1', 'before-2', 'offline-0', 'offline-1', 'offline-2']);
      expect(got.slice(0, 3).every((m) => m.packet.dup)).toBe(true);
      expect(got.slice(3).every((m) => !m.packet.dup && m.packet.qos === 1)).toBe(true);
      await back.end();
      // end the session for good
      const clean = await client({ clientId, clean: true }, second);
      await clean.end();
    } finally {
      await second.stop();
    }
  });

  it('retained messages survive a gateway restart and are shared by two gateways', async () => {
    const t = topicName('ret');
    const a = await startTestGateway({}, { fabric: 'amqp' });
    const pubA = await connectClient(a.ports.mqtt!);
    await pubA.client.publishAsync(`${t}/lamp`, 'on', { qos: 1, retain: true });
    const b = await startTestGateway({}, { fabric: 'amqp' });
    try {
      // b started after the publish: it read the log; a third gateway hears updates live
      const onB = await client({}, b);
      await onB.client.subscribeAsync(`${t}/+`, { qos: 1 });
      const [m] = await onB.waitFor(1);
      expect([m!.topic, m!.payload.toString(), m!.packet.retain]).toEqual([`${t}/lamp`, 'on', true]);
      await pubA.client.publishAsync(`${t}/lamp`, 'off', { qos: 1, retain: true });
      await pubA.end();
      await a.stop();
      const later = await client({}, b);
      await later.client.subscribeAsync(`${t}/lamp`, { qos: 1 });
      const [m2] = await later.waitFor(1);
      expect(m2!.payload.toString()).toBe('off');
      await later.client.publishAsync(`${t}/lamp`, '', { qos: 1, retain: true });
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('takeover across two gateway processes: the first connection gets DISCONNECT 0x8E', async () => {
    const other = await startTestGateway({}, { fabric: 'amqp' });
    try {
      const clientId = uniqueName('twin').replace(/[^\w-]/g, '');
      const first = await client({ clientId, protocolVersion: 5 });
      const closed = new Promise<void>((resolve) => first.client.stream.once('close', () => resolve()));
      const second = await client({ clientId, protocolVersion: 5 }, other);
      await closed;
      expect(first.disconnects).toEqual([{ reasonCode: 0x8e }]);
      expect(second.client.connected).toBe(true);
      // and back again: 3.1.1 this time
      const third = await client({ clientId, protocolVersion: 4 });
      await new Promise<void>((resolve) => (second.client.stream.destroyed ? resolve() : second.client.stream.once('close', () => resolve())));
      expect(third.client.connected).toBe(true);
    } finally {
      await other.stop();
    }
  });

  it('a delayed will is held by the broker and cancelled by a reconnect within the delay', async () => {
    const t = topicName('dwill');
    const watcher = await client({ protocolVersion: 5 });
    await watcher.client.subscribeAsync(`${t}/#`, { qos: 1 });
    const clientId = uniqueName('w').replace(/[^\w-]/g, '');
    const will = { topic: `${t}/gone`, payload: Buffer.from('bye'), qos: 1 as const, retain: false, properties: { willDelayInterval: 1 } };
    const props = { sessionExpiryInterval: 30 };
    cleanup.queue(sessionStateQueueName(clientId));
    const c1 = await connectClient(gw.ports.mqtt!, { clientId, protocolVersion: 5, clean: false, properties: props, will });
    c1.client.stream.destroy();
    const dropped = Date.now();
    const [m] = await watcher.waitFor(1, 5_000);
    expect(m!.payload.toString()).toBe('bye');
    expect(Date.now() - dropped).toBeGreaterThanOrEqual(900);
    // again, but come back in time
    const c2 = await connectClient(gw.ports.mqtt!, { clientId, protocolVersion: 5, clean: false, properties: props, will });
    c2.client.stream.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const c3 = await client({ clientId, protocolVersion: 5, clean: true });
    await watcher.quiet(1_500);
    await c3.end();
  });
});

async function getOne(ch: Channel, queue: string): Promise<Exclude<Awaited<ReturnType<Channel['get']>>, false>> {
  for (let i = 0; i < 100; i++) {
    const m = await ch.get(queue, { noAck: true });
    if (m !== false) return m;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`nothing in ${queue}`);
}
