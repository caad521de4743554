// SUBSCRIBE: each filter is validated, authorized (topic read permission on amq.topic with the
// binding key, client_id in context), bound, and answered in one SUBACK; then the retained
// messages that match go out (Retain Handling 0: always, 1: new subscriptions only, 2: never;
// never for shared subscriptions [MQTT-3.8.4] nor fair streams). A refused filter gets 0x80
// (3.1.1) or its reason code (5.0) in the SUBACK; the others are still made.
// `$fair/<stream>` needs read permission on the stream's output queue (as STOMP /fair/): 0x87
// without it, 0x8F when there is no such stream.

import { ErrorCode, GatewayError, isGatewayError, toGatewayError } from '../../../errors.js';
import { fairOutputQueue } from '../../../fair/names.js';
import type { ISubscribePacket, ISubscription } from '../codec.js';
import { TOPIC_EXCHANGE } from '../names.js';
import type { QoS } from '../properties.js';
import { Reason } from '../reason-codes.js';
import type { RetainedMessage } from '../retained.js';
import type { MqttSession } from '../session.js';
import { isOrdinary, type Subscription } from '../subscriptions.js';
import { TopicError, parseSubscriptionFilter, toRoutingKey, validateTopicFilter, type ParsedFilter } from '../topic.js';
import { MqttError, protocolError, subscribeReasonFor } from '../wire-errors.js';
import { saveSession } from './session-state.js';

const SUBACK_FAILURE = 0x80;

export async function handleSubscribe(s: MqttSession, p: ISubscribePacket): Promise<void> {
  const identifier = p.properties?.subscriptionIdentifier;
  if (identifier === 0) throw protocolError('Subscription Identifier 0'); // [MQTT-3.8.2-...] 1..268,435,455
  const granted: number[] = [];
  const retainedFor: Subscription[] = [];
  let changed = false;
  for (const requested of p.subscriptions) {
    try {
      const { sub, isNew } = await subscribeOne(s, requested, identifier);
      granted.push(sub.qos);
      changed = true;
      if (isNew) s.metrics.subscriptions.inc({ protocol: 'mqtt' });
      const wantsRetained = sub.retainHandling === 0 || (sub.retainHandling === 1 && isNew);
      if (isOrdinary(sub) && wantsRetained) retainedFor.push(sub);
    } catch (err) {
      const g = toGatewayError(err);
      if (g.fatal) throw g;
      s.log.info({ filter: requested.topic, code: g.code, detail: g.detail }, 'subscription refused');
      granted.push(s.version === 5 ? subscribeReasonFor(g) : SUBACK_FAILURE);
    }
  }
  if (changed) await saveSession(s);
  s.send({ cmd: 'suback', messageId: p.messageId as number, granted });
  for (const sub of retainedFor) await sendRetained(s, sub);
}

async function subscribeOne(s: MqttSession, r: ISubscription, identifier: number | undefined): Promise<{ sub: Subscription; isNew: boolean }> {
  const { authz, clientId, vhost } = s.requireConnected();
  const subs = s.subscriptions;
  if (subs === undefined) throw new GatewayError(ErrorCode.NOT_CONNECTED, undefined, { fatal: true });
  const { filter, group, stream } = parseFilter(r.topic);
  if (stream === undefined) validate(s, filter);
  if (group !== undefined && r.nl === true) throw protocolError('No Local on a shared subscription'); // [MQTT-3.8.3-4]
  const isNew = subs.get(r.topic) === undefined;
  if (isNew && subs.size >= s.config.limits.maxSubscriptionsPerSession) {
    throw new MqttError(Reason.QUOTA_EXCEEDED, ErrorCode.LIMIT_EXCEEDED, `more than ${s.config.limits.maxSubscriptionsPerSession} subscriptions`);
  }
  if (stream !== undefined) {
    await authz.authorize({ vhost, kind: 'queue', name: fairOutputQueue(stream), permission: 'read', context: { clientId } });
  } else {
    await authz.authorize({ vhost, kind: 'topic', name: TOPIC_EXCHANGE, permission: 'read', routingKey: toRoutingKey(filter), context: { clientId } });
  }
  const sub: Subscription = {
    raw: r.topic,
    filter,
    qos: r.qos as QoS,
    noLocal: r.nl ?? false,
    retainAsPublished: r.rap ?? false,
    retainHandling: (r.rh ?? 0) as 0 | 1 | 2,
  };
  if (group !== undefined) sub.group = group;
  if (stream !== undefined) sub.stream = stream;
  if (identifier !== undefined) sub.identifier = identifier;
  await subs.add(sub);
  return { sub, isNew };
}

function parseFilter(raw: string): ParsedFilter {
  try {
    return parseSubscriptionFilter(raw);
  } catch (err) {
    throw invalidFilter(err);
  }
}

function validate(s: MqttSession, filter: string): void {
  try {
    validateTopicFilter(filter, s.config.mqtt);
  } catch (err) {
    throw invalidFilter(err);
  }
}

function invalidFilter(err: unknown): MqttError {
  const problem = err instanceof TopicError ? err.problem : 'invalid';
  return new MqttError(Reason.TOPIC_FILTER_INVALID, ErrorCode.INVALID_DESTINATION, `invalid topic filter (${problem})`);
}

/** retained messages for a new subscription: RETAIN set [MQTT-3.3.1-9], QoS = min(both) */
async function sendRetained(s: MqttSession, sub: Subscription): Promise<void> {
  let matches: RetainedMessage[];
  try {
    matches = (await s.mod.retained(s.vhost as string)).match(sub.filter);
  } catch (err) {
    if (!isGatewayError(err)) throw err;
    s.log.warn({ code: err.code, detail: err.detail }, 'retained messages unavailable');
    return;
  }
  const now = Date.now();
  for (const m of matches) {
    const qos = Math.min(sub.qos, m.qos) as QoS;
    const properties = s.version === 5 ? { ...m.properties } : undefined;
    if (properties !== undefined && m.expiresAt !== undefined) properties.messageExpiryInterval = Math.max(1, Math.ceil((m.expiresAt - now) / 1000));
    s.outbound?.send({
      topic: m.topic,
      qos,
      retain: true,
      dup: false,
      payload: m.payload,
      ...(properties ? { properties } : {}),
      subscriptionIds: sub.identifier === undefined ? [] : [sub.identifier],
      settle: () => undefined,
    });
  }
}
