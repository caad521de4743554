// UNSUBSCRIBE: stop the consumer (unacked messages are requeued). A transient subscription
// queue goes with it; a durable one only when the UNSUBSCRIBE says so again (RabbitMQ:
// `durable:true`/`persistent:true`; ActiveMQ: `activemq.subscriptionName`).

import { ErrorCode, GatewayError } from '../../../errors.js';
import { booleanHeader, type StompFrame } from '../frame.js';
import type { StompSession } from '../session.js';

export async function handleUnsubscribe(s: StompSession, frame: StompFrame): Promise<void> {
  const live = s.established;
  const h = frame.headers;
  const id = h['id'] ?? (s.version === '1.0' ? h['destination'] : undefined);
  if (id === undefined) throw new GatewayError(ErrorCode.MISSING_HEADER, 'missing id header', { detail: 'UNSUBSCRIBE needs an "id" header', fatal: true });
  const sub = s.subscriptions.get(id);
  if (sub === undefined) throw new GatewayError(ErrorCode.NO_SUCH_SUBSCRIPTION, 'no such subscription', { detail: `there is no subscription "${id}" on this connection`, fatal: true });
  s.subscriptions.delete(id);
  s.ctx.metrics.subscriptions.dec({ protocol: 'stomp' });
  const dropDurable = sub.spec.durable && (booleanHeader(frame, 'durable', false) || booleanHeader(frame, 'persistent', false) || h['activemq.subscriptionName'] !== undefined);
  await sub.cancel(live.fabric, sub.spec.ownsQueue || dropDurable);
  s.receipt(frame);
}
