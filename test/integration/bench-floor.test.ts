// The benchmark's gateway floor (bench/floor/server.ts) really carries messages through
// RabbitMQ: MQTT QoS 0 and QoS 1 with mqtt.js, STOMP with the bench's raw-socket client and a
// raw socket, each side checked against an amqplib consumer/publisher on amq.topic. A broken
// floor must not produce benchmark numbers.
import { connect as netConnect, type Socket } from 'node:net';
import amqplib, { type ChannelModel } from 'amqplib';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StompClient } from '../../bench/clients/stomp.js';
import { startFloor, type FloorProcess } from '../../bench/lib/floor.js';
import { amqpUrl, brokerAvailable, uniqueName } from '../support/broker.js';

const N = 300;

function until(check: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error(`timed out: ${what()}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

/** an exclusive queue bound to amq.topic with `key`; what it receives: [routing key, body] */
async function amqpTap(conn: ChannelModel, key: string): Promise<[string, string][]> {
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
  await ch.bindQueue(queue, 'amq.topic', key);
  const got: [string, string][] = [];
  await ch.consume(queue, (m) => m && got.push([m.fields.routingKey, m.content.toString()]), { noAck: true });
  return got;
}

/** a raw STOMP socket: frames as strings */
function rawStomp(port: number): Promise<{ socket: Socket; frames: string[]; send(frame: string): void }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const frames: string[] = [];
    let buf = '';
    socket.on('data', (c) => {
      buf += c.toString('utf8');
      let nul: number;
      while ((nul = buf.indexOf('\0')) >= 0) {
        frames.push(buf.slice(0, nul).replace(/^\n+/, ''));
        buf = buf.slice(nul + 1);
      }
    });
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, frames, send: (f) => socket.write(f) }));
  });
}

describe.runIf(brokerAvailable)('[rabbitmq] bench gateway floor', () => {
  let floor: FloorProcess;
  let amqp: ChannelModel;

  beforeAll(async () => {
    floor = await startFloor({ amqpUrl });
    amqp = await amqplib.connect(amqpUrl);
  });

  afterAll(async () => {
    await amqp?.close().catch(() => undefined);
    const code = await floor?.stop();
    expect(code).toBe(0);
  });

  it('MQTT QoS 0 and QoS 1 publishes reach an MQTT subscriber and amq.topic, in order, topics translated', async () => {
    const t = uniqueName('floor').replace(/-/g, '_');
    const tap = await amqpTap(amqp, `${t}.*`);
    const url = `mqtt://127.0.0.1:${floor.mqtt}`;
    const sub = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `${t}_s`, reconnectPeriod: 0 });
    const pub = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `${t}_p`, reconnectPeriod: 0 });
    try {
      const got: [string, string][] = [];
      sub.on('message', (topic, payload) => got.push([topic, payload.toString()]));
      // a QoS 1 request is granted QoS 0 (the floor delivers at most once, as a no-ack consumer)
      const granted = await sub.subscribeAsync(`${t}/+`, { qos: 1 });
      expect(granted.map((g) => g.qos)).toEqual([0]);
      for (let i = 0; i < N; i++) void pub.publishAsync(`${t}/zero`, `q0-${i}`, { qos: 0 });
      // every QoS 1 publish resolves on its PUBACK, which the floor sends on the broker's confirm
      await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync(`${t}/one`, `q1-${i}`, { qos: 1 })));
      await until(() => got.length >= 2 * N && tap.length >= 2 * N, () => `MQTT ${got.length}, AMQP ${tap.length} of ${2 * N}`);
      await new Promise((r) => setTimeout(r, 100)); // nothing more (no duplicates)
      expect(got).toHaveLength(2 * N);
      expect(got.filter(([topic]) => topic === `${t}/zero`).map(([, p]) => p)).toEqual(Array.from({ length: N }, (_, i) => `q0-${i}`));
      expect(got.filter(([topic]) => topic === `${t}/one`).map(([, p]) => p)).toEqual(Array.from({ length: N }, (_, i) => `q1-${i}`));
      expect(tap.filter(([key]) => key === `${t}.one`)).toHaveLength(N);
      expect(tap.filter(([key]) => key === `${t}.zero`)).toHaveLength(N);
      // and AMQP → MQTT: a message published on amq.topic reaches the subscriber with '.' → '/'
      const ch = await amqp.createChannel();
      ch.publish('amq.topic', `${t}.from_amqp`, Buffer.from('hello'));
      await until(() => got.length > 2 * N, () => 'AMQP → MQTT delivery');
      expect(got[2 * N]).toEqual([`${t}/from_amqp`, 'hello']);
      await ch.close();
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()]);
    }
  });

  it('STOMP SEND → SUBSCRIBE /topic (ack:auto) goes through amq.topic; receipts wait for the broker', async () => {
    const t = uniqueName('floor').replace(/-/g, '_');
    const tap = await amqpTap(amqp, `${t}.*`);
    const endpoint = { kind: 'tcp' as const, host: '127.0.0.1', port: floor.stomp };
    const sub = await StompClient.connect(endpoint);
    const pub = await StompClient.connect(endpoint);
    try {
      const got: [string, string][] = [];
      await sub.subscribe(`/topic/${t}.*`, 'auto', (body, frame) => got.push([frame.headers.get('destination') ?? '', body.toString()]));
      for (let i = 0; i < N; i++) pub.send(`SEND\ndestination:/topic/${t}.a\n`, `m-${i}`);
      await until(() => got.length >= N && tap.length >= N, () => `STOMP ${got.length}, AMQP ${tap.length} of ${N}`);
      expect(got).toEqual(Array.from({ length: N }, (_, i) => [`/topic/${t}.a`, `m-${i}`]));
      expect(tap).toEqual(Array.from({ length: N }, (_, i) => [`${t}.a`, `m-${i}`]));

      // a raw socket: SEND with a receipt, then what the floor does not do is an ERROR
      const raw = await rawStomp(floor.stomp);
      raw.send('CONNECT\naccept-version:1.2\nhost:/\n\n\0');
      await until(() => raw.frames.length >= 1, () => 'CONNECTED');
      expect(raw.frames[0]).toMatch(/^CONNECTED\nversion:1.2\n/);
      raw.send(`SEND\ndestination:/topic/${t}.b\nreceipt:r-1\ncontent-length:5\n\nwith\0\0`);
      await until(() => raw.frames.length >= 2, () => 'RECEIPT');
      expect(raw.frames[1]).toBe('RECEIPT\nreceipt-id:r-1\n\n');
      await until(() => got.length > N, () => 'the SEND with a receipt');
      expect(got[N]).toEqual([`/topic/${t}.b`, 'with\0']);
      raw.send(`SUBSCRIBE\nid:x\ndestination:/topic/${t}.c\nack:client\n\n\0`);
      await until(() => raw.frames.length >= 3, () => 'ERROR');
      expect(raw.frames[2]).toMatch(/^ERROR\nmessage:SUBSCRIBE\\c only ack\\cauto \(got ack\\cclient\)\n/); // ':' escaped as \c
      raw.socket.destroy();
    } finally {
      sub.disconnect();
      pub.disconnect();
    }
  });
});
