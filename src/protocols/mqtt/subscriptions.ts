// A session's subscriptions on the fabric.
//
// - Ordinary filters share ONE queue per session, `mqtt-subscription-<clientid>qos1`, bound to
//   amq.topic once per distinct binding key. RabbitMQ's plugin keeps a second `…qos0` queue; one
//   queue halves the broker's per-client queues, and the per-message QoS comes from matching the
//   topic against the session's filters here (the highest granted QoS of all matching filters, one
//   copy per message [MQTT-3.3.4-2]). Clean session: an exclusive queue, gone with the
//   connection. Persistent session: durable, `x-expires` = session expiry, `x-max-length` =
//   mqtt.maxQueuedMessages (drop-head: the oldest go first, as EMQX).
// - A clean session whose ordinary subscriptions are all QoS 0 consumes its queue without
//   acknowledgements (basic.consume no-ack), as rabbitmq_mqtt consumes its QoS 0 queue: the
//   broker forgets a message once sent, which saves it an ack per delivery. The session then
//   drops what its client cannot take (deliver.ts: mqtt.qos0BacklogBytes). The first QoS 1/2
//   subscription switches the session to an acknowledging consumer, before its binding exists,
//   for the rest of the connection.
// - `$share/<group>/<filter>`: one queue per group and filter, `tributary.mqtt.share.<group>/<key>`,
//   whose members are competing consumers (the broker hands messages round-robin). Durable with
//   `x-expires` = mqtt.maxSessionExpirySeconds, so members of any kind can share it.
// - `$fair/<stream>`: a consumer on the fair stream's output queue `tributary.fair.<stream>.out`
//   (src/fair), which is never declared here (the gateways running the stream declare it with
//   its limits): a missing queue means no such stream. Consumers of one stream compete, like
//   STOMP /fair/ and AMQP workers. A delivery's topic is the one it was published with
//   (x-tributary-routing-key), not the output queue's.
//
// The broker keeps bindings with the queue; the session keeps the MQTT options (QoS, No Local,
// Retain As Published, Subscription Identifier) in memory, and a persistent session also in its
// session state (session-store.ts).

import { ErrorCode, GatewayError, isGatewayError } from '../../errors.js';
import type { Consumer, Delivery, FabricSession, QueueOptions } from '../../fabric/types.js';
import { FairHeader, fairOutputQueue } from '../../fair/names.js';
import { TOPIC_EXCHANGE, sessionQueueName, sharedQueueName } from './names.js';
import type { QoS } from './properties.js';
import { parseSubscriptionFilter, routingKeyToTopic, topicMatches, toRoutingKey } from './topic.js';

export interface Subscription {
  /** as the client sent it, `$share/<group>/` included: the key for UNSUBSCRIBE */
  raw: string;
  filter: string;
  group?: string;
  /** `$fair/<stream>`: the fair stream it consumes (filter = raw) */
  stream?: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  identifier?: number;
}

export interface SubscriptionsOptions {
  fabric: FabricSession;
  clientId: string;
  /** persistent session: the session expiry in ms; undefined for a clean session */
  expiryMs: number | undefined;
  maxQueuedMessages: number;
  sharedExpiryMs: number;
  /** unacknowledged deliveries per consumer */
  prefetch: number;
  /** consume the session queue without acks while every ordinary subscription is QoS 0 (clean sessions) */
  noAckWhileQos0: boolean;
  /** a delivery for the session queue (`shared` unset) or for a subscription with a queue of its own ($share, $fair) */
  onDelivery(d: Delivery, consumer: Consumer, shared: Subscription | undefined): void;
}

/** what a delivery from the session queue means for this session */
export interface MatchResult {
  qos: QoS;
  identifiers: number[];
  retainAsPublished: boolean;
}

/** an ordinary filter: served by the session queue (not $share, not $fair) */
export function isOrdinary(sub: Subscription): boolean {
  return sub.group === undefined && sub.stream === undefined;
}

