// Fair streams on the embedded fabric: ingress, per-publisher caps, the dispatcher's order and
// weights, idle expiry, and the AMQP intake. Real fabric, real dispatcher; nothing mocked.
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../src/errors.js';
import { EmbeddedFabric } from '../../src/fabric/embedded/index.js';
import type { FabricSession } from '../../src/fabric/types.js';
import { FairFabric, FairHeader, fairOutputQueue, publisherQueue } from '../../src/fair/index.js';
import { eventually, fastTuning, msg, streamConfig, Worker } from './fair-helpers.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function fairOn(inner: EmbeddedFabric, streams: ReturnType<typeof streamConfig>[], dispatch = true): Promise<FairFabric> {
  const fair = new FairFabric(inner, { streams, dispatch, tuning: fastTuning });
  await fair.start();
  closers.push(() => fair.close());
  return fair;
}

function client(fair: FairFabric, clientId: string): FabricSession {
  return fair.openSession({ vhost: '/', publisher: { clientId, protocol: 'test' } });
}

/** the dispatcher has put messages into the stream's output queue and settled: how many are there */
async function placed(fair: FairFabric, stream: string): Promise<number> {
  await eventually(async () => (await depth(fair, fairOutputQueue(stream))) > 0 && fair.fairStatus(stream)?.inFlight === 0, 5_000, `messages in ${stream}'s output queue`);
  return depth(fair, fairOutputQueue(stream));
}

async function depth(fair: FairFabric, queue: string): Promise<number> {
  const s = fair.inner.openSession({ vhost: '/' });
  try {
    return (await s.checkQueue(queue)).messageCount;
  } finally {
    await s.close();
  }
}

/** without touching it: a passive declare or basic.get would count as use and restart x-expires */
async function exists(fair: FairFabric, queue: string): Promise<boolean> {
  const s = fair.inner.openSession({ vhost: '/' });
  try {
    await s.purgeQueue(queue);
    return true;
  } catch (err) {
    if (isGatewayError(err, ErrorCode.NOT_FOUND)) return false;
    throw err;
  } finally {
    await s.close();
  }
}

describe('E2E: fair stream ingress (embedded)', () => {
  it('a matching publish lands on its normal route and in its publisher queue, with identity headers', async () => {
    const fair = await fairOn(new EmbeddedFabric(), [streamConfig('t')], false);
    const sub = fair.openSession({ vhost: '/' });
    await sub.declareQueue('normal', { exclusive: true });
    await sub.bindQueue('normal', 'amq.topic', 't.#');
    const normal = await sub.get('normal');
    expect(normal).toBeNull();

    const dev = client(fair, 'dev-1');
    await dev.publish('amq.topic', 't.d1.temp', msg('21.5'), { confirm: true });
    await dev.publish('amq.topic', 'other.key', msg('not fair'), { confirm: true });

    const onRoute = await sub.get('normal', { noAck: true });
    expect(onRoute?.body.toString()).toBe('21.5');
    expect(onRoute?.properties.headers?.[FairHeader.PLACED]).toBeUndefined(); // no intake: message untouched
    const q = publisherQueue('t', 'dev-1');
    const copy = await sub.get(q, { noAck: true });
    expect(copy?.body.toString()).toBe('21.5');
    expect(copy?.properties.headers).toMatchObject({ [FairHeader.PUBLISHER]: 'dev-1', [FairHeader.ROUTING_KEY]: 't.d1.temp' });
    expect(await depth(fair, q)).toBe(0);
    expect(fair.fairStatus('t')?.ingress).toEqual({ placed: 1, refused: 0 });
  });

  it('a full publisher queue refuses that publisher alone with QUOTA_EXCEEDED (confirmed publishes)', async () => {
    const fair = await fairOn(new EmbeddedFabric(), [streamConfig('cap', { maxPerPublisher: 3 })], false);
    const flood = client(fair, 'flood');
    const quiet = client(fair, 'quiet');
    for (let i = 0; i < 3; i++) await flood.publish('amq.topic', 'cap.x', msg(`f${i}`), { confirm: true });
    const refused = await flood.publish('amq.topic', 'cap.x', msg('f3'), { confirm: true }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isGatewayError(refused, ErrorCode.QUOTA_EXCEEDED)).toBe(true);
    expect((refused as Error & { detail: string }).detail).toMatch(/publisher 'flood' is full \(3 messages\)/);
    await quiet.publish('amq.topic', 'cap.x', msg('q0'), { confirm: true });
    expect(await depth(fair, publisherQueue('cap', 'flood'))).toBe(3);
    expect(await depth(fair, publisherQueue('cap', 'quiet'))).toBe(1);
    expect(fair.fairStatus('cap')?.ingress).toEqual({ placed: 4, refused: 1 });
  });

  it("whenFull 'wait' holds the publish (and the session's later ones, in order) until there is room", async () => {
    const fair = await fairOn(new EmbeddedFabric(), [streamConfig('wait', { maxPerPublisher: 2 })], false);
    const dev = client(fair, 'dev');
    await dev.publish('amq.topic', 'wait.x', msg('m0'), { confirm: true });
    await dev.publish('amq.topic', 'wait.x', msg('m1'), { confirm: true });
    const settled: string[] = [];
    const held = dev.publish('amq.topic', 'wait.x', msg('m2'), { confirm: true, whenFull: 'wait' }).then(() => settled.push('m2'));
    await eventually(() => fair.fairStatus('wait')?.ingress.refused === 1, 5_000, 'the refusal');
    const behind = dev.publish('amq.topic', 'wait.x', msg('m3'), { confirm: true, whenFull: 'wait' }).then(() => settled.push('m3'));
    expect(settled).toEqual([]);

    const reader = fair.inner.openSession({ vhost: '/' });
    const q = publisherQueue('wait', 'dev');
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const got = await eventuallyGet(reader, q);
      order.push(got);
    }
    await Promise.all([held, behind]);
    expect(order).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(settled).toEqual(['m2', 'm3']);
    await reader.close();
  });
});

