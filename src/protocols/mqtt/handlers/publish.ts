// Client PUBLISH → amq.topic.
//   QoS 0: published, no answer.
//   QoS 1: PUBACK once the broker confirmed (and the retained store, when RETAIN is set).
//   QoS 2: PUBREC after the confirm; the packet id is remembered until PUBREL, so a
//          retransmitted PUBLISH is answered again but published once [MQTT-4.3.3-10].
// Answers leave in PUBLISH order (OrderedAcks). The reader stops while the confirm window
// is full or the fabric is blocked; an MQTT 5 client that ignores our Receive Maximum is
// disconnected (0x93). MQTT 3.x has no Receive Maximum: its window is wider (see
// publishWindow), and past limits.maxInflightPerSession unanswered publishes it also holds
// no more than limits.maxPendingBytesPerConnection of their payloads.
// A fair stream's full publisher queue (docs/fair.md): MQTT 5 gets PUBACK/PUBREC 0x97; MQTT
// 3.1/3.1.1 have no code for it, so their PUBACK/PUBREC is withheld until there is room
// (whenFull 'wait') instead of a close that would only make the client send it again.

import { ErrorCode, GatewayError, toGatewayError } from '../../../errors.js';
import type { IPublishPacket } from '../codec.js';
import type { FabricMessage, PublishOptions } from '../../../fabric/types.js';
import { TOPIC_EXCHANGE } from '../names.js';
import { toFabricMessage, type MqttMessage, type MqttMessageProperties, type QoS } from '../properties.js';
import { Reason } from '../reason-codes.js';
import type { MqttSession } from '../session.js';
import { isOrdinary } from '../subscriptions.js';
import { TopicError, toRoutingKey, topicMatches, validateTopicName } from '../topic.js';
import { MqttError, protocolError, publishReasonFor } from '../wire-errors.js';
import { stageDelayedWill, type Will } from '../will.js';

/**
 * A PUBLISH, handled without a promise when it needs no wait (a granted topic, room in the
 * confirm window): the SerialQueue then goes on to the next packet at once. A promise only
 * while it authorizes or waits for room.
 */
export function handlePublish(s: MqttSession, p: IPublishPacket): Promise<void> | undefined {
  const connected = s.requireConnected();
  const { topic, routingKey } = resolveTopic(s, p);
  const qos = p.qos as QoS;
  const id = p.messageId as number;
  if (qos === 2) {
    const earlier = s.awaitingRelease.get(id);
    if (earlier !== undefined) {
      answer(s, 2, id, earlier); // a retransmission: published already
      return undefined;
    }
  }
  checkReceiveWindow(s, qos);
  // a publisher mostly repeats its topics: a known grant needs no promise
  if (!connected.authz.granted(connected.vhost, 'topic', 'write', TOPIC_EXCHANGE, routingKey)) return authorizeAndPublish(s, p, connected, topic, routingKey);
  return publishGranted(s, p, connected, topic, routingKey);
}

async function authorizeAndPublish(s: MqttSession, p: IPublishPacket, connected: Connected, topic: string, routingKey: string): Promise<void> {
  const { authz, clientId, vhost } = connected;
  try {
    await authz.authorize({ vhost, kind: 'topic', name: TOPIC_EXCHANGE, permission: 'write', routingKey, context: { clientId } });
  } catch (err) {
    // MQTT 5: say so (QoS > 0); MQTT 3.x has no way to, so the message is acked and dropped, as
    // Mosquitto and EMQX do [MQTT-3.3.5-2]
    s.metrics.messagesDropped.inc({ protocol: 'mqtt', reason: 'not_authorized' });
    s.log.info({ topic, code: toGatewayError(err).code }, 'publish refused');
    const refused = Promise.resolve(s.version === 5 ? Reason.NOT_AUTHORIZED : Reason.SUCCESS);
    if (p.qos > 0) answer(s, p.qos as QoS, p.messageId as number, refused);
    return;
  }
  // after the await, the session's publisher and client id as they are now (requireConnected
  // throws if the session closed meanwhile); the fabric as it was before, as it always was
  await publishGranted(s, p, { ...s.requireConnected(), fabric: connected.fabric }, topic, routingKey);
}

