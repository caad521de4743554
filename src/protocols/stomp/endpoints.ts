// Destinations ensured on the fabric, in one place (RabbitMQ's rabbit_routing_util
// ensure_endpoint): where a SEND goes, which queue a SUBSCRIBE consumes, what is declared,
// bound or checked on the way, and the permissions each step needs (RabbitMQ's model:
// configure to declare, write to publish or bind into a queue, read to consume or bind from an
// exchange; topic permissions on amq.topic routing keys).

import type { Permission, ResourceKind } from '../../auth/types.js';
import { ErrorCode, GatewayError, isGatewayError } from '../../errors.js';
import type { FabricSession, QueueArguments } from '../../fabric/types.js';
import { fairOutputQueue } from '../../fair/names.js';
import type { AuthorizationCache } from '../shared/authorization-cache.js';
import { declareTopicQueue, durableQueueName } from '../shared/topic-subscription.js';
import { parseDestination, TOPIC_EXCHANGE, type Destination } from './destination.js';
import { booleanHeader, type StompFrame } from './frame.js';
import { queueArgumentsFrom } from './queue-arguments.js';
import type { TempDestinations } from './temp-destinations.js';

export const SUBSCRIPTION_QUEUE_PREFIX = 'stomp-subscription-';
const DEFAULT_EXCHANGE = 'amq.default';
const MAX_REMEMBERED = 512;

export interface Route {
  exchange: string;
  routingKey: string;
}

export interface Source {
  queue: string;
  /** a transient queue made for this subscription (deleted on UNSUBSCRIBE) */
  ownsQueue: boolean;
  durable: boolean;
  /** a queue other consumers may share (message groups and queue selectors apply) */
  shared: boolean;
  destinationOverride?: string;
}

export interface EndpointContext {
  fabric: FabricSession;
  authz: AuthorizationCache;
  vhost: string;
  temp: TempDestinations;
  clientId: string | undefined;
}

export class Endpoints {
  /** queues declared or checked and exchanges checked by this session (bounded) */
  private readonly known = new Set<string>();
  /** SEND destinations already resolved, authorized and ensured by this session (bounded) */
  private readonly routes = new Map<string, Route>();

  constructor(private readonly c: EndpointContext) {}

  /** route() for a destination text, remembered: a stream of SENDs to one place parses it once */
  async routeFor(text: string | undefined, frame: StompFrame): Promise<Route> {
    const cached = text === undefined ? undefined : this.routes.get(text);
    if (cached !== undefined) return cached;
    const route = await this.route(parseDestination(text), frame, text as string);
    if (this.routes.size >= MAX_REMEMBERED) this.routes.delete(this.routes.keys().next().value as string);
    this.routes.set(text as string, route);
    return route;
  }

  /** Where a SEND to `dest` is published; declares /queue/ queues on first use. */
  async route(dest: Destination, frame: StompFrame, text: string): Promise<Route> {
    switch (dest.kind) {
      case 'topic':
        await this.allow('topic', TOPIC_EXCHANGE, 'write', text, dest.routingKey);
        return { exchange: TOPIC_EXCHANGE, routingKey: dest.routingKey };
      case 'exchange':
        await this.allow('exchange', dest.exchange, 'write', text);
        await this.checkExchange(dest.exchange, text);
        return { exchange: dest.exchange, routingKey: dest.routingKey };
      case 'queue':
        await this.allow('queue', dest.name, 'configure', text);
        await this.allow('exchange', DEFAULT_EXCHANGE, 'write', text);
        await this.declareSharedQueue(dest.name, queueArgumentsFrom(frame.headers));
        return { exchange: '', routingKey: dest.name };
      case 'amqqueue':
        await this.allow('exchange', DEFAULT_EXCHANGE, 'write', text);
        await this.checkQueue(dest.name, text);
        return { exchange: '', routingKey: dest.name };
      case 'reply-queue':
        await this.allow('exchange', DEFAULT_EXCHANGE, 'write', text);
        return { exchange: '', routingKey: dest.name };
      case 'temp-queue':
        return { exchange: '', routingKey: await this.c.temp.queue(dest.name) };
      case 'temp-topic':
        return { exchange: TOPIC_EXCHANGE, routingKey: this.c.temp.topicKey(dest.name) };
      case 'fair':
        throw new GatewayError(ErrorCode.INVALID_DESTINATION, `invalid destination ${text}`, { detail: 'a fair stream is consumed here; publish to the topics the stream covers', fatal: true });
    }
  }

