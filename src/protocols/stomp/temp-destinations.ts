// Per-connection temporary destinations.
// - /temp-queue/<t>: a server-named exclusive queue that lives as long as the connection
//   (RabbitMQ's temp queues; ActiveMQ clients also SUBSCRIBE and SEND to it). In `reply-to`
//   it is rewritten to the real queue name, which responders see as /reply-queue/<name>.
// - /temp-topic/<t> (ActiveMQ): a routing key on amq.topic private to the connection; in
//   `reply-to` it becomes /topic/<that key>, so a responder's SEND reaches the subscribers.

import { ErrorCode, GatewayError } from '../../errors.js';
import type { FabricSession } from '../../fabric/types.js';
import { parseDestination } from './destination.js';

const MAX_TEMP_QUEUES = 64;

export class TempDestinations {
  private readonly queues = new Map<string, Promise<string>>();

  constructor(
    private readonly fabric: FabricSession,
    /** unique per connection, without dots */
    private readonly connectionKey: string,
  ) {}

  /** the real queue behind /temp-queue/<name>, declared on first use */
  queue(name: string): Promise<string> {
    let q = this.queues.get(name);
    if (q === undefined) {
      if (this.queues.size >= MAX_TEMP_QUEUES) {
        return Promise.reject(new GatewayError(ErrorCode.LIMIT_EXCEEDED, 'too many temporary queues', { detail: `a connection may use at most ${MAX_TEMP_QUEUES} temporary queues` }));
      }
      q = this.fabric.declareQueue('', { durable: false, exclusive: true, autoDelete: false }).then((info) => info.queue);
      q.catch(() => this.queues.delete(name));
      this.queues.set(name, q);
    }
    return q;
  }

  topicKey(name: string): string {
    return `temp-topic.${this.connectionKey}.${name}`;
  }

  /**
   * reply-to as the AMQP side should see it: temp queues become their real name (an AMQP
   * responder publishes to the default exchange with it), temp topics a /topic/ destination.
   * `onTempQueue` lets the session make sure replies are consumed.
   */
  async rewriteReplyTo(value: string | undefined, onTempQueue: (name: string, queue: string) => Promise<void>): Promise<string | undefined> {
    if (value === undefined || !/^\/temp-(queue|topic)\//.test(value)) return undefined;
    const dest = parseDestination(value);
    if (dest.kind === 'temp-topic') return `/topic/${this.topicKey(dest.name)}`;
    if (dest.kind !== 'temp-queue') return undefined;
    const queue = await this.queue(dest.name);
    await onTempQueue(dest.name, queue);
    return queue;
  }
}
