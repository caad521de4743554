// RabbitMQ's memory alarm (connection.blocked) turns into `writable` false on the publishing
// connection while consumers keep consuming on the other; unblocked, the held publish is
// confirmed. It blocks every publisher on the broker, so it runs in the sequential faults phase.

import { afterEach, describe, expect, it } from 'vitest';
import type { FabricSession } from '../../src/fabric/types.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { Inbox, body, cleanups, makeFabric, once, rabbitmqctl } from '../integration/fabric-amqp-helpers.js';

describe.runIf(brokerAvailable)('[rabbitmq] AmqpFabric under a broker memory alarm', () => {
  const cleanup = cleanups();
  afterEach(() => cleanup.run());
  const deleteQueueLater = (name: string) => cleanup.deleteQueueLater(name);

  it('memory alarm: blocked → unwritable while consumers keep consuming; unblocked → the held publish is confirmed', async () => {
    const status = await rabbitmqctl('status');
    const setting = /Memory high watermark setting: ([\d.]+) of available memory/.exec(status)?.[1];
    expect(setting, 'this test restores a relative watermark; the broker has another kind').toBeDefined();
    const fabric = makeFabric();
    cleanup.push(() => fabric.close());
    await fabric.start();
    const s: FabricSession = fabric.openSession({ vhost: '/' });
    const q = uniqueName('fblocked');
    await deleteQueueLater(q);
    await s.declareQueue(q, {});
    for (let i = 0; i < 5; i++) await s.publish('', q, { body: body(`before-${i}`), properties: {} }, { confirm: true });
    let writableAgain = 0;
    s.onWritable(() => writableAgain++);

    const inbox = new Inbox();
    let heldSettled = false;
    let held: Promise<void> | undefined;
    const unblocked = once(fabric, 'unblocked', 60_000);
    try {
      const blocked = once<[string]>(fabric, 'blocked', 30_000);
      await rabbitmqctl('set_vm_memory_high_watermark', '0.000001');
      // RabbitMQ tells a connection it is blocked when it publishes
      held = s.publish('', q, { body: body('during'), properties: {} }, { confirm: true });
      void held.finally(() => (heldSettled = true));
      const [reason] = await blocked;
      expect(reason).toMatch(/memory/i);
      expect(fabric.status()).toMatchObject({ connected: true, blocked: true });
      expect(s.writable).toBe(false);
      // consumers live on the other connection, which the alarm does not block
      const consumer = await s.consume(q, { prefetch: 2 }, (d) => {
        inbox.push(d);
        consumer.ack(d);
      });
      await inbox.waitFor(5);
      expect(heldSettled).toBe(false);
    } finally {
      await rabbitmqctl('set_vm_memory_high_watermark', setting ?? '0.4');
    }
    await unblocked;
    await held;
    expect(fabric.status()).toEqual({ connected: true, blocked: false });
    expect(s.writable).toBe(true);
    expect(writableAgain).toBeGreaterThanOrEqual(1);
    const all = await inbox.waitFor(6);
    expect(all.map((d) => d.body.toString())).toEqual(['before-0', 'before-1', 'before-2', 'before-3', 'before-4', 'during']);
    await s.close();
  }, 90_000);
});
