// One STOMP session: the protocol state of a connection (version, identity, fabric session,
// subscriptions, in-flight window, transactions, receipts) and the command → handler table.
// Frames arrive one at a time (connection.ts awaits `handle`); every error of every handler is
// caught in one place, `handle`, and becomes an ERROR frame and a close (wire-errors.ts).
// While the broker is away, frames that need it are refused there too (broker-watch.ts).

import { randomBytes } from 'node:crypto';
import type { Principal } from '../../auth/types.js';
import { ErrorCode, GatewayError, toGatewayError } from '../../errors.js';
import type { FabricSession } from '../../fabric/types.js';
import type { Logger } from '../../log.js';
import type { ClientLink } from '../../transport/types.js';
import type { GatewayContext } from '../types.js';
import type { AuthorizationCache } from '../shared/authorization-cache.js';
import type { ConfirmedPublisher } from '../shared/confirmed-publisher.js';
import type { ReaderThrottle } from '../shared/reader-throttle.js';
import type { BrokerAwareSession, BrokerWatch } from './broker-watch.js';
import type { Endpoints } from './endpoints.js';
import { isClientCommand, type ClientCommand, type OutgoingFrame, type StompFrame, type StompVersion } from './frame.js';
import { handleAck, handleNack } from './handlers/ack.js';
import { handleConnect } from './handlers/connect.js';
import { handleDisconnect } from './handlers/disconnect.js';
import { handleSend } from './handlers/send.js';
import { handleSubscribe } from './handlers/subscribe.js';
import { handleAbort, handleBegin, handleCommit } from './handlers/transaction.js';
import { handleUnsubscribe } from './handlers/unsubscribe.js';
import { InflightWindow } from './inflight-window.js';
import type { HeartbeatPlan } from './negotiation.js';
import type { DispatchRegistry } from './queue-dispatch.js';
import { Deque } from '../../util/deque.js';
import type { Subscription, SubscriptionHost, WriteWaiter } from './subscription.js';
import type { TempDestinations } from './temp-destinations.js';
import { Transactions } from './transactions.js';
import { errorFrame } from './wire-errors.js';

export type Handler = (session: StompSession, frame: StompFrame) => Promise<void>;

const HANDLERS: Record<ClientCommand, Handler> = {
  CONNECT: handleConnect,
  STOMP: handleConnect,
  SEND: handleSend,
  SUBSCRIBE: handleSubscribe,
  UNSUBSCRIBE: handleUnsubscribe,
  ACK: handleAck,
  NACK: handleNack,
  BEGIN: handleBegin,
  COMMIT: handleCommit,
  ABORT: handleAbort,
  DISCONNECT: handleDisconnect,
};

/**
 * Frames refused while the broker is away. ACK, NACK, ABORT and DISCONNECT only release what
 * the session holds (the broker requeued the unacked deliveries when the connection died).
 */
const NEEDS_BROKER: Record<ClientCommand, boolean> = {
  CONNECT: true,
  STOMP: true,
  SEND: true,
  SUBSCRIBE: true,
  UNSUBSCRIBE: true,
  BEGIN: true,
  COMMIT: true,
  ACK: false,
  NACK: false,
  ABORT: false,
  DISCONNECT: false,
};

function brokerUnavailable(): GatewayError {
  return new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, 'broker unavailable', {
    detail: 'The gateway has lost its connection to the message broker. Reconnect and retry: what has no RECEIPT was not accepted.',
    fatal: true,
  });
}

/** What the session needs from its connection (the only writer to the link). */
export interface SessionWire {
  /** queue a frame; `afterWritten` runs once its bytes were handed to the socket */
  send(frame: OutgoingFrame, afterWritten?: () => void): void;
  /** false while the socket is backed up (or the link is closed) */
  readonly writable: boolean;
  /** run `listener` once the socket has drained (never, if the link closes first) */
  onWritable(listener: () => void): void;
  /** the client is authenticated: release frames held behind CONNECT, start heart-beats */
  connected(version: StompVersion, heartbeat: HeartbeatPlan): void;
  /** flush what was written, then close */
  end(): void;
}

/** Module-wide state every session of the process shares. */
export interface StompShared {
  readonly dispatch: DispatchRegistry;
  readonly broker: BrokerWatch;
  readonly server: string;
}

