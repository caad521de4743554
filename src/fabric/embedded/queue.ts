// One embedded queue: ready messages in order, its consumers served round-robin, and the
// policies RabbitMQ applies to a classic queue (message TTL, max length + overflow, expiry
// when unused, auto-delete, dead-lettering).
//
// Memory: a queue holds what its limits allow. Without x-max-length (or a TTL) it grows
// with its backlog, exactly as a RabbitMQ queue does; set limits on queues that can back up.
import type { Headers } from '../types.js';
import { Deque } from '../../util/deque.js';
import type { DeathReason, QueuedMessage, RoutedMessage } from './message.js';
import type { QueuePolicy } from './queue-args.js';

/** what the queue needs from whoever holds it (the vhost) */
export interface QueueHost {
  deadLetter(queue: Queue, messages: QueuedMessage[], reason: DeathReason): void;
  /** x-expires ran out, or auto-delete lost its last consumer */
  retire(queue: Queue): void;
}

/** the queue's view of a consumer */
export interface Subscriber {
  readonly tag: string;
  readonly exclusive: boolean;
  hasCapacity(): boolean;
  take(message: QueuedMessage): void;
  /** the queue was deleted under it */
  queueDeleted(): void;
}

export interface QueueShape {
  durable: boolean;
  autoDelete: boolean;
  /** id of the owning session, or null */
  exclusiveOwner: string | null;
  arguments: Headers;
}

export type EnqueueResult = 'queued' | 'rejected';

export class Queue {
  private readonly ready = new Deque<QueuedMessage>();
  private readonly subscribers: Subscriber[] = [];
  private roundRobin = 0;
  private nextSeq = 0;
  private dispatching = false;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt = Infinity;
  private idleTimer: NodeJS.Timeout | undefined;
  deleted = false;

  constructor(
    readonly name: string,
    readonly shape: QueueShape,
    readonly policy: QueuePolicy,
    private readonly host: QueueHost,
  ) {
    this.touch();
  }

  get messageCount(): number {
    return this.ready.length;
  }

  get consumerCount(): number {
    return this.subscribers.length;
  }

  get hasExclusiveConsumer(): boolean {
    return this.subscribers.some((s) => s.exclusive);
  }

  enqueue(routed: RoutedMessage, ttl: number | undefined, now: number): EnqueueResult {
    const message: QueuedMessage = {
      exchange: routed.exchange,
      routingKey: routed.routingKey,
      body: routed.body,
      properties: routed.properties,
      seq: this.nextSeq++,
      expiresAt: this.expiryFor(ttl, now),
      redelivered: false,
    };
    if (this.ready.length === 0) {
      const s = this.pickSubscriber();
      if (s !== undefined) {
        s.take(message);
        return 'queued';
      }
      // TTL 0: deliverable only to a consumer that is ready right now
      if (message.expiresAt <= now) {
        this.host.deadLetter(this, [message], 'expired');
        return 'queued';
      }
    }
    return this.enqueueReady(message, now);
  }

  private enqueueReady(message: QueuedMessage, now: number): EnqueueResult {
    const max = this.policy.maxLength;
    let dropped: QueuedMessage[] = [];
    if (max !== undefined && this.ready.length >= max) {
      this.expireHead(now);
      if (this.ready.length >= max) {
        if (this.policy.overflow === 'reject-publish') return 'rejected';
        if (this.policy.overflow === 'reject-publish-dlx') {
          this.host.deadLetter(this, [message], 'maxlen');
          return 'rejected';
        }
        while (this.ready.length > 0 && this.ready.length >= max) dropped.push(this.ready.shift() as QueuedMessage);
      }
    }
    if (max === 0) dropped = [...dropped, message];
    else this.ready.push(message);
    if (dropped.length > 0) this.host.deadLetter(this, dropped, 'maxlen');
    this.dispatch();
    return 'queued';
  }

  /** put messages back in their original places (RabbitMQ classic queues do the same) */
  requeue(messages: QueuedMessage[]): void {
    if (this.deleted) return;
    for (const m of messages) this.ready.insertOrdered(m, seqOf);
    this.dispatch();
  }

