// E2E: WAMP ⇄ AMQP on RabbitMQ. amqplib plays an AMQP-native service and client (it is
// only ever a test peer); two gateway processes share the broker.
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { amqpUrl, brokerAvailable } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { BrokerRelay, waitUntil } from './fabric-amqp-helpers.js';
import { EventInbox, RawWamp, openSession, uniqueTopic, type AbSession, type Opened } from './wamp-support.js';

type CallError = { error: string; args: unknown[]; kwargs: Record<string, unknown> };
const callError = (p: PromiseLike<unknown>) => Promise.resolve(p).then(() => { throw new Error('the call succeeded'); }, (e: CallError) => e);

/** consume `queue` and resolve with the first message that satisfies `pick` */
function firstMessage(ch: Channel, queue: string, noAck = true): Promise<ConsumeMessage> {
  return new Promise((resolve) => {
    void ch.consume(queue, (m) => m && resolve(m), { noAck });
  });
}

describe.runIf(brokerAvailable)('[rabbitmq] E2E: wamp ⇄ AMQP', () => {
  let gw1: TestGateway;
  let gw2: TestGateway;
  let amqp: ChannelModel;
  let ch: Channel;
  const open: Opened[] = [];
  const join = async (gw: TestGateway) => {
    const o = await openSession(gw.wsUrl('/ws'));
    open.push(o);
    return o.session;
  };

  beforeAll(async () => {
    gw1 = await startTestGateway({}, { fabric: 'amqp' });
    gw2 = await startTestGateway({}, { fabric: 'amqp' });
    amqp = await connect(amqpUrl);
    ch = await amqp.createChannel();
  });
  afterAll(async () => {
    await Promise.all(open.map((o) => o.close()));
    await amqp?.close().catch(() => undefined);
    await gw1?.stop();
    await gw2?.stop();
  });

  it('an AMQP service consuming the procedure queue answers WAMP CALLs (results, errors, progress)', async () => {
    const proc = uniqueTopic('amqp.service');
    await ch.assertQueue(proc, { durable: false, autoDelete: true });
    await ch.consume(proc, (m) => {
      if (!m) return;
      const { replyTo, correlationId, contentType } = m.properties;
      const input = JSON.parse(m.content.toString()) as { a: number; b: number; fail?: boolean };
      const reply = (body: unknown, headers: Record<string, unknown> = {}) =>
        ch.sendToQueue(replyTo, Buffer.from(JSON.stringify(body)), { correlationId, contentType: 'application/json', headers });
      expect(contentType).toBe('application/json');
      if (input.fail) reply('refused', { 'x-wamp-error': 'com.example.refused' });
      else {
        reply('working', { 'x-wamp-progress': true });
        reply({ sum: input.a + input.b });
      }
      ch.ack(m);
    });
    const caller = await join(gw1);
    expect(await caller.call(proc, [{ a: 2, b: 3 }])).toEqual({ sum: 5 });
    const progress: unknown[] = [];
    const final = await new Promise((resolve, reject) => caller.call(proc, [{ a: 1, b: 1 }], {}, { receive_progress: true }).then(resolve, reject, (p) => progress.push(p)));
    expect([progress, final]).toEqual([['working'], { sum: 2 }]);
    expect(await callError(caller.call(proc, [{ a: 0, b: 0, fail: true }]))).toMatchObject({ error: 'com.example.refused', args: ['refused'] });
    // a WAMP single registration cannot take a queue an AMQP service already consumes
    const callee = await join(gw2);
    const refused = await callee.register(proc, () => 0).then(() => null, (e: CallError) => e);
    expect(refused?.error).toBe('wamp.error.procedure_already_exists');
  });

  it('a WAMP callee answers AMQP requests sent with reply-to (own queue and direct reply-to)', async () => {
    const proc = uniqueTopic('wamp.callee');
    const callee = await join(gw1);
    await callee.register(proc, (args, kwargs) => ({ got: args, kw: kwargs }));
    const { queue: replies } = await ch.assertQueue('', { exclusive: true });
    const answered = firstMessage(ch, replies);
    ch.sendToQueue(proc, Buffer.from('{"args":[2,3],"kwargs":{"op":"add"}}'), {
      replyTo: replies,
      correlationId: 'c-1',
      contentType: 'application/vnd.tributary.wamp+json',
    });
    const reply = await answered;
    expect(reply.properties.correlationId).toBe('c-1');
    expect(reply.properties.contentType).toBe('application/json');
    expect(JSON.parse(reply.content.toString())).toEqual({ got: [2, 3], kw: { op: 'add' } });

    // RabbitMQ's direct reply-to, and a plain JSON body (one argument)
    const direct = await amqp.createChannel();
    const viaDirect = firstMessage(direct, 'amq.rabbitmq.reply-to');
    await new Promise((r) => setTimeout(r, 0));
    direct.sendToQueue(proc, Buffer.from('{"x":1}'), { replyTo: 'amq.rabbitmq.reply-to', correlationId: 'c-2' });
    const second = await viaDirect;
    expect(second.properties.correlationId).toBe('c-2');
    expect(JSON.parse(second.content.toString())).toEqual({ got: [{ x: 1 }], kw: {} });
    await direct.close();
  });

  it('a WAMP callee error reaches the AMQP requester as x-wamp-error', async () => {
    const proc = uniqueTopic('wamp.failing');
    const callee = await join(gw1);
    const { autobahn } = await import('./wamp-support.js');
    await callee.register(proc, () => {
      throw new autobahn.Error('com.example.nope', ['bad input']);
    });
    const { queue: replies } = await ch.assertQueue('', { exclusive: true });
    const answered = firstMessage(ch, replies);
    ch.sendToQueue(proc, Buffer.from('1'), { replyTo: replies, correlationId: 'e-1' });
    const reply = await answered;
    expect(reply.properties.headers?.['x-wamp-error']).toBe('com.example.nope');
    expect(reply.content.toString()).toBe('bad input');
  });

  it('a WAMP single registration is exclusive on the broker: an AMQP consumer is refused', async () => {
    const proc = uniqueTopic('exclusive');
    const callee = await join(gw1);
    await callee.register(proc, () => 1);
    const probe = await amqp.createChannel();
    probe.on('error', () => undefined);
    await expect(probe.consume(proc, () => undefined)).rejects.toMatchObject({ code: 403 });
  });

  it('two gateway processes: registrations are exclusive across them, calls cross them', async () => {
    const proc = uniqueTopic('across');
    const [onGw1, onGw2, caller2] = [await join(gw1), await join(gw2), await join(gw2)];
    await onGw1.register(proc, () => 'served by gw1');
    const refused = await onGw2.register(proc, () => 'gw2').then(() => null, (e: CallError) => e);
    expect(refused?.error).toBe('wamp.error.procedure_already_exists');
    expect(await caller2.call(proc, [])).toBe('served by gw1');
  });

  it('two gateway processes: shared roundrobin registration spreads calls over both', async () => {
    const proc = uniqueTopic('shared.across');
    const [a, b, caller] = [await join(gw1), await join(gw2), await join(gw1)];
    await a.register(proc, () => 'a', { invoke: 'roundrobin' });
    await b.register(proc, () => 'b', { invoke: 'roundrobin' });
    const answers: unknown[] = [];
    for (let i = 0; i < 20; i++) answers.push(await caller.call(proc, []));
    expect(new Set(answers)).toEqual(new Set(['a', 'b']));
  });

  it('two gateway processes: CANCEL kill reaches a callee on the other process as INTERRUPT', async () => {
    const proc = uniqueTopic('cancel.across');
    const callee = await RawWamp.connect(gw1.wsUrl('/ws'));
    await callee.hello('realm1', { roles: { callee: { features: { call_canceling: true } } } });
    callee.send([64, 1, {}, proc]);
    expect((await callee.next())[0]).toBe(65);
    const caller = await RawWamp.connect(gw2.wsUrl('/ws'));
    await caller.hello();
    caller.send([48, 1, {}, proc, []]);
    const inv = await callee.next();
    caller.send([49, 1, { mode: 'kill' }]);
    expect(await callee.next()).toEqual([69, inv[1], { mode: 'kill' }]);
    callee.send([8, 68, inv[1], {}, 'wamp.error.canceled']);
    expect((await caller.next()).slice(0, 5)).toEqual([8, 48, 1, {}, 'wamp.error.canceled']);
    callee.close();
    caller.close();
  });

  it('pub/sub across processes keeps publication IDs, exclusion and disclosure', async () => {
    const topic = uniqueTopic('events');
    const [pub, sub1, sub2] = [await join(gw1), await join(gw1), await join(gw2)];
    const [in1, in2, inPub] = [new EventInbox(), new EventInbox(), new EventInbox()];
    await sub1.subscribe(topic, in1.handler);
    await sub2.subscribe(topic, in2.handler);
    await pub.subscribe(topic, inPub.handler);
    const p = await pub.publish(topic, ['hi'], {}, { acknowledge: true, disclose_me: true, exclude: [sub2.id] });
    await pub.publish(topic, ['end'], {}, { acknowledge: true, exclude_me: false });
    const e1 = await in1.next();
    expect(e1.details).toMatchObject({ publication: p?.id, publisher: pub.id });
    expect((await in2.next()).args).toEqual(['end']); // excluded from 'hi' though on another process
    expect((await inPub.next()).args).toEqual(['end']); // exclude_me across the broker
  });

  it('AMQP publishes to amq.topic arrive as EVENTs; WAMP publishes arrive at AMQP consumers as readable JSON', async () => {
    const topic = uniqueTopic('interop');
    const sub = await join(gw1);
    const inbox = new EventInbox();
    await sub.subscribe(topic, inbox.handler);
    ch.publish('amq.topic', topic, Buffer.from('{"temp":21.5}'));
    ch.publish('amq.topic', topic, Buffer.from('plain text'), { contentType: 'text/plain' });
    expect((await inbox.next()).args).toEqual([{ temp: 21.5 }]);
    expect((await inbox.next()).args).toEqual(['plain text']);

    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.topic', topic);
    const received = firstMessage(ch, queue);
    const pub: AbSession = await join(gw2);
    await pub.publish(topic, [{ temp: 22 }], {}, { acknowledge: true });
    const m = await received;
    expect(m.properties.contentType).toBe('application/json');
    expect(JSON.parse(m.content.toString())).toEqual({ temp: 22 });
    expect(typeof m.properties.headers?.['x-wamp-publication']).toBe('number');
  });

  it('the AMQP properties of a WAMP publish: persistent only when acknowledged, a timestamp, no content type without a payload', async () => {
    const topic = uniqueTopic('props');
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.topic', topic);
    const got: ConsumeMessage[] = [];
    await ch.consume(queue, (m) => m && got.push(m), { noAck: true });
    const pub: AbSession = await join(gw1);
    await pub.publish(topic, ['acked'], {}, { acknowledge: true });
    pub.publish(topic, [], {});
    await waitUntil(() => got.length === 2, 10_000);
    const [acked, plain] = got as [ConsumeMessage, ConsumeMessage];
    expect(acked.properties.deliveryMode).toBe(2);
    expect(acked.properties.contentType).toMatch(/^text\/plain/);
    expect(plain.properties.deliveryMode).toBeUndefined();
    expect(plain.properties.contentType).toBeUndefined();
    for (const m of got) {
      expect(Math.abs(Number(m.properties.timestamp) - Date.now() / 1000)).toBeLessThan(60);
      expect(typeof m.properties.headers?.['x-wamp-publication']).toBe('number');
    }
  });

  it('a WAMP CALL reaches an AMQP service with reply-to, correlation id and the call timeout as expiration', async () => {
    const proc = uniqueTopic('props.proc');
    await ch.assertQueue(proc, { exclusive: true });
    const caller = await join(gw1);
    const served = firstMessage(ch, proc, false);
    const call = Promise.resolve(caller.call(proc, ['x'], {}, { timeout: 5000 })).catch(() => undefined);
    const m = await served;
    expect(m.properties.expiration).toBe('5000');
    expect(typeof m.properties.replyTo).toBe('string');
    expect(typeof m.properties.correlationId).toBe('string');
    expect(m.properties.contentType).toMatch(/^text\/plain/);
    ch.sendToQueue(m.properties.replyTo as string, Buffer.from('"ok"'), { correlationId: m.properties.correlationId as string, contentType: 'application/json' });
    ch.ack(m);
    await call;
  });
});

