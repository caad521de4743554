// An AMQP delivery → the PUBLISH this client gets (or nothing).
//
// Which subscription a delivery belongs to decides its QoS (min of subscription and publish
// QoS), Subscription Identifiers, No Local and Retain As Published. The session queue carries
// every ordinary subscription, so the topic is matched against them here; this is also where a
// `$`-topic is kept from `#` and `+/…` subscribers [MQTT-4.7.2-1], which AMQP bindings cannot do.
// A delivery of a no-ack consumer (a clean session with only QoS 0 subscriptions) has nothing to
// settle: while the client is behind by more than mqtt.qos0BacklogBytes it is dropped, so that
// the gateway's memory for a slow QoS 0 reader stays bounded without cutting the reader off.

import type { Consumer, Delivery } from '../../fabric/types.js';
import { deliveryFacts, fromFabricMessage, type QoS } from './properties.js';
import type { MqttSession } from './session.js';
import { fairDeliveryTopic, type MatchResult, type Subscription } from './subscriptions.js';
import { routingKeyToTopic, topicMatches } from './topic.js';

export function deliver(s: MqttSession, d: Delivery, consumer: Consumer, shared: Subscription | undefined): void {
  const outbound = s.outbound;
  const atMostOnce = shared === undefined && s.subscriptions?.atMostOnce(consumer) === true;
  const settle = atMostOnce ? undefined : once(() => {
    if (!s.closing) consumer.ack(d);
  });
  if (outbound === undefined) return settle?.();
  if (atMostOnce && s.writer.backlogBytes > s.qos0BacklogBytes) {
    s.metrics.messagesDropped.inc({ protocol: 'mqtt', reason: 'qos0_backlog' });
    return;
  }
  const from: ReturnType<typeof deliveryFacts> & { properties?: ReturnType<typeof fromFabricMessage>['properties'] } =
    s.version === 5 ? fromFabricMessage(d) : deliveryFacts(d);
  const target = shared !== undefined ? sharedTarget(d, shared) : sessionTarget(s, d, from.publisherClientId);
  if (target === undefined) {
    s.metrics.messagesDropped.inc({ protocol: 'mqtt', reason: 'no_matching_subscription' });
    return settle?.();
  }
  const qos = Math.min(target.match.qos, from.qos) as QoS;
  outbound.send({
    topic: target.topic,
    qos,
    retain: target.match.retainAsPublished ? from.retain : false, // [MQTT-3.3.1-12] [MQTT-3.3.1-13]
    dup: qos > 0 && d.redelivered,
    payload: d.body,
    ...(from.properties !== undefined ? { properties: from.properties } : {}),
    subscriptionIds: target.match.identifiers,
    ...(settle !== undefined ? { settle } : {}),
  });
}

interface Target {
  topic: string;
  match: MatchResult;
}

function sharedTarget(d: Delivery, sub: Subscription): Target | undefined {
  // a fair stream's output carries every topic of the stream, each message the one it was published with
  const topic = sub.stream !== undefined ? fairDeliveryTopic(d) : routingKeyToTopic(d.routingKey);
  if (topic === undefined || (sub.stream === undefined && !topicMatches(sub.filter, topic))) return undefined;
  return {
    topic,
    match: { qos: sub.qos, identifiers: sub.identifier === undefined ? [] : [sub.identifier], retainAsPublished: sub.retainAsPublished },
  };
}

function sessionTarget(s: MqttSession, d: Delivery, publisher: string | undefined): Target | undefined {
  const subs = s.subscriptions;
  if (subs === undefined) return undefined;
  // an AMQP service answered through the default exchange, straight into this session's queue
  const topic = d.exchange === '' ? replyTopic(s, d) : routingKeyToTopic(d.routingKey);
  if (topic === undefined) return undefined;
  const match = subs.match(topic, publisher);
  return match === undefined ? undefined : { topic, match };
}

function replyTopic(s: MqttSession, d: Delivery): string | undefined {
  const corr = d.properties.correlationId;
  if (corr !== undefined) {
    const topic = s.replyRoutes.get(Buffer.from(corr, 'utf8').toString('hex'));
    if (topic !== undefined) return topic;
  }
  return s.lastReplyTopic;
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
