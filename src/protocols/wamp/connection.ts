// The reader and writer of one WAMP connection: each WebSocket message is one WAMP message
// (wamp-proto "WebSocket Transport"), decoded by the negotiated serializer, parsed, and
// handled one at a time. Undecodable or malformed input ends the session with ABORT
// wamp.error.protocol_violation and closes the transport. Owns the reader throttle and the
// HELLO deadline. After GOODBYE the transport stays open for a new HELLO (a fresh session).

import type { ClientLink, ConnectionDescription, ProtocolConnection } from '../../transport/types.js';
import type { GatewayContext } from '../types.js';
import { startDeadline, type Deadline } from '../shared/deadline.js';
import { ReaderThrottle } from '../shared/reader-throttle.js';
import { SerialQueue } from '../shared/serial-queue.js';
import { WampClose, WampError } from './errors.js';
import { parseMessage, type Inbound } from './messages.js';
import type { WampRouter } from './router.js';
import { serializerFor, type Serializer } from './serializer.js';
import { WampSession, type SessionEnd } from './session.js';
import type { Logger } from '../../log.js';

/** messages received but not yet handled before reading pauses */
const QUEUE_HIGH_WATER = 64;
/** how long shutdown waits for the client's GOODBYE reply */
const GOODBYE_GRACE_MS = 1000;
/** messages that publish: after them the reader may pause for the fabric (ReaderThrottle) */
const PUBLISH_TYPES = new Set<Inbound['type']>(['PUBLISH', 'CALL', 'YIELD', 'ERROR']);

export class WampConnection implements ProtocolConnection {
  private session: WampSession;
  private readonly serializer: Serializer;
  private readonly throttle: ReaderThrottle;
  private readonly queue: SerialQueue<Inbound>;
  private readonly log: Logger;
  private deadline: Deadline;
  private readonly connectedAt = new Date();
  private closed = false;
  private goodbyeReceived: (() => void) | null = null;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly link: ClientLink,
    private readonly router: WampRouter,
  ) {
    this.serializer = serializerFor(link.subprotocol);
    this.log = ctx.log.child({ conn: link.id, proto: 'wamp', serializer: this.serializer.id });
    this.throttle = new ReaderThrottle(link);
    this.queue = new SerialQueue<Inbound>({
      handle: (message) => this.handle(message),
      onError: (err) => {
        this.log.error({ err }, 'wamp: message handling failed');
        void this.session.abort(WampError.PROTOCOL_VIOLATION, 'internal error');
      },
      highWater: QUEUE_HIGH_WATER,
      onHigh: () => this.throttle.block('queue'),
      onLow: () => this.throttle.unblock('queue'),
    });
    this.session = this.newSession();
    this.deadline = this.helloDeadline();
  }

  onData(data: Buffer): void {
    if (this.closed) return;
    const decoded = this.serializer.decode(data);
    const parsed = decoded.ok ? parseMessage(decoded.value) : decoded;
    if (!parsed.ok) {
      this.queue.stop();
      void this.session.abort(WampError.PROTOCOL_VIOLATION, parsed.reason);
      return;
    }
    this.queue.push(parsed.message);
  }

  onClose(): void {
    this.closed = true;
    this.deadline.cancel();
    this.queue.stop();
    this.throttle.close();
    this.goodbyeReceived?.();
    void this.session.end('transport');
  }

  async shutdown(reason: string): Promise<void> {
    if (this.session.state !== 'open') return this.link.end();
    await this.session.publisher?.settled();
    const replied = new Promise<void>((resolve) => {
      this.goodbyeReceived = resolve;
      setTimeout(resolve, GOODBYE_GRACE_MS).unref();
    });
    this.session.goodbye(WampClose.SYSTEM_SHUTDOWN, reason);
    await replied;
    this.link.end();
  }

  describe(): ConnectionDescription {
    const s = this.session;
    const joined = s.state === 'open' || s.state === 'closing';
    return {
      id: this.link.id,
      protocol: 'wamp',
      transport: this.link.transport,
      peer: `${this.link.peer.address}:${this.link.peer.port}`,
      user: joined ? s.authid : undefined,
      vhost: joined ? s.vhost : undefined,
      clientId: joined ? String(s.sessionId) : undefined,
      version: `wamp.2.${this.serializer.id}`,
      connectedAt: this.connectedAt.toISOString(),
      subscriptions: s.subscriptions.size,
    };
  }

  /** undefined when handled synchronously: the queue goes on without a promise hop */
  private handle(message: Inbound): Promise<void> | undefined {
    const handling = this.session.handle(message);
    if (handling !== undefined) return handling.then(() => this.handled(message));
    this.handled(message);
    return undefined;
  }

  private handled(message: Inbound): void {
    const fabric = this.session.fabric;
    // while the broker is away publishes are refused at once (roomToPublish), so keep reading
    if (PUBLISH_TYPES.has(message.type) && fabric !== null && this.session.state === 'open' && this.ctx.fabric.status().connected) this.throttle.afterPublish(fabric);
  }

  private newSession(): WampSession {
    return new WampSession({
      ctx: this.ctx,
      router: this.router,
      link: this.link,
      serializer: this.serializer,
      log: this.log,
      onEnd: (how) => this.sessionEnded(how),
    });
  }

  private sessionEnded(how: SessionEnd): void {
    this.deadline.cancel();
    this.throttle.unblock('fabric');
    if (how === 'goodbye') {
      this.goodbyeReceived?.();
      if (this.closed) return;
      // the transport may carry a new session (wamp-proto "Session Closing")
      this.session = this.newSession();
      this.deadline = this.helloDeadline();
      return;
    }
    this.queue.stop();
    if (how === 'abort') this.link.end();
  }

  private helloDeadline(): Deadline {
    const ms = this.ctx.config.limits.connectTimeoutMs;
    return startDeadline(ms, () => {
      if (this.session.state === 'hello' || this.session.state === 'authenticating') {
        void this.session.abort(WampError.PROTOCOL_VIOLATION, `no session established within ${ms} ms`);
      }
    });
  }
}
