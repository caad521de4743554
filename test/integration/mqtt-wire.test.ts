// E2E at the byte level: what mqtt.js would never send. Raw sockets with mqtt-packet's
// generator against a real gateway (embedded fabric; QoS 2 dedup also on RabbitMQ).
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { connectClient, mqttUsersFile, refusedConnect, topicName, type TestClient } from '../unit/mqtt/support/clients.js';
import { RawClient } from '../unit/mqtt/support/raw-client.js';

const LIMITS = {
  mqtt: { maxPacketBytes: 16 * 1024, maxPacketBytesUnauthenticated: 1024, maxTopicLevels: 8 },
  limits: { connectTimeoutMs: 500, maxInflightPerSession: 4, maxSubscriptionsPerSession: 3 },
};

describe('E2E: MQTT wire rules (embedded fabric)', () => {
  let gw: TestGateway;
  const raws: RawClient[] = [];
  const clients: TestClient[] = [];
  const raw = async (version: 3 | 4 | 5 = 4) => {
    const r = await RawClient.connect(gw.ports.mqtt!, version);
    raws.push(r);
    return r;
  };

  beforeAll(async () => {
    gw = await startTestGateway(LIMITS);
  });
  afterAll(async () => {
    for (const r of raws) r.destroy();
    await Promise.all(clients.map((c) => c.end(true)));
    await gw?.stop();
  });

  it('closes a connection whose first packet is not CONNECT, without answering [MQTT-3.1.0-1]', async () => {
    const r = await raw();
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 0 }] });
    await r.closed;
    expect(r.received).toEqual([]);
  });

  it('closes on a second CONNECT; MQTT 5 gets DISCONNECT 0x82 [MQTT-3.1.0-2]', async () => {
    const r = await raw(5);
    expect(await r.connectAs(uniqueName('c'), {}, 5)).toMatchObject({ reasonCode: 0 });
    r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'again', keepalive: 0 }, 5);
    expect(await r.next('disconnect')).toMatchObject({ reasonCode: 0x82, properties: { reasonString: 'second CONNECT on one connection' } });
    await r.closed;
  });

  it('answers an unsupported protocol level with CONNACK 0x01', async () => {
    const r = await raw();
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'x', keepalive: 0 });
    connect[8] = 6; // protocol level byte
    r.write(connect);
    expect(await r.next('connack')).toMatchObject({ returnCode: 1 });
    await r.closed;
  });

  it('refuses a client-only packet from the client (CONNACK), and a PUBLISH with a wildcard topic', async () => {
    const a = await raw(5);
    await a.connectAs(uniqueName('c'), {}, 5);
    a.send({ cmd: 'connack', sessionPresent: false, reasonCode: 0 }, 5);
    expect(await a.next('disconnect')).toMatchObject({ reasonCode: 0x82 });
    const b = await raw(5);
    await b.connectAs(uniqueName('c'), {}, 5);
    b.send({ cmd: 'publish', topic: 'a/+/b', qos: 0, dup: false, retain: false, payload: Buffer.from('x') }, 5);
    expect(await b.next('disconnect')).toMatchObject({ reasonCode: 0x90 });
    await Promise.all([a.closed, b.closed]);
  });

  it('closes a connection that sends no CONNECT within connectTimeoutMs', async () => {
    const started = Date.now();
    const r = await raw();
    await r.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('closes before buffering when a packet before CONNECT declares more than the pre-auth limit', async () => {
    const r = await raw();
    r.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f])); // CONNECT claiming 256 MiB
    const started = Date.now();
    await r.closed;
    expect(Date.now() - started).toBeLessThan(400); // at once, not at the connect deadline
  });

  it('after CONNECT, a packet over maxPacketBytes gets DISCONNECT 0x95 (5.0) or a close (3.1.1)', async () => {
    const a = await raw(5);
    await a.connectAs(uniqueName('c'), {}, 5);
    a.write(Buffer.from([0x30, 0x80, 0x80, 0x02])); // PUBLISH declaring 32 KiB
    expect(await a.next('disconnect')).toMatchObject({ reasonCode: 0x95 });
    const b = await raw(4);
    await b.connectAs(uniqueName('c'));
    b.write(Buffer.from([0x30, 0x80, 0x80, 0x02]));
    await b.closed;
    expect(b.received).toEqual([]);
  });

  it('refuses a remaining length with a fifth byte (malformed: 0x81)', async () => {
    const r = await raw(5);
    await r.connectAs(uniqueName('c'), {}, 5);
    r.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]));
    expect(await r.next('disconnect')).toMatchObject({ reasonCode: 0x81 });
    await r.closed;
  });

  it('QoS 2: a retransmitted PUBLISH is answered again but published once; PUBREL releases the id', async () => {
    const t = topicName('q2');
    const sub = await connectClient(gw.ports.mqtt!);
    clients.push(sub);
    await sub.client.subscribeAsync(`${t}/#`, { qos: 2 });
    const r = await raw();
    await r.connectAs(uniqueName('c'));
    const publish = (dup: boolean, payload: string): Packet => ({ cmd: 'publish', topic: `${t}/x`, qos: 2, messageId: 42, dup, retain: false, payload: Buffer.from(payload) });
    r.send(publish(false, 'first'));
    expect(await r.next('pubrec')).toMatchObject({ messageId: 42 });
    r.send(publish(true, 'first'));
    expect(await r.next('pubrec')).toMatchObject({ messageId: 42 });
    r.send({ cmd: 'pubrel', messageId: 42 });
    expect(await r.next('pubcomp')).toMatchObject({ messageId: 42 });
    // the id is free again: the same id now carries a new message
    r.send(publish(false, 'second'));
    await r.next('pubrec');
    r.send({ cmd: 'pubrel', messageId: 42 });
    await r.next('pubcomp');
    const got = await sub.waitFor(2);
    expect(got.map((m) => m.payload.toString())).toEqual(['first', 'second']);
    await sub.quiet(200);
  });

  it('PUBREL for an unknown id gets PUBCOMP 0x92 (5.0)', async () => {
    const r = await raw(5);
    await r.connectAs(uniqueName('c'), {}, 5);
    r.send({ cmd: 'pubrel', messageId: 9, reasonCode: 0 }, 5);
    expect(await r.next('pubcomp')).toMatchObject({ messageId: 9, reasonCode: 0x92 });
  });

  it('outbound window: no more unacknowledged QoS 1 PUBLISHes than the client’s Receive Maximum', async () => {
    const t = topicName('win');
    const r = await raw(5);
    await r.connectAs(uniqueName('c'), { properties: { receiveMaximum: 2 } }, 5);
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${t}/#`, qos: 1, nl: false, rap: false, rh: 0 }] }, 5);
    await r.next('suback');
    const pub = await connectClient(gw.ports.mqtt!);
    clients.push(pub);
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(`${t}/m`, String(i), { qos: 1 });
    const first = [await r.next('publish'), await r.next('publish')] as Array<Packet & { cmd: 'publish' }>;
    await expect(r.next('publish', 300)).rejects.toThrow(/no publish/);
    r.send({ cmd: 'puback', messageId: first[0]!.messageId, reasonCode: 0 }, 5);
    const third = (await r.next('publish')) as Packet & { cmd: 'publish' };
    expect(third.payload.toString()).toBe('2');
  });

  it('inbound window: an MQTT 5 client beyond our Receive Maximum is disconnected with 0x93', async () => {
    const r = await raw(5);
    const connack = await r.connectAs(uniqueName('c'), {}, 5);
    expect(connack).toMatchObject({ properties: { receiveMaximum: 4 } });
    for (let id = 1; id <= 6; id++) r.send({ cmd: 'publish', topic: 'w/x', qos: 2, messageId: id, dup: false, retain: false, payload: Buffer.from('x') }, 5);
    expect(await r.next('disconnect')).toMatchObject({ reasonCode: 0x93 });
  });

  it('topic aliases: an unknown alias is a protocol error, an out-of-range one 0x94', async () => {
    const a = await raw(5);
    await a.connectAs(uniqueName('c'), {}, 5);
    a.send({ cmd: 'publish', topic: '', qos: 0, dup: false, retain: false, payload: Buffer.from('x'), properties: { topicAlias: 3 } }, 5);
    expect(await a.next('disconnect')).toMatchObject({ reasonCode: 0x82 });
    const b = await raw(5);
    await b.connectAs(uniqueName('c'), {}, 5);
    b.send({ cmd: 'publish', topic: 'a', qos: 0, dup: false, retain: false, payload: Buffer.from('x'), properties: { topicAlias: 1000 } }, 5);
    expect(await b.next('disconnect')).toMatchObject({ reasonCode: 0x94 });
  });

  it('limits: subscriptions per session (SUBACK 0x97 / 0x80) and topic levels (0x8F)', async () => {
    const r = await raw(5);
    await r.connectAs(uniqueName('c'), {}, 5);
    const subs = ['a', 'b', 'c', 'd', 'a/b/c/d/e/f/g/h/i'].map((topic) => ({ topic, qos: 0 as const, nl: false, rap: false, rh: 0 }));
    r.send({ cmd: 'subscribe', messageId: 1, subscriptions: subs }, 5);
    expect(await r.next('suback')).toMatchObject({ granted: [0, 0, 0, 0x97, 0x8f] });
    const v4 = await raw(4);
    await v4.connectAs(uniqueName('c'));
    v4.send({ cmd: 'subscribe', messageId: 1, subscriptions: ['a', 'b', 'c', 'd'].map((topic) => ({ topic, qos: 1 as const })) });
    expect(await v4.next('suback')).toMatchObject({ granted: [1, 1, 1, 0x80] });
  });

  it('3.1.1: an empty client id with clean session off is refused with 0x02 [MQTT-3.1.3-8]', async () => {
    const r = await raw();
    // mqtt-packet will not generate it: CONNECT 'MQTT' level 4, flags 0 (clean session off), keepalive 0, client id ''
    r.write(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 0, 0, 0]));
    expect(await r.next('connack')).toMatchObject({ returnCode: 2 });
    await r.closed;
  });

  it('MQTT 3.1 (MQIsdp, level 3) connects', async () => {
    const r = await raw(3);
    expect(await r.connectAs(uniqueName('c31'), {}, 3)).toMatchObject({ returnCode: 0 });
  });

  it('fuzz: mutated sessions over real sockets close only their own connection; the listener keeps serving', async () => {
    const valid = [
      mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: 'fz', keepalive: 0 }),
      mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fz/#', qos: 1, nl: false, rap: false, rh: 0 }] }, { protocolVersion: 5 }),
      mqttPacket.generate({ cmd: 'publish', topic: 'fz/a', qos: 1, messageId: 2, dup: false, retain: false, payload: Buffer.from('p'), properties: { userProperties: { a: 'b' } } }, { protocolVersion: 5 }),
      mqttPacket.generate({ cmd: 'pingreq' }),
    ];
    const bystander = await connectClient(gw.ports.mqtt!, { protocolVersion: 5 });
    clients.push(bystander);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 3 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 3 }), async (which, flips) => {
        const bytes = Buffer.concat(valid);
        const start = valid.slice(0, which).reduce((n, b) => n + b.length, 0);
        const len = (valid[which] as Buffer).length;
        for (const [pos, bit] of flips) {
          const i = start + (pos % len);
          bytes[i] = (bytes[i] as number) ^ (1 << bit);
        }
        const s = net.connect(gw.ports.mqtt!, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('data', () => undefined);
        s.end(bytes);
        await new Promise<void>((resolve) => s.once('close', () => resolve()));
      }),
      { numRuns: 300 },
    );
    await bystander.client.publishAsync('fz-ok/alive', 'yes', { qos: 1 });
    expect(bystander.client.connected).toBe(true);
    const after = await connectClient(gw.ports.mqtt!);
    clients.push(after);
    expect(after.client.connected).toBe(true);
  }, 60_000);
});

