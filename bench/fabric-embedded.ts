// Throughput of the embedded fabric: confirmed publishes/s and publish→consume msgs/s.
// Run: npx tsx bench/fabric-embedded.ts [messages]
import { EmbeddedFabric } from '../src/fabric/embedded/index.js';
import type { Delivery, FabricSession } from '../src/fabric/types.js';

const N = Number(process.argv[2] ?? 100_000);
const body = Buffer.alloc(1024, 7);

function rate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')} msgs/s (${n} in ${ms.toFixed(0)} ms)`;
}

async function confirmedSequential(s: FabricSession): Promise<void> {
  const { queue } = await s.declareQueue('', { exclusive: true });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await s.publish('', queue, { body, properties: {} }, { confirm: true });
  console.log(`confirmed publish, one at a time:      ${rate(N, performance.now() - t0)}`);
  await s.deleteQueue(queue);
}

async function confirmedWindowed(s: FabricSession, window = 1000): Promise<void> {
  const { queue } = await s.declareQueue('', { exclusive: true });
  const t0 = performance.now();
  for (let i = 0; i < N; i += window) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(N, i + window); j++) batch.push(s.publish('', queue, { body, properties: {} }, { confirm: true }));
    await Promise.all(batch);
  }
  console.log(`confirmed publish, window ${window}:        ${rate(N, performance.now() - t0)}`);
  await s.deleteQueue(queue);
}

async function publishConsume(s: FabricSession, mode: { noAck: boolean; prefetch: number }): Promise<void> {
  const { queue } = await s.declareQueue('', { exclusive: true });
  await s.bindQueue(queue, 'amq.topic', 'bench.#');
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const consumer = await s.consume(queue, mode, (d: Delivery) => {
    received++;
    if (!mode.noAck && received % 100 === 0) consumer.ack(d, true);
    if (received === N) done();
  });
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(N, i + 1000); j++) batch.push(s.publish('amq.topic', 'bench.a.b', { body, properties: {} }, { confirm: true }));
    await Promise.all(batch);
  }
  await finished;
  const label = mode.noAck ? 'noAck' : `prefetch ${mode.prefetch}, ack multiple/100`;
  console.log(`publish→consume via amq.topic, ${label}: ${rate(N, performance.now() - t0)}`);
  await consumer.cancel();
  await s.deleteQueue(queue);
}

async function topicRouting(s: FabricSession, bindings = 10_000): Promise<void> {
  const { queue } = await s.declareQueue('', { exclusive: true });
  for (let i = 0; i < bindings; i++) await s.bindQueue(queue, 'amq.topic', `devices.d${i}.${i % 2 === 0 ? '*' : '#'}`);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await s.publish('amq.topic', `devices.d${i % bindings}.temp`, { body, properties: {} });
  console.log(`topic publish with ${bindings} bindings:  ${rate(N, performance.now() - t0)}`);
  await s.deleteQueue(queue);
}

const fabric = new EmbeddedFabric();
await fabric.start();
const session = fabric.openSession({ vhost: '/', label: 'bench' });
console.log(`embedded fabric, ${N} messages of ${body.length} bytes, node ${process.version}`);
await confirmedSequential(session);
await confirmedWindowed(session);
await publishConsume(session, { noAck: true, prefetch: 0 });
await publishConsume(session, { noAck: false, prefetch: 1000 });
await topicRouting(session);
await fabric.close();
