// The process-wide WAMP broker of one vhost: every WAMP subscription of this process shares
// ONE exclusive queue, bound to amq.topic once per distinct binding key (reference-counted),
// and a gateway-side index hands each delivery to the matching subscriptions. A thousand
// browsers watching the same topic cost one queue and one binding, not a thousand.
//
// Subscriptions are router-scoped (wamp-proto "Subscription ID"): all sessions subscribed to
// the same (topic, match) share one subscription ID, and an EVENT is encoded once per
// subscription and serializer, then sent to each admitted session.
//
// `fair.<stream>` subscriptions consume a fair stream's output queue instead (fair.ts).

import type { Logger } from '../../../log.js';
import type { Consumer, Delivery, FabricSession } from '../../../fabric/types.js';
import { out, type Payload } from '../messages.js';
import { decodePayload } from '../payload.js';
import type { WampPeer } from '../peer.js';
import { bindingKeyFor, matcherFor, type MatchPolicy, type TopicMatcher } from '../uri.js';
import { randomId } from '../ids.js';
import { FairSubscriptions, type FairSubscriber } from './fair.js';
import { admits, eventDetails, readPublication, type PublicationFacts } from './publication.js';
import type { SerializerId } from '../serializer.js';

export const TOPIC_EXCHANGE = 'amq.topic';
/** deliveries in flight from the broker queue to this process */
const PREFETCH = 1000;
/** a process that cannot keep up drops the oldest events rather than grow the broker queue */
const MAX_QUEUED_EVENTS = 100_000;

interface Subscription {
  readonly id: number;
  readonly key: string;
  readonly uri: string;
  readonly match: MatchPolicy;
  readonly bindingKey: string;
  readonly matches: TopicMatcher;
  /** resolves once the binding exists */
  ready: Promise<void>;
  readonly peers: Set<WampPeer>;
}

export interface BrokerOptions {
  fabric: FabricSession;
  queue: string;
  log: Logger;
  onDelivered?: (count: number) => void;
}

export class Broker {
  private readonly byKey = new Map<string, Subscription>();
  private readonly byId = new Map<number, Subscription>();
  private readonly exact = new Map<string, Subscription>();
  private readonly patterns = new Set<Subscription>();
  private readonly bindingRefs = new Map<string, number>();
  private topology: Promise<unknown> = Promise.resolve();
  private consumer: Consumer | null = null;
  private readonly fair: FairSubscriptions;

  constructor(private readonly opts: BrokerOptions) {
    this.fair = new FairSubscriptions({ log: opts.log, ...(opts.onDelivered ? { onDelivered: opts.onDelivered } : {}) });
  }

  get subscriptionCount(): number {
    return this.byId.size + this.fair.count;
  }

  /** a subscription to fair stream `stream` (fairStreamOf): the peer competes for its messages */
  subscribeFair(subscriber: FairSubscriber, stream: string, announce: (subscriptionId: number) => void): Promise<number> {
    return this.fair.subscribe(subscriber, stream, announce);
  }

  /**
   * Adds the peer to the (topic, match) subscription, binding it first if it is new.
   * `announce` runs just before the peer can receive events, so SUBSCRIBED precedes EVENTs.
   */
  async subscribe(peer: WampPeer, uri: string, match: MatchPolicy, announce: (subscriptionId: number) => void): Promise<number> {
    const sub = this.subscriptionFor(uri, match);
    try {
      await sub.ready;
    } catch (err) {
      if (sub.peers.size === 0) this.forget(sub);
      throw err;
    }
    if (!peer.open) {
      if (sub.peers.size === 0) await this.forget(sub);
      return sub.id;
    }
    announce(sub.id);
    sub.peers.add(peer);
    return sub.id;
  }

  /** false when the peer is not subscribed under that ID */
  async unsubscribe(peer: WampPeer, subscriptionId: number): Promise<boolean> {
    if (this.fair.has(subscriptionId)) return this.fair.unsubscribe(peer, subscriptionId);
    const sub = this.byId.get(subscriptionId);
    if (sub === undefined || !sub.peers.delete(peer)) return false;
    if (sub.peers.size === 0) await this.forget(sub);
    return true;
  }

  async close(): Promise<void> {
    await this.fair.close();
    await this.topology.catch(() => undefined);
    await this.consumer?.cancel().catch(() => undefined);
    this.consumer = null;
  }

