// MQTT through Tributary next to direct AMQP, in the same run, on the same broker:
//   1. gateway memory per idle MQTT connection: 1,000 raw TCP connections that send CONNECT
//      (no mqtt.js), RSS and heap of a fresh gateway process before and after (GC forced);
//      then the same connections with one subscription each;
//   2. QoS 0 and QoS 1 messages/s end to end (raw MQTT 3.1.1 publisher → gateway → RabbitMQ →
//      gateway → raw subscriber), and the same traffic with amqplib straight to RabbitMQ.
// The gateway runs in a child process, compiled with tsc (as in production: no tsx wrappers),
// so its memory and CPU are its own.
//
//   npx tsx bench/mqtt-throughput.ts [messages] [idle connections]
//   TRIBUTARY_BENCH_AMQP_URL=amqp://... (default amqp://guest:guest@127.0.0.1:5672; embedded if none answers)

import amqplib from 'amqplib';
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqttPacket from 'mqtt-packet';
import { directAmqpRate } from './lib/direct-amqp.js';

const AMQP_URL = process.env.TRIBUTARY_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MESSAGES = Number(process.argv[2] ?? 20_000);
const IDLE = Number(process.argv[3] ?? 1_000);
const PAYLOAD = Buffer.alloc(256, 0x61);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD = join(ROOT, 'node_modules', '.cache', 'tributary-bench', 'dist');

interface Ports {
  mqtt: number;
  fabric: 'amqp' | 'embedded';
}
interface Memory {
  rss: number;
  heapUsed: number;
}

// ---- the gateway, compiled, in a child process --------------------------------------------

const CHILD = `
import { buildGateway } from './gateway.js';
import { defaultConfig, validateConfig } from './config/load.js';
const amqpUrl = process.env.BENCH_AMQP_URL || null;
const base = defaultConfig();
const config = validateConfig({
  ...base, amqpUrl, host: '127.0.0.1', logLevel: 'silent', httpPort: null,
  stomp: { ...base.stomp, port: null }, mqtt: { ...base.mqtt, port: 0 },
  auth: { ...base.auth, failedAuthDelayMs: 0 },
  limits: { ...base.limits, maxConnectionsPerAddress: 100000, connectTimeoutMs: 120000 },
});
const gw = buildGateway(config);
const ports = await gw.start();
process.on('message', (m) => {
  if (m === 'mem') {
    globalThis.gc?.(); globalThis.gc?.();
    const u = process.memoryUsage();
    process.send({ rss: u.rss, heapUsed: u.heapUsed });
  } else if (m === 'stop') {
    gw.stop().then(() => process.exit(0));
  }
});
process.send({ mqtt: ports.mqtt, fabric: amqpUrl ? 'amqp' : 'embedded' });
`;

function buildGatewayForBench(): string {
  mkdirSync(BUILD, { recursive: true });
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', BUILD, '--sourceMap', 'false'], { stdio: 'inherit' });
  // the compiled code finds these next to its dist/, as in the package
  mkdirSync(join(BUILD, '..', 'config'), { recursive: true });
  copyFileSync(join(ROOT, 'config', 'default.yaml'), join(BUILD, '..', 'config', 'default.yaml'));
  copyFileSync(join(ROOT, 'package.json'), join(BUILD, '..', 'package.json'));
  const entry = join(BUILD, 'bench-gateway.mjs');
  writeFileSync(entry, CHILD);
  return entry;
}

// ---- parent: clients and measurements ---------------------------------------------------

function startGateway(entry: string, fabric: 'amqp' | 'embedded'): Promise<{ proc: ChildProcess; ports: Ports }> {
  const proc = fork(entry, [], {
    execArgv: ['--expose-gc', ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : [])],
    env: { ...process.env, BENCH_AMQP_URL: fabric === 'amqp' ? AMQP_URL : '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    proc.once('message', (ports) => resolve({ proc, ports: ports as Ports }));
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
}

function ask<T>(proc: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve) => {
    proc.once('message', (m) => resolve(m as T));
    proc.send(what);
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

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

/** A raw MQTT 3.1.1 connection (mqtt-packet on the client side: mqtt.js itself tops out near 4k msgs/s). */
async function rawConnection(port: number, clientId: string, onPacket: (p: mqttPacket.Packet, reply: (b: Buffer) => void) => void): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  let connacked!: () => void;
  const ready = new Promise<void>((resolve) => (connacked = resolve));
  // answers to one read leave in one write
  let replies: Buffer[] = [];
  const reply = (b: Buffer) => replies.push(b);
  parser.on('packet', (p) => (p.cmd === 'connack' ? connacked() : onPacket(p, reply)));
  s.on('data', (d) => {
    parser.parse(d);
    if (replies.length === 0) return;
    s.write(Buffer.concat(replies));
    replies = [];
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 }));
  await ready;
  return s;
}

async function mqttRun(port: number, qos: 0 | 1, messages = MESSAGES): Promise<number> {
  const MESSAGES = messages;
  const topic = `bench/${process.pid}/${qos}/${Date.now()}`;
  let received = 0;
  let subscribed!: () => void;
  let allReceived!: () => void;
  const subReady = new Promise<void>((r) => (subscribed = r));
  const all = new Promise<void>((r) => (allReceived = r));
  const sub = await rawConnection(port, `bench-sub-${process.pid}-${qos}`, (p, reply) => {
    if (p.cmd === 'suback') subscribed();
    if (p.cmd !== 'publish') return;
    if (p.qos === 1) reply(mqttPacket.generate({ cmd: 'puback', messageId: p.messageId as number }));
    if (++received === MESSAGES) allReceived();
  });
  sub.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] }));
  await subReady;
  let acked = 0;
  let allAcked!: () => void;
  const confirmed = new Promise<void>((r) => (allAcked = r));
  const pub = await rawConnection(port, `bench-pub-${process.pid}-${qos}`, (p) => {
    if (p.cmd === 'puback' && ++acked === MESSAGES) allAcked();
  });
  const packets = Array.from({ length: MESSAGES }, (_, i) =>
    mqttPacket.generate({ cmd: 'publish', topic, qos, dup: false, retain: false, payload: PAYLOAD, ...(qos === 1 ? { messageId: (i % 65535) + 1 } : {}) }),
  );
  const t0 = performance.now();
  for (let i = 0; i < MESSAGES; i += 100) {
    if (!pub.write(Buffer.concat(packets.slice(i, i + 100)))) await new Promise((r) => pub.once('drain', r));
  }
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error(`QoS ${qos}: ${received}/${MESSAGES} received, ${acked} acked`)), 120_000).unref());
  await Promise.race([Promise.all([all, qos === 1 ? confirmed : undefined]), timeout]);
  const ms = performance.now() - t0;
  sub.destroy();
  pub.destroy();
  return rate(MESSAGES, ms);
}

