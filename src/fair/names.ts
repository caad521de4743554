// Every broker name a fair stream uses, in one place. All of them live in the stream's vhost.
//
//   tributary.fair.announce              topic exchange; key = stream name; "a publisher queue exists"
//   tributary.fair.<stream>.<publisher>  one queue per publisher (<publisher> = safe segment + hash)
//   tributary.fair.<stream>.out          the bounded output queue workers and subscribers consume
//   tributary.fair.<stream>.intake       AMQP-native publishers' messages, sorted by the dispatcher
//   tributary.fair.<stream>.leader       exclusive queue: whoever holds it runs the dispatcher
//   tributary.fair.<stream>.announced    durable queue of announcements the dispatcher has not yet saved
//   tributary.fair.<stream>.registry     one message: the dispatcher's saved list of publisher queues
import { createHash } from 'node:crypto';

export const ANNOUNCE_EXCHANGE = 'tributary.fair.announce';

/** headers Tributary puts on fair-stream messages */
export const FairHeader = {
  /** the publisher identity, on the copy in the publisher queue (and so in the output queue) */
  PUBLISHER: 'x-tributary-publisher',
  /** the routing key the message was published with (the publisher-queue copy is routed by queue name) */
  ROUTING_KEY: 'x-tributary-routing-key',
  /** on the amq.topic copy when a stream has an AMQP intake: "already placed, do not sort again" */
  PLACED: 'x-tributary-fair',
} as const;

const PREFIX = 'tributary.fair.';
/** longest readable part of a publisher segment; the hash keeps distinct identities apart */
const SEGMENT_CHARS = 64;
/** stream names are capped so every queue name stays under AMQP's 255 bytes */
export const MAX_STREAM_NAME = 100;

/** the queue a stream's consumers read: AMQP workers, and STOMP /fair/, MQTT $fair/, WAMP fair. subscriptions */
export function fairOutputQueue(stream: string): string {
  return `${PREFIX}${stream}.out`;
}

export function intakeQueue(stream: string): string {
  return `${PREFIX}${stream}.intake`;
}

export function leaderQueue(stream: string): string {
  return `${PREFIX}${stream}.leader`;
}

export function announcedQueue(stream: string): string {
  return `${PREFIX}${stream}.announced`;
}

export function registryQueue(stream: string): string {
  return `${PREFIX}${stream}.registry`;
}

/**
 * `tributary.fair.<stream>.<safe part>-<16 hex of sha256(identity)>`. The readable part is for
 * people looking at the broker; the hash alone separates identities, so `a/b` and `a_b` (both
 * `a_b` once made safe) get different queues. A segment always ends in `-<hash>`, so it can
 * never be one of the stream's own suffixes (`out`, `intake`, …).
 */
export function publisherQueue(stream: string, publisher: string): string {
  const safe = publisher.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, SEGMENT_CHARS);
  const hash = createHash('sha256').update(publisher, 'utf8').digest('hex').slice(0, 16);
  return `${PREFIX}${stream}.${safe}-${hash}`;
}
