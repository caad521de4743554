// Bytes ⇄ MQTT packets. The only module that imports mqtt-packet.
//
// mqtt-packet accepts any declared remaining length (up to 256 MiB) and keeps buffering, so
// it never sees a stream here: a framer in front of it reads the fixed header,
//
//   fixed header = type/flags (1 byte) · remaining length (1–4 bytes, 7 bits each, LSB first)
//
// checks the declared size against the current limit BEFORE buffering the body, refuses a
// fifth length byte [MQTT-1.5.5] (ActiveMQ CVE-2025-66168), collects exactly one packet and
// hands that to mqtt-packet's parser. Memory per connection is bounded by the limit.
//
// PUBLISH without properties (every PUBLISH of 3.1/3.1.1, and MQTT 5 ones that carry none) is
// the one packet that comes and goes per message: it is decoded and encoded here directly
// (publish-codec.ts), byte for byte what mqtt-packet makes of it, without its per-packet
// buffer list, Packet object and chunk array.

import mqttPacket from 'mqtt-packet';
import { PUBLISH_TYPE, decodePublish, encodePublish } from './publish-codec.js';
import { illFormedString } from './utf8-strings.js';
import type {
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPubackPacket,
  IPubcompPacket,
  IPublishPacket,
  IPubrecPacket,
  IPubrelPacket,
  ISubackPacket,
  ISubscribePacket,
  ISubscription,
  IUnsubackPacket,
  IUnsubscribePacket,
  Packet,
} from 'mqtt-packet';

export type {
  IConnackPacket,
  IConnectPacket,
  IDisconnectPacket,
  IPubackPacket,
  IPubcompPacket,
  IPublishPacket,
  IPubrecPacket,
  IPubrelPacket,
  ISubackPacket,
  ISubscribePacket,
  ISubscription,
  IUnsubackPacket,
  IUnsubscribePacket,
  Packet,
};

export type ProtocolVersion = 3 | 4 | 5;

export type DecodeErrorKind = 'malformed' | 'too-large';

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly kind: DecodeErrorKind,
    message: string,
    /** for 'too-large': the size the client declared */
    readonly declaredBytes?: number,
  ) {
    super(message);
  }
}

export type Decoded = { packet: Packet } | { error: DecodeError };

const MAX_LENGTH_BYTES = 4;
/** properties the spec allows more than once; any other repeated property is malformed */
const REPEATABLE_PROPERTIES = new Set(['userProperties', 'subscriptionIdentifier']);

/**
 * One per connection. `push(chunk)` returns every packet completed by the chunk; after an
 * error it returns nothing more (the connection is to be closed).
 */
export class MqttDecoder {
  private readonly parser = mqttPacket.parser();
  private header: number[] = [];
  private expected = -1;
  private chunks: Buffer[] = [];
  private collected = 0;
  /** the chunk and offset where the current packet's fixed header started, when it started in the current chunk */
  private startChunk: Buffer | undefined;
  private startOffset = 0;
  private failed = false;
  private lastPacket: Packet | undefined;
  private lastError: Error | undefined;

  /** `maxPacketBytes()` is read at each packet start, so the limit can rise after CONNECT */
  constructor(private readonly maxPacketBytes: () => number) {
    this.parser.on('packet', (p: Packet) => { this.lastPacket = p; });
    this.parser.on('error', (e: Error) => { this.lastError = e; });
  }

  get broken(): boolean {
    return this.failed;
  }

  /** bytes held for an incomplete packet */
  get bufferedBytes(): number {
    return this.header.length + this.collected;
  }

  push(chunk: Buffer): Decoded[] {
    const out: Decoded[] = [];
    let pos = 0;
    this.startChunk = undefined;
    while (pos < chunk.length && !this.failed) {
      if (this.expected < 0) {
        if (this.header.length === 0) {
          this.startChunk = chunk;
          this.startOffset = pos;
        }
        pos = this.readFixedHeader(chunk, pos, out);
        continue;
      }
      const take = Math.min(this.expected - this.collected, chunk.length - pos);
      this.chunks.push(chunk.subarray(pos, pos + take));
      this.collected += take;
      pos += take;
      if (this.collected === this.expected) out.push(this.finishPacket());
    }
    return out;
  }

  private readFixedHeader(chunk: Buffer, pos: number, out: Decoded[]): number {
    while (pos < chunk.length) {
      const byte = chunk[pos++] as number;
      this.header.push(byte);
      if (this.header.length === 1) continue;
      if ((byte & 0x80) === 0) {
        const remaining = decodeLength(this.header);
        const total = this.header.length + remaining;
        const limit = this.maxPacketBytes();
        if (total > limit) {
          out.push(this.fail(new DecodeError('too-large', `packet of ${total} bytes exceeds the limit of ${limit}`, total)));
          return pos;
        }
        this.expected = remaining;
        this.collected = 0;
        this.chunks = [];
        if (remaining === 0) out.push(this.finishPacket());
        return pos;
      }
      if (this.header.length > MAX_LENGTH_BYTES) {
        out.push(this.fail(new DecodeError('malformed', 'remaining length longer than 4 bytes')));
        return pos;
      }
    }
    return pos;
  }

