// fast-check arbitraries shared by the codec fuzz tests (test/unit), the short live STOMP fuzz
// (test/integration/stomp-fuzz.test.ts) and the budgeted live fuzz of all three protocols
// (test/fuzz): byte-level mutations and splits of a valid stream, STOMP frames, MQTT client
// packets (mqtt-packet shapes) and near-WAMP messages.
import fc from 'fast-check';
import type { Packet } from 'mqtt-packet';

// ---- bytes --------------------------------------------------------------------------------------

/** one edit of a byte string: overwrite, insert or delete a byte, or flip one bit */
export interface ByteMutation {
  op: 'flip' | 'insert' | 'delete' | 'bit';
  at: number;
  byte: number;
}

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.record({
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  op: fc.constantFrom('flip', 'insert', 'delete', 'bit'),
});

/** `bytes` with `mutations` applied in order; the first `keep` bytes are never touched */
export function mutate(bytes: Uint8Array, mutations: readonly ByteMutation[], keep = 0): Buffer {
  const head = [...bytes.subarray(0, keep)];
  const tail = [...bytes.subarray(keep)];
  for (const m of mutations) {
    const at = m.at % (tail.length + 1);
    if (m.op === 'insert') tail.splice(at, 0, m.byte);
    else if (at === tail.length) continue;
    else if (m.op === 'flip') tail[at] = m.byte;
    else if (m.op === 'bit') tail[at] = (tail[at] as number) ^ (1 << (m.byte & 7));
    else tail.splice(at, 1);
  }
  return Buffer.from([...head, ...tail]);
}

/** where to cut a byte stream into separate writes */
export const cutPoints: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 6 });

/** `bytes` cut at `cuts` (taken modulo its length): the chunks, none empty, in order */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  return [...points, bytes.length].map((p, i, all) => bytes.subarray(i === 0 ? 0 : all[i - 1], p)).filter((c) => c.length > 0);
}

export const garbage = (maxLength = 600): fc.Arbitrary<Buffer> => fc.uint8Array({ minLength: 1, maxLength }).map((b) => Buffer.from(b));

/** strings that are not valid UTF-8 once written: lone continuation bytes, overlongs, surrogates */
export const badUtf8: fc.Arbitrary<Buffer> = fc.constantFrom(
  Buffer.from([0x80]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
  Buffer.from([0xff, 0xfe]),
  Buffer.from([0xe2, 0x82]),
);

// ---- STOMP --------------------------------------------------------------------------------------

export const stompClientCommands = ['CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT'] as const;

// no `durable`/`auto-delete`: on RabbitMQ each random id would leave a durable queue behind
export const stompHeaderNames = ['destination', 'id', 'ack', 'receipt', 'content-length', 'content-type', 'transaction', 'selector', 'x-max-length', 'prefetch-count', 'heart-beat', 'accept-version', 'persistent', 'reply-to', 'message-id', 'subscription'] as const;

/** the one durable queue the STOMP destinations below create (delete it after a run on RabbitMQ) */
export const STOMP_FUZZ_QUEUE = 'fuzz';

export const stompDestinations = ['/topic/fuzz.a', '/topic/fuzz.#', '/queue/fuzz', '/temp-queue/fuzz', '/exchange/amq.topic/fuzz.b', '/amq/queue/none', '/fair/none', '/reply-queue/x', '/topic/', '', 'nowhere'] as const;

export interface StompFrameCase {
  command: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
}

const stompHeaderValue = fc.oneof(fc.constantFrom(...stompDestinations), fc.string({ maxLength: 12 }), fc.nat({ max: 1 << 20 }).map(String), fc.constantFrom('auto', 'client', 'client-individual', '0,0', '1.2', 'true', '-1'));

export const stompFrame: fc.Arbitrary<StompFrameCase> = fc.record({
  command: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...stompClientCommands) }, { weight: 1, arbitrary: fc.constantFrom('MESSAGE', 'XYZ', 'send', '') }),
  headers: fc.array(fc.tuple(fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...stompHeaderNames) }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) }), stompHeaderValue), { maxLength: 5 }),
  body: fc.uint8Array({ maxLength: 64 }),
});

// ---- MQTT ---------------------------------------------------------------------------------------

const mqttTopic = fc.oneof(fc.constantFrom('fuzz/a', 'fuzz/+/b', 'fuzz/#', '#', '+', '$SYS/x', 'a//b', '/', '$share/g/fuzz/a', '$fair/none'), fc.string({ maxLength: 16 }));
const packetId = fc.integer({ min: 0, max: 65535 });
const mqttProperties = fc.option(
  fc.record({
    contentType: fc.string({ maxLength: 8 }),
    messageExpiryInterval: fc.nat(),
    topicAlias: fc.integer({ min: 1, max: 20 }),
    userProperties: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
  }, { requiredKeys: [] }),
  { nil: undefined },
);

