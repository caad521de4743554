// Requests handed to local callees and not yet answered: found by the callee's request ID
// (YIELD, ERROR) and by the caller's correlation-id (cancel notices). Bounded by the
// procedure consumers' prefetch.

import type { Delivery } from '../../../fabric/types.js';
import { headerFlag, headerNumber, headerString } from '../amqp-headers.js';
import type { Dict } from '../messages.js';
import type { WampPeer } from '../peer.js';
import { RpcHeader } from './rpc-headers.js';

export interface Invocation<P = unknown> {
  readonly requestId: number;
  readonly callee: WampPeer;
  readonly procedure: P;
  readonly delivery: Delivery;
  readonly replyTo: string | undefined;
  readonly correlationId: string | undefined;
  timer: NodeJS.Timeout | null;
}

export class InvocationTable<P> {
  private readonly byCallee = new Map<WampPeer, Map<number, Invocation<P>>>();
  private readonly byCorrelation = new Map<string, Invocation<P>>();

  add(inv: Invocation<P>): void {
    const mine = this.byCallee.get(inv.callee) ?? new Map<number, Invocation<P>>();
    mine.set(inv.requestId, inv);
    this.byCallee.set(inv.callee, mine);
    // AMQP requesters choose their own correlation-ids; only ours need to be unique
    if (inv.correlationId !== undefined) this.byCorrelation.set(inv.correlationId, inv);
  }

  find(callee: WampPeer, requestId: number): Invocation<P> | undefined {
    return this.byCallee.get(callee)?.get(requestId);
  }

  byCorrelationId(correlationId: string): Invocation<P> | undefined {
    return this.byCorrelation.get(correlationId);
  }

  /** false when it was already removed */
  remove(inv: Invocation<P>): boolean {
    const mine = this.byCallee.get(inv.callee);
    if (mine?.get(inv.requestId) !== inv) return false;
    mine.delete(inv.requestId);
    if (mine.size === 0) this.byCallee.delete(inv.callee);
    if (inv.correlationId !== undefined && this.byCorrelation.get(inv.correlationId) === inv) this.byCorrelation.delete(inv.correlationId);
    if (inv.timer !== null) clearTimeout(inv.timer);
    return true;
  }

  ofCallee(callee: WampPeer): Invocation<P>[] {
    return [...(this.byCallee.get(callee)?.values() ?? [])];
  }

  ofProcedure(procedure: P): Invocation<P>[] {
    const out: Invocation<P>[] = [];
    for (const mine of this.byCallee.values()) for (const inv of mine.values()) if (inv.procedure === procedure) out.push(inv);
    return out;
  }

  callees(): WampPeer[] {
    return [...this.byCallee.keys()];
  }
}

/** INVOCATION.Details from the request: progress, timeout, disclosed caller */
export function invocationDetails(callee: WampPeer, d: Delivery, timeout: number | undefined): Dict {
  const headers = d.properties.headers;
  const details: Dict = {};
  if (headerFlag(headers, RpcHeader.RECEIVE_PROGRESS) && callee.supports('callee', 'progressive_call_results')) details.receive_progress = true;
  if (timeout !== undefined && timeout > 0) details.timeout = timeout;
  const caller = headerNumber(headers, RpcHeader.CALLER);
  if (caller !== undefined) {
    details.caller = caller;
    const authid = headerString(headers, RpcHeader.CALLER_AUTHID);
    const authrole = headerString(headers, RpcHeader.CALLER_AUTHROLE);
    if (authid !== undefined) details.caller_authid = authid;
    if (authrole !== undefined) details.caller_authrole = authrole;
  }
  return details;
}
