// How the answers of `--workers N` merge into one /metrics and one /api (src/http/process-group.ts),
// and how the primary relays a gather (src/http/cluster-gather.ts) when a worker stays silent.
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatherRelay, isGatherRequest, type RelayWorker } from '../../src/http/cluster-gather.js';
import { globalId, MAX_LISTED, mergeFairStatus, mergeListings, mergeMetrics, mergeOverview, mergeSubscriptions, parseGlobalId } from '../../src/http/process-group.js';
import type { FairStreamStatus } from '../../src/fair/index.js';
import { registerFairMetrics } from '../../src/fair/index.js';
import { createMetrics } from '../../src/metrics.js';

/** what one worker sends: its registry as JSON, through the IPC channel's JSON */
async function answerOf(worker: number, registry: Registry) {
  return { worker, pid: 1000 + worker, value: JSON.parse(JSON.stringify(await registry.getMetricsAsJSON())) as unknown };
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function fairStatus(over: Partial<FairStreamStatus>): FairStreamStatus {
  return {
    stream: 's', vhost: '/', patterns: ['s.#'], publisherBy: 'client-id', outputQueue: 'tributary.fair.s.out', outputQueueLength: 1000,
    maxPerPublisher: 100, role: 'standby', publishers: null, activePublishers: null, backlogTop: [], dispatchedPerSecond: 0,
    dispatchedTotal: 0, jain: null, windowMs: 10_000, outputFull: false, outputTarget: null, inFlight: 0, outputConfirmMs: null,
    intake: null, ingress: { placed: 0, refused: 0 }, ...over,
  };
}

describe('process group - /metrics across workers', () => {
  it('sums counters, gauges and histogram buckets per label set; fabric up only when every worker is; process start time omitted', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.connections.set({ protocol: 'mqtt', transport: 'tcp' }, 3);
    b.connections.set({ protocol: 'mqtt', transport: 'tcp' }, 4);
    b.connections.set({ protocol: 'stomp', transport: 'ws' }, 2);
    a.messagesReceived.inc({ protocol: 'mqtt' }, 10);
    b.messagesReceived.inc({ protocol: 'mqtt' }, 5);
    a.confirmLatency.observe({ protocol: 'mqtt' }, 0.002);
    b.confirmLatency.observe({ protocol: 'mqtt' }, 0.002);
    b.confirmLatency.observe({ protocol: 'mqtt' }, 2);
    b.confirmLatency.observe({ protocol: 'stomp' }, 0.3);
    a.fabricUp.set(1);
    b.fabricUp.set(0);
    b.fabricBlocked.set(1);

    const registry = mergeMetrics([await answerOf(1, a.registry), await answerOf(2, b.registry)], []);
    const text = await registry.metrics();
    expect(sample(text, 'tributary_connections{protocol="mqtt",transport="tcp"}')).toBe(7);
    expect(sample(text, 'tributary_connections{protocol="stomp",transport="ws"}')).toBe(2);
    expect(sample(text, 'tributary_messages_received_total{protocol="mqtt"}')).toBe(15);
    expect(sample(text, 'tributary_confirm_latency_seconds_bucket{le="0.0025",protocol="mqtt"}')).toBe(2);
    expect(sample(text, 'tributary_confirm_latency_seconds_bucket{le="+Inf",protocol="mqtt"}')).toBe(3);
    expect(sample(text, 'tributary_confirm_latency_seconds_count{protocol="mqtt"}')).toBe(3);
    expect(sample(text, 'tributary_confirm_latency_seconds_sum{protocol="mqtt"}')).toBeCloseTo(2.004, 6);
    expect(sample(text, 'tributary_confirm_latency_seconds_bucket{le="0.5",protocol="stomp"}')).toBe(1);
    expect(sample(text, 'tributary_confirm_latency_seconds_count{protocol="stomp"}')).toBe(1);
    expect(sample(text, 'tributary_fabric_up')).toBe(0);
    expect(sample(text, 'tributary_fabric_blocked')).toBe(1);
    expect(sample(text, 'tributary_cluster_workers{state="answered"}')).toBe(2);
    expect(sample(text, 'tributary_cluster_workers{state="missing"}')).toBe(0);
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    expect(text).not.toContain('process_start_time_seconds');
    expect(text.match(/^# TYPE tributary_connections /gm)).toHaveLength(1);
  });

  it('fair gauges: dispatching counts the dispatchers in the group, Jain index is the dispatcher\'s, not a sum', async () => {
    const leaderStatus = fairStatus({ role: 'leader', publishers: 5, jain: 0.98, dispatchedTotal: 40, ingress: { placed: 30, refused: 1 } });
    const standbyStatus = fairStatus({ role: 'standby', jain: 0.5, dispatchedTotal: 2, ingress: { placed: 12, refused: 0 } });
    const registries = [leaderStatus, standbyStatus].map((status) => {
      const registry = new Registry();
      registerFairMetrics(registry, { streamNames: () => ['s'], fairStatus: () => status });
      return registry;
    });
    const text = await mergeMetrics([await answerOf(1, registries[0] as Registry), await answerOf(2, registries[1] as Registry)], [{ worker: 3, pid: null, reason: 'no answer within 2000 ms' }]).metrics();
    expect(sample(text, 'tributary_fair_dispatching{stream="s"}')).toBe(1);
    expect(sample(text, 'tributary_fair_publishers{stream="s"}')).toBe(5);
    expect(sample(text, 'tributary_fair_jain_index{stream="s"}')).toBe(0.98);
    expect(sample(text, 'tributary_fair_ingress_placed{stream="s"}')).toBe(42);
    expect(sample(text, 'tributary_cluster_workers{state="missing"}')).toBe(1);
  });

  it('a metric a worker sets as its own aggregator keeps it', async () => {
    const registries = [1, 5].map((v) => {
      const registry = new Registry();
      new Gauge({ name: 'x_latest', help: 'h', registers: [registry], aggregator: 'max' }).set(v);
      return registry;
    });
    const text = await mergeMetrics([await answerOf(1, registries[0] as Registry), await answerOf(2, registries[1] as Registry)], []).metrics();
    expect(sample(text, 'x_latest')).toBe(5);
  });
});

describe('process group - /api across workers', () => {
  it('connection ids carry the worker: w<worker>-<local id>, anything else belongs to no worker', () => {
    expect(globalId(3, 'mqtt-17')).toBe('w3-mqtt-17');
    expect(parseGlobalId('w3-mqtt-17')).toEqual({ worker: 3, local: 'mqtt-17' });
    expect(parseGlobalId('wamp-4')).toBeNull();
    expect(parseGlobalId('mqtt-4')).toBeNull();
  });

  it('listings concatenate, and say when a worker had more than MAX_LISTED', () => {
    const big = Array.from({ length: MAX_LISTED + 1 }, (_, i) => i);
    expect(mergeListings([[1, 2], [3]], [])).toEqual({ items: [1, 2, 3], truncated: false, missing: [] });
    const merged = mergeListings([big, [7]], []);
    expect(merged.truncated).toBe(true);
    expect(merged.items).toHaveLength(MAX_LISTED + 1);
    expect(mergeSubscriptions([
      { total: 3, byProtocol: { mqtt: 3 }, connections: [], truncated: false },
      { total: 2, byProtocol: { mqtt: 1, stomp: 1 }, connections: [], truncated: true },
    ])).toEqual({ total: 5, byProtocol: { mqtt: 4, stomp: 1 }, connections: [], truncated: true });
  });

  it('overview: the serving worker\'s facts, connections summed, a missing worker makes it not ready', () => {
    const worker = (w: number, mqtt: number, ready = true) => ({
      worker: w, pid: 100 + w,
      value: { node: `n${w}`, version: '1', connections: { total: mqtt, mqtt }, fabric: { kind: 'amqp', connected: true, blocked: false }, ready: { ready, reasons: ready ? [] : ['fabric blocked'] } },
    });
    const o = mergeOverview(2, [worker(1, 3), worker(2, 4)], []);
    expect(o).toMatchObject({ node: 'n2', connections: { total: 7, mqtt: 7 }, ready: { ready: true, reasons: [] }, fabric: { kind: 'amqp', connected: true, blocked: false }, missingWorkers: [] });
    expect((o.workers as Array<{ pid: number }>).map((w) => w.pid)).toEqual([101, 102]);
    const partial = mergeOverview(1, [worker(1, 3, false)], [{ worker: 2, pid: 102, reason: 'no answer within 2000 ms' }]);
    expect(partial.ready).toEqual({ ready: false, reasons: ['worker 1: fabric blocked', 'worker 2: no answer within 2000 ms'] });
  });

  it('fair stream: the leader\'s dispatcher figures, every worker\'s own counts summed, roles listed', () => {
    const merged = mergeFairStatus([
      { worker: 1, pid: 11, status: fairStatus({ role: 'standby', dispatchedTotal: 5, ingress: { placed: 10, refused: 1 } }) },
      { worker: 2, pid: 12, status: fairStatus({ role: 'leader', publishers: 9, jain: 0.99, dispatchedTotal: 100, dispatchedPerSecond: 20, ingress: { placed: 20, refused: 0 } }) },
    ]);
    expect(merged).toMatchObject({ role: 'leader', publishers: 9, jain: 0.99, dispatchedTotal: 105, dispatchedPerSecond: 20, ingress: { placed: 30, refused: 1 } });
    expect(merged.workers).toEqual([{ worker: 1, pid: 11, role: 'standby' }, { worker: 2, pid: 12, role: 'leader' }]);
  });
});

describe('process group - the primary relays a gather', () => {
  afterEach(() => vi.useRealTimers());

  /** a worker end of the IPC channel: what the primary sent it */
  function worker(id: number): RelayWorker & { inbox: unknown[] } {
    const inbox: unknown[] = [];
    return { id, process: { pid: 100 + id }, inbox, isConnected: () => true, send: ((m: unknown) => { inbox.push(m); return true; }) as RelayWorker['send'] };
  }

  it('asks every worker, replies with the answers, reports a silent worker as missing after the timeout', () => {
    vi.useFakeTimers();
    const [w1, w2] = [worker(1), worker(2)];
    const relay = new GatherRelay(() => [w1, w2]);
    const request = { type: 'tributary:gather', id: 7, query: 'overview', arg: null, worker: null, timeoutMs: 2000 };
    expect(isGatherRequest(request)).toBe(true);
    expect(relay.onMessage(w1, request)).toBe(true);
    const query = w2.inbox[0] as { type: string; id: number; query: string };
    expect(query).toMatchObject({ type: 'tributary:query', query: 'overview' });
    expect(w1.inbox[0]).toEqual(query);
    relay.onMessage(w1, { type: 'tributary:answer', id: query.id, value: { n: 1 } });
    expect(w1.inbox).toHaveLength(1); // still waiting for worker 2
    vi.advanceTimersByTime(2000);
    expect(w1.inbox[1]).toEqual({ type: 'tributary:gathered', id: 7, answers: [{ worker: 1, pid: 101, value: { n: 1 } }], missing: [{ worker: 2, pid: 102, reason: 'no answer within 2000 ms' }] });
    relay.onMessage(w2, { type: 'tributary:answer', id: query.id, value: { n: 2 } }); // late: ignored
    expect(w1.inbox).toHaveLength(2);
    expect(relay.outstanding).toBe(0);
    expect(relay.onMessage(w1, { type: 'tributary:listening' })).toBe(false);
  });

  it('asks only the named worker; one that exits is missing at once; a failing handler is reported', () => {
    const [w1, w2, w3] = [worker(1), worker(2), worker(3)];
    const relay = new GatherRelay(() => [w1, w2, w3]);
    relay.onMessage(w1, { type: 'tributary:gather', id: 1, query: 'close', arg: { id: 'mqtt-1' }, worker: 3, timeoutMs: 5000 });
    expect(w2.inbox).toEqual([]);
    const query = w3.inbox[0] as { id: number };
    relay.onMessage(w3, { type: 'tributary:answer', id: query.id, value: true });
    expect(w1.inbox.at(-1)).toMatchObject({ id: 1, answers: [{ worker: 3, value: true }], missing: [] });

    relay.onMessage(w1, { type: 'tributary:gather', id: 2, query: 'overview', arg: null, worker: null, timeoutMs: 5000 });
    const second = w2.inbox[0] as { id: number };
    relay.onMessage(w1, { type: 'tributary:answer', id: second.id, error: 'boom' });
    relay.onMessage(w3, { type: 'tributary:answer', id: second.id, value: 3 });
    relay.workerGone(w2);
    expect(w1.inbox.at(-1)).toEqual({
      type: 'tributary:gathered', id: 2,
      answers: [{ worker: 3, pid: 103, value: 3 }],
      missing: [{ worker: 1, pid: 101, reason: 'failed: boom' }, { worker: 2, pid: 102, reason: 'exited' }],
    });
    expect(relay.outstanding).toBe(0);
  });
});