/** packets a client may send after CONNECT (with ids, QoS and flags anywhere in their range) */
export const mqttClientPacket: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({ topic: mqttTopic, qos: fc.constantFrom(0, 1, 2), messageId: packetId, retain: fc.boolean(), dup: fc.boolean(), payload: fc.uint8Array({ maxLength: 64 }), properties: mqttProperties })
    .map(({ payload, properties, qos, messageId, ...p }) => ({ cmd: 'publish', ...p, qos, ...(qos > 0 ? { messageId: messageId || 1 } : {}), payload: Buffer.from(payload), ...(properties ? { properties } : {}) }) as Packet),
  fc.record({ messageId: packetId, subscriptions: fc.array(fc.record({ topic: mqttTopic, qos: fc.constantFrom(0, 1, 2), nl: fc.boolean(), rap: fc.boolean(), rh: fc.constantFrom(0, 1, 2) }), { minLength: 1, maxLength: 3 }) })
    .map((p) => ({ cmd: 'subscribe', ...p, messageId: p.messageId || 1 }) as Packet),
  fc.record({ messageId: packetId, unsubscriptions: fc.array(mqttTopic, { minLength: 1, maxLength: 3 }) })
    .map((p) => ({ cmd: 'unsubscribe', ...p, messageId: p.messageId || 1 }) as Packet),
  fc.record({ cmd: fc.constantFrom('puback', 'pubrec', 'pubrel', 'pubcomp'), messageId: packetId }).map((p) => ({ ...p, messageId: p.messageId || 1 }) as Packet),
  fc.constant({ cmd: 'pingreq' } as Packet),
  fc.record({ reasonCode: fc.constantFrom(0, 4, 0x80) }).map((p) => ({ cmd: 'disconnect', ...p }) as Packet),
);

// ---- WAMP ---------------------------------------------------------------------------------------

export const wampAnyValue = fc.anything({ withBigInt: false, withMap: false, withSet: false, withDate: true, withTypedArray: true });

/** arrays that start like WAMP messages (any code a client might send, and some it must not) */
export const wampNearMessage: fc.Arbitrary<unknown[]> = fc.tuple(
  fc.constantFrom(1, 3, 5, 6, 8, 16, 32, 34, 48, 49, 64, 66, 70, 2, 36, 0, -1, 1.5),
  fc.array(fc.oneof(wampAnyValue, fc.integer(), fc.string(), fc.dictionary(fc.string(), wampAnyValue), fc.array(wampAnyValue)), { maxLength: 7 }),
).map(([code, rest]) => [code, ...rest]);

const wampUri = fc.oneof(fc.constantFrom('fuzz.a', 'fuzz', 'fuzz..b', 'wamp.session.count', 'com.fuzz.add', '', '.', 'a b'), fc.string({ maxLength: 12 }));
const requestId = fc.oneof(fc.integer({ min: 1, max: 2 ** 20 }), fc.constantFrom(0, -1, 2 ** 53, 2 ** 53 + 2, 1.5));
const wampArgs = fc.option(fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.boolean()), { maxLength: 3 }), { nil: undefined });

/** well-shaped messages a joined client sends (PUBLISH, SUBSCRIBE, CALL, REGISTER, …) */
export const wampClientMessage: fc.Arbitrary<unknown[]> = fc.oneof(
  fc.tuple(requestId, fc.record({ acknowledge: fc.boolean(), exclude_me: fc.boolean() }, { requiredKeys: [] }), wampUri, wampArgs).map(([id, opts, uri, args]) => [16, id, opts, uri, ...(args ? [args] : [])]),
  fc.tuple(requestId, fc.record({ match: fc.constantFrom('exact', 'prefix', 'wildcard', 'bogus') }, { requiredKeys: [] }), wampUri).map(([id, opts, uri]) => [32, id, opts, uri]),
  fc.tuple(requestId, fc.nat()).map(([id, sub]) => [34, id, sub]),
  fc.tuple(requestId, fc.record({ timeout: fc.nat({ max: 500 }) }, { requiredKeys: [] }), wampUri, wampArgs).map(([id, opts, uri, args]) => [48, id, opts, uri, ...(args ? [args] : [])]),
  fc.tuple(requestId, fc.constantFrom('skip', 'kill', 'killnowait')).map(([id, mode]) => [49, id, { mode }]),
  fc.tuple(requestId, fc.record({ invoke: fc.constantFrom('single', 'roundrobin', 'random', 'first', 'last') }, { requiredKeys: [] }), wampUri).map(([id, opts, uri]) => [64, id, opts, uri]),
  fc.tuple(requestId, fc.nat()).map(([id, reg]) => [66, id, reg]),
  fc.tuple(requestId, wampArgs).map(([id, args]) => [70, id, {}, ...(args ? [args] : [])]),
  fc.tuple(requestId, wampUri).map(([id, uri]) => [8, 68, id, {}, uri]),
  fc.constant<unknown[]>([6, {}, 'wamp.close.close_realm']),
  fc.constant<unknown[]>([1, 'realm1', { roles: { subscriber: {} } }]),
);
