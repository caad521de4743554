// The one place where amqplib's errors become GatewayErrors. amqplib puts the AMQP reply code
// on `err.code` (a number) for channel and connection closes; socket failures carry Node's
// string codes (ECONNREFUSED…); operations on a dead channel throw IllegalOperationError.

import { ErrorCode, GatewayError, isGatewayError } from '../../errors.js';

/** AMQP 0-9-1 reply codes we translate (spec §1.9 "Constants"). */
const REPLY_CODE_TO_ERROR: Record<number, ErrorCode> = {
  403: ErrorCode.NOT_AUTHORIZED, // ACCESS_REFUSED
  404: ErrorCode.NOT_FOUND,
  405: ErrorCode.RESOURCE_LOCKED,
  406: ErrorCode.PRECONDITION_FAILED,
  530: ErrorCode.NOT_AUTHORIZED, // NOT_ALLOWED: e.g. no access to the vhost at connection.open
};

/** amqplib's words when a queued RPC never got sent because its channel closed under it. */
const COLLATERAL_MESSAGES = ['Channel ended, no reply will be forthcoming', 'Channel closed', 'Channel closing'];

/** The broker's own reply text ("NOT_FOUND - no queue 'q' in vhost '/'"), when amqplib quoted it. */
export function brokerReplyText(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const quoted = /with message "(.*)"/s.exec(err.message);
  return quoted?.[1] ?? undefined;
}

function replyCodeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return code;
  // the connection handshake reports the code only in its text: "… 403 (ACCESS-REFUSED) with message …"
  if (err instanceof Error && err.message.startsWith('Handshake terminated by server')) {
    const m = /: (\d{3}) \(/.exec(err.message);
    if (m?.[1]) return Number(m[1]);
  }
  return undefined;
}

/** RabbitMQ answers connection.open for a vhost that is missing or forbidden with connection.close */
const VHOST_REFUSED = /^Expected ConnectionOpenOk; got <ConnectionClose/;

/**
 * True when the operation failed only because another operation closed the channel it was
 * queued on (it was never sent): safe to retry on a fresh channel.
 */
export function isCollateralChannelError(err: unknown): boolean {
  if (!(err instanceof Error) || replyCodeOf(err) !== undefined) return false;
  return COLLATERAL_MESSAGES.some((m) => err.message.startsWith(m));
}

export function backendUnavailable(reason: string, cause?: unknown): GatewayError {
  return new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, 'broker unavailable', { detail: reason, cause });
}

export function publishNacked(exchange: string, routingKey: string): GatewayError {
  return new GatewayError(ErrorCode.PUBLISH_NACKED, undefined, {
    detail: `the broker refused the message published to exchange '${exchange}' with routing key '${routingKey}'`,
  });
}

export function unroutable(exchange: string, routingKey: string, replyText: string): GatewayError {
  return new GatewayError(ErrorCode.UNROUTABLE, undefined, {
    detail: `${replyText}: no queue is bound to exchange '${exchange}' for routing key '${routingKey}'`,
  });
}

/** Map anything amqplib throws (or hands to a callback) onto the gateway's catalog. */
export function fromAmqpError(err: unknown): GatewayError {
  if (isGatewayError(err)) return err;
  const replyCode = replyCodeOf(err);
  const detail = brokerReplyText(err) ?? (err instanceof Error ? err.message : String(err));
  if (err instanceof Error && VHOST_REFUSED.test(err.message)) {
    return new GatewayError(ErrorCode.NOT_AUTHORIZED, undefined, { detail: 'the broker refused the vhost (it does not exist, or the gateway user may not use it)', cause: err });
  }
  if (replyCode !== undefined) {
    const code = REPLY_CODE_TO_ERROR[replyCode] ?? ErrorCode.BACKEND_UNAVAILABLE;
    return new GatewayError(code, undefined, { detail, cause: err });
  }
  if (isCollateralChannelError(err) || isConnectionFailure(err)) return backendUnavailable(detail, err);
  return new GatewayError(ErrorCode.INTERNAL, undefined, { detail, cause: err });
}

function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return true; // ECONNREFUSED, ECONNRESET, EPIPE…
  return err.name === 'IllegalOperationError' || /^(Connection closed|Socket closed|Heartbeat timeout)/i.test(err.message);
}