type Connected = ReturnType<MqttSession['requireConnected']>;

const CONFIRM_REJECT: PublishOptions = Object.freeze({ confirm: true, whenFull: 'reject' });
const CONFIRM_WAIT: PublishOptions = Object.freeze({ confirm: true, whenFull: 'wait' });

function publishGranted(s: MqttSession, p: IPublishPacket, connected: Connected, topic: string, routingKey: string): Promise<void> | undefined {
  const qos = p.qos as QoS;
  const message: MqttMessage = { topic, qos, retain: p.retain, payload: asBuffer(p.payload) };
  const properties = publishProperties(p);
  if (properties !== undefined) message.properties = properties;
  if (qos === 0 && !message.retain) {
    publishQos0(s, connected, message, routingKey); // no answer to wait for: no async function and awaits per message
  } else {
    const whenFull = s.version === 5 ? 'reject' : 'wait';
    // without RETAIN the outcome is the confirm alone: one promise (publishThen), no async function
    const outcome = message.retain ? publishMessage(s, message, routingKey, whenFull) : publishConfirmed(s, connected, message, routingKey, whenFull);
    const id = p.messageId as number;
    if (qos === 2) s.awaitingRelease.add(id, outcome);
    if (qos > 0) {
      const bytes = message.payload.length;
      s.unansweredBytes += bytes;
      answer(s, qos, id, outcome, bytes);
    }
  }
  const fabric = connected.fabric;
  s.throttle.afterPublish(fabric);
  const publisher = s.publisher;
  if (publisher !== undefined && (publisher.outstanding >= publisher.window || !fabric.writable)) return roomThenBytes(s, publisher);
  return bytesBound(s);
}

async function roomThenBytes(s: MqttSession, publisher: NonNullable<MqttSession['publisher']>): Promise<void> {
  await publisher.roomAvailable();
  await bytesBound(s);
}

/** payloads held until their confirm: past the protocol window, bounded in bytes too */
function bytesBound(s: MqttSession): Promise<void> | undefined {
  const limits = s.config.limits;
  if (s.unansweredBytes > limits.maxPendingBytesPerConnection && s.acks.pending > limits.maxInflightPerSession) return s.acks.drained();
  return undefined;
}

/** publishMessage without RETAIN (QoS 1/2): the reason code straight from the confirm */
function publishConfirmed(s: MqttSession, connected: Connected, message: MqttMessage, routingKey: string, whenFull: 'reject' | 'wait'): Promise<number> {
  const { publisher, clientId } = connected;
  return publisher.publishThen(
    TOPIC_EXCHANGE,
    routingKey,
    fabricMessage(s, message, clientId),
    whenFull === 'reject' ? CONFIRM_REJECT : CONFIRM_WAIT,
    succeeded,
    (err: unknown) => publishFailed(s, err, message.qos),
  );
}

function succeeded(): number {
  return Reason.SUCCESS;
}

/** MQTT 3.x publishes awaiting their confirm at once (MQTT 5: the Receive Maximum we advertise) */
export const MQTT3_PUBLISH_WINDOW = 1024;

/** how many QoS 1/2 publishes of one connection may await the broker's confirm */
export function publishWindow(version: number, maxInflightPerSession: number): number {
  return version === 5 ? maxInflightPerSession : Math.max(maxInflightPerSession, MQTT3_PUBLISH_WINDOW);
}

/**
 * Publish (and retain) one message; resolves to the reason code for PUBACK/PUBREC, never rejects.
 * `whenFull`: what a full fair-stream publisher queue does to a confirmed publish (src/fair).
 */
