// One MQTT connection: bytes in → packets → handlers (one at a time, in order), packets out
// through the one `send`. Errors are caught in one place (`fail`) and become the protocol's
// answer: MQTT 5 DISCONNECT with a reason code, or a plain close for 3.1/3.1.1.
//
//   awaiting-connect ─CONNECT─► connecting ─CONNACK 0─► connected ─► closing ─► closed
//                                                (any refusal / error / close) ──┘

import type { Principal } from '../../auth/types.js';
import { ErrorCode, GatewayError, toGatewayError } from '../../errors.js';
import type { Consumer, Delivery, FabricSession } from '../../fabric/types.js';
import type { Logger } from '../../log.js';
import type { ClientLink, ConnectionDescription, ProtocolConnection } from '../../transport/types.js';
import { AuthorizationCache } from '../shared/authorization-cache.js';
import { BatchedWriter } from '../shared/batched-writer.js';
import { ConfirmedPublisher } from '../shared/confirmed-publisher.js';
import { startDeadline, type Deadline } from '../shared/deadline.js';
import { Heartbeat } from '../shared/heartbeat.js';
import { ReaderThrottle } from '../shared/reader-throttle.js';
import { SerialQueue } from '../shared/serial-queue.js';
import { DecodeError, MqttDecoder, encode, type Decoded, type Packet, type ProtocolVersion } from './codec.js';
import { deliver } from './deliver.js';
import { HANDLERS } from './handlers/index.js';
import type { MqttModule } from './index.js';
import { AwaitingRelease, OrderedAcks } from './inflight.js';
import type { Outbound } from './outbound.js';
import { FixedHeaders } from './properties.js';
import { ConnackReturn, Reason, connackReturnFor } from './reason-codes.js';
import type { SessionStateStore } from './session-store.js';
import type { ClientLock } from './client-lock.js';
import type { Subscription, Subscriptions } from './subscriptions.js';
import { publishWill } from './handlers/publish.js';
import type { Will } from './will.js';
import { connackReasonFor, disconnectReasonFor } from './wire-errors.js';

export type SessionState = 'awaiting-connect' | 'connecting' | 'connected' | 'closing' | 'closed';

/** frames queued before reading pauses */
const QUEUE_HIGH_WATER = 64;
/** bound on reply routes remembered for AMQP services that answer through the default exchange */
const MAX_REPLY_ROUTES = 256;

/** What the client told us about itself in CONNECT (MQTT 5; defaults for 3.x). */
export interface ClientLimits {
  receiveMaximum: number;
  maximumPacketSize: number | undefined;
  topicAliasMaximum: number;
  requestProblemInformation: boolean;
}

export class MqttSession implements ProtocolConnection {
  /** created on first use: an idle connection that never logs carries no child logger */
  private logger: Logger | undefined;
  private logBindings: Record<string, string> = {};
  readonly connectedAt = new Date();
  state: SessionState = 'awaiting-connect';
  /** a DISCONNECT or a refusing CONNACK went out, or the connection ends for a bad packet: nothing more goes on the wire */
  private farewellSent = false;
  version: ProtocolVersion = 4;
  clientId: string | undefined;
  vhost: string | undefined;
  principal: Principal | undefined;
  fabric: FabricSession | undefined;
  lock: ClientLock | undefined;
  stateStore: SessionStateStore | undefined;
  subscriptions: Subscriptions | undefined;
  outbound: Outbound | undefined;
  publisher: ConfirmedPublisher | undefined;
  authz: AuthorizationCache | undefined;
  will: Will | undefined;
  /** seconds the session outlives the connection (0: ends with it) */
  sessionExpiry = 0;
  /** the session was persistent when the connection started (queues are durable) */
  persistentAtConnect = false;
  keepaliveSeconds = 0;
  client: ClientLimits = { receiveMaximum: 65535, maximumPacketSize: undefined, topicAliasMaximum: 0, requestProblemInformation: true };
  /** DISCONNECT 0x00 seen: no will */
  graceful = false;
  readonly acks = new OrderedAcks();
  /** payload bytes of the QoS 1/2 publishes in `acks` (held until their confirm) */
  unansweredBytes = 0;
  readonly awaitingRelease: AwaitingRelease;
  /** client → server topic aliases (MQTT 5) */
  readonly topicAliases = new Map<number, string>();
  /** correlation data (hex) → response topic, for replies that come through the default exchange */
  readonly replyRoutes = new Map<string, string>();
  /** the headers of this session's publishes without MQTT 5 properties, reused (see FixedHeaders) */
  readonly fixedHeaders = new FixedHeaders();
  lastReplyTopic: string | undefined;

