// Which exchanges are known to exist, so that a publish to a user-named exchange is checked
// (passively, on the topology channel) before it reaches the shared publish channel, where a
// 404 would close the channel under every session. Positive answers only, kept briefly:
// a deleted exchange is noticed within `ttlMs` (and at once when deleted through us).

/** exchanges every RabbitMQ vhost has and nobody can delete */
const BUILT_IN = new Set(['', 'amq.direct', 'amq.fanout', 'amq.topic', 'amq.headers', 'amq.match']);

export class ExchangeCache {
  private readonly seen = new Map<string, number>();
  private readonly checking = new Map<string, Promise<void>>();

  constructor(
    private readonly ttlMs = 5_000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  knownToExist(name: string): boolean {
    if (BUILT_IN.has(name)) return true;
    const at = this.seen.get(name);
    if (at === undefined) return false;
    if (this.now() - at <= this.ttlMs) return true;
    this.seen.delete(name);
    return false;
  }

  remember(name: string): void {
    if (BUILT_IN.has(name)) return;
    this.seen.delete(name);
    this.seen.set(name, this.now());
    if (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
  }

  forget(name: string): void {
    this.seen.delete(name);
  }

  /** run `probe` unless the exchange is known; concurrent checks of one name share one probe */
  ensure(name: string, probe: () => Promise<void>): Promise<void> | undefined {
    if (this.knownToExist(name)) return undefined;
    const inFlight = this.checking.get(name);
    if (inFlight) return inFlight;
    const check = probe().then(
      () => {
        this.checking.delete(name);
        this.remember(name);
      },
      (err: unknown) => {
        this.checking.delete(name);
        throw err;
      },
    );
    this.checking.set(name, check);
    return check;
  }
}