async function eventuallyGet(session: FabricSession, queue: string): Promise<string> {
  let body: string | undefined;
  await eventually(async () => {
    const d = await session.get(queue, { noAck: true });
    body = d?.body.toString();
    return d !== null;
  }, 10_000, `a message in ${queue}`);
  return body as string;
}

describe('E2E: fair stream dispatcher (embedded)', () => {
  it('a quiet publisher is served within a round, not behind the flood (FIFO would put it at 201)', async () => {
    const fair = await fairOn(new EmbeddedFabric(), [streamConfig('rr', { outputQueueLength: 4 })]);
    await eventually(() => fair.isDispatching('rr'), 5_000, 'the dispatcher');
    const flood = client(fair, 'flood');
    for (let i = 0; i < 200; i++) await flood.publish('amq.topic', 'rr.x', msg(`f${i}`), { confirm: true });
    // with no worker draining it, the output queue holds the gate's target (1) and no more:
    // a quiet message will find that much ahead of it, not outputQueueLength
    const ahead = await placed(fair, 'rr');
    expect(ahead).toBeGreaterThanOrEqual(1);
    expect(ahead).toBeLessThan(4);
    await client(fair, 'quiet').publish('amq.topic', 'rr.x', msg('q0'), { confirm: true });
    await eventually(() => fair.fairStatus('rr')?.activePublishers === 2, 5_000, 'the dispatcher to hold q0');

    const worker = await new Worker(fair.inner.openSession({ vhost: '/' }), 'rr').start(1);
    await worker.waitFor(201);
    const at = worker.bodies().indexOf('q0');
    // behind what was in the output queue already, and at most the one flood message the
    // scheduler chose before q0 in the first round
    expect(at).toBeGreaterThanOrEqual(ahead);
    expect(at).toBeLessThanOrEqual(ahead + 1);
    // nothing lost, nothing duplicated, the flood's own order kept
    const floods = worker.bodies().filter((b) => b.startsWith('f'));
    expect(floods).toEqual(Array.from({ length: 200 }, (_, i) => `f${i}`));
    await worker.stop();
    expect(fair.fairStatus('rr')).toMatchObject({ role: 'leader', dispatchedTotal: 201 });
  });

  it('weights are honoured: 3:1 between two backlogged publishers', async () => {
    const inner = new EmbeddedFabric();
    const streams = [streamConfig('w', { outputQueueLength: 2, weights: { heavy: 3 } })];
    // publish the backlogs with an ingress-only gateway, then start the dispatcher
    const ingressOnly = new FairFabric(inner, { streams, dispatch: false });
    await ingressOnly.start();
    for (let i = 0; i < 200; i++) {
      await client(ingressOnly, 'heavy').publish('amq.topic', 'w.x', msg(`h${i}`), { confirm: true });
      await client(ingressOnly, 'light').publish('amq.topic', 'w.x', msg(`l${i}`), { confirm: true });
    }
    const fair = await fairOn(inner, streams);
    await placed(fair, 'w');
    const worker = await new Worker(fair.inner.openSession({ vhost: '/' }), 'w').start(1);
    await worker.waitFor(120);
    const first = worker.publishers().slice(10, 110); // past the start-up, while both are backlogged
    const heavy = first.filter((p) => p === 'heavy').length;
    expect(heavy).toBeGreaterThanOrEqual(72);
    expect(heavy).toBeLessThanOrEqual(78);
    const status = fair.fairStatus('w');
    expect(status?.publishers).toBe(2);
    expect(status?.jain).not.toBeNull();
    expect(status?.jain as number).toBeGreaterThan(0.95);
    expect(status?.backlogTop.map((b) => b.publisher).sort()).toEqual(['heavy', 'light']);
    await worker.stop();
  });

  it('an idle publisher queue is let go and expires; the next publish declares it again and is dispatched', async () => {
    const fair = await fairOn(new EmbeddedFabric(), [streamConfig('idle', { idleExpiryMs: 1_000 })]);
    await eventually(() => fair.isDispatching('idle'), 5_000, 'the dispatcher');
    const worker = await new Worker(fair.inner.openSession({ vhost: '/' }), 'idle').start(10);
    const dev = client(fair, 'dev');
    await dev.publish('amq.topic', 'idle.x', msg('first'), { confirm: true });
    await worker.waitFor(1);
    const q = publisherQueue('idle', 'dev');
    // parked after ~750 ms idle (the dispatcher's consumer goes), then x-expires (1 s) deletes it
    await eventually(() => fair.fairStatus('idle')?.publishers === 0, 10_000, 'the dispatcher to let the queue go');
    await eventually(() => exists(fair, q).then((e) => !e), 10_000, 'the publisher queue to expire');
    await dev.publish('amq.topic', 'idle.x', msg('second'), { confirm: true });
    await worker.waitFor(2);
    expect(worker.bodies()).toEqual(['first', 'second']);
    await worker.stop();
  });

  it('AMQP intake: raw publishers are sorted by header; gateway-published messages are not counted twice', async () => {
    const inner = new EmbeddedFabric();
    const fair = await fairOn(inner, [streamConfig('in', { amqpIntake: true, publisherBy: 'header:x-device' })]);
    await eventually(() => fair.isDispatching('in'), 5_000, 'the dispatcher');
    const worker = await new Worker(inner.openSession({ vhost: '/' }), 'in').start(10);
    const raw = inner.openSession({ vhost: '/' });
    const gw = client(fair, 'gw-client');
    for (let i = 0; i < 5; i++) {
      await raw.publish('amq.topic', 'in.x', msg(`raw${i}`, { 'x-device': 'sensor-7' }), { confirm: true });
      await gw.publish('amq.topic', 'in.x', msg(`gw${i}`), { confirm: true });
    }
    await worker.waitFor(10);
    const byPublisher = new Map<string, string[]>();
    worker.got.forEach((d) => {
      const p = String(d.properties.headers?.[FairHeader.PUBLISHER]);
      byPublisher.set(p, [...(byPublisher.get(p) ?? []), d.body.toString()]);
    });
    expect(byPublisher.get('sensor-7')).toEqual(['raw0', 'raw1', 'raw2', 'raw3', 'raw4']);
    expect(byPublisher.get('gw-client')).toEqual(['gw0', 'gw1', 'gw2', 'gw3', 'gw4']);
    // and nothing more comes: the five gateway copies that reached the intake were only acked
    await eventually(() => fair.fairStatus('in')?.intake?.sorted === 5, 5_000, 'the intake to sort 5');
    expect(worker.got.length).toBe(10);
    await worker.stop();
    await raw.close();
  });
});