  private finishPacket(): Decoded {
    const headerBytes = this.header.length;
    const size = headerBytes + this.collected;
    // zero-copy when the packet began in the chunk being pushed (then all of it is in there)
    const whole =
      this.startChunk !== undefined
        ? this.startChunk.subarray(this.startOffset, this.startOffset + size)
        : Buffer.concat([Buffer.from(this.header), ...this.chunks], size);
    this.startChunk = undefined;
    this.header = [];
    this.chunks = [];
    this.expected = -1;
    this.collected = 0;
    this.lastPacket = undefined;
    this.lastError = undefined;
    const version = (this.parser as unknown as { settings: { protocolVersion?: number } }).settings.protocolVersion;
    const illFormed = illFormedString(whole, headerBytes, version);
    if (illFormed !== undefined) return this.fail(new DecodeError('malformed', illFormed));
    if (((whole[0] as number) >> 4) === PUBLISH_TYPE && (version === 3 || version === 4)) {
      const decoded = decodePublish(whole, headerBytes);
      if ('error' in decoded) return this.fail(new DecodeError('malformed', decoded.error));
      const zero = zeroPacketId(decoded.packet);
      return zero === undefined ? { packet: decoded.packet } : this.fail(new DecodeError('malformed', zero));
    }
    let left: number;
    try {
      left = this.parser.parse(whole);
    } catch (err) {
      return this.fail(new DecodeError('malformed', describe(err)));
    }
    const parseError = this.lastError as Error | undefined;
    if (parseError !== undefined) return this.fail(new DecodeError('malformed', parseError.message));
    const packet = this.lastPacket as Packet | undefined;
    if (packet === undefined || left !== 0) return this.fail(new DecodeError('malformed', 'packet could not be parsed'));
    const problem = checkProperties(packet) ?? zeroPacketId(packet);
    if (problem !== undefined) return this.fail(new DecodeError('malformed', problem));
    return { packet };
  }

  private fail(error: DecodeError): Decoded {
    this.failed = true;
    this.chunks = [];
    this.header = [];
    return { error };
  }
}

function decodeLength(header: number[]): number {
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i < header.length; i++) {
    value += ((header[i] as number) & 0x7f) * multiplier;
    multiplier *= 128;
  }
  return value;
}

function checkProperties(packet: Packet): string | undefined {
  const lists: unknown[] = [(packet as { properties?: unknown }).properties];
  if (packet.cmd === 'connect') lists.push(packet.will?.properties);
  for (const props of lists) {
    if (props === undefined || props === null) continue;
    for (const [name, value] of Object.entries(props as Record<string, unknown>)) {
      if (Array.isArray(value) && !REPEATABLE_PROPERTIES.has(name)) return `property ${name} repeated`; // [MQTT-2.2.2-2]
      // mqtt-packet answers a string or binary property whose length runs past the packet with null, not an error
      if (value === null || (Array.isArray(value) && value.includes(null))) return `property ${name} could not be decoded`;
    }
  }
  if (packet.cmd === 'publish' && Array.isArray(packet.properties?.subscriptionIdentifier)) {
    return 'subscription identifier in a client PUBLISH'; // [MQTT-3.3.4-6]
  }
  if (packet.cmd === 'publish' && packet.properties?.subscriptionIdentifier !== undefined) {
    return 'subscription identifier in a client PUBLISH';
  }
  return undefined;
}

/** SUBSCRIBE, UNSUBSCRIBE and PUBLISH with QoS > 0 need a non-zero packet identifier [MQTT-2.3.1-1] [MQTT-2.2.1-3] */
function zeroPacketId(packet: Packet): string | undefined {
  const needsId = packet.cmd === 'subscribe' || packet.cmd === 'unsubscribe' || (packet.cmd === 'publish' && (packet.qos ?? 0) > 0);
  return needsId && (packet as { messageId?: number }).messageId === 0 ? `${packet.cmd.toUpperCase()} with packet identifier 0` : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A packet → bytes, for the protocol version the connection speaks. */
export function encode(packet: Packet, version: ProtocolVersion): Buffer {
  if (packet.cmd === 'publish') {
    const fast = encodePublish(packet, version);
    if (fast !== undefined) return fast;
  } else if (packet.cmd === 'puback') {
    const fast = encodePlainPuback(packet, version);
    if (fast !== undefined) return fast;
  }
  return mqttPacket.generate(packet, { protocolVersion: version });
}

/**
 * A PUBACK that says only "success" is 4 bytes in every version (MQTT 5 may omit reason code
 * 0x00 without properties [MQTT-3.4.2.1]): written here, one per QoS 1 publish, instead of
 * through mqtt-packet's generic writer (0.7 µs of it per PUBACK, its debug() calls included).
 */
function encodePlainPuback(packet: Extract<Packet, { cmd: 'puback' }>, version: ProtocolVersion): Buffer | undefined {
  const id = packet.messageId;
  if (id === undefined || id < 1 || id > 0xffff) return undefined;
  if (version === 5 && ((packet.reasonCode ?? 0) !== 0 || packet.properties !== undefined)) return undefined;
  const out = Buffer.allocUnsafe(4);
  out[0] = 0x40;
  out[1] = 2;
  out.writeUInt16BE(id, 2);
  return out;
}
