// STOMP through Tributary next to direct AMQP, in the same run, on the same broker:
// one publisher → one subscriber on a topic, messages/s end to end.
//   - STOMP fire-and-forget: SEND without receipt → SUBSCRIBE ack:auto
//   - STOMP confirmed: every SEND with a receipt (RECEIPT after the broker's confirm),
//     SUBSCRIBE ack:client-individual with an ACK per MESSAGE
//   - the same two shapes with amqplib straight to RabbitMQ (no confirms/no-ack; confirms +
//     manual acks with the gateway's prefetch)
//   - RabbitMQ's own STOMP plugin, when it listens (bench/setup-rabbitmq-plugins.sh: 61623)
// The gateway runs in a child process so its CPU is its own; clients use Tributary's codec.
//
//   npx tsx bench/stomp-throughput.ts [messages] [payload bytes]
//   TRIBUTARY_BENCH_AMQP_URL=amqp://... (default amqp://guest:guest@127.0.0.1:5672; embedded if none answers)

import amqplib from 'amqplib';
import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { serializeFrame, type StompFrame } from '../src/protocols/stomp/frame.js';
import { StompParser } from '../src/protocols/stomp/parser.js';
import { directAmqpRate } from './lib/direct-amqp.js';

const AMQP_URL = process.env.TRIBUTARY_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const PLUGIN_PORT = Number(process.env.TRIBUTARY_BENCH_RABBIT_STOMP_PORT ?? 61623);
const MESSAGES = Number(process.argv[2] ?? 50_000);
const PAYLOAD = Buffer.alloc(Number(process.argv[3] ?? 256), 0x61);
const ROUNDS = 3;
/** the gateway's default prefetch bound (limits.maxInflightPerSession) */
const PREFETCH = Number(process.env.BENCH_PREFETCH ?? 32);

// ---- child: the gateway ------------------------------------------------------------------

async function child(): Promise<void> {
  const { buildGateway } = await import('../src/gateway.js');
  const { createStompProtocol } = await import('../src/protocols/stomp/index.js');
  const { testConfig } = await import('../test/support/config.js');
  const amqpUrl = process.env.BENCH_FABRIC === 'amqp' ? AMQP_URL : null;
  const config = testConfig({ amqpUrl, logLevel: 'silent', mqtt: { port: null }, httpPort: null, stomp: { heartbeatMs: 0 }, limits: { maxInflightPerSession: Math.max(PREFETCH, 32) } } as never);
  const gw = buildGateway(config, { protocols: [createStompProtocol] });
  const ports = await gw.start();
  process.on('message', (m: string) => {
    if (m === 'stop') void gw.stop().then(() => process.exit(0));
  });
  process.send?.({ stomp: ports.stomp, fabric: amqpUrl ? 'amqp' : 'embedded' });
}

// ---- a minimal STOMP client on our codec ---------------------------------------------------

class BenchClient {
  private readonly parser = new StompParser({ maxFrameBytes: 64 << 20, maxHeaders: 1000, maxHeaderBytes: 1 << 16 });
  onFrame: (f: StompFrame) => void = () => undefined;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      for (const e of this.parser.push(d)) {
        if (e.kind === 'frame') this.onFrame(e.frame);
        else if (e.kind === 'error') throw e.error;
      }
    });
  }

  static async connect(port: number): Promise<BenchClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
    const c = new BenchClient(socket);
    await c.request({ command: 'CONNECT', headers: [['accept-version', '1.2'], ['host', '/'], ['login', 'guest'], ['passcode', 'guest']] }, 'CONNECTED');
    return c;
  }

  request(frame: { command: string; headers: Array<[string, string]> }, expect: string): Promise<StompFrame> {
    return new Promise((resolve, reject) => {
      this.onFrame = (f) => (f.command === expect ? resolve(f) : reject(new Error(`${f.command}: ${f.headers['message']} ${f.body}`)));
      this.socket.write(serializeFrame(frame, '1.2'));
    });
  }

  /** write, waiting for the socket to drain when it asks to */
  async write(bytes: Buffer): Promise<void> {
    if (!this.socket.write(bytes)) await new Promise((r) => this.socket.once('drain', r));
  }

  close(): void {
    this.socket.destroy();
  }
}

