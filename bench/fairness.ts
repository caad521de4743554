// npm run bench -- fairness [--quick] [--rate 1200] [--flood-rate 300] [--quiet-every-ms 10]
//                           [--backlog 50000] [--output-queue-length 200]
//
// Per-publisher fair queues against a plain shared queue. One publisher floods: a backlog of
// 50,000 messages, then it keeps publishing at the consumer's rate; nine quiet publishers send
// one message every 10 ms; one consumer processes at a fixed rate. Three ways, one invocation:
//
//   fifo    MQTT publishers → gateway → amq.topic → one shared queue → consumer
//   mqtt    MQTT publishers → gateway → fair stream (publisher queues, dispatcher) → .out → consumer
//   intake  AMQP publishers → amq.topic → the stream's intake → dispatcher sorts → … → consumer
//
// Reported: the quiet publishers' end-to-end latency (publish call → processed by the consumer)
// p50/p99/max, the same with no flood (fair modes), and Jain's fairness index: (1) over all ten
// publishers of what each got relative to its max-min fair share (a quiet publisher's share is
// what it sends, the flood's the rest), (2) among three backlogged publishers on a fair stream.
// FIFO runs a shorter window (its quiet messages wait behind the whole backlog whenever they are
// sent) and then drains until they come out; any still queued after that count with the time
// they had waited so far (marked ≥: a lower bound).
//
// The gateway runs as its own process (src/main.ts with a config file naming the streams), on
// the RabbitMQ at TRIBUTARY_BENCH_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672). The
// last line printed is the result as JSON (bench/run.ts keeps it in the report).
// BENCH_PROFILE=<dir> writes the gateway's CPU profile there; BENCH_FAIRNESS_DEBUG=1 prints the
// dispatcher's figures every second while measuring.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import mqtt, { type MqttClient } from 'mqtt';
import { fairOutputQueue, publisherQueue } from '../src/fair/index.js';
import { announcedQueue, intakeQueue, registryQueue } from '../src/fair/names.js';
import { jainIndex } from '../src/fair/stats.js';
import { Samples, type LatencySummary } from './lib/stats.js';
import { builtTributary } from './lib/build.js';
import { REPO_ROOT, freePort } from './lib/tributary.js';

const quick = process.argv.includes('--quick');
const scale = quick ? 0.1 : 1;
/** `--name value` from the command line, as a number */
function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : Number(process.argv[i + 1]);
  return v === undefined || !Number.isFinite(v) || v <= 0 ? fallback : v;
}
const CFG = {
  backlog: Math.round(arg('backlog', 50_000) * scale),
  quietPublishers: 9,
  quietEveryMs: arg('quiet-every-ms', 10),
  /** messages/s the consumer processes, and the flood's rate after its backlog */
  consumerRate: arg('rate', 1_200),
  floodRate: arg('flood-rate', 300),
  consumerPrefetch: 10,
  outputQueueLength: arg('output-queue-length', 500),
  windowMs: quick ? 5_000 : 15_000,
  baselineMs: quick ? 3_000 : 6_000,
  /**
   * FIFO: quiet messages wait behind the whole backlog whenever they are sent, so a short window
   * shows it; the consumer then keeps going until they come out (the backlog at its rate, with
   * half again as margin) — what is still queued after that is censored
   */
  fifoWindowMs: quick ? 2_000 : 5_000,
  fifoExtraMs: 0,
  jainFloods: 3,
  jainMs: quick ? 3_000 : 6_000,
};
CFG.fifoExtraMs = Math.round((1.5 * CFG.backlog * 1000) / CFG.consumerRate);
const AMQP_URL = process.env.TRIBUTARY_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const RUN = Date.now().toString(36);
const S = { mqtt: `fm${RUN}`, intake: `fi${RUN}`, jain: `fj${RUN}`, fifo: `ff${RUN}` };
const FIFO_QUEUE = `bench.fifo.${RUN}`;
const QUIET = Array.from({ length: CFG.quietPublishers }, (_, i) => `q${i + 1}`);
const FLOODS = Array.from({ length: CFG.jainFloods }, (_, i) => `f${i + 1}`);

const log = (m: string): void => console.log(`[fairness ${new Date().toISOString().slice(11, 19)}] ${m}`);

// ---- the gateway process ------------------------------------------------------------------

interface Gateway {
  mqtt: number;
  http: number;
  stop(): Promise<void>;
  output(): string;
}

