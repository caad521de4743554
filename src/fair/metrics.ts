// Prometheus gauges per fair stream, read from fairStatus() when scraped (so they cost nothing
// between scrapes). Registered on the gateway's registry next to the process metrics.
import { Gauge, type Registry } from 'prom-client';
import type { FairStatusSource } from './status-source.js';

export function registerFairMetrics(registry: Registry, fair: FairStatusSource): void {
  if (registry.getSingleMetric('tributary_fair_publishers') !== undefined) return;
  const registers = [registry];
  const labelNames = ['stream'] as const;
  const each = (read: (s: NonNullable<ReturnType<FairStatusSource['fairStatus']>>) => number | null) =>
    function collect(this: Gauge<'stream'>) {
      this.reset();
      for (const name of fair.streamNames()) {
        const status = fair.fairStatus(name);
        const value = status === undefined ? null : read(status);
        if (value !== null) this.set({ stream: name }, value);
      }
    };
  new Gauge({ name: 'tributary_fair_dispatching', help: '1 where this process runs the stream dispatcher', labelNames, registers, collect: each((s) => (s.role === 'leader' ? 1 : 0)) });
  new Gauge({ name: 'tributary_fair_publishers', help: 'Publisher queues the stream dispatcher consumes (leader only)', labelNames, registers, collect: each((s) => s.publishers) });
  new Gauge({
    name: 'tributary_fair_backlog_messages',
    help: 'Messages waiting in the most backlogged publisher queues (top N, leader only)',
    labelNames,
    registers,
    collect: each((s) => (s.role === 'leader' ? s.backlogTop.reduce((n, b) => n + b.messages, 0) : null)),
  });
  new Gauge({ name: 'tributary_fair_dispatched_per_second', help: 'Messages moved into the output queue per second over the window', labelNames, registers, collect: each((s) => s.dispatchedPerSecond) });
  new Gauge({ name: 'tributary_fair_dispatched', help: 'Messages moved into the output queue by this process', labelNames, registers, collect: each((s) => s.dispatchedTotal) });
  new Gauge({ name: 'tributary_fair_jain_index', help: "Jain's fairness index among backlogged publishers over the window", labelNames, registers, collect: each((s) => s.jain) });
  new Gauge({ name: 'tributary_fair_ingress_placed', help: 'Messages this process put into publisher queues', labelNames, registers, collect: each((s) => s.ingress.placed) });
  new Gauge({ name: 'tributary_fair_ingress_refused', help: 'Publishes this process refused because the publisher queue was full', labelNames, registers, collect: each((s) => s.ingress.refused) });
}
