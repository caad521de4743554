// Ingress: a publish to amq.topic whose key matches a fair stream also goes into the
// publisher's queue of that stream, by a second publish through the same session (default
// exchange, key = queue name). The client's publish settles when every copy has: with
// `confirm`, only once the broker confirmed both. A nack of the fair copy (its queue is at
// x-max-length with reject-publish) becomes QUOTA_EXCEEDED, for that publisher alone.
//
// Why not RabbitMQ's BCC header (one publish, one confirm)? A nack would not say which queue
// refused it, so a full subscriber queue elsewhere would look like this publisher's quota; the
// embedded fabric would need BCC too; and a publisher queue that expired would swallow the
// copy silently instead of failing the mandatory publish we retry after declaring it again.
//
// Publisher queues are declared on first use and declared again every `refreshMs` while the
// publisher keeps publishing (a declare renews x-expires), each time with an announcement on
// tributary.fair.announce so that the dispatcher, wherever it runs, consumes the queue.
import { ErrorCode, GatewayError, isGatewayError } from '../errors.js';
import type { Fabric, FabricMessage, FabricSession, Headers, PublishOptions, SessionOwner } from '../fabric/types.js';
import type { Logger } from '../log.js';
import { sessionPublisher } from './identity.js';
import { ANNOUNCE_EXCHANGE, FairHeader, publisherQueue } from './names.js';
import { StreamMatcher, type StreamPlan } from './plan.js';
import { announcementMessage, publisherQueueOptions } from './topology.js';

export interface IngressOptions {
  fabric: Fabric;
  plans: readonly StreamPlan[];
  log?: Logger;
  now?: () => number;
  /** publisher queues this process remembers having declared (least recently used go first) */
  cacheSize?: number;
  /** a message went into a publisher queue */
  onPlaced?: (plan: StreamPlan, publisher: string) => void;
  /** a publish was refused because the publisher's queue was full */
  onRefused?: (plan: StreamPlan, publisher: string) => void;
}

export interface PlaceOptions extends PublishOptions {
  /** called when a 'wait' publish finds the queue full, with a promise that settles when it got in */
  onStall?: (untilRoom: Promise<void>) => void;
}

interface Declared {
  declaredAt: number;
  /** a declare (+ announcement) in progress: the first one blocks publishes, a refresh does not */
  pending: Promise<void> | null;
  blocking: boolean;
}

const WAIT_FIRST_MS = 20;
const WAIT_MAX_MS = 1_000;

export class FairIngress {
  readonly matcher: StreamMatcher;
  private readonly declared = new Map<string, Declared>();
  private readonly now: () => number;
  private readonly cacheSize: number;
  private readonly warnedInequivalent = new Set<string>();

  constructor(private readonly opts: IngressOptions) {
    this.matcher = new StreamMatcher(opts.plans);
    this.now = opts.now ?? Date.now;
    this.cacheSize = opts.cacheSize ?? 10_000;
  }

  /** publish as `owner` through `session`: the normal route plus a copy per matching stream */
  publish(session: FabricSession, owner: SessionOwner, exchange: string, routingKey: string, message: FabricMessage, opts: PlaceOptions = {}): Promise<void> {
    const { onStall: _onStall, whenFull: _whenFull, ...publishOpts } = opts;
    if (exchange !== 'amq.topic') return session.publish(exchange, routingKey, message, publishOpts);
    const streams = this.matcher.matching(session.vhost, routingKey);
    if (streams.length === 0) return session.publish(exchange, routingKey, message, publishOpts);
    const marked = streams.some((p) => p.amqpIntake) ? withHeaders(message, { [FairHeader.PLACED]: 'placed' }) : message;
    const copies = streams.map((plan) => {
      const publisher = sessionPublisher(plan.publisherBy, owner, message.properties.headers);
      return this.place(session, plan, publisher, routingKey, message, opts);
    });
    return Promise.all([session.publish(exchange, routingKey, marked, publishOpts), ...copies]).then(() => undefined);
  }

  /** put one message into `publisher`'s queue of `plan` (also used by the intake sorter) */
  async place(session: FabricSession, plan: StreamPlan, publisher: string, routingKey: string, message: FabricMessage, opts: PlaceOptions = {}): Promise<void> {
    const queue = publisherQueue(plan.name, publisher);
    const copy = withHeaders(message, { [FairHeader.PUBLISHER]: publisher, [FairHeader.ROUTING_KEY]: routingKey });
    const confirm = opts.confirm === true;
    let ready = this.ensureDeclared(plan, queue, publisher);
    if (ready.blocking) await ready.pending;
    let redeclared = false;
    let waitMs = WAIT_FIRST_MS;
    let stalled: { resolve(): void; reject(err: unknown): void } | undefined;
    try {
      for (;;) {
        try {
          await session.publish('', queue, copy, { confirm, mandatory: confirm });
          break;
        } catch (err) {
          if (isGatewayError(err, ErrorCode.UNROUTABLE) && !redeclared) {
            // the queue expired or was deleted since this process last declared it
            redeclared = true;
            this.declared.delete(queue);
            ready = this.ensureDeclared(plan, queue, publisher);
            await ready.pending;
            continue;
          }
          if (!isGatewayError(err, ErrorCode.PUBLISH_NACKED)) throw err;
          if (stalled === undefined) this.opts.onRefused?.(plan, publisher);
          if (opts.whenFull !== 'wait') throw quotaExceeded(plan, publisher);
          stalled ??= this.stall(opts);
          await delay(waitMs);
          waitMs = Math.min(WAIT_MAX_MS, waitMs * 2);
        }
      }
    } catch (err) {
      stalled?.reject(err);
      throw err;
    }
    stalled?.resolve();
    this.opts.onPlaced?.(plan, publisher);
    // a confirmed publish implies its queue is announced, so a dispatcher will find it
    if (confirm && ready.pending !== null) await ready.pending;
  }

