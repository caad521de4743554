// UNIT: STOMP headers ⇄ AMQP properties, both ways, and queue arguments.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import type { MessageProperties } from '../../../src/fabric/types.js';
import { emptyHeaders, type FrameHeaders } from '../../../src/protocols/stomp/frame.js';
import { toFabricMessage, toMessageHeaders } from '../../../src/protocols/stomp/headers.js';
import { queueArgumentsFrom } from '../../../src/protocols/stomp/queue-arguments.js';

const NOW = 1_700_000_000_000;

function h(record: Record<string, string>): FrameHeaders {
  return Object.assign(emptyHeaders(), record);
}

const table: Array<[string, string, MessageProperties]> = [
  ['content-type', 'application/json', { contentType: 'application/json' }],
  ['content-encoding', 'gzip', { contentEncoding: 'gzip' }],
  ['persistent', 'true', { deliveryMode: 2 }],
  ['priority', '7', { priority: 7 }],
  ['correlation-id', 'c-1', { correlationId: 'c-1' }],
  ['reply-to', '/queue/replies', { replyTo: '/queue/replies' }],
  ['expiration', '60000', { expiration: '60000' }],
  ['amqp-message-id', 'm-1', { messageId: 'm-1' }],
  ['timestamp', '1700000000', { timestamp: 1_700_000_000 }],
  ['type', 'order.created', { type: 'order.created' }],
  ['user-id', 'guest', { userId: 'guest' }],
  ['app-id', 'billing', { appId: 'billing' }],
];

