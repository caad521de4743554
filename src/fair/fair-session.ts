// A client's FabricSession with fair-stream ingress: everything is the inner session's, except
// that publish() goes through FairIngress. While a `whenFull: 'wait'` publish waits for room in
// its publisher queue, the session's later publishes wait behind it, so the fair copies keep
// the client's order.
import type {
  ConsumeOptions,
  Consumer,
  DeliveryHandler,
  ExchangeOptions,
  ExchangeType,
  FabricMessage,
  FabricSession,
  Headers,
  PublishOptions,
  QueueInfo,
  QueueOptions,
  SessionOwner,
} from '../fabric/types.js';
import type { FairIngress } from './ingress.js';

const noop = (): void => {};

export class FairSession implements FabricSession {
  /** settles when the stalled publishes (and those queued behind them) have */
  private tail: Promise<void> | null = null;

  constructor(
    readonly inner: FabricSession,
    private readonly owner: SessionOwner,
    private readonly ingress: FairIngress,
  ) {}

  get id(): string {
    return this.inner.id;
  }

  get vhost(): string {
    return this.inner.vhost;
  }

  get writable(): boolean {
    return this.inner.writable;
  }

  publish(exchange: string, routingKey: string, message: FabricMessage, opts: PublishOptions = {}): Promise<void> {
    if (this.tail === null) return this.route(exchange, routingKey, message, opts);
    const queued = this.tail.then(() => this.route(exchange, routingKey, message, opts));
    this.setTail(queued);
    return queued;
  }

  private route(exchange: string, routingKey: string, message: FabricMessage, opts: PublishOptions): Promise<void> {
    return this.ingress.publish(this.inner, this.owner, exchange, routingKey, message, {
      ...opts,
      onStall: (untilRoom) => this.setTail(this.tail === null ? untilRoom : Promise.all([this.tail, untilRoom])),
    });
  }

  private setTail(p: Promise<unknown>): void {
    const settled = p.then(noop, noop);
    this.tail = settled;
    void settled.then(() => {
      if (this.tail === settled) this.tail = null;
    });
  }

  declareExchange(name: string, type: ExchangeType, opts?: ExchangeOptions): Promise<void> {
    return this.inner.declareExchange(name, type, opts);
  }

  checkExchange(name: string): Promise<void> {
    return this.inner.checkExchange(name);
  }

  deleteExchange(name: string, opts?: { ifUnused?: boolean }): Promise<void> {
    return this.inner.deleteExchange(name, opts);
  }

  declareQueue(name: string, opts?: QueueOptions): Promise<QueueInfo> {
    return this.inner.declareQueue(name, opts);
  }

  checkQueue(name: string): Promise<QueueInfo> {
    return this.inner.checkQueue(name);
  }

  deleteQueue(name: string, opts?: { ifUnused?: boolean; ifEmpty?: boolean }): Promise<{ messageCount: number }> {
    return this.inner.deleteQueue(name, opts);
  }

  purgeQueue(name: string): Promise<{ messageCount: number }> {
    return this.inner.purgeQueue(name);
  }

  bindQueue(queue: string, exchange: string, routingKey: string, args?: Headers): Promise<void> {
    return this.inner.bindQueue(queue, exchange, routingKey, args);
  }

  unbindQueue(queue: string, exchange: string, routingKey: string, args?: Headers): Promise<void> {
    return this.inner.unbindQueue(queue, exchange, routingKey, args);
  }

  bindExchange(destination: string, source: string, routingKey: string, args?: Headers): Promise<void> {
    return this.inner.bindExchange(destination, source, routingKey, args);
  }

  unbindExchange(destination: string, source: string, routingKey: string, args?: Headers): Promise<void> {
    return this.inner.unbindExchange(destination, source, routingKey, args);
  }

  consume(queue: string, opts: ConsumeOptions, onDelivery: DeliveryHandler): Promise<Consumer> {
    return this.inner.consume(queue, opts, onDelivery);
  }

  get(queue: string, opts?: { noAck?: boolean }): ReturnType<FabricSession['get']> {
    return this.inner.get(queue, opts);
  }

  onWritable(listener: () => void): () => void {
    return this.inner.onWritable(listener);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
