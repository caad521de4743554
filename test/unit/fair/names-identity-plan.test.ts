import { describe, expect, it } from 'vitest';
import { ErrorCode, GatewayError } from '../../../src/errors.js';
import { intakePublisher, parsePublisherBy, sessionPublisher } from '../../../src/fair/identity.js';
import { fairOutputQueue, publisherQueue } from '../../../src/fair/names.js';
import { DEFAULT_OUTPUT_QUEUE_LENGTH, planStreams, StreamMatcher } from '../../../src/fair/plan.js';

const stream = (over: Record<string, unknown> = {}) => ({
  name: 's',
  patterns: ['devices.#'],
  publisherBy: 'client-id',
  maxPerPublisher: 10,
  idleExpiryMs: 60_000,
  outputQueueLength: 0,
  amqpIntake: false,
  ...over,
});

describe('UNIT: fair names', () => {
  it('publisher queues: readable, safe, and distinct for ids that are equal once made safe', () => {
    const a = publisherQueue('t', 'dev/1');
    const b = publisherQueue('t', 'dev_1');
    expect(a).toMatch(/^tributary\.fair\.t\.dev_1-[0-9a-f]{16}$/);
    expect(b).toMatch(/^tributary\.fair\.t\.dev_1-[0-9a-f]{16}$/);
    expect(a).not.toBe(b);
    expect(publisherQueue('t', 'dev/1')).toBe(a);
    expect(Buffer.byteLength(publisherQueue('x'.repeat(100), '€'.repeat(1000)))).toBeLessThan(256);
    expect(fairOutputQueue('t')).toBe('tributary.fair.t.out');
  });
});

describe('UNIT: fair publisher identity', () => {
  const owner = { vhost: '/', publisher: { clientId: 'c1', username: 'alice', protocol: 'mqtt' } };
  it('by client id, username or header, with fallbacks', () => {
    expect(sessionPublisher(parsePublisherBy('client-id'), owner, undefined)).toBe('c1');
    expect(sessionPublisher(parsePublisherBy('username'), owner, undefined)).toBe('alice');
    expect(sessionPublisher(parsePublisherBy('header:x-dev'), owner, { 'x-dev': 'd9' })).toBe('d9');
    expect(sessionPublisher(parsePublisherBy('header:x-dev'), owner, { 'x-dev': 42 })).toBe('42');
    expect(sessionPublisher(parsePublisherBy('header:x-dev'), owner, {})).toBe('c1');
    expect(sessionPublisher(parsePublisherBy('client-id'), { vhost: '/', publisher: { username: 'bob' } }, undefined)).toBe('bob');
    expect(sessionPublisher(parsePublisherBy('client-id'), { vhost: '/' }, undefined)).toBe('anonymous');
    expect(intakePublisher(parsePublisherBy('header:x-dev'), { headers: { 'x-dev': Buffer.from('d7') } })).toBe('d7');
    expect(intakePublisher(parsePublisherBy('header:x-dev'), { userId: 'svc' })).toBe('svc');
    expect(intakePublisher(parsePublisherBy('client-id'), {})).toBe('anonymous');
    expect(() => parsePublisherBy('header:')).toThrow(RangeError);
  });
});

describe('UNIT: fair stream plans', () => {
  it('resolves defaults and derives refresh/park timings from the idle expiry', () => {
    const [p] = planStreams([stream({ idleExpiryMs: 600_000, weights: { big: 3 } })] as never, '/');
    expect(p?.outputQueueLength).toBe(DEFAULT_OUTPUT_QUEUE_LENGTH);
    expect(p?.refreshMs).toBe(5_000);
    expect(p?.parkAfterMs).toBe(15_000);
    expect(p?.weights.get('big')).toBe(3);
    expect(p?.vhost).toBe('/');
    const [q] = planStreams([stream({ idleExpiryMs: 1_000, vhost: 'v' })] as never, '/');
    expect(q?.refreshMs).toBe(250);
    expect(q?.parkAfterMs).toBeGreaterThan(q?.refreshMs as number);
    expect(q?.vhost).toBe('v');
  });

  it('refuses duplicate streams and over-long names with CONFIG errors', () => {
    const dup = () => planStreams([stream(), stream()] as never, '/');
    expect(dup).toThrow(GatewayError);
    try {
      dup();
    } catch (err) {
      expect((err as GatewayError).code).toBe(ErrorCode.CONFIG);
    }
    expect(() => planStreams([stream({ name: 'n'.repeat(101) })] as never, '/')).toThrow(/at most 100/);
  });

  it('matches routing keys with AMQP topic semantics, per vhost', () => {
    const plans = planStreams([stream({ name: 'a', patterns: ['devices.*.temp'] }), stream({ name: 'b', patterns: ['devices.#'] }), stream({ name: 'c', vhost: 'other' })] as never, '/');
    const m = new StreamMatcher(plans);
    expect(m.matching('/', 'devices.d1.temp').map((p) => p.name).sort()).toEqual(['a', 'b']);
    expect(m.matching('/', 'devices.d1.hum').map((p) => p.name)).toEqual(['b']);
    expect(m.matching('/', 'other.x')).toEqual([]);
    expect(m.matching('nowhere', 'devices.x')).toEqual([]);
    expect(m.matching('other', 'devices.x').map((p) => p.name)).toEqual(['c']);
  });
});