async function stompRun(port: number, confirmed: boolean): Promise<number> {
  const destination = `/topic/bench.${process.pid}.${Date.now()}.${confirmed ? 'c' : 'f'}`;
  const sub = await BenchClient.connect(port);
  const subscribe: Array<[string, string]> = [['id', 's'], ['destination', destination], ['receipt', 'ready'], ['prefetch-count', String(PREFETCH)]];
  if (confirmed) subscribe.push(['ack', 'client-individual']);
  await sub.request({ command: 'SUBSCRIBE', headers: subscribe }, 'RECEIPT');
  const pub = await BenchClient.connect(port);
  let received = 0;
  let receipts = 0;
  const done = new Promise<void>((resolve, reject) => {
    let finished = 0;
    const check = () => ++finished === (confirmed ? 2 : 1) && resolve();
    sub.onFrame = (f) => {
      if (f.command !== 'MESSAGE') return reject(new Error(`subscriber got ${f.command}: ${f.headers['message']}`));
      if (confirmed) void sub.write(serializeFrame({ command: 'ACK', headers: [['id', f.headers['ack']!]] }, '1.2', false));
      if (++received === MESSAGES) check();
    };
    pub.onFrame = (f) => {
      if (f.command !== 'RECEIPT') return reject(new Error(`publisher got ${f.command}: ${f.headers['message']}`));
      if (++receipts === MESSAGES) check();
    };
  });
  const plain = serializeFrame({ command: 'SEND', headers: [['destination', destination]], body: PAYLOAD }, '1.2', false);
  const t0 = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    const frame = confirmed ? serializeFrame({ command: 'SEND', headers: [['destination', destination], ['persistent', 'true'], ['receipt', String(i)]], body: PAYLOAD }, '1.2', false) : plain;
    await pub.write(frame);
  }
  await withTimeout(done, 120_000, () => `STOMP ${confirmed ? 'confirmed' : 'fire-and-forget'}: ${received}/${MESSAGES} received, ${receipts} receipts`);
  const ms = performance.now() - t0;
  sub.close();
  pub.close();
  return rate(MESSAGES, ms);
}

function amqpRun(confirmAndAck: boolean): Promise<number> {
  return directAmqpRate({ url: AMQP_URL, messages: MESSAGES, payload: PAYLOAD, confirmAndAck, prefetch: PREFETCH });
}

// ---- plumbing -------------------------------------------------------------------------------

function startGateway(fabric: 'amqp' | 'embedded'): Promise<{ proc: ChildProcess; port: number; fabric: string }> {
  const proc = fork(fileURLToPath(import.meta.url), ['child'], {
    execArgv: ['--import', 'tsx', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [])],
    env: { ...process.env, BENCH_FABRIC: fabric },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    proc.once('message', (m) => {
      const { stomp, fabric: kind } = m as { stomp: number; fabric: string };
      resolve({ proc, port: stomp, fabric: kind });
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
}

async function brokerUp(): Promise<boolean> {
  try {
    const c = await amqplib.connect(AMQP_URL);
    await c.close();
    return true;
  } catch {
    return false;
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function measure(label: string, run: () => Promise<number>): Promise<number> {
  await run(); // warm-up
  const rates: number[] = [];
  for (let i = 0; i < ROUNDS; i++) rates.push(await run());
  const m = median(rates);
  console.log(`  ${label.padEnd(46)} ${m.toLocaleString('en-US').padStart(9)} msgs/s   (runs: ${rates.map((r) => r.toLocaleString('en-US')).join(', ')})`);
  return m;
}

async function main(): Promise<void> {
  const fabric = (await brokerUp()) ? 'amqp' : 'embedded';
  const gw = await startGateway(fabric);
  try {
    console.log(`STOMP SEND→SUBSCRIBE, ${MESSAGES.toLocaleString('en-US')} messages of ${PAYLOAD.length} bytes, one publisher → one subscriber, median of ${ROUNDS} (after a warm-up)`);
    console.log(`Tributary on the ${gw.fabric} fabric; prefetch ${PREFETCH}`);
    const fire = await measure('STOMP via Tributary, no receipts, ack:auto', () => stompRun(gw.port, false));
    const confirmed = await measure('STOMP via Tributary, receipts + ACK each', () => stompRun(gw.port, true));
    if (fabric !== 'amqp') return;
    const a0 = await measure('direct AMQP, no confirms, no-ack', () => amqpRun(false));
    const a1 = await measure('direct AMQP, confirms + manual acks', () => amqpRun(true));
    let plugin: [number, number] | undefined;
    if (await listening(PLUGIN_PORT)) {
      plugin = [
        await measure(`RabbitMQ STOMP plugin (:${PLUGIN_PORT}), no receipts`, () => stompRun(PLUGIN_PORT, false)),
        await measure(`RabbitMQ STOMP plugin (:${PLUGIN_PORT}), receipts + ACK`, () => stompRun(PLUGIN_PORT, true)),
      ];
    }
    const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
    console.log('Ratios:');
    console.log(`  fire-and-forget: Tributary STOMP / direct AMQP = ${pct(fire, a0)}`);
    console.log(`  confirmed:       Tributary STOMP / direct AMQP = ${pct(confirmed, a1)}`);
    if (plugin) console.log(`  Tributary / RabbitMQ's STOMP plugin = ${pct(fire, plugin[0])} (fire-and-forget), ${pct(confirmed, plugin[1])} (confirmed)`);
  } finally {
    gw.proc.send('stop');
  }
}

if (process.argv[2] === 'child') {
  await child();
} else {
  await main();
}
