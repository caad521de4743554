// The caller side of RPC in one gateway process: CALLs waiting for their reply on this
// process's reply queue, keyed by correlation-id. Bounded per caller; every pending call
// ends exactly once: by a final reply, an error reply, a timeout, a CANCEL, or its caller
// leaving.

import { randomUUID } from 'node:crypto';
import type { Delivery } from '../../../fabric/types.js';
import { ErrorCode, GatewayError } from '../../../errors.js';
import { headerFlag, headerString } from '../amqp-headers.js';
import { Code, out } from '../messages.js';
import { decodePayload } from '../payload.js';
import type { WampPeer } from '../peer.js';
import { WampError } from '../errors.js';
import { RpcHeader, type CancelMode } from './rpc-headers.js';

export interface PendingCall {
  readonly correlationId: string;
  readonly caller: WampPeer;
  readonly requestId: number;
  readonly receiveProgress: boolean;
  timer: NodeJS.Timeout | null;
}

export interface PendingCallsOptions {
  maxPerCaller: number;
  /** tell callees (any process) to stop working on a call nobody waits for any more */
  abandon(correlationId: string, mode: CancelMode): void;
}

export class PendingCalls {
  private readonly byCorrelation = new Map<string, PendingCall>();
  private readonly byCaller = new Map<WampPeer, Map<number, PendingCall>>();

  constructor(private readonly opts: PendingCallsOptions) {}

  get size(): number {
    return this.byCorrelation.size;
  }

  /** throws LIMIT_EXCEEDED when the caller already has the most pending calls allowed */
  add(caller: WampPeer, requestId: number, receiveProgress: boolean, timeoutMs: number): PendingCall {
    const mine = this.byCaller.get(caller) ?? new Map<number, PendingCall>();
    if (mine.size >= this.opts.maxPerCaller) {
      throw new GatewayError(ErrorCode.LIMIT_EXCEEDED, `at most ${this.opts.maxPerCaller} pending calls per session`);
    }
    const call: PendingCall = { correlationId: randomUUID(), caller, requestId, receiveProgress, timer: null };
    if (timeoutMs > 0) call.timer = setTimeout(() => this.timeOut(call), timeoutMs);
    mine.set(requestId, call);
    this.byCaller.set(caller, mine);
    this.byCorrelation.set(call.correlationId, call);
    return call;
  }

  find(caller: WampPeer, requestId: number): PendingCall | undefined {
    return this.byCaller.get(caller)?.get(requestId);
  }

  /** ends the call without answering it; false if it had already ended */
  settle(call: PendingCall): boolean {
    if (this.byCorrelation.get(call.correlationId) !== call) return false;
    this.byCorrelation.delete(call.correlationId);
    const mine = this.byCaller.get(call.caller);
    mine?.delete(call.requestId);
    if (mine?.size === 0) this.byCaller.delete(call.caller);
    if (call.timer !== null) clearTimeout(call.timer);
    return true;
  }

  /** ends the call with ERROR to the caller */
  fail(call: PendingCall, uri: string, message?: string): void {
    if (!this.settle(call)) return;
    const details = message === undefined ? {} : { message };
    call.caller.send(out.error(Code.CALL, call.requestId, uri, {}, details));
  }

  /** the caller left: nobody waits for its calls any more */
  dropCaller(caller: WampPeer): void {
    for (const call of [...(this.byCaller.get(caller)?.values() ?? [])]) {
      this.settle(call);
      this.opts.abandon(call.correlationId, 'killnowait');
    }
  }

  /** a reply on this process's reply queue */
  onReply(d: Delivery): void {
    const id = d.properties.correlationId;
    const call = id === undefined ? undefined : this.byCorrelation.get(id);
    if (call === undefined) return; // late (canceled, timed out) or not ours
    const headers = d.properties.headers;
    const payload = decodePayload(d.body, d.properties.contentType);
    const error = headerString(headers, RpcHeader.ERROR);
    if (error !== undefined) {
      this.settle(call);
      call.caller.send(out.error(Code.CALL, call.requestId, error, payload));
    } else if (headerFlag(headers, RpcHeader.PROGRESS)) {
      // wamp-proto "Progressive Call Results": only to callers that asked for them
      if (call.receiveProgress) call.caller.send(out.result(call.requestId, { progress: true }, payload));
    } else {
      this.settle(call);
      call.caller.send(out.result(call.requestId, {}, payload));
    }
  }

  private timeOut(call: PendingCall): void {
    call.timer = null;
    this.fail(call, WampError.TIMEOUT, 'call timed out');
    this.opts.abandon(call.correlationId, 'killnowait');
  }
}
