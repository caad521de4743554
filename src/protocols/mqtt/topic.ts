// MQTT topic names and filters, and their mapping onto amq.topic routing keys.
//
// The mapping is RabbitMQ's MQTT plugin's (rabbit_mqtt_util:to_amqp/to_mqtt), so AMQP
// consumers of a deployment that used that plugin keep their bindings:
//
//   MQTT → AMQP: '/' → '.', '+' → '*'            ('#' stays '#')
//   AMQP → MQTT: '*' → '+', '.' → '/'
//
// It is not a bijection: a '.' inside an MQTT level becomes a separator (`a.b/c` is published
// as `a.b.c` and delivered as `a/b/c`), as with RabbitMQ's plugin.

import { MAX_STREAM_NAME } from '../../fair/names.js';

export interface TopicLimits {
  /** most bytes (UTF-8) in a topic name or filter */
  maxTopicLength: number;
  /** most levels in a topic name or filter */
  maxTopicLevels: number;
}

/** AMQP shortstr: a routing key is at most 255 bytes. */
export const MAX_ROUTING_KEY_BYTES = 255;

export type TopicProblem =
  | 'empty'
  | 'too-long'
  | 'too-many-levels'
  | 'null-character'
  | 'wildcard-in-name'
  | 'bad-wildcard'
  | 'bad-shared'
  | 'bad-fair';

export class TopicError extends Error {
  override readonly name = 'TopicError';
  constructor(readonly problem: TopicProblem, readonly topic: string) {
    super(`invalid topic (${problem})`);
  }
}

/** Topic name of a PUBLISH: no wildcards [MQTT-3.3.2-2], no U+0000 [MQTT-1.5.4-2]. Returns its routing key. */
export function validateTopicName(topic: string, limits: TopicLimits): string {
  // a publisher mostly repeats its topic: the last valid one (under the same limits) is known
  const last = lastValid;
  if (topic === last.topic && limits.maxTopicLength === last.maxTopicLength && limits.maxTopicLevels === last.maxTopicLevels) return last.routingKey;
  const routingKey = checkTopicName(topic, limits);
  lastValid = { topic, maxTopicLength: limits.maxTopicLength, maxTopicLevels: limits.maxTopicLevels, routingKey };
  return routingKey;
}

let lastValid = { topic: '', maxTopicLength: -1, maxTopicLevels: -1, routingKey: '' };

function checkTopicName(topic: string, limits: TopicLimits): string {
  checkCommon(topic, limits);
  if (topic.includes('+') || topic.includes('#')) throw new TopicError('wildcard-in-name', topic); // [MQTT-3.3.2-2]
  const routingKey = toRoutingKey(topic);
  checkRoutingKeyLength(routingKey, topic);
  return routingKey;
}

/** Topic filter of a SUBSCRIBE/UNSUBSCRIBE (without any `$share/<group>/` prefix; not `$fair/`). */
export function validateTopicFilter(filter: string, limits: TopicLimits): void {
  checkCommon(filter, limits);
  const levels = filter.split('/');
  levels.forEach((level, i) => {
    if (level === '#') {
      if (i !== levels.length - 1) throw new TopicError('bad-wildcard', filter); // [MQTT-4.7.1-1]
    } else if (level === '+') {
      // a whole level: fine [MQTT-4.7.1-2]
    } else if (level.includes('#') || level.includes('+')) {
      throw new TopicError('bad-wildcard', filter); // [MQTT-4.7.1-1] [MQTT-4.7.1-2]
    }
  });
  checkRoutingKeyLength(toRoutingKey(filter), filter);
}

function checkCommon(topic: string, limits: TopicLimits): void {
  if (topic.length === 0) throw new TopicError('empty', topic); // [MQTT-4.7.3-1]
  if (utf8Over(topic, limits.maxTopicLength)) throw new TopicError('too-long', topic);
  if (topic.includes('\u0000')) throw new TopicError('null-character', topic); // [MQTT-4.7.3-2]
  if (countLevels(topic) > limits.maxTopicLevels) throw new TopicError('too-many-levels', topic);
}

function checkRoutingKeyLength(routingKey: string, topic: string): void {
  if (utf8Over(routingKey, MAX_ROUTING_KEY_BYTES)) throw new TopicError('too-long', topic);
}

/** more than `limit` UTF-8 bytes (a UTF-16 unit is at most 3 bytes: short strings need no count) */
function utf8Over(s: string, limit: number): boolean {
  return s.length * 3 > limit && Buffer.byteLength(s, 'utf8') > limit;
}

