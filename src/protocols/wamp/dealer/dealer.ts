// The process-wide WAMP dealer of one vhost: this process's reply queue (which also hears
// cancel notices from every process), the calls waiting on it, and the procedures its
// callees registered. See rpc-headers.ts for the AMQP shape of a call.

import type { Logger } from '../../../log.js';
import type { Consumer, Delivery, FabricMessage, FabricSession } from '../../../fabric/types.js';
import { encodePayload } from '../payload.js';
import type { Payload } from '../messages.js';
import { PendingCalls } from './calls.js';
import { Procedures, type Invocation } from './procedures.js';
import { CANCEL_EXCHANGE, CANCEL_TYPE, DEFAULT_EXCHANGE, RpcHeader, isCancelMode, type CancelMode } from './rpc-headers.js';
import { headerString } from '../amqp-headers.js';

export interface DealerOptions {
  fabric: FabricSession;
  /** this process's reply queue (unique per process) */
  replyQueue: string;
  log: Logger;
  maxPendingCallsPerSession: number;
  invocationPrefetch: number;
}

export class Dealer {
  readonly calls: PendingCalls;
  readonly procedures: Procedures;
  private started: Promise<void> | null = null;
  private consumer: Consumer | null = null;

  constructor(private readonly opts: DealerOptions) {
    this.calls = new PendingCalls({
      maxPerCaller: opts.maxPendingCallsPerSession,
      abandon: (correlationId, mode) => this.sendCancelNotice(correlationId, mode),
    });
    this.procedures = new Procedures({
      fabric: opts.fabric,
      log: opts.log,
      prefetch: opts.invocationPrefetch,
      replyError: (inv, uri, message) => this.reply(this.opts.fabric, inv, { args: [message] }, { error: uri }),
    });
  }

  get replyQueue(): string {
    return this.opts.replyQueue;
  }

  /** ready() has resolved: calls need not wait for it */
  get isReady(): boolean {
    return this.consumer !== null;
  }

  /** the reply queue exists and is consumed (declared on the first CALL or REGISTER) */
  ready(): Promise<void> {
    this.started ??= this.start().catch((err: unknown) => {
      this.started = null;
      throw err;
    });
    return this.started;
  }

  /**
   * Answer an invocation to its requester (reply-to + correlation-id), through the given
   * publisher (the callee's, so that its reader feels the backpressure).
   */
  reply(via: Pick<FabricSession, 'publish'>, inv: Invocation, payload: Payload, kind: { progress?: boolean; error?: string } = {}): void {
    if (inv.replyTo === undefined || inv.replyTo === '') return; // fire-and-forget request
    const { body, contentType } = encodePayload(payload);
    const headers: Record<string, string | boolean> = {};
    if (kind.error !== undefined) headers[RpcHeader.ERROR] = kind.error;
    if (kind.progress === true) headers[RpcHeader.PROGRESS] = true;
    const properties: FabricMessage['properties'] = { contentType, headers };
    if (inv.correlationId !== undefined) properties.correlationId = inv.correlationId;
    const message: FabricMessage = { body, properties };
    via.publish(DEFAULT_EXCHANGE, inv.replyTo, message).catch((err: unknown) => {
      this.opts.log.debug({ err, replyTo: inv.replyTo }, 'wamp dealer: reply not delivered');
    });
  }

  sendCancelNotice(correlationId: string, mode: CancelMode): void {
    const message: FabricMessage = {
      body: Buffer.alloc(0),
      properties: { type: CANCEL_TYPE, correlationId, headers: { [RpcHeader.CANCEL_MODE]: mode } },
    };
    this.opts.fabric.publish(CANCEL_EXCHANGE, '', message).catch((err: unknown) => {
      this.opts.log.debug({ err }, 'wamp dealer: cancel notice not sent');
    });
  }

  async close(): Promise<void> {
    await this.procedures.close();
    await this.consumer?.cancel().catch(() => undefined);
    this.consumer = null;
  }

  private async start(): Promise<void> {
    const { fabric, replyQueue } = this.opts;
    // exclusive (gone with this process's connection), not auto-delete (see Broker.ensureConsumer)
    await fabric.declareQueue(replyQueue, { exclusive: true });
    await fabric.declareExchange(CANCEL_EXCHANGE, 'fanout', { durable: false, autoDelete: false });
    await fabric.bindQueue(replyQueue, CANCEL_EXCHANGE, '');
    this.consumer = await fabric.consume(replyQueue, { noAck: true }, (d) => this.onMessage(d));
  }

  private onMessage(d: Delivery): void {
    try {
      if (d.properties.type === CANCEL_TYPE && d.exchange === CANCEL_EXCHANGE) {
        const mode = headerString(d.properties.headers, RpcHeader.CANCEL_MODE);
        if (d.properties.correlationId !== undefined && isCancelMode(mode)) this.procedures.onCancelNotice(d.properties.correlationId, mode);
        return;
      }
      this.calls.onReply(d);
    } catch (err) {
      this.opts.log.error({ err }, 'wamp dealer: reply handling failed');
    }
  }
}
