// One consumer on an embedded queue: its prefetch window, its unacked deliveries, and an
// outbox of deliveries chosen for it but not yet handed to its handler (handlers run from the
// scheduler, never inside publish).
import type { Logger } from '../../log.js';
import type { Consumer, Delivery, DeliveryHandler } from '../types.js';
import { Deque } from '../../util/deque.js';
import type { QueuedMessage } from './message.js';
import type { Queue, Subscriber } from './queue.js';
import type { DeliveryScheduler, Flushable } from './scheduler.js';

/** what a consumer needs from its session */
export interface ConsumerOwner {
  nextDeliveryTag(): number;
  readonly scheduler: DeliveryScheduler;
  readonly log: Logger | undefined;
  consumerGone(tag: string): void;
}

/** without a prefetch limit, at most this many deliveries wait in the outbox; the rest stay queued */
const OUTBOX_LIMIT = 1024;

interface Pending {
  tag: number;
  message: QueuedMessage;
}

export class EmbeddedConsumer implements Consumer, Subscriber, Flushable {
  private readonly unacked = new Map<number, QueuedMessage>();
  private readonly outbox = new Deque<Pending>();
  private flushRequested = false;
  private active = true;

  constructor(
    readonly tag: string,
    private readonly q: Queue,
    private readonly owner: ConsumerOwner,
    private readonly handler: DeliveryHandler,
    private readonly prefetch: number,
    readonly noAck: boolean,
    readonly exclusive: boolean,
  ) {}

  get queue(): string {
    return this.q.name;
  }

  hasCapacity(): boolean {
    if (!this.active) return false;
    if (this.noAck || this.prefetch === 0) return this.outbox.length < OUTBOX_LIMIT;
    return this.unacked.size < this.prefetch;
  }

  take(message: QueuedMessage): void {
    const tag = this.owner.nextDeliveryTag();
    if (!this.noAck) this.unacked.set(tag, message);
    this.outbox.push({ tag, message });
    if (!this.flushRequested) {
      this.flushRequested = true;
      this.owner.scheduler.request(this);
    }
  }

  flush(budget: number): boolean {
    this.flushRequested = false;
    let n = 0;
    while (this.active && n < budget && this.outbox.length > 0) {
      const { tag, message } = this.outbox.shift() as Pending;
      n++;
      this.invoke(toDelivery(message, tag, this.tag));
    }
    if (this.active && (this.noAck || this.prefetch === 0)) this.q.capacityFreed();
    const more = this.active && this.outbox.length > 0;
    if (more) this.flushRequested = true;
    return more;
  }

  ack(delivery: Delivery, multiple = false): void {
    if (this.settle(delivery.deliveryTag, multiple).length > 0) this.q.capacityFreed();
  }

  nack(delivery: Delivery, opts: { requeue?: boolean; multiple?: boolean } = {}): void {
    const settled = this.settle(delivery.deliveryTag, opts.multiple ?? false);
    if (settled.length === 0) return;
    if (opts.requeue ?? true) {
      for (const m of settled) m.redelivered = true;
      this.q.requeue(settled);
    } else {
      this.q.reject(settled);
      this.q.capacityFreed();
    }
  }

  async cancel(): Promise<void> {
    if (!this.active) return;
    this.stop();
    this.q.removeSubscriber(this);
  }

  /** the queue was deleted: nothing to requeue, just stop */
  queueDeleted(): void {
    if (!this.active) return;
    this.active = false;
    this.unacked.clear();
    this.outbox.drain();
    this.owner.consumerGone(this.tag);
  }

  /** stop delivering and put every unsettled message back (redelivered when the handler saw it) */
  private stop(): void {
    this.active = false;
    const unseen = new Set<number>();
    const back: QueuedMessage[] = [];
    for (const p of this.outbox.drain()) {
      unseen.add(p.tag);
      if (this.noAck) back.push(p.message);
    }
    for (const [tag, m] of this.unacked) {
      if (!unseen.has(tag)) m.redelivered = true;
      back.push(m);
    }
    this.unacked.clear();
    this.owner.consumerGone(this.tag);
    this.q.requeue(back);
  }

  private settle(deliveryTag: number, multiple: boolean): QueuedMessage[] {
    if (!multiple) {
      const m = this.unacked.get(deliveryTag);
      if (m === undefined) return [];
      this.unacked.delete(deliveryTag);
      return [m];
    }
    const out: QueuedMessage[] = [];
    // Map iterates in insertion order, which is delivery-tag order
    for (const [tag, m] of this.unacked) {
      if (tag > deliveryTag) break;
      this.unacked.delete(tag);
      out.push(m);
    }
    return out;
  }

  private invoke(delivery: Delivery): void {
    try {
      this.handler(delivery);
    } catch (err) {
      this.owner.log?.error({ err, consumerTag: this.tag, queue: this.q.name }, 'delivery handler threw');
    }
  }
}

export function toDelivery(m: QueuedMessage, deliveryTag: number, consumerTag: string): Delivery {
  const properties = { ...m.properties };
  if (properties.headers !== undefined) properties.headers = { ...properties.headers };
  return {
    body: m.body,
    properties,
    exchange: m.exchange,
    routingKey: m.routingKey,
    redelivered: m.redelivered,
    deliveryTag,
    consumerTag,
  };
}