/** the MQTT topic a fair-stream delivery was published with; the queue's key when unknown */
export function fairDeliveryTopic(d: Delivery): string | undefined {
  const original = d.properties.headers?.[FairHeader.ROUTING_KEY];
  const key = typeof original === 'string' ? original : Buffer.isBuffer(original) ? original.toString('utf8') : undefined;
  return (key === undefined ? undefined : routingKeyToTopic(key)) ?? routingKeyToTopic(d.routingKey);
}

export class Subscriptions {
  private readonly subs = new Map<string, Subscription>();
  /** match()'s last answer (read-only for callers), dropped whenever `subs` changes */
  private lastMatch: { topic: string; local: boolean; result: MatchResult | undefined } | undefined;
  private readonly bindingUse = new Map<string, number>();
  /** consumers of subscriptions with a queue of their own ($share, $fair), by raw filter */
  private readonly own = new Map<string, Consumer>();
  private sessionConsumer: Consumer | undefined;
  /** the session consumer takes deliveries without acks (see noAckWhileQos0) */
  private sessionNoAck = false;
  /** the no-ack consumer being cancelled by needAcks(): what it still hands over is no-ack too */
  private retiringNoAck: Consumer | undefined;
  /** a QoS 1/2 ordinary subscription was made: the session queue is consumed with acks from now on */
  private acksNeeded = false;
  private queueReady = false;

  constructor(private readonly opts: SubscriptionsOptions) {}

  get size(): number {
    return this.subs.size;
  }

  get queue(): string {
    return sessionQueueName(this.opts.clientId);
  }

  get(raw: string): Subscription | undefined {
    return this.subs.get(raw);
  }

  all(): Subscription[] {
    return [...this.subs.values()];
  }

  /** Add or replace [MQTT-3.8.4-3]. Resolves once the broker routes to it. */
  async add(sub: Subscription): Promise<void> {
    const previous = this.subs.get(sub.raw);
    if (sub.stream !== undefined) await this.addFair(sub, sub.stream);
    else if (sub.group !== undefined) await this.addShared(sub, previous !== undefined);
    else {
      if (sub.qos > 0) await this.needAcks();
      if (previous === undefined) await this.bind(toRoutingKey(sub.filter));
    }
    this.changed();
    this.subs.set(sub.raw, sub);
  }

  /** false when there was no such subscription */
  async remove(raw: string): Promise<boolean> {
    const sub = this.subs.get(raw);
    if (sub === undefined) return false;
    this.changed();
    this.subs.delete(raw);
    if (!isOrdinary(sub)) {
      const c = this.own.get(raw);
      this.own.delete(raw);
      await c?.cancel();
    } else {
      await this.unbind(toRoutingKey(sub.filter));
    }
    return true;
  }

  /**
   * A persistent session comes back: its queue and bindings are in the broker already (a queue
   * that expired meanwhile is declared and bound again).
   */
  async restore(stored: Subscription[]): Promise<void> {
    const subs = stored.map(withKind);
    const ordinary = subs.filter(isOrdinary);
    let existed = false;
    if (ordinary.length > 0) {
      existed = await this.queueExists();
      await this.ensureQueue(existed);
    }
    for (const s of subs) {
      if (s.stream !== undefined) {
        if (!(await this.restoreFair(s, s.stream))) continue;
      } else if (s.group !== undefined) {
        await this.addShared(s, false);
      } else {
        const key = toRoutingKey(s.filter);
        const uses = this.bindingUse.get(key) ?? 0;
        if (uses === 0 && !existed) await this.opts.fabric.bindQueue(this.queue, TOPIC_EXCHANGE, key);
        this.bindingUse.set(key, uses + 1);
      }
      this.changed();
      this.subs.set(s.raw, s);
    }
  }

  /** a delivery of the session's no-ack consumer: sent at most once, dropped when the client is behind */
  atMostOnce(consumer: Consumer): boolean {
    return (this.sessionNoAck && consumer === this.sessionConsumer) || consumer === this.retiringNoAck;
  }

