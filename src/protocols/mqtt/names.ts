// Names of everything MQTT puts on the fabric. Queue names are per vhost (a FabricSession is
// bound to one), so they carry no vhost. Client ids are used verbatim, as RabbitMQ's plugin
// does, unless the name would pass AMQP's 255-byte limit; then a hash of the id stands in.

import { createHash } from 'node:crypto';

const MAX_NAME_BYTES = 255;

/** the exchange MQTT publishes to and subscribes on (RabbitMQ's mqtt.exchange default) */
export const TOPIC_EXCHANGE = 'amq.topic';

function named(prefix: string, id: string, suffix = ''): string {
  const name = `${prefix}${id}${suffix}`;
  if (Buffer.byteLength(name, 'utf8') <= MAX_NAME_BYTES) return name;
  return `${prefix}${createHash('sha256').update(id, 'utf8').digest('hex')}${suffix}`;
}

/** the session's subscription queue (RabbitMQ's plugin name for its QoS 1 queue) */
export function sessionQueueName(clientId: string): string {
  return named('mqtt-subscription-', clientId, 'qos1');
}

/** one message: the persistent session's subscriptions */
export function sessionStateQueueName(clientId: string): string {
  return named('tributary.mqtt.session.', clientId);
}

/** an exclusive queue: declared by the connection that owns the client id, across processes */
export function clientLockQueueName(clientId: string): string {
  return named('tributary.mqtt.clientid.', clientId);
}

/** a delayed will waits here (RabbitMQ's plugin name) */
export function willQueueName(clientId: string): string {
  return named('mqtt-will-', clientId);
}

/**
 * One queue per shared-subscription group and filter. '/' separates them: a group name cannot
 * contain it [MQTT-4.8.2-2] and a routing key made from an MQTT filter never does, so group
 * 'a' with filter 'b/c' and group 'a.b' with filter 'c' get different queues.
 */
export function sharedQueueName(group: string, routingKey: string): string {
  return named('tributary.mqtt.share.', `${group}/${routingKey}`);
}

/** takeover requests for client ids held in another process (takeover-requests.ts) */
export const TAKEOVER_EXCHANGE = 'tributary.mqtt.takeover';

export function takeoverFeedQueueName(nodeId: string): string {
  return named('tributary.mqtt.takeover.feed.', nodeId);
}

export const RETAINED_STORE_QUEUE = 'tributary.mqtt.retained';
export const RETAINED_LOCK_QUEUE = 'tributary.mqtt.retained.lock';

export function retainedFeedQueueName(nodeId: string): string {
  return named('tributary.mqtt.retained.feed.', nodeId);
}
