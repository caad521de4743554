// Fair streams on RabbitMQ: caps refused by the broker itself, dispatcher failover between two
// FairFabrics on separate connections (the leader's connections cut, as in a crash), and a
// restart with nothing left running: every message counted, none lost.
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../src/errors.js';
import type { AmqpFabric } from '../../src/fabric/amqp/index.js';
import type { FabricSession } from '../../src/fabric/types.js';
import { FairFabric, fairOutputQueue, publisherQueue } from '../../src/fair/index.js';
import { announcedQueue, intakeQueue, registryQueue } from '../../src/fair/names.js';
import { DEFAULT_TUNING, type DispatchTuning } from '../../src/fair/tuning.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { BrokerRelay, makeFabric } from './fabric-amqp-helpers.js';
import { eventually, msg, streamConfig, Worker } from './fair-helpers.js';

const tuning: Partial<DispatchTuning> = {
  electionRetryMinMs: 200,
  electionRetryMaxMs: 400,
  registrySaveMs: 100,
  backlogPollMs: 200,
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function started(fabric: AmqpFabric, streams: ReturnType<typeof streamConfig>[]): Promise<FairFabric> {
  const fair = new FairFabric(fabric, { streams, tuning });
  cleanups.push(() => fair.close());
  return fair.start().then(() => fair);
}

/** delete what a test stream leaves on the shared broker */
function removeStreamQueues(stream: string, publishers: string[]): void {
  cleanups.unshift(async () => {
    const fabric = makeFabric();
    await fabric.start();
    const s = fabric.openSession({ vhost: '/' });
    const queues = [fairOutputQueue(stream), announcedQueue(stream), registryQueue(stream), intakeQueue(stream), ...publishers.map((p) => publisherQueue(stream, p))];
    for (const q of queues) await s.deleteQueue(q).catch(() => undefined);
    await s.close();
    await fabric.close();
  });
}

async function publishAll(session: FabricSession, stream: string, publisher: string, count: number, persistent = false): Promise<void> {
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) pending.push(session.publish('amq.topic', `${stream}.x`, msg(`${publisher}:${i}`, {}, persistent), { confirm: true }));
  await Promise.all(pending);
}

function client(fair: FairFabric, clientId: string): FabricSession {
  return fair.openSession({ vhost: '/', publisher: { clientId, protocol: 'test' } });
}

