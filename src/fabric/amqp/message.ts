// FabricMessage ⇄ amqplib: publish options out, Delivery in. Also the checks that keep a bad
// message from reaching the shared publish channel, where RabbitMQ would answer it by closing
// the channel for every session on it (406 for a bad expiration or a foreign user-id).

import type { ConsumeMessage, GetMessage, Options } from 'amqplib';
import { ErrorCode, GatewayError } from '../../errors.js';
import type { FabricMessage, Headers, MessageProperties } from '../types.js';

const PROPERTY_NAMES = [
  'contentType',
  'contentEncoding',
  'headers',
  'deliveryMode',
  'priority',
  'correlationId',
  'replyTo',
  'expiration',
  'messageId',
  'timestamp',
  'type',
  'userId',
  'appId',
] as const satisfies readonly (keyof MessageProperties)[];

/** AMQP shortstr limit: exchange names, routing keys, queue names */
const SHORTSTR_MAX = 255;

export function toPublishOptions(props: MessageProperties, mandatory: boolean): Options.Publish {
  const out: Options.Publish = {};
  for (const name of PROPERTY_NAMES) {
    const value = props[name];
    if (value !== undefined) (out as Record<string, unknown>)[name] = value;
  }
  if (mandatory) out.mandatory = true;
  return out;
}

/** Everything RabbitMQ would refuse with a channel error, refused here instead. */
export function validatePublish(exchange: string, routingKey: string, message: FabricMessage, brokerUser: string): GatewayError | undefined {
  if (Buffer.byteLength(exchange) > SHORTSTR_MAX) return invalid(`exchange name longer than ${SHORTSTR_MAX} bytes`);
  if (Buffer.byteLength(routingKey) > SHORTSTR_MAX) return invalid(`routing key longer than ${SHORTSTR_MAX} bytes`);
  if (!Buffer.isBuffer(message.body)) return precondition('message body must be bytes');
  const p = message.properties;
  if (p.expiration !== undefined && !/^\d{1,10}$/.test(p.expiration)) return precondition(`invalid expiration '${p.expiration}'`);
  if (p.priority !== undefined && !(Number.isInteger(p.priority) && p.priority >= 0 && p.priority <= 255)) {
    return precondition(`invalid priority ${p.priority}`);
  }
  if (p.userId !== undefined && p.userId !== brokerUser) {
    return precondition(`user_id property set to '${p.userId}' but the gateway's broker user is '${brokerUser}'`);
  }
  return undefined;
}

export function validateName(kind: 'queue' | 'exchange', name: string): void {
  if (Buffer.byteLength(name) > SHORTSTR_MAX) throw invalid(`${kind} name longer than ${SHORTSTR_MAX} bytes`);
}

function invalid(detail: string): GatewayError {
  return new GatewayError(ErrorCode.INVALID_DESTINATION, undefined, { detail });
}

function precondition(detail: string): GatewayError {
  return new GatewayError(ErrorCode.PRECONDITION_FAILED, undefined, { detail });
}

/** amqplib fills absent properties with undefined; the seam leaves them out. */
export function fromAmqpProperties(props: ConsumeMessage['properties']): MessageProperties {
  const out: MessageProperties = {};
  const source = props as unknown as Record<string, unknown>;
  for (const name of PROPERTY_NAMES) {
    const value = source[name];
    if (value === undefined || value === null) continue;
    if (name === 'headers') {
      const headers = value as Headers;
      if (Object.keys(headers).length > 0) out.headers = headers;
    } else if (name === 'expiration') {
      out.expiration = String(value);
    } else {
      (out as Record<string, unknown>)[name] = value;
    }
  }
  return out;
}

/** the fields of a delivery or a basic.get answer that every Delivery carries */
export function deliveryFields(msg: ConsumeMessage | GetMessage) {
  return {
    body: msg.content,
    properties: fromAmqpProperties(msg.properties),
    exchange: msg.fields.exchange,
    routingKey: msg.fields.routingKey,
    redelivered: msg.fields.redelivered,
  };
}
