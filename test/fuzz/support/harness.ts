// The budgeted live fuzz of one protocol against a real gateway process (on RabbitMQ when the
// broker answers, else the embedded fabric):
//   1. spawn the gateway (with a test-only preload that runs a full GC on SIGUSR2 and reports
//      process.memoryUsage() on stderr), connect the protocol's well-behaved client;
//   2. warm up (a few seconds of the same fuzz, so that code loaded and compiled on first use is
//      not counted as growth), GC, read the baseline;
//   3. fuzz for the budget with several concurrent fast-check runs (one connection per case),
//      while the well-behaved client does publish→subscribe round trips; sample RSS;
//   4. wait until the gateway lists only the well-behaved connection, GC, read memory again,
//      do more round trips, ask /healthz; print the report.
// Everything a test asserts is in the returned FuzzReport.
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { expect } from 'vitest';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { amqpUrl, brokerAvailable } from '../../support/broker.js';
import { mib, spawnGateway, type GatewayProcess } from '../../support/gateway-process.js';
import { rawWebSocketExchange } from './wire.js';

/** seconds of fuzzing per protocol: TRIBUTARY_TEST_FUZZ_SECONDS, default 60 */
export const FUZZ_SECONDS = budgetSeconds();
/** the CONNECT/HELLO deadline the fuzzed gateway runs with, so that half-open cases end soon */
export const CONNECT_TIMEOUT_MS = 500;
/** a connection the server must close (not established, or told its error) and has not after this long is a hang */
export const HANG_MS = CONNECT_TIMEOUT_MS + 9_000;
/** how long a case leaves an established connection open for the server to answer */
export const LINGER_MS = 150;
/**
 * Allowed growth after the fuzz, over the warmed-up baseline: heap used after a full GC (live
 * JavaScript objects) and RSS. The gateways run with MALLOC_ARENA_MAX=1 (GATEWAY_ENV) so that
 * RSS shows what is in use, not what glibc's per-thread malloc arenas keep after freeing: with
 * the default arenas the STOMP gateway's RSS stayed +72 MiB over its baseline after 60 s of fuzz
 * while its heap, external memory and file descriptors were back where they started.
 */
export const RSS_BOUND_BYTES = 32 * 1024 * 1024;

/**
 * RSS less the V8 heap pages that are committed but free after the GC: how many of those V8
 * keeps depends on its sizing heuristics at that moment (heap total moved by 30 MiB between two
 * probes of an idle gateway), not on what the gateway holds.
 */
export function rssInUse(m: NodeJS.MemoryUsage): number {
  return m.rss - (m.heapTotal - m.heapUsed);
}
export const HEAP_BOUND_BYTES = 8 * 1024 * 1024;
/** the longest a well-behaved round trip may take before it counts as failed (the machine running CI may be loaded) */
const ROUND_TRIP_TIMEOUT_MS = 30_000;

function budgetSeconds(): number {
  const raw = process.env.TRIBUTARY_TEST_FUZZ_SECONDS;
  if (raw === undefined || raw.trim() === '') return 60;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`TRIBUTARY_TEST_FUZZ_SECONDS=${raw}: expected a positive number of seconds`);
  return seconds;
}

/** vitest timeout for one protocol's fuzz test */
export function fuzzTestTimeoutMs(): number {
  return (FUZZ_SECONDS + warmupSeconds()) * 1000 + HANG_MS + 120_000;
}

function warmupSeconds(): number {
  return Math.min(5, Math.max(1, FUZZ_SECONDS / 10));
}

// ---- the gateway ----------------------------------------------------------------------------

const GATEWAY_ENV = { MALLOC_ARENA_MAX: '1' };
const GC_PROBE = pathToFileURL(fileURLToPath(new URL('./gc-probe.mjs', import.meta.url))).href;

