// CALL and CANCEL (wamp-proto "Calling and Invocations", "Call Canceling", "Call Timeouts",
// "Progressive Call Results", "Caller Identification"). A CALL is an AMQP request to the
// queue named after the procedure (dealer/rpc-headers.ts); the reply comes back on this
// process's reply queue and becomes RESULT or ERROR (dealer/calls.ts).

import { ErrorCode, isGatewayError, toGatewayError } from '../../../errors.js';
import type { FabricMessage, Headers } from '../../../fabric/types.js';
import { DEFAULT_EXCHANGE, RpcHeader, isCancelMode } from '../dealer/rpc-headers.js';
import { ProtocolViolation, WampError, WampRequestError, errorUriFor } from '../errors.js';
import { type InboundOf } from '../messages.js';
import { encodePayload } from '../payload.js';
import type { WampSession } from '../session.js';
import type { ConfirmedPublisher } from '../../shared/confirmed-publisher.js';
import { isValidUri } from '../uri.js';

export function handleCall(s: WampSession, m: InboundOf<'CALL'>): Promise<void> | void {
  if (!isValidUri(m.procedure)) throw new WampRequestError(WampError.INVALID_URI, `invalid procedure '${m.procedure}'`);
  const { timeout } = m.options;
  if (timeout !== undefined && !(typeof timeout === 'number' && Number.isInteger(timeout) && timeout >= 0)) {
    throw new WampRequestError(WampError.INVALID_ARGUMENT, 'timeout must be a non-negative integer (ms)');
  }
  const { dealer } = s.openRealm;
  if (dealer.calls.find(s, m.requestId) !== undefined) throw new ProtocolViolation(`CALL request ID ${m.requestId} is already pending`);
  // the common case (granted, reply queue up, room in the confirm window) awaits nothing
  const authorizing = s.authorizeCall();
  const publisher = authorizing === undefined && dealer.isReady ? s.publisherWithRoom() : null;
  if (publisher !== null) return sendCall(s, m, publisher);
  return (async () => {
    await authorizing;
    await dealer.ready();
    sendCall(s, m, await s.roomToPublish());
  })();
}

function sendCall(s: WampSession, m: InboundOf<'CALL'>, publisher: ConfirmedPublisher): void {
  const { timeout, receive_progress: receiveProgress, disclose_me: discloseMe } = m.options;
  const { dealer } = s.openRealm;
  const timeoutMs = typeof timeout === 'number' && timeout > 0 ? timeout : s.ctx.config.wamp.callTimeoutMs;
  const call = dealer.calls.add(s, m.requestId, receiveProgress === true, timeoutMs);
  const headers: Headers = {};
  if (receiveProgress === true) headers[RpcHeader.RECEIVE_PROGRESS] = true;
  if (timeoutMs > 0) headers[RpcHeader.TIMEOUT] = timeoutMs;
  if (discloseMe === true) {
    headers[RpcHeader.CALLER] = s.sessionId;
    headers[RpcHeader.CALLER_AUTHID] = s.authid;
    headers[RpcHeader.CALLER_AUTHROLE] = s.authrole;
  }
  const { body, contentType } = encodePayload(m);
  const correlationId = call.correlationId;
  const replyTo = dealer.replyQueue;
  // plain literals, no conditional spreads (those cost microseconds per message)
  const properties: FabricMessage['properties'] = contentType === undefined ? { correlationId, replyTo, headers } : { contentType, correlationId, replyTo, headers };
  // a request nobody waits for any more must not be served later
  if (timeoutMs > 0) properties.expiration = String(timeoutMs);
  const message: FabricMessage = { body, properties };
  publisher.publish(DEFAULT_EXCHANGE, m.procedure, message, { confirm: true, mandatory: true }).catch((err: unknown) => {
    if (isGatewayError(err, ErrorCode.UNROUTABLE)) dealer.calls.fail(call, WampError.NO_SUCH_PROCEDURE, `no procedure '${m.procedure}' is registered`);
    else dealer.calls.fail(call, errorUriFor(toGatewayError(err)), 'call could not be sent');
  });
}

export function handleCancel(s: WampSession, m: InboundOf<'CANCEL'>): void {
  const { dealer } = s.openRealm;
  const call = dealer.calls.find(s, m.requestId);
  if (call === undefined) return; // already answered: nothing to cancel
  const mode = isCancelMode(m.options.mode) ? m.options.mode : 'skip';
  if (mode === 'kill') {
    // the caller gets the callee's answer to the INTERRUPT (or our canceled on its behalf)
    dealer.sendCancelNotice(call.correlationId, 'kill');
    return;
  }
  if (mode === 'skip') {
    // As Crossbar does and AutobahnJS expects (it rejects the call locally and treats a later
    // ERROR for it as a protocol violation): forget the call; its result is dropped.
    dealer.calls.settle(call);
    return;
  }
  dealer.calls.fail(call, WampError.CANCELED, 'call canceled');
  dealer.sendCancelNotice(call.correlationId, 'killnowait');
}
