// Suspect from the slow-consumer review: tryTake() refuses while anyone waits and only release()
// hands slots out, so a member left waiting while the window has room would park its deliveries
// forever. Checked here as an invariant over random interleavings of what subscriptions do
// (deliver, settle, end; settles inside a grant as an auto-ack written at once does): after
// every step, nobody with deliveries parked is left waiting while a slot is free.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InflightWindow, type WindowMember } from '../../../src/protocols/stomp/inflight-window.js';

/** Subscription's window logic (subscription.ts, client-ack path), message bodies left out */
class Member implements WindowMember {
  parked = 0;
  queued = false;
  held = 0;
  active = true;
  constructor(private readonly w: InflightWindow, readonly settlesAtOnce: boolean) {}

  deliver(): void {
    if (!this.active) return;
    if (this.w.tryTake()) return this.write();
    this.parked += 1;
    if (!this.queued) {
      this.queued = true;
      this.w.wait(this);
    }
  }

  takeSlot(): boolean {
    this.queued = false;
    if (!this.active || this.parked === 0) return false;
    this.parked -= 1;
    if (this.parked > 0) {
      this.queued = true;
      this.w.wait(this);
    }
    this.write();
    return true;
  }

  settle(): void {
    if (!this.active || this.held === 0) return;
    this.held -= 1;
    this.w.release(1);
  }

  end(): void {
    if (!this.active) return;
    this.active = false;
    this.parked = 0;
    const held = this.held;
    this.held = 0;
    this.w.release(held);
  }

  private write(): void {
    this.held += 1;
    if (this.settlesAtOnce) this.settle(); // a release from inside the grant
  }
}

type Step = { op: 'deliver' | 'settle' | 'end'; member: number };

describe('STOMP in-flight window: liveness', () => {
  it('no member with parked deliveries waits while the window has a free slot, whatever the interleaving', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }),
        fc.array(fc.record({ op: fc.constantFrom<Step['op']>('deliver', 'deliver', 'deliver', 'settle', 'settle', 'end'), member: fc.nat(3) }), { maxLength: 200 }),
        (capacity, kinds, steps) => {
          const w = new InflightWindow(capacity);
          const members = kinds.map((atOnce) => new Member(w, atOnce));
          for (const step of steps) {
            const m = members[step.member % members.length]!;
            m[step.op]();
            const held = members.reduce((n, x) => n + x.held, 0);
            expect(w.inUse).toBe(held);
            expect(w.inUse).toBeLessThanOrEqual(capacity);
            const starving = members.filter((x) => x.active && x.parked > 0);
            if (starving.length > 0) expect(w.inUse).toBe(capacity);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
