// E2E [rabbitmq]: STOMP and AMQP-native peers on one broker. A STOMP SEND reaches an amqplib
// consumer with the mapped properties; an amqplib publish reaches a STOMP subscriber as a
// MESSAGE with the mapped headers. A durable STOMP subscription outlives a disconnect and a
// gateway restart, and delivers what was published meanwhile.
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStompProtocol } from '../../src/protocols/stomp/index.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { amqpConnection, BrokerCleanup, FABRICS } from '../unit/stomp/support/fabrics.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';

const name = (prefix: string) => uniqueName(prefix).replace(/[^\w-]/g, '');

describe.runIf(brokerAvailable)('[rabbitmq] E2E: STOMP ⇄ AMQP peers', () => {
  let gw: TestGateway;
  let amqp: ChannelModel;
  const cleanup = new BrokerCleanup('amqp');

  beforeAll(async () => {
    gw = await startTestGateway({ stomp: { heartbeatMs: 0 } }, { fabric: 'amqp', protocols: [createStompProtocol] });
    amqp = await amqpConnection();
  });
  afterAll(async () => {
    await gw?.stop();
    await amqp?.close().catch(() => undefined);
    await cleanup.run();
  });

  it('STOMP SEND /topic/a.b arrives at an amqplib consumer bound to amq.topic with mapped properties', async () => {
    const key = `${name('a')}.b`;
    const ch = await amqp.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.topic', key);
    const got = new Promise<ConsumeMessage>((resolve) => void ch.consume(queue, (m) => m && resolve(m), { noAck: true }));
    const c = await RawStompClient.connect(gw.ports.stomp!);
    await c.withReceipt('SEND', {
      destination: `/topic/${key}`, 'content-type': 'text/plain', 'content-encoding': 'utf-8', persistent: 'true', priority: '3',
      'correlation-id': 'corr', 'reply-to': '/queue/back', expiration: '60000', 'amqp-message-id': 'mid', timestamp: '1700000000',
      type: 'kind', 'user-id': 'guest', 'app-id': 'stomp-app', 'x-trace': 't-1', plain: 'v',
    }, Buffer.from([0, 1, 2, 0]));
    const m = await got;
    expect(m.fields).toMatchObject({ exchange: 'amq.topic', routingKey: key });
    expect(m.content).toEqual(Buffer.from([0, 1, 2, 0]));
    expect(m.properties).toMatchObject({
      contentType: 'text/plain', contentEncoding: 'utf-8', deliveryMode: 2, priority: 3, correlationId: 'corr', replyTo: '/queue/back',
      expiration: '60000', messageId: 'mid', timestamp: 1700000000, type: 'kind', userId: 'guest', appId: 'stomp-app',
    });
    expect(m.properties.headers).toMatchObject({ 'x-trace': 't-1', plain: 'v' });
    expect(m.properties.headers).not.toHaveProperty('destination');
    await c.disconnect();
    await ch.close();
  });

  it('an amqplib publish arrives as a MESSAGE with mapped headers; AMQP reply-to becomes /reply-queue/', async () => {
    const key = name('in');
    const c = await RawStompClient.connect(gw.ports.stomp!);
    await c.withReceipt('SUBSCRIBE', { id: 'amqp', destination: `/topic/${key}` });
    const ch = await amqp.createConfirmChannel();
    ch.publish('amq.topic', key, Buffer.from('from amqp'), {
      contentType: 'application/octet-stream', deliveryMode: 2, priority: 7, correlationId: 'c9', replyTo: 'amq.gen-abc',
      messageId: 'm9', timestamp: 1700000001, type: 't9', appId: 'svc', headers: { s: 'str', n: 42, f: 2.5, b: true, nested: { x: 1 } },
    });
    await ch.waitForConfirms();
    const [m] = await c.messages(1);
    expect(m!.headers).toMatchObject({
      destination: `/topic/${key}`, subscription: 'amqp', 'content-type': 'application/octet-stream', persistent: 'true', priority: '7',
      'correlation-id': 'c9', 'reply-to': '/reply-queue/amq.gen-abc', 'amqp-message-id': 'm9', timestamp: '1700000001', type: 't9',
      'app-id': 'svc', s: 'str', n: '42', f: '2.5', b: 'true',
    });
    expect(m!.headers['nested']).toBeUndefined();
    expect(m!.body.toString()).toBe('from amqp');
    await c.disconnect();
    await ch.close();
  });

  it('an AMQP service answers a STOMP request through /temp-queue/ reply-to', async () => {
    const svc = cleanup.queue(name('rpc'));
    const ch = await amqp.createChannel();
    await ch.assertQueue(svc, { durable: true });
    await ch.consume(svc, (m) => {
      if (!m) return;
      ch.sendToQueue(m.properties.replyTo as string, Buffer.from(`re: ${m.content}`), { correlationId: m.properties.correlationId });
      ch.ack(m);
    });
    const c = await RawStompClient.connect(gw.ports.stomp!);
    await c.withReceipt('SEND', { destination: `/amq/queue/${svc}`, 'reply-to': '/temp-queue/rpc', 'correlation-id': 'k' }, 'ping');
    const [reply] = await c.messages(1);
    expect(reply!.headers).toMatchObject({ subscription: '/temp-queue/rpc', 'correlation-id': 'k' });
    expect(reply!.body.toString()).toBe('re: ping');
    await c.disconnect();
    await ch.close();
  });
});

