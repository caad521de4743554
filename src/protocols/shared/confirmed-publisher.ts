// Publishing for a client session: counts and times every publish, keeps the number of
// unconfirmed publishes bounded (`window`), waits while the fabric is not writable (broker
// blocked, its confirm window full, broker down), and knows when everything published so far
// has settled — what a protocol acknowledgement must wait for (STOMP RECEIPT, MQTT PUBACK, WAMP
// PUBLISHED are sent only after the fabric's confirm, and in the order the client asked).
// A reader that awaits roomAvailable() before each publish-type frame stops handling frames,
// and so (with ReaderThrottle) stops reading the socket, instead of piling up publishes.

import type { FabricMessage, FabricSession, PublishOptions } from '../../fabric/types.js';
import type { Metrics } from '../../metrics.js';
import type { ProtocolName } from '../types.js';

export class ConfirmedPublisher {
  private count = 0;
  /** settles after every publish made so far has settled (a chain: O(1) per publish) */
  private tail: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];
  private readonly received: { inc(): void };
  private readonly confirmed: { inc(): void };
  private readonly latency: { observe(seconds: number): void };

  constructor(
    private readonly session: Pick<FabricSession, 'publish' | 'writable' | 'onWritable'>,
    metrics: Metrics,
    protocol: ProtocolName,
    /** most publishes awaiting their confirm at once */
    readonly window = 1024,
  ) {
    // bound once: looking labels up on every publish shows in profiles; the received count
    // is a plain number folded into prom-client when read (prom-client hashes labels per inc)
    this.received = metrics.receivedCounts.child({ protocol });
    this.confirmed = metrics.messagesConfirmed.labels({ protocol });
    this.latency = metrics.confirmLatency.labels({ protocol });
  }

  get outstanding(): number {
    return this.count;
  }

  /** Resolves once fewer than `window` publishes are outstanding and the fabric is writable. */
  async roomAvailable(): Promise<void> {
    for (;;) {
      if (this.count >= this.window) await new Promise<void>((resolve) => this.waiters.push(resolve));
      else if (!this.session.writable) await this.writable();
      else return;
    }
  }

  private writable(): Promise<void> {
    return new Promise((resolve) => {
      const stop = this.session.onWritable(() => {
        stop();
        resolve();
      });
      // it may have become writable between the check and the subscription
      if (this.session.writable) {
        stop();
        resolve();
      }
    });
  }

  /** Settles (never rejects) when every publish made before this call has settled. */
  settled(): Promise<void> {
    return this.tail;
  }

  /** Publish; the promise rejects with the fabric's GatewayError (nack, unroutable, loss). */
  publish(exchange: string, routingKey: string, message: FabricMessage, opts: PublishOptions = {}): Promise<void> {
    this.received.inc();
    this.count += 1;
    const published = this.session.publish(exchange, routingKey, message, opts);
    // an unconfirmed publish (MQTT QoS 0, most STOMP SENDs) has no confirm to count or time
    const result = opts.confirm === true ? this.timed(published) : published;
    const done = result.then(
      () => this.release(),
      () => this.release(),
    );
    const previous = this.tail;
    this.tail = previous.then(() => done);
    return result;
  }

  private timed(published: Promise<void>): Promise<void> {
    const started = process.hrtime.bigint();
    return published.then(() => {
      this.confirmed.inc();
      this.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    });
  }

  private release(): void {
    this.count -= 1;
    if (this.count < this.window) this.waiters.shift()?.();
  }
}
