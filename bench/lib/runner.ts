// Runs scenarios: starts Tributary (one process per scenario), builds the targets, runs
// every target `runs` times in interleaved rounds (T, R, T, R, …) so that background load
// drifts evenly, meters the server processes' CPU around each run, summarises.
import { performance } from 'node:perf_hooks';
import { cpuSeconds, loadAverage1 } from './proc.js';
import type { Measure, Scenario } from './scenario.js';
import { median, ratio, Samples, type LatencySummary } from './stats.js';
import { startFloor, type FloorProcess } from './floor.js';
import { AMQP_URL, FLOOR_LABEL, floorTarget, mosquittoTarget, rabbitTarget, tributaryTarget, type Target, type TargetName } from './targets.js';
import { startTributary, type TributaryProcess } from './tributary.js';

export interface RunnerOptions {
  runs?: number;
  scale: number;
  /** only these targets (default: all a scenario lists) */
  only?: TargetName[];
  /** targets that are not available on this machine, with the reason */
  unavailable: Partial<Record<TargetName, string>>;
  tributarySet: Record<string, string | number | boolean>;
  tributaryNodeArgs?: string[];
  /** node options for the gateway floor process (--cpu-prof) */
  floorNodeArgs?: string[];
  log(message: string): void;
}

export interface RunRecord {
  run: number;
  ok: boolean;
  error?: string;
  seconds: number;
  load1: number;
  cpu: { gateway?: number; broker?: number; client: number };
  measure?: Measure;
}

export interface TargetSummary {
  /** median of the runs' throughput (unit of the scenario) */
  rate: number;
  rates: number[];
  /** latency phase, all runs' samples pooled (ms) */
  latency?: LatencySummary;
  /** throughput phase latency, pooled (ms): includes queueing at full speed */
  loadedLatency?: LatencySummary;
  /** median server CPU seconds per run (gateway + broker) */
  cpuSeconds: number;
  cpuGatewaySeconds?: number;
  cpuBrokerSeconds?: number;
  /** server CPU microseconds per delivered message (whole run: connection set-up, warm-up, both phases) */
  cpuMicrosPerMessage?: number;
  /** the gateway process's own CPU per delivered message (Tributary, the gateway floor): unlike the broker's, no other client of the shared broker adds to it */
  cpuGatewayMicrosPerMessage?: number;
  lost: number;
  duplicates: number;
  /** connection scenarios */
  bytesPerConnection?: number;
  gatewayBytesPerConnection?: number;
  brokerBytesPerConnection?: number;
  connections?: number;
  capped?: string;
  failedRuns: number;
}

export interface TargetReport {
  name: TargetName;
  label: string;
  runs: RunRecord[];
  summary?: TargetSummary;
  /** Tributary's figure ÷ this target's (only on references) */
  tributaryRatio?: { rate: number; p99?: number; cpu?: number; bytesPerConnection?: number };
  skipped?: string;
}

export interface ScenarioReport {
  name: string;
  title: string;
  measures: string;
  unit: string;
  flow?: unknown;
  targets: TargetReport[];
  seconds: number;
  error?: string;
  tributaryOutput?: string;
}

