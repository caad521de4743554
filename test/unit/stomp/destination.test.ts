// UNIT: every destination form, valid and invalid → endpoint value or error code.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { formatDestination, isDestinationText, parseDestination, type Destination } from '../../../src/protocols/stomp/destination.js';

const valid: Array<[string, Destination]> = [
  ['/topic/a.b', { kind: 'topic', routingKey: 'a.b' }],
  ['/topic/a.*.c', { kind: 'topic', routingKey: 'a.*.c' }],
  ['/topic/a.#', { kind: 'topic', routingKey: 'a.#' }],
  ['/topic/FOO.>', { kind: 'topic', routingKey: 'FOO.#' }],
  ['/topic/>', { kind: 'topic', routingKey: '#' }],
  ['/topic/a.>.ignored', { kind: 'topic', routingKey: 'a.#' }],
  ['/topic/a>b', { kind: 'topic', routingKey: 'a>b' }],
  ['/topic/a%2Fb', { kind: 'topic', routingKey: 'a/b' }],
  ['/exchange/logs', { kind: 'exchange', exchange: 'logs', routingKey: '' }],
  ['/exchange/logs/', { kind: 'exchange', exchange: 'logs', routingKey: '' }],
  ['/exchange/amq.direct/k.1', { kind: 'exchange', exchange: 'amq.direct', routingKey: 'k.1' }],
  ['/exchange/x%2Fy/k%25', { kind: 'exchange', exchange: 'x/y', routingKey: 'k%' }],
  ['/queue/orders', { kind: 'queue', name: 'orders' }],
  ['/queue/FOO.BAR', { kind: 'queue', name: 'FOO.BAR' }],
  ['/queue/a%2fb', { kind: 'queue', name: 'a/b' }],
  ['orders', { kind: 'queue', name: 'orders' }],
  ['/amq/queue/existing', { kind: 'amqqueue', name: 'existing' }],
  ['/amq/queue/amq.gen-xyz', { kind: 'amqqueue', name: 'amq.gen-xyz' }],
  ['/temp-queue/replies', { kind: 'temp-queue', name: 'replies' }],
  ['/temp-topic/events', { kind: 'temp-topic', name: 'events' }],
  ['/reply-queue/amq.gen-abc', { kind: 'reply-queue', name: 'amq.gen-abc' }],
  ['/reply-queue/with/slash', { kind: 'reply-queue', name: 'with/slash' }],
  ['/queue/ünïcödé', { kind: 'queue', name: 'ünïcödé' }],
  ['/fair/telemetry', { kind: 'fair', stream: 'telemetry' }],
];

const invalid: Array<[string | undefined, string, RegExp?]> = [
  [undefined, ErrorCode.MISSING_HEADER],
  ['', ErrorCode.MISSING_HEADER],
  ['/', ErrorCode.INVALID_DESTINATION, /start with/],
  ['/foo/bar', ErrorCode.INVALID_DESTINATION, /start with/],
  ['/topic/', ErrorCode.INVALID_DESTINATION, /one non-empty segment/],
  ['/topic', ErrorCode.INVALID_DESTINATION, /one non-empty segment/],
  ['/topic/a/b', ErrorCode.INVALID_DESTINATION, /%2F/],
  ['/queue/', ErrorCode.INVALID_DESTINATION],
  ['/queue/a/b', ErrorCode.INVALID_DESTINATION],
  ['/queue/amq.reserved', ErrorCode.INVALID_DESTINATION, /reserved/],
  ['amq.reserved', ErrorCode.INVALID_DESTINATION, /reserved/],
  ['a/b', ErrorCode.INVALID_DESTINATION],
  ['/exchange/', ErrorCode.INVALID_DESTINATION],
  ['/exchange//k', ErrorCode.INVALID_DESTINATION],
  ['/exchange/x/k/more', ErrorCode.INVALID_DESTINATION],
  ['/amq/queue/', ErrorCode.INVALID_DESTINATION],
  ['/amq/other/x', ErrorCode.INVALID_DESTINATION],
  ['/temp-queue/', ErrorCode.INVALID_DESTINATION],
  ['/temp-queue/a/b', ErrorCode.INVALID_DESTINATION],
  ['/temp-topic/', ErrorCode.INVALID_DESTINATION],
  ['/reply-queue/', ErrorCode.INVALID_DESTINATION],
  ['/fair/', ErrorCode.INVALID_DESTINATION],
  ['/fair/a/b', ErrorCode.INVALID_DESTINATION],
  ['/reply-queue', ErrorCode.INVALID_DESTINATION],
  [`/queue/${'q'.repeat(256)}`, ErrorCode.INVALID_DESTINATION, /255 bytes/],
  [`/topic/${'é'.repeat(128)}`, ErrorCode.INVALID_DESTINATION, /255 bytes/],
];

describe('UNIT: STOMP destinations', () => {
  it.each(valid)('%s parses', (text, expected) => {
    expect(parseDestination(text)).toEqual(expected);
  });

  it.each(invalid)('%s is refused', (text, code, detail) => {
    let error: { code: string; message: string; detail?: string } | undefined;
    try {
      parseDestination(text);
    } catch (err) {
      error = err as typeof error;
    }
    expect(error?.code).toBe(code);
    if (code === ErrorCode.INVALID_DESTINATION) expect(error?.message).toBe(`invalid destination ${text}`);
    if (detail) expect(error?.detail).toMatch(detail);
  });

  it('formats deliveries as RabbitMQ does', () => {
    expect(formatDestination('', 'orders')).toBe('/queue/orders');
    expect(formatDestination('amq.topic', 'a.b')).toBe('/topic/a.b');
    expect(formatDestination('logs', '')).toBe('/exchange/logs');
    expect(formatDestination('logs', 'k')).toBe('/exchange/logs/k');
    expect(formatDestination('amq.topic', 'a/b%c')).toBe('/topic/a%2Fb%25c');
  });

  it('format → parse gives back exchange and key', () => {
    const name = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.split('.').includes('>') && !s.startsWith('amq.'));
    fc.assert(
      fc.property(fc.constantFrom('', 'amq.topic', 'x', 'a/b'), name, (exchange, key) => {
        const parsed = parseDestination(formatDestination(exchange, key));
        if (exchange === '') expect(parsed).toEqual({ kind: 'queue', name: key });
        else if (exchange === 'amq.topic') expect(parsed).toEqual({ kind: 'topic', routingKey: key });
        else expect(parsed).toEqual({ kind: 'exchange', exchange, routingKey: key });
      }),
    );
  });

  it('arbitrary text either parses or is refused with a GatewayError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parseDestination(text);
        } catch (err) {
          expect((err as { code?: string }).code).toMatch(/^GW_ERR_(INVALID_DESTINATION|MISSING_HEADER)$/);
        }
      }),
    );
  });

  it('knows which reply-to values are destinations', () => {
    expect(isDestinationText('/queue/x')).toBe(true);
    expect(isDestinationText('/reply-queue/amq.gen-1')).toBe(true);
    expect(isDestinationText('amq.gen-1')).toBe(false);
    expect(isDestinationText('/other/x')).toBe(false);
  });
});
