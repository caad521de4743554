// The one mapping table between an MQTT PUBLISH and the fabric's AMQP message, both ways.
// It follows RabbitMQ's MQTT plugin (mc_mqtt.erl, and x-mqtt-publish-qos of the 3.x plugin) so
// AMQP consumers that were written against that plugin keep working:
//
// | MQTT                          | AMQP 0-9-1                                                   |
// |-------------------------------|--------------------------------------------------------------|
// | payload                       | body (bytes unchanged)                                       |
// | QoS                           | header x-mqtt-publish-qos; delivery-mode 2 when QoS > 0       |
// | RETAIN                        | header x-mqtt-retain (only when set)                         |
// | Content Type                  | content-type (when it fits a shortstr)                       |
// | Payload Format Indicator = 1  | header x-mqtt-payload-format-indicator = 1                   |
// | Message Expiry Interval (s)   | expiration (ms) + timestamp (publish time, s)                |
// | Response Topic                | header x-reply-to-topic (as routing key) + reply-to           |
// | Correlation Data              | correlation-id when a valid shortstr, else x-correlation-id  |
// | User Property                 | headers (a repeated name becomes an array of strings)        |
// | (publisher's client id)       | header x-opt-mqtt-client-id (for No Local)                   |
//
// AMQP → MQTT: every header whose value is a string, number or boolean (or an array of strings)
// becomes a User Property, except the x-mqtt-*, x-opt-mqtt-* and mapping headers above.

import type { FabricMessage, HeaderValue, Headers, MessageProperties } from '../../fabric/types.js';
import { bindingKeyToFilter, toRoutingKey } from './topic.js';

export const Header = {
  PUBLISH_QOS: 'x-mqtt-publish-qos',
  RETAIN: 'x-mqtt-retain',
  PAYLOAD_FORMAT: 'x-mqtt-payload-format-indicator',
  REPLY_TO_TOPIC: 'x-reply-to-topic',
  CORRELATION_ID: 'x-correlation-id',
  CLIENT_ID: 'x-opt-mqtt-client-id',
} as const;

const MAPPING_HEADERS = new Set<string>([Header.REPLY_TO_TOPIC, Header.CORRELATION_ID]);

export type QoS = 0 | 1 | 2;
export type UserProperties = Record<string, string | string[]>;

/** The PUBLISH properties this table maps (MQTT 5; all absent for 3.1/3.1.1). */
export interface MqttMessageProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: UserProperties;
}

export interface MqttMessage {
  topic: string;
  qos: QoS;
  retain: boolean;
  payload: Buffer;
  properties?: MqttMessageProperties;
}

/** RabbitMQ's per-message TTL is an unsigned 32-bit number of milliseconds. */
export const MAX_EXPIRATION_MS = 0xffff_ffff;
const SHORTSTR_MAX = 255;

export interface ToFabricOptions {
  /** the publishing client's id (for No Local on delivery) */
  clientId?: string;
  /** AMQP reply-to to use for a Response Topic; default: the topic's routing key */
  replyTo?: string;
  /** wall clock in ms (tests pin it) */
  now?: number;
  /** a session's cache of the headers that are the same for every plain publish (see FixedHeaders) */
  fixedHeaders?: FixedHeaders;
}

/**
 * The headers of a publish without MQTT 5 properties depend only on QoS, RETAIN and the client
 * id, so a session hands amqplib the same (frozen) object each time. amqplib's publish wraps the
 * headers in Object.create(headers) and encodes them with for…in: a fresh object per publish
 * becomes a new prototype every time, which measured ~7 µs a publish against ~1.5 µs for a
 * reused one (in-process, amqplib 2.3.1). Only for messages nobody mutates afterwards (the
 * retained store adds headers to its own copy and does not use this).
 */
export class FixedHeaders {
  private readonly slots: (Headers | undefined)[] = [undefined, undefined, undefined, undefined, undefined, undefined];
  private clientId: string | undefined;