  private subscriptionFor(uri: string, match: MatchPolicy): Subscription {
    const key = `${match}\u0000${uri}`;
    const existing = this.byKey.get(key);
    if (existing !== undefined) return existing;
    const bindingKey = bindingKeyFor(uri, match);
    const sub: Subscription = {
      id: randomId(), key, uri, match, bindingKey, matches: matcherFor(uri, match), peers: new Set(), ready: Promise.resolve(),
    };
    sub.ready = this.acquireBinding(bindingKey);
    this.byKey.set(key, sub);
    this.byId.set(sub.id, sub);
    if (match === 'exact') this.exact.set(uri, sub);
    else this.patterns.add(sub);
    return sub;
  }

  private forget(sub: Subscription): Promise<void> {
    if (this.byKey.get(sub.key) !== sub) return Promise.resolve();
    this.byKey.delete(sub.key);
    this.byId.delete(sub.id);
    if (sub.match === 'exact') this.exact.delete(sub.uri);
    else this.patterns.delete(sub);
    return sub.ready.then(() => this.releaseBinding(sub.bindingKey), () => undefined);
  }

  /** topology changes run one at a time, so bind/unbind of one key never race */
  private serially<T>(step: () => Promise<T>): Promise<T> {
    const next = this.topology.then(step, step);
    this.topology = next.catch(() => undefined);
    return next;
  }

  private acquireBinding(bindingKey: string): Promise<void> {
    return this.serially(async () => {
      await this.ensureConsumer();
      const refs = this.bindingRefs.get(bindingKey) ?? 0;
      if (refs === 0) await this.opts.fabric.bindQueue(this.opts.queue, TOPIC_EXCHANGE, bindingKey);
      this.bindingRefs.set(bindingKey, refs + 1);
    });
  }

  private releaseBinding(bindingKey: string): Promise<void> {
    return this.serially(async () => {
      const refs = this.bindingRefs.get(bindingKey) ?? 0;
      if (refs > 1) {
        this.bindingRefs.set(bindingKey, refs - 1);
        return;
      }
      this.bindingRefs.delete(bindingKey);
      await this.opts.fabric.unbindQueue(this.opts.queue, TOPIC_EXCHANGE, bindingKey).catch((err: unknown) => {
        this.opts.log.warn({ err, bindingKey }, 'wamp broker: unbind failed');
      });
    });
  }

  private async ensureConsumer(): Promise<void> {
    if (this.consumer !== null) return;
    const { fabric, queue } = this.opts;
    // exclusive, not auto-delete: a consumer channel lost to someone else's channel error
    // must not take the queue (and every binding on it) with it
    await fabric.declareQueue(queue, {
      exclusive: true,
      arguments: { 'x-max-length': MAX_QUEUED_EVENTS, 'x-overflow': 'drop-head' },
    });
    // a channel of its own: its per-event acks coalesce into multiple acks even when other
    // consumers on the connection (MQTT QoS 1, STOMP client acks) hold deliveries unacked
    this.consumer = await fabric.consume(queue, { prefetch: PREFETCH, ownChannel: true }, (d) => this.onDelivery(d));
  }

  private onDelivery(d: Delivery): void {
    try {
      this.dispatch(d);
    } catch (err) {
      this.opts.log.error({ err, routingKey: d.routingKey }, 'wamp broker: dispatch failed');
    } finally {
      this.consumer?.ack(d);
    }
  }

  private dispatch(d: Delivery): void {
    if (d.exchange !== TOPIC_EXCHANGE) return;
    const topic = d.routingKey;
    const matched: Subscription[] = [];
    const exact = this.exact.get(topic);
    if (exact !== undefined) matched.push(exact);
    for (const sub of this.patterns) if (sub.matches(topic)) matched.push(sub);
    if (matched.length === 0) return;
    const facts = readPublication(d.properties.headers);
    const publicationId = facts.publicationId ?? randomId();
    const payload = decodePayload(d.body, d.properties.contentType);
    let delivered = 0;
    for (const sub of matched) delivered += this.sendEvent(sub, topic, publicationId, facts, payload);
    this.opts.onDelivered?.(delivered);
  }

  private sendEvent(sub: Subscription, topic: string, publicationId: number, facts: PublicationFacts, payload: Payload): number {
    const details = eventDetails(facts, sub.match !== 'exact' ? topic : undefined);
    const message = out.event(sub.id, publicationId, details, payload);
    const encoded: Partial<Record<SerializerId, string | Buffer>> = {};
    let sent = 0;
    for (const peer of sub.peers) {
      if (!peer.open || !admits(facts.audience, peer)) continue;
      const s = peer.serializer;
      const data = (encoded[s.id] ??= s.encode(message));
      peer.sendEncoded(data);
      sent++;
    }
    return sent;
  }
}