export async function publishMessage(s: MqttSession, message: MqttMessage, routingKey: string, whenFull: PublishOptions['whenFull'] = 'reject'): Promise<number> {
  const { publisher, clientId, vhost } = s.requireConnected();
  try {
    const amqp = fabricMessage(s, message, clientId);
    const confirm = message.qos > 0;
    const published = publisher.publish(TOPIC_EXCHANGE, routingKey, amqp, confirm ? { confirm, whenFull } : { confirm });
    const retained = message.retain ? s.mod.retained(vhost).then((store) => store.retain(message, clientId)) : undefined;
    retained?.catch(() => undefined); // looked at below, unless the publish fails first
    await published;
    const kept = await retained;
    if (kept === 'refused') s.metrics.messagesDropped.inc({ protocol: 'mqtt', reason: 'retained_store_full' });
    return Reason.SUCCESS;
  } catch (err) {
    return publishFailed(s, err, message.qos);
  }
}

/** publishMessage for QoS 0 without RETAIN: one promise callback (nobody awaits the outcome) */
function publishQos0(s: MqttSession, connected: Connected, message: MqttMessage, routingKey: string): void {
  const { publisher, clientId } = connected;
  void publisher.publishThen(TOPIC_EXCHANGE, routingKey, fabricMessage(s, message, clientId), UNCONFIRMED, nothing, (err: unknown) => {
    publishFailed(s, err, 0);
  });
}

const UNCONFIRMED: PublishOptions = Object.freeze({ confirm: false });

function nothing(): void {}

function fabricMessage(s: MqttSession, message: MqttMessage, clientId: string): FabricMessage {
  const response = message.properties?.responseTopic;
  const replyTo = response === undefined ? undefined : replyQueueFor(s, response, message.properties?.correlationData);
  return toFabricMessage(message, replyTo ? { clientId, replyTo } : { clientId, fixedHeaders: s.fixedHeaders });
}

function publishFailed(s: MqttSession, err: unknown, qos: QoS): number {
  const g = toGatewayError(err);
  s.metrics.messagesDropped.inc({ protocol: 'mqtt', reason: g.code });
  s.log.info({ code: g.code, detail: g.detail, qos }, 'publish failed');
  return publishReasonFor(g);
}

/** PUBACK/PUBREC in order, once `outcome` is known. MQTT 3.x has no error codes: it is closed instead. */
function answer(s: MqttSession, qos: QoS, id: number, outcome: Promise<number>, bytes = 0): void {
  s.acks.push(outcome, (reasonCode) => {
    s.unansweredBytes -= bytes;
    if (s.closing) return;
    if (reasonCode >= 0x80 && s.version !== 5) {
      // no PUBACK: the client retransmits after reconnecting (RabbitMQ's plugin does the same)
      s.fail(new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, undefined, { detail: 'publish not confirmed by the broker' }));
      return;
    }
    if (qos === 2 && reasonCode >= 0x80) s.awaitingRelease.release(id); // [MQTT-4.3.3-7]: the flow ends
    const cmd = qos === 1 ? 'puback' : 'pubrec';
    s.send(s.version === 5 ? { cmd, messageId: id, reasonCode } : { cmd, messageId: id });
  });
}

function checkReceiveWindow(s: MqttSession, qos: QoS): void {
  if (qos === 0) return;
  const max = s.config.limits.maxInflightPerSession;
  const unanswered = s.acks.pending + s.awaitingRelease.size;
  if (s.version === 5 && unanswered >= max) {
    throw new MqttError(Reason.RECEIVE_MAXIMUM_EXCEEDED, ErrorCode.LIMIT_EXCEEDED, `more than ${max} QoS 1/2 publishes unacknowledged`, { fatal: true }); // [MQTT-3.3.4-9]
  }
  if (qos === 2 && s.awaitingRelease.full) {
    throw new MqttError(Reason.RECEIVE_MAXIMUM_EXCEEDED, ErrorCode.LIMIT_EXCEEDED, 'too many QoS 2 publishes awaiting PUBREL', { fatal: true });
  }
}

