// One session's consumer. The object is stable for the life of the subscription: after a
// channel error or a reconnect it is attached to a new channel under a new broker consumer
// tag, and the handler keeps receiving. What a client holds is ours, not the broker's:
// Delivery.deliveryTag is a per-consumer sequence number mapped to (channel, broker tag), so an
// ack for a delivery from a channel that has since died is recognised and ignored (the broker
// has already requeued it), and settling twice does nothing. Acking a tag the broker does not
// know would close the channel, with every other consumer on it.

import type { ConsumeMessage } from 'amqplib';
import type { Logger } from '../../log.js';
import type { ConsumeOptions, Consumer, Delivery, DeliveryHandler } from '../types.js';
import type { ConsumerChannel } from './consumer-channels.js';
import { toDelivery } from './message.js';

interface Outstanding {
  channel: ConsumerChannel;
  brokerDeliveryTag: number;
}

export interface ConsumerHooks {
  log: Logger;
  /** take this consumer off its channel (after cancel or a broker-side cancel) */
  release(consumer: AmqpConsumer, channel: ConsumerChannel | null): void;
  /** declare the consumer's queue (and its bindings) again; false when there is nothing to declare */
  restoreQueue(queue: string): Promise<boolean>;
}

let brokerTagCounter = 0;

export class AmqpConsumer implements Consumer {
  /** this consumer's tag on its current channel (never the client's tag: those collide) */
  brokerTag: string | null = null;
  channel: ConsumerChannel | null = null;
  private readonly outstanding = new Map<number, Outstanding>();
  private seq = 0;
  private cancelling: Promise<void> | null = null;
  /**
   * Deliveries that arrived before consume() resolved to the caller: held until it has the
   * Consumer in hand (to ack them with), then handed over in order. At most one socket read.
   */
  private early: Delivery[] | null = [];

  constructor(
    readonly tag: string,
    /** changes only when a server-named queue comes back under a new name after a reconnect */
    public queue: string,
    readonly opts: ConsumeOptions,
    /** on a queue other sessions may consume too (see Slot: such consumers get their own channels) */
    readonly onSharedQueue: boolean,
    private readonly onDelivery: DeliveryHandler,
    readonly hooks: ConsumerHooks,
  ) {}

  get cancelled(): boolean {
    return this.cancelling !== null;
  }

  get prefetch(): number {
    return this.opts.noAck ? 0 : (this.opts.prefetch ?? 0);
  }

  get unacked(): number {
    return this.outstanding.size;
  }

  nextBrokerTag(): string {
    brokerTagCounter += 1;
    return `tributary.${process.pid}.${brokerTagCounter}`;
  }

  attached(channel: ConsumerChannel, brokerTag: string): void {
    this.channel = channel;
    this.brokerTag = brokerTag;
  }

  /** the channel died (channel error or connection loss): the broker requeues what was unacked */
  lostChannel(channel: ConsumerChannel): void {
    if (this.channel !== channel) return;
    this.channel = null;
    this.brokerTag = null;
    this.outstanding.clear();
  }

  /** called by amqplib for every delivery; never throws (a throw would close the channel) */
  handle(channel: ConsumerChannel, msg: ConsumeMessage | null): void {
    if (msg === null) return this.cancelledByBroker(channel);
    this.seq += 1;
    if (!this.opts.noAck) this.outstanding.set(this.seq, { channel, brokerDeliveryTag: msg.fields.deliveryTag });
    // Deliveries racing a cancel stay unacked; cancel() requeues them once the broker confirms.
    // A no-ack consumer's are gone from the queue already: they are handed over (the embedded
    // fabric requeues what it had not handed over, so neither loses them).
    if (this.cancelled && !this.opts.noAck) return;
    const delivery = toDelivery(msg, this.seq, this.tag);
    if (this.early) this.early.push(delivery);
    else this.deliver(delivery);
  }

  /** called once consume() has resolved: from the next turn of the event loop, deliver directly */
  startDelivering(): void {
    setImmediate(() => {
      const early = this.early ?? [];
      this.early = null;
      for (const delivery of early) {
        // skip what a lost channel took back in the meantime (the broker redelivers it)
        if (this.opts.noAck || (!this.cancelled && this.outstanding.has(delivery.deliveryTag))) this.deliver(delivery);
      }
    });
  }

  private deliver(delivery: Delivery): void {
    try {
      this.onDelivery(delivery);
    } catch (err) {
      this.hooks.log.error({ err, consumer: this.tag, queue: this.queue }, 'delivery handler threw');
    }
  }

  ack(delivery: Delivery, multiple = false): void {
    this.settle(delivery, multiple, (o) => o.channel.ack(o.brokerDeliveryTag));
  }

  nack(delivery: Delivery, opts: { requeue?: boolean; multiple?: boolean } = {}): void {
    const requeue = opts.requeue ?? true;
    this.settle(delivery, opts.multiple ?? false, (o) => o.channel.nack(o.brokerDeliveryTag, requeue));
  }

  cancel(): Promise<void> {
    this.cancelling ??= this.stop();
    return this.cancelling;
  }

  private async stop(): Promise<void> {
    const channel = this.channel;
    await this.withdraw();
    this.hooks.release(this, channel);
  }

  /** take the consumer off the broker and requeue what it holds (also for a cancel that raced its consume) */
  async withdraw(): Promise<void> {
    const channel = this.channel;
    const brokerTag = this.brokerTag;
    if (channel && brokerTag) await channel.cancel(brokerTag);
    const requeued = this.requeueOutstanding();
    this.channel = null;
    this.brokerTag = null;
    if (requeued > 0 && channel) await channel.sync();
  }

  /**
   * The consumer is shared with others on one channel, so AMQP's `multiple` (everything up to
   * this tag, on the whole channel) would settle other consumers' deliveries: settle this
   * consumer's own deliveries one by one instead.
   */
  private settle(delivery: Delivery, multiple: boolean, send: (o: Outstanding) => void): void {
    if (this.opts.noAck || delivery.consumerTag !== this.tag) return;
    if (!multiple) {
      const o = this.outstanding.get(delivery.deliveryTag);
      if (!o) return;
      this.outstanding.delete(delivery.deliveryTag);
      if (o.channel === this.channel) send(o);
      return;
    }
    for (const [seq, o] of this.outstanding) {
      if (seq > delivery.deliveryTag) break;
      this.outstanding.delete(seq);
      if (o.channel === this.channel) send(o);
    }
  }

  private requeueOutstanding(): number {
    let n = 0;
    for (const o of this.outstanding.values()) {
      if (o.channel !== this.channel) continue;
      o.channel.nack(o.brokerDeliveryTag, true);
      n += 1;
    }
    this.outstanding.clear();
    return n;
  }

  private cancelledByBroker(channel: ConsumerChannel): void {
    // e.g. the queue was deleted: nothing to requeue, nothing will come
    this.hooks.log.info({ consumer: this.tag, queue: this.queue }, 'consumer cancelled by the broker');
    for (const o of this.outstanding.values()) o.channel.forget(o.brokerDeliveryTag);
    this.outstanding.clear();
    this.cancelling ??= Promise.resolve();
    this.channel = null;
    this.brokerTag = null;
    this.hooks.release(this, channel);
  }
}
