// Benchmark: the AMQP fabric against raw amqplib on the same broker, in the same run.
//   npx tsx bench/fabric-amqp.ts [messages=50000] [bytes=1024]
// 1. confirmed publishes/s: at most 1000 unconfirmed (the fabric's window; raw: the same bound)
// 2. publish → consume msgs/s: one publisher, one consumer (prefetch 200, one ack per message)
// 3. the same with unconfirmed publishes (raw: a plain channel; fabric: `confirm: false`,
//    pausing while the session is not writable, as the protocol handlers do)
// Needs RabbitMQ at TRIBUTARY_TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672).

import { connect, type Channel, type ConfirmChannel } from 'amqplib';
import { AmqpFabric } from '../src/fabric/amqp/index.js';
import type { FabricSession } from '../src/fabric/types.js';
import { createLogger } from '../src/log.js';

const url = process.env.TRIBUTARY_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const N = Number(process.argv[2] ?? 50_000);
const SIZE = Number(process.argv[3] ?? 1024);
const WINDOW = 1000;
const PREFETCH = 200;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const payload = Buffer.alloc(SIZE, 0x61);
const queue = `bench-fabric-amqp-${process.pid}`;

// CPU per message, of this process (client + fabric) and of the broker (beam.smp), per phase:
// steadier than msgs/s on a loaded machine
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const beamPid = (() => {
  try {
    return execFileSync('pgrep', ['-o', 'beam.smp']).toString().trim().split('\n')[0] ?? '';
  } catch {
    return '';
  }
})();
function beamCpuMs(): number {
  if (!beamPid) return 0;
  try {
    const f = readFileSync(`/proc/${beamPid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}
const cpu: Record<string, { node: number[]; beam: number[] }> = {};
async function phase(name: string, run: () => Promise<number>): Promise<number> {
  const c0 = process.cpuUsage();
  const b0 = beamCpuMs();
  const ms = await run();
  const c = process.cpuUsage(c0);
  const entry = (cpu[name] ??= { node: [], beam: [] });
  entry.node.push(Math.round(((c.user + c.system) / N) * 10) / 10);
  entry.beam.push(Math.round(((beamCpuMs() - b0) * 1000) / N * 10) / 10);
  return ms;
}

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

// ---- raw amqplib -----------------------------------------------------------------------

async function rawPublish(ch: ConfirmChannel): Promise<number> {
  let unconfirmed = 0;
  let wake: (() => void) | null = null;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    if (unconfirmed >= WINDOW) await new Promise<void>((r) => (wake = r));
    unconfirmed++;
    const ok = ch.publish('', queue, payload, {}, () => {
      unconfirmed--;
      if (wake && unconfirmed <= WINDOW / 2) {
        const w = wake;
        wake = null;
        w();
      }
    });
    if (!ok) await new Promise((r) => ch.once('drain', r));
  }
  await ch.waitForConfirms();
  return performance.now() - t0;
}

async function rawPlainPublish(ch: Channel): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    if (!ch.publish('', queue, payload, {})) await new Promise((r) => ch.once('drain', r));
  }
  return performance.now() - t0;
}

async function rawPipeline(pub: ConfirmChannel | Channel, sub: Channel, plain = false): Promise<number> {
  await sub.prefetch(PREFETCH, false);
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const { consumerTag } = await sub.consume(queue, (msg) => {
    if (!msg) return;
    sub.ack(msg);
    if (++received === N) done();
  });
  const t0 = performance.now();
  await (plain ? rawPlainPublish(pub) : rawPublish(pub as ConfirmChannel));
  await finished;
  const ms = performance.now() - t0;
  await sub.cancel(consumerTag);
  return ms;
}

// ---- the fabric ------------------------------------------------------------------------

async function fabricPublish(s: FabricSession, confirm = true): Promise<number> {
  const t0 = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    if (!s.writable) {
      await new Promise<void>((resolve) => {
        const off = s.onWritable(() => {
          off();
          resolve();
        });
      });
    }
    pending.push(s.publish('', queue, { body: payload, properties: {} }, { confirm }));
  }
  await Promise.all(pending);
  return performance.now() - t0;
}

async function fabricPipeline(pub: FabricSession, sub: FabricSession, confirm = true): Promise<number> {
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const consumer = await sub.consume(queue, { prefetch: PREFETCH }, (d) => {
    consumer.ack(d);
    if (++received === N) done();
  });
  const t0 = performance.now();
  await fabricPublish(pub, confirm);
  await finished;
  const ms = performance.now() - t0;
  await consumer.cancel();
  return ms;
}

// ---- run ------------------------------------------------------------------------------

async function main(): Promise<void> {
  // the fabric sets TCP_NODELAY (latency over coalescing, as RabbitMQ's own clients do): so does raw
  const noDelay = process.env.BENCH_RAW_NODELAY !== '0';
  const conn = await connect(url, { noDelay });
  const admin = await conn.createChannel();
  await admin.assertQueue(queue, { durable: false, autoDelete: false });
  const rawPub = await conn.createConfirmChannel();
  const rawSubConn = await connect(url, { noDelay });
  const rawSub = await rawSubConn.createChannel();
  const rawPlain = await conn.createChannel();

  const fabric = new AmqpFabric({ url, connectionsPerVhost: 1, log: createLogger('warn') });
  await fabric.start();
  const pub = fabric.openSession({ vhost: '/', label: 'bench-pub' });
  const sub = fabric.openSession({ vhost: '/', label: 'bench-sub' });
  // a session that never confirms (a QoS 0 publisher): a confirmed publish would move it to the confirm channel for good
  const plainPub = fabric.openSession({ vhost: '/', label: 'bench-plain-pub' });

  const results: Record<string, number[]> = { rawPublish: [], fabricPublish: [], rawPipeline: [], fabricPipeline: [], rawPlainPipeline: [], fabricPlainPipeline: [] };
  const purge = () => admin.purgeQueue(queue);
  try {
    // alternate, twice each, after a warm-up, so that neither side gets the warm broker alone
    await rawPublish(rawPub);
    await purge();
    for (let round = 0; round < ROUNDS; round++) {
      results.rawPublish!.push(rate(N, await phase('rawPublish', () => rawPublish(rawPub))));
      await purge();
      results.fabricPublish!.push(rate(N, await phase('fabricPublish', () => fabricPublish(pub))));
      await purge();
      results.rawPipeline!.push(rate(N, await phase('rawPipeline', () => rawPipeline(rawPub, rawSub))));
      await purge();
      results.fabricPipeline!.push(rate(N, await phase('fabricPipeline', () => fabricPipeline(pub, sub))));
      await purge();
      results.rawPlainPipeline!.push(rate(N, await phase('rawPlainPipeline', () => rawPipeline(rawPlain, rawSub, true))));
      await purge();
      results.fabricPlainPipeline!.push(rate(N, await phase('fabricPlainPipeline', () => fabricPipeline(plainPub, sub, false))));
      await purge();
    }
  } finally {
    await pub.close();
    await plainPub.close();
    await sub.close();
    await fabric.close();
    await admin.deleteQueue(queue);
    await conn.close();
    await rawSubConn.close();
  }

  const median = (k: string) => {
    const xs = [...(results[k] ?? [0])].sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)] ?? 0;
  };
  const line = (what: string, raw: string, fab: string) =>
    `${what}   raw ${median(raw)} msg/s   fabric ${median(fab)} msg/s   ratio ${(median(fab) / median(raw)).toFixed(2)}  (medians of ${ROUNDS})`;
  console.log(`messages: ${N} × ${SIZE} B, confirm window ${WINDOW}, prefetch ${PREFETCH}, raw noDelay ${noDelay}`);
  console.log(line('confirmed publish', 'rawPublish', 'fabricPublish'));
  console.log(line('publish → consume', 'rawPipeline', 'fabricPipeline'));
  console.log(line('unconfirmed publish → consume', 'rawPlainPipeline', 'fabricPlainPipeline'));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const [name, c] of Object.entries(cpu)) console.log(`cpu µs/msg ${name.padEnd(20)} node ${med(c.node)}   beam.smp ${med(c.beam)}`);
  console.log(`all rounds: ${JSON.stringify(results)}`);
  console.log(`cpu rounds: ${JSON.stringify(cpu)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