function gatewayConfig(): string {
  const stream = (name: string, extra: string) =>
    `    - name: ${name}\n      patterns: ["${name}.#"]\n      maxPerPublisher: 200000\n      outputQueueLength: ${CFG.outputQueueLength}\n${extra}`;
  // MQTT publishers are told apart by the client-id header the MQTT module sets on every publish
  return [
    'fair:',
    '  streams:',
    stream(S.mqtt, '      publisherBy: "header:x-opt-mqtt-client-id"\n'),
    stream(S.intake, '      publisherBy: "header:x-publisher"\n      amqpIntake: true\n'),
    stream(S.jain, '      publisherBy: "header:x-opt-mqtt-client-id"\n'),
  ].join('\n');
}

async function startGateway(dir: string): Promise<Gateway> {
  const [mqttPort, http] = [await freePort(), await freePort()];
  const configFile = join(dir, 'fairness.yaml');
  writeFileSync(configFile, gatewayConfig());
  const profile = process.env.BENCH_PROFILE === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE];
  const args = [...profile, await builtTributary(REPO_ROOT), '--config', configFile, '--amqp-url', AMQP_URL, '--host', '127.0.0.1', '--mqtt-port', String(mqttPort), '--stomp-port', 'off', '--http-port', String(http), '--log-level', 'warn'];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(line.slice(0, 400));
    lines.splice(0, Math.max(0, lines.length - 40));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.once('exit', () => child.exitCode === null && child.kill('SIGKILL'));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    if ((await Promise.race([exited.then(() => 'done'), sleep(15_000).then(() => 'timeout')])) === 'timeout') child.kill('SIGKILL');
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited before it was ready:\n${lines.join('\n')}`);
    const ok = await fetch(`http://127.0.0.1:${http}/readyz`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the gateway was not ready within 30 s:\n${lines.join('\n')}`);
    }
    await sleep(100);
  }
  return { mqtt: mqttPort, http, stop, output: () => lines.join('\n') };
}

