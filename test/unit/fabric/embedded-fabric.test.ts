// Embedded-only behaviour, beyond the shared contract (test/contract/).
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { EmbeddedFabric } from '../../../src/fabric/embedded/index.js';
import { headersMatch } from '../../../src/fabric/embedded/routers.js';
import type { Delivery } from '../../../src/fabric/types.js';
import { Collector, eventually, expectCode, msg, text } from '../../contract/helpers.js';

const fabrics: EmbeddedFabric[] = [];
async function started(): Promise<EmbeddedFabric> {
  const f = new EmbeddedFabric();
  fabrics.push(f);
  await f.start();
  return f;
}

afterEach(async () => {
  for (const f of fabrics.splice(0)) await f.close();
});

describe('UNIT: embedded fabric', () => {
  it('is not connected before start, and after close', async () => {
    const f = new EmbeddedFabric();
    expect(f.status().connected).toBe(false);
    await f.start();
    expect(f.status().connected).toBe(true);
    const down = new Promise<string>((r) => f.once('down', r));
    await f.close();
    expect(await down).toBe('closed');
    expect(f.status()).toMatchObject({ connected: false, reason: 'closed' });
    expect(() => f.openSession({ vhost: '/' })).toThrow();
  });

  it('keeps every vhost a separate namespace, created on first use', async () => {
    const f = await started();
    const a = f.openSession({ vhost: 'tenant-a' });
    const b = f.openSession({ vhost: 'tenant-b' });
    await a.declareQueue('shared-name');
    await expectCode(b.checkQueue('shared-name'), ErrorCode.NOT_FOUND);
    await b.checkExchange('amq.topic');
    await b.declareQueue('shared-name');
    await a.bindQueue('shared-name', 'amq.topic', 'k');
    await b.publish('amq.topic', 'k', msg('to b'), { confirm: true });
    expect(await a.get('shared-name')).toBeNull();
  });

  it('rejects every call on a closed session with BACKEND_UNAVAILABLE', async () => {
    const f = await started();
    const s = f.openSession({ vhost: '/' });
    await s.close();
    await s.close(); // idempotent
    await expectCode(s.declareQueue('q'), ErrorCode.BACKEND_UNAVAILABLE);
    await expectCode(s.publish('', 'q', msg('x')), ErrorCode.BACKEND_UNAVAILABLE);
  });

  it('a handler that throws does not stop the deliveries after it', async () => {
    const f = await started();
    const s = f.openSession({ vhost: '/' });
    const { queue } = await s.declareQueue('', { exclusive: true });
    const seen: string[] = [];
    await s.consume(queue, { noAck: true }, (d) => {
      seen.push(text(d));
      if (seen.length === 1) throw new Error('boom');
    });
    await s.publish('', queue, msg('1'));
    await s.publish('', queue, msg('2'));
    await eventually(() => expect(seen).toEqual(['1', '2']));
  });

  it('x-max-length bounds what a queue holds, whatever is published', async () => {
    const f = await started();
    const s = f.openSession({ vhost: '/' });
    const { queue } = await s.declareQueue('', { exclusive: true, arguments: { 'x-max-length': 100 } });
    for (let i = 0; i < 20_000; i++) await s.publish('', queue, msg(String(i)));
    expect((await s.checkQueue(queue)).messageCount).toBe(100);
    expect(text((await s.get(queue, { noAck: true })) as Delivery)).toBe('19900');
  });

  it('a consumer of a deleted queue stops quietly; acking its deliveries is harmless', async () => {
    const f = await started();
    const s = f.openSession({ vhost: '/' });
    const { queue } = await s.declareQueue('');
    const c = new Collector();
    const consumer = await s.consume(queue, { prefetch: 5 }, c.handler);
    await s.publish('', queue, msg('a'));
    const [d] = await c.count(1);
    await s.deleteQueue(queue);
    consumer.ack(d as Delivery);
    consumer.nack(d as Delivery, { requeue: true });
    await consumer.cancel();
    await expectCode(s.checkQueue(queue), ErrorCode.NOT_FOUND);
  });

  it('redeclaring an exclusive queue as non-exclusive, even by its owner, is RESOURCE_LOCKED (as RabbitMQ)', async () => {
    const f = await started();
    const s = f.openSession({ vhost: '/' });
    const { queue } = await s.declareQueue('', { exclusive: true });
    await expectCode(s.declareQueue(queue), ErrorCode.RESOURCE_LOCKED);
    await s.declareQueue(queue, { exclusive: true });
  });

  it('refuses prefetch outside 0..65535', async () => {
    const f = await started();
    const s = f.openSession({ vhost: '/' });
    const { queue } = await s.declareQueue('', { exclusive: true });
    await expectCode(s.consume(queue, { prefetch: -1 }, () => {}), ErrorCode.PRECONDITION_FAILED);
    await expectCode(s.consume(queue, { prefetch: 70_000 }, () => {}), ErrorCode.PRECONDITION_FAILED);
  });

  it('stamps x-death time as epoch seconds', async () => {
    const f = await started();
    const s = f.openSession({ vhost: '/' });
    const { queue: dlq } = await s.declareQueue('', { exclusive: true });
    const { queue } = await s.declareQueue('', { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq } });
    await s.publish('', queue, msg('x'));
    (await s.get(queue))?.settle('discard');
    const dead = await s.get(dlq, { noAck: true });
    const [death] = dead?.properties.headers?.['x-death'] as { time: number }[];
    expect(Math.abs((death?.time ?? 0) - Date.now() / 1000)).toBeLessThan(5);
  });
});

