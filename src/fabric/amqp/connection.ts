// One AMQP connection that comes back by itself. It reports 'up' (with the fresh amqplib
// model) after every successful (re)connect, 'down' when the connection is lost, and the
// broker's flow-control notifications ('blocked'/'unblocked').
//
// We run our own reconnect loop instead of amqplib 2.3's opt-in `recovery` option. That option
// only reopens the socket (channels, consumers and topology are ours to rebuild either way),
// and while it is reconnecting `createChannel()` *waits* for the next connection; we want
// every operation to fail at once with BACKEND_UNAVAILABLE while the broker is away, so that
// nothing queues up in memory, and we want to know exactly when a connection is down.

import { EventEmitter } from 'node:events';
import { connect, type ChannelModel } from 'amqplib';
import { ErrorCode, GatewayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { DEFAULT_BACKOFF, reconnectDelay, type BackoffOptions } from './backoff.js';
import { backendUnavailable, fromAmqpError } from './errors.js';
import { redactUrl } from './urls.js';

export interface ManagedConnectionEvents {
  up: [model: ChannelModel];
  down: [reason: string];
  blocked: [reason: string];
  unblocked: [];
}

export interface ManagedConnectionOptions {
  url: string;
  /** shown by `rabbitmqctl list_connections name` */
  name: string;
  log: Logger;
  backoff?: BackoffOptions;
  connectTimeoutMs?: number;
}

export class ManagedConnection extends EventEmitter<ManagedConnectionEvents> {
  model: ChannelModel | null = null;
  blocked = false;
  /** the broker's words when it blocked us ("low on memory") */
  blockedReason = '';
  /** why the connection is not up, when it is not */
  reason = 'not connected yet';
  private closing = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ManagedConnectionOptions) {
    super();
  }

  get isUp(): boolean {
    return this.model !== null;
  }

  get name(): string {
    return this.opts.name;
  }

  /** First connect. Rejects (no retry) when the broker cannot be reached or refuses us. */
  async open(): Promise<void> {
    try {
      this.adopt(await this.dial());
    } catch (err) {
      const mapped = fromAmqpError(err);
      const code = mapped.code === ErrorCode.INTERNAL ? ErrorCode.BACKEND_UNAVAILABLE : mapped.code;
      const why = mapped.detail ?? mapped.message;
      throw new GatewayError(code, `cannot connect to RabbitMQ at ${redactUrl(this.opts.url)}: ${why}`, { detail: why, cause: err });
    }
  }

  /** Throws BACKEND_UNAVAILABLE unless connected. */
  requireModel(): ChannelModel {
    if (this.model === null) throw backendUnavailable(this.reason);
    return this.model;
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const model = this.model;
    this.model = null;
    this.reason = 'closed';
    if (model) await model.close().catch(() => undefined);
  }

  /** Test hook: drop the socket as a network failure would. */
  destroySocket(): void {
    const stream = (this.model as unknown as { connection?: { stream?: { destroy(): void } } } | null)?.connection?.stream;
    stream?.destroy();
  }

  private dial(): Promise<ChannelModel> {
    return connect(this.opts.url, {
      timeout: this.opts.connectTimeoutMs ?? 5000,
      noDelay: true,
      clientProperties: { connection_name: this.opts.name },
    });
  }

  private adopt(model: ChannelModel): void {
    corkMuxWrites(model);
    this.model = model;
    this.blocked = false;
    this.reason = '';
    this.attempt = 0;
    model.on('error', (err: Error) => this.opts.log.warn({ err: err.message, conn: this.name }, 'AMQP connection error'));
    model.on('blocked', (reason: string) => {
      this.blocked = true;
      this.blockedReason = `RabbitMQ blocked publishing: ${reason}`;
      this.emit('blocked', reason);
    });
    model.on('unblocked', () => {
      this.blocked = false;
      this.emit('unblocked');
    });
    model.on('close', (err?: Error) => this.onClose(model, err));
    this.emit('up', model);
  }

  private onClose(model: ChannelModel, err?: Error): void {
    if (this.model !== model) return;
    this.model = null;
    const wasBlocked = this.blocked;
    this.blocked = false;
    if (this.closing) return;
    this.reason = `connection lost: ${err?.message ?? 'closed by the broker'}`;
    this.opts.log.warn({ conn: this.name, reason: this.reason }, 'AMQP connection lost; reconnecting');
    if (wasBlocked) this.emit('unblocked');
    this.emit('down', this.reason);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.timer) return;
    this.attempt += 1;
    const delay = reconnectDelay(this.attempt, this.opts.backoff ?? DEFAULT_BACKOFF);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reconnect();
    }, delay);
  }

  private async reconnect(): Promise<void> {
    if (this.closing) return;
    try {
      const model = await this.dial();
      if (this.closing) {
        await model.close().catch(() => undefined);
        return;
      }
      this.opts.log.info({ conn: this.name, attempts: this.attempt }, 'AMQP connection re-established');
      this.adopt(model);
    } catch (err) {
      this.reason = `reconnecting: ${fromAmqpError(err).detail ?? String(err)}`;
      this.scheduleReconnect();
    }
  }
}

/**
 * amqplib's Mux writes every frame it takes from the channels' buffers with its own
 * `socket.write`: with TCP_NODELAY each becomes a syscall and a TCP segment (a CPU profile of
 * MQTT QoS 0 through the gateway showed 'writeBuffer' under the Mux as the largest item of
 * self time). Corking the socket for one pass of the Mux sends the frames of that pass in one
 * writev. Order and backpressure are unchanged (`write` still returns false past the
 * high-water mark). amqplib internals: if they are not as expected, nothing is changed.
 */
function corkMuxWrites(model: ChannelModel): void {
  type Writable = { cork(): void; uncork(): void };
  const muxer = (model as unknown as { connection?: { muxer?: { out?: Partial<Writable>; _readIncoming?: () => void } } }).connection?.muxer;
  const out = muxer?.out;
  const readIncoming = muxer?._readIncoming;
  if (!muxer || typeof readIncoming !== 'function' || typeof out?.cork !== 'function' || typeof out.uncork !== 'function') return;
  const socket = out as Writable;
  muxer._readIncoming = function corkedReadIncoming(this: unknown) {
    socket.cork();
    try {
      readIncoming.call(muxer);
    } finally {
      socket.uncork();
    }
  };
}
