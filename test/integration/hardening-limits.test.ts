// Limits enforced on every protocol and transport with the real protocols: connections in
// total and per source address, the connection rate per address (token bucket), frame/packet/
// message sizes, subscriptions and in-flight messages per session.
// 127.0.0.2 is a second source address on loopback (Linux routes all of 127/8 to lo).
import net from 'node:net';
import tls from 'node:tls';
import { Client, type IMessage, type IStompSocket } from '@stomp/stompjs';
import { TCPWrapper } from '@stomp/tcp-wrapper';
import { connect as amqpConnect } from 'amqplib';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { amqpUrl, brokerAvailable, uniqueName } from '../support/broker.js';
import { createTestPki, type TestPki } from '../support/certs.js';
import type { DeepPartial } from '../support/config.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { StompWire, tcpConnect, wsClosed } from './hardening-wire.js';
import { RawWamp } from './wamp-support.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gateway(overrides: DeepPartial<Config>): Promise<TestGateway> {
  const gw = await startTestGateway({ stomp: { heartbeatMs: 0 }, websocket: { pingIntervalMs: 0 }, ...overrides });
  cleanups.push(() => gw.stop());
  return gw;
}

async function refusedCount(gw: TestGateway, labels: Record<string, string>): Promise<number> {
  const values = (await gw.gateway.ctx.metrics.connectionsRefused.get()).values;
  return values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((n, v) => n + v.value, 0);
}

/** open a socket and report whether the server closed it within `ms` without sending a byte */
function cutOff(socket: net.Socket | tls.TLSSocket, ms: number): Promise<boolean> {
  cleanups.push(() => socket.destroy());
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** the HTTP status of a WebSocket handshake (101 when it opened) */
function wsStatus(url: string, protocols: string[], options: WebSocket.ClientOptions = {}): Promise<{ status: number; retryAfter?: string | undefined }> {
  const ws = new WebSocket(url, protocols, options);
  cleanups.push(() => ws.terminate());
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ status: 101 }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
    ws.once('error', () => resolve({ status: 0 }));
  });
}

function stompAttempt(port: number, localAddress?: string): Promise<string> {
  return (async () => {
    const socket = await tcpConnect(port, localAddress);
    cleanups.push(() => socket.destroy());
    const wire = new StompWire(socket);
    try {
      return (await wire.connect({ login: 'guest', passcode: 'guest' })).command;
    } catch {
      return 'closed';
    }
  })();
}

