import { describe, expect, it } from 'vitest';
import { FixedHeaders, fromFabricMessage, Header, MAX_EXPIRATION_MS, toFabricMessage, type MqttMessage } from '../../../src/protocols/mqtt/properties.js';

const now = 1_700_000_000_000;

function msg(over: Partial<MqttMessage> = {}): MqttMessage {
  return { topic: 'devices/d1/temp', qos: 1, retain: false, payload: Buffer.from([0, 1, 2, 255]), ...over };
}

describe('mqtt properties - MQTT → AMQP', () => {
  it('keeps payload bytes and carries QoS as x-mqtt-publish-qos and delivery mode', () => {
    const payload = Buffer.from([0xff, 0x00, 0x80]);
    const q0 = toFabricMessage(msg({ qos: 0, payload }));
    expect(q0.body).toBe(payload);
    expect(q0.properties.deliveryMode).toBe(1);
    expect(q0.properties.headers?.[Header.PUBLISH_QOS]).toBe(0);
    const q2 = toFabricMessage(msg({ qos: 2 }));
    expect(q2.properties.deliveryMode).toBe(2);
    expect(q2.properties.headers?.[Header.PUBLISH_QOS]).toBe(2);
  });

  it('maps every MQTT 5 property', () => {
    const m = toFabricMessage(
      msg({
        retain: true,
        properties: {
          contentType: 'application/json',
          payloadFormatIndicator: true,
          messageExpiryInterval: 60,
          responseTopic: 'replies/c1',
          correlationData: Buffer.from('req-42'),
          userProperties: { site: 'north', tag: ['a', 'b'] },
        },
      }),
      { clientId: 'c1', now },
    );
    expect(m.properties).toMatchObject({
      contentType: 'application/json',
      expiration: '60000',
      timestamp: Math.floor(now / 1000),
      replyTo: 'replies.c1',
      correlationId: 'req-42',
      deliveryMode: 2,
    });
    expect(m.properties.headers).toEqual({
      [Header.PUBLISH_QOS]: 1,
      [Header.RETAIN]: true,
      [Header.PAYLOAD_FORMAT]: 1,
      [Header.REPLY_TO_TOPIC]: 'replies.c1',
      [Header.CLIENT_ID]: 'c1',
      site: 'north',
      tag: ['a', 'b'],
    });
  });

  it('puts binary correlation data in x-correlation-id and honours an explicit reply-to', () => {
    const corr = Buffer.from([0xc3, 0x28, 0x00]);
    const m = toFabricMessage(msg({ properties: { correlationData: corr, responseTopic: 'r/1' } }), { replyTo: 'mqtt-subscription-c1qos1' });
    expect(m.properties.correlationId).toBeUndefined();
    expect(m.properties.headers?.[Header.CORRELATION_ID]).toEqual(corr);
    expect(m.properties.replyTo).toBe('mqtt-subscription-c1qos1');
  });

  it('caps the expiration at what RabbitMQ accepts and drops user properties that would impersonate ours', () => {
    const m = toFabricMessage(msg({ properties: { messageExpiryInterval: 0xffffffff, userProperties: { [Header.PUBLISH_QOS]: '2', [Header.CLIENT_ID]: 'evil' } } }));
    expect(m.properties.expiration).toBe(String(MAX_EXPIRATION_MS));
    expect(m.properties.headers?.[Header.PUBLISH_QOS]).toBe(1);
    expect(m.properties.headers?.[Header.CLIENT_ID]).toBeUndefined();
  });
});