describe('UNIT: STOMP header mapping', () => {
  it.each(table)('SEND %s:%s → AMQP property, and back on MESSAGE', (name, value, props) => {
    const msg = toFabricMessage(h({ destination: '/queue/a', [name]: value }), Buffer.from('x'), { now: NOW });
    expect(msg?.properties).toEqual(props);
    const headers = toMessageHeaders({ ...msg!, exchange: '', routingKey: 'a', redelivered: false }, { subscription: 's', messageId: 'm' });
    expect(headers).toContainEqual([name, value]);
  });

  it('persistent:false is deliveryMode 1 and writes no header back', () => {
    const msg = toFabricMessage(h({ persistent: 'false' }), Buffer.alloc(0), { now: NOW });
    expect(msg?.properties.deliveryMode).toBe(1);
    expect(toMessageHeaders({ ...msg!, exchange: '', routingKey: 'a', redelivered: false }, { subscription: 's', messageId: 'm' }).map(([n]) => n)).not.toContain('persistent');
  });

  it('other headers travel as AMQP headers; frame and destination headers do not', () => {
    const msg = toFabricMessage(
      h({ destination: '/queue/a', receipt: 'r', transaction: 't', 'content-length': '1', 'x-max-length': '5', durable: 'true', 'x-queue-name': 'q', 'x-custom': 'c', JMSXGroupID: 'g1', 'my-header': 'v:1' }),
      Buffer.from('x'),
      { now: NOW },
    );
    expect(msg?.properties).toEqual({ headers: { 'x-custom': 'c', JMSXGroupID: 'g1', 'my-header': 'v:1' } });
  });

  it.each([
    ['priority', '256'],
    ['priority', '-1'],
    ['priority', 'high'],
    ['persistent', 'yes'],
    ['expiration', 'soon'],
    ['expiration', '4294967296'],
    ['timestamp', '1.5'],
    ['expires', 'tomorrow'],
  ])('%s:%s is refused with a clear error', (name, value) => {
    expect(() => toFabricMessage(h({ [name]: value }), Buffer.alloc(0), { now: NOW })).toThrow(expect.objectContaining({ code: ErrorCode.PROTOCOL, message: `invalid ${name} header` }));
  });

  it('ActiveMQ expires (absolute ms) becomes a TTL; past means dropped; 0 means never', () => {
    expect(toFabricMessage(h({ expires: String(NOW + 5000) }), Buffer.alloc(0), { now: NOW })?.properties.expiration).toBe('5000');
    expect(toFabricMessage(h({ expires: String(NOW) }), Buffer.alloc(0), { now: NOW })).toBeNull();
    expect(toFabricMessage(h({ expires: '0' }), Buffer.alloc(0), { now: NOW })?.properties.expiration).toBeUndefined();
    // far in the future: RabbitMQ's longest TTL
    expect(toFabricMessage(h({ expires: String(NOW + 10 ** 13) }), Buffer.alloc(0), { now: NOW })?.properties.expiration).toBe('4294967295');
    // an explicit expiration wins
    expect(toFabricMessage(h({ expires: String(NOW + 5000), expiration: '10' }), Buffer.alloc(0), { now: NOW })?.properties.expiration).toBe('10');
  });

  it('the session-rewritten reply-to wins over the header', () => {
    const msg = toFabricMessage(h({ 'reply-to': '/temp-queue/r' }), Buffer.alloc(0), { now: NOW, replyTo: 'amq.gen-1' });
    expect(msg?.properties.replyTo).toBe('amq.gen-1');
  });

  it('MESSAGE: frame fields first, reply-to rewritten, AMQP headers after and never overriding', () => {
    const headers = toMessageHeaders(
      {
        body: Buffer.alloc(0),
        exchange: 'amq.topic',
        routingKey: 'a.b',
        redelivered: true,
        properties: {
          replyTo: 'amq.gen-Xyz',
          deliveryMode: 2,
          headers: { destination: '/queue/evil', 'content-type': 'evil', n: 42, f: 1.5, b: true, buf: Buffer.from('bytes'), nil: null, arr: ['x'], tbl: { a: 1 }, '': 'x' },
          contentType: 'text/plain',
        },
      },
      { subscription: 'sub-1', messageId: 'T_sub-1@@s@@1', ack: '1' },
    );
    expect(headers).toEqual([
      ['destination', '/topic/a.b'],
      ['message-id', 'T_sub-1@@s@@1'],
      ['subscription', 'sub-1'],
      ['redelivered', 'true'],
      ['ack', '1'],
      ['content-type', 'text/plain'],
      ['persistent', 'true'],
      ['reply-to', '/reply-queue/amq.gen-Xyz'],
      ['n', '42'],
      ['f', '1.5'],
      ['b', 'true'],
      ['buf', 'bytes'],
    ]);
  });

  it('a destination override (temp queues) replaces the reconstructed one', () => {
    const headers = toMessageHeaders({ body: Buffer.alloc(0), exchange: '', routingKey: 'amq.gen-1', redelivered: false, properties: {} }, { subscription: 's', messageId: 'm', destination: '/temp-queue/r' });
    expect(headers[0]).toEqual(['destination', '/temp-queue/r']);
  });

  it('property: any custom header survives SEND → MESSAGE unchanged', () => {
    const name = fc.string({ minLength: 1, maxLength: 20 }).filter((n) => /^[a-zA-Z][\w.-]*$/.test(n) && !['destination', 'receipt', 'transaction', 'expires', 'durable', 'exclusive'].includes(n) && !n.startsWith('x-') && !/^(content|persistent|priority|correlation|reply|expiration|amqp|timestamp|type|user|app|message|subscription|ack|redelivered|auto)/.test(n));
    fc.assert(
      fc.property(fc.dictionary(name, fc.string(), { maxKeys: 6 }), (custom) => {
        const msg = toFabricMessage(h(custom), Buffer.alloc(0), { now: NOW })!;
        const back = toMessageHeaders({ ...msg, exchange: '', routingKey: 'q', redelivered: false }, { subscription: 's', messageId: 'm' });
        for (const [n, v] of Object.entries(custom)) expect(back).toContainEqual([n, v]);
      }),
    );
  });

  it('property: an AMQP header is written once, after the frame fields and properties, unless one of them has its name', () => {
    const names = fc.constantFrom('destination', 'message-id', 'subscription', 'redelivered', 'ack', 'content-type', 'persistent', 'priority', 'reply-to', 'type', 'x-a', 'x-b', 'custom', '');
    const values = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant([1]));
    fc.assert(
      fc.property(
        fc.dictionary(names, values, { maxKeys: 8 }),
        fc.record({ contentType: fc.option(fc.string({ maxLength: 5 }), { nil: undefined }), deliveryMode: fc.option(fc.constantFrom(1 as const, 2 as const), { nil: undefined }), type: fc.option(fc.string({ maxLength: 5 }), { nil: undefined }) }),
        fc.option(fc.string({ maxLength: 5 }), { nil: undefined }),
        (amqpHeaders, props, ack) => {
          const properties: MessageProperties = { headers: amqpHeaders as MessageProperties['headers'] };
          for (const [k, v] of Object.entries(props)) if (v !== undefined) (properties as Record<string, unknown>)[k] = v;
          const out = toMessageHeaders({ body: Buffer.alloc(0), properties, exchange: 'amq.topic', routingKey: 'k', redelivered: false }, { subscription: 's', messageId: 'm', ...(ack !== undefined ? { ack } : {}) });
          // the model: frame fields and properties first; then each AMQP header whose name is not among them and whose value a header can carry
          const before = out.slice(0, 4 + (ack !== undefined ? 1 : 0) + [props.contentType, props.deliveryMode === 2 ? 2 : undefined, props.type].filter((v) => v !== undefined).length);
          const expected = [...before];
          for (const [n, v] of Object.entries(amqpHeaders)) {
            if (n === '' || before.some(([w]) => w === n)) continue;
            const text = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
            if (text !== undefined) expected.push([n, text]);
          }
          expect(out).toEqual(expected);
          expect(new Set(out.map(([n]) => n)).size).toBe(out.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('UNIT: STOMP queue arguments', () => {
  it('types the x- headers', () => {
    expect(
      queueArgumentsFrom(
        h({ 'x-max-length': '10', 'x-message-ttl': '5000', 'x-expires': '60000', 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead', 'x-overflow': 'reject-publish', 'x-max-priority': '9', 'x-queue-type': 'quorum', 'x-single-active-consumer': 'true', other: 'x' }),
      ),
    ).toEqual({ 'x-max-length': 10, 'x-message-ttl': 5000, 'x-expires': 60000, 'x-dead-letter-exchange': 'dlx', 'x-dead-letter-routing-key': 'dead', 'x-overflow': 'reject-publish', 'x-max-priority': 9, 'x-queue-type': 'quorum', 'x-single-active-consumer': true });
  });

  it.each([
    ['x-max-length', '-1'],
    ['x-message-ttl', 'ten'],
    ['x-expires', '0'],
    ['x-overflow', 'drop-tail'],
    ['x-single-active-consumer', 'yes'],
  ])('%s:%s is refused', (name, value) => {
    expect(() => queueArgumentsFrom(h({ [name]: value }))).toThrow(expect.objectContaining({ code: ErrorCode.PROTOCOL, message: `invalid ${name} header` }));
  });
});