describe('limits - connection rate per address (token bucket)', () => {
  it('STOMP/TCP: of 20 connections opened at once with a rate of 1/s, the excess is closed at once and counted', async () => {
    const gw = await gateway({ limits: { maxConnectionRatePerAddress: 1 } });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => cutOff(net.connect(gw.ports.stomp as number, '127.0.0.1'), 1_500)));
    const refused = outcomes.filter(Boolean).length;
    // one token at once, then one per second: however slow the machine, most are refused
    expect(refused).toBeGreaterThanOrEqual(15);
    expect(refused).toBeLessThan(20);
    expect(await refusedCount(gw, { protocol: 'stomp', transport: 'tcp', reason: 'rate' })).toBe(refused);
    expect(gw.gateway.ctx.registry.size).toBe(20 - refused);
  });

  it('another source address has its own bucket', async () => {
    const gw = await gateway({ limits: { maxConnectionRatePerAddress: 2 } });
    const first = await Promise.all(Array.from({ length: 6 }, () => stompAttempt(gw.ports.stomp as number)));
    expect(first.filter((c) => c === 'CONNECTED').length).toBeLessThanOrEqual(4);
    expect(await stompAttempt(gw.ports.stomp as number, '127.0.0.2')).toBe('CONNECTED');
  });

  it('MQTT/TCP and MQTT/TLS: refused before a byte is read (before the TLS handshake)', async () => {
    const pki: TestPki = createTestPki();
    cleanups.push(() => pki.cleanup());
    const gw = await gateway({
      limits: { maxConnectionRatePerAddress: 1 },
      mqtt: { tlsPort: 0 },
      tls: { certFile: pki.server.cert, keyFile: pki.server.key },
    } as DeepPartial<Config>);
    const plain = await Promise.all(Array.from({ length: 10 }, () => cutOff(net.connect(gw.ports.mqtt as number, '127.0.0.1'), 1_500)));
    expect(plain.filter(Boolean).length).toBeGreaterThanOrEqual(7);
    const secure = await Promise.all(Array.from({ length: 10 }, () => cutOff(tls.connect({ port: gw.ports.mqttTls as number, host: '127.0.0.1', ca: pki.caPem(), servername: 'localhost' }), 1_500)));
    const refusedTls = secure.filter(Boolean).length;
    expect(refusedTls).toBeGreaterThanOrEqual(7);
    expect(await refusedCount(gw, { protocol: 'mqtt', transport: 'tls', reason: 'rate' })).toBe(refusedTls);
    expect(await refusedCount(gw, { protocol: 'mqtt', transport: 'tls', reason: 'tls_handshake' })).toBe(0);
  });

  it('WebSocket: the excess upgrades get 429 with Retry-After', async () => {
    const gw = await gateway({ limits: { maxConnectionRatePerAddress: 1 } });
    const results = await Promise.all(Array.from({ length: 10 }, () => wsStatus(gw.wsUrl('/ws'), ['mqtt'])));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(7);
    expect(limited.every((r) => r.retryAfter === '1')).toBe(true);
    expect(results.filter((r) => r.status === 101).length).toBe(10 - limited.length);
    expect(await refusedCount(gw, { protocol: 'mqtt', transport: 'ws', reason: 'rate' })).toBe(limited.length);
  });

  it('0 means no rate limit', async () => {
    const gw = await gateway({ limits: { maxConnectionRatePerAddress: 0 } });
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => stompAttempt(gw.ports.stomp as number)));
    expect(outcomes.every((c) => c === 'CONNECTED')).toBe(true);
  });
});

describe('limits - connections in total and per source address, across protocols', () => {
  it('maxConnectionsPerAddress counts STOMP, MQTT and WebSocket together; another address is counted apart', async () => {
    const gw = await gateway({ limits: { maxConnectionsPerAddress: 3, maxConnectionRatePerAddress: 0 } });
    expect(await stompAttempt(gw.ports.stomp as number)).toBe('CONNECTED');
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { reconnectPeriod: 0, protocolVersion: 5 });
    cleanups.push(() => device.endAsync(true));
    expect((await wsStatus(gw.wsUrl('/wamp'), ['wamp.2.json'])).status).toBe(101);
    // the fourth from 127.0.0.1, whatever its protocol, is refused
    expect(await cutOff(net.connect(gw.ports.mqtt as number, '127.0.0.1'), 1_000)).toBe(true);
    expect(await stompAttempt(gw.ports.stomp as number)).toBe('closed');
    expect((await wsStatus(gw.wsUrl('/stomp'), ['v12.stomp'])).status).toBe(503);
    expect(await refusedCount(gw, { reason: 'max_per_address' })).toBe(3);
    // 127.0.0.2 has its own three
    expect(await stompAttempt(gw.ports.stomp as number, '127.0.0.2')).toBe('CONNECTED');
    expect((await wsStatus(gw.wsUrl('/mqtt'), ['mqtt'], { localAddress: '127.0.0.2' })).status).toBe(101);
  });

  it('maxConnections caps all addresses together', async () => {
    const gw = await gateway({ limits: { maxConnections: 2, maxConnectionRatePerAddress: 0 } });
    expect(await stompAttempt(gw.ports.stomp as number)).toBe('CONNECTED');
    expect(await stompAttempt(gw.ports.stomp as number, '127.0.0.2')).toBe('CONNECTED');
    expect(await cutOff(net.connect({ port: gw.ports.mqtt as number, host: '127.0.0.1', localAddress: '127.0.0.3' }), 1_000)).toBe(true);
    expect((await wsStatus(gw.wsUrl('/ws'), ['wamp.2.json'], { localAddress: '127.0.0.4' })).status).toBe(503);
    expect(await refusedCount(gw, { reason: 'max_connections' })).toBe(2);
  });
});

