import fc from 'fast-check';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { DecodeError, MqttDecoder, encode, type Decoded, type Packet } from '../../../src/protocols/mqtt/codec.js';

const connect5: Packet = {
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 5,
  clean: true,
  clientId: 'c1',
  keepalive: 30,
  properties: { sessionExpiryInterval: 60, receiveMaximum: 10 },
};
const connect4: Packet = { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'c1', keepalive: 30 };
const publish5: Packet = {
  cmd: 'publish',
  topic: 'devices/d1/temp',
  qos: 1,
  messageId: 7,
  dup: false,
  retain: false,
  payload: Buffer.from('21.5'),
  properties: { contentType: 'text/plain', userProperties: { a: 'b' } },
};
const subscribe5: Packet = { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/+', qos: 1, nl: true, rap: false, rh: 1 }], properties: { subscriptionIdentifier: 9 } };

function decodeAll(chunks: Buffer[], limit = 1 << 20): Decoded[] {
  const d = new MqttDecoder(() => limit);
  return chunks.flatMap((c) => d.push(c));
}

function packetsOf(results: Decoded[]): Packet[] {
  return results.map((r) => {
    if ('error' in r) throw r.error;
    return r.packet;
  });
}

const session5 = Buffer.concat([mqttPacket.generate(connect5), mqttPacket.generate(publish5, { protocolVersion: 5 }), mqttPacket.generate(subscribe5, { protocolVersion: 5 }), mqttPacket.generate({ cmd: 'pingreq' })]);

describe('mqtt codec - framing', () => {
  it('decodes a v5 session fed whole', () => {
    const packets = packetsOf(decodeAll([session5]));
    expect(packets.map((p) => p.cmd)).toEqual(['connect', 'publish', 'subscribe', 'pingreq']);
    expect(packets[1]).toMatchObject({ topic: 'devices/d1/temp', qos: 1, messageId: 7, properties: { contentType: 'text/plain' } });
    expect((packets[1] as { payload: Buffer }).payload.toString()).toBe('21.5');
    expect(packets[2]).toMatchObject({ properties: { subscriptionIdentifier: 9 }, subscriptions: [{ topic: 'a/+', qos: 1, nl: true, rh: 1 }] });
  });

  it('gives the same packets when split at every byte and fed byte by byte', () => {
    const whole = packetsOf(decodeAll([session5]));
    for (let cut = 1; cut < session5.length; cut++) {
      expect(packetsOf(decodeAll([session5.subarray(0, cut), session5.subarray(cut)]))).toEqual(whole);
    }
    const bytes = [...session5].map((b) => Buffer.from([b]));
    expect(packetsOf(decodeAll(bytes))).toEqual(whole);
  });

  it('parses 3.1.1 after a v4 CONNECT (no properties)', () => {
    const pub = mqttPacket.generate({ cmd: 'publish', topic: 't', qos: 0, dup: false, retain: true, payload: Buffer.from('x') });
    const packets = packetsOf(decodeAll([mqttPacket.generate(connect4), pub]));
    expect(packets[1]).toMatchObject({ cmd: 'publish', topic: 't', retain: true });
  });

  it('round-trips what encode() produces', () => {
    const connack = encode({ cmd: 'connack', sessionPresent: true, reasonCode: 0, properties: { assignedClientIdentifier: 'x', receiveMaximum: 5 } }, 5);
    const p = mqttPacket.parser({ protocolVersion: 5 });
    const seen: unknown[] = [];
    p.on('packet', (x: unknown) => seen.push(x));
    p.parse(connack);
    expect(seen[0]).toMatchObject({ cmd: 'connack', sessionPresent: true, reasonCode: 0, properties: { assignedClientIdentifier: 'x', receiveMaximum: 5 } });
  });
});

describe('mqtt codec - limits (before the body is buffered)', () => {
  it('refuses a declared 256 MiB packet after reading only its fixed header', () => {
    const d = new MqttDecoder(() => 65536);
    const header = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]); // PUBLISH, remaining length 268,435,455
    const out = d.push(header);
    expect(out).toHaveLength(1);
    const err = (out[0] as { error: DecodeError }).error;
    expect(err.kind).toBe('too-large');
    expect(err.declaredBytes).toBe(268_435_460);
    expect(d.bufferedBytes).toBe(0);
    expect(d.push(Buffer.alloc(1 << 16))).toEqual([]); // nothing more after an error
  });

  it('holds at most the limit while a packet under it arrives', () => {
    const d = new MqttDecoder(() => 1000);
    const pub = mqttPacket.generate({ cmd: 'publish', topic: 't', qos: 0, dup: false, retain: false, payload: Buffer.alloc(900) });
    expect(d.push(pub.subarray(0, 500))).toEqual([]);
    expect(d.bufferedBytes).toBe(500);
    expect(d.push(pub.subarray(500))).toHaveLength(1);
    expect(d.bufferedBytes).toBe(0);
  });

  it('refuses a fifth remaining-length byte', () => {
    const out = decodeAll([Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01])]);
    expect((out[0] as { error: DecodeError }).error.kind).toBe('malformed');
    expect(out).toHaveLength(1);
  });

  it('reads the limit at each packet, so it can rise after CONNECT', () => {
    let limit = 100;
    const d = new MqttDecoder(() => limit);
    const big = mqttPacket.generate({ cmd: 'publish', topic: 't', qos: 0, dup: false, retain: false, payload: Buffer.alloc(500) });
    expect(packetsOf(d.push(mqttPacket.generate(connect4)))).toHaveLength(1);
    limit = 1000;
    expect(packetsOf(d.push(big))).toHaveLength(1);
  });

  it.each([
    ['reserved flag bits set on SUBSCRIBE', Buffer.from([0x80, 0x02, 0x00, 0x01])],
    ['QoS 3', Buffer.from([0x36, 0x03, 0x00, 0x01, 0x61])],
  ])('reports %s as malformed', (_name, bytes) => {
    const out = decodeAll([bytes]);
    expect((out[0] as { error: DecodeError }).error.kind).toBe('malformed');
  });

  it('reports a repeated single-valued property as malformed', () => {
    // CONNECT v5 with two Session Expiry Interval properties (0x11)
    const props = Buffer.from([0x0a, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2]);
    const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([5, 0x02, 0, 30]), props, Buffer.from([0, 1, 0x63])]);
    const packet = Buffer.concat([Buffer.from([0x10, body.length]), body]);
    const out = decodeAll([packet]);
    expect((out[0] as { error: DecodeError }).error.message).toMatch(/repeated/);
  });

  it('reports a string property whose length runs past the packet as malformed (mqtt-packet decodes it as null)', () => {
    // PUBLISH v5, RETAIN, topic "t", properties: Content Type (0x03) with length 255 and no bytes
    const publish = Buffer.from('3107000174030300ff', 'hex');
    const out = decodeAll([mqttPacket.generate(connect5), publish]);
    expect('packet' in (out[0] as object)).toBe(true);
    expect((out[1] as { error: DecodeError }).error.kind).toBe('malformed');
    expect((out[1] as { error: DecodeError }).error.message).toMatch(/contentType could not be decoded/);
  });

  it('refuses a subscription identifier in a client PUBLISH [MQTT-3.3.4-6]', () => {
    const pub = mqttPacket.generate({ ...publish5, properties: { subscriptionIdentifier: 4 } } as Packet, { protocolVersion: 5 });
    const out = decodeAll([mqttPacket.generate(connect5), pub]);
    expect((out[1] as { error: DecodeError }).error.kind).toBe('malformed');
  });
});

