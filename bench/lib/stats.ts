// Small statistics helpers: median of runs, latency percentiles (nearest rank).

export function median(values: readonly number[]): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Latency samples in milliseconds, kept in a typed array that grows by doubling. */
export class Samples {
  private data = new Float64Array(1024);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  merge(other: Samples): void {
    for (let i = 0; i < other.n; i++) this.add(other.data[i]!);
  }

  summary(): LatencySummary {
    if (this.n === 0) return { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN };
    const xs = this.data.slice(0, this.n).sort();
    let sum = 0;
    for (const x of xs) sum += x;
    return { count: this.n, p50: rank(xs, 0.5), p99: rank(xs, 0.99), max: xs[xs.length - 1]!, mean: sum / this.n };
  }
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

function rank(sorted: Float64Array, q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}