async function stompSession(gw: TestGateway): Promise<StompWire> {
  const socket = await tcpConnect(gw.ports.stomp as number);
  cleanups.push(() => socket.destroy());
  const wire = new StompWire(socket);
  expect((await wire.connect({ login: 'guest', passcode: 'guest' })).command).toBe('CONNECTED');
  return wire;
}

async function mqttClient(gw: TestGateway, options: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0, ...options });
  cleanups.push(() => client.endAsync(true));
  return client;
}

async function wampSession(gw: TestGateway): Promise<RawWamp> {
  const wamp = await RawWamp.connect(gw.wsUrl('/wamp'));
  cleanups.push(() => wamp.ws.terminate());
  expect((await wamp.hello())[0]).toBe(2);
  return wamp;
}

describe('limits - frame, packet and message size, one per protocol', () => {
  it('STOMP: a frame over stomp.maxFrameBytes, too many headers, a header line too long: ERROR, then close', async () => {
    const gw = await gateway({ stomp: { maxFrameBytes: 4096, maxHeaders: 8, maxHeaderBytes: 256 } });
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ destination: '/topic/size' }, 'x'.repeat(5000), /frame too large/],
      [Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`h${i}`, 'v'])), '', /too many headers/],
      [{ destination: '/topic/size', long: 'y'.repeat(300) }, '', /header line too long/],
    ];
    for (const [headers, body, message] of cases) {
      const wire = await stompSession(gw);
      wire.send('SEND', { destination: '/topic/size', ...headers }, body);
      const error = await wire.frame();
      expect(error.command).toBe('ERROR');
      expect(error.headers.message).toMatch(message);
      await wire.closed;
    }
  });

  it('MQTT: a packet over mqtt.maxPacketBytes after CONNECT gets DISCONNECT 0x95 (v5) and the connection closes', async () => {
    const gw = await gateway({ mqtt: { maxPacketBytes: 8192 } });
    const client = await mqttClient(gw);
    const disconnect = new Promise<number | undefined>((resolve) => client.once('disconnect', (p) => resolve(p.reasonCode)));
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.publish('size/big', Buffer.alloc(16_384), { qos: 0 });
    expect(await disconnect).toBe(0x95);
    await closed;
  });

  it('WAMP (WebSocket): a message over websocket.maxMessageBytes closes the WebSocket with 1009', async () => {
    const gw = await gateway({ websocket: { maxMessageBytes: 2048, pingIntervalMs: 0 } });
    const wamp = await wampSession(gw);
    const closed = wsClosed(wamp.ws);
    wamp.send([16, 1, {}, 'size.big', ['z'.repeat(4096)]]);
    expect((await closed).code).toBe(1009);
  });
});

