// The load driver every messaging scenario shares. A scenario wires its clients to two
// calls: `send(stream, payload)` publishes one message on a publisher stream, and the
// receivers report each delivery with `received(receiver, payload)`. The driver runs:
//
//   1. a throughput phase: `messages` publishes as fast as the path takes them, with at
//      most `window` messages in flight (published, not yet delivered to every receiver),
//      so that no server is flooded beyond a bounded queue; the rate is deliveries/s;
//   2. a latency phase: `latency.messages` publishes at a fixed `latency.rate` (well below
//      any server's capacity, the same for every server), measuring end-to-end latency
//      from the send timestamp carried in the payload to the delivery.
//
// Payload (ASCII, so it survives text frames): "<phase>:<stream>:<seq>:<sentAtMs>:" padded
// with 'x' to `payloadBytes`. Ordering per stream lets a gap count as a loss without
// waiting for it: in-flight = sent − Σ(last seq seen + 1) for the slowest receiver.
import { performance } from 'node:perf_hooks';
import { Samples, type LatencySummary } from './stats.js';

export interface FlowOptions {
  streams: number;
  receivers: number;
  payloadBytes: number;
  window: number;
  messages: number;
  /** the throughput phase stops sending after this long, even if `messages` are not all sent */
  throughputMs: number;
  latency: { rate: number; messages: number };
  /** a phase ends this long after the last delivery once everything is sent */
  stallMs: number;
  /** hard bound for one phase */
  phaseTimeoutMs: number;
  /** messages sent (within at most 1 s) before the measured phases, to warm JIT and caches */
  warmup?: number;
}

export interface FlowIo {
  send(stream: number, payload: Buffer): void;
}

export interface PhaseResult {
  sent: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  ms: number;
  /** deliveries per second over first send → last delivery */
  rate: number;
  latency: LatencySummary;
  timedOut: boolean;
  /** the raw samples, for pooling across runs (left out of the JSON report) */
  samples?: Samples;
}

export interface FlowResult {
  /** deliveries in the warm-up (not measured; counted for CPU per message) */
  warmupDelivered: number;
  throughput: PhaseResult;
  latency: PhaseResult & { targetRate: number };
}

const PAD = 0x78; // 'x'
/** pause between the throughput and the fixed-rate phase (see run()) */
const SETTLE_MS = 500;

export function encodePayload(phase: number, stream: number, seq: number, sentAt: number, size: number): Buffer {
  const head = `${phase}:${stream}:${seq}:${sentAt.toFixed(3)}:`;
  const out = Buffer.allocUnsafe(Math.max(size, head.length));
  const n = out.write(head, 0, 'latin1');
  out.fill(PAD, n);
  return out;
}

export interface Decoded {
  phase: number;
  stream: number;
  seq: number;
  sentAt: number;
}

/** parse the header of a payload (Buffer or string); undefined when it is not ours */
export function decodePayload(data: Buffer | string): Decoded | undefined {
  const text = typeof data === 'string' ? data.slice(0, 64) : data.toString('latin1', 0, Math.min(data.length, 64));
  const parts = text.split(':', 4);
  if (parts.length < 4) return undefined;
  const phase = Number(parts[0]);
  const stream = Number(parts[1]);
  const seq = Number(parts[2]);
  const sentAt = Number(parts[3]);
  if (!Number.isFinite(phase) || !Number.isFinite(seq) || !Number.isFinite(sentAt)) return undefined;
  return { phase, stream, seq, sentAt };
}

class Phase {
  readonly lastSeq: Int32Array[];
  readonly pos: Float64Array;
  readonly samples = new Samples();
  sent = 0;
  delivered = 0;
  duplicates = 0;
  firstSend = 0;
  lastDelivery = 0;
  finished = false;
  /** performance.now() after which a throughput phase sends no more */
  deadline = Number.POSITIVE_INFINITY;

  constructor(
    readonly id: number,
    public total: number,
    streams: number,
    receivers: number,
  ) {
    this.lastSeq = Array.from({ length: receivers }, () => new Int32Array(streams).fill(-1));
    this.pos = new Float64Array(receivers);
  }

  minPos(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const p of this.pos) if (p < min) min = p;
    return min;
  }

  done(): boolean {
    return this.sent === this.total && this.minPos() >= this.total;
  }
}

