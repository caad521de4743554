// Process-level Prometheus metrics (prom-client). Counters are global, never sums over
// per-connection values, so rate() stays meaningful as connections come and go.
// Labels: protocol (stomp|mqtt|wamp), transport (tcp|tls|ws|wss).
// Under `--workers N` /metrics merges every worker's registry (src/http/process-group.ts):
// summed per label set unless a metric's `aggregator` says otherwise.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Per-message counts kept in plain numbers and added to a prom-client counter whenever it is
 * read (its collect hook), for the hottest counters: prom-client's inc(labels), bound through
 * labels() or not, hashes the label set on every call (~0.3-0.45 µs in-process), a child here
 * is one addition. What /metrics and the live page report is the same.
 */
export class FoldedCounts {
  /** one per label set (bounded like the label sets themselves), shared by whoever asks for it */
  private readonly children = new Map<string, FoldedChild>();

  child(labels: Record<string, string>): FoldedChild {
    const key = JSON.stringify(labels);
    let c = this.children.get(key);
    if (c === undefined) {
      c = new FoldedChild(labels);
      this.children.set(key, c);
    }
    return c;
  }

  /** add what was counted since the last read to `counter` */
  foldInto(counter: Counter<string>): void {
    for (const c of this.children.values()) {
      if (c.pending > 0) counter.inc(c.labels, c.pending);
      c.pending = 0;
    }
  }
}

export class FoldedChild {
  pending = 0;
  constructor(readonly labels: Record<string, string>) {}
  inc(): void {
    this.pending += 1;
  }
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  const deliveredCounts = new FoldedCounts();
  const receivedCounts = new FoldedCounts();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const pt = ['protocol', 'transport'] as const;
  return {
    registry,
    connections: new Gauge({ name: 'tributary_connections', help: 'Open client connections', labelNames: pt, registers }),
    connectionsOpened: new Counter({ name: 'tributary_connections_opened_total', help: 'Client connections accepted', labelNames: pt, registers }),
    connectionsRefused: new Counter({
      name: 'tributary_connections_refused_total',
      help: 'Client connections refused before the protocol saw them (reason: rate, max_connections, max_per_address, shutdown, tls_handshake, client_certificate)',
      labelNames: ['protocol', 'transport', 'reason'] as const,
      registers,
    }),
    connectionsClosed: new Counter({ name: 'tributary_connections_closed_total', help: 'Client connections closed', labelNames: ['protocol', 'transport', 'reason'] as const, registers }),
    messagesReceived: new Counter({
      name: 'tributary_messages_received_total',
      help: 'Messages published by clients',
      labelNames: ['protocol'] as const,
      registers,
      collect() {
        receivedCounts.foldInto(this);
      },
    }),
    /** counts of messagesReceived made per message (folded into it when it is read) */
    receivedCounts,
    messagesConfirmed: new Counter({ name: 'tributary_messages_confirmed_total', help: 'Client publishes confirmed by the fabric', labelNames: ['protocol'] as const, registers }),
    messagesDelivered: new Counter({
      name: 'tributary_messages_delivered_total',
      help: 'Messages delivered to clients',
      labelNames: ['protocol'] as const,
      registers,
      collect() {
        deliveredCounts.foldInto(this);
      },
    }),
    /** counts of messagesDelivered made per message (folded into it when it is read) */
    deliveredCounts,
    messagesAcknowledged: new Counter({ name: 'tributary_messages_acknowledged_total', help: 'Deliveries acknowledged by clients', labelNames: ['protocol'] as const, registers }),
    messagesDropped: new Counter({ name: 'tributary_messages_dropped_total', help: 'Messages dropped', labelNames: ['protocol', 'reason'] as const, registers }),
    bytesIn: new Counter({ name: 'tributary_bytes_received_total', help: 'Bytes read from clients', labelNames: pt, registers }),
    bytesOut: new Counter({ name: 'tributary_bytes_sent_total', help: 'Bytes written to clients', labelNames: pt, registers }),
    authFailures: new Counter({ name: 'tributary_auth_failures_total', help: 'Failed authentications', labelNames: ['protocol', 'reason'] as const, registers }),
    errors: new Counter({ name: 'tributary_errors_total', help: 'Errors by code', labelNames: ['protocol', 'code'] as const, registers }),
    subscriptions: new Gauge({ name: 'tributary_subscriptions', help: 'Active client subscriptions', labelNames: ['protocol'] as const, registers }),
    confirmLatency: new Histogram({
      name: 'tributary_confirm_latency_seconds',
      help: 'Time from client publish to fabric confirm',
      labelNames: ['protocol'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    // across workers: up only when every worker's fabric is, blocked when any is
    fabricUp: new Gauge({ name: 'tributary_fabric_up', help: '1 while the fabric is connected', registers, aggregator: 'min' }),
    fabricBlocked: new Gauge({ name: 'tributary_fabric_blocked', help: '1 while the broker blocks publishing', registers, aggregator: 'max' }),
    fabricUnconfirmed: new Gauge({ name: 'tributary_fabric_unconfirmed', help: 'Publishes awaiting a confirm', registers }),
    fabricChannels: new Gauge({ name: 'tributary_fabric_channels', help: 'Open AMQP channels', registers }),
  };
}
