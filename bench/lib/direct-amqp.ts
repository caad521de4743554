// The direct-AMQP reference of the per-protocol benches (bench/mqtt-throughput.ts,
// bench/stomp-throughput.ts): one amqplib publisher → amq.topic → one consumer, in messages/s.
// Either fire-and-forget with a no-ack consumer, or persistent messages with publisher confirms
// and manual acks under a prefetch.
import amqplib from 'amqplib';

export interface DirectAmqpRun {
  url: string;
  messages: number;
  payload: Buffer;
  confirmAndAck: boolean;
  /** the consumer's prefetch when it acks */
  prefetch: number;
  timeoutMs?: number;
}

export async function directAmqpRate(o: DirectAmqpRun): Promise<number> {
  const conn = await amqplib.connect(o.url);
  try {
    const consumeCh = await conn.createChannel();
    const key = `bench.${process.pid}.${Date.now()}`;
    const { queue } = await consumeCh.assertQueue('', { exclusive: true });
    await consumeCh.bindQueue(queue, 'amq.topic', key);
    if (o.confirmAndAck) await consumeCh.prefetch(o.prefetch);
    let received = 0;
    const all = new Promise<void>((resolve) => {
      void consumeCh.consume(queue, (m) => {
        if (m && o.confirmAndAck) consumeCh.ack(m);
        if (++received === o.messages) resolve();
      }, { noAck: !o.confirmAndAck });
    });
    const pubCh = o.confirmAndAck ? await conn.createConfirmChannel() : await conn.createChannel();
    const t0 = performance.now();
    for (let i = 0; i < o.messages; i++) {
      const more = pubCh.publish('amq.topic', key, o.payload, { deliveryMode: o.confirmAndAck ? 2 : 1 });
      if (!more) await new Promise((r) => pubCh.once('drain', r));
    }
    if (o.confirmAndAck) await (pubCh as amqplib.ConfirmChannel).waitForConfirms();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`direct AMQP: ${received}/${o.messages} received`)), o.timeoutMs ?? 120_000);
    });
    try {
      await Promise.race([all, timeout]);
    } finally {
      clearTimeout(timer);
    }
    return Math.round((o.messages / (performance.now() - t0)) * 1000);
  } finally {
    await conn.close().catch(() => undefined);
  }
}
