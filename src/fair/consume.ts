// consume() whose handler gets the Consumer too. A fabric may hand over the first deliveries
// before consume() has resolved (amqplib dispatches a delivery that arrives in the same read as
// consume-ok synchronously); those are held and passed on as soon as the Consumer exists.
import type { ConsumeOptions, Consumer, Delivery, FabricSession } from '../fabric/types.js';

export async function consumeWith(
  session: FabricSession,
  queue: string,
  opts: ConsumeOptions,
  handle: (consumer: Consumer, delivery: Delivery) => void,
): Promise<Consumer> {
  let consumer: Consumer | null = null;
  const early: Delivery[] = [];
  consumer = await session.consume(queue, opts, (d) => {
    if (consumer === null) early.push(d);
    else handle(consumer, d);
  });
  const c = consumer;
  for (const d of early.splice(0)) handle(c, d);
  return c;
}
