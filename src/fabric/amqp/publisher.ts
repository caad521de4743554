// Publishing for every session on one publishing connection: one confirm channel and one
// plain (non-confirm) channel, each shared by the sessions of the slot.
//
// The confirm channel tells us when the broker has taken responsibility. A publish the caller
// does not need confirmed goes on the plain channel when the session asks for it
// (`publishPlain`): no sequence number, no basic.ack coming back, no confirm window, so it
// costs what a plain amqplib publish costs. It resolves once written to amqplib's buffer.
// Which channel a session uses, and how it keeps its own publishes in order across the two,
// is the session's business (see session.ts); `plainBarrier()` is its tool for that.
//
// Backpressure, never buffering: `writable` is false while the broker blocks the connection
// (memory/disk alarm), while `window` publishes await their confirm, while amqplib's channel
// buffer is above its high-water mark, and while the connection or channel is down. Past
// `maxUnconfirmed` a publish is refused (LIMIT_EXCEEDED); while the connection is down it is
// refused at once (BACKEND_UNAVAILABLE). The plain channel: `plainWritable` is false while the
// broker blocks the connection and while its amqplib buffer is above the high-water mark; past
// `maxUnconfirmed` publishes made since it went over (before 'drain'), a plain publish is
// refused (LIMIT_EXCEEDED), so a caller ignoring `writable` cannot buffer without bound.

