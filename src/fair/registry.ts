// Discovery without the management plugin: which publisher queues a stream has.
//
// Gateways announce a publisher queue (on tributary.fair.announce, key = stream) when they
// declare it, and again every refreshMs while its publisher keeps publishing. Announcements
// collect in the durable queue `<stream>.announced`, so none is lost while no dispatcher runs
// (a gateway restart). The dispatcher keeps the set of known queues, and saves it as the one
// message of `<stream>.registry` (x-max-length 1: a new save replaces the old). It acks an
// announcement only once a save that includes it is confirmed, so a dispatcher that dies
// loses nothing: its successor reads the last save and gets every unsaved announcement again.
import { ErrorCode, isGatewayError } from '../errors.js';
import type { Consumer, Delivery, FabricSession } from '../fabric/types.js';
import type { Logger } from '../log.js';
import { consumeWith } from './consume.js';
import { announcedQueue, registryQueue } from './names.js';
import type { StreamPlan } from './plan.js';
import { parseAnnouncement, type Announcement } from './topology.js';
import type { DispatchTuning } from './tuning.js';

export interface RegistryOptions {
  session: FabricSession;
  plan: StreamPlan;
  tuning: DispatchTuning;
  log: Logger | undefined;
  /** a queue this registry did not know of: start consuming it */
  onFound(a: Announcement): void;
  /** an announcement of a queue already known (the dispatcher may have let it go meanwhile) */
  onAnnounced(a: Announcement): void;
}

export class PublisherRegistry {
  private readonly known = new Map<string, string>();
  private readonly held: { consumer: Consumer; delivery: Delivery }[] = [];
  private consumer: Consumer | null = null;
  private dirty = false;
  private saving: Promise<void> | null = null;
  private lastSavedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private warnedFull = false;
  private readonly prefix: string;

  constructor(private readonly opts: RegistryOptions) {
    this.prefix = `tributary.fair.${opts.plan.name}.`;
  }

  get size(): number {
    return this.known.size;
  }

  has(queue: string): boolean {
    return this.known.has(queue);
  }

  /** read the last save, then take announcements */
  async start(): Promise<void> {
    for (const a of await this.load()) this.add(a);
    const consumer = await consumeWith(this.opts.session, announcedQueue(this.opts.plan.name), { prefetch: this.opts.tuning.announcementPrefetch }, (c, d) =>
      this.onDelivery(c, d),
    );
    this.consumer = consumer;
    if (this.stopped) {
      await consumer.cancel();
      return;
    }
    const every = Math.min(this.opts.tuning.registrySaveMs, this.opts.tuning.registryResaveMs);
    this.timer = setInterval(() => void this.save(false), every);
    this.timer.unref();
    // what was loaded may differ from what is saved (queues over the limit): save once now
    void this.save(true);
  }

  /** false when the stream already has as many publishers as it may */
  add(a: Announcement): boolean {
    if (this.known.has(a.queue)) return true;
    if (this.known.size >= this.opts.tuning.maxPublishersPerStream) {
      if (!this.warnedFull) {
        this.warnedFull = true;
        this.opts.log?.warn({ stream: this.opts.plan.name, limit: this.opts.tuning.maxPublishersPerStream }, 'fair: stream has too many publishers; new publisher queues are not dispatched');
      }
      return false;
    }
    this.known.set(a.queue, a.publisher);
    this.dirty = true;
    this.opts.onFound(a);
    return true;
  }

  forget(queue: string): void {
    if (this.known.delete(queue)) this.dirty = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.save(false).catch(() => undefined);
    // what is still held goes back to the queue for the next dispatcher
    await this.consumer?.cancel().catch(() => undefined);
    this.consumer = null;
  }

  private onDelivery(consumer: Consumer, d: Delivery): void {
    const a = parseAnnouncement(d.body);
    if (a === undefined || !a.queue.startsWith(this.prefix)) {
      consumer.ack(d);
      return;
    }
    if (this.known.has(a.queue)) {
      consumer.ack(d);
      this.opts.onAnnounced(a);
      return;
    }
    this.add(a);
    this.held.push({ consumer, delivery: d });
    if (this.held.length >= this.opts.tuning.announcementPrefetch / 2) void this.save(false);
  }

  private save(force: boolean): Promise<void> {
    if (this.saving !== null) return this.saving;
    const due = this.dirty || this.held.length > 0 || force || Date.now() - this.lastSavedAt >= this.opts.tuning.registryResaveMs;
    if (!due) return Promise.resolve();
    const run = this.write().finally(() => {
      if (this.saving === run) this.saving = null;
    });
    this.saving = run;
    return run;
  }

  private async write(): Promise<void> {
    const acks = this.held.splice(0);
    const entries = [...this.known];
    this.dirty = false;
    try {
      const body = Buffer.from(JSON.stringify({ v: 1, stream: this.opts.plan.name, publishers: entries }));
      await this.opts.session.publish('', registryQueue(this.opts.plan.name), { body, properties: { contentType: 'application/json', deliveryMode: 2 } }, { confirm: true, mandatory: true });
      this.lastSavedAt = Date.now();
      for (const { consumer, delivery } of acks) consumer.ack(delivery);
    } catch (err) {
      this.dirty = true;
      this.held.unshift(...acks);
      if (!this.stopped) this.opts.log?.warn({ stream: this.opts.plan.name, err: String(err) }, 'fair: saving the publisher list failed; will retry');
    }
  }

  private async load(): Promise<Announcement[]> {
    let got: Awaited<ReturnType<FabricSession['get']>>;
    try {
      got = await this.opts.session.get(registryQueue(this.opts.plan.name));
    } catch (err) {
      if (isGatewayError(err, ErrorCode.NOT_FOUND)) return [];
      throw err;
    }
    if (got === null) return [];
    got.settle('requeue');
    try {
      const saved = JSON.parse(got.body.toString('utf8')) as { publishers?: unknown };
      if (!Array.isArray(saved.publishers)) return [];
      const out: Announcement[] = [];
      for (const e of saved.publishers) {
        if (Array.isArray(e) && typeof e[0] === 'string' && typeof e[1] === 'string' && e[0].startsWith(this.prefix)) out.push({ queue: e[0], publisher: e[1] });
      }
      return out;
    } catch {
      this.opts.log?.warn({ stream: this.opts.plan.name }, 'fair: the saved publisher list is unreadable; relying on announcements');
      return [];
    }
  }
}
