// The dispatcher's knobs that are not configuration: sensible constants, overridable in tests.
export interface DispatchTuning {
  /**
   * Unacked deliveries per publisher queue (basic.qos); a weight above it raises it to
   * ⌈weight⌉+1. It does not delay quiet publishers (the scheduler, not a FIFO, orders what the
   * dispatcher holds); it bounds one backlogged publisher's rate (about prefetch per round trip
   * of deliver → confirm → ack) and what is redelivered after a dispatcher dies.
   */
  prefetchPerPublisher: number;
  /** deliveries held over all publisher queues: past it, new consumers get a smaller prefetch (≥ 2) */
  heldBudget: number;
  /** most publishes into the output queue awaiting their confirm */
  outputWindow: number;
  /** while the output queue is full: how often its room is checked at first, and at most (see output-gate.ts) */
  fullRetryMinMs: number;
  fullRetryMaxMs: number;
  /** after another failure to publish into the output queue */
  errorRetryMs: number;
  /** a standby tries to become the dispatcher every [min, max] ms (random, so standbys spread) */
  electionRetryMinMs: number;
  electionRetryMaxMs: number;
  /** the list of publisher queues is saved at most this often when it changed… */
  registrySaveMs: number;
  /** …and at least this often anyway (undoes a stale save by a dispatcher that just lost its post) */
  registryResaveMs: number;
  /** announcements held until the next save (their consumer's prefetch) */
  announcementPrefetch: number;
  /** publisher queues one stream's dispatcher consumes at most */
  maxPublishersPerStream: number;
  /** unacked intake deliveries being sorted at once */
  intakePrefetch: number;
  /** backlog metrics: a poll of queue depths every this many ms, of at most `backlogPollMax` queues */
  backlogPollMs: number;
  backlogPollMax: number;
  backlogTopN: number;
  /** window of dispatched/s and Jain's index */
  statsWindowMs: number;
  /** stop() waits this long for publishes into the output queue to be confirmed */
  stopTimeoutMs: number;
}

export const DEFAULT_TUNING: DispatchTuning = {
  prefetchPerPublisher: 32,
  heldBudget: 20_000,
  outputWindow: 128,
  fullRetryMinMs: 2,
  fullRetryMaxMs: 50,
  errorRetryMs: 500,
  electionRetryMinMs: 1_000,
  electionRetryMaxMs: 2_000,
  registrySaveMs: 1_000,
  registryResaveMs: 30_000,
  announcementPrefetch: 1_000,
  maxPublishersPerStream: 100_000,
  intakePrefetch: 256,
  backlogPollMs: 5_000,
  backlogPollMax: 100,
  backlogTopN: 10,
  statsWindowMs: 10_000,
  stopTimeoutMs: 2_000,
};

/** the prefetch of a new publisher-queue consumer, when `publishers` queues are consumed already */
export function prefetchFor(tuning: DispatchTuning, weight: number, publishers: number): number {
  const share = Math.max(2, Math.min(tuning.prefetchPerPublisher, Math.floor(tuning.heldBudget / Math.max(1, publishers))));
  return Math.min(64, Math.max(share, Math.ceil(weight) + 1));
}
