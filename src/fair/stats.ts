// What a dispatcher measures, over a sliding window of one-second buckets: messages dispatched
// (per second, per publisher) and Jain's fairness index among backlogged publishers.
//
// Jain's index J = (Σx)² / (n·Σx²) over x_i = dispatched_i / weight_i; 1 is perfectly fair,
// 1/n is one publisher taking everything. Only publishers that were backlogged matter (a quiet
// publisher that gets everything it sends is not being treated unfairly), so a bucket counts a
// publisher when, at least once in that second, its turn ended with messages still waiting
// (the scheduler cut it off). The window's index is the mean over buckets with at least two
// backlogged publishers, weighted by what they dispatched.

export function jainIndex(xs: readonly number[]): number | null {
  if (xs.length === 0) return null;
  let sum = 0;
  let squares = 0;
  for (const x of xs) {
    sum += x;
    squares += x * x;
  }
  if (squares === 0) return null;
  return (sum * sum) / (xs.length * squares);
}

interface Bucket {
  start: number;
  total: number;
  served: Map<string, number>;
  backlogged: Set<string>;
  weights: Map<string, number>;
}

export interface WindowSummary {
  windowMs: number;
  dispatched: number;
  dispatchedPerSecond: number;
  /** null when fewer than two publishers were backlogged at once */
  jain: number | null;
  backloggedPublishers: number;
}

/** most publishers tracked per bucket; beyond it a bucket stops adding new ones (counts stay right) */
const MAX_PUBLISHERS_PER_BUCKET = 10_000;

export class DispatchStats {
  private readonly buckets: Bucket[] = [];
  private totalDispatched = 0;

  constructor(
    private readonly windowMs = 10_000,
    private readonly bucketMs = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  get dispatchedTotal(): number {
    return this.totalDispatched;
  }

  dispatched(publisher: string, weight: number): void {
    this.totalDispatched++;
    const b = this.current();
    b.total++;
    if (b.served.has(publisher) || b.served.size < MAX_PUBLISHERS_PER_BUCKET) {
      b.served.set(publisher, (b.served.get(publisher) ?? 0) + 1);
      b.weights.set(publisher, weight);
    }
  }

  /** the publisher's turn ended with messages still waiting */
  cutOff(publisher: string): void {
    const b = this.current();
    if (b.backlogged.size < MAX_PUBLISHERS_PER_BUCKET) b.backlogged.add(publisher);
  }

  summary(): WindowSummary {
    const now = this.now();
    this.expire(now);
    let dispatched = 0;
    let weighted = 0;
    let weightSum = 0;
    const backlogged = new Set<string>();
    for (const b of this.buckets) {
      dispatched += b.total;
      const xs: number[] = [];
      let served = 0;
      for (const [p, n] of b.served) {
        if (!b.backlogged.has(p)) continue;
        xs.push(n / (b.weights.get(p) ?? 1));
        served += n;
        backlogged.add(p);
      }
      if (xs.length < 2) continue;
      const j = jainIndex(xs);
      if (j === null) continue;
      weighted += j * served;
      weightSum += served;
    }
    const span = this.buckets.length === 0 ? this.windowMs : Math.min(this.windowMs, now - (this.buckets[0] as Bucket).start);
    return {
      windowMs: this.windowMs,
      dispatched,
      dispatchedPerSecond: span > 0 ? (dispatched * 1000) / Math.max(span, this.bucketMs) : 0,
      jain: weightSum === 0 ? null : weighted / weightSum,
      backloggedPublishers: backlogged.size,
    };
  }

  private current(): Bucket {
    const now = this.now();
    const last = this.buckets[this.buckets.length - 1];
    if (last !== undefined && now - last.start < this.bucketMs) return last;
    this.expire(now);
    const b: Bucket = { start: now - (now % this.bucketMs), total: 0, served: new Map(), backlogged: new Set(), weights: new Map() };
    this.buckets.push(b);
    return b;
  }

  private expire(now: number): void {
    while (this.buckets.length > 0 && now - (this.buckets[0] as Bucket).start >= this.windowMs) this.buckets.shift();
  }
}