  readonly throttle: ReaderThrottle;
  /** every byte to the client goes through here: one socket write per event-loop turn */
  readonly writer: BatchedWriter;
  /** QoS 0 deliveries of a no-ack consumer are dropped while more than this waits for the socket */
  readonly qos0BacklogBytes: number;
  private readonly decoder: MqttDecoder;
  private readonly queue: SerialQueue<Decoded>;
  private readonly connectDeadline: Deadline;
  private heartbeat: Heartbeat | undefined;
  /** deliveries that arrive before CONNACK went out */
  private early: (() => void)[] = [];
  private ending: Promise<void> | undefined;

  constructor(readonly mod: MqttModule, readonly link: ClientLink) {
    const { config } = mod.ctx;
    this.logBindings = { conn: link.id, proto: 'mqtt' };
    this.awaitingRelease = new AwaitingRelease(Math.max(100, config.limits.maxInflightPerSession));
    this.decoder = new MqttDecoder(() => (this.state === 'connected' ? config.mqtt.maxPacketBytes : config.mqtt.maxPacketBytesUnauthenticated));
    this.throttle = new ReaderThrottle(link);
    this.writer = new BatchedWriter(link);
    this.qos0BacklogBytes = Math.min(config.mqtt.qos0BacklogBytes, Math.floor(config.limits.maxPendingBytesPerConnection / 2));
    this.queue = new SerialQueue<Decoded>({
      handle: (item) => this.handle(item),
      onError: (err) => this.fail(err),
      highWater: QUEUE_HIGH_WATER,
      onHigh: () => this.throttle.block('queue'),
      onLow: () => this.throttle.unblock('queue'),
    });
    this.connectDeadline = startDeadline(config.limits.connectTimeoutMs, () => {
      if (this.state === 'awaiting-connect' || this.state === 'connecting') {
        this.log.info({ timeoutMs: config.limits.connectTimeoutMs }, 'no CONNECT in time');
        void this.end({ publishWill: false, reason: 'connect timeout' });
      }
    });
  }

  get log(): Logger {
    this.logger ??= this.mod.ctx.log.child(this.logBindings);
    return this.logger;
  }

  /** more context for every later log line (client id, vhost, user once known) */
  addLogContext(fields: Record<string, string>): void {
    this.logBindings = { ...this.logBindings, ...fields };
    this.logger = undefined;
  }

  /** one line through the shared logger, with this connection's context, without a child logger */
  logOnce(fields: Record<string, unknown>, msg: string): void {
    this.mod.ctx.log.info({ ...this.logBindings, ...fields }, msg);
  }

  get config() {
    return this.mod.ctx.config;
  }

  get metrics() {
    return this.mod.ctx.metrics;
  }

  get closing(): boolean {
    return this.state === 'closing' || this.state === 'closed';
  }

  // ---- ProtocolConnection ---------------------------------------------------------------

  onData(data: Buffer): void {
    if (this.closing) return;
    this.heartbeat?.noteRead();
    for (const item of this.decoder.push(data)) this.queue.push(item);
  }

  onClose(error?: Error): void {
    if (error !== undefined && !this.closing) this.log.debug({ err: error }, 'connection closed with an error');
    void this.end({ publishWill: !this.graceful, reason: error?.message ?? 'closed by client' });
  }

  async shutdown(reason: string): Promise<void> {
    if (this.closing) return this.ending;
    if (this.state === 'connected' && this.version === 5) this.sendDisconnect(Reason.SERVER_SHUTTING_DOWN, reason);
    await Promise.race([this.acks.drained(), new Promise((r) => setTimeout(r, 2_000).unref())]);
    await this.end({ publishWill: true, reason });
  }

  describe(): ConnectionDescription {
    return {
      id: this.link.id,
      protocol: 'mqtt',
      transport: this.link.transport,
      peer: `${this.link.peer.address}:${this.link.peer.port}`,
      user: this.principal?.username,
      vhost: this.vhost,
      clientId: this.clientId,
      version: this.version === 5 ? '5.0' : this.version === 4 ? '3.1.1' : '3.1',
      connectedAt: this.connectedAt.toISOString(),
      subscriptions: this.subscriptions?.size ?? 0,
    };
  }

  // ---- packets in -----------------------------------------------------------------------