  get(qos: QoS, retain: boolean, clientId: string | undefined): Headers {
    if (clientId !== this.clientId) {
      this.slots.fill(undefined);
      this.clientId = clientId;
    }
    const slot = qos * 2 + (retain ? 1 : 0);
    let headers = this.slots[slot];
    if (headers === undefined) {
      headers = Object.freeze(baseHeaders({}, qos, retain, clientId)) as Headers;
      this.slots[slot] = headers;
    }
    return headers;
  }
}

function baseHeaders(headers: Headers, qos: QoS, retain: boolean, clientId: string | undefined): Headers {
  headers[Header.PUBLISH_QOS] = qos;
  if (retain) headers[Header.RETAIN] = true;
  if (clientId !== undefined) headers[Header.CLIENT_ID] = clientId;
  return headers;
}

/** An MQTT PUBLISH (or will) → the AMQP message published on amq.topic. */
export function toFabricMessage(msg: MqttMessage, opts: ToFabricOptions = {}): FabricMessage {
  const p = msg.properties;
  if (p === undefined && opts.fixedHeaders !== undefined) {
    const headers = opts.fixedHeaders.get(msg.qos, msg.retain, opts.clientId);
    return { body: msg.payload, properties: { headers, deliveryMode: msg.qos > 0 ? 2 : 1 } };
  }
  return withProperties(msg, p ?? {}, opts);
}

function withProperties(msg: MqttMessage, p: MqttMessageProperties, opts: ToFabricOptions): FabricMessage {
  const headers: Headers = baseHeaders(userPropertiesToHeaders(p.userProperties), msg.qos, msg.retain, opts.clientId);
  if (p.payloadFormatIndicator) headers[Header.PAYLOAD_FORMAT] = 1;

  const properties: MessageProperties = { headers, deliveryMode: msg.qos > 0 ? 2 : 1 };
  if (p.contentType !== undefined && fitsShortstr(p.contentType)) properties.contentType = p.contentType;
  if (p.messageExpiryInterval !== undefined) {
    properties.expiration = String(Math.min(p.messageExpiryInterval * 1000, MAX_EXPIRATION_MS));
    properties.timestamp = Math.floor((opts.now ?? Date.now()) / 1000);
  }
  if (p.responseTopic !== undefined) {
    const key = toRoutingKey(p.responseTopic);
    headers[Header.REPLY_TO_TOPIC] = key;
    properties.replyTo = opts.replyTo ?? key;
  }
  if (p.correlationData !== undefined) {
    const text = asShortstr(p.correlationData);
    if (text !== undefined) properties.correlationId = text;
    else headers[Header.CORRELATION_ID] = p.correlationData;
  }
  return { body: msg.payload, properties };
}

function userPropertiesToHeaders(props: UserProperties | undefined): Headers {
  const headers: Headers = {};
  if (props === undefined) return headers;
  for (const [name, value] of Object.entries(props)) {
    // a header name is a shortstr; our own headers are not for clients to set
    if (!fitsShortstr(name) || isReservedHeader(name)) continue;
    headers[name] = Array.isArray(value) ? [...value] : value;
  }
  return headers;
}

export function isReservedHeader(name: string): boolean {
  return name.startsWith('x-mqtt-') || name.startsWith('x-opt-mqtt-') || MAPPING_HEADERS.has(name);
}

/** What an AMQP message (from any publisher) means to an MQTT subscriber. */
export interface FromFabric {
  /** the QoS it was published with: x-mqtt-publish-qos, else delivery-mode 2 → 1, else 0 */
  qos: QoS;
  retain: boolean;
  properties: MqttMessageProperties;
  /** the MQTT client that published it, when one did */
  publisherClientId?: string;
}

/** What a 3.1/3.1.1 subscriber needs (no properties to map): QoS, RETAIN, publisher. */
export function deliveryFacts(message: FabricMessage): Omit<FromFabric, 'properties'> {
  const headers = message.properties.headers;
  const result: Omit<FromFabric, 'properties'> = { qos: publishQos(message.properties), retain: headers?.[Header.RETAIN] === true };
  const publisher = headers?.[Header.CLIENT_ID];
  if (typeof publisher === 'string') result.publisherClientId = publisher;
  return result;
}

