// How many publishes into the output queue the dispatcher may start now.
//
// The gate asks the broker how many messages are ready (x-max-length counts ready messages
// only) and lets through no more than the workers need to stay busy — about two refill round
// trips' worth at the rate they drain the queue (measured between checks), at least one, at most
// the queue's length — less what is in flight. A quiet publisher's message then finds a few
// messages ahead of it in the output queue, not a full queue. It starts from a target of one and
// grows with the measured drain rate, doubling while the workers empty the queue faster than the
// credit refills it (slow start), so it never fills the queue first and learns afterwards: that first fill is what a quiet
// publisher waited behind, for outputQueueLength / worker rate, when the gate used to start
// "open" and meter only after the broker's first refusal.
//
// When the ready messages are above the target the next check comes when the workers should
// have made room; while the queue stays full (the broker refused a publish, or a check found it
// at x-max-length) it asks every 2 ms for the first 50 ms, then backs off to every 50 ms
// (workers that stopped). Refusals are rare, so the scheduler's round-robin choices stand.
//
// Little's law still sets the ceiling: at most `length` messages are ready or in flight, so the
// output queue moves at most length / (confirm round trip) messages a second.
import { performance } from 'node:perf_hooks';
import type { FabricSession } from '../fabric/types.js';

export interface OutputGateOptions {
  session: FabricSession;
  queue: string;
  /** the queue's x-max-length */
  length: number;
  window: number;
  minWaitMs: number;
  maxWaitMs: number;
  /** publishes started and not yet settled */
  inFlight(): number;
  /** the dispatcher's average confirm time into the queue, ms */
  confirmMs(): number;
  /** the allowance may have grown: pump */
  onChange(): void;
  onError(err: unknown): void;
}

/** checks at the shortest interval before backing off */
const FAST_CHECKS = 25;
/** slow start grows the target to at most this many times the measured need */
const SLOW_START_CAP = 4;
/** weight of a new measurement in the moving averages */
const ALPHA = 0.3;

export class OutputGate {
  private credit = 0;
  private fullChecks = 0;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  /** the last check found the room taken by our own publishes in flight: check again as they settle */
  private awaitingSettle = false;
  private stopped = false;
  /** the credit of the last check was used up: demand, not supply, limited what went in */
  private exhausted = false;
  // drain-rate measurement between checks
  private lastCheckAt = 0;
  private readyAtLastCheck = 0;
  private confirmedSinceCheck = 0;
  private drainPerMs = 0;
  private checkMs = 0;
  refusals = 0;
  checks = 0;
  /** ready messages the gate aims for */
  target = 1;

  constructor(private readonly o: OutputGateOptions) {}

  /** the last check found the queue at its length, and no room has been seen since */
  get full(): boolean {
    return this.credit === 0 && this.fullChecks > 0;
  }

  allowance(inFlight: number): number {
    if (this.credit === 0 && !this.awaitingSettle) this.checkSoon(0);
    const window = Math.max(0, Math.min(this.o.window, this.o.length) - inFlight);
    return Math.min(this.credit, window);
  }

  /** a publish was started */
  took(): void {
    if (this.credit > 0) this.credit--;
    if (this.credit === 0) {
      this.exhausted = true;
      this.checkSoon(0);
    }
  }

  /** a publish was confirmed into the queue */
  confirmed(): void {
    this.confirmedSinceCheck++;
    this.settled();
  }

  /** a publish settled without getting in */
  settled(): void {
    if (this.awaitingSettle && this.credit === 0) {
      this.awaitingSettle = false;
      this.checkSoon(0);
    }
  }

  /** the broker refused a publish: the queue is full */
  refused(): void {
    this.refusals++;
    this.credit = 0;
    this.checkSoon(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private checkSoon(waitMs: number): void {
    if (this.timer !== null || this.checking || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check();
    }, waitMs);
  }

  private async check(): Promise<void> {
    this.checking = true;
    this.checks++;
    const started = performance.now();
    let ready: number | undefined;
    try {
      ready = (await this.o.session.checkQueue(this.o.queue)).messageCount;
    } catch (err) {
      this.o.onError(err);
    } finally {
      this.checking = false;
    }
    if (this.stopped) return;
    if (ready === undefined) return this.checkSoon(this.o.maxWaitMs);
    this.measure(ready, started);
    if (ready >= this.o.length) {
      // full: the workers are behind (ask again soon) or stopped (ask less and less often)
      this.fullChecks++;
      const backoff = this.fullChecks - FAST_CHECKS;
      return this.checkSoon(backoff < 0 ? this.o.minWaitMs : Math.min(this.o.maxWaitMs, this.o.minWaitMs * 2 ** (backoff + 1)));
    }
    this.fullChecks = 0;
    // publishes in flight may not be among the ready messages yet: count them as taking room
    const room = this.target - ready - this.o.inFlight();
    if (room > 0) {
      this.credit = room;
      this.o.onChange();
    } else if (ready >= this.target) {
      // enough is queued: come back when the workers should have taken the excess
      const dueMs = this.drainPerMs > 0 ? (ready - this.target + 1) / this.drainPerMs : this.o.maxWaitMs;
      this.checkSoon(Math.min(this.o.maxWaitMs, Math.max(this.o.minWaitMs, dueMs)));
    } else {
      this.awaitingSettle = true;
    }
  }

  /** update the drain rate, the check time, and the target from one check */
  private measure(ready: number, started: number): void {
    const now = performance.now();
    this.checkMs += ALPHA * (now - started - this.checkMs);
    if (this.lastCheckAt > 0) {
      const drained = Math.max(0, this.readyAtLastCheck + this.confirmedSinceCheck - ready);
      const dt = now - this.lastCheckAt;
      if (dt > 0) this.drainPerMs += ALPHA * (drained / dt - this.drainPerMs);
    }
    this.lastCheckAt = now;
    this.readyAtLastCheck = ready;
    this.confirmedSinceCheck = 0;
    const refillMs = this.checkMs + this.o.confirmMs();
    const measured = Math.max(1, Math.min(this.o.length, Math.ceil(2 * this.drainPerMs * refillMs) + 1));
    // the workers took everything the last credit let in and wait for more: the drain rate only
    // shows what was supplied, so grow (doubling, as TCP's slow start) until something stays
    // ready — but never past a few times the measured need, or bursts of quiet traffic would
    // raise it to the queue's length and the next flood would fill the queue again
    const starved = ready === 0 && this.exhausted;
    this.target = starved ? Math.min(this.o.length, Math.max(measured, Math.min(2 * this.target, SLOW_START_CAP * measured))) : measured;
    this.exhausted = false;
  }
}