  /** not async: a packet handled without waiting (most PUBLISHes) returns nothing, and the queue moves on without a promise */
  private handle(item: Decoded): Promise<void> | void {
    if (this.closing) return;
    if ('error' in item) return this.decodeFailed(item.error);
    const packet = item.packet;
    if (this.state === 'awaiting-connect' && packet.cmd !== 'connect') {
      // [MQTT-3.1.0-1] the first packet must be CONNECT: close without a word
      this.log.info({ cmd: packet.cmd }, 'first packet is not CONNECT');
      return this.end({ publishWill: false, reason: 'first packet not CONNECT' });
    }
    return HANDLERS[packet.cmd](this, packet as never);
  }

  private async decodeFailed(error: DecodeError): Promise<void> {
    this.metrics.errors.inc({ protocol: 'mqtt', code: error.kind === 'too-large' ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.PROTOCOL });
    this.log.info({ err: error.message, state: this.state }, 'bad packet');
    if (this.state === 'awaiting-connect' && /protocol version|protocolId/.test(error.message)) {
      // [MQTT-3.1.2-2] an unsupported protocol level gets CONNACK 0x01, then the close
      this.writer.write(encode({ cmd: 'connack', sessionPresent: false, returnCode: ConnackReturn.UNACCEPTABLE_PROTOCOL_VERSION }, 4));
    } else if (this.state === 'connected' && this.version === 5) {
      this.sendDisconnect(error.kind === 'too-large' ? Reason.PACKET_TOO_LARGE : Reason.MALFORMED_PACKET, error.message);
    }
    // the connection ends for a malformed packet: acknowledgements still being worked out
    // (a confirm that lands after this point) must not follow the goodbye
    this.farewellSent = true;
    await this.end({ publishWill: true, reason: error.message });
  }

  // ---- packets out ----------------------------------------------------------------------

  /** the one way out (batched per event-loop turn); false when the link is backed up */
  send(packet: Packet): boolean {
    if (this.state === 'closed' || this.farewellSent) return false;
    this.writer.write(encode(packet, this.version));
    return !this.writer.congested;
  }

  /** a packet encoded already (deliveries), under the same rule as send() */
  writeEncoded(bytes: Buffer, afterFlush?: () => void): void {
    if (this.state === 'closed' || this.farewellSent) return;
    this.writer.write(bytes, afterFlush);
  }

  /** a Reason String only when the client did not turn problem information off [MQTT-3.1.2-29] */
  reasonString(detail: string | undefined): { reasonString: string } | undefined {
    if (detail === undefined || this.version !== 5 || !this.client.requestProblemInformation) return undefined;
    return { reasonString: detail.slice(0, 256) };
  }

  sendDisconnect(reason: Reason, detail?: string): void {
    if (this.version !== 5) return;
    const properties = detail === undefined ? undefined : { reasonString: detail.slice(0, 256) };
    this.send({ cmd: 'disconnect', reasonCode: reason, ...(properties ? { properties } : {}) });
    this.farewellSent = true;
  }

  /** CONNACK with a refusal, then close [MQTT-3.2.2-6] */
  async refuseConnect(reason: Reason, detail: string): Promise<void> {
    this.log.info({ reason, detail, clientId: this.clientId }, 'CONNECT refused');
    if (this.version === 5) {
      this.send({ cmd: 'connack', sessionPresent: false, reasonCode: reason, ...(detail ? { properties: { reasonString: detail.slice(0, 256) } } : {}) });
    } else {
      this.send({ cmd: 'connack', sessionPresent: false, returnCode: connackReturnFor(reason) });
    }
    this.farewellSent = true;
    await this.end({ publishWill: false, reason: detail });
  }

  /** called by the CONNECT handler once CONNACK 0 is out */
  connected(): void {
    this.state = 'connected';
    this.connectDeadline.cancel();
    this.throttle.unblock('connect');
    if (this.keepaliveSeconds > 0) {
      this.heartbeat = new Heartbeat({
        sendEveryMs: 0,
        expectEveryMs: this.keepaliveSeconds * 1000,
        sendBeat: () => undefined,
        onTimeout: (silentMs) => this.keepaliveExpired(silentMs),
      });
    }
    const early = this.early;
    this.early = [];
    for (const run of early) run();
  }

  private keepaliveExpired(silentMs: number): void {
    this.log.info({ keepalive: this.keepaliveSeconds, silentMs }, 'keepalive timeout');
    this.sendDisconnect(Reason.KEEP_ALIVE_TIMEOUT);
    void this.end({ publishWill: true, reason: 'keepalive timeout' });
  }

  // ---- deliveries -----------------------------------------------------------------------