export async function runScenario(s: Scenario, opts: RunnerOptions): Promise<ScenarioReport> {
  const t0 = performance.now();
  const names = s.targets.filter((n) => !opts.only || opts.only.includes(n));
  const report: ScenarioReport = { name: s.name, title: s.title, measures: s.measures, unit: s.unit, targets: [], seconds: 0 };
  if (s.flow) report.flow = s.flow(opts.scale);
  let trib: TributaryProcess | undefined;
  let floor: FloorProcess | undefined;
  const targets: Target[] = [];
  const startTrib = async (): Promise<Target> => {
    trib = await startTributary({
      amqpUrl: AMQP_URL,
      set: { ...opts.tributarySet, ...s.tributarySet },
      ...(opts.tributaryNodeArgs ? { nodeArgs: opts.tributaryNodeArgs } : {}),
    });
    return tributaryTarget(trib.pid, trib);
  };
  try {
    for (const name of names) {
      const label = s.labels?.[name];
      const skipped = opts.unavailable[name];
      if (skipped) {
        report.targets.push({ name, label: label ?? name, runs: [], skipped });
        continue;
      }
      if (name === 'tributary') {
        try {
          targets.push(await startTrib());
        } catch (err) {
          const why = (err as Error).message;
          opts.log(`${s.name}: Tributary did not start: ${why}`);
          report.targets.push({ name, label: label ?? 'Tributary → RabbitMQ', runs: [], skipped: `did not start: ${why}` });
          continue;
        }
      } else if (name === 'floor') {
        try {
          floor = await startFloor({ amqpUrl: AMQP_URL, ...(opts.floorNodeArgs ? { nodeArgs: opts.floorNodeArgs } : {}) });
          targets.push(floorTarget(floor.pid, floor));
        } catch (err) {
          const why = (err as Error).message;
          opts.log(`${s.name}: the gateway floor did not start: ${why}`);
          report.targets.push({ name, label: label ?? FLOOR_LABEL, runs: [], skipped: `did not start: ${why}` });
          continue;
        }
      } else if (name === 'mosquitto') targets.push(mosquittoTarget());
      else targets.push(rabbitTarget(name, label ?? (name === 'amqp' ? 'direct AMQP' : 'RabbitMQ plugin')));
      const target = targets[targets.length - 1]!;
      if (label) target.label = label;
      report.targets.push({ name, label: target.label, runs: [] });
    }
    const runs = opts.runs ?? s.runs ?? 3;
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < targets.length; i++) {
        if (run > 0 && s.freshTributary && targets[i]!.name === 'tributary' && trib) {
          await trib.stop();
          trib = undefined;
          const label = targets[i]!.label;
          targets[i] = await startTrib();
          targets[i]!.label = label;
        }
        const target = targets[i]!;
        const record = await runOnce(s, target, run, opts, trib);
        report.targets.find((t) => t.name === target.name)!.runs.push(record);
        opts.log(`${s.name} ${target.name} run ${run + 1}/${runs}: ${describeRun(record, s.unit)}`);
      }
    }
  } catch (err) {
    report.error = (err as Error).message;
    opts.log(`${s.name}: ${report.error}`);
  } finally {
    if (trib) {
      const code = await trib.stop();
      if (code !== 0 && code !== null) report.tributaryOutput = trib.output();
    }
    if (floor) {
      const code = await floor.stop();
      if (code !== 0 && code !== null) opts.log(`${s.name}: the gateway floor exited with ${code}:\n${floor.output()}`);
    }
  }
  for (const t of report.targets) {
    const summary = summarise(t.runs);
    if (summary) t.summary = summary;
  }
  addRatios(report);
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

