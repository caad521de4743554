// WAMP subscriptions to a fair stream (src/fair; docs/fair.md "Consuming a stream").
//
// SUBSCRIBE `fair.<stream>` with match `exact`, where <stream> is a fair stream configured in
// the session's vhost, consumes the stream's output queue `tributary.fair.<stream>.out` instead
// of binding amq.topic. Each subscribing session has a consumer of its own (on its own fabric
// session), so subscribers of one stream compete: every message goes to one of them, as with
// STOMP /fair/ and MQTT $fair/, and the broker hands them out in turn. A `fair.<x>` topic where
// no stream <x> is configured is an ordinary topic (and a PUBLISH to `fair.<stream>` is an
// ordinary publication: fair streams are fed by the topics their patterns cover).
//
// WAMP has no acknowledgement from the subscriber: a delivery is acked once its EVENT is
// written to the connection (at once, or after the link drained when it is backed up), so a
// slow subscriber holds at most its prefetch and the rest stays in the queue for the others.
// EVENT.Details.topic is the topic the message was published with (x-tributary-routing-key;
// WAMP URIs are routing keys unchanged). The subscription is a work queue: publisher exclusion
// and black/white-listing, which choose among subscribers of a topic, do not apply to it.
//
// Subscription IDs stay router-scoped: every session subscribed to one stream shares its ID.

import type { Config } from '../../../config/schema.js';
import type { Consumer, Delivery, FabricSession } from '../../../fabric/types.js';
import { FairHeader, fairOutputQueue } from '../../../fair/names.js';
import type { Logger } from '../../../log.js';
import type { ClientLink } from '../../../transport/types.js';
import { randomId } from '../ids.js';
import { out } from '../messages.js';
import { decodePayload } from '../payload.js';
import type { WampPeer } from '../peer.js';
import type { MatchPolicy } from '../uri.js';
import { eventDetails, readPublication } from './publication.js';

export const FAIR_TOPIC_PREFIX = 'fair.';
/** a delivery counts as written while the link has at most this much still to send */
const WRITTEN_BELOW_BYTES = 64 * 1024;

/** the fair stream a SUBSCRIBE asks for, or undefined for an ordinary topic */
export function fairStreamOf(topic: string, match: MatchPolicy, vhost: string, config: Pick<Config, 'fair' | 'auth'>): string | undefined {
  if (match !== 'exact' || !topic.startsWith(FAIR_TOPIC_PREFIX)) return undefined;
  const name = topic.slice(FAIR_TOPIC_PREFIX.length);
  const configured = config.fair.streams.some((s) => s.name === name && (s.vhost ?? config.auth.defaultVhost) === vhost);
  return configured ? name : undefined;
}

/** what a fair subscription needs of the subscribing session */
export interface FairSubscriber {
  peer: WampPeer;
  /** the session's own fabric session: its consumer goes with it */
  fabric: FabricSession;
  link: Pick<ClientLink, 'pendingBytes' | 'onDrain'>;
  /** deliveries not yet written to this subscriber */
  prefetch: number;
}

interface Member {
  readonly subscriber: FairSubscriber;
  /** null while consume() is in progress */
  consumer: Consumer | null;
}

interface StreamSubscription {
  readonly id: number;
  readonly stream: string;
  readonly members: Map<WampPeer, Member>;
}

export interface FairSubscriptionsOptions {
  log: Logger;
  onDelivered?: (count: number) => void;
}

export class FairSubscriptions {
  private readonly byStream = new Map<string, StreamSubscription>();
  private readonly byId = new Map<number, StreamSubscription>();

  constructor(private readonly opts: FairSubscriptionsOptions) {}

  get count(): number {
    return this.byId.size;
  }

  has(subscriptionId: number): boolean {
    return this.byId.has(subscriptionId);
  }