export function fromFabricMessage(message: FabricMessage, now: number = Date.now()): FromFabric {
  const props = message.properties;
  const headers = props.headers ?? {};
  const out: MqttMessageProperties = {};
  if (props.contentType !== undefined) out.contentType = props.contentType;
  if (headers[Header.PAYLOAD_FORMAT] === 1 || headers[Header.PAYLOAD_FORMAT] === true) out.payloadFormatIndicator = true;
  const expiry = remainingExpirySeconds(props, now);
  if (expiry !== undefined) out.messageExpiryInterval = expiry;
  const replyTopic = headers[Header.REPLY_TO_TOPIC];
  if (typeof replyTopic === 'string') out.responseTopic = bindingKeyToFilter(replyTopic);
  else if (props.replyTo !== undefined && props.replyTo !== '') out.responseTopic = bindingKeyToFilter(props.replyTo);
  if (props.correlationId !== undefined) out.correlationData = Buffer.from(props.correlationId, 'utf8');
  else if (headers[Header.CORRELATION_ID] !== undefined) {
    const corr = toBuffer(headers[Header.CORRELATION_ID]);
    if (corr !== undefined) out.correlationData = corr;
  }
  const user = headersToUserProperties(headers);
  if (user !== undefined) out.userProperties = user;

  const result: FromFabric = { qos: publishQos(props), retain: headers[Header.RETAIN] === true, properties: out };
  const publisher = headers[Header.CLIENT_ID];
  if (typeof publisher === 'string') result.publisherClientId = publisher;
  return result;
}

function publishQos(props: MessageProperties): QoS {
  const q = props.headers?.[Header.PUBLISH_QOS];
  if (q === 0 || q === 1 || q === 2) return q;
  return props.deliveryMode === 2 ? 1 : 0;
}

/**
 * The Message Expiry Interval to send: the received value minus the time the message waited
 * [MQTT-3.3.2-6]. The wait is measured from the AMQP timestamp when there is one. A message the
 * broker still delivered is not expired, so the result is at least 1 (the timestamp has
 * one-second resolution).
 */
function remainingExpirySeconds(props: MessageProperties, now: number): number | undefined {
  if (props.expiration === undefined) return undefined;
  const ttlMs = Number(props.expiration);
  if (!Number.isFinite(ttlMs) || ttlMs < 0) return undefined;
  const waitedMs = props.timestamp !== undefined ? Math.max(0, now - props.timestamp * 1000) : 0;
  return Math.max(1, Math.ceil((ttlMs - waitedMs) / 1000));
}

function headersToUserProperties(headers: Headers): UserProperties | undefined {
  let out: UserProperties | undefined;
  for (const [name, value] of Object.entries(headers)) {
    if (isReservedHeader(name)) continue;
    const converted = toUserPropertyValue(value);
    if (converted === undefined) continue;
    (out ??= {})[name] = converted;
  }
  return out;
}

/** RabbitMQ's amqpl_field_to_utf8_string_pair: strings, numbers, booleans; not tables or bytes. */
function toUserPropertyValue(value: HeaderValue): string | string[] | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? undefined : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return '';
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

function toBuffer(value: HeaderValue): Buffer | undefined {
  if (Buffer.isBuffer(value)) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return undefined;
}

function fitsShortstr(s: string): boolean {
  return Buffer.byteLength(s, 'utf8') <= SHORTSTR_MAX;
}

/** Correlation Data that is valid UTF-8 (no U+0000) and fits a shortstr, as a string. */
function asShortstr(data: Buffer): string | undefined {
  if (data.length > SHORTSTR_MAX) return undefined;
  const text = data.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(data) || text.includes('\u0000')) return undefined;
  return text;
}