describe('limits - subscriptions per session (limits.maxSubscriptionsPerSession)', () => {
  const limits = { maxSubscriptionsPerSession: 3 };

  it('STOMP: the fourth SUBSCRIBE is an ERROR and the connection closes', async () => {
    const gw = await gateway({ limits });
    const wire = await stompSession(gw);
    for (let i = 1; i <= 3; i++) {
      wire.send('SUBSCRIBE', { id: `s${i}`, destination: `/topic/subs.${i}`, receipt: `r${i}` });
      expect((await wire.frame()).command).toBe('RECEIPT');
    }
    wire.send('SUBSCRIBE', { id: 's4', destination: '/topic/subs.4', receipt: 'r4' });
    const error = await wire.frame();
    expect(error).toMatchObject({ command: 'ERROR', headers: { message: 'too many subscriptions' } });
    await wire.closed;
  });

  it('MQTT 5: the fourth filter gets SUBACK 0x97 (quota exceeded); re-subscribing an existing one still works', async () => {
    const gw = await gateway({ limits });
    const client = await mqttClient(gw);
    const suback = await new Promise<mqttPacket.ISubackPacket | undefined>((resolve) => {
      client.subscribe(['subs/1', 'subs/2', 'subs/3', 'subs/4'], { qos: 1 }, (err) => resolve((err as { packet?: mqttPacket.ISubackPacket } | null)?.packet));
    });
    expect(suback?.granted).toEqual([1, 1, 1, 0x97]);
    expect((await client.subscribeAsync('subs/2', { qos: 0 }))[0]?.qos).toBe(0);
  });

  it('WAMP: the fourth SUBSCRIBE is an ERROR, the fourth REGISTER too (a budget of its own); the session stays open', async () => {
    const gw = await gateway({ limits });
    const wamp = await wampSession(gw);
    for (let i = 1; i <= 3; i++) {
      wamp.send([32, i, {}, `subs.topic${i}`]);
      expect((await wamp.next())[0]).toBe(33);
      wamp.send([64, 10 + i, {}, `subs.proc${i}`]);
      expect((await wamp.next())[0]).toBe(65);
    }
    wamp.send([32, 4, {}, 'subs.topic4']);
    expect((await wamp.next()).slice(0, 3)).toEqual([8, 32, 4]);
    wamp.send([64, 14, {}, 'subs.proc4']);
    expect((await wamp.next()).slice(0, 3)).toEqual([8, 64, 14]);
    wamp.send([16, 5, { acknowledge: true }, 'subs.topic1']);
    expect((await wamp.next())[0]).toBe(17);
  });
});