describe.runIf(brokerAvailable)('[rabbitmq] E2E: wamp across a broker outage', () => {
  let relay: BrokerRelay;
  let gw: TestGateway;
  beforeAll(async () => {
    relay = new BrokerRelay();
    await relay.up();
    gw = await startTestGateway({ amqpUrl: relay.url });
  });
  afterAll(async () => {
    await gw?.stop();
    await relay?.down();
  });

  it('subscriptions and registrations work again after the gateway reconnects', async () => {
    const topic = uniqueTopic('outage');
    const proc = uniqueTopic('outage.proc');
    const sub = await openSession(gw.wsUrl('/ws'));
    const callee = await openSession(gw.wsUrl('/ws'));
    const pub = await openSession(gw.wsUrl('/ws'));
    const inbox = new EventInbox();
    await sub.session.subscribe(topic, inbox.handler);
    await callee.session.register(proc, () => 'still here');
    await pub.session.publish(topic, ['before'], {}, { acknowledge: true });
    expect((await inbox.next()).args).toEqual(['before']);

    await relay.down();
    await waitUntil(async () => (await fetch(gw.url('/readyz'))).status === 503, 10_000, 'the gateway to notice');
    await relay.up();
    await waitUntil(async () => (await fetch(gw.url('/readyz'))).status === 200, 30_000, 'the gateway to reconnect');

    // the same WAMP sessions, untouched: their queues, bindings and consumers were restored
    await waitUntil(async () => {
      const ok = await pub.session.publish(topic, ['after'], {}, { acknowledge: true })!.then(() => true, () => false);
      return ok && inbox.pending > 0;
    }, 15_000, 'an event after the outage');
    expect((await inbox.next()).args).toEqual(['after']);
    expect(await pub.session.call(proc, [], {}, { timeout: 5000 })).toBe('still here');
    await Promise.all([sub.close(), callee.close(), pub.close()]);
  }, 60_000);
});