export class Flow {
  private phase: Phase | undefined;
  private phaseCounter = 0;
  private readonly seqByStream: number[];
  private pumpScheduled = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly opts: FlowOptions,
    private readonly io: FlowIo,
  ) {
    this.seqByStream = new Array<number>(opts.streams).fill(0);
  }

  /** a receiver got a message (any payload; foreign or stale ones are ignored) */
  received(receiver: number, data: Buffer | string): void {
    const now = performance.now();
    const phase = this.phase;
    if (!phase) return;
    const d = decodePayload(data);
    if (!d || d.phase !== phase.id) return;
    const seqs = phase.lastSeq[receiver];
    if (!seqs) return;
    const last = seqs[d.stream];
    if (last === undefined) return;
    if (d.seq <= last) {
      phase.duplicates++;
      return;
    }
    seqs[d.stream] = d.seq;
    phase.pos[receiver]! += d.seq - last;
    phase.delivered++;
    phase.lastDelivery = now;
    phase.samples.add(now - d.sentAt);
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
        if (this.phase?.done()) this.wake?.();
      });
    }
  }

  async run(): Promise<FlowResult> {
    const warmup = this.opts.warmup && this.opts.warmup > 0 ? await this.throughputPhase(this.opts.warmup, 1_000) : undefined;
    const throughput = await this.throughputPhase(this.opts.messages, this.opts.throughputMs);
    // The fixed-rate phase measures a server at rest, not its recovery from the burst (the
    // scavenges, JIT and broker housekeeping the burst left behind): the same pause for every
    // target. Without it the first fixed-rate messages set the p99 of a 750-sample phase.
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    const latency = await this.latencyPhase();
    return { warmupDelivered: warmup?.delivered ?? 0, throughput, latency: { ...latency, targetRate: this.opts.latency.rate } };
  }

  private newPhase(total: number): Phase {
    const streamsTotal = this.opts.streams;
    this.seqByStream.fill(0);
    const phase = new Phase(++this.phaseCounter, total, streamsTotal, this.opts.receivers);
    this.phase = phase;
    return phase;
  }

  private sendOne(phase: Phase): void {
    const stream = phase.sent % this.opts.streams;
    const seq = this.seqByStream[stream]!;
    this.seqByStream[stream] = seq + 1;
    const now = performance.now();
    if (phase.sent === 0) phase.firstSend = now;
    phase.sent++;
    this.io.send(stream, encodePayload(phase.id, stream, seq, now, this.opts.payloadBytes));
  }

  private pump(): void {
    const phase = this.phase;
    if (!phase || phase.finished) return;
    if (this.latencyMode) return;
    if (performance.now() > phase.deadline) {
      phase.total = phase.sent;
      return;
    }
    const window = this.opts.window;
    while (phase.sent < phase.total && phase.sent - phase.minPos() < window) this.sendOne(phase);
  }

  private latencyMode = false;

  private throughputPhase(total: number, maxMs: number): Promise<PhaseResult> {
    this.latencyMode = false;
    const phase = this.newPhase(total);
    phase.deadline = performance.now() + maxMs;
    this.pump();
    return this.waitPhase(phase);
  }

  private latencyPhase(): Promise<PhaseResult> {
    this.latencyMode = true;
    const { rate, messages } = this.opts.latency;
    const phase = this.newPhase(messages);
    const start = performance.now();
    const timer = setInterval(() => {
      const due = Math.min(messages, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (phase.sent < due) this.sendOne(phase);
      if (phase.sent >= messages) clearInterval(timer);
    }, 2);
    return this.waitPhase(phase).finally(() => clearInterval(timer));
  }

  private waitPhase(phase: Phase): Promise<PhaseResult> {
    const { stallMs, phaseTimeoutMs } = this.opts;
    const started = performance.now();
    return new Promise((resolve) => {
      const finish = (timedOut: boolean): void => {
        if (phase.finished) return;
        phase.finished = true;
        clearInterval(check);
        this.wake = undefined;
        const expected = phase.sent * this.opts.receivers;
        const end = phase.lastDelivery > 0 ? phase.lastDelivery : performance.now();
        const ms = end - phase.firstSend;
        resolve({
          sent: phase.sent,
          expected,
          delivered: phase.delivered,
          lost: expected - phase.delivered,
          duplicates: phase.duplicates,
          ms,
          rate: ms > 0 ? (phase.delivered / ms) * 1000 : 0,
          latency: phase.samples.summary(),
          timedOut,
          samples: phase.samples,
        });
      };
      this.wake = () => finish(false);
      const check = setInterval(() => {
        const now = performance.now();
        if (!this.latencyMode && now > phase.deadline && phase.sent < phase.total) phase.total = phase.sent;
        if (phase.done()) return finish(false);
        if (now - started > phaseTimeoutMs) return finish(true);
        const quietSince = Math.max(phase.lastDelivery, phase.firstSend);
        if (phase.sent === phase.total && now - quietSince > stallMs) return finish(false);
        // a window stuck on lost messages: the rest would never be sent
        if (phase.sent < phase.total && now - quietSince > stallMs && !this.latencyMode) return finish(false);
      }, 50);
    });
  }
}