async function fairStatus(gw: Gateway, stream: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${gw.http}/api/fair/${stream}`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
  return (await res.json()) as Record<string, unknown>;
}

// ---- publishers -----------------------------------------------------------------------------

interface Publisher {
  readonly id: string;
  send(seq: number): void;
  /** resolves once everything sent before has reached the broker (a confirmed publish) */
  sync(): Promise<void>;
  close(): Promise<void>;
}

const body = (id: string, seq: number): Buffer => Buffer.from(JSON.stringify({ p: id, s: seq, t: performance.now() }));

async function mqttPublisher(port: number, id: string, stream: string): Promise<Publisher> {
  const client: MqttClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: id, protocolVersion: 5, reconnectPeriod: 0 });
  const topic = `${stream}/${id}`;
  return {
    id,
    send: (seq) => void client.publish(topic, body(id, seq), { qos: 0 }),
    sync: () => client.publishAsync(topic, body(id, -1), { qos: 1 }).then(() => undefined),
    close: () => client.endAsync(),
  };
}

async function amqpPublisher(conn: ChannelModel, id: string, stream: string): Promise<Publisher> {
  const ch: ConfirmChannel = await conn.createConfirmChannel();
  const options = { headers: { 'x-publisher': id } };
  return {
    id,
    send: (seq) => void ch.publish('amq.topic', `${stream}.${id}`, body(id, seq), options),
    sync: () => ch.waitForConfirms(),
    close: () => ch.close().catch(() => undefined),
  };
}

/** call `send` `ratePerSecond` times a second (catching up after a late timer), until stopped */
function pace(ratePerSecond: number, send: () => void): () => void {
  const start = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - start) * ratePerSecond) / 1000);
    for (; sent < due; sent++) send();
  }, 1);
  return () => clearInterval(timer);
}

/** every publisher of `quiet` sends one message each `everyMs`, phases spread evenly */
function quietTraffic(quiet: Publisher[], everyMs: number): () => void {
  const stops = quiet.map((p, i) => {
    let seq = 0;
    const offset = (i * everyMs) / quiet.length;
    let stop: () => void = () => undefined;
    const t = setTimeout(() => {
      stop = pace(1000 / everyMs, () => p.send(seq++));
    }, offset);
    return () => {
      clearTimeout(t);
      stop();
    };
  });
  return () => stops.forEach((s) => s());
}

async function preload(p: Publisher, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    p.send(i);
    if (i % 1000 === 999) await p.sync();
  }
  await p.sync();
}

// ---- the consumer ---------------------------------------------------------------------------

interface Taken {
  p: string;
  t: number;
  at: number;
}

/** consumes a queue and processes at a fixed rate (a token bucket; see tick()) */
class FixedRateConsumer {
  private readonly buffer: ConsumeMessage[] = [];
  private timer: NodeJS.Timeout | null = null;
  private tag: string | null = null;
  private tokens = 0;
  private last = 0;
  processed = 0;

  constructor(
    private readonly ch: Channel,
    private readonly queue: string,
    private readonly onProcessed: (m: Taken) => void,
  ) {}

  async start(): Promise<void> {
    await this.ch.prefetch(CFG.consumerPrefetch);
    const ok = await this.ch.consume(this.queue, (m) => m && this.buffer.push(m));
    this.tag = ok.consumerTag;
    this.last = performance.now();
    this.timer = setInterval(() => this.tick(), 1);
  }

  private tick(): void {
    const now = performance.now();
    const rate = CFG.consumerRate / 1000;
    // a late timer is caught up (up to 50 ms of work), but idle time banks no credit
    this.tokens = this.buffer.length === 0 ? Math.min(this.tokens, 1) : Math.min(this.tokens + (now - this.last) * rate, Math.max(1, 50 * rate));
    this.last = now;
    while (this.tokens >= 1 && this.buffer.length > 0) {
      const m = this.buffer.shift() as ConsumeMessage;
      this.tokens -= 1;
      this.processed++;
      const b = JSON.parse(m.content.toString('utf8')) as { p: string; s: number; t: number };
      if (b.s >= 0) this.onProcessed({ p: b.p, t: b.t, at: now });
      this.ch.ack(m);
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (this.tag !== null) await this.ch.cancel(this.tag);
    this.tag = null;
    // what it held and did not process goes back
    for (const m of this.buffer.splice(0)) this.ch.nack(m, false, true);
  }
}

// ---- measuring ----------------------------------------------------------------------------------

interface WindowResult {
  quiet: LatencySummary & { censored: number };
  /** messages each publisher got processed during the window */
  processed: Record<string, number>;
  consumedPerSecond: number;
  jainMaxMin: number | null;
}

/** Jain's index of what each publisher got relative to its max-min fair share */
function maxMinJain(processed: Record<string, number>, demand: Record<string, number>): number | null {
  const total = Object.values(processed).reduce((a, b) => a + b, 0);
  const ids = Object.keys(demand).sort((a, b) => (demand[a] as number) - (demand[b] as number));
  const share: Record<string, number> = {};
  let left = total;
  ids.forEach((id, i) => {
    const even = left / (ids.length - i);
    share[id] = Math.min(demand[id] as number, even);
    left -= share[id] as number;
  });
  return jainIndex(ids.map((id) => (share[id] as number) > 0 ? (processed[id] ?? 0) / (share[id] as number) : 1));
}

/**
 * Run quiet traffic (and the flood, if given) for `ms` while `consumer` processes; collect the
 * quiet publishers' latencies for messages sent in the window, waiting up to `drainMs` after it
 * for the last of them (what is still missing then is censored at its age so far).
 */
async function measure(opts: { quiet: Publisher[]; flood?: Publisher; ms: number; drainMs: number; start(onProcessed: (m: Taken) => void): Promise<FixedRateConsumer> }): Promise<WindowResult> {
  const samples = new Samples();
  const processed: Record<string, number> = {};
  let windowOpen = false;
  let windowStart = 0;
  let windowEnd = Number.POSITIVE_INFINITY;
  const consumer = await opts.start((m) => {
    if (windowOpen && m.at <= windowEnd) processed[m.p] = (processed[m.p] ?? 0) + 1;
    if (m.p.startsWith('q') && m.t >= windowStart && m.t <= windowEnd) samples.add(m.at - m.t);
  });
  // quiet publishers count what they sent in the window, to find the ones never processed
  const sent = new Map<string, number[]>();
  const quiet = opts.quiet.map((p) => ({
    ...p,
    send: (seq: number) => {
      const list = sent.get(p.id) ?? [];
      list.push(performance.now());
      sent.set(p.id, list);
      p.send(seq);
    },
  }));
  windowStart = performance.now();
  windowOpen = true;
  const stopQuiet = quietTraffic(quiet, CFG.quietEveryMs);
  let floodSeq = 0;
  const stopFlood = opts.flood ? pace(CFG.floodRate, () => (opts.flood as Publisher).send(floodSeq++)) : () => undefined;
  await sleep(opts.ms);
  stopQuiet();
  stopFlood();
  windowEnd = performance.now();
  const sentCount = [...sent.values()].reduce((n, l) => n + l.length, 0);
  const drainDeadline = performance.now() + opts.drainMs;
  while (samples.count < sentCount && performance.now() < drainDeadline) await sleep(20);
  await consumer.stop();
  // censoring: the messages not processed count with the time they have waited so far
  const now = performance.now();
  const received = samples.count;
  const allSent = [...sent.values()].flat().sort((a, b) => a - b);
  // the oldest unprocessed are the earliest sent ones (FIFO); newer ones were processed, if any
  const missing = allSent.slice(0, Math.max(0, allSent.length - received));
  for (const t of missing) samples.add(now - t);
  const demand: Record<string, number> = {};
  for (const q of opts.quiet) demand[q.id] = (sent.get(q.id)?.length ?? 0);
  if (opts.flood) demand[opts.flood.id] = Number.POSITIVE_INFINITY;
  const seconds = (windowEnd - windowStart) / 1000;
  return {
    quiet: { ...samples.summary(), censored: missing.length },
    processed,
    consumedPerSecond: Object.values(processed).reduce((a, b) => a + b, 0) / seconds,
    jainMaxMin: opts.flood ? maxMinJain(processed, demand) : null,
  };
}

// ---- the three ways ---------------------------------------------------------------------------------

interface ModeResult {
  mode: string;
  noFlood: WindowResult | null;
  flood: WindowResult;
  preloadSeconds: number;
  dispatcher?: Record<string, unknown>;
}

/** BENCH_FAIRNESS_DEBUG=1: the dispatcher's figures every second while measuring */
function debugWatch(gw: Gateway, stream: string, admin: Channel): () => void {
  if (process.env.BENCH_FAIRNESS_DEBUG !== '1') return () => undefined;
  const timer = setInterval(() => {
    void (async () => {
      const st = await fairStatus(gw, stream);
      const out = await admin.checkQueue(fairOutputQueue(stream));
      const intake = st['intake'] === null ? '' : ` intake=${(await admin.checkQueue(intakeQueue(stream))).messageCount}`;
      log(`  ${stream}: out=${out.messageCount} inFlight=${String(st['inFlight'])} confirmMs=${String(st['outputConfirmMs'])} target=${String(st['outputTarget'])} full=${String(st['outputFull'])} active=${String(st['activePublishers'])} dispatched/s=${Math.round(Number(st['dispatchedPerSecond']))}${intake} top=${JSON.stringify(st['backlogTop'])}`);
    })().catch(() => undefined);
  }, 1_000);
  return () => clearInterval(timer);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function runFifo(gw: Gateway, conn: ChannelModel): Promise<ModeResult> {
  const admin = await conn.createChannel();
  await admin.assertQueue(FIFO_QUEUE, { durable: true });
  await admin.bindQueue(FIFO_QUEUE, 'amq.topic', `${S.fifo}.#`);
  const quiet = await Promise.all(QUIET.map((id) => mqttPublisher(gw.mqtt, id, S.fifo)));
  const flood = await mqttPublisher(gw.mqtt, 'flood', S.fifo);
  log(`fifo: flooding a backlog of ${CFG.backlog}`);
  const t0 = performance.now();
  await preload(flood, CFG.backlog);
  await waitFor(async () => (await admin.checkQueue(FIFO_QUEUE)).messageCount >= CFG.backlog, 60_000, 'the FIFO backlog');
  const preloadSeconds = (performance.now() - t0) / 1000;
  log(`fifo: backlog in place after ${preloadSeconds.toFixed(1)} s; measuring ${CFG.fifoWindowMs / 1000} s (+ up to ${CFG.fifoExtraMs / 1000} s until the quiet messages come out)`);
  const ch = await conn.createChannel();
  const result = await measure({ quiet, flood, ms: CFG.fifoWindowMs, drainMs: CFG.fifoExtraMs, start: async (on) => {
    const c = new FixedRateConsumer(ch, FIFO_QUEUE, on);
    await c.start();
    return c;
  } });
  await Promise.all([...quiet, flood].map((p) => p.close()));
  await admin.deleteQueue(FIFO_QUEUE);
  await Promise.all([admin.close(), ch.close()]);
  return { mode: 'fifo', noFlood: null, flood: result, preloadSeconds };
}

