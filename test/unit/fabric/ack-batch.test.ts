import { describe, expect, it } from 'vitest';
import { AckBatch } from '../../../src/fabric/amqp/ack-batch.js';

function recorder() {
  const sent: string[] = [];
  const batch = new AckBatch({
    ack: (tag, multiple) => sent.push(multiple ? `ack≤${tag}` : `ack ${tag}`),
    nack: (tag, requeue) => sent.push(`nack ${tag}${requeue ? ' requeue' : ''}`),
  });
  return { sent, batch };
}

const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));

describe('AckBatch', () => {
  it('sends the acks of one tick as one multiple ack when nothing older is unsettled', async () => {
    const { sent, batch } = recorder();
    for (let tag = 1; tag <= 5; tag++) batch.delivered(tag);
    for (const tag of [2, 1, 3, 4, 5]) batch.ack(tag);
    expect(sent).toEqual([]);
    await tick();
    expect(sent).toEqual(['ack≤5']);
    expect(batch.outstanding).toBe(0);
  });

  it('acks above an older unsettled delivery one by one, and never covers it', async () => {
    const { sent, batch } = recorder();
    for (let tag = 1; tag <= 6; tag++) batch.delivered(tag);
    for (const tag of [1, 2, 4, 5]) batch.ack(tag);
    await tick();
    expect(sent).toEqual(['ack≤2', 'ack 4', 'ack 5']);
    batch.ack(3);
    batch.ack(6);
    await tick();
    expect(sent.slice(3)).toEqual(['ack≤6']);
  });

  it('a single ack is a plain ack', async () => {
    const { sent, batch } = recorder();
    batch.delivered(7);
    batch.ack(7);
    await tick();
    expect(sent).toEqual(['ack 7']);
  });

  it('sends the waiting acks before a nack, at once', () => {
    const { sent, batch } = recorder();
    for (let tag = 1; tag <= 3; tag++) batch.delivered(tag);
    batch.ack(1);
    batch.ack(2);
    batch.nack(3, true);
    expect(sent).toEqual(['ack≤2', 'nack 3 requeue']);
  });

  it('ignores tags it does not know and tags settled already', async () => {
    const { sent, batch } = recorder();
    batch.delivered(1);
    batch.ack(1);
    batch.ack(1);
    batch.nack(1, true);
    batch.ack(99);
    await tick();
    expect(sent).toEqual(['ack 1']);
  });

  it('a forgotten delivery no longer holds acks above it back', async () => {
    const { sent, batch } = recorder();
    for (let tag = 1; tag <= 3; tag++) batch.delivered(tag);
    batch.forget(1);
    batch.ack(2);
    batch.ack(3);
    await tick();
    expect(sent).toEqual(['ack≤3']);
  });

  it('drops everything once the channel is gone', async () => {
    const { sent, batch } = recorder();
    batch.delivered(1);
    batch.ack(1);
    batch.clear();
    await tick();
    expect(sent).toEqual([]);
    expect(batch.outstanding).toBe(0);
  });
});
