// One slot of a vhost's pool: the unit a session is pinned to. A slot is TWO AMQP connections:
//
//   consume connection: the topology channel (declares, binds, deletes, passive checks, get)
//     and the consumer channels (up to `consumersPerChannel` consumers each). Exclusive
//     queues belong to a connection, so a session's topology and consumers must stay on one.
//   publish connection: one confirm channel and one plain channel (opened on the first
//     unconfirmed publish), each shared by every session of the slot (see session.ts for
//     which a session uses).
//
// Publishing and consuming are split because RabbitMQ's memory and disk alarms block the
// connections that publish (the broker stops reading their sockets): acks and consumer
// traffic on a publishing connection would stall with them. RabbitMQ's docs advise exactly
// this split. Per slot: 2 connections, 1 publish + up to `topologyChannels` topology +
// about consumers / consumersPerChannel consumer channels (two kinds: see below).
//
// When the consume connection comes back after a loss, every live session pinned here
// declares its recorded topology again and resumes its consumers.

import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { BackoffOptions } from './backoff.js';
import { ManagedConnection } from './connection.js';
import { ConsumerChannelPool } from './consumer-channels.js';
import { Publisher } from './publisher.js';
import type { AmqpSession } from './session.js';
import { TopologyChannel } from './topology-channel.js';

export interface SlotOptions {
  url: string;
  /** names the connections in `rabbitmqctl list_connections name` */
  name: string;
  log: Logger;
  metrics: Metrics | undefined;
  backoff: BackoffOptions | undefined;
  confirmWindow: number;
  maxUnconfirmed: number;
  consumersPerChannel: number;
  /** topology channels on the consume connection: the broker runs each channel's declares and
   *  binds one at a time, so a few lanes keep a storm of connects from queueing behind one */
  topologyChannels: number;
  /** sessions replayed at once after a reconnect */
  replayConcurrency: number;
  /** something that `status()` reports on changed */
  onChange(): void;
}

export class Slot {
  readonly sub: ManagedConnection;
  readonly pub: ManagedConnection;
  readonly publisher: Publisher;
  /** topology lanes: a session uses one (its operations stay in order), sessions spread over all */
  readonly topology: TopologyChannel[];
  private nextLane = 0;
  /**
   * Consumer channels come in two kinds. A consume on a queue others can use may be refused
   * (403: someone holds it with an exclusive consumer), and a refusal closes the channel:
   * its other consumers are cancelled, and auto-delete queues among theirs are deleted. So
   * consumers on a session's own exclusive queues (which nobody else can touch: the common
   * subscription case) never share a channel with those risky consumes.
   */
  readonly ownQueueConsumers: ConsumerChannelPool;
  readonly sharedQueueConsumers: ConsumerChannelPool;
  readonly sessions = new Set<AmqpSession>();
  private replayGeneration = 0;
  private replaying = false;
  /** the publish connection is up and its confirm channel was opened since */
  private publishReady = false;

  constructor(private readonly opts: SlotOptions) {
    const { url, log, backoff } = opts;
    this.sub = new ManagedConnection({ url, name: `${opts.name} consume`, log, backoff });
    this.pub = new ManagedConnection({ url, name: `${opts.name} publish`, log, backoff });
    this.publisher = new Publisher(this.pub, {
      window: opts.confirmWindow,
      maxUnconfirmed: opts.maxUnconfirmed,
      log,
      metrics: opts.metrics,
    });
    this.topology = Array.from({ length: Math.max(1, opts.topologyChannels) }, () => new TopologyChannel(this.sub, log, opts.metrics));
    const poolOptions = { perChannel: opts.consumersPerChannel, log, metrics: opts.metrics };
    this.ownQueueConsumers = new ConsumerChannelPool(this.sub, poolOptions);
    this.sharedQueueConsumers = new ConsumerChannelPool(this.sub, poolOptions);
    for (const conn of [this.sub, this.pub]) {
      conn.on('down', () => opts.onChange());
      conn.on('blocked', () => opts.onChange());
      conn.on('unblocked', () => opts.onChange());
    }
    this.sub.on('up', () => void this.recover());
    this.pub.on('up', () =>
      void this.publisher.ready().then(() => {
        this.publishReady = this.pub.isUp;
        opts.onChange();
      }),
    );
    this.pub.on('down', () => {
      this.publishReady = false;
    });
  }

  /** connected, and (after a loss) every session's topology declared again */
  get ready(): boolean {
    return this.sub.isUp && this.pub.isUp && this.publishReady && !this.replaying;
  }

  get blocked(): boolean {
    return this.pub.blocked;
  }

  /** why not ready, when not */
  get reason(): string | undefined {
    if (!this.sub.isUp) return this.sub.reason;
    if (!this.pub.isUp) return this.pub.reason;
    if (!this.publishReady) return 'opening the publish channel';
    if (this.replaying) return 'declaring session topology again after a reconnect';
    return undefined;
  }

  /** the topology lane for a session joining this slot */
  assignLane(): TopologyChannel {
    const lane = this.topology[this.nextLane % this.topology.length] as TopologyChannel;
    this.nextLane += 1;
    return lane;
  }

  consumerPool(sharedQueue: boolean): ConsumerChannelPool {
    return sharedQueue ? this.sharedQueueConsumers : this.ownQueueConsumers;
  }

  get channelCount(): number {
    return this.ownQueueConsumers.channelCount + this.sharedQueueConsumers.channelCount + (this.publisher.channelOpen ? 1 : 0) + (this.publisher.plainChannelOpen ? 1 : 0) + this.topology.filter((t) => t.channelOpen).length;
  }

  /**
   * Connect, and open the confirm channel and the topology lanes before the first session
   * needs them (the fabric starts before /readyz answers): otherwise the first CONNECTs of a
   * fresh process each wait for a lane's channel.open.
   */
  async open(): Promise<void> {
    try {
      await Promise.all([this.sub.open(), this.pub.open()]);
      await Promise.all([this.publisher.ready(), ...this.topology.map((lane) => lane.run(async () => undefined))]);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.publisher.close(), ...this.topology.map((t) => t.close()), this.ownQueueConsumers.close(), this.sharedQueueConsumers.close()]);
    await Promise.all([this.sub.close(), this.pub.close()]);
  }

  private async recover(): Promise<void> {
    const generation = ++this.replayGeneration;
    const isCurrent = () => generation === this.replayGeneration && this.sub.isUp;
    const sessions = [...this.sessions];
    if (sessions.length === 0) return this.opts.onChange();
    this.replaying = true;
    for (const session of sessions) session.expectReplay(generation);
    this.opts.onChange();
    const started = Date.now();
    let next = 0;
    const worker = async () => {
      while (next < sessions.length && isCurrent()) {
        const session = sessions[next++];
        if (session) await session.replay(this, generation, isCurrent);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.replayConcurrency, sessions.length) }, worker));
    // the ones not reached (the connection went again): their calls fail fast until the next 'up'
    for (const session of sessions) session.replayFinished(generation);
    if (generation !== this.replayGeneration) return;
    this.replaying = false;
    this.opts.log.info({ conn: this.sub.name, sessions: sessions.length, ms: Date.now() - started }, 'session topology declared again');
    this.opts.onChange();
  }
}
