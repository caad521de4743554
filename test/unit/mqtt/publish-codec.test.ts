import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { MqttDecoder, encode, type Decoded, type IPublishPacket, type Packet } from '../../../src/protocols/mqtt/codec.js';
import { decodePublish, encodePublish } from '../../../src/protocols/mqtt/publish-codec.js';

const publishes = fc.record({
  topic: fc.string({ unit: 'binary', maxLength: 40 }),
  qos: fc.constantFrom(0 as const, 1 as const, 2 as const),
  dup: fc.boolean(),
  retain: fc.boolean(),
  messageId: fc.integer({ min: 1, max: 0xffff }),
  payload: fc.uint8Array({ maxLength: 20_000 }).map((a) => Buffer.from(a)),
});

function asPacket(p: { topic: string; qos: 0 | 1 | 2; dup: boolean; retain: boolean; messageId: number; payload: Buffer }): IPublishPacket {
  const packet: IPublishPacket = { cmd: 'publish', topic: p.topic, qos: p.qos, dup: p.dup, retain: p.retain, payload: p.payload };
  if (p.qos > 0) packet.messageId = p.messageId;
  return packet;
}

/** what mqtt-packet's own parser makes of `bytes` after a CONNECT of `version` */
function parsedByMqttPacket(bytes: Buffer, version: 3 | 4 | 5): Packet[] {
  const parser = mqttPacket.parser();
  const seen: Packet[] = [];
  parser.on('packet', (p: Packet) => seen.push(p));
  parser.parse(mqttPacket.generate({ cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clean: true, clientId: 'c', keepalive: 0 }));
  parser.parse(bytes);
  return seen.slice(1);
}

function decodedByUs(bytes: Buffer, version: 3 | 4): Decoded[] {
  const decoder = new MqttDecoder(() => 1 << 20);
  decoder.push(mqttPacket.generate({ cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clean: true, clientId: 'c', keepalive: 0 }));
  return decoder.push(bytes);
}

describe('PUBLISH fast path', () => {
  it('encodes byte for byte what mqtt-packet generates (3.1, 3.1.1, and MQTT 5 without properties)', () => {
    fc.assert(
      fc.property(publishes, fc.constantFrom(3 as const, 4 as const, 5 as const), (p, version) => {
        const packet = asPacket(p);
        expect(encodePublish(packet, version)).toEqual(mqttPacket.generate(packet, { protocolVersion: version }));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves packets with properties (MQTT 5) to mqtt-packet', () => {
    const packet: IPublishPacket = { cmd: 'publish', topic: 't', qos: 0, dup: false, retain: false, payload: Buffer.from('x'), properties: { contentType: 'a' } };
    expect(encodePublish(packet, 5)).toBeUndefined();
    expect(encodePublish({ ...packet, properties: undefined }, 4)).toBeDefined();
  });

  it('decodes what mqtt-packet decodes, fed whole and split anywhere', () => {
    fc.assert(
      fc.property(publishes, fc.constantFrom(3 as const, 4 as const), fc.nat(), (p, version, cutAt) => {
        const bytes = mqttPacket.generate(asPacket(p), { protocolVersion: version });
        const expected = parsedByMqttPacket(bytes, version);
        const whole = decodedByUs(bytes, version);
        expect(whole).toHaveLength(1);
        expect({ ...(whole[0] as { packet: Packet }).packet }).toEqual({ ...expected[0] });
        const cut = 1 + (cutAt % bytes.length);
        const decoder = new MqttDecoder(() => 1 << 20);
        decoder.push(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'c', keepalive: 0 }));
        const split = [...decoder.push(bytes.subarray(0, cut)), ...decoder.push(bytes.subarray(cut))];
        expect({ ...(split[0] as { packet: Packet }).packet }).toEqual({ ...expected[0] });
      }),
      { numRuns: 200 },
    );
  });

  it('refuses what mqtt-packet refuses: QoS 3, a topic longer than the packet, a missing packet id', () => {
    expect(decodePublish(Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61]), 2)).toEqual({ error: 'Packet must not have both QoS bits set to 1' });
    expect(decodePublish(Buffer.from([0x30, 0x03, 0x00, 0x05, 0x61]), 2)).toEqual({ error: 'Cannot parse topic' });
    expect(decodePublish(Buffer.from([0x30, 0x01, 0x00]), 2)).toEqual({ error: 'Cannot parse topic' });
    expect(decodePublish(Buffer.from([0x32, 0x03, 0x00, 0x01, 0x61]), 2)).toEqual({ error: 'Cannot parse messageId' });
    const out = decodedByUs(Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61]), 4);
    expect(out[0]).toHaveProperty('error');
  });

  it('a decoded payload is a view of the packet bytes (as mqtt-packet gives it)', () => {
    const bytes = mqttPacket.generate({ cmd: 'publish', topic: 'a/b', qos: 1, messageId: 9, dup: false, retain: true, payload: Buffer.from('hello') });
    const result = decodePublish(bytes, 2);
    if ('error' in result) throw new Error(result.error);
    expect(result.packet).toMatchObject({ topic: 'a/b', qos: 1, messageId: 9, retain: true, dup: false, length: bytes.length - 2 });
    expect(result.packet.payload.toString()).toBe('hello');
  });
});

describe('PUBACK fast path', () => {
  it('a success PUBACK is 4 bytes, and mqtt-packet reads back the same packet id and success (3.1, 3.1.1, 5)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 0xffff }), fc.constantFrom(3 as const, 4 as const, 5 as const), (messageId, version) => {
        const bytes = encode({ cmd: 'puback', messageId }, version);
        if (version !== 5) expect(bytes).toEqual(mqttPacket.generate({ cmd: 'puback', messageId }, { protocolVersion: version }));
        expect(bytes).toHaveLength(4);
        const [parsed] = parsedByMqttPacket(bytes, version);
        expect(parsed).toMatchObject({ cmd: 'puback', messageId });
        expect((parsed as { reasonCode?: number }).reasonCode ?? 0).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('leaves a PUBACK with a reason code or properties (MQTT 5) to mqtt-packet', () => {
    const refused = encode({ cmd: 'puback', messageId: 9, reasonCode: 0x97 }, 5);
    expect(refused.length).toBeGreaterThan(4);
    expect(parsedByMqttPacket(refused, 5)[0]).toMatchObject({ cmd: 'puback', messageId: 9, reasonCode: 0x97 });
    const withReason = encode({ cmd: 'puback', messageId: 9, reasonCode: 0, properties: { reasonString: 'ok' } }, 5);
    expect(parsedByMqttPacket(withReason, 5)[0]).toMatchObject({ properties: { reasonString: 'ok' } });
  });
});
