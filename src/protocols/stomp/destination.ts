// STOMP destinations, parsed once into an endpoint value (after RabbitMQ's rabbit_routing_util),
// plus the ActiveMQ forms legacy clients send.
//
//   /topic/<key>             amq.topic, key <key>; ActiveMQ '>' (rest of path) becomes AMQP '#'
//   /exchange/<x>[/<key>]    exchange <x>, key <key> (absent: '')
//   /queue/<q>               durable queue <q>, published through the default exchange
//   /amq/queue/<q>           an existing queue, never declared
//   /temp-queue/<t>          a per-connection server-named queue (reply-to; ActiveMQ also subscribes)
//   /temp-topic/<t>          ActiveMQ: a per-connection topic (a key private to the connection)
//   /reply-queue/<q>         how responders address a requester's temp queue (the rest is the name)
//   /fair/<stream>           SUBSCRIBE only: the output of a per-publisher fair stream (src/fair)
//   <name>                   no leading '/': the queue <name> (as RabbitMQ)
//
// In names, %2F stands for '/' and %25 for '%' (formatDestination writes them so).

import { ErrorCode, GatewayError } from '../../errors.js';

export type Destination =
  | { readonly kind: 'topic'; readonly routingKey: string }
  | { readonly kind: 'exchange'; readonly exchange: string; readonly routingKey: string }
  | { readonly kind: 'queue'; readonly name: string }
  | { readonly kind: 'amqqueue'; readonly name: string }
  | { readonly kind: 'temp-queue'; readonly name: string }
  | { readonly kind: 'temp-topic'; readonly name: string }
  | { readonly kind: 'reply-queue'; readonly name: string }
  | { readonly kind: 'fair'; readonly stream: string };

export type DestinationKind = Destination['kind'];

export const TOPIC_EXCHANGE = 'amq.topic';
/** AMQP short strings (exchange, queue names, routing keys) hold at most 255 bytes */
const MAX_NAME_BYTES = 255;

export function parseDestination(text: string | undefined): Destination {
  if (text === undefined || text === '') throw new GatewayError(ErrorCode.MISSING_HEADER, 'missing destination', { detail: 'this frame needs a "destination" header' });
  if (!text.startsWith('/')) {
    if (text.includes('/')) throw invalid(text, 'destinations start with "/" (a bare name is a queue and has no "/")');
    return { kind: 'queue', name: queueName(unescapeName(text), text) };
  }
  const [, prefix, ...rest] = text.split('/');
  switch (prefix) {
    case 'topic':
      return { kind: 'topic', routingKey: topicKey(one(text, rest), text) };
    case 'exchange':
      return exchangeDestination(text, rest);
    case 'queue':
      return { kind: 'queue', name: queueName(one(text, rest), text) };
    case 'amq':
      if (rest[0] !== 'queue') break;
      return { kind: 'amqqueue', name: checked(one(text, rest.slice(1)), text) };
    case 'temp-queue':
      return { kind: 'temp-queue', name: checked(one(text, rest), text) };
    case 'temp-topic':
      return { kind: 'temp-topic', name: checked(one(text, rest), text) };
    case 'fair':
      return { kind: 'fair', stream: checked(one(text, rest), text) };
    case 'reply-queue': {
      const name = text.slice('/reply-queue/'.length);
      if (rest.length === 0 || name === '') throw invalid(text, 'a reply queue needs a name');
      return { kind: 'reply-queue', name: checked(name, text) };
    }
  }
  throw invalid(text, 'destinations start with /topic/, /queue/, /exchange/, /amq/queue/, /temp-queue/, /temp-topic/, /reply-queue/ or /fair/');
}

/** The destination a MESSAGE frame carries for a delivery (RabbitMQ's reconstruction). */
export function formatDestination(exchange: string, routingKey: string): string {
  if (exchange === '') return `/queue/${escapeName(routingKey)}`;
  if (exchange === TOPIC_EXCHANGE) return `/topic/${escapeName(routingKey)}`;
  return routingKey === '' ? `/exchange/${escapeName(exchange)}` : `/exchange/${escapeName(exchange)}/${escapeName(routingKey)}`;
}

/** Whether a reply-to value is already a destination; others are AMQP queue names. */
export function isDestinationText(text: string): boolean {
  return /^\/(topic|exchange|queue|amq\/queue|temp-queue|temp-topic|reply-queue)\//.test(text);
}

function exchangeDestination(text: string, rest: string[]): Destination {
  if (rest.length === 0 || rest[0] === '' || rest.length > 2) throw invalid(text, 'use /exchange/<name> or /exchange/<name>/<routing key>');
  const exchange = checked(unescapeName(rest[0]!), text);
  const routingKey = rest.length === 2 ? topicKey(unescapeName(rest[1]!), text, true) : '';
  return { kind: 'exchange', exchange, routingKey };
}

/** exactly one non-empty path segment after the prefix */
function one(text: string, rest: string[]): string {
  if (rest.length !== 1 || rest[0] === '') throw invalid(text, 'the name after the prefix must be one non-empty segment (write "/" as %2F)');
  return unescapeName(rest[0]!);
}

function queueName(name: string, text: string): string {
  checked(name, text);
  // RabbitMQ refuses to declare amq.* queues (403); say so before touching the broker
  if (name.startsWith('amq.')) throw invalid(text, 'queue names starting with "amq." are reserved; use /amq/queue/ for existing queues');
  return name;
}

/** ActiveMQ wildcards: '>' matches the rest of the path ('#'), anything after it is ignored. */
function topicKey(key: string, text: string, allowEmpty = false): string {
  if (!allowEmpty && key === '') throw invalid(text, 'a topic needs a routing key');
  const words = key.split('.');
  const rest = words.indexOf('>');
  return checked(rest === -1 ? key : [...words.slice(0, rest), '#'].join('.'), text, allowEmpty);
}

function checked(name: string, text: string, allowEmpty = false): string {
  if (!allowEmpty && name === '') throw invalid(text, 'empty name');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw invalid(text, `names are limited to ${MAX_NAME_BYTES} bytes`);
  return name;
}

function unescapeName(s: string): string {
  return s.replace(/%2F|%25/gi, (m) => (m === '%25' ? '%' : '/'));
}

function escapeName(s: string): string {
  return s.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'));
}

function invalid(text: string, why: string): GatewayError {
  return new GatewayError(ErrorCode.INVALID_DESTINATION, `invalid destination ${text}`, { detail: why });
}
