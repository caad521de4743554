// The callee side of RPC in one gateway process. A registered procedure is the AMQP queue
// named after it; this process holds ONE consumer on it for all of its local callees and
// hands each request to one of them by the registration's invocation policy.
//
// Exclusivity across processes comes from the broker itself (wamp-proto "Shared
// Registration"): a single registration consumes exclusively, so a second registration
// anywhere (another process, or an AMQP service already consuming) is refused by the
// broker and becomes wamp.error.procedure_already_exists; shared registrations consume
// non-exclusively, and the broker spreads requests over processes ("first"/"last" ask
// for it with consumer priorities, earliest or latest registration winning).

import type { Logger } from '../../../log.js';
import { ErrorCode, isGatewayError } from '../../../errors.js';
import type { Consumer, Delivery, FabricSession } from '../../../fabric/types.js';
import { headerNumber } from '../amqp-headers.js';
import { WampError, WampRequestError } from '../errors.js';
import { randomId } from '../ids.js';
import { out } from '../messages.js';
import { decodePayload } from '../payload.js';
import type { WampPeer } from '../peer.js';
import { InvocationTable, invocationDetails, type Invocation as GenericInvocation } from './invocations.js';
import { consumerPriority, pickIndex, type InvokePolicy } from './invoke-policy.js';
import { RpcHeader, type CancelMode } from './rpc-headers.js';


interface Procedure {
  readonly id: number;
  readonly uri: string;
  readonly policy: InvokePolicy;
  /** in order of registration */
  readonly callees: WampPeer[];
  ready: Promise<void>;
  consumer: Consumer | null;
  cursor: number;
  /** we declared the queue (an AMQP service's own queue is never deleted by us) */
  declared: boolean;
}

export type Invocation = GenericInvocation<Procedure>;

export interface ProceduresOptions {
  fabric: FabricSession;
  log: Logger;
  /** unanswered requests one process holds per procedure */
  prefetch: number;
  /** answer a request on the callee's behalf (callee gone, invocation timed out) */
  replyError(inv: Invocation, uri: string, message: string): void;
}

/** a procedure queue nobody consumes is deleted by the broker after this long */
export const PROCEDURE_QUEUE_EXPIRES_MS = 10_000;


export class Procedures {
  private readonly byUri = new Map<string, Procedure>();
  private readonly byId = new Map<number, Procedure>();
  private readonly invocations = new InvocationTable<Procedure>();
  /** procedures whose consumer and queue are being torn down */
  private readonly stopping = new Map<string, Promise<void>>();

  constructor(private readonly opts: ProceduresOptions) {}

  get registrationCount(): number {
    return this.byId.size;
  }

  /** `announce` runs just before the peer can be invoked, so REGISTERED precedes INVOCATIONs */
  async register(peer: WampPeer, uri: string, policy: InvokePolicy, announce: (registrationId: number) => void): Promise<number> {
    let proc = this.byUri.get(uri);
    // a registration of the same URI still going away must finish first (it may delete the queue)
    while (proc === undefined && this.stopping.has(uri)) {
      await this.stopping.get(uri);
      proc = this.byUri.get(uri);
    }
    if (proc !== undefined && (policy === 'single' || proc.policy !== policy)) {
      throw new WampRequestError(WampError.PROCEDURE_ALREADY_EXISTS, `procedure '${uri}' is already registered (invoke: ${proc.policy})`);
    }
    if (proc === undefined) {
      proc = { id: randomId(), uri, policy, callees: [], ready: Promise.resolve(), consumer: null, cursor: 0, declared: false };
      proc.ready = this.startConsuming(proc);
      this.byUri.set(uri, proc);
      this.byId.set(proc.id, proc);
    }
    try {
      await proc.ready;
    } catch (err) {
      this.forget(proc);
      throw err;
    }
    if (peer.open) {
      announce(proc.id);
      proc.callees.push(peer);
    } else if (proc.callees.length === 0) {
      await this.stop(proc);
    }
    return proc.id;
  }

  /** false when the peer holds no registration with that ID */
  async unregister(peer: WampPeer, registrationId: number): Promise<boolean> {
    const proc = this.byId.get(registrationId);
    const at = proc?.callees.indexOf(peer) ?? -1;
    if (proc === undefined || at < 0) return false;
    proc.callees.splice(at, 1);
    if (proc.callees.length === 0) await this.stop(proc);
    return true;
  }

  /** the peer left: its in-flight invocations fail for their callers, its registrations go */
  async removePeer(peer: WampPeer): Promise<void> {
    for (const inv of this.invocations.ofCallee(peer)) {
      this.opts.replyError(inv, WampError.CANCELED, 'callee left');
      this.finish(inv);
    }
    const mine = [...this.byId.values()].filter((p) => p.callees.includes(peer));
    await Promise.all(mine.map((p) => this.unregister(peer, p.id)));
  }

  /** the invocation a YIELD or ERROR answers; undefined when unknown (already answered, interrupted) */
  find(callee: WampPeer, requestId: number): Invocation | undefined {
    return this.invocations.find(callee, requestId);
  }

