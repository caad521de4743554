// The reader and writer of one STOMP connection (RabbitMQ's rabbit_stomp_reader): the only
// code that reads the link (parser → serial frame queue → session, one frame at a time) and
// the only code that writes it (serialize by negotiated version, heart-beats). It owns the
// reader throttle, the CONNECT deadline and the heart-beat watchdog. Works the same for TCP
// and WebSocket (a WebSocket message is just more bytes).

import { ErrorCode, GatewayError } from '../../errors.js';
import type { ClientLink, ConnectionDescription, ProtocolConnection } from '../../transport/types.js';
import type { GatewayContext } from '../types.js';
import { BatchedWriter } from '../shared/batched-writer.js';
import { startDeadline, type Deadline } from '../shared/deadline.js';
import { Heartbeat } from '../shared/heartbeat.js';
import { ReaderThrottle } from '../shared/reader-throttle.js';
import { SerialQueue } from '../shared/serial-queue.js';
import { HEARTBEAT, serializeFrame, type OutgoingFrame, type StompVersion } from './frame.js';
import type { HeartbeatPlan } from './negotiation.js';
import { StompParser, type ParseEvent } from './parser.js';
import { StompSession, type SessionWire, type StompShared } from './session.js';

/** frames parsed but not yet handled before reading pauses */
const FRAME_QUEUE_HIGH_WATER = 64;

type QueuedEvent = Exclude<ParseEvent, { kind: 'heartbeat' }>;

export class StompConnection implements ProtocolConnection, SessionWire {
  readonly session: StompSession;
  private readonly parser: StompParser;
  private readonly throttle: ReaderThrottle;
  private readonly queue: SerialQueue<QueuedEvent>;
  private readonly deadline: Deadline;
  private readonly writer: BatchedWriter;
  private heartbeat: Heartbeat | undefined;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly link: ClientLink,
    shared: StompShared,
  ) {
    const { maxFrameBytes, maxFrameBytesUnauthenticated, maxHeaders, maxHeaderBytes } = ctx.config.stomp;
    this.parser = new StompParser({ maxFrameBytes, maxFrameBytesUnauthenticated, maxHeaders, maxHeaderBytes });
    this.throttle = new ReaderThrottle(link);
    this.writer = new BatchedWriter(link);
    this.session = new StompSession(ctx, link, shared, this, this.throttle);
    this.queue = new SerialQueue<QueuedEvent>({
      handle: (event) => (event.kind === 'frame' ? this.session.handle(event.frame) : Promise.resolve(this.session.fail(event.error))),
      onError: (err) => this.session.fail(err),
      highWater: FRAME_QUEUE_HIGH_WATER,
      onHigh: () => this.throttle.block('queue'),
      onLow: () => this.throttle.unblock('queue'),
    });
    const timeoutMs = ctx.config.limits.connectTimeoutMs;
    this.deadline = startDeadline(timeoutMs, () => this.connectTimedOut(timeoutMs));
  }

  // ---- reading ------------------------------------------------------------------------------

  onData(data: Buffer): void {
    this.heartbeat?.noteRead();
    if (!this.session.open) return;
    this.enqueue(this.parser.push(data));
    // nothing more is read until CONNECT is answered (the parser holds what follows it)
    if (this.parser.holding) this.throttle.block('connect');
  }

  private enqueue(events: ParseEvent[]): void {
    for (const event of events) if (event.kind !== 'heartbeat') this.queue.push(event);
  }

  // ---- SessionWire: writing -----------------------------------------------------------------

  send(frame: OutgoingFrame, afterWritten?: () => void): void {
    this.heartbeat?.noteWrite();
    this.writer.write(serializeFrame(frame, this.session.version), afterWritten);
  }

  get writable(): boolean {
    return !this.writer.congested && !this.link.closed;
  }

  onWritable(listener: () => void): void {
    // the writer registered its own drain listener first (that is what made it congested), so
    // by the time this one runs the writer is flowing again and has run its callbacks
    this.link.onDrain(listener);
  }

  connected(version: StompVersion, plan: HeartbeatPlan): void {
    this.deadline.cancel();
    if (plan.sendEveryMs > 0 || plan.expectEveryMs > 0) {
      this.heartbeat = new Heartbeat({
        sendEveryMs: plan.sendEveryMs,
        expectEveryMs: plan.expectEveryMs,
        sendBeat: () => this.writer.write(HEARTBEAT),
        onTimeout: (silentMs) => {
          this.session.log.info({ silentMs, expectedEveryMs: plan.expectEveryMs }, 'client missed its heart-beats; closing');
          this.ctx.metrics.errors.inc({ protocol: 'stomp', code: ErrorCode.PROTOCOL });
          this.link.destroy('heart-beat timeout');
        },
      });
    }
    this.enqueue(this.parser.release(version));
    this.throttle.unblock('connect');
  }

  end(): void {
    this.queue.stop();
    this.writer.flush();
    this.link.end();
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  onClose(): void {
    this.deadline.cancel();
    this.heartbeat?.stop();
    this.queue.stop();
    this.writer.discard();
    this.throttle.close();
    void this.session.close();
  }

  async shutdown(reason: string): Promise<void> {
    if (!this.session.open) return this.end();
    await this.session.live?.publisher.settled();
    this.session.fail(new GatewayError(ErrorCode.SHUTTING_DOWN, 'server shutting down', { detail: reason, fatal: true }));
  }

  describe(): ConnectionDescription {
    const live = this.session.live;
    return {
      id: this.link.id,
      protocol: 'stomp',
      transport: this.link.transport,
      peer: `${this.link.peer.address}:${this.link.peer.port}`,
      user: live?.principal.username,
      vhost: live?.vhost,
      clientId: live?.clientId,
      version: this.session.state === 'connected' ? this.session.version : undefined,
      connectedAt: this.session.connectedAt.toISOString(),
      subscriptions: this.session.subscriptions.size,
    };
  }

  /** the client must have sent CONNECT in time; how long authentication takes is ours */
  private connectTimedOut(timeoutMs: number): void {
    if (this.session.state !== 'new') return;
    this.session.fail(new GatewayError(ErrorCode.PROTOCOL, 'connect timeout', { detail: `no CONNECT frame within ${timeoutMs} ms`, fatal: true }));
  }
}
