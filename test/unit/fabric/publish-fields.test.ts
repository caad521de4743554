// publishFields must put on the wire exactly what amqplib's own Channel#publish would
// (Args.publish → encodeMethod + encodeProperties), for any publish options the fabric makes.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import fc from 'fast-check';
import type { Options } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { publishConfirmed, publishFields, publishPlain } from '../../../src/fabric/amqp/publish-fields.js';

// amqplib's package exports hide lib/: load its codec and argument builder by file path
const require = createRequire(import.meta.url);
const defs = require(resolve('node_modules/amqplib/lib/defs.js')) as {
  encodeMethod(id: number, channel: number, fields: object): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: object): Buffer;
  BasicPublish: number;
  BasicProperties: number;
};
const Args = require(resolve('node_modules/amqplib/lib/api_args.js')) as {
  publish(exchange: string, routingKey: string, options: Options.Publish): object;
};

function wire(fields: object, size: number): Buffer {
  return Buffer.concat([defs.encodeMethod(defs.BasicPublish, 1, fields), defs.encodeProperties(defs.BasicProperties, 1, size, fields)]);
}

const shortstr = fc.string({ maxLength: 40 });
const headerValue = fc.oneof(fc.string({ maxLength: 30 }), fc.integer({ min: -1_000_000, max: 1_000_000 }), fc.boolean());
const options: fc.Arbitrary<Options.Publish> = fc.record(
  {
    contentType: shortstr,
    contentEncoding: shortstr,
    headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }), headerValue, { maxKeys: 6 }),
    deliveryMode: fc.constantFrom(1, 2),
    priority: fc.integer({ min: 0, max: 9 }),
    correlationId: shortstr,
    replyTo: shortstr,
    expiration: fc.integer({ min: 0, max: 99_999_999 }).map(String),
    messageId: shortstr,
    timestamp: fc.integer({ min: 0, max: 2_000_000_000 }),
    type: shortstr,
    userId: shortstr,
    appId: shortstr,
    mandatory: fc.boolean(),
  },
  { requiredKeys: [] },
);

describe('publishFields', () => {
  it('encodes byte for byte as amqplib Args.publish does (fast-check)', () => {
    fc.assert(
      fc.property(shortstr, shortstr, options, fc.integer({ min: 0, max: 5000 }), (exchange, key, o, size) => {
        expect(wire(publishFields(exchange, key, o), size).equals(wire(Args.publish(exchange, key, o), size))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('sends an empty headers table when there are no headers, as amqplib does', () => {
    const ours = wire(publishFields('amq.topic', 'a.b', {}), 3);
    expect(ours.equals(wire(Args.publish('amq.topic', 'a.b', {}), 3))).toBe(true);
    // and that differs from sending no table at all: the flag is really set
    expect(ours.equals(wire({ ...publishFields('amq.topic', 'a.b', {}), headers: undefined }, 3))).toBe(false);
  });

  it('takes frozen headers (reused objects) without copying them into a prototype', () => {
    const headers = Object.freeze({ 'x-mqtt-publish-qos': 1, 'x-opt-mqtt-client-id': 'c1' });
    const fields = publishFields('amq.topic', 'k', { headers, deliveryMode: 2 });
    expect(fields.headers).toBe(headers);
    expect(wire(fields, 0).equals(wire(Args.publish('amq.topic', 'k', { headers, deliveryMode: 2 }), 0))).toBe(true);
  });
});

describe('publishPlain / publishConfirmed', () => {
  class FakeChannel {
    sent: Array<{ fields: object; body: Buffer }> = [];
    confirms: unknown[] = [];
    publicPublishes = 0;
    sendMessage(fields: object, _props: object, body: Buffer): boolean {
      this.sent.push({ fields, body });
      return this.sent.length < 2;
    }
    pushConfirmCallback(cb: unknown): void {
      this.confirms.push(cb);
    }
    publish(): boolean {
      this.publicPublishes += 1;
      return true;
    }
  }

  it('hands the fields to sendMessage, returns its answer, queues the confirm callback after the send', () => {
    const ch = new FakeChannel();
    const onConfirm = (): void => undefined;
    expect(publishPlain(ch as never, 'x', 'k', Buffer.from('a'), {})).toBe(true);
    expect(publishConfirmed(ch as never, 'x', 'k', Buffer.from('b'), { mandatory: true }, onConfirm)).toBe(false);
    expect(ch.sent.map((s) => s.body.toString())).toEqual(['a', 'b']);
    expect(ch.confirms).toEqual([onConfirm]);
    expect(ch.publicPublishes).toBe(0);
  });

  it('uses the public publish for CC/BCC (which only Args.publish knows how to add)', () => {
    const ch = new FakeChannel();
    publishPlain(ch as never, 'x', 'k', Buffer.from('a'), { CC: ['other'] });
    publishConfirmed(ch as never, 'x', 'k', Buffer.from('a'), { BCC: 'b' }, () => undefined);
    expect(ch.publicPublishes).toBe(2);
    expect(ch.sent).toHaveLength(0);
  });

  it('uses the public publish when the channel lacks the internal methods', () => {
    const ch = { publish: (): boolean => false };
    expect(publishPlain(ch as never, 'x', 'k', Buffer.from('a'), {})).toBe(false);
  });
});