  /** settled without requeue: dead-letter with reason 'rejected' */
  reject(messages: QueuedMessage[]): void {
    if (this.deleted || messages.length === 0) return;
    this.host.deadLetter(this, messages, 'rejected');
  }

  /** a consumer freed capacity */
  capacityFreed(): void {
    if (this.ready.length > 0) this.dispatch();
  }

  addSubscriber(s: Subscriber): void {
    this.subscribers.push(s);
    this.clearIdleTimer();
    this.dispatch();
  }

  removeSubscriber(s: Subscriber): void {
    const i = this.subscribers.indexOf(s);
    if (i < 0) return;
    this.subscribers.splice(i, 1);
    if (this.roundRobin > i) this.roundRobin--;
    if (this.subscribers.length > 0) return;
    if (this.shape.autoDelete) this.host.retire(this);
    else this.touch();
  }

  /** basic.get */
  take(now: number): QueuedMessage | undefined {
    this.touch();
    this.expireHead(now);
    const m = this.ready.shift();
    this.scheduleExpiry();
    return m;
  }

  purge(): number {
    const n = this.ready.length;
    this.ready.drain();
    this.scheduleExpiry();
    return n;
  }

  /** the queue is in use (declared, fetched from): restarts x-expires when it has no consumers */
  touch(): void {
    const expires = this.policy.expires;
    if (expires === undefined || this.deleted || this.subscribers.length > 0) return;
    this.clearIdleTimer();
    this.idleTimer = setTimeout(() => this.host.retire(this), expires);
    this.idleTimer.unref();
  }

  /** mark deleted, drop messages, tell consumers; returns how many ready messages went */
  destroy(): number {
    this.deleted = true;
    this.clearIdleTimer();
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    const n = this.ready.length;
    this.ready.drain();
    for (const s of this.subscribers.splice(0)) s.queueDeleted();
    return n;
  }

  dispatch(): void {
    if (this.dispatching || this.deleted) return;
    this.dispatching = true;
    try {
      const now = Date.now();
      while (this.ready.length > 0) {
        this.expireHead(now);
        if (this.ready.length === 0) break;
        const s = this.pickSubscriber();
        if (s === undefined) break;
        s.take(this.ready.shift() as QueuedMessage);
      }
    } finally {
      this.dispatching = false;
    }
    this.scheduleExpiry();
  }

  private expiryFor(ttl: number | undefined, now: number): number {
    const q = this.policy.messageTtl;
    const t = q === undefined ? ttl : ttl === undefined ? q : Math.min(q, ttl);
    return t === undefined ? Infinity : now + t;
  }

  /** drop expired messages at the head; like RabbitMQ, only the head is examined */
  private expireHead(now: number): void {
    let expired: QueuedMessage[] | undefined;
    for (let head = this.ready.peek(); head !== undefined && head.expiresAt <= now; head = this.ready.peek()) {
      (expired ??= []).push(this.ready.shift() as QueuedMessage);
    }
    if (expired !== undefined) this.host.deadLetter(this, expired, 'expired');
  }

  private scheduleExpiry(): void {
    const head = this.ready.peek();
    const at = head === undefined || this.deleted ? Infinity : head.expiresAt;
    if (at === this.expiryAt) return;
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryAt = at;
    if (at === Infinity) return;
    this.expiryTimer = setTimeout(this.onExpiryTimer, Math.max(0, at - Date.now()));
    this.expiryTimer.unref();
  }

  private readonly onExpiryTimer = (): void => {
    this.expiryTimer = undefined;
    this.expiryAt = Infinity;
    this.expireHead(Date.now());
    this.dispatch();
  };

  private pickSubscriber(): Subscriber | undefined {
    const n = this.subscribers.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.roundRobin + i) % n;
      const s = this.subscribers[idx] as Subscriber;
      if (s.hasCapacity()) {
        this.roundRobin = (idx + 1) % n;
        return s;
      }
    }
    return undefined;
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }
}

function seqOf(m: QueuedMessage): number {
  return m.seq;
}
