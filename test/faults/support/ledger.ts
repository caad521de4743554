// Jepsen-style bookkeeping: every id a client sent, every id the gateway acknowledged, and
// every id a subscriber received (with how often). At the end, lost = acknowledged but never
// received; duplicated = deliveries beyond the first of an id.

export interface Counts {
  /** distinct ids the publishers sent (at least once) */
  sent: number;
  /** sends including retransmissions after a fault */
  attempts: number;
  /** distinct ids the gateway acknowledged (PUBACK, RECEIPT, PUBLISHED) */
  acked: number;
  /** distinct ids received */
  received: number;
  /** acknowledged ids never received */
  lost: number;
  /** deliveries beyond the first of an id */
  duplicated: number;
  /** received ids that were never sent (should be 0) */
  unexpected: number;
}

export class Ledger {
  private readonly sentIds = new Set<string>();
  private attempts = 0;
  private readonly ackedIds = new Set<string>();
  private readonly receivedIds = new Map<string, number>();
  private waiters: { check: () => boolean; resolve: () => void }[] = [];

  constructor(readonly name: string) {}

  sent(id: string): void {
    this.attempts++;
    this.sentIds.add(id);
  }

  acked(id: string): void {
    this.ackedIds.add(id);
    this.wake();
  }

  received(id: string): void {
    this.receivedIds.set(id, (this.receivedIds.get(id) ?? 0) + 1);
    this.wake();
  }

  get ackedCount(): number {
    return this.ackedIds.size;
  }

  get receivedCount(): number {
    return this.receivedIds.size;
  }

  /** acknowledged ids not received yet */
  missing(): string[] {
    return [...this.ackedIds].filter((id) => !this.receivedIds.has(id));
  }

  counts(): Counts {
    let duplicated = 0;
    let unexpected = 0;
    for (const [id, n] of this.receivedIds) {
      duplicated += n - 1;
      if (!this.sentIds.has(id)) unexpected++;
    }
    return {
      sent: this.sentIds.size,
      attempts: this.attempts,
      acked: this.ackedIds.size,
      received: this.receivedIds.size,
      lost: this.missing().length,
      duplicated,
      unexpected,
    };
  }

  /** resolves once every acknowledged id has been received (or rejects with the counts after timeoutMs) */
  allReceived(timeoutMs: number): Promise<void> {
    return this.until(() => this.missing().length === 0, timeoutMs, 'every acknowledged id received');
  }

  until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: timed out waiting for ${what}: ${JSON.stringify(this.counts())} missing ${this.missing().slice(0, 10).join(',')}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}

/** one line per ledger for the test log (and the report) */
export function report(title: string, ledgers: readonly Ledger[], extra: Record<string, unknown> = {}): string {
  const lines = ledgers.map((l) => {
    const c = l.counts();
    return `  ${l.name.padEnd(28)} sent=${c.sent} attempts=${c.attempts} acked=${c.acked} received=${c.received} lost=${c.lost} duplicated=${c.duplicated} unexpected=${c.unexpected}`;
  });
  const more = Object.entries(extra).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const text = [`[faults] ${title}`, ...lines, ...more].join('\n');
  console.log(text);
  return text;
}