  private stall(opts: PlaceOptions): { resolve(): void; reject(err: unknown): void } {
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const untilRoom = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    untilRoom.catch(() => undefined);
    opts.onStall?.(untilRoom);
    return { resolve, reject };
  }

  /**
   * Declared recently by this process: publish at once (refreshing in the background when due).
   * Never declared, or long ago (it may have expired since): declare and announce first.
   */
  private ensureDeclared(plan: StreamPlan, queue: string, publisher: string): { pending: Promise<void> | null; blocking: boolean } {
    const now = this.now();
    const known = this.declared.get(queue);
    if (known !== undefined) {
      this.declared.delete(queue);
      this.declared.set(queue, known); // most recently used last
      if (known.pending !== null) return { pending: known.pending, blocking: known.blocking };
      // x-expires counts from the last use, and a declare is a use: half the expiry is safe
      if (now - known.declaredAt < plan.idleExpiryMs / 2) {
        if (now - known.declaredAt < plan.refreshMs) return { pending: null, blocking: false };
        known.declaredAt = now;
        this.track(known, this.declareAndAnnounce(plan, queue, publisher), false, queue);
        return { pending: known.pending, blocking: false };
      }
    }
    const entry: Declared = { declaredAt: now, pending: null, blocking: true };
    this.declared.set(queue, entry);
    this.evictBeyondLimit();
    this.track(entry, this.declareAndAnnounce(plan, queue, publisher), true, queue);
    return { pending: entry.pending, blocking: true };
  }

  private track(entry: Declared, work: Promise<void>, blocking: boolean, queue: string): void {
    entry.blocking = blocking;
    const pending = work.then(
      () => {
        if (entry.pending === pending) entry.pending = null;
      },
      (err: unknown) => {
        if (entry.pending === pending) entry.pending = null;
        if (this.declared.get(queue) === entry) this.declared.delete(queue);
        if (!blocking) this.opts.log?.warn({ queue, err: String(err) }, 'fair: refreshing a publisher queue failed; the next publish declares it again');
        throw err;
      },
    );
    // a background refresh is awaited only by confirmed publishes; never unhandled
    pending.catch(() => undefined);
    entry.pending = pending;
  }

  private async declareAndAnnounce(plan: StreamPlan, queue: string, publisher: string): Promise<void> {
    // a short-lived session, so that no client session's topology record keeps publisher queues
    const session = this.opts.fabric.openSession({ vhost: plan.vhost, label: 'fair-declare' });
    try {
      try {
        await session.declareQueue(queue, publisherQueueOptions(plan));
      } catch (err) {
        if (!isGatewayError(err, ErrorCode.PRECONDITION_FAILED)) throw err;
        // declared earlier with other limits (the config changed): use it as it is until it expires
        if (!this.warnedInequivalent.has(queue) && this.warnedInequivalent.size < 1000) {
          this.warnedInequivalent.add(queue);
          this.opts.log?.warn({ stream: plan.name, queue, err: err.detail ?? err.message }, 'fair: publisher queue exists with other arguments; using it as it is');
        }
        await session.checkQueue(queue);
      }
      await session.publish(ANNOUNCE_EXCHANGE, plan.name, announcementMessage({ queue, publisher }), { confirm: true });
    } finally {
      await session.close().catch(() => undefined);
    }
  }

  private evictBeyondLimit(): void {
    while (this.declared.size > this.cacheSize) {
      const oldest = this.declared.keys().next().value as string;
      this.declared.delete(oldest);
    }
  }
}

export function withHeaders(message: FabricMessage, extra: Headers): FabricMessage {
  return { body: message.body, properties: { ...message.properties, headers: { ...message.properties.headers, ...extra } } };
}

function quotaExceeded(plan: StreamPlan, publisher: string): GatewayError {
  return new GatewayError(ErrorCode.QUOTA_EXCEEDED, undefined, {
    detail: `fair stream '${plan.name}': the queue of publisher '${publisher}' is full (${plan.maxPerPublisher} messages)`,
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
