// When to stop reading a client's socket (RabbitMQ's control_throttle). Reading is paused
// while any reason holds: the frame queue is full, a CONNECT is being authenticated, or the
// fabric cannot take more publishes. The fabric reason is only taken up *after a publish-type
// frame* (STOMP SEND, MQTT PUBLISH, WAMP PUBLISH): a client that only acks or disconnects keeps
// being read, so its ACKs free broker memory instead of waiting behind the block.

import type { FabricSession } from '../../fabric/types.js';
import type { ClientLink } from '../../transport/types.js';

export type PauseReason = 'queue' | 'connect' | 'fabric' | 'window';

export class ReaderThrottle {
  private readonly reasons = new Set<PauseReason>();
  private stopWaiting: (() => void) | undefined;

  constructor(private readonly link: Pick<ClientLink, 'pauseReading' | 'resumeReading'>) {}

  get paused(): boolean {
    return this.reasons.size > 0;
  }

  has(reason: PauseReason): boolean {
    return this.reasons.has(reason);
  }

  block(reason: PauseReason): void {
    const was = this.reasons.size;
    this.reasons.add(reason);
    if (was === 0) this.link.pauseReading();
  }

  unblock(reason: PauseReason): void {
    if (!this.reasons.delete(reason)) return;
    if (this.reasons.size === 0) this.link.resumeReading();
  }

  /** Call after handling a publish-type frame: pause until the fabric is writable again. */
  afterPublish(session: Pick<FabricSession, 'writable' | 'onWritable'>): void {
    if (session.writable || this.reasons.has('fabric')) return;
    this.block('fabric');
    this.stopWaiting = session.onWritable(() => {
      this.stopWaiting?.();
      this.stopWaiting = undefined;
      this.unblock('fabric');
    });
    // onWritable may not fire if the session became writable in between
    if (session.writable) {
      this.stopWaiting();
      this.stopWaiting = undefined;
      this.unblock('fabric');
    }
  }

  close(): void {
    this.stopWaiting?.();
    this.stopWaiting = undefined;
    this.reasons.clear();
  }
}
