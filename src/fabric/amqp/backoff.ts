// Reconnect delays: exponential backoff with jitter, 100 ms → 30 s. Same shape as amqplib's
// built-in recovery (base capped at max/(1+jitter) so jitter never pushes a delay past max).

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: the delay is spread uniformly over ±jitter of its base */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** delay before reconnect attempt `attempt` (1-based) */
export function reconnectDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const cappedBase = opts.maxMs / (1 + opts.jitter);
  const base = Math.min(cappedBase, opts.initialMs * opts.factor ** Math.max(0, attempt - 1));
  const spread = base * opts.jitter;
  return Math.max(0, Math.round(base + (random() * 2 - 1) * spread));
}
