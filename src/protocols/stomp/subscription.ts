// One SUBSCRIBE: a fabric consumer on the subscription's queue, turned into MESSAGE frames.
// Every mode consumes with acks and a prefetch bound (never no-ack without a bound):
// - auto: acked once the bytes were handed to the socket (after the loop turn's batch went out,
//   or once the socket drained). Its prefetch is stomp.autoAckPrefetch (RabbitMQ's plugin
//   consumes auto with no-ack, so prefetch-count never applied there), it takes no slot of the
//   session's window, and it is written only while the socket is not backed up: a delivery
//   that finds it backed up waits here (bounded by that prefetch) until the session says it
//   drained. A slow socket thus holds at most the link's high-water mark plus one batch, the
//   gateway at most `prefetch` messages per subscription, and nobody else is stalled;
// - client: acked when the client ACKs, cumulatively (everything up to that message);
// - client-individual: acked message by message.
// A client-ack MESSAGE also takes a slot of the session's in-flight window (inflight-window.ts);
// a delivery that finds it full waits here, in arrival order, until a slot is granted.
// Deliveries may come from another subscription of the same queue (message groups, selectors:
// see queue-dispatch.ts); those are settled through their origin's consumer.

import { Deque } from '../../util/deque.js';
import type { Consumer, Delivery, FabricSession } from '../../fabric/types.js';
import type { Selector } from '../shared/selector/index.js';
import type { Destination } from './destination.js';
import type { StompVersion } from './frame.js';
import { toMessageHeaders } from './headers.js';
import type { InflightWindow, WindowMember } from './inflight-window.js';
import type { DispatchMember, QueueDispatch, Settler } from './queue-dispatch.js';

/** joins the process-wide dispatch of a shared queue (groups, selectors on queues) */
export type JoinDispatch = (member: DispatchMember) => QueueDispatch;

export type AckMode = 'auto' | 'client' | 'client-individual';

/** What a subscription needs from its session. */
export interface SubscriptionHost {
  readonly version: StompVersion;
  /** the session's in-flight window, shared by its client-ack subscriptions */
  readonly window: InflightWindow;
  /** false while the socket is backed up (ack:auto deliveries then wait) */
  readonly writable: boolean;
  /** call `member.resumeWriting()` once the socket drained (each member queued at most once) */
  whenWritable(member: WriteWaiter): void;
  /** write a MESSAGE; `afterWritten` runs once the socket has taken its bytes */
  writeMessage(headers: Array<[string, string]>, body: Buffer, afterWritten?: () => void): void;
  nextMessageId(subscriptionId: string): string;
  /** the session's ack-id index (ACK/NACK find their subscription through it) */
  track(ackId: string, sub: Subscription): void;
  untrack(ackId: string): void;
  /** a message was skipped by the subscription's selector */
  skipped(): void;
  delivered(): void;
}

export interface SubscriptionSpec {
  id: string;
  destinationText: string;
  destination: Destination;
  ackMode: AckMode;
  queue: string;
  prefetch: number;
  exclusive: boolean;
  selector: Selector | undefined;
  /** a transient queue this subscription owns: deleted on UNSUBSCRIBE */
  ownsQueue: boolean;
  durable: boolean;
  /** the MESSAGE destination when it should not be rebuilt from exchange and key (temp queues) */
  destinationOverride?: string | undefined;
}

/** an ack:auto subscription waiting for the socket to drain */
export interface WriteWaiter {
  /** write the oldest waiting delivery; false when none is left (or the subscription ended) */
  writeOne(): boolean;
  /** true while deliveries wait */
  readonly waitingToWrite: boolean;
}

interface Pending {
  delivery: Delivery;
  settler: Settler;
  /** handed over by another subscription: not requeued by our consumer's cancel */
  foreign: boolean;
}

export class Subscription implements DispatchMember, WindowMember, WriteWaiter {
  private consumer: Consumer | undefined;
  private dispatch: QueueDispatch | undefined;
  private readonly pending = new Map<string, Pending>();
  /** deliveries waiting for a window slot (auto: for the socket), oldest first (bounded by the prefetch) */
  private readonly parked = new Deque<Pending>(4);
  /** queued in the window for a slot (auto: with the session for the socket) */
  private queuedForSlot = false;
  /** window slots this subscription holds */
  private inWindow = 0;
  /** deliveries that arrived before consume() resolved (bounded by the prefetch) */
  private early: Delivery[] | undefined = [];
  private active = true;

  constructor(
    private readonly host: SubscriptionHost,
    readonly spec: SubscriptionSpec,
    private readonly joinDispatch: JoinDispatch | undefined,
  ) {}

  get id(): string {
    return this.spec.id;
  }

  get live(): boolean {
    return this.active;
  }

  get unacked(): number {
    return this.pending.size;
  }

  async start(fabric: FabricSession): Promise<void> {
    const opts = { prefetch: this.spec.prefetch, exclusive: this.spec.exclusive };
    this.consumer = await fabric.consume(this.spec.queue, opts, (d) => (this.early ? this.early.push(d) : this.onDelivery(d)));
    this.dispatch = this.joinDispatch?.(this);
    const early = this.early ?? [];
    this.early = undefined;
    for (const d of early) this.onDelivery(d);
  }

  /** Does this subscription want the message? (queue dispatch asks before handing it over) */
  matches(delivery: Delivery): boolean {
    return this.spec.selector === undefined || this.spec.selector.matches({ headers: this.selectorHeaders(delivery, '') });
  }