/** What exists once CONNECT has succeeded. */
export interface Established {
  principal: Principal;
  vhost: string;
  clientId: string | undefined;
  fabric: FabricSession;
  publisher: ConfirmedPublisher;
  authz: AuthorizationCache;
  endpoints: Endpoints;
  temp: TempDestinations;
}

export type SessionState = 'new' | 'connecting' | 'connected' | 'closing' | 'closed';

export class StompSession implements SubscriptionHost, BrokerAwareSession {
  /** unique per session, no dots (it appears in routing keys and message ids) */
  readonly id = `session-${randomBytes(9).toString('base64url')}`;
  readonly log: Logger;
  state: SessionState = 'new';
  version: StompVersion = '1.2';
  live: Established | undefined;
  readonly subscriptions = new Map<string, Subscription>();
  readonly transactions: Transactions;
  /** unsettled client-ack MESSAGE frames of all subscriptions (limits.maxInflightPerSession) */
  readonly window: InflightWindow;
  /** ack:auto subscriptions waiting for the socket to drain, each at most once, in turn */
  private readonly writeWaiters = new Deque<WriteWaiter>(4);
  private drainArmed = false;
  /** a SEND is waiting for room to publish (the fabric not writable) */
  private waitingForRoom = false;
  private readonly ackIndex = new Map<string, Subscription>();
  private messageCounter = 0;
  /** receipts go out in frame order, each after every publish before it has settled */
  private receipts: Promise<void> = Promise.resolve();
  readonly connectedAt = new Date();
  /** per-message counters, bound to their labels once */
  private readonly counters: { delivered: { inc(): void }; skipped: { inc(): void } };

  constructor(
    readonly ctx: GatewayContext,
    readonly link: ClientLink,
    readonly shared: StompShared,
    readonly wire: SessionWire,
    readonly throttle: ReaderThrottle,
  ) {
    this.log = ctx.log.child({ conn: link.id, proto: 'stomp' });
    this.counters = {
      delivered: ctx.metrics.messagesDelivered.labels({ protocol: 'stomp' }),
      skipped: ctx.metrics.messagesDropped.labels({ protocol: 'stomp', reason: 'selector' }),
    };
    this.transactions = new Transactions({ maxOpen: 16, maxActions: 10_000, maxBytes: ctx.config.limits.maxPendingBytesPerConnection });
    this.window = new InflightWindow(ctx.config.limits.maxInflightPerSession);
  }

  get established(): Established {
    if (this.live === undefined) throw new GatewayError(ErrorCode.NOT_CONNECTED, 'not connected', { detail: 'send CONNECT first', fatal: true });
    return this.live;
  }

  assertConnected(): void {
    void this.established;
  }

  get open(): boolean {
    return this.state === 'new' || this.state === 'connecting' || this.state === 'connected';
  }

  async handle(frame: StompFrame): Promise<void> {
    if (!this.open) return;
    try {
      const command = frame.command;
      if (!isClientCommand(command)) throw new GatewayError(ErrorCode.PROTOCOL, 'unknown command', { detail: `"${command.slice(0, 40)}" is not a STOMP client command`, fatal: true });
      if (this.state === 'new' && command !== 'CONNECT' && command !== 'STOMP') {
        throw new GatewayError(ErrorCode.NOT_CONNECTED, 'not connected', { detail: `${command} before CONNECT`, fatal: true });
      }
      if (this.state !== 'new' && (command === 'CONNECT' || command === 'STOMP')) throw new GatewayError(ErrorCode.PROTOCOL, 'already connected', { fatal: true });
      if (NEEDS_BROKER[command] && this.shared.broker.away !== undefined) throw brokerUnavailable();
      await HANDLERS[command](this, frame);
    } catch (err) {
      this.fail(err, frame.headers['receipt']);
    }
  }

  /** ERROR, then close: the end of every failure (STOMP 1.2 §ERROR). */
  fail(err: unknown, receiptId?: string): void {
    if (!this.open) return;
    const error = toGatewayError(err);
    this.ctx.metrics.errors.inc({ protocol: 'stomp', code: error.code });
    if (error.code === ErrorCode.INTERNAL) this.log.error({ err: error.cause ?? error }, 'internal error');
    else this.log.debug({ code: error.code, message: error.message, detail: error.detail, cause: error.cause }, 'ERROR sent');
    this.wire.send(errorFrame(error, receiptId));
    this.state = 'closing';
    this.wire.end();
  }

