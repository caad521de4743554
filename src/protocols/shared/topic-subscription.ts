// "Subscribe to a topic" on the AMQP model, the way RabbitMQ's STOMP and MQTT plugins do it:
// a queue of the subscriber's own bound to a topic exchange (amq.topic by default).
// - transient: an exclusive, auto-delete queue that goes away with the session;
// - durable: a named durable queue that outlives the connection and the gateway process, so a
//   subscriber that comes back (same name) finds what was published meanwhile.
// Queue names start with a protocol prefix (e.g. "stomp-subscription-") so that operators can
// target them with RabbitMQ policies.

import { createHash, randomBytes } from 'node:crypto';
import type { FabricSession, QueueArguments } from '../../fabric/types.js';

export interface TopicQueueSpec {
  exchange: string;
  /** binding key; AMQP topic patterns (* and #) allowed */
  routingKey: string;
  /** set for a durable subscription: the queue name, stable across connections */
  durableName?: string | undefined;
  /** a transient queue's name; generated from `prefix` when absent */
  queueName?: string | undefined;
  prefix: string;
  arguments?: QueueArguments | undefined;
  /** durable queues only: delete when the last consumer goes (default false) */
  autoDelete?: boolean | undefined;
}

/** Declare (or find again) the subscriber's queue and bind it; returns the queue name. */
export async function declareTopicQueue(session: Pick<FabricSession, 'declareQueue' | 'bindQueue'>, spec: TopicQueueSpec): Promise<string> {
  const durable = spec.durableName !== undefined;
  const name = spec.durableName ?? spec.queueName ?? transientQueueName(spec.prefix);
  const opts = durable
    ? { durable: true, exclusive: false, autoDelete: spec.autoDelete ?? false, arguments: spec.arguments ?? {} }
    : { durable: false, exclusive: true, autoDelete: true, arguments: spec.arguments ?? {} };
  const { queue } = await session.declareQueue(name, opts);
  await session.bindQueue(queue, spec.exchange, spec.routingKey);
  return queue;
}

/** A unique name for a transient subscription queue. */
export function transientQueueName(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('base64url')}`;
}

/**
 * A stable queue name derived from the parts that identify a durable subscription
 * (RabbitMQ: md5 of destination and subscription id). Always a valid AMQP short string.
 */
export function durableQueueName(prefix: string, ...parts: string[]): string {
  const digest = createHash('md5').update(parts.join('\u0000')).digest('base64url');
  return `${prefix}${digest}`;
}
