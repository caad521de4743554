// The gateway floor's MQTT 3.1.1 loop: CONNECT/CONNACK, SUBSCRIBE/SUBACK, UNSUBSCRIBE,
// PUBLISH QoS 0 (plain publish to amq.topic) and QoS 1 (confirm channel, PUBACK on the
// confirm), deliveries from one no-ack consumer as QoS 0 PUBLISH, PINGREQ, DISCONNECT.
// Topics are mapped as rabbitmq_mqtt maps them: '/' ↔ '.', '+' → '*', '#' → '#'.
// Nothing else: no auth, no keepalive timer, no sessions, no retained messages, no will,
// no QoS 2, no limits. A protocol error closes the connection.
import type { Socket } from 'node:net';
import type { ConsumeMessage } from 'amqplib';
import { readFixedHeader } from '../clients/mqtt-frame.js';
import { Out, Serial, type Backend, type Link } from './common.js';

const EXCHANGE = 'amq.topic';
const EMPTY: Buffer = Buffer.alloc(0);
const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);
const CONNACK_UNAVAILABLE = Buffer.from([0x20, 0x02, 0x00, 0x03]);
const PINGRESP = Buffer.from([0xd0, 0x00]);
const PERSISTENT = { deliveryMode: 2 };

interface Packet {
  header: number;
  body: Buffer;
}

let connections = 0;

