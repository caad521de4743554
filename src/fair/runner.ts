// One stream in one gateway process: campaigns for the stream's dispatcher post and, while it
// holds it, runs the Dispatcher. Every process runs one of these per stream; one of them leads.
import type { Fabric } from '../fabric/types.js';
import type { Logger } from '../log.js';
import { Dispatcher, type DispatcherStatus } from './dispatcher.js';
import type { FairIngress } from './ingress.js';
import { LeaderElection } from './leader.js';
import { leaderQueue } from './names.js';
import type { StreamPlan } from './plan.js';
import { DispatchStats, type WindowSummary } from './stats.js';
import type { DispatchTuning } from './tuning.js';

export interface StreamRunnerOptions {
  fabric: Fabric;
  plan: StreamPlan;
  ingress: FairIngress;
  tuning: DispatchTuning;
  log: Logger | undefined;
}

export type RunnerStatus = { role: 'leader' | 'standby'; window: WindowSummary; dispatchedTotal: number; dispatcher: DispatcherStatus | null };

export class StreamRunner {
  readonly stats: DispatchStats;
  private readonly election: LeaderElection;
  private dispatcher: Dispatcher | null = null;

  constructor(private readonly opts: StreamRunnerOptions) {
    this.stats = new DispatchStats(opts.tuning.statsWindowMs);
    this.election = new LeaderElection({
      fabric: opts.fabric,
      vhost: opts.plan.vhost,
      queue: leaderQueue(opts.plan.name),
      retryMinMs: opts.tuning.electionRetryMinMs,
      retryMaxMs: opts.tuning.electionRetryMaxMs,
      log: opts.log,
      onElected: async (session) => {
        const openSession = () => opts.fabric.openSession({ vhost: opts.plan.vhost, label: 'fair-intake' });
        const d = new Dispatcher({ session, openSession, plan: opts.plan, ingress: opts.ingress, tuning: opts.tuning, stats: this.stats, log: opts.log });
        this.dispatcher = d;
        try {
          await d.start();
        } catch (err) {
          await d.stop();
          if (this.dispatcher === d) this.dispatcher = null;
          throw err;
        }
        return async () => {
          await d.stop();
          if (this.dispatcher === d) this.dispatcher = null;
        };
      },
    });
  }

  get plan(): StreamPlan {
    return this.opts.plan;
  }

  get isLeader(): boolean {
    return this.election.isLeader;
  }

  start(): void {
    this.election.start();
  }

  stop(): Promise<void> {
    return this.election.stop();
  }

  status(): RunnerStatus {
    const d = this.election.isLeader ? this.dispatcher : null;
    return { role: d === null ? 'standby' : 'leader', window: this.stats.summary(), dispatchedTotal: this.stats.dispatchedTotal, dispatcher: d?.status() ?? null };
  }
}