async function runFair(gw: Gateway, conn: ChannelModel, via: 'mqtt' | 'intake'): Promise<ModeResult> {
  const stream = via === 'mqtt' ? S.mqtt : S.intake;
  const make = (id: string) => (via === 'mqtt' ? mqttPublisher(gw.mqtt, id, stream) : amqpPublisher(conn, id, stream));
  const quiet = await Promise.all(QUIET.map(make));
  const flood = await make('flood');
  const admin = await conn.createChannel();
  const out = fairOutputQueue(stream);
  const consumerOn = async (on: (m: Taken) => void): Promise<FixedRateConsumer> => {
    const c = new FixedRateConsumer(await conn.createChannel(), out, on);
    await c.start();
    return c;
  };
  log(`${via}: no flood, ${CFG.baselineMs / 1000} s`);
  const noFlood = await measure({ quiet, ms: CFG.baselineMs, drainMs: 5_000, start: consumerOn });

  log(`${via}: flooding a backlog of ${CFG.backlog}`);
  const t0 = performance.now();
  await preload(flood, CFG.backlog);
  if (via === 'intake') {
    await waitFor(async () => (await admin.checkQueue(intakeQueue(stream))).messageCount === 0, 90_000, 'the intake to be sorted');
  }
  const floodQueue = publisherQueue(stream, 'flood');
  await waitFor(async () => (await admin.checkQueue(floodQueue)).messageCount >= CFG.backlog - CFG.outputQueueLength - 64, 60_000, 'the backlog in the publisher queue');
  const preloadSeconds = (performance.now() - t0) / 1000;
  log(`${via}: backlog in place after ${preloadSeconds.toFixed(1)} s; measuring ${CFG.windowMs / 1000} s`);
  const watch = debugWatch(gw, stream, admin);
  const result = await measure({ quiet, flood, ms: CFG.windowMs, drainMs: 10_000, start: consumerOn });
  watch();
  const dispatcher = await fairStatus(gw, stream);
  await Promise.all([...quiet, flood].map((p) => p.close()));
  await admin.close();
  return { mode: via === 'mqtt' ? 'fair over MQTT' : 'fair over AMQP intake', noFlood, flood: result, preloadSeconds, dispatcher };
}

