// Publishing for a client session: counts and times every publish, keeps the number of
// unconfirmed publishes bounded (`window`), waits while the fabric is not writable (broker
// blocked, its confirm window full, broker down), and knows when everything published so far
// has settled — what a protocol acknowledgement must wait for (STOMP RECEIPT, MQTT PUBACK, WAMP
// PUBLISHED are sent only after the fabric's confirm, and in the order the client asked).
// A reader that awaits roomAvailable() before each publish-type frame stops handling frames,
// and so (with ReaderThrottle) stops reading the socket, instead of piling up publishes.
//
// Cost per publish: the fabric's promise and one reaction on it (no chain of promises).
// settled() is answered from counters: publishes are counted per "epoch"; a settled() call
// while publishes are outstanding closes the current epoch, and its promise resolves once
// that epoch and every earlier one has no unsettled publish left.

import type { FabricMessage, FabricSession, PublishOptions } from '../../fabric/types.js';
import type { Metrics } from '../../metrics.js';
import type { ProtocolName } from '../types.js';

const SETTLED: Promise<void> = Promise.resolve();

/** publishes made before a settled() call, and the promise that call returned */
interface Epoch {
  unsettled: number;
  promise: Promise<void>;
  resolve: () => void;
}

export class ConfirmedPublisher {
  private count = 0;
  /** the id of the epoch publishes join now */
  private epoch = 0;
  /** unsettled publishes of the current epoch */
  private current = 0;
  /** closed epochs with publishes unsettled, oldest first, from `closedHead`; `closed[i]` is epoch `closedBase + i - closedHead` */
  private closed: Epoch[] = [];
  private closedHead = 0;
  private closedBase = 0;
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
    if (this.current === 0) {
      // nothing new since the last epoch closed: wait for that one (or for nothing)
      const last = this.closed.length - 1;
      return last >= this.closedHead ? (this.closed[last] as Epoch).promise : SETTLED;
    }
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.closed.push({ unsettled: this.current, promise, resolve });
    this.current = 0;
    this.epoch += 1;
    return promise;
  }

  /**
   * Publish; the promise rejects with the fabric's GatewayError (nack, unroutable, loss). The
   * caller must handle that rejection (it is a promise of its own, not the fabric's).
   */
  publish(exchange: string, routingKey: string, message: FabricMessage, opts: PublishOptions = {}): Promise<void> {
    return this.publishThen(exchange, routingKey, message, opts, returnUndefined, rethrow);
  }

  /**
   * Publish, and map its outcome in the same step: the promise resolves to `onConfirmed()` or to
   * `onFailed(error)` (which may throw to reject). Both run after this publish was counted as
   * settled. One promise per publish, for callers that turn the outcome into an answer.
   */
  publishThen<T>(
    exchange: string,
    routingKey: string,
    message: FabricMessage,
    opts: PublishOptions,
    onConfirmed: () => T,
    onFailed: (err: unknown) => T,
  ): Promise<T> {
    this.received.inc();
    const published = this.session.publish(exchange, routingKey, message, opts);
    this.count += 1;
    this.current += 1;
    const epoch = this.epoch;
    // an unconfirmed publish (MQTT QoS 0, most STOMP SENDs) has no confirm to count or time
    if (opts.confirm !== true) {
      return published.then(
        () => {
          this.release(epoch);
          return onConfirmed();
        },
        (err: unknown) => {
          this.release(epoch);
          return onFailed(err);
        },
      );
    }
    const started = process.hrtime.bigint();
    return published.then(
      () => {
        this.confirmed.inc();
        this.latency.observe(Number(process.hrtime.bigint() - started) / 1e9);
        this.release(epoch);
        return onConfirmed();
      },
      (err: unknown) => {
        this.release(epoch);
        return onFailed(err);
      },
    );
  }

  private release(epoch: number): void {
    this.count -= 1;
    if (epoch === this.epoch) this.current -= 1;
    else this.settleClosed(epoch);
    if (this.count < this.window && this.waiters.length > 0) this.waiters.shift()?.();
  }

  /** one publish of a closed epoch settled: resolve the epochs that are done, oldest first */
  private settleClosed(epoch: number): void {
    const closed = this.closed;
    (closed[this.closedHead + epoch - this.closedBase] as Epoch).unsettled -= 1;
    while (this.closedHead < closed.length && (closed[this.closedHead] as Epoch).unsettled === 0) {
      (closed[this.closedHead] as Epoch).resolve();
      this.closedHead += 1;
      this.closedBase += 1;
    }
    if (this.closedHead === closed.length) {
      closed.length = 0;
      this.closedHead = 0;
    } else if (this.closedHead > 1024 && this.closedHead * 2 > closed.length) {
      closed.splice(0, this.closedHead);
      this.closedHead = 0;
    }
  }
}

function returnUndefined(): undefined {
  return undefined;
}

function rethrow(err: unknown): never {
  throw err;
}
