// How many publishes into the output queue the dispatcher may start now.
//
// 'open': up to `window` in flight. The first refusal (the queue reached x-max-length, and
// reject-publish made the broker nack) switches to 'metered': the gate waits until nothing is
// in flight, asks the broker how many messages are ready (x-max-length counts ready messages
// only), and allows exactly the free room; when that is used and confirmed it asks again — at
// once if there was room last time, else after a wait of 2 ms doubling to 50 ms. When the room
// is a whole window again it opens. So while workers are behind, the dispatcher sends what
// they made room for and hardly ever has a message refused: its round-robin choices stand.
import type { FabricSession } from '../fabric/types.js';

export interface OutputGateOptions {
  session: FabricSession;
  queue: string;
  /** the queue's x-max-length */
  length: number;
  window: number;
  minWaitMs: number;
  maxWaitMs: number;
  /** the allowance may have grown: pump */
  onChange(): void;
  onError(err: unknown): void;
}

export class OutputGate {
  private mode: 'open' | 'metered' = 'open';
  private credit = 0;
  private lastRoom = 0;
  private waitMs: number;
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  private stopped = false;
  refusals = 0;
  checks = 0;

  constructor(private readonly o: OutputGateOptions) {
    this.waitMs = o.minWaitMs;
  }

  /** no room left that the dispatcher knows of */
  get full(): boolean {
    return this.mode === 'metered' && this.credit === 0;
  }

  allowance(inFlight: number): number {
    const window = Math.max(0, this.o.window - inFlight);
    return this.mode === 'open' ? window : Math.min(this.credit, window);
  }

  /** a publish was started */
  took(): void {
    if (this.mode === 'metered' && this.credit > 0) this.credit--;
  }

  /** the broker refused a publish: the queue is full */
  refused(): void {
    this.refusals++;
    this.mode = 'metered';
    this.credit = 0;
    this.lastRoom = 0;
  }

  /** a publish settled (either way); `inFlight` is what remains */
  settled(inFlight: number): void {
    if (this.mode === 'metered' && this.credit === 0 && inFlight === 0) this.checkAfter(this.lastRoom > 0 ? 0 : this.waitMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private checkAfter(ms: number): void {
    if (this.timer !== null || this.checking || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.check();
    }, ms);
  }

  private async check(): Promise<void> {
    this.checking = true;
    this.checks++;
    let room = 0;
    try {
      room = this.o.length - (await this.o.session.checkQueue(this.o.queue)).messageCount;
    } catch (err) {
      this.o.onError(err);
    } finally {
      this.checking = false;
    }
    if (this.stopped) return;
    this.lastRoom = room;
    if (room >= this.o.window) {
      this.mode = 'open';
      this.waitMs = this.o.minWaitMs;
    } else if (room > 0) {
      this.credit = room;
      this.waitMs = this.o.minWaitMs;
    } else {
      this.checkAfter(this.waitMs);
      this.waitMs = Math.min(this.o.maxWaitMs, this.waitMs * 2);
      return;
    }
    this.o.onChange();
  }
}
