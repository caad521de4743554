// A minimal MQTT 3.1.1 client for benchmarks: CONNECT, SUBSCRIBE, PUBLISH (QoS 0/1) and
// PUBACK, nothing else. Hand-rolled framing (no mqtt.js) so that the client costs little
// and the same for every server it is pointed at.
import { openConn, type Conn, type Endpoint } from './conn.js';
import { readFixedHeader } from './mqtt-frame.js';

export interface MqttOptions {
  clientId: string;
  clean?: boolean;
  keepalive?: number;
  username?: string;
  password?: string;
  timeoutMs?: number;
}

export type MessageListener = (topic: string, payload: Buffer, qos: number) => void;

const EMPTY = Buffer.alloc(0);
const PUBLISH = 3;
const PUBACK = 4;
const CONNACK = 2;
const SUBACK = 9;
const PINGRESP = 13;

export class MqttClient {
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private onConnack: ((code: number) => void) | undefined;
  private readonly subacks = new Map<number, (granted: number) => void>();
  private listener: MessageListener = () => undefined;
  private closed = false;
  /** QoS 1 publishes not yet acknowledged by the server */
  unacked = 0;
  onPuback: (() => void) | undefined;

  private constructor(private readonly conn: Conn) {
    conn.onData((chunk) => this.feed(chunk));
    conn.onClose(() => {
      this.closed = true;
      this.onConnack?.(-1);
    });
  }

  static async connect(endpoint: Endpoint, opts: MqttOptions): Promise<MqttClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const conn = await openConn(endpoint, timeoutMs);
    const client = new MqttClient(conn);
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs);
      client.onConnack = (c) => {
        clearTimeout(timer);
        resolve(c);
      };
      conn.write(encodeConnect(opts));
    });
    client.onConnack = undefined;
    if (code !== 0) {
      conn.destroy();
      throw new Error(code < 0 ? 'connection closed before CONNACK' : `CONNACK return code ${code}`);
    }
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onMessage(listener: MessageListener): void {
    this.listener = listener;
  }

  subscribe(filter: string, qos: 0 | 1, timeoutMs = 10_000): Promise<number> {
    const id = this.allocId();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SUBACK for ${filter} within ${timeoutMs} ms`)), timeoutMs);
      this.subacks.set(id, (granted) => {
        clearTimeout(timer);
        if (granted === 0x80) reject(new Error(`subscription to ${filter} refused`));
        else resolve(granted);
      });
      this.conn.write(encodeSubscribe(id, filter, qos));
    });
  }

  /** `topic` pre-encoded with topicBytes() saves an encode per message */
  publish(topic: Buffer, payload: Buffer, qos: 0 | 1): void {
    if (qos === 1) this.unacked++;
    this.conn.write(encodePublish(topic, payload, qos, qos === 1 ? this.allocId() : 0));
  }

  disconnect(): void {
    if (this.closed) return;
    this.conn.write(Buffer.from([0xe0, 0x00]));
    this.conn.end();
  }

  destroy(): void {
    this.closed = true;
    this.conn.destroy();
  }

  private allocId(): number {
    const id = this.nextId;
    this.nextId = id === 0xffff ? 1 : id + 1;
    return id;
  }

  private feed(chunk: Buffer): void {
    const buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    for (;;) {
      const h = readFixedHeader(buf, off);
      if (typeof h === 'string' || buf.length - h.bodyStart < h.length) break;
      this.packet(buf[off]!, buf, h.bodyStart, h.bodyStart + h.length);
      off = h.bodyStart + h.length;
    }
    this.buf = off === buf.length ? EMPTY : buf.subarray(off);
  }

  private packet(header: number, buf: Buffer, start: number, end: number): void {
    switch (header >> 4) {
      case PUBLISH: {
        const qos = (header >> 1) & 3;
        const topicLen = buf.readUInt16BE(start);
        const topic = buf.toString('utf8', start + 2, start + 2 + topicLen);
        let p = start + 2 + topicLen;
        let id = 0;
        if (qos > 0) {
          id = buf.readUInt16BE(p);
          p += 2;
        }
        this.listener(topic, buf.subarray(p, end), qos);
        if (qos === 1) this.conn.write(Buffer.from([0x40, 0x02, id >> 8, id & 0xff]));
        return;
      }
      case PUBACK:
        this.unacked--;
        this.onPuback?.();
        return;
      case CONNACK:
        this.onConnack?.(buf[start + 1] ?? -1);
        return;
      case SUBACK: {
        const id = buf.readUInt16BE(start);
        const done = this.subacks.get(id);
        this.subacks.delete(id);
        done?.(buf[start + 2] ?? 0x80);
        return;
      }
      case PINGRESP:
        return;
      default:
        return;
    }
  }
}

export function topicBytes(topic: string): Buffer {
  const t = Buffer.from(topic, 'utf8');
  const out = Buffer.allocUnsafe(2 + t.length);
  out.writeUInt16BE(t.length, 0);
  t.copy(out, 2);
  return out;
}

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function str(s: string): Buffer {
  return topicBytes(s);
}

export function encodeConnect(opts: MqttOptions): Buffer {
  let flags = opts.clean === false ? 0 : 0x02;
  const parts: Buffer[] = [str(opts.clientId)];
  if (opts.username !== undefined) {
    flags |= 0x80;
    parts.push(str(opts.username));
  }
  if (opts.password !== undefined) {
    flags |= 0x40;
    parts.push(str(opts.password));
  }
  const keepalive = opts.keepalive ?? 60;
  const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, flags, keepalive >> 8, keepalive & 0xff]);
  const body = Buffer.concat([variable, ...parts]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

function encodeSubscribe(id: number, filter: string, qos: number): Buffer {
  const body = Buffer.concat([Buffer.from([id >> 8, id & 0xff]), str(filter), Buffer.from([qos])]);
  return Buffer.concat([Buffer.from([0x82, ...remainingLength(body.length)]), body]);
}

function encodePublish(topic: Buffer, payload: Buffer, qos: number, id: number): Buffer {
  const len = topic.length + (qos > 0 ? 2 : 0) + payload.length;
  const rl = remainingLength(len);
  const out = Buffer.allocUnsafe(1 + rl.length + len);
  let p = 0;
  out[p++] = 0x30 | (qos << 1);
  for (const b of rl) out[p++] = b;
  p += topic.copy(out, p);
  if (qos > 0) {
    out[p++] = id >> 8;
    out[p++] = id & 0xff;
  }
  payload.copy(out, p);
  return out;
}