function amqpRun(confirmAndAck: boolean): Promise<number> {
  return directAmqpRate({ url: AMQP_URL, messages: MESSAGES, payload: PAYLOAD, confirmAndAck, prefetch: 32 });
}

interface MemoryStep {
  label: string;
  memory: Memory;
}

/** open IDLE connections (CONNECT, clean session), then give each one subscription; memory at each step */
async function idleConnections(port: number, proc: ChildProcess): Promise<MemoryStep[]> {
  // warm up: one-time costs (mqtt-packet's packet-id buffer cache, compiled code) are not per connection
  await mqttRun(port, 1, 100);
  await new Promise((r) => setTimeout(r, 500));
  const steps: MemoryStep[] = [{ label: 'warmed-up gateway', memory: await ask<Memory>(proc, 'mem') }];
  const sockets: net.Socket[] = [];
  const BATCH = 16; // the authenticator checks at most 32 logins per address at once
  for (let i = 0; i < IDLE; i += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, IDLE - i) }, (_, j) =>
        new Promise<void>((resolve, reject) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `idle-${process.pid}-${i + j}`, keepalive: 600 }));
          });
          s.once('data', (d) => (d[0] === 0x20 && d[3] === 0 ? resolve() : reject(new Error(`CONNACK refused: ${d.toString('hex')}`))));
          s.once('error', reject);
          sockets.push(s);
        }),
      ),
    );
  }
  await new Promise((r) => setTimeout(r, 1_000));
  steps.push({ label: `${IDLE} idle connections`, memory: await ask<Memory>(proc, 'mem') });
  for (let i = 0; i < sockets.length; i += BATCH) {
    await Promise.all(
      sockets.slice(i, i + BATCH).map(
        (s, j) =>
          new Promise<void>((resolve) => {
            s.once('data', () => resolve());
            s.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `idle/${process.pid}/${i + j}`, qos: 1 }] }));
          }),
      ),
    );
  }
  await new Promise((r) => setTimeout(r, 1_000));
  steps.push({ label: '… with one QoS 1 subscription each', memory: await ask<Memory>(proc, 'mem') });
  for (const s of sockets) s.destroy();
  return steps;
}

async function main(): Promise<void> {
  const fabric = (await brokerUp()) ? 'amqp' : 'embedded';
  const entry = buildGatewayForBench();
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;

  const memGateway = await startGateway(entry, fabric);
  try {
    const steps = await idleConnections(memGateway.ports.mqtt, memGateway.proc);
    console.log(`Gateway memory (${fabric} fabric), ${IDLE} raw TCP MQTT 3.1.1 connections, GC forced before each reading:`);
    const base = steps[0]!.memory;
    for (const { label, memory } of steps) {
      const per = (now: number, then: number) => (memory === base ? '' : `  (${kb((now - then) / IDLE)} per connection)`);
      console.log(`  ${label.padEnd(38)} RSS ${mb(memory.rss).padStart(9)}${per(memory.rss, base.rss)}   heap ${mb(memory.heapUsed).padStart(8)}${per(memory.heapUsed, base.heapUsed)}`);
    }
  } finally {
    await stop(memGateway.proc);
  }

  const { proc, ports } = await startGateway(entry, fabric);
  try {
    console.log(`Throughput (${ports.fabric} fabric), ${MESSAGES} messages of ${PAYLOAD.length} bytes, one publisher → one subscriber, end to end:`);
    const q0 = await mqttRun(ports.mqtt, 0);
    const q1 = await mqttRun(ports.mqtt, 1);
    console.log(`  MQTT QoS 0 through Tributary:         ${q0.toLocaleString('en-US').padStart(7)} msgs/s`);
    console.log(`  MQTT QoS 1 through Tributary:         ${q1.toLocaleString('en-US').padStart(7)} msgs/s`);
    if (fabric === 'amqp') {
      const a0 = await amqpRun(false);
      const a1 = await amqpRun(true);
      console.log(`  direct AMQP, no confirms, no-ack:     ${a0.toLocaleString('en-US').padStart(7)} msgs/s`);
      console.log(`  direct AMQP, confirms + manual acks:  ${a1.toLocaleString('en-US').padStart(7)} msgs/s`);
    }
  } finally {
    await stop(proc);
  }
}

async function stop(proc: ChildProcess): Promise<void> {
  proc.send('stop');
  await new Promise((r) => proc.once('exit', r));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
