// Consumer channels of one connection, each carrying up to `perChannel` consumers. A channel
// per consumer would cost the broker a process and memory per client subscription; one
// channel for all would serialise every delivery of the connection through one broker
// process and let one bad consume close all of them. So: a few dozen consumers a channel.
//
// Prefetch is per consumer (basic.qos global=false applies to the consumers created after it
// on the channel), so qos + consume run as one step, one step at a time per channel.
//
// Acks are coalesced per channel and tick (ack-batch.ts): one multiple ack for what was acked
// below the oldest unsettled delivery. A consumer that asks for `ownChannel` (a busy one, e.g.
// the WAMP router's process-wide queue) gets a channel nobody else joins, so that another
// consumer's unacked deliveries never hold its acks below the floor: they go one by one then.
//
// A channel error (e.g. 403 for a second exclusive consumer) closes the channel: the failing
// consume is rejected, and the other consumers that were on it are attached again elsewhere
// (their unacked deliveries come back redelivered).

import type { Channel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { ManagedConnection } from './connection.js';
import type { AmqpConsumer } from './consumer.js';
import { AckBatch } from './ack-batch.js';
import { ErrorCode, isGatewayError } from '../../errors.js';
import { fromAmqpError, isCollateralChannelError } from './errors.js';

export class ConsumerChannel {
  readonly consumers = new Map<string, AmqpConsumer>();
  /** consumers being attached right now (counted against the capacity) */
  reserved = 0;
  closed = false;
  /** opened for one `ownChannel` consumer: nobody else joins it, and it closes once idle */
  dedicated = false;
  /** set when the broker closed the channel (as opposed to the connection going away) */
  error: Error | null = null;
  private prefetch: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly acks: AckBatch;

  constructor(readonly ch: Channel) {
    this.acks = new AckBatch({
      ack: (deliveryTag, multiple) => this.send(() => ch.ack({ fields: { deliveryTag } } as ConsumeMessage, multiple)),
      nack: (deliveryTag, requeue) => this.send(() => ch.nack({ fields: { deliveryTag } } as ConsumeMessage, false, requeue)),
    });
  }

  get load(): number {
    return this.consumers.size + this.reserved;
  }

  /** qos + consume as one step, after the steps before it on this channel */
  consume(consumer: AmqpConsumer): Promise<void> {
    return this.serially(async () => {
      if (this.prefetch !== consumer.prefetch) {
        await this.ch.prefetch(consumer.prefetch, false);
        this.prefetch = consumer.prefetch;
      }
      const brokerTag = consumer.nextBrokerTag();
      const { opts } = consumer;
      // Deliveries can arrive in the same read as consume-ok, before our continuation runs:
      // the consumer must already know its channel, or it would drop their acks as stale.
      consumer.attached(this, brokerTag);
      try {
        const acking = !(opts.noAck ?? false);
        await this.ch.consume(consumer.queue, (msg: ConsumeMessage | null) => {
          if (msg !== null && acking) this.acks.delivered(msg.fields.deliveryTag);
          consumer.handle(this, msg);
        }, {
          consumerTag: brokerTag,
          noAck: opts.noAck ?? false,
          exclusive: opts.exclusive ?? false,
          arguments: opts.arguments,
        });
      } catch (err) {
        consumer.lostChannel(this);
        throw err;
      }
      if (!consumer.cancelled) this.consumers.set(brokerTag, consumer);
    });
  }

  async cancel(brokerTag: string): Promise<void> {
    this.consumers.delete(brokerTag);
    if (this.closed) return;
    await this.ch.cancel(brokerTag).catch(() => undefined);
  }

  /**
   * A round trip on this channel: once it returns, the broker has processed every ack and
   * nack sent before it (so a cancel's requeues are visible when cancel() resolves).
   */
  async sync(): Promise<void> {
    if (this.closed) return;
    this.acks.flush();
    await this.serially(() => this.ch.prefetch(this.prefetch ?? 0, false)).catch(() => undefined);
  }

  ack(deliveryTag: number): void {
    if (!this.closed) this.acks.ack(deliveryTag);
  }

  nack(deliveryTag: number, requeue: boolean): void {
    if (!this.closed) this.acks.nack(deliveryTag, requeue);
  }

  /** a delivery nobody will settle (its queue was deleted): acks above it need not wait for it */
  forget(deliveryTag: number): void {
    this.acks.forget(deliveryTag);
  }

  /** send the acks waiting (before a close, so that they are not requeued) */
  flushAcks(): void {
    if (!this.closed) this.acks.flush();
  }

  /** the channel is gone: the broker has requeued what was unsettled */
  lost(): void {
    this.acks.clear();
  }

  private send(method: () => void): void {
    if (this.closed) return;
    try {
      method();
    } catch {
      // the channel closed under us: the broker requeues the delivery by itself
    }
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.queue.then(step);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

export interface ConsumerChannelPoolOptions {
  perChannel: number;
  log: Logger;
  metrics: Metrics | undefined;
}

export class ConsumerChannelPool {
  private readonly channels = new Set<ConsumerChannel>();
  private opening: Promise<void> | null = null;

  constructor(
    private readonly conn: ManagedConnection,
    private readonly opts: ConsumerChannelPoolOptions,
  ) {
    conn.on('down', () => {
      this.opening = null;
    });
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** start `consumer` on a channel with room; rejects (GatewayError) if the broker refuses it */
  async attach(consumer: AmqpConsumer): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const channel = consumer.opts.ownChannel === true ? await this.openDedicated() : await this.channelWithRoom();
      try {
        await channel.consume(consumer);
      } catch (err) {
        // queued behind another step that closed the channel: never sent, try a fresh channel
        if (isCollateralChannelError(err) && this.conn.isUp && attempt < 3) continue;
        throw fromAmqpError(err);
      } finally {
        channel.reserved -= 1;
        this.closeIfIdle(channel);
      }
      // cancelled while the consume was on its way: take it back off the broker
      if (consumer.cancelled) await consumer.withdraw();
      return;
    }
  }

  /** the consumer left `channel` (cancelled by the client or the broker) */
  release(consumer: AmqpConsumer, channel: ConsumerChannel | null): void {
    if (!channel) return;
    for (const [tag, c] of channel.consumers) if (c === consumer) channel.consumers.delete(tag);
    this.closeIfIdle(channel);
  }

  async close(): Promise<void> {
    const channels = [...this.channels];
    this.channels.clear();
    for (const c of channels) c.flushAcks();
    await Promise.all(channels.map((c) => c.ch.close().catch(() => undefined)));
  }

  private async channelWithRoom(): Promise<ConsumerChannel> {
    for (;;) {
      for (const channel of this.channels) {
        if (!channel.closed && !channel.dedicated && channel.load < this.opts.perChannel) {
          channel.reserved += 1;
          return channel;
        }
      }
      this.opening ??= this.open();
      await this.opening;
    }
  }

  private async open(): Promise<void> {
    try {
      const ch = await this.conn.requireModel().createChannel();
      this.adopt(ch);
    } catch (err) {
      throw fromAmqpError(err);
    } finally {
      this.opening = null;
    }
  }

  /** a fresh channel for one `ownChannel` consumer, reserved for it */
  private async openDedicated(): Promise<ConsumerChannel> {
    let ch: Channel;
    try {
      ch = await this.conn.requireModel().createChannel();
    } catch (err) {
      throw fromAmqpError(err);
    }
    const channel = this.adopt(ch);
    channel.dedicated = true;
    channel.reserved += 1;
    return channel;
  }

  private adopt(ch: Channel): ConsumerChannel {
    const channel = new ConsumerChannel(ch);
    this.channels.add(channel);
    this.opts.metrics?.fabricChannels.inc();
    ch.on('error', (err: Error) => {
      channel.error = err;
      this.opts.log.warn({ err: err.message, conn: this.conn.name, consumers: channel.consumers.size }, 'consumer channel closed by the broker');
    });
    ch.on('close', () => this.onChannelClosed(channel));
    return channel;
  }

  private onChannelClosed(channel: ConsumerChannel): void {
    channel.closed = true;
    channel.lost();
    this.channels.delete(channel);
    this.opts.metrics?.fabricChannels.dec();
    const orphans = [...channel.consumers.values()];
    channel.consumers.clear();
    for (const consumer of orphans) consumer.lostChannel(channel);
    // Without a broker error the connection itself is going: its recovery resumes everyone.
    if (channel.error === null || !this.conn.isUp) return;
    for (const consumer of orphans) {
      if (!consumer.cancelled) void this.resume(consumer);
    }
  }

  /** attach again; an auto-delete queue went with its last consumer: declare it again first */
  private async resume(consumer: AmqpConsumer): Promise<void> {
    try {
      await this.attach(consumer);
    } catch (err) {
      try {
        if (!isGatewayError(err, ErrorCode.NOT_FOUND) || !(await consumer.hooks.restoreQueue(consumer.queue))) throw err;
        await this.attach(consumer);
      } catch (final) {
        this.opts.log.warn({ err: String(final), consumer: consumer.tag, queue: consumer.queue }, 'could not resume a consumer after a channel error');
      }
    }
  }

  /** keep one shared channel open for the next consumer; close the others once empty */
  private closeIfIdle(channel: ConsumerChannel): void {
    if (channel.closed || channel.load > 0) return;
    if (!channel.dedicated && this.sharedChannels() <= 1) return;
    channel.flushAcks();
    channel.closed = true;
    this.channels.delete(channel);
    channel.ch.close().catch(() => undefined);
  }

  private sharedChannels(): number {
    let n = 0;
    for (const c of this.channels) if (!c.dedicated) n += 1;
    return n;
  }
}
