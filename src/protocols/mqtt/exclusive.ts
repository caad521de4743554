// "Only one of us at a time", across processes, with nothing but the broker: the holder is
// the one exclusive consumer of an auto-delete queue. Others retry with backoff until the
// holder cancels (the queue then goes with it and is declared again) or the deadline passes.

import { ErrorCode, GatewayError, isGatewayError } from '../../errors.js';
import type { Consumer, Delivery, FabricSession } from '../../fabric/types.js';

const FIRST_RETRY_MS = 10;
const MAX_RETRY_MS = 200;

export interface ExclusiveOptions {
  deadlineMs: number;
  /** messages sent into the lock queue reach the holder here (already acked) */
  onMessage?(d: Delivery): void;
  /** called on each refused attempt (attempt 0 first), e.g. to ask the holder to leave */
  onLocked?(attempt: number): Promise<void>;
  /** stop trying (the requester went away) */
  cancelled?(): boolean;
}

export async function acquireExclusive(
  fabric: Pick<FabricSession, 'declareQueue' | 'consume'>,
  queue: string,
  opts: ExclusiveOptions,
): Promise<Consumer> {
  const deadline = Date.now() + opts.deadlineMs;
  let wait = FIRST_RETRY_MS;
  for (let attempt = 0; ; attempt++) {
    if (opts.cancelled?.()) throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, undefined, { detail: `gave up waiting for '${queue}'` });
    await fabric.declareQueue(queue, { durable: false, autoDelete: true });
    try {
      const holder: { consumer?: Consumer; early: Delivery[] } = { early: [] };
      const consumer = await fabric.consume(queue, { exclusive: true, prefetch: 10 }, (d) => {
        if (holder.consumer === undefined) holder.early.push(d);
        else deliver(holder.consumer, d, opts);
      });
      holder.consumer = consumer;
      for (const d of holder.early.splice(0)) deliver(consumer, d, opts);
      return consumer;
    } catch (err) {
      if (isGatewayError(err, ErrorCode.NOT_FOUND)) continue; // auto-deleted in between: declare again
      if (!isLocked(err)) throw err;
    }
    if (Date.now() + wait > deadline) {
      throw new GatewayError(ErrorCode.RESOURCE_LOCKED, undefined, { detail: `'${queue}' is held by someone who did not let go` });
    }
    await opts.onLocked?.(attempt);
    await sleep(wait);
    wait = Math.min(wait * 2, MAX_RETRY_MS);
  }
}

function deliver(consumer: Consumer, d: Delivery, opts: ExclusiveOptions): void {
  consumer.ack(d);
  opts.onMessage?.(d);
}

/** the fabrics' two ways of saying "someone else consumes this exclusively" */
function isLocked(err: unknown): boolean {
  return isGatewayError(err, ErrorCode.RESOURCE_LOCKED) || isGatewayError(err, ErrorCode.NOT_AUTHORIZED);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
