// Gathers what a connection writes during one turn of the event loop into one link.send: a
// burst of deliveries (one AMQP read can carry dozens) then costs one socket write instead of
// one per frame. Order is kept; a batch never grows past `maxBatchBytes` (it is sent at once
// when it would); end() and destroy() send what is gathered first.
// `write` answers what ClientLink.send answers: false while the link is backed up (until it
// drains), so callers that ack "after the bytes are taken" (STOMP ack:auto, MQTT QoS 0) wait.

import type { ClientLink } from '../../transport/types.js';

export class CoalescingWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private scheduled = false;
  private backedUp = false;

  constructor(
    private readonly link: Pick<ClientLink, 'send' | 'onDrain' | 'end' | 'closed'>,
    private readonly maxBatchBytes = 64 * 1024,
  ) {}

  write(bytes: Buffer): boolean {
    if (this.link.closed) return false;
    if (this.batchBytes + bytes.length > this.maxBatchBytes) this.flush();
    this.batch.push(bytes);
    this.batchBytes += bytes.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return !this.backedUp;
  }

  /** runs once everything written so far has been taken by the socket */
  afterDrain(fn: () => void): void {
    this.flush();
    this.link.onDrain(fn);
  }

  flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const data = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    if (this.link.send(data) || this.backedUp) return;
    this.backedUp = true;
    this.link.onDrain(() => {
      this.backedUp = false;
    });
  }

  end(): void {
    this.flush();
    this.link.end();
  }
}
