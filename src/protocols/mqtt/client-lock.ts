// One connection per client id per vhost, across every Tributary process on one RabbitMQ.
//
// The connection that owns a client id holds the only (exclusive) consumer of the auto-delete
// lock queue `tributary.mqtt.clientid.<id>`. A newcomer with the same id tries to consume it
// exclusively too; while refused it sends a takeover request *into the lock queue* through the
// default exchange and retries with backoff. The holder receives the request on the consumer it
// already has — no binding, no extra queue per client — and closes (MQTT 5: DISCONNECT 0x8E
// "Session taken over"); that cancels its consumer, frees the lock, and the newcomer's next
// attempt succeeds. Requests expire after `deadlineMs`, so a request from a newcomer that gave
// up cannot evict a later holder.
//
// Within one process the module's client-id table settles the contest first (see index.ts);
// this lock makes it hold between processes.

import { randomBytes } from 'node:crypto';
import type { Consumer, Delivery, FabricSession } from '../../fabric/types.js';
import { acquireExclusive } from './exclusive.js';
import { clientLockQueueName } from './names.js';

const REQUEST_TYPE = 'tributary.mqtt.takeover';
/** in a crowd of newcomers the holder changes: ask again every few attempts */
const ASK_EVERY = 8;

export interface ClientLockOptions {
  /** give up (CONNACK "server unavailable") when the holder has not let go by then */
  deadlineMs: number;
  /** the holder is asked to leave */
  onTakeoverRequest(): void;
}

export class ClientLock {
  private consumer: Consumer | undefined;
  private readonly token = randomBytes(9).toString('base64url');
  private released = false;

  constructor(
    private readonly fabric: Pick<FabricSession, 'declareQueue' | 'consume' | 'publish'>,
    readonly clientId: string,
    private readonly opts: ClientLockOptions,
  ) {}

  get queue(): string {
    return clientLockQueueName(this.clientId);
  }

  /** resolves once held; rejects with RESOURCE_LOCKED after the deadline, or the fabric's error */
  async acquire(): Promise<void> {
    const consumer = await acquireExclusive(this.fabric, this.queue, {
      deadlineMs: this.opts.deadlineMs,
      onMessage: (d) => this.onRequest(d),
      onLocked: (attempt) => (attempt % ASK_EVERY === 0 ? this.askHolderToLeave() : Promise.resolve()),
      cancelled: () => this.released,
    });
    this.consumer = consumer;
    if (this.released) await this.release();
  }

  private async askHolderToLeave(): Promise<void> {
    const properties = { type: REQUEST_TYPE, expiration: String(this.opts.deadlineMs), deliveryMode: 1 as const };
    await this.fabric.publish('', this.queue, { body: Buffer.from(this.token), properties }, { confirm: true });
  }

  private onRequest(d: Delivery): void {
    if (d.properties.type !== REQUEST_TYPE || d.body.toString() === this.token) return;
    this.opts.onTakeoverRequest();
  }

  /** let go (the lock queue is auto-deleted with its last consumer) */
  async release(): Promise<void> {
    this.released = true;
    const c = this.consumer;
    this.consumer = undefined;
    await c?.cancel().catch(() => undefined);
  }
}
