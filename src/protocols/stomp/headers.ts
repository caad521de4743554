// The one table for STOMP headers ⇄ AMQP basic properties (RabbitMQ's rabbit_stomp_util),
// used for SEND → publish and delivery → MESSAGE. Headers not in the table travel as AMQP
// headers (strings in, strings out).

import { ErrorCode, GatewayError } from '../../errors.js';
import type { FabricMessage, HeaderValue, Headers, MessageProperties } from '../../fabric/types.js';
import { formatDestination, isDestinationText } from './destination.js';
import type { FrameHeaders } from './frame.js';
import { QUEUE_ARGUMENT_HEADERS } from './queue-arguments.js';

type Codec = {
  /** STOMP header text → property value; throws GatewayError for a bad value */
  parse(text: string, name: string): MessageProperties[keyof MessageProperties];
  /** property value → STOMP header text (undefined: no header) */
  format(value: never): string | undefined;
};

const text: Codec = { parse: (t) => t, format: (v: string) => v };
const integer = (min: number, max: number): Codec => ({
  parse(t, name) {
    if (!/^\s*-?\d{1,15}\s*$/.test(t) || Number(t) < min || Number(t) > max) throw badHeader(name, `an integer from ${min} to ${max}`);
    return Number.parseInt(t, 10);
  },
  format: (v: number) => String(v),
});

/** the longest per-message TTL RabbitMQ takes (2^32 − 1 ms, about 49.7 days) */
export const MAX_TTL_MS = 4_294_967_295;

/** STOMP header → AMQP property. `persistent` is special: true ⇄ deliveryMode 2. */
export const PROPERTY_HEADERS = {
  'content-type': { property: 'contentType', codec: text },
  'content-encoding': { property: 'contentEncoding', codec: text },
  persistent: {
    property: 'deliveryMode',
    codec: {
      parse: (t: string, name: string) => {
        if (t === 'true') return 2;
        if (t === 'false') return 1;
        throw badHeader(name, '"true" or "false"');
      },
      format: (v: number) => (v === 2 ? 'true' : undefined),
    },
  },
  priority: { property: 'priority', codec: integer(0, 255) },
  'correlation-id': { property: 'correlationId', codec: text },
  'reply-to': { property: 'replyTo', codec: { parse: (t: string) => t, format: (v: string) => (isDestinationText(v) ? v : `/reply-queue/${v}`) } },
  expiration: {
    property: 'expiration',
    codec: { parse: (t: string, name: string) => String(integer(0, MAX_TTL_MS).parse(t, name)), format: (v: string) => v },
  },
  'amqp-message-id': { property: 'messageId', codec: text },
  timestamp: { property: 'timestamp', codec: integer(0, Number.MAX_SAFE_INTEGER) },
  type: { property: 'type', codec: text },
  'user-id': { property: 'userId', codec: text },
  'app-id': { property: 'appId', codec: text },
} as const satisfies Record<string, { property: keyof MessageProperties; codec: Codec }>;

type PropertyHeader = keyof typeof PROPERTY_HEADERS;
/** the table as a list, for the delivery → MESSAGE direction (built once, not per message) */
const PROPERTY_ENTRIES = Object.entries(PROPERTY_HEADERS).map(([name, { property, codec }]) => ({
  name,
  property,
  format: codec.format as (v: unknown) => string | undefined,
}));

/** Headers about the frame itself or the destination, never copied into the message. */
const NOT_MESSAGE_HEADERS = new Set([
  'destination', 'receipt', 'transaction', 'content-length', 'message-id', 'subscription', 'ack', 'redelivered',
  'durable', 'auto-delete', 'exclusive', 'x-queue-name', 'expires', ...QUEUE_ARGUMENT_HEADERS,
]);

export interface SendOptions {
  /** epoch ms, for ActiveMQ's absolute `expires` */
  now: number;
  /** the reply-to after temp-queue rewriting, when the session rewrote it */
  replyTo?: string;
}

/**
 * SEND frame → fabric message. ActiveMQ's `expires` (absolute epoch ms, 0 = never) becomes a
 * per-message TTL (at most MAX_TTL_MS); returns null when it has already passed (dropped).
 */
export function toFabricMessage(headers: FrameHeaders, body: Buffer, opts: SendOptions): FabricMessage | null {
  const properties: MessageProperties = {};
  const amqpHeaders: Headers = {};
  let anyHeader = false;
  // FrameHeaders has no prototype: for…in sees exactly its own headers (no entries array per frame)
  for (const name in headers) {
    const value = headers[name] as string;
    if (Object.hasOwn(PROPERTY_HEADERS, name)) {
      const { property, codec } = PROPERTY_HEADERS[name as PropertyHeader];
      (properties as Record<string, unknown>)[property] = codec.parse(value, name);
    } else if (!NOT_MESSAGE_HEADERS.has(name)) {
      amqpHeaders[name] = value;
      anyHeader = true;
    }
  }
  if (opts.replyTo !== undefined) properties.replyTo = opts.replyTo;
  const expires = headers['expires'];
  if (expires !== undefined && expires !== '0' && properties.expiration === undefined) {
    const at = integer(0, Number.MAX_SAFE_INTEGER).parse(expires, 'expires') as number;
    if (at <= opts.now) return null;
    properties.expiration = String(Math.min(at - opts.now, MAX_TTL_MS));
  }
  if (anyHeader) properties.headers = amqpHeaders;
  return { body, properties };
}

export interface MessageFrameFields {
  subscription: string;
  messageId: string;
  /** the 1.2 `ack` header, for subscriptions that need acks */
  ack?: string;
  /** overrides the destination built from exchange and key (temp queues) */
  destination?: string;
}

/** Delivery → MESSAGE headers, in wire order: frame fields, then properties, then AMQP headers. */
export function toMessageHeaders(
  delivery: FabricMessage & { exchange: string; routingKey: string; redelivered: boolean },
  fields: MessageFrameFields,
): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['destination', fields.destination ?? formatDestination(delivery.exchange, delivery.routingKey)],
    ['message-id', fields.messageId],
    ['subscription', fields.subscription],
    ['redelivered', String(delivery.redelivered)],
  ];
  if (fields.ack !== undefined) out.push(['ack', fields.ack]);
  const p = delivery.properties;
  for (const { name, property, format } of PROPERTY_ENTRIES) {
    const value = p[property];
    if (value === undefined || value === null) continue;
    const formatted = format(value);
    if (formatted !== undefined) out.push([name, formatted]);
  }
  const amqpHeaders = p.headers;
  if (amqpHeaders === undefined) return out;
  const written = out.length; // an AMQP header never repeats a header written above
  for (const name in amqpHeaders) {
    if (name === '' || !Object.hasOwn(amqpHeaders, name) || writtenAmong(out, written, name)) continue;
    const formatted = headerText(amqpHeaders[name]);
    if (formatted !== undefined) out.push([name, formatted]);
  }
  return out;
}

/** a linear look through the first `count` headers: a handful, cheaper than building a Set per message */
function writtenAmong(out: ReadonlyArray<readonly [string, string]>, count: number, name: string): boolean {
  for (let i = 0; i < count; i += 1) if ((out[i] as readonly [string, string])[0] === name) return true;
  return false;
}

/** AMQP table values a STOMP header can carry; tables, arrays and null are left out. */
function headerText(value: HeaderValue): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return undefined;
}

function badHeader(name: string, expected: string): GatewayError {
  return new GatewayError(ErrorCode.PROTOCOL, `invalid ${name} header`, { detail: `the "${name}" header must be ${expected}` });
}