/** three backlogged publishers on one fair stream: Jain's index among them */
async function runJain(gw: Gateway, conn: ChannelModel): Promise<{ processed: Record<string, number>; jain: number | null; dispatcherJain: unknown }> {
  const floods = await Promise.all(FLOODS.map((id) => mqttPublisher(gw.mqtt, id, S.jain)));
  const each = Math.round(CFG.backlog / 10);
  log(`jain: ${FLOODS.length} publishers with a backlog of ${each} each, ${CFG.jainMs / 1000} s`);
  await Promise.all(floods.map((f) => preload(f, each)));
  const processed: Record<string, number> = {};
  const c = new FixedRateConsumer(await conn.createChannel(), fairOutputQueue(S.jain), (m) => {
    processed[m.p] = (processed[m.p] ?? 0) + 1;
  });
  const stops = floods.map((f) => {
    let seq = 0;
    return pace(CFG.consumerRate / FLOODS.length, () => f.send(seq++));
  });
  await c.start();
  // skip the first second (the output queue and the consumer's prefetch were filled in turn)
  await sleep(1_000);
  for (const k of Object.keys(processed)) processed[k] = 0;
  await sleep(CFG.jainMs);
  const snapshot = { ...processed };
  const status = await fairStatus(gw, S.jain);
  stops.forEach((s) => s());
  await c.stop();
  await Promise.all(floods.map((f) => f.close()));
  return { processed: snapshot, jain: jainIndex(FLOODS.map((id) => snapshot[id] ?? 0)), dispatcherJain: status['jain'] };
}

async function cleanup(conn: ChannelModel): Promise<void> {
  const ch = await conn.createChannel();
  ch.on('error', () => undefined);
  const queues = [FIFO_QUEUE];
  for (const s of [S.mqtt, S.intake, S.jain]) {
    queues.push(fairOutputQueue(s), announcedQueue(s), registryQueue(s), intakeQueue(s));
    for (const id of ['flood', ...QUIET, ...FLOODS]) queues.push(publisherQueue(s, id));
  }
  for (const q of queues) await ch.deleteQueue(q).catch(() => undefined);
  await ch.close().catch(() => undefined);
}

// ---- report -------------------------------------------------------------------------------------