  /** The session queue's delivery against the session's ordinary filters; undefined: not for us. */
  match(topic: string, publisherClientId: string | undefined): MatchResult | undefined {
    // a subscriber mostly receives one topic after another: the last answer holds until the subscriptions change
    const local = publisherClientId === this.opts.clientId;
    const last = this.lastMatch;
    if (last !== undefined && last.topic === topic && last.local === local) return last.result;
    const result = this.matchAll(topic, local);
    this.lastMatch = { topic, local, result };
    return result;
  }

  private matchAll(topic: string, local: boolean): MatchResult | undefined {
    let result: MatchResult | undefined;
    for (const s of this.subs.values()) {
      if (!isOrdinary(s) || !topicMatches(s.filter, topic)) continue;
      if (s.noLocal && local) continue; // [MQTT-3.8.3-3]
      result ??= { qos: 0, identifiers: [], retainAsPublished: false };
      if (s.qos > result.qos) result.qos = s.qos;
      if (s.identifier !== undefined) result.identifiers.push(s.identifier);
      if (s.retainAsPublished) result.retainAsPublished = true;
    }
    return result;
  }

  private changed(): void {
    this.lastMatch = undefined;
  }

  /** stop consuming; unacknowledged deliveries go back to their queues */
  async close(): Promise<void> {
    const consumers = [this.sessionConsumer, ...this.own.values()];
    this.sessionConsumer = undefined;
    this.own.clear();
    await Promise.all(consumers.map((c) => c?.cancel().catch(() => undefined)));
  }

  /** the session ends for good: delete its queue (clean sessions' go with the fabric session anyway) */
  async deleteQueue(): Promise<void> {
    if (!this.queueReady) return;
    await this.opts.fabric.deleteQueue(this.queue).catch(() => undefined);
    this.queueReady = false;
  }

  private async bind(key: string): Promise<void> {
    await this.ensureQueue();
    const uses = this.bindingUse.get(key) ?? 0;
    if (uses === 0) await this.opts.fabric.bindQueue(this.queue, TOPIC_EXCHANGE, key);
    this.bindingUse.set(key, uses + 1);
  }

  /** two MQTT filters can share a binding key ('a.b' and 'a/b'): unbind with the last one */
  private async unbind(key: string): Promise<void> {
    const uses = (this.bindingUse.get(key) ?? 1) - 1;
    if (uses > 0) {
      this.bindingUse.set(key, uses);
      return;
    }
    this.bindingUse.delete(key);
    await this.opts.fabric.unbindQueue(this.queue, TOPIC_EXCHANGE, key);
  }

  private async queueExists(): Promise<boolean> {
    try {
      await this.opts.fabric.checkQueue(this.queue);
      return true;
    } catch (err) {
      if (isGatewayError(err, ErrorCode.NOT_FOUND)) return false;
      throw err;
    }
  }

  /** `exists`: the queue is known to be there already (a restored session keeps it as it is) */
  private async ensureQueue(exists = false): Promise<void> {
    if (!this.queueReady) {
      if (!exists) await this.declareSessionQueue();
      this.queueReady = true;
    }
    if (this.sessionConsumer === undefined) {
      const noAck = this.opts.noAckWhileQos0 && !this.acksNeeded;
      const holder: { c?: Consumer; early: Delivery[] } = { early: [] };
      const c = await this.opts.fabric.consume(this.queue, noAck ? { noAck: true } : { prefetch: this.opts.prefetch }, (d) => {
        if (holder.c === undefined) holder.early.push(d);
        else this.opts.onDelivery(d, holder.c, undefined);
      });
      holder.c = c;
      this.sessionConsumer = c;
      this.sessionNoAck = noAck;
      for (const d of holder.early.splice(0)) this.opts.onDelivery(d, c, undefined);
    }
  }

  /**
   * A QoS 1/2 subscription is coming: from now on every delivery is acked once the client has it.
   * A no-ack consumer is cancelled first (what the broker sent it meanwhile is still delivered,
   * in order), so nothing a QoS 1 subscription matches is ever consumed without an ack.
   */
  private async needAcks(): Promise<void> {
    this.acksNeeded = true;
    if (!this.sessionNoAck) return;
    const old = this.sessionConsumer;
    this.sessionConsumer = undefined;
    this.sessionNoAck = false;
    this.retiringNoAck = old;
    try {
      await old?.cancel();
    } finally {
      this.retiringNoAck = undefined;
    }
    if (this.queueReady) await this.ensureQueue(true);
  }