export interface FuzzGateway {
  gw: GatewayProcess;
  fabric: 'amqp' | 'embedded';
  /** full GC in the gateway, then its process.memoryUsage() */
  settledMemory(): Promise<NodeJS.MemoryUsage>;
  /** pino lines at error (50) or fatal (60) level, as they came */
  errorLines: string[];
  /** the last pino lines at warn level (40), for the report when something failed */
  warnLines: string[];
  exitedEarly(): string | undefined;
}

export async function spawnFuzzGateway(extraArgs: string[] = []): Promise<FuzzGateway> {
  const fabric = brokerAvailable ? 'amqp' : 'embedded';
  const gw = await spawnGateway([
    ...(fabric === 'amqp' ? ['--amqp-url', amqpUrl] : []),
    '--set', `limits.connectTimeoutMs=${CONNECT_TIMEOUT_MS}`,
    // the fuzz sends wrong credentials on purpose: keep the delay short and the address
    // unblocked so that later cases still reach the states behind a successful login
    '--set', 'auth.failedAuthDelayMs=50',
    '--set', 'auth.failedLoginThrottle.maxFailures=0',
    ...extraArgs,
  ], { nodeArgs: ['--expose-gc', '--import', GC_PROBE], env: GATEWAY_ENV });

  const errorLines: string[] = [];
  const warnLines: string[] = [];
  let partial = '';
  gw.child.stdout?.on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (/"level":(50|60)\b/.test(line) && errorLines.length < 50) errorLines.push(line);
      if (/"level":40\b/.test(line)) {
        warnLines.push(line);
        if (warnLines.length > 20) warnLines.shift();
      }
    }
  });

  const probes: Array<(m: NodeJS.MemoryUsage) => void> = [];
  let probeText = '';
  gw.child.stderr?.on('data', (d: string) => {
    probeText += d;
    for (;;) {
      const m = /fuzz-gc-probe \d+ (\{[^\n]*\})\n/.exec(probeText);
      if (!m) break;
      probeText = probeText.slice((m.index ?? 0) + m[0].length);
      probes.shift()?.(JSON.parse(m[1] as string) as NodeJS.MemoryUsage);
    }
    if (probeText.length > 1 << 16) probeText = probeText.slice(-1024);
  });

  let exit: string | undefined;
  void gw.exited.then(({ code, signal }) => { exit = `gateway process exited (code ${code}, signal ${signal})\n${gw.stderr().slice(-4000)}`; });

  return {
    gw,
    fabric,
    errorLines,
    warnLines,
    exitedEarly: () => exit,
    settledMemory: async () => {
      const answer = new Promise<NodeJS.MemoryUsage>((resolve) => probes.push(resolve));
      gw.kill('SIGUSR2');
      const usage = await Promise.race([answer, sleep(15_000).then(() => undefined)]);
      if (!usage) throw new Error('the gateway did not answer the GC probe within 15 s');
      return usage;
    },
  };
}