import type { Channel, ConfirmChannel, Message, Options } from 'amqplib';
import { ErrorCode, GatewayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import type { ManagedConnection } from './connection.js';
import { backendUnavailable, fromAmqpError, publishNacked, unroutable } from './errors.js';
import { publishConfirmed, publishPlain } from './publish-fields.js';

export interface PublisherOptions {
  /** unconfirmed publishes at which `writable` turns false (it turns true again at half) */
  window: number;
  /** unconfirmed publishes past which a publish is refused */
  maxUnconfirmed: number;
  log: Logger;
  metrics: Metrics | undefined;
}

interface MandatoryPublish {
  exchange: string;
  routingKey: string;
  body: Buffer;
  /** the broker's reply text once it returned the message (basic.return) */
  returned?: string;
}

/** one incarnation of the confirm channel */
interface ConfirmState {
  ch: ConfirmChannel;
  /** set when the broker closed the channel (it names the culprit in the text) */
  error: Error | null;
  /** mandatory publishes awaiting their confirm, oldest first, to match basic.return against */
  mandatory: Set<MandatoryPublish>;
}

/** one incarnation of the plain channel */
interface PlainState {
  ch: Channel;
  error: Error | null;
}

const RESOLVED: Promise<void> = Promise.resolve();

interface Waiting {
  send(): void;
  fail(err: GatewayError): void;
}

export class Publisher {
  private state: ConfirmState | null = null;
  private opening: Promise<void> | null = null;
  /** publishes that arrived while the channel was being reopened after a channel error */
  private waiting: Waiting[] = [];
  private unconfirmedCount = 0;
  private windowFull = false;
  private overHighWaterMark = false;
  private wasWritable = false;
  private closing = false;
  private wasPlainWritable = false;
  /** the plain channel, opened on the first plain publish (and again after a loss) */
  private plain: PlainState | null = null;
  private plainOpening: Promise<void> | null = null;
  private plainWaiting: Waiting[] = [];
  private plainOverHighWaterMark = false;
  /** plain publishes accepted since its buffer went over the high-water mark */
  private plainPastHighWaterMark = 0;
  private readonly writableListeners = new Set<() => void>();
  private readonly idleListeners = new Set<() => void>();

  constructor(
    private readonly conn: ManagedConnection,
    private readonly opts: PublisherOptions,
  ) {
    conn.on('up', () => void this.open());
    conn.on('down', (reason) => this.onConnectionDown(reason));
    conn.on('blocked', () => this.updateWritable());
    conn.on('unblocked', () => this.updateWritable());
  }

  get channelOpen(): boolean {
    return this.state !== null;
  }

  get unconfirmed(): number {
    return this.unconfirmedCount;
  }

  get writable(): boolean {
    return this.conn.isUp && !this.conn.blocked && this.state !== null && !this.windowFull && !this.overHighWaterMark;
  }

  /** plain publishes can go out now (the plain channel opens on demand) */
  get plainWritable(): boolean {
    // while the channel is opening, publishes queue in plainWaiting: pause, so that they stay few
    return this.conn.isUp && !this.conn.blocked && !this.closing && !this.plainOverHighWaterMark && (this.plain !== null || this.plainOpening === null);
  }

  get plainChannelOpen(): boolean {
    return this.plain !== null;
  }

  /** `listener` runs each time publishing (confirmed or plain) turns from paused to writable */
  onWritable(listener: () => void): () => void {
    this.writableListeners.add(listener);
    return () => this.writableListeners.delete(listener);
  }

  /** resolves once the confirm channel is open (or failed to open) */
  ready(): Promise<void> {
    return this.opening ?? Promise.resolve();
  }

  publish(exchange: string, routingKey: string, body: Buffer, options: Options.Publish, confirm: boolean): Promise<void> {
    if (this.closing) return Promise.reject(new GatewayError(ErrorCode.SHUTTING_DOWN));
    if (!this.conn.isUp) return Promise.reject(backendUnavailable(this.conn.reason));
    if (this.unconfirmedCount + this.waiting.length >= this.opts.maxUnconfirmed) {
      return Promise.reject(
        new GatewayError(ErrorCode.LIMIT_EXCEEDED, undefined, {
          detail: `${this.opts.maxUnconfirmed} publishes await a broker confirm; wait for the session to be writable`,
        }),
      );
    }
    const state = this.state;
    if (state === null) return this.publishWhenOpen(exchange, routingKey, body, options, confirm);
    return this.send(state, exchange, routingKey, body, options, confirm);
  }

  /**
   * Publish without a confirm, on the plain channel. Resolves once handed to amqplib (or at
   * once if queued behind the channel opening); rejects only when it could not be sent.
   */
  publishPlain(exchange: string, routingKey: string, body: Buffer, options: Options.Publish): Promise<void> {
    if (this.closing) return Promise.reject(new GatewayError(ErrorCode.SHUTTING_DOWN));
    if (!this.conn.isUp) return Promise.reject(backendUnavailable(this.conn.reason));
    if (this.plainPastHighWaterMark + this.plainWaiting.length >= this.opts.maxUnconfirmed) {
      return Promise.reject(
        new GatewayError(ErrorCode.LIMIT_EXCEEDED, undefined, {
          detail: `${this.opts.maxUnconfirmed} publishes wait in the publish buffer; wait for the session to be writable`,
        }),
      );
    }
    const state = this.plain;
    if (state === null) {
      void this.openPlain();
      return new Promise<void>((resolve, reject) => {
        this.plainWaiting.push({
          send: () => {
            const now = this.plain;
            if (now === null) reject(backendUnavailable(this.conn.reason || 'publish channel unavailable'));
            else this.sendPlain(now, exchange, routingKey, body, options).then(resolve, reject);
          },
          fail: reject,
        });
      });
    }
    return this.sendPlain(state, exchange, routingKey, body, options);
  }

  /**
   * Resolves once the broker has processed every plain publish handed to amqplib before this
   * call: a synchronous method (basic.qos, harmless on a channel that never consumes) queued
   * behind them on the same channel, whose reply the broker's channel process sends only after
   * it has routed everything before it. Never rejects (a lost channel took its publishes with it).
   */
  plainBarrier(): Promise<void> {
    const opening = this.plainOpening;
    if (opening) return opening.then(() => this.plainBarrier());
    const state = this.plain;
    if (state === null) return RESOLVED;
    return state.ch.prefetch(0).then(
      () => undefined,
      () => undefined,
    );
  }

  /** resolves when nothing awaits a confirm, or after `timeoutMs` */
  waitIdle(timeoutMs: number): Promise<void> {
    if (this.unconfirmedCount === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.idleListeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.idleListeners.add(done);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.failWaiting(new GatewayError(ErrorCode.SHUTTING_DOWN));
    this.failPlainWaiting(new GatewayError(ErrorCode.SHUTTING_DOWN));
    const state = this.state;
    this.state = null;
    const plain = this.plain;
    this.plain = null;
    await Promise.all([state?.ch.close().catch(() => undefined), plain?.ch.close().catch(() => undefined)]);
  }

  private sendPlain(state: PlainState, exchange: string, routingKey: string, body: Buffer, options: Options.Publish): Promise<void> {
    let accepted: boolean;
    try {
      accepted = publishPlain(state.ch, exchange, routingKey, body, options);
    } catch (err) {
      const mapped = fromAmqpError(err);
      return Promise.reject(mapped.code === ErrorCode.INTERNAL ? new GatewayError(ErrorCode.PRECONDITION_FAILED, undefined, { detail: mapped.detail, cause: err }) : mapped);
    }
    if (!accepted && !this.plainOverHighWaterMark) {
      this.plainOverHighWaterMark = true;
      this.updateWritable();
    }
    if (this.plainOverHighWaterMark) this.plainPastHighWaterMark += 1;
    return RESOLVED;
  }

  private openPlain(): Promise<void> {
    if (this.plainOpening) return this.plainOpening;
    const model = this.conn.model;
    if (model === null || this.closing) return RESOLVED;
    const opening = model.createChannel().then(
      (ch) => {
        if (this.plainOpening === opening) this.plainOpening = null;
        this.adoptPlain(ch);
      },
      (err: unknown) => {
        if (this.plainOpening === opening) this.plainOpening = null;
        this.opts.log.warn({ err: String(err), conn: this.conn.name }, 'cannot open the plain publish channel');
        this.failPlainWaiting(backendUnavailable('cannot open the publish channel', err));
        this.updateWritable();
      },
    );
    this.plainOpening = opening;
    this.updateWritable();
    return opening;
  }

  private adoptPlain(ch: Channel): void {
    if (this.closing || !this.conn.isUp) {
      void ch.close().catch(() => undefined);
      this.failPlainWaiting(this.closing ? new GatewayError(ErrorCode.SHUTTING_DOWN) : backendUnavailable(this.conn.reason));
      this.updateWritable();
      return;
    }
    const state: PlainState = { ch, error: null };
    this.opts.metrics?.fabricChannels.inc();
    ch.on('error', (err: Error) => {
      state.error = err;
      this.opts.log.warn({ err: err.message, conn: this.conn.name }, 'plain publish channel closed by the broker; reopening on the next publish');
    });
    ch.on('drain', () => {
      if (this.plain !== state) return;
      this.plainOverHighWaterMark = false;
      this.plainPastHighWaterMark = 0;
      this.updateWritable();
    });
    ch.on('close', () => {
      this.opts.metrics?.fabricChannels.dec();
      if (this.plain !== state) return;
      this.plain = null;
      this.plainOverHighWaterMark = false;
      this.plainPastHighWaterMark = 0;
      this.updateWritable();
    });
    this.plain = state;
    this.plainOverHighWaterMark = false;
    this.plainPastHighWaterMark = 0;
    const waiting = this.plainWaiting;
    this.plainWaiting = [];
    for (const w of waiting) w.send();
    this.updateWritable();
  }

  private failPlainWaiting(err: GatewayError): void {
    const waiting = this.plainWaiting;
    this.plainWaiting = [];
    for (const w of waiting) w.fail(err);
  }

  private send(state: ConfirmState, exchange: string, routingKey: string, body: Buffer, options: Options.Publish, confirm: boolean): Promise<void> {
    const mandatory: MandatoryPublish | undefined = options.mandatory ? { exchange, routingKey, body } : undefined;
    if (mandatory) state.mandatory.add(mandatory);
    this.unconfirmedCount += 1;
    this.opts.metrics?.fabricUnconfirmed.inc();
    if (this.unconfirmedCount >= this.opts.window) this.windowFull = true;

    return new Promise<void>((resolve, reject) => {
      let accepted: boolean;
      try {
        // the confirm callback is an argument, not a named const: under tsx (dev runs; the bench
        // before it ran the build) esbuild's keepNames wraps a named closure in __name(), an
        // Object.defineProperty per publish (~0.8 µs in profiles)
        accepted = publishConfirmed(state.ch, exchange, routingKey, body, options, (err: unknown) => {
          this.settled();
          if (mandatory) state.mandatory.delete(mandatory);
          if (err) reject(this.confirmError(err, state, exchange, routingKey));
          else if (mandatory?.returned !== undefined) reject(unroutable(exchange, routingKey, mandatory.returned));
          else resolve();
        });
      } catch (err) {
        // encoding refused it (e.g. a headers table over 64 KiB): nothing was sent
        this.settled();
        if (mandatory) state.mandatory.delete(mandatory);
        const mapped = fromAmqpError(err);
        reject(mapped.code === ErrorCode.INTERNAL ? new GatewayError(ErrorCode.PRECONDITION_FAILED, undefined, { detail: mapped.detail, cause: err }) : mapped);
        return;
      }
      if (!accepted) this.overHighWaterMark = true;
      this.updateWritable();
      if (!confirm) resolve();
    });
  }

  private publishWhenOpen(exchange: string, routingKey: string, body: Buffer, options: Options.Publish, confirm: boolean): Promise<void> {
    void this.open();
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({
        send: () => {
          const state = this.state;
          if (state === null) reject(backendUnavailable(this.conn.reason || 'publish channel unavailable'));
          else this.send(state, exchange, routingKey, body, options, confirm).then(resolve, reject);
        },
        fail: reject,
      });
    });
  }

  private confirmError(err: unknown, state: ConfirmState, exchange: string, routingKey: string): GatewayError {
    if (err instanceof Error && err.message === 'message nacked') return publishNacked(exchange, routingKey);
    if (state.error === null) return backendUnavailable(`connection lost before the broker confirmed the publish`, err);
    // The broker closed the shared channel. Name its reason only to the publish it concerns.
    if (state.error.message.includes(`'${exchange}'`)) return fromAmqpError(state.error);
    return backendUnavailable('the publish channel was closed by another publish; retry', state.error);
  }

  private settled(): void {
    this.unconfirmedCount -= 1;
    this.opts.metrics?.fabricUnconfirmed.dec();
    if (this.windowFull && this.unconfirmedCount <= this.opts.window / 2) this.windowFull = false;
    this.updateWritable();
    if (this.unconfirmedCount === 0) for (const listener of [...this.idleListeners]) listener();
  }

  private open(): Promise<void> {
    if (this.opening) return this.opening;
    const model = this.conn.model;
    if (model === null || this.closing) return Promise.resolve();
    const opening = model.createConfirmChannel().then(
      (ch) => {
        if (this.opening === opening) this.opening = null;
        this.adopt(ch);
      },
      (err: unknown) => {
        if (this.opening === opening) this.opening = null;
        this.opts.log.warn({ err: String(err), conn: this.conn.name }, 'cannot open the publish channel');
        this.failWaiting(backendUnavailable('cannot open the publish channel', err));
      },
    );
    this.opening = opening;
    return opening;
  }

  private adopt(ch: ConfirmChannel): void {
    const state: ConfirmState = { ch, error: null, mandatory: new Set() };
    this.opts.metrics?.fabricChannels.inc();
    ch.on('error', (err: Error) => {
      state.error = err;
      this.opts.log.warn({ err: err.message, conn: this.conn.name }, 'publish channel closed by the broker; reopening');
    });
    ch.on('return', (msg: Message) => markReturned(state, msg));
    ch.on('drain', () => {
      this.overHighWaterMark = false;
      this.updateWritable();
    });
    ch.on('close', () => this.onChannelClosed(state));
    this.state = state;
    this.overHighWaterMark = false;
    this.updateWritable();
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.send();
  }

  private onChannelClosed(state: ConfirmState): void {
    this.opts.metrics?.fabricChannels.dec();
    if (this.state !== state) return;
    this.state = null;
    this.updateWritable();
    // A close without a broker error is the connection going away: it reconnects and says 'up'.
    if (state.error !== null && !this.closing) void this.open();
  }

  private onConnectionDown(reason: string): void {
    this.state = null;
    this.opening = null;
    this.plain = null;
    this.plainOpening = null;
    this.plainOverHighWaterMark = false;
    this.plainPastHighWaterMark = 0;
    this.failWaiting(backendUnavailable(reason));
    this.failPlainWaiting(backendUnavailable(reason));
    this.updateWritable();
  }

  private failWaiting(err: GatewayError): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w.fail(err);
  }

  private updateWritable(): void {
    const writable = this.writable;
    const plainWritable = this.plainWritable;
    const turnedWritable = (writable && !this.wasWritable) || (plainWritable && !this.wasPlainWritable);
    this.wasWritable = writable;
    this.wasPlainWritable = plainWritable;
    if (!turnedWritable) return;
    for (const listener of [...this.writableListeners]) {
      try {
        listener();
      } catch (err) {
        this.opts.log.error({ err }, 'onWritable listener threw');
      }
    }
  }
}

/**
 * basic.return carries no publish sequence number. RabbitMQ sends it just before the confirm
 * of the same message, so the returned message is the oldest unconfirmed mandatory publish
 * with the same exchange, routing key and body.
 */
function markReturned(state: ConfirmState, msg: Message): void {
  const { exchange, routingKey, replyText } = msg.fields as Message['fields'] & { replyText: string };
  for (const p of state.mandatory) {
    if (p.returned === undefined && p.exchange === exchange && p.routingKey === routingKey && p.body.equals(msg.content)) {
      p.returned = replyText;
      return;
    }
  }
}
