// E2E: a clean session whose subscriptions are all QoS 0 consumes its queue without acks (as
// rabbitmq_mqtt's QoS 0 queue), and drops QoS 0 messages while its client is behind by more
// than mqtt.qos0BacklogBytes; the first QoS 1 subscription switches it to acknowledged
// delivery without losing what was on the way; a persistent session keeps acknowledging.
// The subscribers that stop reading are raw sockets (mqtt-packet), paused; the others mqtt.js.
import net from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerAvailable } from '../support/broker.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { BrokerCleanup } from '../unit/stomp/support/fabrics.js';
import { connectClient, topicName, type TestClient } from '../unit/mqtt/support/clients.js';

const FABRICS: Array<[string, 'embedded' | 'amqp', boolean]> = [
  ['embedded fabric', 'embedded', true],
  ['[rabbitmq] amqp fabric', 'amqp', brokerAvailable],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** an MQTT 3.1.1 subscriber on a raw socket, so that it can stop reading (socket.pause()) */
class RawSubscriber {
  readonly payloads: Buffer[] = [];
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private readonly socket: net.Socket;
  private waiting: ((p: Packet) => void) | undefined;

  private constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('error', () => undefined);
    this.socket.on('data', (d) => this.parser.parse(d));
    this.parser.on('packet', (p: Packet) => {
      if (p.cmd === 'publish') {
        this.payloads.push(p.payload as Buffer);
        if (p.qos > 0) this.socket.write(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId as number }));
        return;
      }
      this.waiting?.(p);
    });
  }

  static async connect(port: number, clientId: string, clean: boolean): Promise<RawSubscriber> {
    const s = new RawSubscriber(port);
    await new Promise<void>((resolve) => s.socket.once('connect', () => resolve()));
    const connack = await s.request(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, clientId, keepalive: 0, username: 'guest', password: Buffer.from('guest') }));
    expect(connack.cmd).toBe('connack');
    return s;
  }

  async subscribe(topic: string, qos: 0 | 1): Promise<void> {
    const suback = await this.request(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] }));
    expect(suback.cmd).toBe('suback');
  }

  get open(): boolean {
    return !this.socket.destroyed;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private request(bytes: Buffer): Promise<Packet> {
    return new Promise((resolve) => {
      this.waiting = (p) => {
        this.waiting = undefined;
        resolve(p);
      };
      this.socket.write(bytes);
    });
  }
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

for (const [label, fabric, enabled] of FABRICS) {
  describe.runIf(enabled)(`E2E: MQTT QoS 0 without acks on the ${label}`, () => {
    let gw: TestGateway;
    const cleanup = new BrokerCleanup(fabric);
    const open: Array<TestClient | RawSubscriber> = [];

    beforeAll(async () => {
      gw = await startTestGateway(
        { mqtt: { qos0BacklogBytes: 256 * 1024, maxQueuedMessages: 100_000 }, limits: { drainTimeoutMs: 120_000, maxPendingBytesPerConnection: 8 * 1024 * 1024 } },
        { fabric },
      );
    });
    afterAll(async () => {
      for (const c of open) {
        if (c instanceof RawSubscriber) c.destroy();
        else await c.end(true).catch(() => undefined);
      }
      await gw?.stop();
      await cleanup.run();
    });

    const client = async (opts: Parameters<typeof connectClient>[1] = {}) => {
      const c = await connectClient(gw.ports.mqtt as number, opts);
      open.push(c);
      return c;
    };
    const raw = async (clientId: string, clean: boolean) => {
      const c = await RawSubscriber.connect(gw.ports.mqtt as number, clientId, clean);
      open.push(c);
      return c;
    };
    const dropped = async (reason: string): Promise<number> => {
      const text = await (await fetch(gw.url('/metrics'))).text();
      const line = text.split('\n').find((l) => l.startsWith('tributary_messages_dropped_total{') && l.includes(`reason="${reason}"`));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    /** QoS 0 publishes of numbered payloads (the number in the first 4 bytes), `size` bytes each */
    const flood = async (pub: TestClient, topic: string, count: number, size: number, qos: 0 | 1 = 0) => {
      for (let i = 0; i < count; i += 1) {
        const payload = Buffer.alloc(size, 'p');
        payload.writeUInt32BE(i, 0);
        if (qos === 1 || i % 100 === 99) await pub.client.publishAsync(topic, payload, { qos });
        else pub.client.publish(topic, payload, { qos });
      }
      // a QoS 1 publish on the same connection: when it is confirmed, every QoS 0 before it was routed
      await pub.client.publishAsync(`${topic}/sync`, 'sync', { qos: 1 });
    };

    it('a reader that falls behind loses QoS 0 messages (counted), is not cut off, and gets what comes after it catches up', async () => {
      const t = topicName('behind');
      const sub = await raw(topicName('slow'), true);
      await sub.subscribe(`${t}/data`, 0);
      const pub = await client();
      const before = await dropped('qos0_backlog');
      sub.pause();
      const count = 1500;
      await flood(pub, `${t}/data`, count, 16 * 1024); // 24 MiB: more than the kernel's socket buffers and the backlog limit
      await until(async () => (await dropped('qos0_backlog')) > before, 20_000);
      sub.resume();
      // every message went either to the socket or into the drop count, none is held anywhere
      await until(async () => sub.payloads.length + (await dropped('qos0_backlog')) - before === count, 20_000);
      const lost = (await dropped('qos0_backlog')) - before;
      expect(lost).toBeGreaterThan(0);
      expect(sub.payloads.length).toBeGreaterThan(0);
      const numbers = sub.payloads.map((p) => p.readUInt32BE(0));
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b)); // in order, with gaps
      expect(sub.open).toBe(true);
      const marker = Buffer.alloc(8, 'm');
      marker.writeUInt32BE(0xffffffff, 0);
      await pub.client.publishAsync(`${t}/data`, marker, { qos: 0 });
      await until(() => sub.payloads.at(-1)?.readUInt32BE(0) === 0xffffffff, 5_000);
    }, 60_000);

    /** a reader that stops, then resumes, gets all of `count` 2 KiB QoS 0 messages: they waited in the broker */
    const pausedReaderGetsAll = async (sub: RawSubscriber, pub: TestClient, topic: string, count: number) => {
      const before = await dropped('qos0_backlog');
      const had = sub.payloads.length;
      sub.pause();
      await flood(pub, topic, count, 2 * 1024); // 10 MiB: far beyond the 256 KiB backlog limit
      await sleep(500);
      sub.resume();
      await until(() => sub.payloads.length - had === count, 30_000);
      expect(sub.payloads.slice(had).map((p) => p.readUInt32BE(0))).toEqual(Array.from({ length: count }, (_, i) => i));
      expect((await dropped('qos0_backlog')) - before).toBe(0);
    };

    it('the first QoS 1 subscription switches to acknowledged delivery: nothing on the way is lost, nothing after is dropped', async () => {
      const t = topicName('switch');
      const sub = await raw(topicName('sw'), true);
      await sub.subscribe(`${t}/a`, 0);
      const pub = await client();
      const count = 3000;
      const streaming = flood(pub, `${t}/a`, count, 16);
      await until(() => sub.payloads.length >= 200, 10_000);
      await sub.subscribe(`${t}/b`, 1); // while the stream flows into the no-ack consumer
      await streaming;
      await until(() => sub.payloads.length === count, 20_000);
      expect(sub.payloads.map((p) => p.readUInt32BE(0))).toEqual(Array.from({ length: count }, (_, i) => i));
      sub.payloads.length = 0;
      await pausedReaderGetsAll(sub, pub, `${t}/a`, 5000);
    }, 90_000);

    it('a persistent session keeps acknowledging its QoS 0 deliveries: a paused reader loses nothing', async () => {
      const t = topicName('persist');
      const id = topicName('p');
      const sub = await raw(id, false);
      await sub.subscribe(`${t}/a`, 0);
      const pub = await client();
      await pausedReaderGetsAll(sub, pub, `${t}/a`, 5000);
      sub.destroy();
      (await raw(id, true)).destroy(); // a clean connect discards the stored session and its queue
    }, 90_000);
  });
}
