// The AMQP methods behind each topology step, used both the first time a session declares
// something and when the fabric declares it again after a reconnect.

import type { Channel, Options, Replies } from 'amqplib';
import type { ExchangeOptions, QueueOptions } from '../types.js';
import type { TopologyStep } from './topology-record.js';

// amqplib defaults `durable` to true; AMQP (and the seam) default everything to false.
function assertQueueOptions(opts: QueueOptions): Options.AssertQueue {
  return {
    durable: opts.durable ?? false,
    exclusive: opts.exclusive ?? false,
    autoDelete: opts.autoDelete ?? false,
    arguments: opts.arguments,
  };
}

function assertExchangeOptions(opts: ExchangeOptions): Options.AssertExchange {
  return {
    durable: opts.durable ?? false,
    autoDelete: opts.autoDelete ?? false,
    internal: opts.internal ?? false,
    arguments: opts.arguments,
  };
}

export function declareQueue(ch: Channel, name: string, opts: QueueOptions): Promise<Replies.AssertQueue> {
  return ch.assertQueue(name, assertQueueOptions(opts));
}

export async function applyStep(ch: Channel, step: TopologyStep): Promise<void> {
  switch (step.kind) {
    case 'exchange':
      await ch.assertExchange(step.name, step.type, assertExchangeOptions(step.opts));
      return;
    case 'queue':
      await declareQueue(ch, step.name, step.opts);
      return;
    case 'queueBinding':
      await ch.bindQueue(step.queue, step.exchange, step.routingKey, step.args);
      return;
    case 'exchangeBinding':
      await ch.bindExchange(step.destination, step.source, step.routingKey, step.args);
      return;
  }
}
