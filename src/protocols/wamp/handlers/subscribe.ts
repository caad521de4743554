// SUBSCRIBE / UNSUBSCRIBE (wamp-proto "Subscribing and Unsubscribing", "Pattern-based
// Subscription"). The subscription lives in the realm's broker; see uri.ts for how exact,
// prefix and wildcard topics become amq.topic bindings, and broker/fair.ts for `fair.<stream>`
// (read permission on the stream's output queue instead of the topic).

import { ErrorCode, GatewayError } from '../../../errors.js';
import { fairOutputQueue } from '../../../fair/names.js';
import { TOPIC_EXCHANGE } from '../broker/broker.js';
import { fairStreamOf } from '../broker/fair.js';
import { ProtocolViolation, WampError, WampRequestError } from '../errors.js';
import { out, type InboundOf } from '../messages.js';
import type { WampSession } from '../session.js';
import { bindingKeyFor, isMatchPolicy, isValidPattern } from '../uri.js';

export async function handleSubscribe(s: WampSession, m: InboundOf<'SUBSCRIBE'>): Promise<void> {
  const match = m.options.match ?? 'exact';
  if (!isMatchPolicy(match)) throw new WampRequestError(WampError.INVALID_ARGUMENT, `unknown match policy '${String(match)}'`);
  if (!isValidPattern(m.topic, match)) throw new WampRequestError(WampError.INVALID_URI, `invalid topic '${m.topic}' for match '${match}'`);
  const limit = s.ctx.config.limits.maxSubscriptionsPerSession;
  if (s.subscriptions.size >= limit) throw new GatewayError(ErrorCode.LIMIT_EXCEEDED, `at most ${limit} subscriptions per session`);
  const announce = (id: number): void => {
    if (!s.subscriptions.has(id)) {
      s.subscriptions.add(id);
      s.ctx.metrics.subscriptions.inc({ protocol: 'wamp' });
    }
    s.send(out.subscribed(m.requestId, id));
  };
  const stream = fairStreamOf(m.topic, match, s.vhost, s.ctx.config);
  if (stream !== undefined) return subscribeFair(s, stream, announce);
  await s.authorize({ kind: 'topic', name: TOPIC_EXCHANGE, permission: 'read', routingKey: bindingKeyFor(m.topic, match) });
  await s.openRealm.broker.subscribe(s, m.topic, match, announce);
}

async function subscribeFair(s: WampSession, stream: string, announce: (id: number) => void): Promise<void> {
  if (s.fabric === null) throw new ProtocolViolation('no session');
  await s.authorize({ kind: 'queue', name: fairOutputQueue(stream), permission: 'read' });
  const subscriber = { peer: s, fabric: s.fabric, link: s.deps.link, prefetch: s.ctx.config.limits.maxInflightPerSession };
  await s.openRealm.broker.subscribeFair(subscriber, stream, announce);
}

export async function handleUnsubscribe(s: WampSession, m: InboundOf<'UNSUBSCRIBE'>): Promise<void> {
  if (!s.subscriptions.delete(m.subscriptionId)) {
    throw new WampRequestError(WampError.NO_SUCH_SUBSCRIPTION, `no subscription ${m.subscriptionId}`);
  }
  s.ctx.metrics.subscriptions.dec({ protocol: 'wamp' });
  // the broker drops the session synchronously, so no EVENT follows UNSUBSCRIBED
  const unbinding = s.openRealm.broker.unsubscribe(s, m.subscriptionId);
  s.send(out.unsubscribed(m.requestId));
  await unbinding;
}