async function runOnce(s: Scenario, target: Target, run: number, opts: RunnerOptions, trib: TributaryProcess | undefined): Promise<RunRecord> {
  const tag = `b${process.pid.toString(36)}_${s.name.replace(/[^a-z0-9]/g, '')}_${run}_${target.name.slice(0, 4)}`;
  const before = meter(target);
  const t0 = performance.now();
  const record: RunRecord = { run, ok: false, seconds: 0, load1: loadAverage1(), cpu: { client: 0 } };
  let timer: NodeJS.Timeout | undefined;
  try {
    if (target.name === 'tributary' && trib && !(await alive(target))) throw new Error(`Tributary is not running:\n${trib.output()}`);
    if (target.name === 'floor' && !(await alive(target))) throw new Error('the gateway floor is not running');
    const timeoutMs = s.runTimeoutMs ?? 180_000;
    const measure = await Promise.race([
      s.run({ target, run, tag, scale: opts.scale, log: (m) => opts.log(`  ${s.name} ${target.name}: ${m}`) }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`run timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    record.measure = measure;
    record.ok = true;
  } catch (err) {
    record.error = (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
  const after = meter(target);
  record.seconds = (performance.now() - t0) / 1000;
  record.cpu = { client: (after.client - before.client) / 1e6 };
  if (before.gateway !== undefined && after.gateway !== undefined) record.cpu.gateway = after.gateway - before.gateway;
  if (before.broker !== undefined && after.broker !== undefined) record.cpu.broker = after.broker - before.broker;
  return record;
}

async function alive(target: Target): Promise<boolean> {
  return target.gatewayPid !== undefined && Number.isFinite(cpuSeconds(target.gatewayPid));
}

function meter(target: Target): { gateway?: number; broker?: number; client: number } {
  const usage = process.cpuUsage();
  const out: { gateway?: number; broker?: number; client: number } = { client: usage.user + usage.system };
  if (target.gatewayPid !== undefined) out.gateway = cpuSeconds(target.gatewayPid);
  if (target.brokerPid !== undefined) out.broker = cpuSeconds(target.brokerPid);
  return out;
}

function summarise(runs: RunRecord[]): TargetSummary | undefined {
  const ok = runs.filter((r) => r.ok && r.measure);
  if (ok.length === 0) return undefined;
  const cpuOf = (r: RunRecord): number => (r.cpu.gateway ?? 0) + (r.cpu.broker ?? 0);
  const summary: TargetSummary = {
    rate: Number.NaN,
    rates: [],
    cpuSeconds: median(ok.map(cpuOf)),
    lost: 0,
    duplicates: 0,
    failedRuns: runs.length - ok.length,
  };
  if (ok.some((r) => r.cpu.gateway !== undefined)) summary.cpuGatewaySeconds = median(ok.map((r) => r.cpu.gateway ?? 0));
  if (ok.some((r) => r.cpu.broker !== undefined)) summary.cpuBrokerSeconds = median(ok.map((r) => r.cpu.broker ?? 0));
  const flows = ok.map((r) => r.measure!.flow).filter((f) => f !== undefined);
  if (flows.length > 0) {
    summary.rates = flows.map((f) => round(f.throughput.rate));
    summary.rate = median(summary.rates);
    const latency = new Samples();
    const loaded = new Samples();
    let delivered = 0;
    for (const f of flows) {
      if (f.latency.samples) latency.merge(f.latency.samples);
      if (f.throughput.samples) loaded.merge(f.throughput.samples);
      summary.lost += f.throughput.lost + f.latency.lost;
      summary.duplicates += f.throughput.duplicates + f.latency.duplicates;
      delivered += f.warmupDelivered + f.throughput.delivered + f.latency.delivered;
    }
    summary.latency = latency.summary();
    summary.loadedLatency = loaded.summary();
    const cpuTotal = ok.reduce((sum, r) => sum + cpuOf(r), 0);
    if (delivered > 0) summary.cpuMicrosPerMessage = (cpuTotal / delivered) * 1e6;
    if (delivered > 0 && summary.cpuGatewaySeconds !== undefined) summary.cpuGatewayMicrosPerMessage = (ok.reduce((sum, r) => sum + (r.cpu.gateway ?? 0), 0) / delivered) * 1e6;
  }
  const conns = ok.map((r) => r.measure!.connections).filter((c) => c !== undefined);
  if (conns.length > 0) {
    summary.rates = conns.map((c) => round(c.perSecond));
    summary.rate = median(summary.rates);
    summary.bytesPerConnection = median(conns.map((c) => c.bytesPerConnection));
    const gw = conns.filter((c) => c.memoryDelta.gateway !== undefined);
    if (gw.length > 0) summary.gatewayBytesPerConnection = median(gw.map((c) => c.memoryDelta.gateway! / c.opened));
    const br = conns.filter((c) => c.memoryDelta.broker !== undefined);
    if (br.length > 0) summary.brokerBytesPerConnection = median(br.map((c) => c.memoryDelta.broker! / c.opened));
    summary.connections = median(conns.map((c) => c.opened));
    const capped = conns.find((c) => c.capped)?.capped;
    if (capped) summary.capped = capped;
  }
  return summary;
}

function addRatios(report: ScenarioReport): void {
  const trib = report.targets.find((t) => t.name === 'tributary')?.summary;
  if (!trib) return;
  for (const t of report.targets) {
    if (t.name === 'tributary' || !t.summary) continue;
    const r: NonNullable<TargetReport['tributaryRatio']> = { rate: ratio(trib.rate, t.summary.rate) };
    if (trib.latency && t.summary.latency) r.p99 = ratio(trib.latency.p99, t.summary.latency.p99);
    if (trib.cpuMicrosPerMessage !== undefined && t.summary.cpuMicrosPerMessage !== undefined) r.cpu = ratio(trib.cpuMicrosPerMessage, t.summary.cpuMicrosPerMessage);
    if (trib.bytesPerConnection !== undefined && t.summary.bytesPerConnection !== undefined) r.bytesPerConnection = ratio(trib.bytesPerConnection, t.summary.bytesPerConnection);
    t.tributaryRatio = r;
  }
}

function describeRun(r: RunRecord, unit: string): string {
  if (!r.ok) return `FAILED: ${r.error?.split('\n')[0]}`;
  const cpu = `cpu gw ${fmt(r.cpu.gateway)} broker ${fmt(r.cpu.broker)} client ${fmt(r.cpu.client)} s`;
  const f = r.measure?.flow;
  if (f) {
    const lat = f.latency.latency;
    return `${round(f.throughput.rate)} ${unit}, lost ${f.throughput.lost + f.latency.lost}, latency p50 ${fmt(lat.p50)} p99 ${fmt(lat.p99)} max ${fmt(lat.max)} ms, ${cpu}, ${r.seconds.toFixed(1)} s`;
  }
  const c = r.measure?.connections;
  const notes = r.measure?.notes?.length ? ` [${r.measure.notes.join('; ')}]` : '';
  if (c) return `${c.opened}/${c.requested} conns in ${c.seconds.toFixed(2)} s (${round(c.perSecond)}/s), ${(c.bytesPerConnection / 1024).toFixed(1)} KiB/conn, ${cpu}${notes}`;
  return `ok${notes}`;
}

function fmt(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1);
}

function round(x: number): number {
  return Math.round(x);
}