  deliver(delivery: Delivery, settler: Settler, foreign: boolean): void {
    if (!this.active) return settler.nack(true);
    if (this.spec.ackMode === 'auto') {
      if (this.parked.length === 0 && this.host.writable) return this.writeAuto(delivery, settler);
      this.parked.push({ delivery, settler, foreign });
      if (!this.queuedForSlot) {
        this.queuedForSlot = true;
        this.host.whenWritable(this);
      }
      return;
    }
    if (this.host.window.tryTake()) return this.write(delivery, settler, foreign);
    this.parked.push({ delivery, settler, foreign });
    if (!this.queuedForSlot) {
      this.queuedForSlot = true;
      this.host.window.wait(this);
    }
  }

  /** WindowMember: the window granted a slot; write the oldest waiting delivery with it */
  takeSlot(): boolean {
    this.queuedForSlot = false;
    const next = this.active ? this.parked.shift() : undefined;
    if (next === undefined) return false;
    if (this.parked.length > 0) {
      this.queuedForSlot = true;
      this.host.window.wait(this);
    }
    this.write(next.delivery, next.settler, next.foreign);
    return true;
  }

  get waitingToWrite(): boolean {
    return this.active && this.parked.length > 0;
  }

  /** WriteWaiter: the socket drained; write the oldest delivery waiting for it */
  writeOne(): boolean {
    const next = this.active ? this.parked.shift() : undefined;
    if (next === undefined) {
      this.queuedForSlot = false;
      return false;
    }
    this.writeAuto(next.delivery, next.settler);
    // the session queues us again while deliveries wait; none left: no longer queued
    if (this.parked.length === 0) this.queuedForSlot = false;
    return true;
  }

  /** ack:auto: write a MESSAGE, ack it to the broker once the socket has taken its bytes */
  private writeAuto(delivery: Delivery, settler: Settler): void {
    const headers = toMessageHeaders(delivery, {
      subscription: this.spec.id,
      messageId: this.host.nextMessageId(this.spec.id),
      ack: undefined,
      destination: this.spec.destinationOverride,
    });
    this.host.delivered();
    this.host.writeMessage(headers, delivery.body, () => settler.ack());
  }

  /** write a client-ack MESSAGE with a window slot already taken */
  private write(delivery: Delivery, settler: Settler, foreign: boolean): void {
    this.inWindow += 1;
    const messageId = this.host.nextMessageId(this.spec.id);
    const headers = toMessageHeaders(delivery, {
      subscription: this.spec.id,
      messageId,
      ack: this.host.version === '1.2' ? messageId : undefined,
      destination: this.spec.destinationOverride,
    });
    this.host.delivered();
    this.pending.set(messageId, { delivery, settler, foreign });
    this.host.track(messageId, this);
    this.host.writeMessage(headers, delivery.body);
  }

  /** ACK: cumulative in client mode (STOMP 1.2 §SUBSCRIBE ack Header); false if unknown */
  ack(ackId: string): boolean {
    return this.settle(ackId, (p) => p.settler.ack());
  }

  nack(ackId: string, requeue: boolean): boolean {
    return this.settle(ackId, (p) => p.settler.nack(requeue));
  }

  /** Stop: unacked own deliveries go back with the consumer; foreign ones are requeued here. */
  async cancel(fabric: FabricSession | undefined, deleteQueue: boolean): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.dispatch?.leave(this);
    for (const [ackId, p] of this.pending) {
      this.host.untrack(ackId);
      if (p.foreign) p.settler.nack(true);
    }
    this.pending.clear();
    for (const p of this.parked.drain()) if (p.foreign) p.settler.nack(true);
    // after `active` is false, late afterWritten callbacks free nothing twice
    const held = this.inWindow;
    this.inWindow = 0;
    this.host.window.release(held);
    await this.consumer?.cancel();
    if (deleteQueue && fabric !== undefined) await fabric.deleteQueue(this.spec.queue).catch(() => undefined);
  }

  private onDelivery(delivery: Delivery): void {
    const consumer = this.consumer as Consumer;
    const settler: Settler = {
      ack: () => consumer.ack(delivery),
      nack: (requeue) => consumer.nack(delivery, { requeue }),
    };
    if (this.dispatch !== undefined) return this.dispatch.route(this, delivery, settler);
    // a topic subscription's queue is its own: what the selector refuses is acked and skipped
    if (!this.matches(delivery)) {
      settler.ack();
      this.host.skipped();
      return;
    }
    this.deliver(delivery, settler, false);
  }

  private settle(ackId: string, apply: (p: Pending) => void): boolean {
    const target = this.pending.get(ackId);
    if (target === undefined) return false;
    let settled = 0;
    if (this.spec.ackMode === 'client') {
      // Map iteration is delivery order: settle everything up to and including the target
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        this.host.untrack(id);
        apply(p);
        settled += 1;
        if (id === ackId) break;
      }
    } else {
      this.pending.delete(ackId);
      this.host.untrack(ackId);
      apply(target);
      settled = 1;
    }
    this.freeSlots(settled);
    return true;
  }

  private freeSlots(n: number): void {
    if (!this.active) return; // cancel() gave them back already
    this.inWindow -= n;
    this.host.window.release(n);
  }

  private selectorHeaders(delivery: Delivery, messageId: string): Record<string, string> {
    return Object.fromEntries(toMessageHeaders(delivery, { subscription: this.spec.id, messageId }));
  }
}