  /** The publisher, once it has room (a SEND waiting here while the broker goes away ends with ERROR). */
  async roomToPublish(): Promise<ConfirmedPublisher> {
    const publisher = this.established.publisher;
    this.waitingForRoom = true;
    try {
      await publisher.roomAvailable();
    } finally {
      this.waitingForRoom = false;
    }
    return publisher;
  }

  // ---- BrokerAwareSession --------------------------------------------------------------------

  brokerLost(reason: string): void {
    if (this.state === 'connected' && this.waitingForRoom) this.endForBroker(reason);
  }

  brokerGone(reason: string): void {
    if (this.state === 'connected') this.endForBroker(reason);
  }

  private endForBroker(reason: string): void {
    this.log.info({ reason }, 'broker away: ending the STOMP session');
    this.fail(brokerUnavailable());
  }

  /** Send the frame's RECEIPT after every publish so far (and `own`, when given) has settled. */
  receipt(frame: StompFrame, own?: Promise<void>): void {
    const receiptId = frame.headers['receipt'];
    if (receiptId === undefined) return;
    const prior = this.live?.publisher.settled() ?? Promise.resolve();
    this.receipts = this.receipts
      .then(() => prior)
      .then(() => own)
      .then(
        () => {
          // after an ERROR the link is ending and drops this; after DISCONNECT it still goes out
          if (this.state !== 'closed') this.wire.send({ command: 'RECEIPT', headers: [['receipt-id', receiptId]] });
        },
        () => undefined, // the failed publish has sent its own ERROR
      );
  }

  /** resolves once every receipt asked for so far has been sent */
  receiptsSent(): Promise<void> {
    return this.receipts;
  }

  // ---- subscriptions and their acks ----------------------------------------------------------

  findByAckId(ackId: string): Subscription | undefined {
    return this.ackIndex.get(ackId);
  }

  /** Was this ack id issued by this session? (an already-settled one is then not an error) */
  issued(ackId: string): boolean {
    const parts = ackId.split('@@');
    const n = Number(parts[2]);
    return parts.length === 3 && parts[1] === this.id && Number.isInteger(n) && n > 0 && n <= this.messageCounter;
  }

  get writable(): boolean {
    return this.wire.writable;
  }

  whenWritable(member: WriteWaiter): void {
    this.writeWaiters.push(member);
    this.armDrain();
  }

  private armDrain(): void {
    if (this.drainArmed || this.writeWaiters.length === 0) return;
    this.drainArmed = true;
    this.wire.onWritable(() => this.resumeWriters());
  }

  /** the socket drained: one waiting delivery per subscription in turn, while it takes more */
  private resumeWriters(): void {
    this.drainArmed = false;
    while (this.writeWaiters.length > 0 && this.wire.writable) {
      const member = this.writeWaiters.shift() as WriteWaiter;
      if (member.writeOne() && member.waitingToWrite) this.writeWaiters.push(member);
    }
    this.armDrain();
  }

  writeMessage(headers: Array<[string, string]>, body: Buffer, afterWritten?: () => void): void {
    this.wire.send({ command: 'MESSAGE', headers, body }, afterWritten);
  }

  nextMessageId(subscriptionId: string): string {
    return `T_${subscriptionId}@@${this.id}@@${++this.messageCounter}`;
  }

  track(ackId: string, sub: Subscription): void {
    this.ackIndex.set(ackId, sub);
  }

  untrack(ackId: string): void {
    this.ackIndex.delete(ackId);
  }

  skipped(): void {
    this.counters.skipped.inc();
  }

  delivered(): void {
    this.counters.delivered.inc();
  }

  // ---- the end --------------------------------------------------------------------------------

  /** The link is gone: drop transactions, stop subscriptions (unacked requeue), close the fabric session. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.shared.broker.delete(this);
    this.transactions.clear();
    const subs = [...this.subscriptions.values()];
    this.subscriptions.clear();
    this.ctx.metrics.subscriptions.dec({ protocol: 'stomp' }, subs.length);
    const fabric = this.live?.fabric;
    await Promise.allSettled(subs.map((s) => s.cancel(fabric, false)));
    this.ackIndex.clear();
    this.writeWaiters.drain();
    await fabric?.close().catch((err: unknown) => this.log.debug({ err }, 'fabric session close failed'));
  }
}
