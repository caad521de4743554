// One connection per client id per vhost, across every Tributary process on one RabbitMQ.
//
// The connection that owns a client id has declared the EXCLUSIVE queue
// `tributary.mqtt.clientid.<id>`: RabbitMQ refuses (405) everyone else's declare of it until
// the owner deletes it, or the AMQP connection that declared it goes. One queue.declare per
// CONNECT and one queue.delete at the end, no consumer. (Within one process, where sessions
// share AMQP connections, the fabric's table of exclusive queues refuses the same way.)
//
// A newcomer refused the lock asks the holder to leave through the takeover exchange
// (takeover-requests.ts: every process hears it, the one holding the id closes that
// connection, MQTT 5: DISCONNECT 0x8E "Session taken over") and retries with backoff until
// the queue is free or its deadline passes. Requests expire after the deadline, and a holder
// ignores requests carrying its own token.
//
// Within one process the module's client-id table settles the contest first (see index.ts);
// this lock makes it hold between processes.

import { randomBytes } from 'node:crypto';
import { ErrorCode, GatewayError, isGatewayError } from '../../errors.js';
import type { FabricSession, QueueInfo, QueueOptions } from '../../fabric/types.js';
import { clientLockQueueName } from './names.js';
import type { TakeoverRequest } from './takeover-requests.js';

const FIRST_RETRY_MS = 10;
/**
 * A lock's token only has to differ from every other lock's, in this process and others: a
 * random prefix drawn once per process and a counter (randomBytes per CONNECT cost ~50 us of
 * CPU, in a CPU profile of 1,000 CONNECTs).
 */
const TOKEN_PREFIX = randomBytes(9).toString('base64url');
let tokenCounter = 0;
const MAX_RETRY_MS = 200;
/** in a crowd of newcomers the holder changes: ask again every few attempts */
const ASK_EVERY = 8;

export interface ClientLockOptions {
  /** give up (CONNACK "server unavailable") when the holder has not let go by then */
  deadlineMs: number;
  /** broadcast a request that the current holder leave (expires after `ttlMs`) */
  askHolderToLeave(request: TakeoverRequest, ttlMs: number): Promise<void>;
  /**
   * queues to delete as soon as the lock is held (a waiting will, a stored session): on a fabric
   * that can queue them behind the lock's declare (the AMQP fabric), they go with the first
   * attempt and run only if it takes the lock; see `deletedWithClaim`
   */
  deleteOnClaim?: readonly string[];
}

/** the AMQP fabric's declare that carries deletes run only if it succeeds (fabric/amqp/session.ts) */
type DeclareThenDelete = (name: string, opts: QueueOptions, thenDelete: readonly string[]) => Promise<QueueInfo & { deleted: Promise<{ messageCount: number }[]> }>;
type LockFabric = Pick<FabricSession, 'declareQueue' | 'deleteQueue'> & { declareQueueThenDelete?: DeclareThenDelete };

export class ClientLock {
  readonly token = `${TOKEN_PREFIX}.${(++tokenCounter).toString(36)}`;
  private state: 'idle' | 'acquiring' | 'held' | 'released' = 'idle';
  /**
   * Once held: the message counts of the `deleteOnClaim` queues, deleted with the declare that
   * took the lock; undefined when they were not (another fabric, or a later attempt took it):
   * then they are the caller's to delete.
   */
  deletedWithClaim: Promise<number[]> | undefined;

  constructor(
    private readonly fabric: LockFabric,
    readonly clientId: string,
    private readonly opts: ClientLockOptions,
  ) {}

  get queue(): string {
    return clientLockQueueName(this.clientId);
  }

  get held(): boolean {
    return this.state === 'held';
  }

  /** resolves once held; rejects with RESOURCE_LOCKED after the deadline, or the fabric's error */
  async acquire(): Promise<void> {
    this.state = 'acquiring';
    const deadline = Date.now() + this.opts.deadlineMs;
    let wait = FIRST_RETRY_MS;
    for (let attempt = 0; ; attempt++) {
      if (this.releasedMeanwhile()) throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, undefined, { detail: `gave up waiting for '${this.queue}'` });
      try {
        const deletes = this.opts.deleteOnClaim;
        if (attempt === 0 && deletes !== undefined && deletes.length > 0 && this.fabric.declareQueueThenDelete !== undefined) {
          // only the first attempt: the deletes cannot go with a retry, which runs after backoff
          const { deleted } = await this.fabric.declareQueueThenDelete(this.queue, { exclusive: true }, deletes);
          this.deletedWithClaim = deleted.then((r) => r.map((d) => d.messageCount));
          this.deletedWithClaim.catch(() => undefined); // looked at by the caller once held
        } else {
          await this.fabric.declareQueue(this.queue, { exclusive: true });
        }
        if (this.releasedMeanwhile()) {
          await this.delete();
          throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, undefined, { detail: `gave up waiting for '${this.queue}'` });
        }
        this.state = 'held';
        return;
      } catch (err) {
        if (!isGatewayError(err, ErrorCode.RESOURCE_LOCKED)) throw err;
      }
      if (Date.now() + wait > deadline) {
        throw new GatewayError(ErrorCode.RESOURCE_LOCKED, undefined, { detail: `'${this.queue}' is held by someone who did not let go` });
      }
      if (attempt % ASK_EVERY === 0) await this.opts.askHolderToLeave({ clientId: this.clientId, token: this.token }, this.opts.deadlineMs);
      await sleep(wait);
      wait = Math.min(wait * 2, MAX_RETRY_MS);
    }
  }

  /** release() was called while acquire() waited (the connection went) */
  private releasedMeanwhile(): boolean {
    return this.state === 'released';
  }

  /** a takeover request for this client id: is it for this holder to obey? */
  shouldYieldTo(request: TakeoverRequest): boolean {
    return this.state === 'held' && request.clientId === this.clientId && request.token !== this.token;
  }

  /** let go: the next declare of the queue succeeds */
  async release(): Promise<void> {
    const wasHeld = this.state === 'held';
    this.state = 'released';
    if (wasHeld) await this.delete();
  }

  private async delete(): Promise<void> {
    await this.fabric.deleteQueue(this.queue).catch(() => undefined);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
