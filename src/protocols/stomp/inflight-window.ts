// The session's in-flight window (limits.maxInflightPerSession): the MESSAGE frames of all
// its subscriptions not yet settled — ack:auto until their bytes were written, client and
// client-individual until the client acks or nacks them — as RabbitMQ's per-channel prefetch
// counts them. The broker hands each consumer up to its own prefetch; a delivery that finds
// the window full waits in its subscription (bounded by that prefetch) and the subscription
// queues for a slot. Freed slots go to the queued subscriptions in turn (round-robin), so a
// busy subscription cannot starve the others. Plain counters and one ring of members: no
// allocation per message.

import { Deque } from '../../util/deque.js';

export interface WindowMember {
  /** use the slot just granted for one waiting delivery; false when it has none (or has ended) */
  takeSlot(): boolean;
}

export class InflightWindow {
  private used = 0;
  /** members waiting for a slot, each at most once (the member keeps that promise) */
  private readonly waiting = new Deque<WindowMember>(4);
  /** set while release() hands out slots: a release from inside only gives its slot back */
  private granting = false;

  constructor(readonly capacity: number) {}

  get inUse(): number {
    return this.used;
  }

  /** a slot for a delivery now; false when full or when others are queued for one */
  tryTake(): boolean {
    if (this.used >= this.capacity || this.waiting.length > 0) return false;
    this.used += 1;
    return true;
  }

  /** queue a member for the next free slot */
  wait(member: WindowMember): void {
    this.waiting.push(member);
  }

  release(n = 1): void {
    this.used -= n;
    if (this.granting) return;
    this.granting = true;
    try {
      while (this.used < this.capacity && this.waiting.length > 0) {
        const member = this.waiting.shift() as WindowMember;
        this.used += 1;
        if (!member.takeSlot()) this.used -= 1;
      }
    } finally {
      this.granting = false;
    }
  }
}