describe('mqtt properties - AMQP → MQTT', () => {
  it('inverts the MQTT → AMQP mapping', () => {
    const original = msg({
      qos: 2,
      retain: true,
      properties: {
        contentType: 'text/plain',
        payloadFormatIndicator: true,
        messageExpiryInterval: 30,
        responseTopic: 'replies/c1',
        correlationData: Buffer.from([1, 2, 3, 0]),
        userProperties: { a: '1', b: ['x', 'y'] },
      },
    });
    const back = fromFabricMessage(toFabricMessage(original, { clientId: 'pub', now }), now + 10_500);
    expect(back).toEqual({
      qos: 2,
      retain: true,
      publisherClientId: 'pub',
      properties: {
        contentType: 'text/plain',
        payloadFormatIndicator: true,
        messageExpiryInterval: 20, // 30 s minus the ~10 s it waited, rounded up
        responseTopic: 'replies/c1',
        correlationData: Buffer.from([1, 2, 3, 0]),
        userProperties: { a: '1', b: ['x', 'y'] },
      },
    });
  });

  it('reads a plain AMQP message: delivery mode → QoS, headers → user properties, reply-to → response topic', () => {
    const back = fromFabricMessage(
      {
        body: Buffer.from('x'),
        properties: {
          deliveryMode: 2,
          correlationId: 'abc',
          replyTo: 'amq.gen-xyz',
          expiration: '5000',
          headers: { n: 5, ok: true, nothing: null, table: { a: 1 }, bytes: Buffer.from([1]), 'x-mqtt-other': 'hidden' },
        },
      },
      now,
    );
    expect(back.qos).toBe(1);
    expect(back.retain).toBe(false);
    expect(back.properties).toEqual({
      correlationData: Buffer.from('abc'),
      responseTopic: 'amq/gen-xyz',
      messageExpiryInterval: 5,
      userProperties: { n: '5', ok: 'true', nothing: '' },
    });
    expect(fromFabricMessage({ body: Buffer.alloc(0), properties: {} }).qos).toBe(0);
  });

  it('prefers x-reply-to-topic over reply-to (the reply-to may name a queue)', () => {
    const back = fromFabricMessage({ body: Buffer.alloc(0), properties: { replyTo: 'mqtt-subscription-c1qos1', headers: { [Header.REPLY_TO_TOPIC]: 'replies.c1' } } });
    expect(back.properties.responseTopic).toBe('replies/c1');
  });
});

describe('mqtt properties - 3.x delivery facts', () => {
  it('reads QoS, RETAIN and the publisher without mapping properties', async () => {
    const { deliveryFacts } = await import('../../../src/protocols/mqtt/properties.js');
    const m = toFabricMessage(msg({ qos: 2, retain: true }), { clientId: 'p1' });
    expect(deliveryFacts(m)).toEqual({ qos: 2, retain: true, publisherClientId: 'p1' });
    expect(deliveryFacts({ body: Buffer.alloc(0), properties: { deliveryMode: 2 } })).toEqual({ qos: 1, retain: false });
  });
});

describe('mqtt properties - FixedHeaders', () => {
  it('gives a plain publish the same headers as without the cache, one frozen object per QoS/RETAIN/client id', () => {
    const cache = new FixedHeaders();
    for (const qos of [0, 1, 2] as const) {
      for (const retain of [false, true]) {
        const plain = toFabricMessage(msg({ qos, retain }), { clientId: 'c1' });
        const cached = toFabricMessage(msg({ qos, retain }), { clientId: 'c1', fixedHeaders: cache });
        expect(cached.properties).toEqual(plain.properties);
        expect(Object.keys(cached.properties.headers ?? {})).toEqual(Object.keys(plain.properties.headers ?? {}));
        expect(Object.isFrozen(cached.properties.headers)).toBe(true);
        expect(toFabricMessage(msg({ qos, retain }), { clientId: 'c1', fixedHeaders: cache }).properties.headers).toBe(cached.properties.headers);
      }
    }
    const other = toFabricMessage(msg({ qos: 0 }), { clientId: 'c2', fixedHeaders: cache });
    expect(other.properties.headers?.[Header.CLIENT_ID]).toBe('c2');
  });

  it('is not used for a publish with properties', () => {
    const cache = new FixedHeaders();
    const m = toFabricMessage(msg({ qos: 0, properties: { userProperties: { a: 'b' } } }), { clientId: 'c1', fixedHeaders: cache });
    expect(Object.isFrozen(m.properties.headers)).toBe(false);
    expect(m.properties.headers).toEqual({ a: 'b', [Header.PUBLISH_QOS]: 0, [Header.CLIENT_ID]: 'c1' });
  });
});
