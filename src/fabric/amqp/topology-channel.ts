// The channel that carries every risky operation of the sessions on one connection: declares
// with user-chosen names and arguments, passive checks, binds, deletes, purges, basic.get.
// Any of these may fail with a channel error (404, 403, 405, 406), and in AMQP a channel error
// closes the channel. So: only the operation that caused the close is rejected (amqplib hands
// it the close frame, with its reply code); operations queued behind it on the same channel
// were never sent, and are retried on a fresh channel, opened on demand. Consumers and
// publishes live on other channels and never notice.

import type { Channel } from 'amqplib';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { ManagedConnection } from './connection.js';
import { fromAmqpError, isCollateralChannelError } from './errors.js';

const MAX_COLLATERAL_RETRIES = 3;

export class TopologyChannel {
  private channel: Channel | null = null;
  private opening: Promise<Channel> | null = null;

  constructor(
    private readonly conn: ManagedConnection,
    private readonly log: Logger,
    private readonly metrics: Metrics | undefined,
  ) {
    conn.on('down', () => {
      this.channel = null;
      this.opening = null;
    });
  }

  /** Run one operation; rejects with a GatewayError that concerns this operation only. */
  async run<T>(op: (ch: Channel) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const ch = await this.current();
      try {
        return await op(ch);
      } catch (err) {
        if (isCollateralChannelError(err) && this.conn.isUp && attempt < MAX_COLLATERAL_RETRIES) continue;
        throw fromAmqpError(err);
      }
    }
  }

  get channelOpen(): boolean {
    return this.channel !== null;
  }

  /** whether `ch` is still the live channel (basic.get messages can only be settled on theirs) */
  isCurrent(ch: Channel): boolean {
    return this.channel === ch;
  }

  private current(): Promise<Channel> {
    if (this.channel) return Promise.resolve(this.channel);
    if (this.opening) return this.opening;
    const model = this.conn.requireModel();
    const opening: Promise<Channel> = model.createChannel().then(
      (ch) => this.adopt(ch, opening),
      (err: unknown) => {
        if (this.opening === opening) this.opening = null;
        throw fromAmqpError(err);
      },
    );
    this.opening = opening;
    return opening;
  }

  private adopt(ch: Channel, opening: Promise<Channel>): Channel {
    if (this.opening === opening) {
      this.opening = null;
      this.channel = ch;
    }
    this.metrics?.fabricChannels.inc();
    ch.on('error', (err: Error) => this.log.debug({ err: err.message, conn: this.conn.name }, 'topology channel closed by the broker'));
    ch.on('close', () => {
      this.metrics?.fabricChannels.dec();
      if (this.channel === ch) this.channel = null;
    });
    return ch;
  }

  async close(): Promise<void> {
    const ch = this.channel;
    this.channel = null;
    if (ch) await ch.close().catch(() => undefined);
  }
}
