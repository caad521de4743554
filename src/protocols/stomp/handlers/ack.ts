// ACK / NACK: find the delivery by the id the MESSAGE carried (1.2: `id` = MESSAGE `ack`;
// 1.0/1.1: `message-id`) and settle it — cumulatively for ack:client subscriptions. NACK
// requeues unless `requeue:false` (default: stomp.nackRequeueDefault), so a queue with a
// dead-letter exchange receives what is rejected. Inside a transaction it waits for COMMIT.

import { ErrorCode, GatewayError } from '../../../errors.js';
import type { StompFrame } from '../frame.js';
import type { StompSession } from '../session.js';

type Outcome = { kind: 'ack' } | { kind: 'nack'; requeue: boolean };

export async function handleAck(s: StompSession, frame: StompFrame): Promise<void> {
  settleFrame(s, frame, { kind: 'ack' });
}

export async function handleNack(s: StompSession, frame: StompFrame): Promise<void> {
  settleFrame(s, frame, { kind: 'nack', requeue: requeueOf(frame.headers['requeue'], s.ctx.config.stomp.nackRequeueDefault) });
}

function settleFrame(s: StompSession, frame: StompFrame, outcome: Outcome): void {
  s.assertConnected();
  const h = frame.headers;
  const ackId = s.version === '1.2' ? (h['id'] ?? h['message-id']) : (h['message-id'] ?? h['id']);
  if (ackId === undefined) throw new GatewayError(ErrorCode.MISSING_HEADER, `missing ${s.version === '1.2' ? 'id' : 'message-id'} header`, { detail: `${frame.command} needs the id of the message`, fatal: true });
  // an id this session issued but has settled already (e.g. by a cumulative ACK) is no error
  if (s.findByAckId(ackId) === undefined && !s.issued(ackId)) {
    throw new GatewayError(ErrorCode.PROTOCOL, 'unknown message id', { detail: `no message "${ackId}" awaits acknowledgement on this connection`, fatal: true });
  }
  const tx = h['transaction'];
  if (tx === undefined) apply(s, ackId, outcome);
  else s.transactions.add(tx, () => apply(s, ackId, outcome));
  s.receipt(frame);
}

/** settle now (or at COMMIT, when the message may have been settled meanwhile) */
function apply(s: StompSession, ackId: string, outcome: Outcome): void {
  const sub = s.findByAckId(ackId);
  if (sub === undefined) return;
  const settled = outcome.kind === 'ack' ? sub.ack(ackId) : sub.nack(ackId, outcome.requeue);
  if (settled && outcome.kind === 'ack') s.ctx.metrics.messagesAcknowledged.inc({ protocol: 'stomp' });
}

function requeueOf(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new GatewayError(ErrorCode.PROTOCOL, 'invalid requeue header', { detail: 'requeue must be "true" or "false"', fatal: true });
}
