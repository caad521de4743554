// The process group as the HTTP routes see it: /metrics, /api/* and the live page ask this
// interface and never know whether they run in one process or in one of N `--workers`. In one
// process every answer is this process's own, unchanged. In a cluster worker each question goes
// to every worker (cluster-gather.ts) and the answers are merged here:
//  - metrics: one exposition, prom-client's AggregatorRegistry (per series: counters, gauges and
//    histogram buckets summed; each metric's `aggregator` can say min/max/first/omit instead),
//    no worker label, plus tributary_cluster_workers{state="answered"|"missing"};
//  - connections and subscriptions: concatenated, each with the worker and pid that holds it,
//    ids prefixed "w<worker>-" so they are unique across workers; at most MAX_LISTED per worker;
//  - overview, fair streams, live page: summed counts and per-worker detail.
// A worker that does not answer in time is listed as missing, never waited for.
import { AggregatorRegistry, Gauge, type Aggregator, type PrometheusContentType, type Registry } from 'prom-client';
import type { FairStatusSource } from '../fair/status-source.js';
import type { FairStreamStatus } from '../fair/fair-fabric.js';
import type { GatewayContext } from '../protocols/types.js';
import { withTimeout } from '../transport/acceptor.js';
import type { ConnectionDescription } from '../transport/types.js';
import { createGatherer, GATHER_TIMEOUT_MS, GroupUnavailable, type Answer, type Gatherer, type MissingWorker } from './cluster-gather.js';
import type { LiveSummary } from './live-page.js';

/** connections (or subscriptions) one worker lists at most; the response says when it cut */
export const MAX_LISTED = 10_000;

export interface ConnectionFilter {
  protocol?: string | undefined;
  user?: string | undefined;
  ip?: string | undefined;
}

/** a connection as the group lists it: in a cluster, with the worker and pid that hold it */
export type GroupConnection = ConnectionDescription & { worker?: number; pid?: number };

export interface Listing<T> {
  items: T[];
  /** some worker had more than MAX_LISTED */
  truncated: boolean;
  missing: MissingWorker[];
}

export interface SubscriptionEntry {
  connection: string;
  worker?: number;
  pid?: number;
  protocol: ConnectionDescription['protocol'];
  user?: string | undefined;
  vhost?: string | undefined;
  clientId?: string | undefined;
  subscriptions: number;
}

export interface SubscriptionsView {
  total: number;
  byProtocol: Record<string, number>;
  connections: SubscriptionEntry[];
  truncated: boolean;
  missing?: MissingWorker[];
}

export type GroupFairStatus = FairStreamStatus & { workers?: Array<{ worker: number; pid: number; role: FairStreamStatus['role'] }> };

export interface ProcessGroup {
  readonly clustered: boolean;
  metrics(): Promise<{ contentType: string; text: string }>;
  overview(): Promise<Record<string, unknown>>;
  connections(filter: ConnectionFilter): Promise<Listing<GroupConnection>>;
  connection(id: string): Promise<GroupConnection | undefined>;
  /** false: no worker holds it */
  closeConnection(id: string, reason: string): Promise<boolean>;
  subscriptions(): Promise<SubscriptionsView>;
  fairStreams(): Promise<{ streams: GroupFairStatus[]; missing?: MissingWorker[] }>;
  fairStream(name: string): Promise<GroupFairStatus | undefined>;
  liveSummary(): Promise<LiveSummary>;
  close(): void;
}

export interface ProcessGroupDeps {
  ctx: GatewayContext;
  /** this process's /api/overview */
  overview(): Record<string, unknown>;
  fair: FairStatusSource | null;
  /** this process's live-page summary */
  liveSummary(): Promise<LiveSummary>;
}

/**
 * How a metric merges across workers where summing is not what an operator expects; every
 * other metric is summed per label set (prom-client's default), its own `aggregator` aside.
 */
export const GROUP_AGGREGATORS: Readonly<Record<string, Aggregator>> = {
  // per stream there is one dispatcher in the group: its Jain index, not a sum of them
  tributary_fair_jain_index: 'max',
  // a per-process limit, not a sum of limits
  process_max_fds: 'min',
};

interface CloseArg { id: string; reason: string; timeoutMs: number }

