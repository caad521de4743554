// E2E: the three browser protocols over WebSocket on one gateway — STOMP (@stomp/stompjs
// with `ws` as its socket), MQTT (mqtt.js) and WAMP (autobahn) — see each other's messages as
// readable JSON; several STOMP frames may share one WebSocket message; and one browser that
// stops reading is cut off without holding up the others.
import { Client, type IMessage, type IStompSocket } from '@stomp/stompjs';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerAvailable } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { EventInbox, RawWamp, openSession, uniqueTopic, type Opened } from './wamp-support.js';

function stompOverWs(url: string, protocols: string[]): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client({
      webSocketFactory: () => new WebSocket(url, protocols) as unknown as IStompSocket,
      connectHeaders: { login: 'guest', passcode: 'guest', host: '/' },
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      onConnect: () => resolve(client),
      onStompError: (f) => reject(new Error(`${f.headers['message']}: ${f.body}`)),
      onWebSocketError: () => reject(new Error('socket error')),
    });
    client.activate();
  });
}

function stompInbox(client: Client, destination: string) {
  const got: IMessage[] = [];
  let waiters: Array<() => void> = [];
  const sub = client.subscribe(destination, (m) => {
    got.push(m);
    waiters.forEach((w) => w());
    waiters = [];
  });
  return {
    sub,
    async take(n: number): Promise<IMessage[]> {
      while (got.length < n) await new Promise<void>((r) => waiters.push(r));
      return got.slice(0, n);
    },
  };
}

async function mqttOverWs(url: string): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, clientId: `ws-${process.pid}-${Math.random().toString(36).slice(2, 8)}` });
}

function crossProtocolSuite(fabric: 'embedded' | 'amqp') {
  let gw: TestGateway;
  const wamp: Opened[] = [];
  const clients: Array<{ close(): Promise<unknown> | void }> = [];

  beforeAll(async () => {
    gw = await startTestGateway({}, { fabric });
  });
  afterAll(async () => {
    await Promise.all(wamp.map((o) => o.close()));
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
  });

  it('STOMP, MQTT and WAMP over WebSocket read each other as JSON', async () => {
    const base = uniqueTopic('chat');
    const room = `${base}.room1`;
    // STOMP on the fixed path, MQTT on /ws by subprotocol, WAMP (MessagePack) on /wamp
    const stomp = await stompOverWs(gw.wsUrl('/stomp'), ['v12.stomp']);
    clients.push({ close: () => stomp.deactivate() });
    const mq = await mqttOverWs(gw.wsUrl('/ws'));
    clients.push({ close: () => mq.endAsync() });
    const w = await openSession(gw.wsUrl('/wamp'), { serializer: 'msgpack' });
    wamp.push(w);

    const atStomp = stompInbox(stomp, `/topic/${room}`);
    const atMqtt: Array<{ topic: string; payload: string; contentType?: string | undefined }> = [];
    await mq.subscribeAsync(`${base.replaceAll('.', '/')}/#`, { qos: 1 });
    mq.on('message', (topic, payload, packet) => atMqtt.push({ topic, payload: payload.toString(), contentType: packet.properties?.contentType }));
    const atWamp = new EventInbox();
    await w.session.subscribe(room, atWamp.handler);
    // STOMP SUBSCRIBE has no receipt here: wait until a probe arrives before publishing for real
    await new Promise<void>((resolve) => {
      const probe = setInterval(() => stomp.publish({ destination: `/topic/${room}.probe` }), 20);
      const s = stomp.subscribe(`/topic/${room}.probe`, () => {
        clearInterval(probe);
        s.unsubscribe();
        resolve();
      });
    });

    await w.session.publish(room, [{ from: 'wamp', n: 1 }], {}, { acknowledge: true });
    await mq.publishAsync(`${room.replaceAll('.', '/')}`, JSON.stringify({ from: 'mqtt', n: 2 }), { qos: 1 });
    stomp.publish({ destination: `/topic/${room}`, body: JSON.stringify({ from: 'stomp', n: 3 }), headers: { 'content-type': 'application/json' } });

    const [s1, s2, s3] = await atStomp.take(3);
    expect(JSON.parse(s1!.body)).toEqual({ from: 'wamp', n: 1 });
    expect(s1!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(s2!.body)).toEqual({ from: 'mqtt', n: 2 });
    expect(JSON.parse(s3!.body)).toEqual({ from: 'stomp', n: 3 });

    const wampGot = [(await atWamp.next()).args, (await atWamp.next()).args];
    expect(wampGot).toEqual([[{ from: 'mqtt', n: 2 }], [{ from: 'stomp', n: 3 }]]); // not its own (exclude_me)

    const inRoom = () => atMqtt.filter((m) => m.topic === room.replaceAll('.', '/')); // not the probes
    await expect.poll(() => inRoom().length).toBe(3);
    expect(inRoom().map((m) => JSON.parse(m.payload))).toEqual([{ from: 'wamp', n: 1 }, { from: 'mqtt', n: 2 }, { from: 'stomp', n: 3 }]);
    expect(inRoom()[0]!.contentType).toBe('application/json');
  });

  it('STOMP 1.0 on /ws (v10.stomp) and several frames in one WebSocket message, text or binary', async () => {
    const topic = uniqueTopic('frames');
    for (const binary of [false, true]) {
      const ws = new WebSocket(gw.wsUrl('/ws'), ['v10.stomp']);
      await new Promise((r) => ws.once('open', r));
      const received: string[] = [];
      ws.on('message', (d: Buffer) => received.push(d.toString()));
      const frames =
        `CONNECT\nlogin:guest\npasscode:guest\n\n\0` +
        `SUBSCRIBE\ndestination:/topic/${topic}\nid:1\nreceipt:sub\n\n\0`;
      ws.send(binary ? Buffer.from(frames) : frames);
      await expect.poll(() => received.join('')).toContain('receipt-id:sub');
      const sends = [1, 2, 3].map((n) => `SEND\ndestination:/topic/${topic}\ncontent-type:text/plain\n\nmsg ${n}\0`).join('');
      ws.send(binary ? Buffer.from(sends) : sends);
      await expect.poll(() => (received.join('').match(/^MESSAGE/gm) ?? []).length).toBe(3);
      expect(received.join('')).toMatch(/msg 1\0[\s\S]*msg 2\0[\s\S]*msg 3\0/);
      ws.close();
    }
  });
}