describe('mqtt codec - ill-formed UTF-8 is a malformed packet [MQTT-1.5.3-1] [MQTT-1.5.4-1]', () => {
  // found by the live fuzz (test/fuzz/mqtt.fuzz.ts): Buffer.toString turned the bytes into U+FFFD
  const overlong = Buffer.from([0xc0, 0xaf]);
  const str = (bytes: Buffer) => Buffer.concat([Buffer.from([bytes.length >> 8, bytes.length & 0xff]), bytes]);
  const packet = (first: number, body: Buffer) => Buffer.concat([Buffer.from([first, body.length]), body]);
  const connectWith = (version: 4 | 5, clientId: Buffer, username?: Buffer) => packet(0x10, Buffer.concat([
    str(Buffer.from('MQTT')), Buffer.from([version, username ? 0x82 : 0x02, 0, 30]), ...(version === 5 ? [Buffer.from([0])] : []), str(clientId), ...(username ? [str(username)] : []),
  ]));

  it.each([
    ['a 3.1.1 PUBLISH topic (the direct path)', 4, packet(0x30, Buffer.concat([str(overlong), Buffer.from('x')]))],
    ['an MQTT 5 PUBLISH topic (through mqtt-packet)', 5, packet(0x30, Buffer.concat([str(overlong), Buffer.from([0]), Buffer.from('x')]))],
    ['a SUBSCRIBE filter after a good one', 4, packet(0x82, Buffer.concat([Buffer.from([0, 1]), str(Buffer.from('a/b')), Buffer.from([0]), str(overlong), Buffer.from([0])]))],
    ['an MQTT 5 SUBSCRIBE filter', 5, packet(0x82, Buffer.concat([Buffer.from([0, 1, 0]), str(Buffer.from([0x61, 0xed, 0xa0, 0x80])), Buffer.from([0])]))],
    ['an UNSUBSCRIBE filter', 4, packet(0xa2, Buffer.concat([Buffer.from([0, 1]), str(Buffer.from([0x80]))]))],
  ] as const)('in %s', (_name, version, bad) => {
    const out = decodeAll([mqttPacket.generate(version === 5 ? connect5 : connect4), bad]);
    expect(out).toHaveLength(2);
    expect((out[1] as { error: DecodeError }).error).toMatchObject({ kind: 'malformed', message: expect.stringMatching(/not well-formed UTF-8/) });
  });

  it.each([4, 5] as const)('in a v%i CONNECT client id or user name', (version) => {
    for (const bytes of [connectWith(version, overlong), connectWith(version, Buffer.from('c1'), Buffer.from([0xff]))]) {
      const out = decodeAll([bytes]);
      expect((out[0] as { error: DecodeError }).error).toMatchObject({ kind: 'malformed', message: expect.stringMatching(/(client identifier|user name) is not well-formed UTF-8/) });
    }
  });

  it('well-formed strings with U+FFFD and 4-byte characters still decode', () => {
    const topic = 'a/\uFFFD/\u{1F600}';
    const out = packetsOf(decodeAll([mqttPacket.generate(connect4), mqttPacket.generate({ cmd: 'publish', topic, qos: 0, dup: false, retain: false, payload: Buffer.from('x') }), mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] })]));
    expect(out[1]).toMatchObject({ topic });
    expect(out[2]).toMatchObject({ subscriptions: [{ topic }] });
  });
});

