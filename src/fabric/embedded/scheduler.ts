// Runs deliveries outside the caller's stack: a publish never calls a handler synchronously.
// Work is batched per macrotask (setImmediate) with a budget per consumer, so a busy queue
// cannot starve I/O and one consumer cannot starve the others.

export interface Flushable {
  /** deliver up to `budget` items; true when more are waiting */
  flush(budget: number): boolean;
}

const BUDGET_PER_PASS = 512;

export class DeliveryScheduler {
  private pending = new Set<Flushable>();
  private scheduled = false;
  private closed = false;

  request(f: Flushable): void {
    if (this.closed) return;
    this.pending.add(f);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  close(): void {
    this.closed = true;
    this.pending.clear();
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = new Set();
    for (const f of batch) {
      if (f.flush(BUDGET_PER_PASS)) this.request(f);
    }
  };
}