describe('E2E: MQTT vhosts (embedded fabric)', () => {
  it('`vhost:user` picks the vhost; vhosts do not see each other; an unknown prefix is part of the user name', async () => {
    const gw = await startTestGateway({ auth: { usersFile: await mqttUsersFile(), vhosts: ['iot'] } });
    const opened: TestClient[] = [];
    try {
      const t = topicName('vh');
      const inIot = await connectClient(gw.ports.mqtt!, { username: 'iot:dave', password: 'dave' });
      const inDefault = await connectClient(gw.ports.mqtt!, { username: 'dave', password: 'dave' });
      opened.push(inIot, inDefault);
      await inIot.client.subscribeAsync(`${t}/#`, { qos: 1 });
      await inDefault.client.subscribeAsync(`${t}/#`, { qos: 1 });
      await inDefault.client.publishAsync(`${t}/x`, 'default', { qos: 1 });
      await inIot.client.publishAsync(`${t}/x`, 'iot', { qos: 1 });
      const [a] = await inIot.waitFor(1);
      const [b] = await inDefault.waitFor(1);
      expect([a!.payload.toString(), b!.payload.toString()]).toEqual(['iot', 'default']);
      await inIot.quiet(200);
      expect((await refusedConnect(gw.ports.mqtt!, { username: 'nope:dave', password: 'dave' })).code).toBe(4);
    } finally {
      await Promise.all(opened.map((c) => c.end(true)));
      await gw.stop();
    }
  });
});