describe('limits - in-flight per session (limits.maxInflightPerSession)', () => {
  it('MQTT 5: the server advertises Receive Maximum = maxInflightPerSession and sends no more unacknowledged QoS 1 messages', async () => {
    const gw = await gateway({ limits: { maxInflightPerSession: 4 } });
    const publisher = await mqttClient(gw);
    const socket = await tcpConnect(gw.ports.mqtt as number);
    cleanups.push(() => socket.destroy());
    // a raw MQTT 5 subscriber that never PUBACKs: count the QoS 1 PUBLISH packets it gets
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    const packets: mqttPacket.Packet[] = [];
    parser.on('packet', (p: mqttPacket.Packet) => packets.push(p));
    socket.on('data', (d) => parser.parse(d));
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'no-acks', clean: true, keepalive: 0 }));
    socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'inflight/t', qos: 1 }] }, { protocolVersion: 5 }));
    const until = async (predicate: () => boolean) => {
      for (let i = 0; i < 250 && !predicate(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    await until(() => packets.some((p) => p.cmd === 'suback'));
    const connack = packets.find((p) => p.cmd === 'connack') as mqttPacket.IConnackPacket;
    expect(connack.properties?.receiveMaximum).toBe(4);
    for (let i = 0; i < 20; i++) await publisher.publishAsync('inflight/t', `m${i}`, { qos: 1 });
    await until(() => packets.filter((p) => p.cmd === 'publish').length >= 4);
    await new Promise((r) => setTimeout(r, 300));
    expect(packets.filter((p) => p.cmd === 'publish')).toHaveLength(4);
  });

  it('STOMP: a subscription asking prefetch-count 1000 gets at most maxInflightPerSession unacknowledged messages', async () => {
    const gw = await gateway({ limits: { maxInflightPerSession: 5 } });
    const wire = await stompSession(gw);
    wire.send('SUBSCRIBE', { id: 'q', destination: '/queue/inflight', ack: 'client-individual', 'prefetch-count': '1000', receipt: 'sub' });
    expect((await wire.frame()).command).toBe('RECEIPT');
    const sender = await stompSession(gw);
    for (let i = 0; i < 20; i++) sender.send('SEND', { destination: '/queue/inflight' }, `m${i}`);
    sender.send('DISCONNECT', { receipt: 'sent' });
    expect((await sender.frame()).command).toBe('RECEIPT');
    const first: string[] = [];
    for (let i = 0; i < 5; i++) first.push((await wire.frame()).headers.ack as string);
    const sixth = wire.frame();
    const early = await Promise.race([sixth.then(() => 'delivered'), new Promise((r) => setTimeout(() => r('held'), 300))]);
    expect(early).toBe('held');
    wire.send('ACK', { id: first[0] as string });
    expect((await sixth).command).toBe('MESSAGE');
  });

  it('STOMP: three client-ack subscriptions share one window of maxInflightPerSession; 200 messages each all arrive, never more than the window unacked in total, none starved', async () => {
    const window = 10;
    const gw = await gateway({ limits: { maxInflightPerSession: window } });
    const perQueue = 200;
    const queues = ['a', 'b', 'c'].map((q) => `/queue/${uniqueName(`window-${q}`)}`);
    const sender = await stompSession(gw);
    for (const q of queues) for (let i = 0; i < perQueue; i++) sender.send('SEND', { destination: q }, `${q} ${i}`);
    sender.send('DISCONNECT', { receipt: 'sent' });
    expect((await sender.frame()).command).toBe('RECEIPT');

    // a real client (@stomp/stompjs) acking each message a moment after it arrived, in order
    const client = new Client({
      webSocketFactory: () => new TCPWrapper('127.0.0.1', gw.ports.stomp as number) as unknown as IStompSocket,
      connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
    });
    cleanups.push(() => client.deactivate());
    const unacked = new Set<IMessage>();
    let maxUnacked = 0;
    const received = queues.map(() => 0);
    const progressWhenFirstDone: number[] = [];
    const allReceived = new Promise<void>((resolve) => {
      client.onConnect = () => {
        queues.forEach((q, n) => {
          client.subscribe(q, (m) => {
            unacked.add(m);
            maxUnacked = Math.max(maxUnacked, unacked.size);
            received[n] = (received[n] as number) + 1;
            if (received[n] === perQueue && progressWhenFirstDone.length === 0) progressWhenFirstDone.push(...received);
            setTimeout(() => {
              unacked.delete(m);
              m.ack();
              if (received.every((r) => r === perQueue) && unacked.size === 0) resolve();
            }, 2);
          }, { ack: n === 1 ? 'client' : 'client-individual' });
        });
      };
    });
    client.activate();
    await allReceived;
    expect(received).toEqual([perQueue, perQueue, perQueue]);
    expect(maxUnacked).toBeLessThanOrEqual(window);
    expect(maxUnacked).toBeGreaterThan(window / 2);
    // slots go round the subscriptions: when one has everything, the others are close behind
    for (const n of progressWhenFirstDone) expect(n).toBeGreaterThanOrEqual(perQueue * 0.75);
  });

  it('STOMP: a subscription\'s own prefetch-count still caps it inside the session window', async () => {
    const gw = await gateway({ limits: { maxInflightPerSession: 10 } });
    const wire = await stompSession(gw);
    wire.send('SUBSCRIBE', { id: 'small', destination: '/queue/window-small', ack: 'client-individual', 'prefetch-count': '2', receipt: 'sub' });
    expect((await wire.frame()).command).toBe('RECEIPT');
    const sender = await stompSession(gw);
    for (let i = 0; i < 10; i++) sender.send('SEND', { destination: '/queue/window-small' }, `m${i}`);
    sender.send('DISCONNECT', { receipt: 'sent' });
    expect((await sender.frame()).command).toBe('RECEIPT');
    const first = [await wire.frame(), await wire.frame()];
    expect(first.map((f) => f.body)).toEqual(['m0', 'm1']);
    const third = wire.frame();
    const early = await Promise.race([third.then(() => 'delivered'), new Promise((r) => setTimeout(() => r('held'), 300))]);
    expect(early).toBe('held');
    wire.send('ACK', { id: first[0]?.headers.ack as string });
    expect((await third).body).toBe('m2');
  });

  it('WAMP: CALLs awaiting their RESULT are capped at wamp.maxPendingCallsPerSession; the next is refused with an ERROR, the session stays open', async () => {
    const window = 4;
    const gw = await gateway({ wamp: { maxPendingCallsPerSession: window } });
    const callee = await wampSession(gw);
    callee.send([64, 1, {}, 'inflight.slow']);
    expect((await callee.next())[0]).toBe(65);
    const caller = await wampSession(gw);
    for (let i = 1; i <= window; i++) caller.send([48, i, {}, 'inflight.slow', [i]]);
    const invocations: unknown[][] = [];
    for (let i = 1; i <= window; i++) invocations.push(await callee.next());
    expect(invocations.every((m) => m[0] === 68)).toBe(true);
    caller.send([48, window + 1, {}, 'inflight.slow', [window + 1]]);
    const refused = await caller.next();
    expect([refused[0], refused[1], refused[2], refused[4]]).toEqual([8, 48, window + 1, 'tributary.error.limit_exceeded']);
    // one answered: room for one more
    callee.send([70, invocations[0]?.[1], {}, ['done']]);
    expect(await caller.next()).toEqual([50, 1, {}, ['done']]);
    caller.send([48, window + 2, {}, 'inflight.slow', [window + 2]]);
    expect((await callee.next())[0]).toBe(68);
  });
});