export function createProcessGroup(deps: ProcessGroupDeps): ProcessGroup {
  const { ctx } = deps;
  // set once the gatherer exists (the handlers run only after that)
  let gatherer: Gatherer | undefined;
  const self = (): { clustered: boolean; worker: number } => ({ clustered: gatherer?.clustered ?? false, worker: gatherer?.self ?? 0 });
  const decorate = (c: ConnectionDescription): GroupConnection => {
    const { clustered, worker } = self();
    return clustered ? { ...c, id: globalId(worker, c.id), worker, pid: process.pid } : c;
  };

  gatherer = createGatherer({
    metrics: () => ctx.metrics.registry.getMetricsAsJSON(),
    overview: () => deps.overview(),
    connections: (arg) => capped(filterConnections(ctx.registry.list(), arg as ConnectionFilter)).map(decorate),
    connection: (arg) => {
      const entry = ctx.registry.get((arg as { id: string }).id);
      return entry === undefined ? null : decorate(entry.conn.describe());
    },
    close: async (arg) => {
      const { id, reason, timeoutMs } = arg as CloseArg;
      const entry = ctx.registry.get(id);
      if (entry === undefined) return false;
      ctx.log.info({ conn: id, reason }, 'closing connection on request');
      try {
        await withTimeout(entry.conn.shutdown(reason), timeoutMs);
      } finally {
        if (!entry.link.closed) entry.link.destroy(reason);
      }
      return true;
    },
    subscriptions: () => subscriptionsOf(ctx.registry.list().filter((c) => c.subscriptions > 0), decorate),
    fair: () => (deps.fair?.streamNames() ?? []).map((name) => deps.fair?.fairStatus(name)).filter((s) => s !== undefined),
    fairStream: (arg) => deps.fair?.fairStatus((arg as { name: string }).name) ?? null,
    live: () => deps.liveSummary(),
  });
  const g = gatherer;

  /** in a cluster "w<worker>-<local id>" goes to that worker only; anything else to nobody */
  const target = (id: string): { worker: number; local: string } | null => {
    if (!g.clustered) return { worker: g.self, local: id };
    return parseGlobalId(id);
  };

  return {
    clustered: g.clustered,

    async metrics() {
      if (!g.clustered) return { contentType: ctx.metrics.registry.contentType, text: await ctx.metrics.registry.metrics() };
      const { answers, missing } = await g.gather('metrics');
      const registry = mergeMetrics(answers, missing);
      return { contentType: registry.contentType, text: await registry.metrics() };
    },

    async overview() {
      const gathered = await g.gather('overview');
      if (!g.clustered) return gathered.answers[0]?.value as Record<string, unknown>;
      return mergeOverview(gathered.self, gathered.answers as Array<Answer & { value: Record<string, unknown> }>, gathered.missing);
    },

    async connections(filter) {
      const { answers, missing } = await g.gather('connections', { protocol: filter.protocol, user: filter.user, ip: filter.ip });
      return mergeListings(answers.map((a) => a.value as GroupConnection[]), missing);
    },

    async connection(id) {
      const where = target(id);
      if (where === null) return undefined;
      const { answers, missing } = await g.gather('connection', { id: where.local }, { worker: where.worker });
      unlessMissing(missing);
      return (answers[0]?.value as GroupConnection | null | undefined) ?? undefined;
    },

    async closeConnection(id, reason) {
      const where = target(id);
      if (where === null) return false;
      const timeoutMs = ctx.config.shutdownTimeoutMs;
      // the worker answers once the client has said goodbye or been cut off
      const { answers, missing } = await g.gather('close', { id: where.local, reason, timeoutMs } satisfies CloseArg, { worker: where.worker, timeoutMs: timeoutMs + GATHER_TIMEOUT_MS });
      unlessMissing(missing);
      return answers[0]?.value === true;
    },

    async subscriptions() {
      const { answers, missing } = await g.gather('subscriptions');
      if (!g.clustered) return answers[0]?.value as SubscriptionsView;
      return { ...mergeSubscriptions(answers.map((a) => a.value as SubscriptionsView)), missing };
    },

    async fairStreams() {
      const { answers, missing } = await g.gather('fair');
      if (!g.clustered) return { streams: (answers[0]?.value ?? []) as GroupFairStatus[] };
      const byStream = new Map<string, Array<{ worker: number; pid: number; status: FairStreamStatus }>>();
      for (const a of answers) {
        for (const status of a.value as FairStreamStatus[]) {
          const list = byStream.get(status.stream) ?? [];
          list.push({ worker: a.worker, pid: a.pid, status });
          byStream.set(status.stream, list);
        }
      }
      return { streams: [...byStream.values()].map(mergeFairStatus), missing };
    },

    async fairStream(name) {
      const { answers } = await g.gather('fairStream', { name });
      const parts = answers.filter((a) => a.value !== null).map((a) => ({ worker: a.worker, pid: a.pid, status: a.value as FairStreamStatus }));
      if (parts.length === 0) return undefined;
      return g.clustered ? mergeFairStatus(parts) : parts[0]?.status;
    },

    async liveSummary() {
      const { self: me, answers } = await g.gather('live');
      const summaries = answers.map((a) => ({ worker: a.worker, summary: a.value as LiveSummary }));
      if (!g.clustered) return summaries[0]?.summary as LiveSummary;
      return mergeLiveSummaries(me, summaries);
    },

    close: () => g.close(),
  };
}