  /** the request is answered: ack it and forget it */
  finish(inv: Invocation): void {
    if (this.invocations.remove(inv)) inv.procedure.consumer?.ack(inv.delivery);
  }

  /** a caller (in any process) canceled: INTERRUPT the callee if it can take one */
  onCancelNotice(correlationId: string, mode: CancelMode): void {
    const inv = this.invocations.byCorrelationId(correlationId);
    if (inv === undefined || mode === 'skip') return;
    this.interrupt(inv, mode);
  }

  async close(): Promise<void> {
    for (const peer of this.invocations.callees()) await this.removePeer(peer);
    await Promise.all([...this.byId.values()].map((p) => this.stop(p)));
  }

  private interrupt(inv: Invocation, mode: CancelMode): void {
    // wamp-proto "Call Canceling": a callee that does not support it gets skip semantics
    if (inv.callee.supports('callee', 'call_canceling')) {
      inv.callee.send(out.interrupt(inv.requestId, { mode }));
      if (mode === 'kill') return; // the callee's ERROR (or RESULT) answers the caller
    } else if (mode === 'kill') {
      this.opts.replyError(inv, WampError.CANCELED, 'call canceled');
    }
    this.finish(inv);
  }

  private async startConsuming(proc: Procedure): Promise<void> {
    const { fabric, prefetch } = this.opts;
    proc.declared = await this.ensureQueue(proc.uri);
    const priority = consumerPriority(proc.policy);
    try {
      proc.consumer = await fabric.consume(
        proc.uri,
        { prefetch, exclusive: proc.policy === 'single', ...(priority === undefined ? {} : { arguments: { 'x-priority': priority } }) },
        (d) => this.onRequest(proc, d),
      );
    } catch (err) {
      if (isGatewayError(err, ErrorCode.RESOURCE_LOCKED) || isGatewayError(err, ErrorCode.NOT_AUTHORIZED)) {
        throw new WampRequestError(WampError.PROCEDURE_ALREADY_EXISTS, `procedure '${proc.uri}' is already registered elsewhere`);
      }
      throw err;
    }
  }

  /**
   * An AMQP service may have declared the queue already (durable, with arguments): use it as
   * is. Otherwise declare it: transient, deleted when the last registration goes (stop), and
   * by the broker (x-expires) if a gateway dies without saying so. Not auto-delete: a
   * consumer channel lost to another session's channel error must not delete the procedure.
   * true when we declared it.
   */
  private async ensureQueue(uri: string): Promise<boolean> {
    try {
      await this.opts.fabric.checkQueue(uri);
      return false;
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.NOT_FOUND) && !isGatewayError(err, ErrorCode.UNKNOWN_DESTINATION)) throw err;
      await this.opts.fabric.declareQueue(uri, { durable: false, arguments: { 'x-expires': PROCEDURE_QUEUE_EXPIRES_MS } });
      return true;
    }
  }

  private forget(proc: Procedure): void {
    if (this.byUri.get(proc.uri) === proc) this.byUri.delete(proc.uri);
    this.byId.delete(proc.id);
  }

  private stop(proc: Procedure): Promise<void> {
    this.forget(proc);
    const done = this.tearDown(proc).finally(() => {
      if (this.stopping.get(proc.uri) === done) this.stopping.delete(proc.uri);
    });
    this.stopping.set(proc.uri, done);
    return done;
  }

  private async tearDown(proc: Procedure): Promise<void> {
    // answered requests must be acked before the consumer goes (an ack after cancel is invalid)
    for (const inv of this.invocations.ofProcedure(proc)) {
      this.opts.replyError(inv, WampError.CANCELED, 'procedure unregistered');
      this.finish(inv);
    }
    const consumer = proc.consumer;
    proc.consumer = null;
    await consumer?.cancel().catch((err: unknown) => this.opts.log.warn({ err, procedure: proc.uri }, 'wamp dealer: cancel failed'));
    // gone at once, so new CALLs get no_such_procedure; kept while another process consumes it
    if (proc.declared) await this.opts.fabric.deleteQueue(proc.uri, { ifUnused: true }).catch(() => undefined);
  }

  private onRequest(proc: Procedure, d: Delivery): void {
    const callee = this.pick(proc);
    if (callee === undefined) {
      proc.consumer?.nack(d, { requeue: true }); // the registration is going away
      return;
    }
    const headers = d.properties.headers;
    const inv: Invocation = {
      requestId: callee.nextRequestId(),
      callee,
      procedure: proc,
      delivery: d,
      replyTo: d.properties.replyTo,
      correlationId: d.properties.correlationId,
      timer: null,
    };
    this.invocations.add(inv);
    const timeout = headerNumber(headers, RpcHeader.TIMEOUT);
    if (timeout !== undefined && timeout > 0) inv.timer = setTimeout(() => this.interrupt(inv, 'killnowait'), timeout);
    callee.send(out.invocation(inv.requestId, proc.id, invocationDetails(callee, d, timeout), decodePayload(d.body, d.properties.contentType)));
  }

  private pick(proc: Procedure): WampPeer | undefined {
    const live = proc.callees.filter((c) => c.open);
    const at = pickIndex(proc.policy, live.length, proc.cursor++);
    return at === undefined ? undefined : live[at];
  }
}
