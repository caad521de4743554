// PUBLISH without properties, both ways, byte for byte as mqtt-packet 9 decodes and encodes
// it (test/unit/mqtt/publish-codec.test.ts compares the two), for the per-message path:
//
//   fixed header: 0011 DUP QoS(2) RETAIN · remaining length
//   variable header: topic (u16 length + UTF-8) · packet id (u16, QoS > 0) · [MQTT 5: properties]
//   payload: the rest
//
// Anything else (MQTT 5 properties, a topic given as a Buffer...) is left to mqtt-packet.

import type { IPublishPacket } from 'mqtt-packet';

export const PUBLISH_TYPE = 3;
/** the largest remaining length four bytes can say */
const MAX_REMAINING = 268_435_455;

/**
 * `whole` is one complete 3.1/3.1.1 PUBLISH, its fixed header `headerBytes` long. The payload
 * is a view of `whole`, as mqtt-packet's is.
 */
export function decodePublish(whole: Buffer, headerBytes: number): { packet: IPublishPacket } | { error: string } {
  const first = whole[0] as number;
  const qos = (first >> 1) & 3;
  if (qos === 3) return { error: 'Packet must not have both QoS bits set to 1' };
  const end = whole.length;
  let pos = headerBytes;
  if (end - pos < 2) return { error: 'Cannot parse topic' };
  const topicEnd = pos + 2 + whole.readUInt16BE(pos);
  if (topicEnd > end) return { error: 'Cannot parse topic' };
  const topic = whole.toString('utf8', pos + 2, topicEnd);
  pos = topicEnd;
  const retain = (first & 1) !== 0;
  const dup = (first & 8) !== 0;
  const length = end - headerBytes;
  if (qos === 0) {
    return { packet: { cmd: 'publish', retain, qos, dup, length, topic, payload: whole.subarray(pos) } as IPublishPacket };
  }
  if (end - pos < 2) return { error: 'Cannot parse messageId' };
  const messageId = whole.readUInt16BE(pos);
  return { packet: { cmd: 'publish', retain, qos, dup, length, topic, payload: whole.subarray(pos + 2), messageId } as IPublishPacket };
}

/** The bytes of `packet` when it has no properties, else undefined (mqtt-packet does it). */
export function encodePublish(packet: IPublishPacket, version: 3 | 4 | 5): Buffer | undefined {
  const { topic, payload } = packet;
  if (typeof topic !== 'string' || !Buffer.isBuffer(payload)) return undefined;
  if (version === 5 && packet.properties !== undefined) return undefined;
  const qos = packet.qos ?? 0;
  const id = packet.messageId;
  if (qos > 0 && typeof id !== 'number') return undefined;
  const topicBytes = Buffer.byteLength(topic);
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + (version === 5 ? 1 : 0) + payload.length;
  if (remaining > MAX_REMAINING || topicBytes > 0xffff) return undefined;
  const lengthBytes = remaining < 0x80 ? 1 : remaining < 0x4000 ? 2 : remaining < 0x20_0000 ? 3 : 4;
  const out = Buffer.allocUnsafe(1 + lengthBytes + remaining);
  out[0] = 0x30 | (packet.dup ? 8 : 0) | (qos << 1) | (packet.retain ? 1 : 0);
  let pos = 1;
  let rest = remaining;
  do {
    let byte = rest % 0x80;
    rest = Math.floor(rest / 0x80);
    if (rest > 0) byte |= 0x80;
    out[pos++] = byte;
  } while (rest > 0);
  out.writeUInt16BE(topicBytes, pos);
  pos += 2;
  pos += out.write(topic, pos, 'utf8');
  if (qos > 0) pos = out.writeUInt16BE(id as number, pos);
  if (version === 5) out[pos++] = 0; // no properties
  payload.copy(out, pos);
  return out;
}
