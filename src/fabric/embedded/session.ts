// A FabricSession on the embedded fabric: the owner of exclusive queues, consumers and
// unsettled basic.get deliveries; closing it requeues what it held and deletes what it owned.
import { ErrorCode, GatewayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type {
  ConsumeOptions,
  Consumer,
  Delivery,
  DeliveryHandler,
  ExchangeOptions,
  ExchangeType,
  FabricMessage,
  FabricSession,
  Headers,
  PublishOptions,
  QueueInfo,
  QueueOptions,
} from '../types.js';
import { EmbeddedConsumer, toDelivery, type ConsumerOwner } from './consumer.js';
import type { QueuedMessage } from './message.js';
import { generatedConsumerTag } from './names.js';
import type { Queue } from './queue.js';
import type { DeliveryScheduler } from './scheduler.js';
import type { VHost } from './vhost.js';

type GetResult = Delivery & { settle(outcome: 'ack' | 'requeue' | 'discard'): void };

export class EmbeddedSession implements FabricSession, ConsumerOwner {
  private readonly consumers = new Map<string, EmbeddedConsumer>();
  /** basic.get deliveries not yet settled, requeued on close */
  private readonly fetched = new Map<number, { queue: Queue; message: QueuedMessage }>();
  private deliveryTag = 0;
  private closed = false;
  readonly writable = true;

  constructor(
    readonly id: string,
    private readonly host: VHost,
    readonly scheduler: DeliveryScheduler,
    readonly log: Logger | undefined,
    private readonly onClosed: (s: EmbeddedSession) => void,
  ) {}

  get vhost(): string {
    return this.host.name;
  }

  nextDeliveryTag(): number {
    return ++this.deliveryTag;
  }

  consumerGone(tag: string): void {
    this.consumers.delete(tag);
  }

  async publish(exchange: string, routingKey: string, message: FabricMessage, opts: PublishOptions = {}): Promise<void> {
    this.assertOpen();
    const outcome = this.host.publish(exchange, routingKey, message);
    if (opts.mandatory === true && outcome.routed === 0) {
      throw new GatewayError(ErrorCode.UNROUTABLE, `message to exchange '${exchange}' with key '${routingKey}' was not routed to any queue`);
    }
    if (opts.confirm === true && outcome.rejected) {
      throw new GatewayError(ErrorCode.PUBLISH_NACKED, 'a queue refused the message (x-overflow reject-publish)');
    }
  }

  async declareExchange(name: string, type: ExchangeType, opts?: ExchangeOptions): Promise<void> {
    this.assertOpen();
    this.host.declareExchange(name, type, opts);
  }

  async checkExchange(name: string): Promise<void> {
    this.assertOpen();
    this.host.checkExchange(name);
  }

  async deleteExchange(name: string, opts: { ifUnused?: boolean } = {}): Promise<void> {
    this.assertOpen();
    this.host.deleteExchange(name, opts.ifUnused ?? false);
  }

  async declareQueue(name: string, opts?: QueueOptions): Promise<QueueInfo> {
    this.assertOpen();
    return this.host.declareQueue(this.id, name, opts);
  }

  async checkQueue(name: string): Promise<QueueInfo> {
    this.assertOpen();
    return this.host.checkQueue(this.id, name);
  }

  async deleteQueue(name: string, opts?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<{ messageCount: number }> {
    this.assertOpen();
    return { messageCount: this.host.deleteQueue(this.id, name, opts) };
  }

  async purgeQueue(name: string): Promise<{ messageCount: number }> {
    this.assertOpen();
    return { messageCount: this.host.purgeQueue(this.id, name) };
  }

  async bindQueue(queue: string, exchange: string, routingKey: string, args?: Headers): Promise<void> {
    this.assertOpen();
    this.host.bindQueue(this.id, queue, exchange, routingKey, args);
  }

  async unbindQueue(queue: string, exchange: string, routingKey: string, args?: Headers): Promise<void> {
    this.assertOpen();
    this.host.unbindQueue(this.id, queue, exchange, routingKey, args);
  }

  async bindExchange(destination: string, source: string, routingKey: string, args?: Headers): Promise<void> {
    this.assertOpen();
    this.host.bindExchange(destination, source, routingKey, args);
  }

  async unbindExchange(destination: string, source: string, routingKey: string, args?: Headers): Promise<void> {
    this.assertOpen();
    this.host.unbindExchange(destination, source, routingKey, args);
  }

  async consume(queue: string, opts: ConsumeOptions, onDelivery: DeliveryHandler): Promise<Consumer> {
    this.assertOpen();
    const q = this.host.queue(this.id, queue);
    const tag = opts.consumerTag ?? generatedConsumerTag();
    if (this.consumers.has(tag)) {
      throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `consumer tag '${tag}' already in use on this session`);
    }
    if (q.hasExclusiveConsumer || (opts.exclusive === true && q.consumerCount > 0)) {
      throw new GatewayError(ErrorCode.RESOURCE_LOCKED, `queue '${queue}' in vhost '${this.vhost}' in exclusive use`);
    }
    const prefetch = opts.prefetch ?? 0;
    if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > 65535) {
      throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `prefetch must be an integer in 0..65535, got ${prefetch}`);
    }
    const c = new EmbeddedConsumer(tag, q, this, onDelivery, prefetch, opts.noAck ?? false, opts.exclusive ?? false);
    this.consumers.set(tag, c);
    q.addSubscriber(c);
    return c;
  }

  async get(queue: string, opts: { noAck?: boolean } = {}): Promise<GetResult | null> {
    this.assertOpen();
    const q = this.host.queue(this.id, queue);
    const message = q.take(Date.now());
    if (message === undefined) return null;
    const tag = this.nextDeliveryTag();
    if (opts.noAck !== true) this.fetched.set(tag, { queue: q, message });
    const settle = (outcome: 'ack' | 'requeue' | 'discard'): void => {
      if (!this.fetched.delete(tag)) return;
      if (outcome === 'requeue') {
        message.redelivered = true;
        q.requeue([message]);
      } else if (outcome === 'discard') {
        q.reject([message]);
      }
    };
    return Object.assign(toDelivery(message, tag, ''), { settle });
  }

  onWritable(_listener: () => void): () => void {
    // never unwritable: the embedded fabric has no broker flow control
    return () => {};
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of [...this.consumers.values()]) await c.cancel();
    for (const { queue, message } of this.fetched.values()) {
      message.redelivered = true;
      queue.requeue([message]);
    }
    this.fetched.clear();
    this.host.deleteOwnedBy(this.id);
    this.onClosed(this);
  }

  private assertOpen(): void {
    if (this.closed) throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, `session ${this.id} is closed`);
  }
}