describe('UNIT: embedded fabric at scale', () => {
  it('connect/disconnect churn of 20k sessions with a bound exclusive queue each stays linear and leaves nothing behind', async () => {
    const f = await started();
    const t0 = performance.now();
    const live = [];
    for (let i = 0; i < 20_000; i++) {
      const s = f.openSession({ vhost: '/' });
      const { queue } = await s.declareQueue('', { exclusive: true });
      await s.bindQueue(queue, 'amq.topic', `clients.c${i}.#`);
      live.push(s);
    }
    const probe = f.openSession({ vhost: '/' });
    await probe.publish('amq.topic', 'clients.c19999.x', msg('routed'), { mandatory: true, confirm: true });
    for (const s of live) await s.close();
    await expectCode(probe.publish('amq.topic', 'clients.c19999.x', msg('x'), { mandatory: true, confirm: true }), ErrorCode.UNROUTABLE);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

describe('UNIT: headers exchange matching', () => {
  it('follows RabbitMQ: x-* binding keys are ignored unless *-with-x, null matches presence', () => {
    expect(headersMatch({ a: 1 }, { a: 1, b: 2 })).toBe(true);
    expect(headersMatch({ a: 1, b: 3 }, { a: 1, b: 2 })).toBe(false);
    expect(headersMatch({ 'x-match': 'any', a: 9, b: 2 }, { a: 1, b: 2 })).toBe(true);
    expect(headersMatch({ 'x-match': 'any' }, { a: 1 })).toBe(false);
    expect(headersMatch({}, {})).toBe(true);
    expect(headersMatch({ a: null }, { a: 'anything' })).toBe(true);
    expect(headersMatch({ a: null }, {})).toBe(false);
    expect(headersMatch({ 'x-k': 1 }, {})).toBe(true);
    expect(headersMatch({ 'x-match': 'all-with-x', 'x-k': 1 }, {})).toBe(false);
    expect(headersMatch({ 'x-match': 'all-with-x', 'x-k': 1 }, { 'x-k': 1 })).toBe(true);
    expect(headersMatch({ 'x-match': 'any-with-x', 'x-k': 1, b: 2 }, { 'x-k': 1 })).toBe(true);
    expect(headersMatch({ n: { deep: [1, 'a'] } }, { n: { deep: [1, 'a'] } })).toBe(true);
    expect(headersMatch({ buf: Buffer.from('a') }, { buf: Buffer.from('a') })).toBe(true);
  });
});