describe('mqtt codec - packet identifier 0 [MQTT-2.3.1-1] [MQTT-2.2.1-3]', () => {
  // found by the live fuzz (test/fuzz/mqtt.fuzz.ts): a 3.1.1 QoS 1 PUBLISH with id 0 was accepted
  it.each([
    ['a 3.1.1 QoS 1 PUBLISH (the direct path)', 4, Buffer.from([0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00])],
    ['a 3.1.1 QoS 2 PUBLISH', 4, Buffer.from([0x34, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00])],
    ['an MQTT 5 QoS 1 PUBLISH', 5, Buffer.from([0x32, 0x06, 0x00, 0x01, 0x61, 0x00, 0x00, 0x00])],
    ['a 3.1.1 SUBSCRIBE', 4, Buffer.from([0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 0x61, 0x00])],
    ['an MQTT 5 UNSUBSCRIBE', 5, Buffer.from([0xa2, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 0x61])],
  ] as const)('is malformed in %s', (_name, version, bad) => {
    const out = decodeAll([mqttPacket.generate(version === 5 ? connect5 : connect4), bad]);
    expect(out).toHaveLength(2);
    expect((out[1] as { error: DecodeError }).error).toMatchObject({ kind: 'malformed', message: expect.stringMatching(/packet identifier 0/) });
  });

  it('a QoS 0 PUBLISH has no identifier and decodes', () => {
    const out = packetsOf(decodeAll([mqttPacket.generate(connect4), Buffer.from([0x30, 0x03, 0x00, 0x01, 0x61])]));
    expect(out[1]).toMatchObject({ cmd: 'publish', qos: 0, topic: 'a' });
  });
});

/** Every decode ends either in packets or in exactly one error that is the last result. */
function checkWellFormed(results: Decoded[]): void {
  const errors = results.filter((r) => 'error' in r);
  expect(errors.length).toBeLessThanOrEqual(1);
  if (errors.length === 1) expect('error' in (results[results.length - 1] as Decoded)).toBe(true);
}

describe('mqtt codec - fuzz', () => {
  const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
  it(`never throws on random bytes, split anywhere (seed ${seed})`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.integer({ min: 1, max: 64 }), (bytes, step) => {
        const d = new MqttDecoder(() => 256);
        const results: Decoded[] = [];
        for (let i = 0; i < bytes.length; i += step) results.push(...d.push(Buffer.from(bytes.subarray(i, i + step))));
        checkWellFormed(results);
        expect(d.bufferedBytes).toBeLessThanOrEqual(256);
      }),
      { numRuns: 30_000, seed },
    );
  }, 120_000);

  it(`never throws on mutated valid sessions: bit flips, truncation, length lies (seed ${seed})`, () => {
    const mutation = fc.record({
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }),
      cut: fc.option(fc.nat()),
      insert: fc.option(fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }))),
      version: fc.constantFrom(4, 5),
    });
    fc.assert(
      fc.property(mutation, ({ flips, cut, insert, version }) => {
        const base = Buffer.from(version === 5 ? session5 : Buffer.concat([mqttPacket.generate(connect4), mqttPacket.generate({ cmd: 'publish', topic: 'a/b', qos: 2, messageId: 1, dup: false, retain: false, payload: Buffer.from('p') }), mqttPacket.generate({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: '#', qos: 0 }] })]));
        let bytes = Buffer.from(base);
        for (const [pos, bit] of flips) {
          const i = pos % bytes.length;
          bytes[i] = (bytes[i] as number) ^ (1 << bit);
        }
        if (insert) {
          const at = insert[0] % bytes.length;
          bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(insert[1]), bytes.subarray(at)]);
        }
        if (cut !== null) bytes = bytes.subarray(0, cut % (bytes.length + 1));
        checkWellFormed(decodeAll([bytes], 4096));
      }),
      { numRuns: 70_000, seed },
    );
  }, 120_000);
});
