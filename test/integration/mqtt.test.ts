// E2E: MQTT 3.1.1 and 5.0 with mqtt.js against a real gateway, on the embedded fabric and on
// RabbitMQ. Every topic starts with a unique first level, so runs never see each other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { sharedQueueName } from '../../src/protocols/mqtt/names.js';
import { BrokerCleanup } from '../unit/stomp/support/fabrics.js';
import { connectClient, mqttUsersFile, refusedConnect, topicName, type TestClient } from '../unit/mqtt/support/clients.js';

const FABRICS: Array<[string, 'embedded' | 'amqp', boolean]> = [
  ['embedded fabric', 'embedded', true],
  ['[rabbitmq] amqp fabric', 'amqp', brokerAvailable],
];

for (const [label, fabric, enabled] of FABRICS) {
  describe.runIf(enabled)(`E2E: MQTT on the ${label}`, () => {
    let gw: TestGateway;
    const open: TestClient[] = [];
    const cleanup = new BrokerCleanup(fabric);
    const client = async (opts: Parameters<typeof connectClient>[1] = {}) => {
      const c = await connectClient(gw.ports.mqtt!, opts);
      open.push(c);
      return c;
    };

    beforeAll(async () => {
      gw = await startTestGateway({ auth: { usersFile: await mqttUsersFile() }, mqtt: { maxPacketBytes: 64 * 1024 } }, { fabric });
    });
    afterAll(async () => {
      await Promise.all(open.map((c) => c.end(true).catch(() => undefined)));
      await gw?.stop();
      await cleanup.run();
    });

    describe.each([4, 5] as const)('protocol level %i', (protocolVersion) => {
      it('QoS 0, 1 and 2 both ways; payload bytes unchanged; delivered QoS = min(subscription, publish)', async () => {
        const t = topicName('q');
        const sub = await client({ protocolVersion });
        const pub = await client({ protocolVersion });
        await sub.client.subscribeAsync(`${t}/sub2/#`, { qos: 2 });
        await sub.client.subscribeAsync(`${t}/sub1/#`, { qos: 1 });
        const binary = Buffer.from([0, 0xff, 0x80, 0x0a, 0x2e]);
        for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(`${t}/sub2/x`, binary, { qos });
        await pub.client.publishAsync(`${t}/sub1/y`, binary, { qos: 2 });
        const got = await sub.waitFor(4);
        expect(got.map((m) => [m.topic, m.packet.qos])).toEqual([
          [`${t}/sub2/x`, 0],
          [`${t}/sub2/x`, 1],
          [`${t}/sub2/x`, 2],
          [`${t}/sub1/y`, 1],
        ]);
        for (const m of got) expect(m.payload.equals(binary)).toBe(true);
      });

      it('one copy per message to overlapping subscriptions, at the highest granted QoS', async () => {
        const t = topicName('o');
        const sub = await client({ protocolVersion });
        const pub = await client({ protocolVersion });
        await sub.client.subscribeAsync({ [`${t}/#`]: { qos: 0 }, [`${t}/+/b`]: { qos: 1 } });
        await pub.client.publishAsync(`${t}/a/b`, 'x', { qos: 1 });
        const [m] = await sub.waitFor(1);
        expect(m!.packet.qos).toBe(1);
        await sub.quiet(200);
      });

      it('wildcards at the first level do not match $-topics [MQTT-4.7.2-1]', async () => {
        const t = topicName('d');
        const all = await client({ protocolVersion });
        const dollar = await client({ protocolVersion });
        await all.client.subscribeAsync('#', { qos: 0 });
        await dollar.client.subscribeAsync(`$${t}/#`, { qos: 0 });
        const pub = await client({ protocolVersion });
        await pub.client.publishAsync(`$${t}/x`, 'hidden', { qos: 1 });
        await dollar.waitFor(1);
        expect(all.messages.filter((m) => m.topic.startsWith('$'))).toEqual([]);
        await all.client.unsubscribeAsync('#');
      });

      it('retained messages: delivered on (wildcard) subscribe with RETAIN set, cleared by an empty payload', async () => {
        const t = topicName('r');
        const pub = await client({ protocolVersion });
        await pub.client.publishAsync(`${t}/a/state`, 'on', { qos: 1, retain: true });
        await pub.client.publishAsync(`${t}/b/state`, 'off', { qos: 0, retain: true });
        const sub = await client({ protocolVersion });
        await sub.client.subscribeAsync(`${t}/+/state`, { qos: 1 });
        const got = await sub.waitFor(2);
        expect(got.map((m) => [m.topic, m.payload.toString(), m.packet.retain, m.packet.qos]).sort()).toEqual([
          [`${t}/a/state`, 'on', true, 1],
          [`${t}/b/state`, 'off', true, 0],
        ]);
        // live messages to an existing subscription are not flagged retained
        await pub.client.publishAsync(`${t}/a/state`, 'on2', { qos: 1, retain: true });
        const [, , live] = await sub.waitFor(3);
        expect(live!.packet.retain).toBe(false);
        await pub.client.publishAsync(`${t}/a/state`, '', { qos: 1, retain: true });
        await sub.waitFor(4);
        const later = await client({ protocolVersion });
        await later.client.subscribeAsync(`${t}/#`, { qos: 1 });
        const [only] = await later.waitFor(1);
        expect(only!.topic).toBe(`${t}/b/state`);
        await later.quiet(200);
        await pub.client.publishAsync(`${t}/b/state`, '', { qos: 1, retain: true });
      });

      it('last will: published when the connection drops, not after DISCONNECT', async () => {
        const t = topicName('w');
        const watcher = await client({ protocolVersion });
        await watcher.client.subscribeAsync(`${t}/#`, { qos: 1 });
        const polite = await client({ protocolVersion, will: { topic: `${t}/polite`, payload: Buffer.from('gone'), qos: 1, retain: false } });
        await polite.end();
        const rude = await client({ protocolVersion, will: { topic: `${t}/rude`, payload: Buffer.from('lost'), qos: 1, retain: false } });
        rude.client.stream.destroy();
        const [m] = await watcher.waitFor(1);
        expect([m!.topic, m!.payload.toString()]).toEqual([`${t}/rude`, 'lost']);
        await watcher.quiet(200);
      });

      it('keepalive: a silent client is dropped after 1.5 × keepalive and its will published', async () => {
        const t = topicName('k');
        const watcher = await client({ protocolVersion });
        await watcher.client.subscribeAsync(`${t}/#`, { qos: 1 });
        const silent = await client({ protocolVersion, keepalive: 1, will: { topic: `${t}/silent`, payload: Buffer.from('timeout'), qos: 0, retain: false } });
        // stop the client's pings: it goes quiet without closing its socket
        silent.client.options.keepalive = 0;
        (silent.client as unknown as { pingTimer?: { destroy(): void } }).pingTimer?.destroy();
        const started = Date.now();
        const closed = new Promise<void>((resolve) => silent.client.stream.once('close', () => resolve()));
        const [m] = await watcher.waitFor(1, 5_000);
        await closed;
        expect(m!.topic).toBe(`${t}/silent`);
        expect(Date.now() - started).toBeGreaterThanOrEqual(1_300);
        expect(Date.now() - started).toBeLessThan(3_500);
      });

      it('persistent session: subscriptions and QoS 1 messages wait while the client is away', async () => {
        const t = topicName('p');
        const clientId = uniqueName('persist');
        const persistent = protocolVersion === 5 ? { clean: false, properties: { sessionExpiryInterval: 60 } } : { clean: false };
        const first = await client({ protocolVersion, clientId, ...persistent });
        expect(first.client.connected).toBe(true);
        await first.client.subscribeAsync(`${t}/#`, { qos: 1, ...(protocolVersion === 5 ? { properties: { subscriptionIdentifier: 5 } } : {}) });
        await first.end();
        const pub = await client({ protocolVersion });
        for (let i = 0; i < 5; i++) await pub.client.publishAsync(`${t}/m`, String(i), { qos: 1 });
        expect(first.connack?.sessionPresent).toBe(false);
        const again = await client({ protocolVersion, clientId, ...persistent });
        expect(again.connack?.sessionPresent).toBe(true);
        const got = await again.waitFor(5);
        expect(got.map((m) => m.payload.toString())).toEqual(['0', '1', '2', '3', '4']);
        // the subscription's MQTT 5 options came back with the session
        if (protocolVersion === 5) expect(got.map((m) => m.packet.properties?.subscriptionIdentifier)).toEqual([5, 5, 5, 5, 5]);
        // and a clean start discards it [MQTT-3.1.2-4]
        await again.end();
        const clean = await client({ protocolVersion, clientId, clean: true });
        expect(clean.connack?.sessionPresent).toBe(false);
        await pub.client.publishAsync(`${t}/m`, 'after', { qos: 1 });
        await clean.quiet(300);
      });

      it('the same client id twice: the first connection is taken over', async () => {
        const clientId = uniqueName('twin');
        const first = await client({ protocolVersion, clientId });
        const closed = new Promise<void>((resolve) => first.client.stream.once('close', () => resolve()));
        const second = await client({ protocolVersion, clientId });
        await closed;
        expect(second.client.connected).toBe(true);
        if (protocolVersion === 5) expect(first.disconnects).toEqual([{ reasonCode: 0x8e }]);
      });

      it('shared subscriptions: one queue per group, messages spread over its members', async () => {
        const t = topicName('s');
        const a = await client({ protocolVersion });
        const b = await client({ protocolVersion });
        const other = await client({ protocolVersion });
        cleanup.queue(sharedQueueName('g1', `${t}.#`));
        cleanup.queue(sharedQueueName('g2', `${t}.#`));
        await a.client.subscribeAsync(`$share/g1/${t}/#`, { qos: 1 });
        await b.client.subscribeAsync(`$share/g1/${t}/#`, { qos: 1 });
        await other.client.subscribeAsync(`$share/g2/${t}/#`, { qos: 1 });
        const pub = await client({ protocolVersion });
        for (let i = 0; i < 20; i++) await pub.client.publishAsync(`${t}/n`, String(i), { qos: 1 });
        await other.waitFor(20);
        await new Promise((r) => setTimeout(r, 100));
        const seen = [...a.messages, ...b.messages].map((m) => Number(m.payload.toString())).sort((x, y) => x - y);
        expect(seen).toEqual([...Array(20).keys()]);
        expect(a.messages.length).toBeGreaterThan(0);
        expect(b.messages.length).toBeGreaterThan(0);
      });

      it('refuses a wrong password with the right CONNACK code', async () => {
        const refused = await refusedConnect(gw.ports.mqtt!, { protocolVersion, username: 'dave', password: 'nope' });
        expect(refused.code).toBe(protocolVersion === 5 ? 0x86 : 4);
      });

      it('topic permissions: a refused publish is dropped (3.1.1) or answered 0x87 (5.0); a refused filter gets SUBACK 0x80/0x87', async () => {
        const t = topicName('acl');
        const carol = await client({ protocolVersion, username: 'carol', password: 'carol' });
        const suback = new Promise<number[]>((resolve) => carol.client.once('packetreceive', (p) => p.cmd === 'suback' && resolve(p.granted as number[])));
        await carol.client.subscribeAsync([`public/${t}/#`, `private/${t}/#`], { qos: 1 }).catch(() => undefined);
        expect(await suback).toEqual([1, protocolVersion === 5 ? 0x87 : 0x80]);
        const watcher = await client({ protocolVersion });
        await watcher.client.subscribeAsync(`private/${t}/#`, { qos: 1 });
        if (protocolVersion === 5) {
          await expect(carol.client.publishAsync(`private/${t}/x`, 'no', { qos: 1 })).rejects.toMatchObject({ code: 0x87 });
        } else {
          await carol.client.publishAsync(`private/${t}/x`, 'no', { qos: 1 });
        }
        await carol.client.publishAsync(`public/${t}/x`, 'yes', { qos: 1 });
        const [m] = await carol.waitFor(1);
        expect(m!.topic).toBe(`public/${t}/x`);
        await watcher.quiet(200);
      });
    });

    describe('MQTT 5', () => {
      const v5 = { protocolVersion: 5 as const };

      it('carries content type, payload format, expiry (counting down), response topic, correlation data and user properties', async () => {
        const t = topicName('props');
        const sub = await client(v5);
        await sub.client.subscribeAsync(`${t}/#`, { qos: 1 });
        const pub = await client(v5);
        await pub.client.publishAsync(`${t}/req`, '{"x":1}', {
          qos: 1,
          properties: {
            contentType: 'application/json',
            payloadFormatIndicator: true,
            messageExpiryInterval: 120,
            responseTopic: `${t}/reply`,
            correlationData: Buffer.from([1, 2, 3]),
            userProperties: { site: 'north', tag: ['a', 'b'] },
          },
        });
        const [m] = await sub.waitFor(1);
        expect(m!.packet.properties).toMatchObject({
          contentType: 'application/json',
          payloadFormatIndicator: true,
          responseTopic: `${t}/reply`,
          correlationData: Buffer.from([1, 2, 3]),
          userProperties: { site: 'north', tag: ['a', 'b'] },
        });
        expect(m!.packet.properties?.messageExpiryInterval).toBeGreaterThan(110);
        expect(m!.packet.properties?.messageExpiryInterval).toBeLessThanOrEqual(120);
      });

      it('assigns a client id to an empty one, and says so in CONNACK', async () => {
        const c = await client({ ...v5, clientId: '' });
        const server = (c.client as unknown as { _serverProperties?: { assignedClientIdentifier?: string } })._serverProperties;
        expect(server?.assignedClientIdentifier).toMatch(/^tributary-[\w-]{16}$/);
      });

      it('subscription identifiers, No Local, Retain As Published, Retain Handling', async () => {
        const t = topicName('opts');
        const self = await client(v5);
        await self.client.subscribeAsync(`${t}/a/#`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
        await self.client.subscribeAsync(`${t}/+/x`, { qos: 1, properties: { subscriptionIdentifier: 9 } });
        await self.client.subscribeAsync(`${t}/nl/#`, { qos: 1, nl: true });
        const pub = await client(v5);
        await pub.client.publishAsync(`${t}/a/x`, 'both', { qos: 1 });
        const [both] = await self.waitFor(1);
        expect([(both!.packet.properties?.subscriptionIdentifier as number[]) ?? []].flat().sort()).toEqual([7, 9]);
        await self.client.publishAsync(`${t}/nl/own`, 'mine', { qos: 1 });
        await pub.client.publishAsync(`${t}/nl/theirs`, 'theirs', { qos: 1 });
        const [, theirs] = await self.waitFor(2);
        expect(theirs!.topic).toBe(`${t}/nl/theirs`);

        const rap = await client(v5);
        await rap.client.subscribeAsync(`${t}/rap`, { qos: 1, rap: true });
        await pub.client.publishAsync(`${t}/rap`, 'kept', { qos: 1, retain: true });
        const [kept] = await rap.waitFor(1);
        expect(kept!.packet.retain).toBe(true);

        const rh2 = await client(v5);
        await rh2.client.subscribeAsync(`${t}/rap`, { qos: 1, rh: 2 });
        const rh1 = await client(v5);
        await rh1.client.subscribeAsync(`${t}/rap`, { qos: 1, rh: 1 });
        await rh1.waitFor(1);
        await rh1.client.subscribeAsync(`${t}/rap`, { qos: 1, rh: 1 }); // not new: no retained again
        await rh1.quiet(200);
        await rh2.quiet(0);
        expect(rh2.messages).toEqual([]);
        await pub.client.publishAsync(`${t}/rap`, '', { qos: 1, retain: true });
      });

      it('topic aliases both ways', async () => {
        const t = topicName('alias');
        const sub = await client({ ...v5, properties: { topicAliasMaximum: 4 } });
        await sub.client.subscribeAsync(`${t}/#`, { qos: 1 });
        const pub = await client(v5);
        for (let i = 0; i < 3; i++) await pub.client.publishAsync(`${t}/long/topic/name`, String(i), { qos: 1, properties: { topicAlias: 1 } });
        const got = await sub.waitFor(3);
        expect(got.map((m) => m.topic)).toEqual([`${t}/long/topic/name`, `${t}/long/topic/name`, `${t}/long/topic/name`]);
        expect(got.map((m) => m.packet.properties?.topicAlias)).toEqual([1, 1, 1]);
      });

      it('UNSUBSCRIBE: 0x11 for a filter that was not subscribed; messages stop for the removed one', async () => {
        const t = topicName('unsub');
        const c = await client(v5);
        await c.client.subscribeAsync([`${t}/a`, `${t}/b`], { qos: 1 });
        const unsuback = new Promise<number[]>((resolve) => c.client.once('packetreceive', (p) => p.cmd === 'unsuback' && resolve(p.granted as number[])));
        await c.client.unsubscribeAsync([`${t}/a`, `${t}/never`]).catch(() => undefined);
        expect(await unsuback).toEqual([0x00, 0x11]);
        const pub = await client(v5);
        await pub.client.publishAsync(`${t}/a`, 'gone', { qos: 1 });
        await pub.client.publishAsync(`${t}/b`, 'kept', { qos: 1 });
        const [m] = await c.waitFor(1);
        expect(m!.topic).toBe(`${t}/b`);
        await c.quiet(200);
      });

      it('message expiry: what expires while a persistent session is away is not delivered', async () => {
        const t = topicName('exp');
        const clientId = uniqueName('exp');
        const persistent = { ...v5, clientId, clean: false, properties: { sessionExpiryInterval: 30 } };
        const first = await client(persistent);
        await first.client.subscribeAsync(`${t}/#`, { qos: 1 });
        await first.end();
        const pub = await client(v5);
        await pub.client.publishAsync(`${t}/short`, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
        await pub.client.publishAsync(`${t}/long`, 'long', { qos: 1, properties: { messageExpiryInterval: 100 } });
        await new Promise((r) => setTimeout(r, 1_300));
        const back = await client(persistent);
        const [m] = await back.waitFor(1);
        expect(m!.topic).toBe(`${t}/long`);
        expect(m!.packet.properties?.messageExpiryInterval).toBeLessThanOrEqual(99);
        await back.quiet(200);
        await back.end();
        await (await client({ ...v5, clientId, clean: true })).end();
      });

      it('a message larger than the client’s Maximum Packet Size is not sent to it', async () => {
        const t = topicName('max');
        const small = await client({ ...v5, properties: { maximumPacketSize: 200 } });
        await small.client.subscribeAsync(`${t}/#`, { qos: 1 });
        const pub = await client(v5);
        await pub.client.publishAsync(`${t}/big`, Buffer.alloc(500), { qos: 1 });
        await pub.client.publishAsync(`${t}/small`, 'ok', { qos: 1 });
        const [m] = await small.waitFor(1);
        expect(m!.topic).toBe(`${t}/small`);
      });
    });
  });
}
