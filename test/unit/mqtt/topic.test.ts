import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bindingKeyToFilter,
  parseSharedFilter,
  parseSubscriptionFilter,
  routingKeyToTopic,
  TopicError,
  topicMatches,
  toRoutingKey,
  validateTopicFilter,
  validateTopicName,
} from '../../../src/protocols/mqtt/topic.js';

const limits = { maxTopicLength: 1024, maxTopicLevels: 32 };

function problemOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(TopicError);
    return (err as TopicError).problem;
  }
}

describe('mqtt topic - mapping onto amq.topic (RabbitMQ plugin rules)', () => {
  it.each([
    ['devices/d1/temp', 'devices.d1.temp'],
    ['devices/+/temp', 'devices.*.temp'],
    ['devices/#', 'devices.#'],
    ['+/+', '*.*'],
    ['#', '#'],
    ['/leading', '.leading'],
    ['a//b', 'a..b'],
    ['a.b/c', 'a.b.c'], // a dot inside a level becomes a separator, as in RabbitMQ
  ])('MQTT %s → AMQP %s', (mqtt, amqp) => {
    expect(toRoutingKey(mqtt)).toBe(amqp);
  });

  it.each([
    ['devices.d1.temp', 'devices/d1/temp'],
    ['devices.*.temp', 'devices/+/temp'],
    ['devices.#', 'devices/#'],
    ['a/b', 'a/b'], // a slash in an AMQP key stays (RabbitMQ's to_mqtt)
  ])('AMQP %s → MQTT filter %s', (amqp, mqtt) => {
    expect(bindingKeyToFilter(amqp)).toBe(mqtt);
  });

  it('round-trips every filter without dots', () => {
    const level = fc.oneof(fc.constant('+'), fc.stringMatching(/^[a-z0-9$ _-]{0,6}$/));
    const filter = fc.tuple(fc.array(level, { minLength: 1, maxLength: 6 }), fc.boolean()).map(([ls, hash]) => [...ls, ...(hash ? ['#'] : [])].join('/'));
    fc.assert(
      fc.property(filter, (f) => {
        expect(bindingKeyToFilter(toRoutingKey(f))).toBe(f);
      }),
    );
  });

  it('turns a delivered routing key into a topic name, refusing keys no MQTT client may receive', () => {
    expect(routingKeyToTopic('devices.d1.temp')).toBe('devices/d1/temp');
    expect(routingKeyToTopic('a.*')).toBeUndefined();
    expect(routingKeyToTopic('a.#')).toBeUndefined();
    expect(routingKeyToTopic('')).toBeUndefined();
  });
});

describe('mqtt topic - validation', () => {
  it('accepts ordinary names and filters', () => {
    expect(problemOf(() => validateTopicName('a/b/c', limits))).toBeUndefined();
    expect(problemOf(() => validateTopicName('$SYS/x', limits))).toBeUndefined();
    expect(problemOf(() => validateTopicFilter('a/+/c/#', limits))).toBeUndefined();
    expect(problemOf(() => validateTopicFilter('+', limits))).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['a/+/b', 'wildcard-in-name'],
    ['a/#', 'wildcard-in-name'],
    ['a\u0000b', 'null-character'],
    ['x'.repeat(1025), 'too-long'],
    [Array(33).fill('a').join('/'), 'too-many-levels'],
    ['é'.repeat(130), 'too-long'], // 260 bytes: longer than an AMQP routing key
  ])('refuses topic name %j (%s)', (topic, problem) => {
    expect(problemOf(() => validateTopicName(topic, limits))).toBe(problem);
  });

  it.each([
    ['a/#/b', 'bad-wildcard'],
    ['a#', 'bad-wildcard'],
    ['a/b+', 'bad-wildcard'],
    ['', 'empty'],
  ])('refuses filter %j (%s)', (filter, problem) => {
    expect(problemOf(() => validateTopicFilter(filter, limits))).toBe(problem);
  });

  it('parses shared subscriptions', () => {
    expect(parseSharedFilter('a/b')).toBeUndefined();
    expect(parseSharedFilter('$share/g1/a/+/c')).toEqual({ group: 'g1', filter: 'a/+/c' });
    expect(problemOf(() => parseSharedFilter('$share/g1'))).toBe('bad-shared');
    expect(problemOf(() => parseSharedFilter('$share//a'))).toBe('bad-shared');
    expect(problemOf(() => parseSharedFilter('$share/g+/a'))).toBe('bad-shared');
    expect(problemOf(() => parseSharedFilter('$share/g/'))).toBe('bad-shared');
  });

  it('tells fair-stream, shared and ordinary filters apart ($fair/ is never an ordinary $ filter)', () => {
    expect(parseSubscriptionFilter('$fair/jobs-1_a')).toEqual({ filter: '$fair/jobs-1_a', stream: 'jobs-1_a' });
    expect(parseSubscriptionFilter('$share/g/a/#')).toEqual({ group: 'g', filter: 'a/#' });
    expect(parseSubscriptionFilter('$SYS/#')).toEqual({ filter: '$SYS/#' });
    expect(parseSubscriptionFilter('$fairy/x')).toEqual({ filter: '$fairy/x' });
    for (const bad of ['$fair/', '$fair/a/b', '$fair/+', '$fair/#', '$fair/a.b', `$fair/${'s'.repeat(101)}`, '$share/g/$fair/jobs']) {
      expect(problemOf(() => parseSubscriptionFilter(bad))).toBe('bad-fair');
    }
  });
});

describe('mqtt topic - matching', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['+/+', '/x', true],
    ['a/b', 'a/c', false],
    ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('mqtt names', () => {
  it('gives different shared-subscription groups different queues even when the names would run together', async () => {
    const { sharedQueueName, sessionQueueName } = await import('../../../src/protocols/mqtt/names.js');
    expect(sharedQueueName('a', 'b.c')).not.toBe(sharedQueueName('a.b', 'c'));
    expect(sessionQueueName('dev1')).toBe('mqtt-subscription-dev1qos1');
    const long = sessionQueueName('x'.repeat(300));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(255);
    expect(long).toMatch(/^mqtt-subscription-[0-9a-f]{64}qos1$/);
  });
});

describe('mqtt topic - last-answer memos', () => {
  it('validateTopicName answers a repeated topic the same, and again checks it under other limits', () => {
    const wide = { maxTopicLength: 100, maxTopicLevels: 10 };
    expect(validateTopicName('a/b/c', wide)).toBe('a.b.c');
    expect(validateTopicName('a/b/c', wide)).toBe('a.b.c');
    expect(() => validateTopicName('a/b/c', { maxTopicLength: 100, maxTopicLevels: 2 })).toThrow(TopicError);
    expect(() => validateTopicName('a/b/c', { maxTopicLength: 4, maxTopicLevels: 10 })).toThrow(TopicError);
    expect(validateTopicName('a/b/c', wide)).toBe('a.b.c');
    expect(() => validateTopicName('a/+', wide)).toThrow(TopicError);
    expect(() => validateTopicName('a/+', wide)).toThrow(TopicError);
  });

  it('routingKeyToTopic answers a repeated key the same, invalid ones included', () => {
    for (const key of ['a.b', 'a.b', 'a*', 'a*', '', '', 'x.y', 'a.b']) expect(routingKeyToTopic(key)).toBe(key === 'a*' || key === '' ? undefined : key.replaceAll('.', '/'));
  });
});
