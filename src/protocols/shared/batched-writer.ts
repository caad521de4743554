// Coalesces what a session writes during one turn of the event loop into one link.send():
// a burst of deliveries (a prefetch window's worth) or of acknowledgements costs one socket
// write instead of one each. Callers that must wait for the bytes to leave (an "auto-ack"
// delivery settled only once written) pass `afterFlush`: it runs once the batch went to the
// link, or after 'drain' when the link reported it is backed up.

import type { ClientLink } from '../../transport/types.js';

export class BatchedWriter {
  private chunks: Buffer[] = [];
  private size = 0;
  private callbacks: (() => void)[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private backedUp = false;

  constructor(
    private readonly link: Pick<ClientLink, 'send' | 'onDrain' | 'closed' | 'pendingBytes'>,
    /** flush at once when this much is waiting */
    private readonly maxBatchBytes = 64 * 1024,
  ) {}

  /** true while the link has not drained what it was last given */
  get congested(): boolean {
    return this.backedUp;
  }

  /** bytes written here that the socket has not taken yet (waiting here or in the link) */
  get backlogBytes(): number {
    return this.size + this.link.pendingBytes;
  }

  write(bytes: Buffer, afterFlush?: () => void): void {
    if (this.link.closed) return;
    this.chunks.push(bytes);
    this.size += bytes.length;
    if (afterFlush !== undefined) this.callbacks.push(afterFlush);
    if (this.size >= this.maxBatchBytes) this.flush();
    else this.scheduled ??= setImmediate(() => this.flush());
  }

  /** hand everything waiting to the link now (before a close, for instance) */
  flush(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.chunks.length === 0) return;
    const data = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.size);
    const callbacks = this.callbacks;
    this.chunks = [];
    this.size = 0;
    this.callbacks = [];
    const flowing = this.link.send(data);
    if (flowing) {
      this.backedUp = false;
      for (const cb of callbacks) cb();
      return;
    }
    this.backedUp = true;
    this.link.onDrain(() => {
      this.backedUp = false;
      for (const cb of callbacks) cb();
    });
  }

  /** drop what waits (the connection is gone) */
  discard(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.chunks = [];
    this.size = 0;
    this.callbacks = [];
  }
}
