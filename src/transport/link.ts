// The ONE write path to a client, whatever the transport (aedes' write.js + drainTimeout):
// - send() queues and counts what the socket has not yet flushed; above a high-water mark it
//   returns false, and a client that stays backed up for drainTimeoutMs is destroyed;
// - the pending bytes are capped: a client that lets more pile up is destroyed at once, so
//   one slow reader never grows memory without bound or stalls anyone else;
// - reading is paused and resumed here (flow control), and every byte in and out is counted;
// - once the server ends a link (end(): an ERROR sent, a goodbye said) what the client still
//   sends is read and dropped, and a client that keeps sending more than AFTER_END_BYTES is
//   cut off, so an error never turns into an open sink.

import type { Peer } from '../auth/types.js';
import { ErrorCode, GatewayError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { ProtocolName } from '../protocols/types.js';
import type { ClientLink, ProtocolConnection, TransportKind } from './types.js';

/** What a transport adapts its socket to. */
export interface LinkIo {
  /** hand data to the socket; `done` runs once it is flushed to the kernel, or failed */
  write(data: Buffer | string, done: (err?: Error | null) => void): void;
  pause(): void;
  resume(): void;
  /** flush, then close */
  end(): void;
  destroy(): void;
}

export interface LinkOptions {
  id: string;
  protocol: ProtocolName;
  transport: TransportKind;
  peer: Peer;
  subprotocol?: string | undefined;
  certificateCN?: string | undefined;
  maxPendingBytes: number;
  drainTimeoutMs: number;
  /** send() returns false above this many pending bytes (default 64 KiB, at most maxPendingBytes) */
  highWaterBytes?: number;
  metrics: Metrics;
}

export type CloseKind = 'client' | 'server' | 'slow_consumer' | 'error' | 'timeout' | 'shutdown';

export interface LinkCloseInfo {
  kind: CloseKind;
  reason: string;
  error?: Error | undefined;
  /** the protocol's onClose threw this */
  protocolError?: Error | undefined;
}

const DEFAULT_HIGH_WATER = 64 * 1024;
/** bytes a client may still send after the server ended the link before it is destroyed */
export const AFTER_END_BYTES = 64 * 1024;

export class Link implements ClientLink {
  readonly id: string;
  readonly protocol: ProtocolName;
  readonly transport: TransportKind;
  readonly peer: Peer;
  readonly subprotocol: string | undefined;
  readonly certificateCN: string | undefined;
  readonly openedAt = new Date();
  bytesIn = 0;
  bytesOut = 0;

  private pending = 0;
  private readonly highWater: number;
  private drainListeners: (() => void)[] = [];
  private drainTimer: NodeJS.Timeout | undefined;
  private readingPaused = false;
  private closing: LinkCloseInfo | undefined;
  private droppedAfterEnd = 0;
  private finished = false;
  private conn: ProtocolConnection | undefined;
  private readonly closeListeners: ((info: LinkCloseInfo) => void)[] = [];
  private readonly labels: { protocol: ProtocolName; transport: TransportKind };

  constructor(private readonly io: LinkIo, private readonly opts: LinkOptions) {
    this.id = opts.id;
    this.protocol = opts.protocol;
    this.transport = opts.transport;
    this.peer = opts.peer;
    this.subprotocol = opts.subprotocol;
    this.certificateCN = opts.certificateCN;
    this.highWater = Math.min(opts.highWaterBytes ?? DEFAULT_HIGH_WATER, opts.maxPendingBytes);
    this.labels = { protocol: opts.protocol, transport: opts.transport };
  }

  /** the protocol connection this link feeds */
  bind(conn: ProtocolConnection): void {
    this.conn = conn;
  }

  onClosed(listener: (info: LinkCloseInfo) => void): void {
    this.closeListeners.push(listener);
  }

  get closed(): boolean {
    return this.closing !== undefined || this.finished;
  }

  get pendingBytes(): number {
    return this.pending;
  }

  get readPaused(): boolean {
    return this.readingPaused;
  }

  send(data: Buffer | string): boolean {
    if (this.closed) return false;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (this.pending > 0 && this.pending + size > this.opts.maxPendingBytes) {
      this.fail('slow_consumer', `more than ${this.opts.maxPendingBytes} bytes pending`);
      return false;
    }
    this.pending += size;
    this.bytesOut += size;
    this.opts.metrics.bytesOut.inc(this.labels, size);
    this.io.write(data, () => this.flushed(size));
    if (this.pending <= this.highWater) return true;
    this.armDrainTimer();
    return false;
  }

  onDrain(listener: () => void): void {
    if (this.closed) return;
    if (this.pending === 0) return queueMicrotask(listener);
    this.drainListeners.push(listener);
    // someone now waits for everything to leave: it must, within drainTimeoutMs (flushed())
    this.armDrainTimer();
  }

  pauseReading(): void {
    if (this.readingPaused || this.closed) return;
    this.readingPaused = true;
    this.io.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused || this.closed) return;
    this.readingPaused = false;
    this.io.resume();
  }

  end(): void {
    if (this.closed) return;
    this.closing = { kind: 'server', reason: 'closed by server' };
    this.io.end();
  }

  destroy(reason = 'closed by server'): void {
    if (this.closed) return;
    this.closing = { kind: 'server', reason };
    this.io.destroy();
  }

  /** close now, remembering why (slow consumer, ping timeout, shutdown...) */
  fail(kind: CloseKind, reason: string): void {
    if (this.closed) return;
    this.closing = { kind, reason };
    this.io.destroy();
  }

  /** the transport hands over bytes (or one WebSocket message) from the client */
  receive(data: Buffer): void {
    if (this.finished) return;
    this.bytesIn += data.length;
    this.opts.metrics.bytesIn.inc(this.labels, data.length);
    if (this.closing !== undefined) {
      this.droppedAfterEnd += data.length;
      if (this.droppedAfterEnd > AFTER_END_BYTES) this.io.destroy();
      return;
    }
    try {
      this.conn?.onData(data);
    } catch (err) {
      // a protocol bug must cost this client its connection, never the process
      this.closing ??= { kind: 'error', reason: 'internal error', error: err as Error };
      this.io.destroy();
    }
  }

  /** the transport reports that the socket is gone; runs once */
  handleClose(socketError?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.clearDrainTimer();
    this.drainListeners = [];
    const info: LinkCloseInfo = this.closing
      ?? (socketError ? { kind: 'error', reason: socketError.message, error: socketError } : { kind: 'client', reason: 'closed by client' });
    this.closing = info;
    const error = info.error ?? socketError ?? (info.kind === 'client' || info.kind === 'server' ? undefined : this.closeError(info));
    try {
      this.conn?.onClose(error);
    } catch (err) {
      // runs from a socket event: a throw here would take the whole process down
      info.protocolError = err as Error;
    }
    for (const listener of this.closeListeners) listener(info);
  }

  get closeInfo(): LinkCloseInfo | undefined {
    return this.closing;
  }

  private closeError(info: LinkCloseInfo): GatewayError {
    if (info.kind === 'slow_consumer') return new GatewayError(ErrorCode.SLOW_CONSUMER, 'slow consumer', { detail: info.reason, fatal: true });
    if (info.kind === 'shutdown') return new GatewayError(ErrorCode.SHUTTING_DOWN, undefined, { detail: info.reason, fatal: true });
    if (info.kind === 'timeout') return new GatewayError(ErrorCode.PROTOCOL, info.reason, { fatal: true });
    return new GatewayError(ErrorCode.INTERNAL, info.reason, { fatal: true });
  }

  private flushed(size: number): void {
    this.pending -= size;
    if (this.pending > 0) {
      if (this.pending > this.highWater) return; // still backed up: the timer runs on
      this.clearDrainTimer();
      // Below the mark but not empty, with drain listeners waiting (auto-ack settles, writers
      // holding deliveries back): they run only at 0, so a client that stopped reading here
      // would be neither served nor cut off. It must keep moving: the clock restarts on each
      // completed write, and a client that completes none for drainTimeoutMs is cut off.
      if (this.drainListeners.length > 0) this.armDrainTimer();
      return;
    }
    this.clearDrainTimer();
    if (this.finished) return;
    const listeners = this.drainListeners;
    this.drainListeners = [];
    for (const listener of listeners) listener();
  }

  private armDrainTimer(): void {
    if (this.drainTimer) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      this.fail('slow_consumer', `did not drain ${this.pending} bytes within ${this.opts.drainTimeoutMs} ms`);
    }, this.opts.drainTimeoutMs);
    this.drainTimer.unref?.();
  }

  private clearDrainTimer(): void {
    if (!this.drainTimer) return;
    clearTimeout(this.drainTimer);
    this.drainTimer = undefined;
  }
}