  /** `announce` runs just before the first delivery can reach the peer, so SUBSCRIBED precedes EVENTs */
  async subscribe(subscriber: FairSubscriber, stream: string, announce: (subscriptionId: number) => void): Promise<number> {
    const sub = this.subscriptionFor(stream);
    const { peer } = subscriber;
    if (sub.members.has(peer)) {
      announce(sub.id); // subscribed again: the same subscription
      return sub.id;
    }
    const member: Member = { subscriber, consumer: null };
    sub.members.set(peer, member);
    const early: Delivery[] = [];
    let consumer: Consumer;
    try {
      consumer = await subscriber.fabric.consume(fairOutputQueue(stream), { prefetch: subscriber.prefetch }, (d) => {
        if (member.consumer === null) early.push(d);
        else this.deliver(sub, member, member.consumer, d);
      });
    } catch (err) {
      this.leave(sub, peer);
      throw err;
    }
    if (sub.members.get(peer) !== member || !peer.open) {
      // unsubscribed or gone meanwhile: what it got goes back to the queue
      if (sub.members.get(peer) === member) this.leave(sub, peer);
      await consumer.cancel().catch(() => undefined);
      return sub.id;
    }
    announce(sub.id);
    member.consumer = consumer;
    for (const d of early.splice(0)) this.deliver(sub, member, consumer, d);
    return sub.id;
  }

  /** false when the peer is not subscribed under that ID */
  async unsubscribe(peer: WampPeer, subscriptionId: number): Promise<boolean> {
    const sub = this.byId.get(subscriptionId);
    const member = sub?.members.get(peer);
    if (sub === undefined || member === undefined) return false;
    this.leave(sub, peer);
    // unacknowledged deliveries (not yet written) go back to the queue for the other subscribers
    await member.consumer?.cancel().catch((err: unknown) => this.opts.log.warn({ err, stream: sub.stream }, 'wamp fair: cancel failed'));
    return true;
  }

  async close(): Promise<void> {
    const members = [...this.byId.values()].flatMap((s) => [...s.members.values()]);
    this.byId.clear();
    this.byStream.clear();
    await Promise.all(members.map((m) => m.consumer?.cancel().catch(() => undefined)));
  }

  private subscriptionFor(stream: string): StreamSubscription {
    let sub = this.byStream.get(stream);
    if (sub === undefined) {
      sub = { id: randomId(), stream, members: new Map() };
      this.byStream.set(stream, sub);
      this.byId.set(sub.id, sub);
    }
    return sub;
  }

  private leave(sub: StreamSubscription, peer: WampPeer): void {
    sub.members.delete(peer);
    if (sub.members.size > 0 || this.byStream.get(sub.stream) !== sub) return;
    this.byStream.delete(sub.stream);
    this.byId.delete(sub.id);
  }

  private deliver(sub: StreamSubscription, member: Member, consumer: Consumer, d: Delivery): void {
    const { peer, link } = member.subscriber;
    // a peer that left is being unsubscribed: leaving the delivery unacked gives it back
    if (!peer.open || sub.members.get(peer) !== member) return;
    try {
      const facts = readPublication(d.properties.headers);
      const details = eventDetails(facts, originalTopic(d));
      peer.send(out.event(sub.id, facts.publicationId ?? randomId(), details, decodePayload(d.body, d.properties.contentType)));
      this.opts.onDelivered?.(1);
    } catch (err) {
      // an EVENT that cannot be made never will be: ack it rather than have it come back forever
      this.opts.log.error({ err, stream: sub.stream }, 'wamp fair: event not sent');
    }
    whenWritten(link, () => consumer.ack(d));
  }
}

/** the topic the message was published with; the queue's own key when it is not known */
function originalTopic(d: Delivery): string {
  const key = d.properties.headers?.[FairHeader.ROUTING_KEY];
  if (typeof key === 'string') return key;
  if (Buffer.isBuffer(key)) return key.toString('utf8');
  return d.routingKey;
}

function whenWritten(link: FairSubscriber['link'], done: () => void): void {
  if (link.pendingBytes <= WRITTEN_BELOW_BYTES) done();
  else link.onDrain(done);
}