describe('E2E: MQTT graceful shutdown', () => {
  it('tells MQTT 5 clients DISCONNECT 0x8B and closes 3.1.1 ones', async () => {
    const gw = await startTestGateway({ shutdownTimeoutMs: 2_000 });
    const v5 = await RawClient.connect(gw.ports.mqtt!, 5);
    await v5.connectAs(uniqueName('c'), {}, 5);
    const v4 = await RawClient.connect(gw.ports.mqtt!, 4);
    await v4.connectAs(uniqueName('c'));
    await gw.stop();
    expect(await v5.next('disconnect')).toMatchObject({ reasonCode: 0x8b });
    await Promise.all([v5.closed, v4.closed]);
    expect(v4.received).toEqual([]);
  });
});

describe.runIf(brokerAvailable)('E2E: MQTT on [rabbitmq]: QoS 2 dedup, nothing after DISCONNECT', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({}, { fabric: 'amqp' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('nothing follows a DISCONNECT: acknowledgements still awaiting the broker when a malformed packet ends the connection are not written (5.0; found by the live fuzz)', async () => {
    for (let round = 0; round < 5; round++) {
      const r = await RawClient.connect(gw.ports.mqtt!, 5);
      await r.connectAs(uniqueName('c'), {}, 5);
      // one write: a QoS 2 PUBLISH (PUBREC after the broker's confirm) and its PUBREL (PUBCOMP
      // behind it), then a malformed packet (a fifth remaining-length byte) that ends the
      // connection at once — before the broker has answered
      const v5 = { protocolVersion: 5 } as const;
      const publish = mqttPacket.generate({ cmd: 'publish', topic: topicName('farewell'), qos: 2, messageId: 7, dup: false, retain: false, payload: Buffer.from('x') }, v5);
      const pubrel = mqttPacket.generate({ cmd: 'pubrel', messageId: 7 } as Packet, v5);
      r.write(Buffer.concat([publish, pubrel, Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])]));
      await r.closed;
      expect(r.received.map((p) => p.cmd), `round ${round}`).toEqual(['disconnect']);
    }
  });

  it('a retransmitted QoS 2 PUBLISH reaches subscribers once', async () => {
    const t = topicName('q2r');
    const sub = await connectClient(gw.ports.mqtt!);
    await sub.client.subscribeAsync(`${t}/#`, { qos: 2 });
    const r = await RawClient.connect(gw.ports.mqtt!);
    await r.connectAs(uniqueName('c'));
    const p: Packet = { cmd: 'publish', topic: `${t}/x`, qos: 2, messageId: 7, dup: false, retain: false, payload: Buffer.from('once') };
    r.send(p);
    r.send({ ...p, dup: true } as Packet);
    await r.next('pubrec');
    await r.next('pubrec');
    r.send({ cmd: 'pubrel', messageId: 7 });
    await r.next('pubcomp');
    await sub.waitFor(1);
    await sub.quiet(300);
    r.destroy();
    await sub.end();
  });
});