/** connections the gateway lists (GET /api/connections as guest, from loopback) */
export async function listedConnections(gw: GatewayProcess): Promise<Array<{ id: string; protocol: string; peer: string }>> {
  const res = await fetch(gw.url('/api/connections'), { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
  if (res.status !== 200) throw new Error(`/api/connections answered ${res.status}`);
  return (await res.json()) as Array<{ id: string; protocol: string; peer: string }>;
}

// ---- counting -------------------------------------------------------------------------------

const MAX_ERROR_KINDS = 60;

export class FuzzStats {
  cases = 0;
  connections = 0;
  established = 0;
  closedByServer = 0;
  closedByClient = 0;
  aborted = 0;
  /** frames, packets or messages written (before mutation) */
  unitsSent = 0;
  bytesSent = 0;
  readonly errors = new Map<string, number>();

  error(kind: string): void {
    const key = this.errors.has(kind) || this.errors.size < MAX_ERROR_KINDS ? kind : '(other)';
    this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
  }

  errorTotal(): number {
    let n = 0;
    for (const v of this.errors.values()) n += v;
    return n;
  }
}

// ---- the well-behaved client ------------------------------------------------------------------

export interface HealthyClient {
  /** publish `payload` and resolve when its own subscription delivered it */
  roundTrip(payload: string): Promise<void>;
  /** where the current round trip is, for the failure message */
  stage?(): string;
  close(): Promise<void>;
}

export class Liveness {
  ok = 0;
  /** the slowest round trip that completed, ms */
  slowestMs = 0;
  readonly failures: string[] = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  private n = 0;

  constructor(private readonly client: HealthyClient) {}

  /** round trips one after another until stop() */
  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.once();
        await sleep(20);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  async times(count: number): Promise<void> {
    for (let i = 0; i < count; i++) await this.once();
  }

  private async once(): Promise<void> {
    const payload = `alive-${process.pid}-${++this.n}`;
    const started = Date.now();
    const timeout = sleep(ROUND_TRIP_TIMEOUT_MS).then(() => { throw new Error(`round trip ${this.n} took over ${ROUND_TRIP_TIMEOUT_MS} ms`); });
    try {
      await Promise.race([this.client.roundTrip(payload), timeout.catch((err: Error) => { throw new Error(`${err.message}${this.client.stage ? `, ${this.client.stage()}` : ''}`); })]);
      this.ok++;
      this.slowestMs = Math.max(this.slowestMs, Date.now() - started);
    } catch (err) {
      if (this.failures.length < 20) this.failures.push(`${(err as Error).message} (started at ${new Date(started).toISOString()})`);
      else this.failures.push('…');
    }
  }
}

// ---- the run ---------------------------------------------------------------------------------

export interface FuzzPlan<T> {
  protocol: string;
  /** what is fuzzed, for the report (e.g. "TCP; WebSocket /mqtt") */
  surfaces: string;
  target: FuzzGateway;
  healthy: HealthyClient;
  arbitrary: fc.Arbitrary<T>;
  /** one case: one connection (or a burst of them); throws when the gateway misbehaved */
  runCase(input: T, stats: FuzzStats): Promise<void>;
  /** fast-check runs going at once */
  workers: number;
  /** connections the healthy client holds (they stay listed) */
  healthyConnections: number;
}

export interface FuzzReport {
  protocol: string;
  fabric: string;
  seconds: number;
  seed: number;
  stats: FuzzStats;
  /** a fast-check counterexample or the gateway's exit, if any */
  failure: string | undefined;
  gatewayAlive: boolean;
  roundTripsDuring: number;
  roundTripsAfter: number;
  roundTripFailures: string[];
  slowestRoundTripMs: number;
  /** connections the gateway still listed after the fuzz beyond the healthy client's */
  leftoverConnections: number;
  memory: { start: NodeJS.MemoryUsage; baseline: NodeJS.MemoryUsage; peakRss: number; after: NodeJS.MemoryUsage };
  /** open file descriptors of the gateway process (sockets included) */
  fds: { baseline: number; after: number };
  healthz: number;
  errorLogLines: string[];
}

export async function runFuzz<T>(plan: FuzzPlan<T>): Promise<FuzzReport> {
  const { target, protocol } = plan;
  const { gw } = target;
  const seed = Number(process.env.TRIBUTARY_TEST_FUZZ_SEED ?? Date.now() % 2 ** 31);
  const stats = new FuzzStats();
  const start = await target.settledMemory();

  let failure = await fuzzFor(plan, stats, warmupSeconds() * 1000, seed + 1000);
  await quiesce(gw, plan.healthyConnections);
  const baseline = await target.settledMemory();
  const fdsBaseline = openFds(gw.pid);

  let peakRss = gw.rssBytes();
  const sampler = setInterval(() => { peakRss = Math.max(peakRss, gw.rssBytes()); }, 250);
  const liveness = new Liveness(plan.healthy);
  liveness.start();
  failure ??= await fuzzFor(plan, stats, FUZZ_SECONDS * 1000, seed);
  clearInterval(sampler);
  await liveness.stop();
  const roundTripsDuring = liveness.ok;

  const leftoverConnections = target.exitedEarly() ? -1 : await quiesce(gw, plan.healthyConnections);
  const after = target.exitedEarly() ? start : await target.settledMemory();
  const fdsAfter = openFds(gw.pid);
  await liveness.times(20);
  const healthz = await fetch(gw.url('/healthz')).then((r) => r.status, () => 0);
  failure ??= target.exitedEarly();

  const report: FuzzReport = {
    protocol,
    fabric: target.fabric,
    seconds: FUZZ_SECONDS,
    seed,
    stats,
    failure,
    gatewayAlive: target.exitedEarly() === undefined,
    roundTripsDuring,
    roundTripsAfter: liveness.ok - roundTripsDuring,
    roundTripFailures: liveness.failures,
    slowestRoundTripMs: liveness.slowestMs,
    leftoverConnections,
    memory: { start, baseline, peakRss, after },
    fds: { baseline: fdsBaseline, after: fdsAfter },
    healthz,
    errorLogLines: target.errorLines,
  };
  console.log(formatReport(report, plan));
  return report;
}

/** `plan.workers` concurrent fast-check runs for `ms`; the first counterexample, if any */
async function fuzzFor<T>(plan: FuzzPlan<T>, stats: FuzzStats, ms: number, seed: number): Promise<string | undefined> {
  const property = fc.asyncProperty(plan.arbitrary, async (input) => {
    const exit = plan.target.exitedEarly();
    if (exit) throw new Error(exit);
    stats.cases++;
    await plan.runCase(input, stats);
  });
  const runs = await Promise.all(Array.from({ length: plan.workers }, (_, i) => fc.check(property, {
    seed: seed + i,
    numRuns: Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: ms,
    markInterruptAsFailure: false,
    endOnFailure: true,
  })));
  // a run interrupted by the budget before its first case finished is not a failure
  const failed = runs.find((r) => r.failed && !(r.interrupted && r.counterexample === null));
  if (!failed) return undefined;
  const error = failed.errorInstance instanceof Error ? failed.errorInstance.message : String(failed.errorInstance);
  return `${fc.defaultReportMessage(failed) ?? 'fast-check run failed'}\nError: ${error}`;
}

/** waits (up to 20 s) until only the healthy client's connections are listed; how many others remain */
async function quiesce(gw: GatewayProcess, healthy: number): Promise<number> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const extra = (await listedConnections(gw)).length - healthy;
    if (extra <= 0 || Date.now() > deadline) return Math.max(0, extra);
    await sleep(200);
  }
}

