// Is the broker there? One watch per process for every STOMP session, fed by the fabric's
// 'down'/'up' events (a flag read per frame, never a status() call).
//
// RabbitMQ's STOMP plugin ends every session whose AMQP connection dies: ERROR "AMQP
// connection died", then close; the client reconnects. The gateway reconnects to the broker
// by itself and resumes consumers, so a blip (a killed connection, back in milliseconds) need
// not cost every client its session. While the broker is away:
// - a frame that needs it (CONNECT, SEND, SUBSCRIBE, …: session.ts) is answered with ERROR
//   "broker unavailable" and the connection closes;
// - a session waiting to publish (its SEND held for room) is ended the same way at once;
// - every other connected session is ended after `stomp.brokerDownGraceMs` if the broker is
//   still away by then (0: at once, as the plugin does).
// Publishes already sent to the broker and not confirmed fail by themselves (the fabric rejects
// them on the connection's loss): their ERROR carries the SEND's receipt-id. No RECEIPT is ever
// sent for what the broker has not confirmed, so a client that resends what it holds no
// receipt for loses nothing.

import type { Fabric } from '../../fabric/types.js';

export interface BrokerAwareSession {
  /** the broker just went away: end now if a frame is waiting for it */
  brokerLost(reason: string): void;
  /** the broker stayed away past the grace period: end */
  brokerGone(reason: string): void;
}

export class BrokerWatch {
  private awayReason: string | undefined;
  private readonly sessions = new Set<BrokerAwareSession>();
  private grace: NodeJS.Timeout | undefined;

  constructor(
    fabric: Pick<Fabric, 'on' | 'status'>,
    private readonly graceMs: number,
  ) {
    const status = fabric.status();
    this.awayReason = status.connected ? undefined : (status.reason ?? 'broker unavailable');
    fabric.on('down', (reason) => this.down(reason));
    fabric.on('up', () => this.up());
  }

  /** why the broker is away, or undefined while it is there */
  get away(): string | undefined {
    return this.awayReason;
  }

  /** a connected session, told when the broker goes away */
  add(session: BrokerAwareSession): void {
    this.sessions.add(session);
  }

  delete(session: BrokerAwareSession): void {
    this.sessions.delete(session);
  }

  private down(reason: string): void {
    this.awayReason = reason || 'broker unavailable';
    for (const s of [...this.sessions]) s.brokerLost(this.awayReason);
    if (this.grace !== undefined) return;
    if (this.graceMs === 0) return this.expire();
    this.grace = setTimeout(() => this.expire(), this.graceMs);
    this.grace.unref();
  }

  private up(): void {
    this.awayReason = undefined;
    clearTimeout(this.grace);
    this.grace = undefined;
  }

  private expire(): void {
    this.grace = undefined;
    const reason = this.awayReason;
    if (reason === undefined) return;
    for (const s of [...this.sessions]) s.brokerGone(reason);
  }
}
