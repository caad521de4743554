// The embedded fabric: RabbitMQ's AMQP 0-9-1 model in process, for a single machine with no
// broker. Same contract as the amqp fabric (test/contract/fabric.contract.ts runs on both).
import { EventEmitter } from 'node:events';
import type { Logger } from '../../log.js';
import type { Fabric, FabricEvents, FabricSession, FabricStatus, SessionOwner } from '../types.js';
import { DeliveryScheduler } from './scheduler.js';
import { EmbeddedSession } from './session.js';
import { VHost } from './vhost.js';

export interface EmbeddedFabricOptions {
  log?: Logger;
}

export class EmbeddedFabric extends EventEmitter<FabricEvents> implements Fabric {
  readonly kind = 'embedded' as const;
  private readonly vhosts = new Map<string, VHost>();
  private readonly sessions = new Set<EmbeddedSession>();
  private readonly scheduler = new DeliveryScheduler();
  private readonly log: Logger | undefined;
  private sessionCounter = 0;
  private state: 'new' | 'up' | 'closed' = 'new';

  constructor(opts: EmbeddedFabricOptions = {}) {
    super();
    this.log = opts.log;
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'up';
    this.log?.info({ fabric: 'embedded' }, 'embedded fabric up');
    this.emit('up');
  }

  openSession(owner: SessionOwner): FabricSession {
    if (this.state === 'closed') throw new Error('embedded fabric is closed');
    const id = `embedded-${++this.sessionCounter}${owner.label === undefined ? '' : `-${owner.label}`}`;
    const session = new EmbeddedSession(id, this.vhost(owner.vhost), this.scheduler, this.log, (s) => this.sessions.delete(s));
    this.sessions.add(session);
    return session;
  }

  status(): FabricStatus {
    if (this.state === 'up') return { connected: true, blocked: false };
    return { connected: false, blocked: false, reason: this.state === 'new' ? 'not started' : 'closed' };
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    for (const s of [...this.sessions]) await s.close();
    this.state = 'closed';
    this.scheduler.close();
    for (const v of this.vhosts.values()) v.destroy();
    this.vhosts.clear();
    this.emit('down', 'closed');
  }

  /** vhosts are created on first use, with the amq.* exchanges */
  private vhost(name: string): VHost {
    let v = this.vhosts.get(name);
    if (v === undefined) this.vhosts.set(name, (v = new VHost(name)));
    return v;
  }
}