  private async declareSessionQueue(): Promise<void> {
    const { expiryMs } = this.opts;
    const persistent = expiryMs !== undefined;
    const opts: QueueOptions = persistent
      ? { durable: true, arguments: { 'x-expires': expiryMs, 'x-max-length': this.opts.maxQueuedMessages } }
      : { exclusive: true };
    try {
      await this.opts.fabric.declareQueue(this.queue, opts);
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.PRECONDITION_FAILED) && !isGatewayError(err, ErrorCode.RESOURCE_LOCKED)) throw err;
      // persistent: declared earlier with another expiry or length: keep it (and its messages) as it is
      if (persistent && isGatewayError(err, ErrorCode.PRECONDITION_FAILED)) return;
      // clean: a leftover of an earlier session of another kind: replace it
      await this.opts.fabric.deleteQueue(this.queue);
      await this.opts.fabric.declareQueue(this.queue, opts);
    }
  }

  private async addShared(sub: Subscription, replacing: boolean): Promise<void> {
    const key = toRoutingKey(sub.filter);
    const queue = sharedQueueName(sub.group as string, key);
    const opts: QueueOptions = { durable: true, arguments: { 'x-expires': this.opts.sharedExpiryMs, 'x-max-length': this.opts.maxQueuedMessages } };
    try {
      await this.opts.fabric.declareQueue(queue, opts);
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.PRECONDITION_FAILED)) throw err;
      await this.opts.fabric.checkQueue(queue); // declared earlier with other limits: use it as it is
    }
    await this.opts.fabric.bindQueue(queue, TOPIC_EXCHANGE, key);
    if (replacing && this.own.has(sub.raw)) return;
    await this.consumeOwn(sub, queue);
  }

  /** `$fair/<stream>`: consume the stream's output queue, which must exist (it is not declared here) */
  private async addFair(sub: Subscription, stream: string): Promise<void> {
    if (this.own.has(sub.raw)) return; // subscribed again: the new options apply, the consumer stays
    const queue = fairOutputQueue(stream);
    try {
      await this.opts.fabric.checkQueue(queue);
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.NOT_FOUND)) throw err;
      throw new GatewayError(ErrorCode.INVALID_DESTINATION, undefined, { detail: `no fair stream '${stream}' (its queue ${queue} does not exist)` });
    }
    await this.consumeOwn(sub, queue);
  }

  /** false: the stream is gone; the subscription is dropped from the session (the next save forgets it) */
  private async restoreFair(sub: Subscription, stream: string): Promise<boolean> {
    try {
      await this.addFair(sub, stream);
      return true;
    } catch (err) {
      if (isGatewayError(err, ErrorCode.INVALID_DESTINATION)) return false;
      throw err;
    }
  }

  /** a consumer for one subscription; its deliveries carry the subscription's current options */
  private async consumeOwn(sub: Subscription, queue: string): Promise<void> {
    const holder: { c?: Consumer; early: Delivery[] } = { early: [] };
    const entry = (): Subscription => this.subs.get(sub.raw) ?? sub;
    const c = await this.opts.fabric.consume(queue, { prefetch: this.opts.prefetch }, (d) => {
      if (holder.c === undefined) holder.early.push(d);
      else this.opts.onDelivery(d, holder.c, entry());
    });
    holder.c = c;
    this.own.set(sub.raw, c);
    for (const d of holder.early.splice(0)) this.opts.onDelivery(d, c, entry());
  }
}

/** a stored subscription knows only its raw filter: which kind it is comes from there */
function withKind(sub: Subscription): Subscription {
  if (sub.stream !== undefined) return sub;
  try {
    const { stream } = parseSubscriptionFilter(sub.raw);
    return stream === undefined ? sub : { ...sub, filter: sub.raw, stream };
  } catch {
    return sub;
  }
}
