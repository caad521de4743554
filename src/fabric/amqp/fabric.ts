// The Fabric on RabbitMQ (amqplib). Per vhost (the configured URL's vhost replaced by the
// session's), a pool of `connectionsPerVhost` slots; each slot is one consume connection and
// one publish connection (see slot.ts). So for N vhosts in use: 2 × connectionsPerVhost × N
// AMQP connections, and per connection a handful of channels — never a channel per session.
//
// The default vhost's pool opens in start(); other vhosts' pools open on their first session.
// 'down' is emitted when any connection of an opened pool is lost, 'up' when all are back and
// every session's topology has been declared again.

import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { Fabric, FabricEvents, FabricSession, FabricStatus } from '../types.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { AmqpSession } from './session.js';
import { urlForVhost, vhostOfUrl } from './urls.js';
import { VhostPool } from './vhost-pool.js';

export interface AmqpFabricOptions {
  url: string;
  /** slots per vhost (each slot: a consume and a publish connection) */
  connectionsPerVhost: number;
  log: Logger;
  metrics?: Metrics;
  /** unconfirmed publishes per publish connection at which sessions stop being writable */
  confirmWindow?: number;
  /** unconfirmed publishes per publish connection past which publishes are refused */
  maxUnconfirmed?: number;
  consumersPerChannel?: number;
  /** topology channels per consume connection (sessions are spread over them) */
  topologyChannels?: number;
  /** how long close() waits for outstanding confirms */
  closeTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** prefix of the connection names shown by `rabbitmqctl list_connections` */
  connectionName?: string;
}

const DEFAULTS = {
  confirmWindow: 1000,
  maxUnconfirmed: 10_000,
  consumersPerChannel: 50,
  topologyChannels: 4,
  closeTimeoutMs: 5_000,
  replayConcurrency: 32,
  heartbeatSeconds: 15,
};

export class AmqpFabric extends EventEmitter<FabricEvents> implements Fabric {
  readonly kind = 'amqp' as const;
  private readonly pools = new Map<string, VhostPool>();
  private readonly log: Logger;
  private readonly defaultVhost: string;
  private started = false;
  private closing = false;
  private connected = false;
  private blocked = false;

  constructor(private readonly opts: AmqpFabricOptions) {
    super();
    this.log = opts.log.child({ component: 'fabric-amqp' });
    this.defaultVhost = vhostOfUrl(opts.url);
    opts.metrics?.fabricUp.set(0);
    opts.metrics?.fabricBlocked.set(0);
  }

  async start(): Promise<void> {
    const pool = this.poolFor(this.defaultVhost);
    await pool.ready;
    this.started = true;
    this.log.info({ vhost: this.defaultVhost, connections: pool.slots.length * 2 }, 'connected to RabbitMQ');
    this.updateStatus();
  }

  openSession(owner: { vhost: string; label?: string }): FabricSession {
    if (this.closing) throw new Error('the AMQP fabric is closing');
    return new AmqpSession(owner.vhost, owner.label, this.poolFor(owner.vhost), this.log);
  }

  status(): FabricStatus {
    if (this.closing) return { connected: false, blocked: false, reason: 'closed' };
    if (!this.started) return { connected: false, blocked: false, reason: 'not started' };
    if (!this.connected) return { connected: false, blocked: this.blocked, reason: this.downReason() };
    return { connected: true, blocked: this.blocked, ...(this.blocked ? { reason: this.blockedReason() } : {}) };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    const pools = [...this.pools.values()];
    await Promise.all(pools.map((p) => p.waitIdle(this.opts.closeTimeoutMs ?? DEFAULTS.closeTimeoutMs)));
    this.closing = true;
    for (const pool of pools) for (const slot of pool.slots) for (const session of [...slot.sessions]) session.abandon();
    await Promise.all(pools.map((p) => p.close()));
    this.pools.clear();
    this.opts.metrics?.fabricUp.set(0);
    this.opts.metrics?.fabricBlocked.set(0);
  }

  /** the connections of every opened pool (for tests and the management API) */
  connections() {
    return [...this.pools.values()].flatMap((p) => p.slots.flatMap((s) => [s.sub, s.pub]));
  }

  /** channels held open by the fabric right now */
  channelCount(): number {
    let n = 0;
    for (const pool of this.pools.values()) {
      for (const slot of pool.slots) n += slot.channelCount;
    }
    return n;
  }

  private poolFor(vhost: string): VhostPool {
    const existing = this.pools.get(vhost);
    if (existing) return existing;
    // RabbitMQ suggests 60 s: a broker that vanishes without a TCP reset would go unnoticed
    // for up to two minutes. 15 s unless the URL says otherwise.
    const url = urlForVhost(this.opts.url, vhost, DEFAULTS.heartbeatSeconds);
    const brokerUser = decodeURIComponent(new URL(this.opts.url).username) || 'guest';
    const pool = new VhostPool(vhost, brokerUser, this.opts.connectionsPerVhost, (i) => ({
      url,
      name: `${this.opts.connectionName ?? `tributary ${hostname()} ${process.pid}`} ${vhost} #${i}`,
      log: this.log,
      metrics: this.opts.metrics,
      backoff: this.opts.backoff ?? DEFAULT_BACKOFF,
      confirmWindow: this.opts.confirmWindow ?? DEFAULTS.confirmWindow,
      maxUnconfirmed: this.opts.maxUnconfirmed ?? DEFAULTS.maxUnconfirmed,
      consumersPerChannel: this.opts.consumersPerChannel ?? DEFAULTS.consumersPerChannel,
      topologyChannels: this.opts.topologyChannels ?? DEFAULTS.topologyChannels,
      replayConcurrency: DEFAULTS.replayConcurrency,
      onChange: () => this.updateStatus(),
    }));
    this.pools.set(vhost, pool);
    // a pool that cannot open is dropped, so that a later session tries again
    pool.ready.then(
      () => this.updateStatus(),
      (err: unknown) => {
        if (this.pools.get(vhost) === pool) this.pools.delete(vhost);
        this.log.warn({ vhost, err: String(err) }, 'cannot open AMQP connections for vhost');
      },
    );
    return pool;
  }

  private opened(): VhostPool[] {
    return [...this.pools.values()].filter((p) => p.opened);
  }

  private downReason(): string {
    for (const pool of this.opened()) for (const slot of pool.slots) if (slot.reason) return slot.reason;
    return 'connecting';
  }

  private blockedReason(): string {
    for (const pool of this.opened()) for (const slot of pool.slots) if (slot.pub.blocked) return slot.pub.blockedReason;
    return '';
  }

  private updateStatus(): void {
    if (!this.started || this.closing) return;
    const pools = this.opened();
    const connected = pools.length > 0 && pools.every((p) => p.healthy);
    const blocked = pools.some((p) => p.slots.some((s) => s.blocked));
    if (connected !== this.connected) {
      this.connected = connected;
      this.opts.metrics?.fabricUp.set(connected ? 1 : 0);
      if (connected) this.emit('up');
      else this.emit('down', this.downReason());
    }
    if (blocked !== this.blocked) {
      this.blocked = blocked;
      this.opts.metrics?.fabricBlocked.set(blocked ? 1 : 0);
      if (blocked) this.emit('blocked', this.blockedReason());
      else this.emit('unblocked');
    }
  }
}
