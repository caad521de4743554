// The Fabric seam: the AMQP 0-9-1 model as a protocol session needs it, and nothing else.
// Two implementations honour it: `amqp` (amqplib on RabbitMQ) and `embedded` (in-process).
// One contract suite (test/contract/) runs against both. Nothing outside src/fabric/amqp
// imports amqplib.

import type { EventEmitter } from 'node:events';

/** AMQP field values as they cross the seam (a subset of AMQP's table types that JSON can hold). */
export type HeaderValue = string | number | boolean | null | undefined | Buffer | HeaderValue[] | { [k: string]: HeaderValue };
export type Headers = Record<string, HeaderValue>;

/** AMQP basic properties. Names follow amqplib's. */
export interface MessageProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: Headers;
  /** 1 transient, 2 persistent */
  deliveryMode?: 1 | 2;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  /** per-message TTL in milliseconds, as a decimal string (AMQP's own representation) */
  expiration?: string;
  messageId?: string;
  /** seconds since the epoch (AMQP timestamp) */
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
}

/** The one canonical message shape. Bodies are bytes end to end, never re-encoded. */
export interface FabricMessage {
  body: Buffer;
  properties: MessageProperties;
}

export interface Delivery extends FabricMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly redelivered: boolean;
  /** unique per consumer; what ack/nack take */
  readonly deliveryTag: number;
  readonly consumerTag: string;
}

export type ExchangeType = 'direct' | 'topic' | 'fanout' | 'headers';

export interface ExchangeOptions {
  durable?: boolean;
  autoDelete?: boolean;
  internal?: boolean;
  arguments?: Headers;
}

/** Queue arguments understood by both fabrics (RabbitMQ's x-arguments). */
export interface QueueArguments extends Headers {
  'x-message-ttl'?: number;
  'x-expires'?: number;
  'x-max-length'?: number;
  'x-overflow'?: 'drop-head' | 'reject-publish';
  'x-dead-letter-exchange'?: string;
  'x-dead-letter-routing-key'?: string;
}

export interface QueueOptions {
  durable?: boolean;
  /** deleted when the owning FabricSession closes (AMQP: when the connection closes) */
  exclusive?: boolean;
  autoDelete?: boolean;
  arguments?: QueueArguments;
}

export interface QueueInfo {
  queue: string;
  messageCount: number;
  consumerCount: number;
}

export interface PublishOptions {
  /** resolve only once the broker has taken responsibility (publisher confirm) */
  confirm?: boolean;
  /** reject with UNROUTABLE when no queue receives the message */
  mandatory?: boolean;
  /**
   * Fair streams only (src/fair; other fabrics ignore it): when the publisher's fair-stream
   * queue is full, 'reject' (the default) fails the publish with QUOTA_EXCEEDED (MQTT 5 PUBACK
   * 0x97, STOMP ERROR); 'wait' retries until there is room and settles then (MQTT 3.1.1 QoS 1:
   * PUBACK withheld; STOMP: receipt withheld). Later publishes of the session wait behind it.
   */
  whenFull?: 'reject' | 'wait';
}

export interface ConsumeOptions {
  /** unacked deliveries in flight for this consumer (basic.qos, global=false); 0 = unlimited */
  prefetch?: number;
  exclusive?: boolean;
  /** deliveries count as settled on send (basic.consume no-ack). Prefer prefetch + ack. */
  noAck?: boolean;
  consumerTag?: string;
  /** consumer arguments, e.g. x-priority */
  arguments?: Headers;
  /**
   * a channel of its own (AMQP fabric): its acks coalesce into multiple acks whatever other
   * consumers hold unacked, for a busy consumer such as a process-wide queue
   */
  ownChannel?: boolean;
}

export interface Consumer {
  readonly tag: string;
  readonly queue: string;
  ack(delivery: Delivery, multiple?: boolean): void;
  nack(delivery: Delivery, opts?: { requeue?: boolean; multiple?: boolean }): void;
  /** stop deliveries; unacked deliveries are requeued (redelivered=true) */
  cancel(): Promise<void>;
}

export type DeliveryHandler = (delivery: Delivery) => void;

/**
 * Topology and traffic owned by one client session. Everything declared through it is
 * recorded, so that after a broker loss the fabric declares it again and resumes consumers.
 * Closing it cancels its consumers (unacked deliveries requeue) and deletes its exclusive queues.
 */
export interface FabricSession {
  readonly id: string;
  readonly vhost: string;
  publish(exchange: string, routingKey: string, message: FabricMessage, opts?: PublishOptions): Promise<void>;
  declareExchange(name: string, type: ExchangeType, opts?: ExchangeOptions): Promise<void>;
  /** passive: rejects with NOT_FOUND when the exchange does not exist */
  checkExchange(name: string): Promise<void>;
  deleteExchange(name: string, opts?: { ifUnused?: boolean }): Promise<void>;
  /** name '' makes the fabric choose a unique name (amq.gen-…) */
  declareQueue(name: string, opts?: QueueOptions): Promise<QueueInfo>;
  /** passive: rejects with NOT_FOUND when the queue does not exist */
  checkQueue(name: string): Promise<QueueInfo>;
  deleteQueue(name: string, opts?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<{ messageCount: number }>;
  purgeQueue(name: string): Promise<{ messageCount: number }>;
  bindQueue(queue: string, exchange: string, routingKey: string, args?: Headers): Promise<void>;
  unbindQueue(queue: string, exchange: string, routingKey: string, args?: Headers): Promise<void>;
  bindExchange(destination: string, source: string, routingKey: string, args?: Headers): Promise<void>;
  unbindExchange(destination: string, source: string, routingKey: string, args?: Headers): Promise<void>;
  consume(queue: string, opts: ConsumeOptions, onDelivery: DeliveryHandler): Promise<Consumer>;
  /** fetch one message (basic.get); null when the queue is empty */
  get(queue: string, opts?: { noAck?: boolean }): Promise<(Delivery & { settle(outcome: 'ack' | 'requeue' | 'discard'): void }) | null>;
  /**
   * false while publishing should pause (broker `connection.blocked`, full confirm window,
   * broker down). Readers stop reading their client sockets until `onWritable` fires.
   */
  readonly writable: boolean;
  onWritable(listener: () => void): () => void;
  close(): Promise<void>;
}

/** Who a FabricSession acts for. `publisher` identifies the client for per-publisher fair streams. */
export interface SessionOwner {
  vhost: string;
  label?: string;
  publisher?: { clientId?: string; username?: string; protocol?: string };
}

export interface FabricStatus {
  connected: boolean;
  blocked: boolean;
  /** why not ready, when not */
  reason?: string;
}

export interface FabricEvents {
  up: [];
  down: [reason: string];
  blocked: [reason: string];
  unblocked: [];
}

export interface Fabric extends EventEmitter<FabricEvents> {
  readonly kind: 'amqp' | 'embedded';
  /** connect (amqp) or initialise (embedded); rejects if the broker cannot be reached at all */
  start(): Promise<void>;
  openSession(owner: SessionOwner): FabricSession;
  status(): FabricStatus;
  /** wait for outstanding confirms, then close every session and the connections */
  close(): Promise<void>;
}