function countLevels(topic: string): number {
  let n = 1;
  for (let i = 0; i < topic.length; i++) if (topic.charCodeAt(i) === 0x2f) n++;
  return n;
}

/** MQTT topic name or filter → amq.topic routing or binding key (RabbitMQ's to_amqp). */
export function toRoutingKey(topic: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c !== 0x2f && c !== 0x2b) continue; // '/' '+'
    out += topic.slice(from, i) + (c === 0x2f ? '.' : '*');
    from = i + 1;
  }
  return from === 0 ? topic : out + topic.slice(from);
}

/** amq.topic binding key → MQTT filter (RabbitMQ's to_mqtt). */
export function bindingKeyToFilter(bindingKey: string): string {
  return bindingKey.replaceAll('*', '+').replaceAll('.', '/');
}

/**
 * The routing key of a delivered message → the MQTT topic name sent to the client.
 * Same as bindingKeyToFilter, except that a routing key that would become an invalid
 * MQTT topic name (wildcard characters, U+0000, empty) yields undefined: such a message
 * cannot be sent to an MQTT client.
 */
export function routingKeyToTopic(routingKey: string): string | undefined {
  // deliveries mostly repeat the last routing key
  if (routingKey === lastDelivered.routingKey) return lastDelivered.topic;
  const topic = topicOfRoutingKey(routingKey);
  lastDelivered = { routingKey, topic };
  return topic;
}

let lastDelivered: { routingKey: string | undefined; topic: string | undefined } = { routingKey: undefined, topic: undefined };

function topicOfRoutingKey(routingKey: string): string | undefined {
  const topic = bindingKeyToFilter(routingKey);
  if (topic.length === 0 || topic.includes('+') || topic.includes('#') || topic.includes('\u0000')) return undefined;
  return topic;
}

/** Whether an MQTT topic name matches an MQTT filter, with the `$` rule [MQTT-4.7.2-1]. */
export function topicMatches(filter: string, topic: string): boolean {
  // Filters starting with a wildcard must not match topics starting with '$' [MQTT-4.7.2-1]
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true; // also matches the parent level: 'a/#' matches 'a' [MQTT-4.7.1-2]
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

export interface SharedFilter {
  group: string;
  filter: string;
}

const SHARE_PREFIX = '$share/';

/** `$share/<group>/<filter>` → { group, filter }; undefined for an ordinary filter. */
export function parseSharedFilter(raw: string): SharedFilter | undefined {
  if (!raw.startsWith(SHARE_PREFIX)) return undefined;
  const rest = raw.slice(SHARE_PREFIX.length);
  const slash = rest.indexOf('/');
  const group = slash < 0 ? rest : rest.slice(0, slash);
  // ShareName: at least one character, no '/', '+' or '#' [MQTT-4.8.2-1] [MQTT-4.8.2-2]
  if (slash <= 0 || group.includes('+') || group.includes('#')) throw new TopicError('bad-shared', raw);
  const filter = rest.slice(slash + 1);
  if (filter.length === 0) throw new TopicError('bad-shared', raw);
  return { group, filter };
}

const FAIR_PREFIX = '$fair/';
/** a fair stream's name, as the config allows it (src/config/schema.ts) */
const STREAM_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * What a SUBSCRIBE filter asks for:
 *   `$fair/<stream>`          the output of a fair stream (src/fair), on a consumer of its own;
 *   `$share/<group>/<filter>` a shared subscription;
 *   anything else             an ordinary filter (`$SYS/#` and other `$` filters included).
 * `$fair/` is never an ordinary `$` filter: nothing is bound to amq.topic for it.
 */
export type ParsedFilter = { filter: string; group?: string; stream?: string };

export function parseSubscriptionFilter(raw: string): ParsedFilter {
  if (raw.startsWith(FAIR_PREFIX)) return { filter: raw, stream: parseFairStream(raw) };
  const shared = parseSharedFilter(raw);
  if (shared === undefined) return { filter: raw };
  if (shared.filter.startsWith(FAIR_PREFIX)) throw new TopicError('bad-fair', raw); // a stream is shared by nature
  return shared;
}

function parseFairStream(raw: string): string {
  const stream = raw.slice(FAIR_PREFIX.length);
  if (!STREAM_NAME.test(stream) || stream.length > MAX_STREAM_NAME) throw new TopicError('bad-fair', raw);
  return stream;
}
