// How many publishes into the output queue the dispatcher may start now.
//
// 'open': up to `window` in flight (never more than the queue's length: more could only be
// refused). The first refusal (the queue reached x-max-length and reject-publish made the
// broker nack) switches to 'metered': the gate asks the broker how many messages are ready
// (x-max-length counts ready messages only) and allows the room it saw, less what is still in
// flight; when that credit is used it asks again at once. While the queue stays full it asks
// every 2 ms for the first 50 ms (workers that are merely busy make room within milliseconds),
// then backs off to every 50 ms (workers that stopped). When the room is a whole window again
// it opens. So while workers are behind, the dispatcher sends what they made room for and
// hardly ever has a message refused: its round-robin choices stand.
//
// Little's law sets the pace: at most `length` messages are ready or in flight, so the output
// queue moves at most length / (confirm round trip) messages a second. Size outputQueueLength
// for the workers' rate times a few milliseconds (docs/fair.md).
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
  /** the allowance may have grown: pump */
  onChange(): void;
  onError(err: unknown): void;
}

/** checks at the shortest interval before backing off */
const FAST_CHECKS = 25;

export class OutputGate {
  private mode: 'open' | 'metered' = 'open';
  private credit = 0;
  private fullChecks = 0;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  /** the last check found the room taken by our own publishes in flight: check again as they settle */
  private awaitingSettle = false;
  private stopped = false;
  refusals = 0;
  checks = 0;

  constructor(private readonly o: OutputGateOptions) {}

  /** no room left that the dispatcher knows of */
  get full(): boolean {
    return this.mode === 'metered' && this.credit === 0;
  }

  private get openWindow(): number {
    return Math.min(this.o.window, this.o.length);
  }

  allowance(inFlight: number): number {
    const window = Math.max(0, this.openWindow - inFlight);
    return this.mode === 'open' ? window : Math.min(this.credit, window);
  }

  /** a publish was started */
  took(): void {
    if (this.mode !== 'metered') return;
    if (this.credit > 0) this.credit--;
    if (this.credit === 0) this.checkSoon();
  }

  /** a publish settled (either way) */
  settled(): void {
    if (this.awaitingSettle && this.mode === 'metered' && this.credit === 0) {
      this.awaitingSettle = false;
      this.checkSoon();
    }
  }

  /** the broker refused a publish: the queue is full */
  refused(): void {
    this.refusals++;
    this.mode = 'metered';
    this.credit = 0;
    this.checkSoon();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private checkSoon(): void {
    if (this.timer !== null || this.checking || this.stopped) return;
    const backoff = this.fullChecks - FAST_CHECKS;
    const wait = this.fullChecks === 0 ? 0 : backoff < 0 ? this.o.minWaitMs : Math.min(this.o.maxWaitMs, this.o.minWaitMs * 2 ** (backoff + 1));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check();
    }, wait);
  }

  private async check(): Promise<void> {
    this.checking = true;
    this.checks++;
    let ready = this.o.length;
    try {
      ready = (await this.o.session.checkQueue(this.o.queue)).messageCount;
    } catch (err) {
      this.o.onError(err);
    } finally {
      this.checking = false;
    }
    if (this.stopped || this.mode === 'open') return;
    if (ready >= this.o.length) {
      // full: the workers are behind (wait a little), or stopped (wait longer and longer)
      this.fullChecks++;
      this.checkSoon();
      return;
    }
    this.fullChecks = 0;
    // publishes in flight may not be among the ready messages yet: count them as taking room
    const room = this.o.length - ready - this.o.inFlight();
    if (room <= 0) {
      this.awaitingSettle = true;
      return;
    }
    if (room >= this.openWindow) this.mode = 'open';
    else this.credit = room;
    this.o.onChange();
  }
}