describe.runIf(brokerAvailable)('[rabbitmq] fair streams', () => {
  it('the broker refuses a full publisher queue: QUOTA_EXCEEDED for that publisher alone', async () => {
    const stream = uniqueName('cap');
    removeStreamQueues(stream, ['flood', 'quiet']);
    const fabric = makeFabric();
    cleanups.push(() => fabric.close());
    const fair = new FairFabric(fabric, { streams: [streamConfig(stream, { maxPerPublisher: 5 })], dispatch: false });
    await fair.start();
    cleanups.push(() => fair.close());
    const flood = client(fair, 'flood');
    await publishAll(flood, stream, 'flood', 5);
    const refused = await flood.publish('amq.topic', `${stream}.x`, msg('one too many'), { confirm: true }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isGatewayError(refused, ErrorCode.QUOTA_EXCEEDED)).toBe(true);
    await client(fair, 'quiet').publish('amq.topic', `${stream}.x`, msg('fine'), { confirm: true });
    const s = fabric.openSession({ vhost: '/' });
    expect((await s.checkQueue(publisherQueue(stream, 'flood'))).messageCount).toBe(5);
    expect((await s.checkQueue(publisherQueue(stream, 'quiet'))).messageCount).toBe(1);
    await s.close();
  });

  it('failover: the leader crashes mid-stream; the standby takes over within seconds; 0 lost', async () => {
    const stream = uniqueName('fo');
    const publishers = ['p1', 'p2', 'p3'];
    removeStreamQueues(stream, publishers);
    const streams = [streamConfig(stream, { outputQueueLength: 20 })];

    const relay = new BrokerRelay();
    await relay.up();
    cleanups.push(() => relay.down());
    const fabricA = makeFabric({ url: relay.url, backoff: { initialMs: 5_000, maxMs: 5_000, factor: 1, jitter: 0 } });
    cleanups.push(() => fabricA.close());
    const leader = await started(fabricA, streams);
    await eventually(() => leader.isDispatching(stream), 10_000, 'A to lead');
    const fabricB = makeFabric();
    cleanups.push(() => fabricB.close());
    const standby = await started(fabricB, streams);
    expect(standby.isDispatching(stream)).toBe(false);

    // the backlog goes in through the standby's gateway sessions (they outlive the leader)
    await Promise.all(publishers.map((p) => publishAll(client(standby, p), stream, p, 300)));

    const witness = makeFabric();
    cleanups.push(() => witness.close());
    await witness.start();
    const worker = await new Worker(witness.openSession({ vhost: '/' }), stream).start(10);
    await worker.waitFor(200);
    const killedAt = Date.now();
    await relay.down(); // A's connections die as in a crash: its unacked deliveries go back
    await eventually(() => standby.isDispatching(stream), 15_000, 'B to take over');
    const takeoverMs = Date.now() - killedAt;
    await worker.waitUntil(() => new Set(worker.bodies()).size === 900, 30_000, () => `900 distinct (have ${new Set(worker.bodies()).size})`);
    const distinct = new Set(worker.bodies());
    const duplicates = worker.got.length - distinct.size;
    console.log(`[fair failover] takeover ${takeoverMs} ms, 900 delivered, duplicates ${duplicates}`);
    for (const p of publishers) for (let i = 0; i < 300; i++) expect(distinct.has(`${p}:${i}`)).toBe(true);
    expect(takeoverMs).toBeLessThan(5_000);
    // at-least-once: only what A had confirmed into the output queue but not yet acked comes twice
    expect(duplicates).toBeLessThanOrEqual(DEFAULT_TUNING.outputWindow);
    await worker.stop();
  });

  it('restart: everything stopped with messages in publisher queues; a new process delivers all (registry)', async () => {
    const stream = uniqueName('rs');
    const publishers = ['a', 'b'];
    removeStreamQueues(stream, publishers);
    const streams = [streamConfig(stream, { outputQueueLength: 10 })];

    const first = makeFabric();
    const second = makeFabric();
    cleanups.push(() => second.close());
    const fair1 = new FairFabric(first, { streams, tuning });
    await fair1.start();
    await eventually(() => fair1.isDispatching(stream), 10_000, 'the first process to lead');
    await Promise.all(publishers.map((p) => publishAll(client(fair1, p), stream, p, 250, true)));
    // the registry has been saved with both publisher queues, then the process goes away
    await eventually(() => fair1.fairStatus(stream)?.publishers === 2, 10_000, 'both publishers known');
    await fair1.close();
    // every announcement was saved into the registry and acked: the new process must read the registry
    const look = second.openSession({ vhost: '/' });
    await second.start();
    expect((await look.checkQueue(announcedQueue(stream))).messageCount).toBe(0);
    expect((await look.checkQueue(registryQueue(stream))).messageCount).toBe(1);
    await look.close();

    const fair2 = await started(second, streams);
    await eventually(() => fair2.isDispatching(stream), 10_000, 'the new process to lead');
    const worker = await new Worker(second.openSession({ vhost: '/' }), stream).start(10);
    await worker.waitUntil(() => new Set(worker.bodies()).size === 500, 30_000, () => `500 distinct (have ${new Set(worker.bodies()).size})`);
    expect(worker.got.length).toBe(500); // a clean stop loses nothing and duplicates nothing
    expect(worker.got.every((d) => d.properties.deliveryMode === 2)).toBe(true);
    expect(fair2.fairStatus(stream)?.publishers).toBe(2);
    await worker.stop();
  });
});
