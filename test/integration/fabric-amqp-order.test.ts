// AMQP fabric: unconfirmed publishes go on a plain (non-confirm) channel, confirmed ones on the
// confirm channel, and a session's publishes still reach the broker in the order it made them
// (AMQP orders per channel only: the session switches channel once, behind a barrier).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../src/errors.js';
import type { AmqpFabric } from '../../src/fabric/amqp/index.js';
import type { FabricSession } from '../../src/fabric/types.js';
import { brokerAvailable } from '../support/broker.js';
import { BrokerRelay, Inbox, makeFabric, waitUntil } from './fabric-amqp-helpers.js';

const seqOf = (d: { body: Buffer }) => Number(d.body.toString('latin1').split(':')[0]);
const message = (i: number, pad: Buffer) => ({ body: Buffer.concat([Buffer.from(`${i}:`), pad]), properties: {} });

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric publish channels and per-session order', () => {
  let fabric: AmqpFabric;
  const sessions: FabricSession[] = [];
  const open = () => {
    const s = fabric.openSession({ vhost: '/', label: 'order' });
    sessions.push(s);
    return s;
  };

  beforeAll(async () => {
    fabric = makeFabric({ connectionsPerVhost: 1 });
    await fabric.start();
  });

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close()));
    await fabric.close();
  });

  it('unconfirmed publishes open the plain channel and resolve without a confirm', async () => {
    const s = open();
    const { queue } = await s.declareQueue('', { exclusive: true });
    const inbox = new Inbox();
    await s.consume(queue, { prefetch: 100, noAck: true }, inbox.push);
    const before = fabric.channelCount();
    await Promise.all(Array.from({ length: 50 }, (_, i) => s.publish('', queue, message(i, Buffer.alloc(0)))));
    expect(fabric.channelCount()).toBe(before + 1);
    const got = await inbox.waitFor(50);
    expect(got.map(seqOf)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('a burst of unconfirmed publishes then a confirmed one: the confirmed one arrives last', async () => {
    const s = open();
    const { queue } = await s.declareQueue('', { exclusive: true });
    const inbox = new Inbox();
    await s.consume(queue, { prefetch: 500, noAck: true }, inbox.push);
    // large enough that the plain channel's backlog takes the broker a while: without the
    // barrier the confirmed publish on the other channel would overtake it
    const pad = Buffer.alloc(16 * 1024, 0x61);
    const n = 600;
    const sent: Promise<void>[] = [];
    for (let i = 0; i < n; i++) sent.push(s.publish('', queue, message(i, pad)));
    sent.push(s.publish('', queue, message(n, pad), { confirm: true }));
    // and after the switch, unconfirmed ones again: the session stays on the confirm channel
    for (let i = n + 1; i < n + 50; i++) sent.push(s.publish('', queue, message(i, pad), { confirm: i % 7 === 0 }));
    await Promise.all(sent);
    const got = await inbox.waitFor(n + 50, 30_000);
    expect(got.map(seqOf)).toEqual(Array.from({ length: n + 50 }, (_, i) => i));
  });

  it('many sessions, each alternating confirmed and unconfirmed publishes on one queue: each keeps its own order', async () => {
    const consumerSession = open();
    const { queue } = await consumerSession.declareQueue('', { exclusive: true });
    const inbox = new Inbox();
    await consumerSession.consume(queue, { prefetch: 500, noAck: true }, inbox.push);
    const publishers = Array.from({ length: 8 }, () => open());
    const perSession = 200;
    await Promise.all(
      publishers.map((p, k) =>
        Promise.all(
          Array.from({ length: perSession }, (_, i) =>
            // every session starts unconfirmed and switches at a different point
            p.publish('', queue, { body: Buffer.from(`${k}:${i}`), properties: {} }, { confirm: i >= 20 + k * 10 && i % 3 === 0 }),
          ),
        ),
      ),
    );
    const got = await inbox.waitFor(perSession * publishers.length, 30_000);
    const bySession = new Map<number, number[]>();
    for (const d of got) {
      const [k, i] = d.body.toString().split(':').map(Number) as [number, number];
      bySession.set(k, [...(bySession.get(k) ?? []), i]);
    }
    for (let k = 0; k < publishers.length; k++) expect(bySession.get(k)).toEqual(Array.from({ length: perSession }, (_, i) => i));
  });

  it('an unconfirmed publish to a missing exchange is refused and the session keeps publishing', async () => {
    const s = open();
    const { queue } = await s.declareQueue('', { exclusive: true });
    const inbox = new Inbox();
    await s.consume(queue, { prefetch: 10, noAck: true }, inbox.push);
    const err = await s.publish('no-such-exchange-order-test', 'k', message(0, Buffer.alloc(0))).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isGatewayError(err, ErrorCode.NOT_FOUND)).toBe(true);
    await s.publish('', queue, message(1, Buffer.alloc(0)));
    expect((await inbox.waitFor(1)).map(seqOf)).toEqual([1]);
  });
});

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric plain publish flow control', () => {
  it('a publisher that waits whenever the session is not writable is never refused (the opening channel pauses it too)', async () => {
    const fabric = makeFabric({ maxUnconfirmed: 50 });
    try {
      await fabric.start();
      const s = fabric.openSession({ vhost: '/', label: 'plain-flow' });
      const { queue } = await s.declareQueue('', { exclusive: true });
      const inbox = new Inbox();
      await s.consume(queue, { prefetch: 500, noAck: true }, inbox.push);
      const pad = Buffer.alloc(8 * 1024, 0x62);
      const n = 2000;
      let paused = 0;
      const sent: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        if (!s.writable) {
          paused += 1;
          await new Promise<void>((resolve) => {
            const off = s.onWritable(() => {
              off();
              resolve();
            });
            if (s.writable) {
              off();
              resolve();
            }
          });
        }
        sent.push(s.publish('', queue, message(i, pad)));
      }
      await Promise.all(sent);
      expect(paused).toBeGreaterThan(0);
      const got = await inbox.waitFor(n, 30_000);
      expect(got.map(seqOf)).toEqual(Array.from({ length: n }, (_, i) => i));
      await s.close();
    } finally {
      await fabric.close();
    }
  });
});

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric plain publishes while the broker is away', () => {
  it('broker down: an unconfirmed publish is refused at once with BACKEND_UNAVAILABLE; back up: it works again', async () => {
    const relay = new BrokerRelay();
    await relay.up();
    const fabric = makeFabric({ url: relay.url });
    try {
      await fabric.start();
      const s = fabric.openSession({ vhost: '/', label: 'plain-down' });
      const { queue } = await s.declareQueue('', { exclusive: true });
      await s.publish('', queue, message(0, Buffer.alloc(0)));
      await relay.down();
      await waitUntil(() => !fabric.status().connected, 10_000, 'the fabric to see the loss');
      expect(s.writable).toBe(false);
      const err = await s.publish('', queue, message(1, Buffer.alloc(0))).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isGatewayError(err, ErrorCode.BACKEND_UNAVAILABLE)).toBe(true);
      await relay.up();
      await waitUntil(() => fabric.status().connected && s.writable, 15_000, 'reconnect');
      const { queue: q2 } = await s.declareQueue('', { exclusive: true });
      await s.publish('', q2, message(2, Buffer.alloc(0)));
      await s.close();
    } finally {
      await fabric.close();
      await relay.down();
    }
  });
});