  /** The queue a SUBSCRIBE consumes, declared and bound as its destination asks. */
  async source(dest: Destination, frame: StompFrame, text: string, durableName: string | undefined): Promise<Source> {
    switch (dest.kind) {
      case 'topic':
        return this.bindingSource(TOPIC_EXCHANGE, dest.routingKey, frame, text, durableName);
      case 'exchange':
        await this.checkExchange(dest.exchange, text);
        return this.bindingSource(dest.exchange, dest.routingKey, frame, text, durableName);
      case 'queue':
        await this.allow('queue', dest.name, 'configure', text);
        await this.allow('queue', dest.name, 'read', text);
        await this.declareSharedQueue(dest.name, queueArgumentsFrom(frame.headers));
        return { queue: dest.name, ownsQueue: false, durable: true, shared: true };
      case 'amqqueue':
        await this.allow('queue', dest.name, 'read', text);
        await this.checkQueue(dest.name, text);
        return { queue: dest.name, ownsQueue: false, durable: true, shared: true };
      case 'temp-queue':
        return { queue: await this.c.temp.queue(dest.name), ownsQueue: false, durable: false, shared: false, destinationOverride: text };
      case 'temp-topic': {
        const queue = await declareTopicQueue(this.c.fabric, { exchange: TOPIC_EXCHANGE, routingKey: this.c.temp.topicKey(dest.name), prefix: SUBSCRIPTION_QUEUE_PREFIX });
        return { queue, ownsQueue: true, durable: false, shared: false, destinationOverride: text };
      }
      case 'fair': {
        const queue = fairOutputQueue(dest.stream);
        await this.allow('queue', queue, 'read', text);
        await this.checkQueue(queue, text);
        return { queue, ownsQueue: false, durable: true, shared: false };
      }
      case 'reply-queue':
        throw new GatewayError(ErrorCode.INVALID_DESTINATION, `invalid destination ${text}`, { detail: 'reply queues can be sent to, not subscribed to; subscribe to your /temp-queue/ instead', fatal: true });
    }
  }

  /** a queue of the subscription's own, bound to `exchange` (RabbitMQ /topic/ and /exchange/) */
  private async bindingSource(exchange: string, routingKey: string, frame: StompFrame, text: string, durableName: string | undefined): Promise<Source> {
    const queueName = durableName ?? frame.headers['x-queue-name'];
    if (queueName !== undefined) {
      await this.allow('queue', queueName, 'configure', text);
      await this.allow('queue', queueName, 'write', text);
      await this.allow('queue', queueName, 'read', text);
    }
    await this.allow(exchange === TOPIC_EXCHANGE ? 'topic' : 'exchange', exchange, 'read', text, routingKey);
    const queue = await declareTopicQueue(this.c.fabric, {
      exchange,
      routingKey,
      durableName,
      queueName,
      prefix: SUBSCRIPTION_QUEUE_PREFIX,
      arguments: queueArgumentsFrom(frame.headers),
      autoDelete: booleanHeader(frame, 'auto-delete', false),
    });
    return { queue, ownsQueue: durableName === undefined, durable: durableName !== undefined, shared: false };
  }

  private async declareSharedQueue(name: string, args: QueueArguments): Promise<void> {
    const key = `q\u0000${name}`;
    if (this.known.has(key)) return;
    await this.c.fabric.declareQueue(name, { durable: true, exclusive: false, autoDelete: false, arguments: args });
    this.remember(key);
  }

  private async checkQueue(name: string, text: string): Promise<void> {
    const key = `q\u0000${name}`;
    if (this.known.has(key)) return;
    await this.c.fabric.checkQueue(name).catch((err: unknown) => {
      throw unknownIfMissing(err, text, `queue '${name}' does not exist`);
    });
    this.remember(key);
  }

  private async checkExchange(name: string, text: string): Promise<void> {
    const key = `x\u0000${name}`;
    if (this.known.has(key)) return;
    await this.c.fabric.checkExchange(name).catch((err: unknown) => {
      throw unknownIfMissing(err, text, `exchange '${name}' does not exist`);
    });
    this.remember(key);
  }

  private remember(key: string): void {
    if (this.known.size >= MAX_REMEMBERED) this.known.delete(this.known.values().next().value as string);
    this.known.add(key);
  }

  /** authorize one step; a refusal names the destination and the missing permission */
  private async allow(kind: ResourceKind, name: string, permission: Permission, text: string, routingKey?: string): Promise<void> {
    try {
      await this.c.authz.authorize({ vhost: this.c.vhost, kind, name, permission, routingKey, context: { clientId: this.c.clientId } });
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.NOT_AUTHORIZED)) throw err;
      throw new GatewayError(ErrorCode.NOT_AUTHORIZED, `access refused to ${text}: ${permission} permission required`, { detail: err.message, fatal: true });
    }
  }
}

/** The stable queue of a durable subscription: RabbitMQ's (destination, id) or ActiveMQ's (client-id, name). */
export function durableSubscriptionQueue(frame: StompFrame, text: string, subscriptionId: string, clientId: string | undefined): string | undefined {
  const explicit = frame.headers['x-queue-name'];
  const amqName = frame.headers['activemq.subscriptionName'];
  if (amqName !== undefined && clientId !== undefined) {
    const readable = `${SUBSCRIPTION_QUEUE_PREFIX}${clientId}.${amqName}`;
    return explicit ?? (Buffer.byteLength(readable) <= 255 ? readable : durableQueueName(SUBSCRIPTION_QUEUE_PREFIX, clientId, amqName));
  }
  if (!booleanHeader(frame, 'durable', false) && !booleanHeader(frame, 'persistent', false)) return undefined;
  return explicit ?? durableQueueName(SUBSCRIPTION_QUEUE_PREFIX, text, subscriptionId);
}

function unknownIfMissing(err: unknown, text: string, detail: string): unknown {
  if (isGatewayError(err, ErrorCode.NOT_FOUND) || isGatewayError(err, ErrorCode.UNKNOWN_DESTINATION)) {
    return new GatewayError(ErrorCode.UNKNOWN_DESTINATION, `unknown destination ${text}`, { detail, fatal: true, cause: err });
  }
  return err;
}
