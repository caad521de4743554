// The dispatcher's knobs that are not configuration: sensible constants, overridable in tests.
export interface DispatchTuning {
  /** unacked deliveries per publisher queue (basic.qos); a weight above it raises it to ⌈weight⌉+1 */
  prefetchPerPublisher: number;
  /** most publishes into the output queue awaiting their confirm */
  outputWindow: number;
  /** after the output queue refused a message (full): first and longest wait before trying again */
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
  prefetchPerPublisher: 4,
  outputWindow: 8,
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

export function prefetchFor(tuning: DispatchTuning, weight: number): number {
  return Math.min(64, Math.max(tuning.prefetchPerPublisher, Math.ceil(weight) + 1));
}
