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
  for (const [name, value] of Object.entries(headers)) {
    if (Object.hasOwn(PROPERTY_HEADERS, name)) {
      const { property, codec } = PROPERTY_HEADERS[name as keyof typeof PROPERTY_HEADERS];
      (properties as Record<string, unknown>)[property] = codec.parse(value, name);
    } else if (!NOT_MESSAGE_HEADERS.has(name)) {
      amqpHeaders[name] = value;
    }
  }
  if (opts.replyTo !== undefined) properties.replyTo = opts.replyTo;
  const expires = headers['expires'];
  if (expires !== undefined && expires !== '0' && properties.expiration === undefined) {
    const at = integer(0, Number.MAX_SAFE_INTEGER).parse(expires, 'expires') as number;
    if (at <= opts.now) return null;
    properties.expiration = String(Math.min(at - opts.now, MAX_TTL_MS));
  }
  if (Object.keys(amqpHeaders).length > 0) properties.headers = amqpHeaders;
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
  for (const [name, { property, codec }] of Object.entries(PROPERTY_HEADERS)) {
    const value = p[property];
    if (value === undefined || value === null) continue;
    const formatted = (codec.format as (v: unknown) => string | undefined)(value);
    if (formatted !== undefined) out.push([name, formatted]);
  }
  const written = new Set(out.map(([n]) => n));
  for (const [name, value] of Object.entries(p.headers ?? {})) {
    const formatted = headerText(value);
    if (name === '' || written.has(name) || formatted === undefined) continue;
    out.push([name, formatted]);
  }
  return out;
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