describe('E2E: browser protocols over WebSocket [embedded]', () => crossProtocolSuite('embedded'));
describe.runIf(brokerAvailable)('[rabbitmq] E2E: browser protocols over WebSocket', () => crossProtocolSuite('amqp'));

describe('E2E: a WAMP browser that stops reading', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ limits: { drainTimeoutMs: 300, maxPendingBytesPerConnection: 256 * 1024 } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('is disconnected after the drain timeout while the others keep receiving', async () => {
    const topic = uniqueTopic('firehose');
    const slow = await RawWamp.connect(gw.wsUrl('/ws'));
    await slow.hello();
    slow.send([32, 1, {}, topic]);
    expect((await slow.next())[0]).toBe(33);
    const fast = await openSession(gw.wsUrl('/ws'));
    const inbox = new EventInbox();
    await fast.session.subscribe(topic, inbox.handler);
    const pub = await openSession(gw.wsUrl('/ws'));

    slow.ws.pause(); // the browser tab freezes: nothing more is read from its socket
    const chunk = 'x'.repeat(64 * 1024);
    const total = 200; // 12.5 MiB, far beyond loopback socket buffers
    let received = 0;
    const fastDone = (async () => {
      for (let i = 0; i < total; i++) {
        await inbox.next(10_000);
        received++;
      }
    })();
    for (let i = 0; i < total; i++) await pub.session.publish(topic, [i, chunk], {}, { acknowledge: true });
    await fastDone;
    expect(received).toBe(total);
    slow.ws.resume();
    const { code } = await slow.closed;
    expect(code).not.toBe(1000); // closed by the server for not draining, not a normal close
    await fast.close();
    await pub.close();
  }, 60_000);
});
