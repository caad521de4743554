// FairFabric: any Fabric with the configured fair streams. Sessions it opens publish through
// fair-stream ingress (protocol sessions need no fair-specific code); start() declares every
// stream's shared topology and starts one StreamRunner per stream, which campaigns for the
// stream's dispatcher post. Everything else is the inner fabric's.
import { EventEmitter } from 'node:events';
import type { FairStreamConfig } from '../config/schema.js';
import type { Fabric, FabricEvents, FabricSession, FabricStatus, SessionOwner } from '../fabric/types.js';
import type { Logger } from '../log.js';
import { FairSession } from './fair-session.js';
import { FairIngress } from './ingress.js';
import { fairOutputQueue } from './names.js';
import { planStreams, type StreamPlan } from './plan.js';
import { StreamRunner } from './runner.js';
import { DispatchStats, type WindowSummary } from './stats.js';
import type { BacklogEntry } from './dispatcher.js';
import { declareStreamTopology } from './topology.js';
import { DEFAULT_TUNING, type DispatchTuning } from './tuning.js';

export interface FairFabricOptions {
  streams: readonly FairStreamConfig[];
  /** the vhost of streams that name none */
  defaultVhost?: string;
  log?: Logger;
  /** run dispatchers in this process (default true); false: ingress only */
  dispatch?: boolean;
  /**
   * A fabric of their own for the dispatchers (started and closed with this one), so that their
   * confirms do not queue behind client traffic on shared channels. Default: the inner fabric.
   */
  dispatchFabric?: Fabric;
  tuning?: Partial<DispatchTuning>;
}

export interface FairStreamStatus {
  stream: string;
  vhost: string;
  patterns: readonly string[];
  publisherBy: string;
  outputQueue: string;
  outputQueueLength: number;
  maxPerPublisher: number;
  /** 'leader': this process runs the stream's dispatcher; the figures below are its own */
  role: 'leader' | 'standby';
  publishers: number | null;
  activePublishers: number | null;
  backlogTop: BacklogEntry[];
  dispatchedPerSecond: number;
  dispatchedTotal: number;
  /** Jain's fairness index among backlogged publishers over the window (null: < 2 backlogged) */
  jain: number | null;
  windowMs: number;
  outputFull: boolean;
  /** while the workers are behind: the ready messages the dispatcher keeps in the output queue */
  outputTarget: number | null;
  inFlight: number;
  /** moving average of the dispatcher's confirm time into the output queue, ms */
  outputConfirmMs: number | null;
  intake: { sorted: number; dropped: number } | null;
  /** this process's ingress: messages put into publisher queues, and refused for a full queue */
  ingress: { placed: number; refused: number };
}

interface IngressCounts {
  placed: number;
  refused: number;
}

export class FairFabric extends EventEmitter<FabricEvents> implements Fabric {
  readonly kind: Fabric['kind'];
  readonly ingress: FairIngress;
  readonly plans: readonly StreamPlan[];
  private readonly runners: StreamRunner[];
  private readonly counts = new Map<StreamPlan, IngressCounts>();
  private readonly log: Logger | undefined;
  private started = false;

  constructor(
    readonly inner: Fabric,
    private readonly opts: FairFabricOptions,
  ) {
    super();
    this.kind = inner.kind;
    this.log = opts.log?.child({ component: 'fair' });
    this.plans = planStreams(opts.streams, opts.defaultVhost ?? '/');
    for (const plan of this.plans) this.counts.set(plan, { placed: 0, refused: 0 });
    this.ingress = new FairIngress({
      fabric: inner,
      plans: this.plans,
      log: this.log,
      onPlaced: (plan) => void (this.counts.get(plan) as IngressCounts).placed++,
      onRefused: (plan) => void (this.counts.get(plan) as IngressCounts).refused++,
    });
    const tuning = { ...DEFAULT_TUNING, ...opts.tuning };
    const dispatchFabric = opts.dispatchFabric ?? inner;
    this.runners = opts.dispatch === false ? [] : this.plans.map((plan) => new StreamRunner({ fabric: dispatchFabric, plan, ingress: this.ingress, tuning, log: this.log }));
    inner.on('up', () => this.emit('up'));
    inner.on('down', (reason) => this.emit('down', reason));
    inner.on('blocked', (reason) => this.emit('blocked', reason));
    inner.on('unblocked', () => this.emit('unblocked'));
  }

  async start(): Promise<void> {
    await this.inner.start();
    if (this.opts.dispatchFabric !== undefined && this.runners.length > 0) await this.opts.dispatchFabric.start();
    if (this.started) return;
    this.started = true;
    for (const plan of this.plans) {
      const session = this.inner.openSession({ vhost: plan.vhost, label: 'fair-setup' });
      try {
        await declareStreamTopology(session, plan);
      } finally {
        await session.close().catch(() => undefined);
      }
    }
    for (const runner of this.runners) runner.start();
    this.log?.info({ streams: this.plans.map((p) => p.name), dispatch: this.runners.length > 0 }, 'fair streams ready');
  }

  openSession(owner: SessionOwner): FabricSession {
    return new FairSession(this.inner.openSession(owner), owner, this.ingress);
  }

  status(): FabricStatus {
    return this.inner.status();
  }

  async close(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.stop()));
    if (this.opts.dispatchFabric !== undefined && this.opts.dispatchFabric !== this.inner) await this.opts.dispatchFabric.close();
    await this.inner.close();
  }

  /** names of the configured streams */
  streamNames(): string[] {
    return this.plans.map((p) => p.name);
  }

  /** true while this process runs the dispatcher of `stream` */
  isDispatching(stream: string): boolean {
    return this.runners.find((r) => r.plan.name === stream)?.isLeader ?? false;
  }

  fairStatus(stream: string): FairStreamStatus | undefined {
    const plan = this.plans.find((p) => p.name === stream);
    if (plan === undefined) return undefined;
    const runner = this.runners.find((r) => r.plan === plan);
    const run = runner?.status();
    const window: WindowSummary = run?.window ?? new DispatchStats().summary();
    const d = run?.dispatcher ?? null;
    const by = plan.publisherBy;
    return {
      stream: plan.name,
      vhost: plan.vhost,
      patterns: plan.patterns,
      publisherBy: by.kind === 'header' ? `header:${by.name}` : by.kind,
      outputQueue: fairOutputQueue(plan.name),
      outputQueueLength: plan.outputQueueLength,
      maxPerPublisher: plan.maxPerPublisher,
      role: run?.role ?? 'standby',
      publishers: d?.publishers ?? null,
      activePublishers: d?.activePublishers ?? null,
      backlogTop: d?.backlogTop ?? [],
      dispatchedPerSecond: window.dispatchedPerSecond,
      dispatchedTotal: run?.dispatchedTotal ?? 0,
      jain: window.jain,
      windowMs: window.windowMs,
      outputFull: d?.outputFull ?? false,
      outputTarget: d?.outputTarget ?? null,
      inFlight: d?.inFlight ?? 0,
      outputConfirmMs: d?.outputConfirmMs ?? null,
      intake: d?.intake ?? null,
      ingress: { ...(this.counts.get(plan) as IngressCounts) },
    };
  }
}