/** Topic Alias (MQTT 5) → topic, then validation; the topic and its routing key */
function resolveTopic(s: MqttSession, p: IPublishPacket): { topic: string; routingKey: string } {
  let topic = p.topic;
  const alias = p.properties?.topicAlias;
  if (alias !== undefined) {
    if (alias === 0 || alias > s.config.mqtt.topicAliasMaximum) {
      throw protocolError(`topic alias ${alias} outside 1..${s.config.mqtt.topicAliasMaximum}`, Reason.TOPIC_ALIAS_INVALID); // [MQTT-3.3.2-8] [MQTT-3.3.2-9]
    }
    if (topic === '') {
      const known = s.topicAliases.get(alias);
      if (known === undefined) throw protocolError(`unknown topic alias ${alias}`);
      topic = known;
    } else {
      s.topicAliases.set(alias, topic);
    }
  }
  try {
    return { topic, routingKey: validateTopicName(topic, s.config.mqtt) };
  } catch (err) {
    const problem = err instanceof TopicError ? err.problem : 'invalid';
    throw protocolError(`invalid topic name (${problem})`, Reason.TOPIC_NAME_INVALID);
  }
}

function publishProperties(p: IPublishPacket): MqttMessageProperties | undefined {
  const src = p.properties;
  if (src === undefined) return undefined;
  const out: MqttMessageProperties = {};
  if (src.payloadFormatIndicator !== undefined) out.payloadFormatIndicator = src.payloadFormatIndicator;
  if (src.messageExpiryInterval !== undefined) out.messageExpiryInterval = src.messageExpiryInterval;
  if (src.contentType !== undefined) out.contentType = src.contentType;
  if (src.responseTopic !== undefined) {
    if (src.responseTopic.includes('+') || src.responseTopic.includes('#')) throw protocolError('wildcard in Response Topic'); // [MQTT-3.3.2-14]
    out.responseTopic = src.responseTopic;
  }
  if (src.correlationData !== undefined) out.correlationData = src.correlationData;
  if (src.userProperties !== undefined) out.userProperties = src.userProperties;
  return out;
}

/**
 * The AMQP reply-to for a request with a Response Topic. When this session itself subscribes
 * to the response topic, it is the session's own queue: an AMQP RPC service that answers the
 * usual way (default exchange, routing key = reply-to) reaches the requester. Otherwise it is
 * the topic's routing key (answer on amq.topic). Both carry x-reply-to-topic.
 */
function replyQueueFor(s: MqttSession, responseTopic: string, correlation: Buffer | undefined): string | undefined {
  const subs = s.subscriptions;
  if (subs === undefined) return undefined;
  const subscribed = subs.all().some((sub) => isOrdinary(sub) && topicMatches(sub.filter, responseTopic));
  if (!subscribed) return undefined;
  s.rememberReplyRoute(correlation, responseTopic);
  return subs.queue;
}

/** The will, published as if the client had: to subscribers now, or after its delay via the broker. */
export async function publishWill(s: MqttSession, will: Will): Promise<void> {
  const { fabric, clientId } = s.requireConnected();
  const delay = Math.min(will.delaySeconds, s.sessionExpiry); // [MQTT-3.1.3-9]: the session's end comes first
  if (delay > 0) {
    await stageDelayedWill(fabric, clientId, { ...will, delaySeconds: delay });
    return;
  }
  const reason = await publishMessage(s, will.message, toRoutingKey(will.message.topic));
  if (reason >= 0x80) throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, undefined, { detail: `will not published (reason 0x${reason.toString(16)})` });
}

function asBuffer(payload: string | Buffer): Buffer {
  return typeof payload === 'string' ? Buffer.from(payload) : payload;
}
