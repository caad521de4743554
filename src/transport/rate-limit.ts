// New connections per second per remote address: a token bucket per address holding at most
// `ratePerSecond` tokens, refilled continuously at `ratePerSecond`; each new connection takes
// one. So a client may open `ratePerSecond` connections at once, then that many per second.
// The table is bounded: a bucket that has refilled is forgotten (it is the same as no bucket),
// and past `maxTracked` addresses the least recently seen one is forgotten.

export const DEFAULT_MAX_TRACKED_ADDRESSES = 10_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class ConnectionRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly now: () => number = Date.now,
    private readonly maxTracked = DEFAULT_MAX_TRACKED_ADDRESSES,
  ) {}

  get enabled(): boolean {
    return this.ratePerSecond > 0;
  }

  /** addresses currently tracked (for tests and metrics) */
  get trackedAddresses(): number {
    return this.buckets.size;
  }

  /** take a token for a new connection from this address; false: over the rate */
  take(address: string): boolean {
    if (!this.enabled) return true;
    const now = this.now();
    this.forgetOldestIfFull(now);
    const tokens = this.tokensAt(this.buckets.get(address), now);
    const admitted = tokens >= 1;
    // re-insert: a Map keeps insertion order, so the newest address ends up last
    this.buckets.delete(address);
    this.buckets.set(address, { tokens: admitted ? tokens - 1 : tokens, at: now });
    while (this.buckets.size > this.maxTracked) this.buckets.delete(this.buckets.keys().next().value as string);
    return admitted;
  }

  private tokensAt(bucket: Bucket | undefined, now: number): number {
    if (!bucket) return this.ratePerSecond;
    const refilled = bucket.tokens + (Math.max(0, now - bucket.at) * this.ratePerSecond) / 1000;
    return Math.min(this.ratePerSecond, refilled);
  }

  /** one step of housekeeping per call: drop the least recently seen bucket once it is full again */
  private forgetOldestIfFull(now: number): void {
    const oldest = this.buckets.entries().next().value as [string, Bucket] | undefined;
    if (oldest && this.tokensAt(oldest[1], now) >= this.ratePerSecond) this.buckets.delete(oldest[0]);
  }
}
