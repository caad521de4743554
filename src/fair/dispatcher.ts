// The dispatcher of one stream (run only by the elected leader): consumes every publisher
// queue with a small prefetch, and moves messages by deficit round robin into the stream's
// bounded output queue. A message is acked from its publisher queue only once the broker has
// confirmed it into the output queue, so a dispatcher that dies loses nothing (at-least-once).
//
// The output queue is x-max-length + reject-publish: when it is full the broker nacks. The
// dispatcher then gives the message back to the head of its publisher's flow and sends only
// into room it has seen (output-gate.ts). (A refused message can be overtaken by a later one of
// the same publisher that found room a moment after: at-least-once order, as after a requeue.)
//
// A publisher queue the dispatcher has had nothing from for parkAfterMs is let go: its
// consumer is cancelled, so that its x-expires can run, and it is forgotten unless it still
// holds messages. Its publisher's next message comes with an announcement (see ingress.ts),
// which brings the dispatcher back.
import { performance } from 'node:perf_hooks';
import { ErrorCode, isGatewayError } from '../errors.js';
import type { Consumer, Delivery, FabricSession } from '../fabric/types.js';
import type { Logger } from '../log.js';
import { consumeWith } from './consume.js';
import { DeficitRoundRobin } from './drr.js';
import type { FairIngress } from './ingress.js';
import { IntakeSorter } from './intake.js';
import { fairOutputQueue } from './names.js';
import { OutputGate } from './output-gate.js';
import type { StreamPlan } from './plan.js';
import { PublisherRegistry } from './registry.js';
import type { DispatchStats } from './stats.js';
import { declareStreamTopology, outputQueueOptions, type Announcement } from './topology.js';
import { prefetchFor, type DispatchTuning } from './tuning.js';

export interface DispatcherOptions {
  session: FabricSession;
  /** a session for the intake sorter, so that sorting and dispatching do not share a channel */
  openSession?: () => FabricSession;
  plan: StreamPlan;
  ingress: FairIngress;
  tuning: DispatchTuning;
  stats: DispatchStats;
  log: Logger | undefined;
  now?: () => number;
}

interface Source {
  readonly queue: string;
  readonly publisher: string;
  readonly weight: number;
  state: 'subscribing' | 'consuming' | 'parking';
  consumer: Consumer | null;
  /** last delivery, or when the consumer started */
  lastSeenAt: number;
  /** deliveries not yet acked (queued in the scheduler or being published) */
  held: number;
  /** announced again while subscribing or parking: consume it even if it looks empty */
  wanted: boolean;
  retryTimer: NodeJS.Timeout | null;
}

interface Pending {
  source: Source;
  consumer: Consumer;
  delivery: Delivery;
  /** the order the dispatcher received it in; a refused message goes back to its place */
  seq: number;
  /** when its publish into the output queue started (performance.now()) */
  sentAt: number;
}

export interface BacklogEntry {
  publisher: string;
  queue: string;
  messages: number;
}

export interface DispatcherStatus {
  publishers: number;
  activePublishers: number;
  inFlight: number;
  /** the dispatcher knows of no room in the output queue (it is metering, and waiting for room) */
  outputFull: boolean;
  /** while metering: ready messages it aims to keep in the output queue */
  outputTarget: number | null;
  outputRefusals: number;
  held: number;
  /** moving average of the time from publish to confirm into the output queue, ms */
  outputConfirmMs: number;
  backlogTop: BacklogEntry[];
  intake: { sorted: number; dropped: number } | null;
}