  onDelivery(d: Delivery, consumer: Consumer, shared: Subscription | undefined): void {
    if (this.closing) return;
    if (this.state !== 'connected') {
      this.early.push(() => deliver(this, d, consumer, shared));
      return;
    }
    deliver(this, d, consumer, shared);
  }

  rememberReplyRoute(correlation: Buffer | undefined, topic: string): void {
    this.lastReplyTopic = topic;
    if (correlation === undefined) return;
    if (this.replyRoutes.size >= MAX_REPLY_ROUTES) this.replyRoutes.delete(this.replyRoutes.keys().next().value as string);
    this.replyRoutes.set(correlation.toString('hex'), topic);
  }

  // ---- errors and the end ---------------------------------------------------------------

  /** The one catch: log once, tell the client what the protocol allows, close. */
  fail(err: unknown): void {
    const g = toGatewayError(err);
    if (this.closing) return;
    this.metrics.errors.inc({ protocol: 'mqtt', code: g.code });
    const level = g.code === ErrorCode.INTERNAL ? 'warn' : 'info';
    this.log[level]({ code: g.code, message: g.message, detail: g.detail, cause: g.cause }, 'mqtt session error');
    if (this.state === 'connecting') {
      // a malformed CONNECT closes 3.x connections without a word; MQTT 5 has reason codes for it
      if (this.version !== 5 && g.code === ErrorCode.PROTOCOL) void this.end({ publishWill: false, reason: g.detail ?? g.message });
      else void this.refuseConnect(connackReasonFor(g), g.detail ?? g.message);
      return;
    }
    if (this.state === 'connected') this.sendDisconnect(disconnectReasonFor(g), g.detail ?? g.message);
    void this.end({ publishWill: true, reason: g.detail ?? g.message });
  }

  /** A newer connection took the client id [MQTT-3.1.4-2]: resolves once this one is gone. */
  takeover(): Promise<void> {
    if (!this.closing) {
      this.log.info({ clientId: this.clientId }, 'session taken over');
      if (this.state === 'connected') this.sendDisconnect(Reason.SESSION_TAKEN_OVER);
    }
    return this.end({ publishWill: true, reason: 'session taken over' });
  }

  /** Tear everything down once (idempotent): will, consumers, queues, lock, fabric session, socket. */
  end(opts: { publishWill: boolean; reason: string }): Promise<void> {
    this.ending ??= this.teardown(opts);
    return this.ending;
  }

  private async teardown({ publishWill: withWill, reason }: { publishWill: boolean; reason: string }): Promise<void> {
    const wasConnected = this.state === 'connected';
    this.state = 'closing';
    this.queue.stop();
    this.throttle.close();
    this.connectDeadline.cancel();
    this.heartbeat?.stop();
    this.outbound?.close();
    this.early = [];
    try {
      if (withWill && wasConnected && this.will !== undefined) await publishWill(this, this.will).catch((err: unknown) => this.log.warn({ err }, 'will not published'));
      if (this.subscriptions !== undefined) this.metrics.subscriptions.dec({ protocol: 'mqtt' }, this.subscriptions.size);
      await this.subscriptions?.close();
      await this.releaseSession();
      await this.lock?.release();
    } catch (err) {
      this.log.warn({ err }, 'mqtt session teardown');
    } finally {
      await this.fabric?.close().catch(() => undefined);
      if (this.clientId !== undefined && this.vhost !== undefined) this.mod.releaseClientId(this, this.vhost, this.clientId);
      this.writer.flush();
      this.link.end();
      this.state = 'closed';
      this.log.debug({ reason, clientId: this.clientId }, 'mqtt connection closed');
    }
  }

  /** the session ends with the connection (expiry 0) or stays (its queues keep collecting) */
  private async releaseSession(): Promise<void> {
    if (this.sessionExpiry > 0) {
      await this.stateStore?.close();
      return;
    }
    // before the lock goes: the next holder of this client id declares the same queue names
    await this.subscriptions?.deleteQueue();
    if (this.persistentAtConnect) await this.stateStore?.discard();
  }

  requireConnected(): { fabric: FabricSession; publisher: ConfirmedPublisher; authz: AuthorizationCache; clientId: string; vhost: string } {
    if (this.fabric === undefined || this.publisher === undefined || this.authz === undefined || this.clientId === undefined || this.vhost === undefined) {
      throw new GatewayError(ErrorCode.NOT_CONNECTED, undefined, { fatal: true });
    }
    return { fabric: this.fabric, publisher: this.publisher, authz: this.authz, clientId: this.clientId, vhost: this.vhost };
  }
}
