// AmqpSession.declareQueueThenDelete: the deletes queued right behind a declare (the MQTT
// client-id lock and the queues a CONNECT deletes once it holds the id) must run only when that
// declare succeeds, including when the lane's channel closes around them.

import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, isGatewayError } from '../../src/errors.js';
import type { AmqpSession } from '../../src/fabric/amqp/session.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { cleanups, makeFabric, witness } from './fabric-amqp-helpers.js';

describe.runIf(brokerAvailable)('[rabbitmq] AmqpSession.declareQueueThenDelete', () => {
  const cleanup = cleanups();
  afterEach(() => cleanup.run());

  /** one lane, so that every session's operations share one channel */
  async function setup() {
    const fabric = makeFabric({ topologyChannels: 1 });
    cleanup.push(() => fabric.close());
    await fabric.start();
    const w = await witness();
    cleanup.push(() => w.close());
    const open = () => fabric.openSession({ vhost: '/' }) as AmqpSession;
    /** a durable queue holding `n` messages, made behind the fabric's back */
    const filled = async (prefix: string, n: number) => {
      const name = uniqueName(prefix);
      cleanup.deleteQueueLater(name);
      const ch = await w.conn.createConfirmChannel();
      await ch.assertQueue(name, { durable: true });
      for (let i = 0; i < n; i++) ch.sendToQueue(name, Buffer.from(String(i)));
      await ch.waitForConfirms();
      await ch.close();
      return name;
    };
    const count = async (name: string) => {
      const ch = await w.conn.createChannel();
      try {
        return (await ch.checkQueue(name)).messageCount;
      } finally {
        await ch.close();
      }
    };
    return { fabric, w, open, filled, count };
  }

  it('the declare succeeds: the deletes run after it and answer their message counts', async () => {
    const { open, filled, w } = await setup();
    const s = open();
    const lock = uniqueName('claim-lock');
    const [a, b] = [await filled('claim-a', 2), uniqueName('claim-absent')];
    const info = await s.declareQueueThenDelete(lock, { exclusive: true }, [a, b]);
    expect(info.queue).toBe(lock);
    expect(await info.deleted).toEqual([{ messageCount: 2 }, { messageCount: 0 }]);
    expect(await w.queueExists(a)).toBe(false);
    expect(await w.queueExists(lock)).toBe(true);
    // the lock is recorded as the session's own: another session is refused, close deletes it
    await expect(open().declareQueue(lock, { exclusive: true })).rejects.toSatisfy((e) => isGatewayError(e, ErrorCode.RESOURCE_LOCKED));
    await s.close();
    expect(await w.queueExists(lock)).toBe(false);
  });

  it('the declare is refused (held by another connection): the deletes never run, other sessions on the lane carry on', async () => {
    const { open, filled, count, w } = await setup();
    const lock = uniqueName('claim-held');
    const holder = await w.conn.createChannel();
    await holder.assertQueue(lock, { exclusive: true });
    const kept = await filled('claim-kept', 3);
    const bystander = open();
    const mine = uniqueName('claim-bystander');
    // the bystander's declare shares the channel the refusal closes
    const [refused, other] = await Promise.allSettled([open().declareQueueThenDelete(lock, { exclusive: true }, [kept]), bystander.declareQueue(mine, { exclusive: true })]);
    expect(refused.status).toBe('rejected');
    expect(isGatewayError((refused as PromiseRejectedResult).reason, ErrorCode.RESOURCE_LOCKED)).toBe(true);
    expect(other.status).toBe('fulfilled');
    expect(await count(kept)).toBe(3);
    await holder.close();
  });

  it('the lane\'s channel closes before the declare (another session\'s 404): the declare is retried, the deletes wait for it', async () => {
    const { open, filled, count, w } = await setup();
    const failing = open();
    // refused again on the retry: nothing is deleted
    const held = uniqueName('claim-held2');
    const holder = await w.conn.createChannel();
    await holder.assertQueue(held, { exclusive: true });
    const kept = await filled('claim-kept2', 2);
    const missing = failing.checkQueue(uniqueName('claim-missing'));
    const refused = open().declareQueueThenDelete(held, { exclusive: true }, [kept]);
    await expect(missing).rejects.toSatisfy((e) => isGatewayError(e, ErrorCode.NOT_FOUND));
    await expect(refused).rejects.toSatisfy((e) => isGatewayError(e, ErrorCode.RESOURCE_LOCKED));
    expect(await count(kept)).toBe(2);
    await holder.close();
    // free on the retry: the deletes run once it holds
    const free = uniqueName('claim-free');
    const gone = await filled('claim-gone', 1);
    const missing2 = failing.checkQueue(uniqueName('claim-missing'));
    const taken = open().declareQueueThenDelete(free, { exclusive: true }, [gone]);
    await expect(missing2).rejects.toSatisfy((e) => isGatewayError(e, ErrorCode.NOT_FOUND));
    expect(await (await taken).deleted).toEqual([{ messageCount: 1 }]);
    expect(await w.queueExists(gone)).toBe(false);
  });
});
