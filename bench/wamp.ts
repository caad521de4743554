// WAMP through Tributary:
//   1. fan-out: events/s delivered to 100 WAMP subscribers of one topic (one publisher,
//      wamp.2.json, every event to every subscriber — checked, none may be missing);
//   2. RPC round trip: CALL → (fabric) → INVOCATION → YIELD → (fabric) → RESULT, p50/p99 with
//      one call in flight, and calls/s with 32 in flight.
// The gateway runs in a child process (its CPU is its own); clients are raw `ws` peers that
// count frames without autobahn's per-message promises.
//
//   npx tsx bench/wamp.ts [embedded|amqp] [events] [subscribers] [calls]
//   TRIBUTARY_BENCH_AMQP_URL=amqp://... (default amqp://guest:guest@127.0.0.1:5672)

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const AMQP_URL = process.env.TRIBUTARY_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const FABRIC = (process.argv[2] ?? 'embedded') as 'embedded' | 'amqp';
const EVENTS = Number(process.argv[3] ?? 20_000);
const SUBSCRIBERS = Number(process.argv[4] ?? 100);
const CALLS = Number(process.argv[5] ?? 5_000);
const PAYLOAD = 'x'.repeat(64);

// ---- child: the gateway ------------------------------------------------------------------

async function child(): Promise<void> {
  const { buildGateway } = await import('../src/gateway.js');
  const { testConfig } = await import('../test/support/config.js');
  const config = testConfig({
    amqpUrl: process.env.BENCH_FABRIC === 'amqp' ? AMQP_URL : null,
    logLevel: 'silent',
    stomp: { port: null },
    mqtt: { port: null },
    limits: { maxConnectionsPerAddress: 10_000, maxInflightPerSession: 1024 },
  } as never);
  const gw = buildGateway(config);
  const ports = await gw.start();
  process.on('message', (m: string) => {
    if (m === 'stop') void gw.stop().then(() => process.exit(0));
  });
  process.send?.({ http: ports.http });
}

// ---- parent: raw WAMP peers ----------------------------------------------------------------

class Peer {
  private nextId = 1;
  private waiting = new Map<number, (m: unknown[]) => void>();
  /** every frame that is not a reply we wait for */
  onFrame: (text: string) => void = () => undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => {
      const text = String(data);
      // replies we await are parsed; EVENT/RESULT/INVOCATION go to onFrame unparsed
      if (text.startsWith('[33,') || text.startsWith('[65,') || text.startsWith('[17,') || text.startsWith('[2,') || text.startsWith('[8,')) {
        const m = JSON.parse(text) as unknown[];
        const id = (m[0] === 8 ? m[2] : m[0] === 2 ? 0 : m[1]) as number;
        this.waiting.get(id)?.(m);
        this.waiting.delete(id);
        return;
      }
      this.onFrame(text);
    });
  }

  static async open(url: string): Promise<Peer> {
    const ws = new WebSocket(url, ['wamp.2.json'], { perMessageDeflate: false });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const peer = new Peer(ws);
    await peer.request([1, 'realm1', { roles: { publisher: {}, subscriber: {}, caller: {}, callee: {} } }], 0);
    return peer;
  }

  request(msg: unknown[], id = this.nextId++): Promise<unknown[]> {
    if (msg[0] !== 1) msg[1] = id;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify(msg));
    });
  }

  send(msg: unknown[]): void {
    this.ws.send(JSON.stringify(msg));
  }

  id(): number {
    return this.nextId++;
  }
}

async function fanout(url: string): Promise<Record<string, number>> {
  const topic = `bench.fanout.${process.pid}`;
  let delivered = 0;
  let allDone!: () => void;
  const done = new Promise<void>((r) => (allDone = r));
  const target = EVENTS * SUBSCRIBERS;
  const subs: Peer[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const p = await Peer.open(url);
    p.onFrame = (text) => {
      if (text.startsWith('[36,') && ++delivered === target) allDone();
    };
    await p.request([32, 0, {}, topic]);
    subs.push(p);
  }
  const pub = await Peer.open(url);
  const started = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    // every 200th publication is acknowledged and awaited: the publisher never runs far ahead
    if (i % 200 === 199) await pub.request([16, 0, { acknowledge: true }, topic, [i, PAYLOAD]]);
    else pub.send([16, pub.id(), {}, topic, [i, PAYLOAD]]);
  }
  const published = performance.now();
  const timeout = setTimeout(() => allDone(), 120_000);
  await done;
  clearTimeout(timeout);
  const seconds = (performance.now() - started) / 1000;
  for (const p of [...subs, pub]) p.ws.close();
  return {
    subscribers: SUBSCRIBERS,
    publications: EVENTS,
    deliveries: delivered,
    missing: target - delivered,
    seconds: round(seconds),
    publicationsPerSecond: Math.round(EVENTS / ((published - started) / 1000)),
    eventsDeliveredPerSecond: Math.round(delivered / seconds),
  };
}

async function rpc(url: string): Promise<Record<string, number>> {
  const procedure = `bench.echo.${process.pid}`;
  const callee = await Peer.open(url);
  callee.onFrame = (text) => {
    if (!text.startsWith('[68,')) return;
    const m = JSON.parse(text) as unknown[];
    callee.send([70, m[1], {}, (m[4] as unknown[]) ?? []]);
  };
  await callee.request([64, 0, {}, procedure]);
  const caller = await Peer.open(url);
  const resolvers = new Map<number, () => void>();
  caller.onFrame = (text) => {
    if (!text.startsWith('[50,')) return;
    const id = Number(text.slice(4, text.indexOf(',', 4)));
    resolvers.get(id)?.();
    resolvers.delete(id);
  };
  const call = () =>
    new Promise<number>((resolve) => {
      const id = caller.id();
      const t0 = performance.now();
      resolvers.set(id, () => resolve(performance.now() - t0));
      caller.send([48, id, {}, procedure, [PAYLOAD]]);
    });
  for (let i = 0; i < 200; i++) await call(); // warm-up
  const one: number[] = [];
  for (let i = 0; i < CALLS; i++) one.push(await call());
  const concurrent: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      for (let i = 0; i < CALLS / 32; i++) concurrent.push(await call());
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  callee.ws.close();
  caller.ws.close();
  return {
    calls: CALLS,
    p50Ms: percentile(one, 0.5),
    p99Ms: percentile(one, 0.99),
    meanMs: round(one.reduce((a, b) => a + b, 0) / one.length),
    concurrentCallsPerSecond: Math.round(concurrent.length / seconds),
    concurrentP50Ms: percentile(concurrent, 0.5),
    concurrentP99Ms: percentile(concurrent, 0.99),
  };
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

async function parent(): Promise<void> {
  const proc: ChildProcess = fork(fileURLToPath(import.meta.url), ['child'], {
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROFILE] : [])],
    env: { ...process.env, BENCH_FABRIC: FABRIC },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { http } = await new Promise<{ http: number }>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as { http: number }));
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  const url = `ws://127.0.0.1:${http}/ws`;
  const result = { fabric: FABRIC, node: process.version, fanout: await fanout(url), rpc: await rpc(url) };
  console.log(JSON.stringify(result, null, 2));
  proc.send('stop');
  await new Promise((r) => proc.once('exit', r));
}

if (process.argv[2] === 'child') await child();
else await parent();