function formatReport(r: FuzzReport, plan: FuzzPlan<unknown>): string {
  const s = r.stats;
  const m = r.memory;
  const errors = [...s.errors.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `    ${String(v).padStart(7)}  ${k}`);
  return [
    `[fuzz ${r.protocol}] ${plan.surfaces}; fabric=${r.fabric}; budget ${r.seconds}s (+ warm-up) with ${plan.workers} concurrent runs; seed ${r.seed}`,
    `  cases ${s.cases}, connections ${s.connections} (established ${s.established}; closed by the server ${s.closedByServer}, by the client ${s.closedByClient}, cut abruptly ${s.aborted})`,
    `  sent ${s.unitsSent} ${plan.protocol === 'wamp' ? 'messages' : plan.protocol === 'mqtt' ? 'packets' : 'frames'} before mutation, ${mib(s.bytesSent)} in all`,
    `  errors seen (${s.errorTotal()}):`,
    ...errors,
    `  well-behaved client: ${r.roundTripsDuring} round trips during the fuzz, ${r.roundTripsAfter} after, slowest ${r.slowestRoundTripMs} ms, ${r.roundTripFailures.length} failed${r.roundTripFailures.length ? `: ${r.roundTripFailures.join('; ')}` : ''}`,
    `  memory: RSS start ${mib(m.start.rss)}, baseline (after warm-up) ${mib(m.baseline.rss)}, peak ${mib(m.peakRss)}, after ${mib(m.after.rss)}; less V8's free heap pages ${mib(rssInUse(m.baseline))} → ${mib(rssInUse(m.after))} (bound: + ${mib(RSS_BOUND_BYTES)}); heap used after GC ${mib(m.baseline.heapUsed)} → ${mib(m.after.heapUsed)} (bound: + ${mib(HEAP_BOUND_BYTES)}), heap total ${mib(m.baseline.heapTotal)} → ${mib(m.after.heapTotal)}, external ${mib(m.baseline.external)} → ${mib(m.after.external)}, array buffers ${mib(m.baseline.arrayBuffers)} → ${mib(m.after.arrayBuffers)}`,
    `  open file descriptors: ${r.fds.baseline} at the baseline, ${r.fds.after} after`,
    `  gateway alive: ${r.gatewayAlive}; /healthz ${r.healthz}; connections left over ${r.leftoverConnections}; error log lines ${r.errorLogLines.length}`,
    ...(r.failure ? [`  FAILURE: ${r.failure}`] : []),
    ...r.errorLogLines.slice(0, 5).map((l) => `  log: ${l.slice(0, 4000)}`),
    ...(r.roundTripFailures.length > 0 ? plan.target.warnLines.map((l) => `  warn: ${l.slice(0, 400)}`) : []),
  ].join('\n');
}