export function serveMqtt(socket: Socket, backend: Backend): void {
  socket.setNoDelay(true);
  const out = new Out(socket);
  let link: Link | undefined;
  let queue: string | undefined;
  let consuming = false;
  let closed = false;
  let buf: Buffer = EMPTY;
  /** routing key → topic bytes (u16 length + UTF-8), the delivery path's only cache */
  const topics = new Map<string, Buffer>();

  const close = (why?: string): void => {
    if (closed) return;
    closed = true;
    if (why && process.env.FLOOR_DEBUG) console.error(`floor mqtt: closing: ${why}`);
    link?.close();
    socket.destroy();
  };
  const serial = new Serial<Packet>(
    socket,
    (p) => {
      try {
        handle(p);
      } catch (err) {
        close(`malformed packet: ${(err as Error).message}`); // a truncated field (RangeError)
      }
    },
    close,
  );

  socket.on('data', (chunk: Buffer) => {
    const data = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let off = 0;
    for (;;) {
      const h = readFixedHeader(data, off);
      if (h === 'malformed') return close('malformed remaining length');
      if (h === 'partial' || data.length - h.bodyStart < h.length) break;
      serial.push({ header: data[off]!, body: data.subarray(h.bodyStart, h.bodyStart + h.length) });
      if (closed) return;
      off = h.bodyStart + h.length;
    }
    buf = off === data.length ? EMPTY : data.subarray(off);
  });
  socket.on('error', () => close());
  socket.on('close', () => close());

  const deliver = (msg: ConsumeMessage | null): void => {
    if (closed) return;
    if (msg === null) return close('consumer cancelled by the broker');
    const key = msg.fields.routingKey;
    let topic = topics.get(key);
    if (topic === undefined) {
      const bytes = Buffer.from(key.replaceAll('.', '/'), 'utf8');
      topic = Buffer.allocUnsafe(2 + bytes.length);
      topic.writeUInt16BE(bytes.length, 0);
      bytes.copy(topic, 2);
      if (topics.size > 10_000) topics.clear();
      topics.set(key, topic);
    }
    const payload = msg.content;
    const remaining = topic.length + payload.length;
    const lengthBytes = remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x20_0000 ? 3 : 4;
    const packet = Buffer.allocUnsafe(1 + lengthBytes + remaining);
    packet[0] = 0x30;
    let pos = 1;
    let rest = remaining;
    do {
      let b = rest % 0x80;
      rest = Math.floor(rest / 0x80);
      if (rest > 0) b |= 0x80;
      packet[pos++] = b;
    } while (rest > 0);
    pos += topic.copy(packet, pos);
    payload.copy(packet, pos);
    out.write(packet);
  };

  function handle({ header, body }: Packet): void {
    if (closed) return;
    const type = header >> 4;
    if (link === undefined && type !== 1) return close('first packet is not CONNECT');
    switch (type) {
      case 3:
        return publish(header, body);
      case 1:
        return connect(body);
      case 8:
        return subscribe(body);
      case 10:
        return unsubscribe(body);
      case 12:
        return out.write(PINGRESP);
      case 14:
        socket.end();
        return close();
      case 4: // PUBACK: this server sends no QoS 1
        return;
      default:
        return close(`packet type ${type} not supported`);
    }
  }

  function connect(body: Buffer): void {
    if (link !== undefined) return close('second CONNECT');
    // protocol name ("MQTT" 3.1.1 or "MQIsdp" 3.1), level, flags, keepalive, client id
    const nameLen = body.readUInt16BE(0);
    const name = body.toString('utf8', 2, 2 + nameLen);
    const level = body[2 + nameLen];
    if (!((name === 'MQTT' && level === 4) || (name === 'MQIsdp' && level === 3))) return close(`protocol ${name} ${level}`);
    const idLen = body.readUInt16BE(6 + nameLen);
    const clientId = body.toString('utf8', 8 + nameLen, 8 + nameLen + idLen);
    serial.wait(
      backend.link(`floor-mqtt-${++connections}-${clientId}`, close).then(
        async (l) => {
          link = l;
          await l.openPub();
          out.write(CONNACK_OK);
        },
        () => {
          out.write(CONNACK_UNAVAILABLE);
          socket.end();
          close('no AMQP connection');
        },
      ),
    );
  }

  function publish(header: number, body: Buffer): void {
    const qos = (header >> 1) & 3;
    const topicEnd = 2 + body.readUInt16BE(0);
    const topic = body.toString('utf8', 2, topicEnd);
    if (topic.length === 0 || topic.includes('+') || topic.includes('#')) return close(`bad topic name ${topic}`);
    const key = topic.replaceAll('/', '.');
    if (qos === 0) {
      const ch = link!.pub!;
      if (!ch.publish(EXCHANGE, key, body.subarray(topicEnd))) serial.drain(ch);
      return;
    }
    if (qos !== 1) return close('QoS 2 not supported');
    const id = body.readUInt16BE(topicEnd);
    const payload = body.subarray(topicEnd + 2);
    const ch = link!.confirm;
    if (ch === undefined) {
      // the first QoS 1 publish opens the confirm channel; later packets wait in order
      serial.wait(link!.openConfirm(), () => handle({ header, body }));
      return;
    }
    const ok = ch.publish(EXCHANGE, key, payload, PERSISTENT, (err) => {
      if (err) close('publish nacked');
      else out.write(Buffer.from([0x40, 0x02, id >> 8, id & 0xff]));
    });
    if (!ok) serial.drain(ch);
  }

  function filters(body: Buffer, withQos: boolean): { id: number; list: string[] } {
    const id = body.readUInt16BE(0);
    const list: string[] = [];
    let pos = 2;
    while (pos < body.length) {
      const len = body.readUInt16BE(pos);
      list.push(body.toString('utf8', pos + 2, pos + 2 + len));
      pos += 2 + len + (withQos ? 1 : 0);
    }
    return { id, list };
  }

  const bindingKey = (filter: string): string => filter.replaceAll('/', '.').replaceAll('+', '*');

  /** one server-named exclusive queue per connection, one no-ack consumer on it; QoS 1 is granted as 0 */
  function subscribe(body: Buffer): void {
    const { id, list } = filters(body, true);
    if (list.length === 0 || list.length > 125) return close(`SUBSCRIBE with ${list.length} filters`);
    serial.wait(
      (async () => {
        const ch = await link!.openSub();
        if (queue === undefined) queue = (await ch.assertQueue('', { exclusive: true, autoDelete: true, durable: false })).queue;
        for (const f of list) await ch.bindQueue(queue, EXCHANGE, bindingKey(f));
        if (!consuming) {
          await ch.consume(queue, deliver, { noAck: true });
          consuming = true;
        }
        const suback = Buffer.alloc(4 + list.length);
        suback[0] = 0x90;
        suback[1] = 2 + list.length;
        suback.writeUInt16BE(id, 2);
        out.write(suback);
      })(),
    );
  }

  function unsubscribe(body: Buffer): void {
    const { id, list } = filters(body, false);
    serial.wait(
      (async () => {
        if (queue !== undefined) for (const f of list) await link!.sub!.unbindQueue(queue, EXCHANGE, bindingKey(f));
        out.write(Buffer.from([0xb0, 0x02, id >> 8, id & 0xff]));
      })(),
    );
  }
}