for (const [label, fabric, enabled] of FABRICS) {
  describe.runIf(enabled)(`E2E: STOMP durable subscriptions on the ${label}`, () => {
    const cleanup = new BrokerCleanup(fabric);
    let gw: TestGateway;
    const start = () => startTestGateway({ stomp: { heartbeatMs: 0 } }, { fabric, protocols: [createStompProtocol] });
    beforeAll(async () => {
      gw = await start();
    });
    afterAll(async () => {
      await gw?.stop();
      await cleanup.run();
    });

    const durable = (key: string) => ({ id: 'dur-1', destination: `/topic/${key}`, durable: 'true', 'auto-delete': 'false', ack: 'client' });

    it('survives a disconnect and delivers what was published meanwhile; UNSUBSCRIBE durable:true removes it', async () => {
      const key = name('dur');
      const a = await RawStompClient.connect(gw.ports.stomp!);
      await a.withReceipt('SUBSCRIBE', durable(key));
      await a.disconnect();
      const p = await RawStompClient.connect(gw.ports.stomp!);
      await p.withReceipt('SEND', { destination: `/topic/${key}` }, 'while away');
      const b = await RawStompClient.connect(gw.ports.stomp!);
      await b.withReceipt('SUBSCRIBE', durable(key));
      const [m] = await b.messages(1);
      expect(m!.body.toString()).toBe('while away');
      await b.withReceipt('ACK', { id: m!.headers['ack']! });
      await b.withReceipt('UNSUBSCRIBE', { id: 'dur-1', durable: 'true' });
      await p.withReceipt('SEND', { destination: `/topic/${key}` }, 'after unsubscribe');
      await b.withReceipt('SUBSCRIBE', { id: 'dur-2', destination: `/topic/${key}`, durable: 'true', 'auto-delete': 'false' });
      await b.noMessageFor(150);
      await b.withReceipt('UNSUBSCRIBE', { id: 'dur-2', durable: 'true' });
      await Promise.all([b.disconnect(), p.disconnect()]);
    });

    // the embedded fabric lives in the gateway's process: nothing survives its restart by design
    if (fabric === 'amqp') {
      it('survives a gateway restart and delivers what was published meanwhile', async () => {
        const key = name('restart');
        const a = await RawStompClient.connect(gw.ports.stomp!);
        await a.withReceipt('SUBSCRIBE', durable(key));
        await a.withReceipt('SEND', { destination: `/topic/${key}`, persistent: 'true' }, 'before restart');
        await gw.stop();
        await a.closed;
        // meanwhile an AMQP publisher keeps publishing to the topic
        const amqp = await amqpConnection();
        const ch = await amqp.createConfirmChannel();
        ch.publish('amq.topic', key, Buffer.from('during restart'), { deliveryMode: 2 });
        await ch.waitForConfirms();
        await amqp.close();
        gw = await start();
        const b = await RawStompClient.connect(gw.ports.stomp!);
        await b.withReceipt('SUBSCRIBE', durable(key));
        const got = await b.messages(2);
        expect(got.map((m) => m.body.toString())).toEqual(['before restart', 'during restart']);
        await b.withReceipt('UNSUBSCRIBE', { id: 'dur-1', durable: 'true' });
        await b.disconnect();
      });
    }
  });
}