/** the assertions every protocol's fuzz test makes on its report */
export function expectations(r: FuzzReport): Array<[string, boolean]> {
  return [
    ['no counterexample', r.failure === undefined],
    ['the gateway process is alive', r.gatewayAlive],
    ['cases ran', r.stats.cases > 0],
    ['the well-behaved client never failed', r.roundTripFailures.length === 0],
    ['the well-behaved client kept working during the fuzz', r.roundTripsDuring > 0],
    ['and after it', r.roundTripsAfter === 20],
    ['every fuzz connection is gone', r.leftoverConnections === 0],
    ['no file descriptor left open', r.fds.after <= r.fds.baseline + 2],
    ['RSS back near the baseline', rssInUse(r.memory.after) <= rssInUse(r.memory.baseline) + RSS_BOUND_BYTES],
    ['heap back near the baseline', r.memory.after.heapUsed <= r.memory.baseline.heapUsed + HEAP_BOUND_BYTES],
    ['/healthz answers 200', r.healthz === 200],
    ['no error-level log lines', r.errorLogLines.length === 0],
  ];
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/**
 * One case of hand-made WebSocket frames (masking, opcodes, lengths mutated) sent after a valid
 * upgrade in `chunks`: the upgrade is answered, the server closes or the client gives up by
 * itself, and the connection never hangs.
 */
export async function rawWebSocketCase(
  stats: FuzzStats,
  target: { port: number; path: string; subprotocol: string },
  bytes: Buffer,
  chunks: Buffer[],
  abort: boolean,
): Promise<void> {
  stats.bytesSent += bytes.length;
  const outcome = await rawWebSocketExchange(target.port, target.path, target.subprotocol, chunks, { lingerMs: LINGER_MS, hangMs: HANG_MS, abort });
  if (abort) stats.aborted++;
  stats.connections++;
  if (outcome.closedBy === 'server') stats.closedByServer++;
  else stats.closedByClient++;
  if (!abort) expect(outcome.upgraded || outcome.closedBy === 'server', 'the upgrade was answered').toBe(true);
  expect(outcome.hung, `raw WebSocket frames: still open after ${HANG_MS} ms (${bytes.toString('hex').slice(0, 200)})`).toBe(false);
  stats.error('raw WebSocket frames: closed');
}