export class Dispatcher {
  private readonly sources = new Map<string, Source>();
  private readonly drr: DeficitRoundRobin<string, Pending>;
  private readonly registry: PublisherRegistry;
  private readonly intake: IntakeSorter | null;
  private readonly intakeSession: FabricSession | null;
  private readonly outQueue: string;
  private readonly now: () => number;
  private readonly depth = new Map<string, number>();
  private readonly gate: OutputGate;
  private inFlight = 0;
  private confirmMs = 0;
  private paused: NodeJS.Timeout | null = null;
  private redeclaring = false;
  private seq = 0;
  private lastErrorLog = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private pollCursor = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: DispatcherOptions) {
    this.outQueue = fairOutputQueue(opts.plan.name);
    this.now = opts.now ?? Date.now;
    this.drr = new DeficitRoundRobin<string, Pending>({
      order: (p) => p.seq,
      onCutOff: (queue) => {
        const s = this.sources.get(queue);
        if (s !== undefined) opts.stats.cutOff(s.publisher);
      },
    });
    this.gate = new OutputGate({
      session: opts.session,
      queue: this.outQueue,
      length: opts.plan.outputQueueLength,
      window: opts.tuning.outputWindow,
      minWaitMs: opts.tuning.fullRetryMinMs,
      maxWaitMs: opts.tuning.fullRetryMaxMs,
      inFlight: () => this.inFlight,
      confirmMs: () => this.confirmMs,
      onChange: () => this.pump(),
      onError: (err) => this.logError(err, 'fair: cannot check the output queue'),
    });
    this.registry = new PublisherRegistry({
      session: opts.session,
      plan: opts.plan,
      tuning: opts.tuning,
      log: opts.log,
      onFound: (a) => this.watch(a),
      onAnnounced: (a) => this.announcedAgain(a),
    });
    this.intakeSession = opts.plan.amqpIntake ? (opts.openSession?.() ?? null) : null;
    this.intake = opts.plan.amqpIntake
      ? new IntakeSorter({ session: this.intakeSession ?? opts.session, plan: opts.plan, ingress: opts.ingress, tuning: opts.tuning, log: opts.log, onDropped: () => undefined })
      : null;
  }

  async start(): Promise<void> {
    // idempotent; again here in case someone deleted a queue since the gateway started
    await declareStreamTopology(this.opts.session, this.opts.plan);
    await this.registry.start();
    await this.intake?.start();
    const sweepEvery = Math.max(50, Math.floor(this.opts.plan.parkAfterMs / 3));
    this.sweepTimer = setInterval(() => this.sweep(), sweepEvery);
    this.sweepTimer.unref();
    this.pollTimer = setInterval(() => void this.pollBacklog(), this.opts.tuning.backlogPollMs);
    this.pollTimer.unref();
  }

  /** stop dispatching; what is not confirmed into the output queue goes back to its publisher queue */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [this.sweepTimer, this.pollTimer]) if (t !== null) clearInterval(t);
    if (this.paused !== null) clearTimeout(this.paused);
    this.gate.stop();
    for (const s of this.sources.values()) if (s.retryTimer !== null) clearTimeout(s.retryTimer);
    await this.idle(this.opts.tuning.stopTimeoutMs);
    await this.intake?.stop();
    await this.intakeSession?.close().catch(() => undefined);
    await this.registry.stop();
    await Promise.all([...this.sources.values()].map((s) => s.consumer?.cancel().catch(() => undefined)));
  }

  status(): DispatcherStatus {
    let held = 0;
    for (const s of this.sources.values()) held += s.held;
    return {
      publishers: this.sources.size,
      activePublishers: this.drr.activeFlows,
      inFlight: this.inFlight,
      outputFull: this.gate.full,
      outputTarget: this.gate.target,
      outputRefusals: this.gate.refusals,
      held,
      outputConfirmMs: Math.round(this.confirmMs * 10) / 10,
      backlogTop: this.backlogTop(),
      intake: this.intake === null ? null : { sorted: this.intake.sorted, dropped: this.intake.dropped },
    };
  }

  // ---- publisher queues ------------------------------------------------------------------

  private watch(a: Announcement): void {
    if (this.stopped || this.sources.has(a.queue)) return;
    const weight = this.opts.plan.weights.get(a.publisher) ?? 1;
    const source: Source = { queue: a.queue, publisher: a.publisher, weight, state: 'subscribing', consumer: null, lastSeenAt: this.now(), held: 0, wanted: false, retryTimer: null };
    this.sources.set(a.queue, source);
    this.drr.setWeight(a.queue, weight);
    void this.subscribe(source);
  }

  private announcedAgain(a: Announcement): void {
    const s = this.sources.get(a.queue);
    if (s === undefined) this.watch(a);
    else if (s.state !== 'consuming') s.wanted = true;
  }

  private async subscribe(s: Source): Promise<void> {
    s.state = 'subscribing';
    s.wanted = false;
    try {
      const consumer = await consumeWith(this.opts.session, s.queue, { prefetch: prefetchFor(this.opts.tuning, s.weight, this.sources.size) }, (c, d) => this.received(s, c, d));
      if (this.stopped) {
        await consumer.cancel();
        return;
      }
      s.consumer = consumer;
      s.state = 'consuming';
      s.lastSeenAt = this.now();
    } catch (err) {
      if (this.stopped) return;
      if (isGatewayError(err, ErrorCode.NOT_FOUND)) {
        this.forget(s); // expired (or deleted) before we got to it: nothing in it
        return;
      }
      this.logError(err, 'fair: cannot consume a publisher queue; retrying');
      s.retryTimer = setTimeout(() => {
        s.retryTimer = null;
        if (!this.stopped && this.sources.get(s.queue) === s) void this.subscribe(s);
      }, this.opts.tuning.errorRetryMs);
    }
  }

  private received(s: Source, consumer: Consumer, delivery: Delivery): void {
    s.held++;
    s.lastSeenAt = this.now();
    this.drr.enqueue(s.queue, { source: s, consumer, delivery, seq: ++this.seq, sentAt: 0 });
    this.pump();
  }

  private sweep(): void {
    const now = this.now();
    for (const s of this.sources.values()) {
      if (s.state === 'consuming' && s.held === 0 && now - s.lastSeenAt >= this.opts.plan.parkAfterMs) void this.park(s);
    }
  }

  /** let an idle publisher queue go, unless it turns out to hold messages after all */
  private async park(s: Source): Promise<void> {
    s.state = 'parking';
    const consumer = s.consumer;
    s.consumer = null;
    await consumer?.cancel().catch(() => undefined);
    if (this.stopped) return;
    let messages: number;
    try {
      messages = (await this.opts.session.checkQueue(s.queue)).messageCount;
    } catch (err) {
      if (isGatewayError(err, ErrorCode.NOT_FOUND)) return this.forget(s);
      messages = 1; // unsure: keep consuming
    }
    if (this.stopped) return;
    if (messages > 0 || s.wanted || s.held > 0) void this.subscribe(s);
    else this.forget(s);
  }

  private forget(s: Source): void {
    if (this.sources.get(s.queue) !== s) return;
    this.sources.delete(s.queue);
    this.depth.delete(s.queue);
    this.drr.remove(s.queue);
    this.registry.forget(s.queue);
  }

  // ---- into the output queue -------------------------------------------------------------

  private pump(): void {
    if (this.stopped || this.paused !== null || this.redeclaring) return;
    for (let allowed = this.gate.allowance(this.inFlight); allowed > 0; allowed--) {
      const next = this.schedule();
      if (next === undefined) return;
      this.gate.took();
      this.send(next);
    }
  }

  private schedule(): Pending | undefined {
    return this.drr.dequeue()?.item;
  }

  private send(p: Pending): void {
    this.inFlight++;
    p.sentAt = performance.now();
    const message = { body: p.delivery.body, properties: p.delivery.properties };
    this.opts.session.publish('', this.outQueue, message, { confirm: true, mandatory: true }).then(
      () => this.sent(p),
      (err: unknown) => this.refused(p, err),
    );
  }

  private sent(p: Pending): void {
    this.inFlight--;
    this.confirmMs += (performance.now() - p.sentAt - this.confirmMs) / 64;
    p.consumer.ack(p.delivery);
    p.source.held--;
    p.source.lastSeenAt = this.now();
    this.opts.stats.dispatched(p.source.publisher, p.source.weight);
    this.gate.confirmed();
    this.notifyIdle();
    this.pump();
  }

  private refused(p: Pending, err: unknown): void {
    this.inFlight--;
    this.notifyIdle();
    if (this.stopped) return; // unacked: requeued when its consumer is cancelled
    this.drr.returnFront(p.source.queue, p);
    if (isGatewayError(err, ErrorCode.PUBLISH_NACKED)) {
      this.gate.refused();
      return;
    }
    this.gate.settled();
    if (isGatewayError(err, ErrorCode.UNROUTABLE)) {
      void this.redeclareOutput();
      return;
    }
    this.logError(err, 'fair: publishing into the output queue failed; retrying');
    if (this.paused === null) this.pauseFor(this.opts.tuning.errorRetryMs);
  }

  /** the output queue was deleted under us: declare it again, then go on */
  private async redeclareOutput(): Promise<void> {
    if (this.redeclaring) return;
    this.redeclaring = true;
    try {
      await this.opts.session.declareQueue(this.outQueue, outputQueueOptions(this.opts.plan));
    } catch (err) {
      this.logError(err, 'fair: cannot declare the output queue again');
      if (this.paused === null) this.pauseFor(this.opts.tuning.errorRetryMs);
    } finally {
      this.redeclaring = false;
    }
    this.pump();
  }

  private pauseFor(ms: number): void {
    this.paused = setTimeout(() => {
      this.paused = null;
      this.pump();
    }, ms);
  }

  private idle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private notifyIdle(): void {
    if (this.inFlight !== 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  // ---- metrics ---------------------------------------------------------------------------

  /** queue depths, polled at a bounded rate: backlogged publishers first, then the rest in turn */
  private async pollBacklog(): Promise<void> {
    const all = [...this.sources.values()].filter((s) => s.state === 'consuming');
    if (all.length === 0) return;
    const busy = all.filter((s) => s.held > 0);
    const rest = all.filter((s) => s.held === 0);
    const picked = busy.slice(0, this.opts.tuning.backlogPollMax);
    for (let i = 0; picked.length < this.opts.tuning.backlogPollMax && i < rest.length; i++) {
      picked.push(rest[(this.pollCursor + i) % rest.length] as Source);
    }
    this.pollCursor = rest.length === 0 ? 0 : (this.pollCursor + this.opts.tuning.backlogPollMax) % rest.length;
    for (const s of picked) {
      if (this.stopped) return;
      try {
        const info = await this.opts.session.checkQueue(s.queue);
        this.depth.set(s.queue, info.messageCount + s.held);
      } catch {
        this.depth.delete(s.queue);
      }
    }
  }

  private backlogTop(): BacklogEntry[] {
    const entries: BacklogEntry[] = [];
    for (const s of this.sources.values()) {
      const messages = Math.max(this.depth.get(s.queue) ?? 0, s.held);
      if (messages > 0) entries.push({ publisher: s.publisher, queue: s.queue, messages });
    }
    return entries.sort((a, b) => b.messages - a.messages).slice(0, this.opts.tuning.backlogTopN);
  }

  private logError(err: unknown, msg: string): void {
    const now = this.now();
    if (now - this.lastErrorLog < 5_000) return;
    this.lastErrorLog = now;
    this.opts.log?.warn({ stream: this.opts.plan.name, err: String(err) }, msg);
  }
}