/** the one worker asked did not answer: neither "found" nor "not found" would be true */
function unlessMissing(missing: readonly MissingWorker[]): void {
  const m = missing[0];
  if (m !== undefined) throw new GroupUnavailable(`worker ${m.worker} (pid ${m.pid ?? '?'}) did not answer: ${m.reason}`);
}

export function globalId(worker: number, local: string): string {
  return `w${worker}-${local}`;
}

export function parseGlobalId(id: string): { worker: number; local: string } | null {
  const m = /^w(\d+)-(.+)$/.exec(id);
  return m === null ? null : { worker: Number(m[1]), local: m[2] as string };
}

export function filterConnections(list: readonly ConnectionDescription[], filter: ConnectionFilter): ConnectionDescription[] {
  const { protocol, user, ip } = filter;
  return list.filter((c) =>
    (protocol === undefined || c.protocol === protocol)
    && (user === undefined || c.user === user)
    && (ip === undefined || c.peer === ip || c.peer.startsWith(`${ip}:`) || c.peer.startsWith(`[${ip}]:`)));
}

/** MAX_LISTED and one more, so that the merge can tell that this worker had more */
function capped<T>(items: T[]): T[] {
  return items.length > MAX_LISTED ? items.slice(0, MAX_LISTED + 1) : items;
}

export function mergeListings<T>(perWorker: readonly T[][], missing: MissingWorker[]): Listing<T> {
  const items: T[] = [];
  let truncated = false;
  for (const list of perWorker) {
    if (list.length > MAX_LISTED) truncated = true;
    items.push(...list.slice(0, MAX_LISTED));
  }
  return { items, truncated, missing };
}

/** counts over every connection; the first MAX_LISTED listed */
function subscriptionsOf(connections: readonly ConnectionDescription[], decorate: (c: ConnectionDescription) => GroupConnection): SubscriptionsView {
  const byProtocol: Record<string, number> = {};
  let total = 0;
  for (const c of connections) {
    byProtocol[c.protocol] = (byProtocol[c.protocol] ?? 0) + c.subscriptions;
    total += c.subscriptions;
  }
  return {
    total,
    byProtocol,
    connections: connections.slice(0, MAX_LISTED).map(decorate).map((c) => ({
      connection: c.id,
      ...(c.worker === undefined ? {} : { worker: c.worker, pid: c.pid }),
      protocol: c.protocol, user: c.user, vhost: c.vhost, clientId: c.clientId, subscriptions: c.subscriptions,
    })),
    truncated: connections.length > MAX_LISTED,
  };
}

export function mergeSubscriptions(views: readonly SubscriptionsView[]): SubscriptionsView {
  const out: SubscriptionsView = { total: 0, byProtocol: {}, connections: [], truncated: false };
  for (const v of views) {
    out.total += v.total;
    addCounts(out.byProtocol, v.byProtocol);
    out.connections.push(...v.connections);
    out.truncated ||= v.truncated;
  }
  return out;
}

interface WorkerMetric {
  name: string;
  aggregator?: Aggregator;
}

