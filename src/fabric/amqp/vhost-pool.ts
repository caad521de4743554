// Everything the fabric holds for one vhost: `connectionsPerVhost` slots that sessions are
// spread over (least loaded first, then pinned), which exchanges are known to exist, and
// which session owns each exclusive queue. Exclusive queues belong to an AMQP connection, and
// many sessions share one, so exclusivity between sessions is enforced here.

import { ErrorCode, GatewayError } from '../../errors.js';
import { ExchangeCache } from './exchange-cache.js';
import type { AmqpSession } from './session.js';
import { Slot, type SlotOptions } from './slot.js';

export class VhostPool {
  readonly slots: Slot[];
  readonly exchanges = new ExchangeCache();
  private readonly exclusiveOwners = new Map<string, AmqpSession>();
  /** settles when every slot is connected (rejects with the reason when one cannot be) */
  readonly ready: Promise<void>;
  opened = false;

  constructor(
    readonly vhost: string,
    /** the user the gateway connects as (RabbitMQ checks the user-id property against it) */
    readonly brokerUser: string,
    slotCount: number,
    slotOptions: (index: number) => SlotOptions,
  ) {
    this.slots = Array.from({ length: Math.max(1, slotCount) }, (_, i) => new Slot(slotOptions(i)));
    this.ready = Promise.all(this.slots.map((s) => s.open())).then(
      () => {
        this.opened = true;
      },
      async (err: unknown) => {
        await Promise.all(this.slots.map((s) => s.close()));
        throw err;
      },
    );
    this.ready.catch(() => undefined);
  }

  pickSlot(): Slot {
    let best = this.slots[0] as Slot;
    for (const slot of this.slots) if (slot.sessions.size < best.sessions.size) best = slot;
    return best;
  }

  /** RESOURCE_LOCKED when another session holds `queue` exclusively */
  assertNotLocked(queue: string, session: AmqpSession): void {
    const owner = this.exclusiveOwners.get(queue);
    if (owner !== undefined && owner !== session) {
      throw new GatewayError(ErrorCode.RESOURCE_LOCKED, undefined, { detail: `queue '${queue}' is exclusive to another session` });
    }
  }

  claimExclusive(queue: string, session: AmqpSession): void {
    this.assertNotLocked(queue, session);
    this.exclusiveOwners.set(queue, session);
  }

  renameExclusive(from: string, to: string, session: AmqpSession): void {
    if (this.exclusiveOwners.get(from) !== session) return;
    this.exclusiveOwners.delete(from);
    this.exclusiveOwners.set(to, session);
  }

  releaseExclusive(queue: string, session: AmqpSession): void {
    if (this.exclusiveOwners.get(queue) === session) this.exclusiveOwners.delete(queue);
  }

  /** opened, every slot connected and its sessions recovered */
  get healthy(): boolean {
    return this.opened && this.slots.every((s) => s.ready);
  }

  waitIdle(timeoutMs: number): Promise<void> {
    return Promise.all(this.slots.map((s) => s.publisher.waitIdle(timeoutMs))).then(() => undefined);
  }

  close(): Promise<void> {
    return Promise.all(this.slots.map((s) => s.close())).then(() => undefined);
  }
}
