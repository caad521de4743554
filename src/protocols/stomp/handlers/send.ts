// SEND: resolve and authorize the destination, map headers to AMQP properties, publish.
// With a `receipt` the publish asks for a confirm and the RECEIPT waits for it; without one it
// is still tracked, so later receipts (and DISCONNECT's) come after it. Inside a transaction
// the publish is kept for COMMIT. After the publish the reader may pause if the fabric is full.

import { ErrorCode, GatewayError } from '../../../errors.js';
import type { FabricMessage } from '../../../fabric/types.js';
import type { StompFrame } from '../frame.js';
import { toFabricMessage } from '../headers.js';
import type { Route } from '../endpoints.js';
import type { StompSession } from '../session.js';
import { ensureTempQueueSubscription } from './subscribe.js';

export async function handleSend(s: StompSession, frame: StompFrame): Promise<void> {
  const live = s.established;
  const tx = frame.headers['transaction'];
  if (tx !== undefined) s.transactions.check(tx);
  const route = await live.endpoints.routeFor(frame.headers['destination'], frame);
  const replyTo = await live.temp.rewriteReplyTo(frame.headers['reply-to'], (name, queue) => ensureTempQueueSubscription(s, name, queue));
  const message = toFabricMessage(frame.headers, frame.body, { now: Date.now(), replyTo });
  checkUserId(message, live.principal.username);
  if (message === null) {
    s.ctx.metrics.messagesDropped.inc({ protocol: 'stomp', reason: 'expired' });
    return s.receipt(frame);
  }
  if (tx !== undefined) {
    const receiptId = frame.headers['receipt'];
    s.transactions.add(tx, async () => {
      await s.roomToPublish();
      void publish(s, route, message, true, receiptId);
    }, frame.body.length);
    return s.receipt(frame);
  }
  await s.roomToPublish();
  const published = publish(s, route, message, frame.headers['receipt'] !== undefined, frame.headers['receipt']);
  s.receipt(frame, published);
  s.throttle.afterPublish(live.fabric);
}

/** Publish; a failure (nack, unroutable, broker lost) is an ERROR and the end of the session. */
export function publish(s: StompSession, route: Route, message: FabricMessage, confirm: boolean, receiptId?: string): Promise<void> {
  const published = s.established.publisher.publish(route.exchange, route.routingKey, message, { confirm });
  published.catch((err: unknown) => s.fail(err, receiptId));
  return published;
}

/** RabbitMQ refuses a user-id other than the publisher's own; so does the gateway, up front. */
function checkUserId(message: FabricMessage | null, username: string): void {
  const userId = message?.properties.userId;
  if (userId === undefined || userId === username) return;
  throw new GatewayError(ErrorCode.PRECONDITION_FAILED, 'user-id mismatch', { detail: `user-id "${userId}" is not the authenticated user "${username}"`, fatal: true });
}