/** one exposition from every worker's getMetricsAsJSON() */
export function mergeMetrics(answers: readonly Answer[], missing: readonly MissingWorker[]): Registry {
  const perWorker = answers.map((a) => (a.value as WorkerMetric[]).map((m) => ({ ...m, aggregator: GROUP_AGGREGATORS[m.name] ?? m.aggregator })));
  const registry = AggregatorRegistry.aggregate<PrometheusContentType>(perWorker);
  const workers = new Gauge({ name: 'tributary_cluster_workers', help: 'Workers of this process group, by whether they answered this scrape', labelNames: ['state'] as const, registers: [registry] });
  workers.set({ state: 'answered' }, answers.length);
  workers.set({ state: 'missing' }, missing.length);
  return registry;
}

interface WorkerOverview {
  node?: unknown;
  startedAt?: unknown;
  uptimeSeconds?: unknown;
  connections?: Record<string, number>;
  fabric?: { connected?: boolean; blocked?: boolean; reason?: string } & Record<string, unknown>;
  ready?: { ready: boolean; reasons: string[] };
}

/** the serving worker's overview, with connections summed and every worker listed */
export function mergeOverview(self: number, answers: ReadonlyArray<Answer & { value: Record<string, unknown> }>, missing: MissingWorker[]): Record<string, unknown> {
  const served = answers.find((a) => a.worker === self) ?? answers[0];
  const base = served?.value ?? {};
  const connections: Record<string, number> = { total: 0 };
  const reasons: string[] = [];
  let connected = true;
  let blocked = false;
  const workers = answers.map(({ worker, pid, value }) => {
    const o = value as WorkerOverview;
    addCounts(connections, o.connections ?? {});
    for (const r of o.ready?.reasons ?? []) reasons.push(`worker ${worker}: ${r}`);
    connected &&= o.fabric?.connected ?? false;
    blocked ||= o.fabric?.blocked ?? false;
    return { worker, pid, node: o.node, startedAt: o.startedAt, uptimeSeconds: o.uptimeSeconds, connections: o.connections, ready: o.ready?.ready ?? false };
  });
  for (const m of missing) reasons.push(`worker ${m.worker}: ${m.reason}`);
  return {
    ...base,
    fabric: { ...(base.fabric as Record<string, unknown> | undefined), connected, blocked },
    connections,
    ready: { ready: reasons.length === 0, reasons },
    servedBy: { worker: self, pid: served?.worker === self ? served.pid : process.pid },
    workers,
    missingWorkers: missing,
  };
}

/**
 * One fair stream across workers: the dispatcher's figures come from the worker that leads it
 * (role leader when any worker does); what every worker counts for itself is summed.
 */
export function mergeFairStatus(parts: ReadonlyArray<{ worker: number; pid: number; status: FairStreamStatus }>): GroupFairStatus {
  const leader = parts.find((p) => p.status.role === 'leader') ?? parts[0];
  if (leader === undefined) throw new Error('mergeFairStatus: no status');
  const sum = (read: (s: FairStreamStatus) => number) => parts.reduce((n, p) => n + read(p.status), 0);
  return {
    ...leader.status,
    dispatchedPerSecond: sum((s) => s.dispatchedPerSecond),
    dispatchedTotal: sum((s) => s.dispatchedTotal),
    ingress: { placed: sum((s) => s.ingress.placed), refused: sum((s) => s.ingress.refused) },
    workers: parts.map((p) => ({ worker: p.worker, pid: p.pid, role: p.status.role })),
  };
}

export function mergeLiveSummaries(self: number, parts: ReadonlyArray<{ worker: number; summary: LiveSummary }>): LiveSummary {
  const base = (parts.find((p) => p.worker === self) ?? parts[0])?.summary;
  if (base === undefined) throw new Error('mergeLiveSummaries: no summary');
  const out: LiveSummary = structuredClone(base);
  for (const { summary } of parts) {
    if (summary === base) continue;
    out.connections.total += summary.connections.total;
    addCounts(out.connections.byProtocol, summary.connections.byProtocol);
    addCounts(out.connections.byTransport, summary.connections.byTransport);
    addCounts(out.subscriptions, summary.subscriptions);
    addCounts(out.messages.received, summary.messages.received);
    addCounts(out.messages.delivered, summary.messages.delivered);
    out.fabric.connected &&= summary.fabric.connected;
    out.fabric.blocked ||= summary.fabric.blocked;
    out.uptimeSeconds = Math.max(out.uptimeSeconds, summary.uptimeSeconds);
  }
  return out;
}

function addCounts(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}