const ms = (x: number): string => (Number.isNaN(x) ? '–' : x >= 1000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(1)} ms`);
const bound = (r: WindowResult, x: number): string => `${r.quiet.censored > 0 ? '≥ ' : ''}${ms(x)}`;

function report(modes: ModeResult[], jain3: Awaited<ReturnType<typeof runJain>>): { table: string; checks: string[] } {
  const fifo = modes.find((m) => m.mode === 'fifo') as ModeResult;
  const rows = modes.map((m) => {
    const f = m.flood;
    const ratio = m.noFlood ? `${(f.quiet.p99 / m.noFlood.quiet.p99).toFixed(1)}×` : '–';
    const vsFifo = m === fifo ? '1×' : `${Math.round(fifo.flood.quiet.p99 / f.quiet.p99)}× better`;
    return `| ${m.mode} | ${bound(f, f.quiet.p50)} | ${bound(f, f.quiet.p99)} | ${bound(f, f.quiet.max)} | ${m.noFlood ? ms(m.noFlood.quiet.p99) : '–'} | ${ratio} | ${vsFifo} | ${f.jainMaxMin?.toFixed(3) ?? '–'} | ${Math.round(f.consumedPerSecond)} |`;
  });
  const table = [
    '| way | quiet p50 | quiet p99 | quiet max | p99, no flood | p99 flood / no flood | p99 vs FIFO | Jain (max-min, 10 publishers) | processed/s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Jain's index among ${FLOODS.length} backlogged publishers on a fair stream: ${jain3.jain?.toFixed(4) ?? '–'} (processed ${FLOODS.map((f) => jain3.processed[f] ?? 0).join(' / ')}; the dispatcher's own window figure: ${typeof jain3.dispatcherJain === 'number' ? jain3.dispatcherJain.toFixed(4) : '–'})`,
  ].join('\n');
  const checks: string[] = [];
  for (const m of modes) {
    if (m.noFlood === null) continue;
    const ratio = m.flood.quiet.p99 / m.noFlood.quiet.p99;
    const better = fifo.flood.quiet.p99 / m.flood.quiet.p99;
    checks.push(`${ratio <= 5 ? '✔' : '✘'} ${m.mode}: quiet p99 ${ratio.toFixed(1)}× its no-flood p99 (target ≤ 5×)`);
    checks.push(`${better >= 100 ? '✔' : '✘'} ${m.mode}: quiet p99 ${Math.round(better)}× better than FIFO (target ≥ 100×${fifo.flood.quiet.censored > 0 ? '; FIFO is a lower bound' : ''})`);
  }
  checks.push(`${(jain3.jain ?? 0) >= 0.99 ? '✔' : '✘'} Jain's index among backlogged publishers ${jain3.jain?.toFixed(4) ?? '–'} (target ≥ 0.99)`);
  return { table, checks };
}

async function main(): Promise<number> {
  const conn = await connect(AMQP_URL).catch((err: unknown) => {
    throw new Error(`no RabbitMQ at ${AMQP_URL}: ${String(err)}`);
  });
  conn.on('error', () => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'tributary-fairness-'));
  const t0 = performance.now();
  log(`config ${JSON.stringify(CFG)}`);
  const gw = await startGateway(dir);
  try {
    const modes = [await runFifo(gw, conn), await runFair(gw, conn, 'mqtt'), await runFair(gw, conn, 'intake')];
    const jain3 = await runJain(gw, conn);
    const { table, checks } = report(modes, jain3);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`\n${table}\n\n${checks.join('\n')}\n\nconsumer ${CFG.consumerRate}/s (prefetch ${CFG.consumerPrefetch}), output queue ${CFG.outputQueueLength}, flood ${CFG.floodRate}/s after a backlog of ${CFG.backlog}, ${CFG.quietPublishers} quiet publishers every ${CFG.quietEveryMs} ms, window ${CFG.windowMs / 1000} s (FIFO ${CFG.fifoWindowMs / 1000} s); load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} on ${cpus().length} CPUs; ${seconds.toFixed(0)} s in all`);
    const data = { config: CFG, seconds, loadavg: loadavg(), cpus: cpus().length, modes, jain3, checks };
    console.log(`\n${JSON.stringify(data)}`);
    return 0;
  } catch (err) {
    console.error(`fairness bench failed: ${(err as Error).stack ?? String(err)}\n--- gateway output ---\n${gw.output()}`);
    return 1;
  } finally {
    await cleanup(conn).catch(() => undefined);
    await gw.stop();
    await conn.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
