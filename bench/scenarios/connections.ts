// Connection scale: open N idle MQTT connections (CONNECT/CONNACK, clean session, keepalive
// 600 s, no subscription), measure connections/s and the servers' memory growth per
// connection, then reset them all and wait for the server to let go of the sockets.
import { setTimeout as sleep } from 'node:timers/promises';
import { MqttClient } from '../clients/mqtt.js';
import { beamNewProcessMemory, beamPids, mosquittoHeap } from '../lib/memory.js';
import { openFileCount, rssBytes } from '../lib/proc.js';
import { beamHeadroom } from '../lib/rabbit.js';
import type { ConnectionMeasure, Measure, RunContext, Scenario } from '../lib/scenario.js';
import type { Target } from '../lib/targets.js';

const PARALLEL = 100;
/**
 * stop opening connections after this long and measure with what is open: 15 s, or 3 ms per
 * connection for more than 5,000 (10,000 at a rate that opens 5,000 in 15 s need 30 s)
 */
const openBudgetMs = (count: number): number => Number(process.env.BENCH_CONNECT_BUDGET_MS ?? Math.max(15_000, 3 * count));
/** sockets left free on the shared broker for everyone else's clients */
const BEAM_MARGIN = Number(process.env.BENCH_BEAM_SOCKET_MARGIN ?? 150);

export function connectionScenario(count: number, inAll = true): Scenario {
  return {
    name: `conn-${count >= 1000 ? `${count / 1000}k` : count}`,
    title: `Connection scale: ${count.toLocaleString('en')} idle MQTT connections`,
    measures: `${count.toLocaleString('en')} idle MQTT 3.1.1 connections (clean session, no subscription) opened ${PARALLEL} at a time: connections/s, and memory growth per connection (Tributary: its RSS, fresh process per run, + the RabbitMQ processes its sessions created; rabbitmq_mqtt: the RabbitMQ processes the connections created; Mosquitto: its $SYS heap).`,
    unit: 'conn/s',
    targets: ['tributary', 'rabbitmq', 'mosquitto'],
    labels: { rabbitmq: 'rabbitmq_mqtt' },
    inAll,
    freshTributary: true,
    runTimeoutMs: 240_000,
    run: (ctx) => runConnections(ctx, count),
  };
}

interface MemoryReading {
  gatewayRss?: number;
  brokerRss?: number;
  /** Mosquitto's heap */
  heap?: number;
  /** RabbitMQ's process ids (before) */
  pids?: Set<string>;
  /** memory of the RabbitMQ processes that appeared since `pids` (after) */
  newProcesses?: { bytes: number; processes: number };
}

async function readMemory(target: Target, before: MemoryReading | undefined): Promise<MemoryReading> {
  const out: MemoryReading = {};
  const gwRss = rss(target.gatewayPid);
  const brRss = rss(target.brokerPid);
  if (gwRss !== undefined) out.gatewayRss = gwRss;
  if (brRss !== undefined) out.brokerRss = brRss;
  if (target.name === 'mosquitto') {
    // malloc reuses what earlier clients freed, so Mosquitto's RSS hardly moves: use its heap
    const heap = target.endpoints.mqtt ? await mosquittoHeap(target.endpoints.mqtt, before !== undefined) : undefined;
    if (heap !== undefined) out.heap = heap;
  } else if (!before) {
    const pids = await beamPids();
    if (pids) out.pids = pids;
  } else if (before.pids) {
    // the processes these connections brought (see lib/memory.ts)
    const fresh = await beamNewProcessMemory(before.pids);
    if (fresh) out.newProcesses = fresh;
  }
  return out;
}

function delta(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : b - a;
}

async function runConnections(ctx: RunContext, requested: number): Promise<Measure> {
  const { target, tag } = ctx;
  const endpoint = target.endpoints.mqtt;
  if (!endpoint) throw new Error(`${target.label} has no MQTT endpoint`);
  const notes: string[] = [];
  let count = requested;
  let capped: string | undefined;
  if (target.name === 'rabbitmq' && target.brokerPid !== undefined) {
    const { headroom, why } = await beamHeadroom(target.brokerPid, BEAM_MARGIN);
    if (headroom < requested) {
      count = headroom;
      capped = `measured with ${headroom} connections (${why})`;
      ctx.log(capped);
    }
  }
  if (count <= 0) throw new Error(`no room for connections: ${capped ?? ''}`);
  const watched = target.gatewayPid ?? target.brokerPid;
  const fdsBefore = watched === undefined ? undefined : openFileCount(watched);
  const before = await readMemory(target, undefined);

  const clients: MqttClient[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  const t0 = performance.now();
  let outOfTime = false;
  const budgetMs = openBudgetMs(count);
  const worker = async (): Promise<void> => {
    while (next < count) {
      if (performance.now() - t0 > budgetMs) {
        outOfTime = true;
        return;
      }
      const i = next++;
      try {
        clients.push(await MqttClient.connect(endpoint, { clientId: `${tag}_${i}`, keepalive: 600, timeoutMs: 30_000 }));
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const seconds = (performance.now() - t0) / 1000;
  await sleep(2_000);
  const after = await readMemory(target, before);
  const opened = clients.length;
  if (failed > 0) notes.push(`${failed} connections failed (first: ${firstError})`);
  if (outOfTime) notes.push(`stopped opening after ${budgetMs / 1000} s with ${opened} of ${count} open`);

  for (const c of clients) c.destroy();
  await settle(watched, fdsBefore, ctx);

  const memoryDelta: ConnectionMeasure['memoryDelta'] = {};
  const rssDelta: ConnectionMeasure['rssDelta'] = {};
  const put = (obj: { gateway?: number; broker?: number }, key: 'gateway' | 'broker', v: number | undefined): void => {
    if (v !== undefined) obj[key] = v;
  };
  put(memoryDelta, 'gateway', delta(before.gatewayRss, after.gatewayRss));
  put(memoryDelta, 'broker', target.name === 'mosquitto' ? delta(before.heap, after.heap) : after.newProcesses?.bytes);
  put(rssDelta, 'gateway', delta(before.gatewayRss, after.gatewayRss));
  put(rssDelta, 'broker', delta(before.brokerRss, after.brokerRss));
  if (after.newProcesses) notes.push(`RabbitMQ: ${after.newProcesses.processes} new processes (${(after.newProcesses.processes / Math.max(1, clients.length)).toFixed(1)} per connection)`);
  if (target.name !== 'tributary' && memoryDelta.broker === undefined) notes.push('broker memory accounting unavailable');
  const grown = (memoryDelta.gateway ?? 0) + (memoryDelta.broker ?? 0);
  const connections: ConnectionMeasure = {
    requested,
    opened,
    failed,
    seconds,
    perSecond: opened / seconds,
    memoryDelta,
    rssDelta,
    bytesPerConnection: opened > 0 ? grown / opened : Number.NaN,
  };
  if (capped) connections.capped = capped;
  return { connections, notes };
}

function rss(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const v = rssBytes(pid);
  return Number.isFinite(v) ? v : undefined;
}

/** wait until the server's descriptor count is back near where it was (at most 60 s) */
async function settle(pid: number | undefined, fdsBefore: number | undefined, ctx: RunContext): Promise<void> {
  if (pid === undefined || fdsBefore === undefined) return sleep(2_000);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = openFileCount(pid) ?? 0;
    if (now <= fdsBefore + 20) return;
    if (Date.now() > deadline) {
      ctx.log(`server still holds ${now - fdsBefore} more descriptors than before; going on`);
      return;
    }
    await sleep(250);
  }
}