describe.runIf(brokerAvailable)('[rabbitmq] limits - WAMP acknowledged publishes in flight (limits.maxInflightPerSession)', () => {
  it('500 acknowledged PUBLISHes sent without waiting: never more than maxInflightPerSession await their confirm at the gateway; all 500 are PUBLISHED', async () => {
    const window = 8;
    const gw = await gateway({ amqpUrl, limits: { maxInflightPerSession: window } } as DeepPartial<Config>);
    // persistent messages into a durable queue: the broker confirms after writing them, so
    // confirms take a while and would pile up without the cap
    const topic = uniqueName('inflight.wamp').replace(/-/g, '_');
    const conn = await amqpConnect(amqpUrl);
    cleanups.push(() => conn.close().catch(() => undefined));
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue(uniqueName('inflight-wamp'), { durable: true });
    cleanups.push(() => ch.deleteQueue(queue).catch(() => undefined));
    await ch.bindQueue(queue, 'amq.topic', topic);

    const { messagesReceived, messagesConfirmed } = gw.gateway.ctx.metrics;
    const wampCount = async (metric: typeof messagesReceived): Promise<number> =>
      (await metric.get()).values.find((v) => v.labels.protocol === 'wamp')?.value ?? 0;
    let sampling = true;
    let maxInFlight = 0;
    const sampler = (async () => {
      while (sampling) {
        // received read before confirmed: the difference can only under-state what is in flight
        const inFlight = (await wampCount(messagesReceived)) - (await wampCount(messagesConfirmed));
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
      }
    })();

    const publisher = await wampSession(gw);
    const total = 500;
    for (let i = 1; i <= total; i++) publisher.send([16, i, { acknowledge: true }, topic, [i]]);
    const published = new Set<unknown>();
    for (let i = 0; i < total; i++) {
      const m = await publisher.next(30_000);
      expect(m[0]).toBe(17);
      published.add(m[1]);
    }
    sampling = false;
    await sampler;
    expect(published.size).toBe(total);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(maxInFlight).toBeLessThanOrEqual(window);
    expect((await ch.checkQueue(queue)).messageCount).toBe(total);
  });
});
