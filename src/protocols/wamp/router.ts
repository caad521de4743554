// Process-wide WAMP state, one realm per vhost: the broker (shared subscription queue) and
// the dealer (reply queue, pending calls, registered procedures). Realms start on first use
// and each owns one FabricSession, separate from the client sessions' own.

import type { FabricSession } from '../../fabric/types.js';
import type { GatewayContext } from '../types.js';
import { Broker } from './broker/broker.js';
import { Dealer } from './dealer/dealer.js';

/** unanswered requests one process takes from a procedure queue at a time */
export const INVOCATION_PREFETCH = 100;

export interface Realm {
  readonly vhost: string;
  readonly fabric: FabricSession;
  readonly broker: Broker;
  readonly dealer: Dealer;
}

export class WampRouter {
  private readonly realms = new Map<string, Realm>();

  constructor(private readonly ctx: GatewayContext) {}

  realmFor(vhost: string): Realm {
    let realm = this.realms.get(vhost);
    if (realm === undefined) {
      realm = this.openRealm(vhost);
      this.realms.set(vhost, realm);
    }
    return realm;
  }

  /** every realm's subscriptions and registrations, for the live page and /metrics */
  stats(): { subscriptions: number; registrations: number; pendingCalls: number } {
    let subscriptions = 0;
    let registrations = 0;
    let pendingCalls = 0;
    for (const r of this.realms.values()) {
      subscriptions += r.broker.subscriptionCount;
      registrations += r.dealer.procedures.registrationCount;
      pendingCalls += r.dealer.calls.size;
    }
    return { subscriptions, registrations, pendingCalls };
  }

  async close(): Promise<void> {
    const realms = [...this.realms.values()];
    this.realms.clear();
    await Promise.all(realms.map(async (r) => {
      await Promise.all([r.broker.close(), r.dealer.close()]);
      await r.fabric.close().catch(() => undefined);
    }));
  }

  private openRealm(vhost: string): Realm {
    const { fabric, log, nodeId, metrics } = this.ctx;
    const session = fabric.openSession({ vhost, label: 'wamp-router' });
    const prefix = `tributary.wamp.${nodeId}`;
    // counted in a plain number, folded into messagesDelivered when it is read (prom-client
    // hashes the labels on every inc: ~1 µs per event in the pub/sub profile)
    const delivered = metrics.deliveredCounts.child({ protocol: 'wamp' });
    const broker = new Broker({
      fabric: session,
      queue: `${prefix}.events`,
      log,
      onDelivered: (n) => {
        delivered.pending += n;
      },
    });
    const dealer = new Dealer({
      fabric: session,
      replyQueue: `${prefix}.replies`,
      log,
      // CALLs awaiting their RESULT: beyond, ERROR (waiting could deadlock a session that
      // calls its own procedures: its YIELDs would queue behind the CALL)
      maxPendingCallsPerSession: this.ctx.config.wamp.maxPendingCallsPerSession,
      invocationPrefetch: INVOCATION_PREFETCH,
    });
    return { vhost, fabric: session, broker, dealer };
  }
}
