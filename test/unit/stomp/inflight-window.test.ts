// The session's in-flight window on its own: slots taken and given back, members served in
// turn when slots free up, re-entrant releases, members that have ended skipped.
import { describe, expect, it } from 'vitest';
import { InflightWindow, type WindowMember } from '../../../src/protocols/stomp/inflight-window.js';

/** a subscription in miniature: `waiting` deliveries, each written with a granted slot */
class Member implements WindowMember {
  written = 0;
  ended = false;
  constructor(private readonly window: InflightWindow, readonly name: string, private waiting: number, private readonly log: string[], private readonly onWrite?: () => void) {}

  deliver(): void {
    if (this.window.tryTake()) return this.write();
    this.waiting += 1;
  }

  queue(): void {
    this.window.wait(this);
  }

  takeSlot(): boolean {
    if (this.ended || this.waiting === 0) return false;
    this.waiting -= 1;
    if (this.waiting > 0) this.window.wait(this);
    this.write();
    return true;
  }

  private write(): void {
    this.written += 1;
    this.log.push(this.name);
    this.onWrite?.();
  }
}

describe('STOMP in-flight window', () => {
  it('hands out at most its capacity; a delivery finding it full waits', () => {
    const w = new InflightWindow(2);
    expect([w.tryTake(), w.tryTake(), w.tryTake()]).toEqual([true, true, false]);
    expect(w.inUse).toBe(2);
    w.release();
    expect(w.inUse).toBe(1);
  });

  it('freed slots go to the waiting members in turn, so a busy one cannot starve the others', () => {
    const log: string[] = [];
    const w = new InflightWindow(3);
    const a = new Member(w, 'a', 0, log);
    for (let i = 0; i < 3; i++) a.deliver(); // a fills the window
    const b = new Member(w, 'b', 0, log);
    const c = new Member(w, 'c', 0, log);
    for (let i = 0; i < 5; i++) a.deliver();
    a.queue();
    for (let i = 0; i < 5; i++) b.deliver();
    b.queue();
    for (let i = 0; i < 5; i++) c.deliver();
    c.queue();
    log.length = 0;
    for (let i = 0; i < 9; i++) w.release();
    expect(log).toEqual(['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
    expect(w.inUse).toBe(3);
  });

  it('while members wait, a new delivery queues behind them even if a slot is momentarily free', () => {
    const log: string[] = [];
    const w = new InflightWindow(1);
    expect(w.tryTake()).toBe(true);
    const waiting = new Member(w, 'waiting', 1, log);
    waiting.queue();
    w.release();
    expect(log).toEqual(['waiting']);
    expect(w.tryTake()).toBe(false);
  });

  it('a release from inside a grant (an auto-ack written at once) gives its slot back without recursing', () => {
    const log: string[] = [];
    const w = new InflightWindow(1);
    expect(w.tryTake()).toBe(true);
    // every write is "written" at once and frees its slot from inside takeSlot
    const auto: Member = new Member(w, 'auto', 100, log, () => w.release());
    auto.queue();
    w.release();
    expect(auto.written).toBe(100);
    expect(w.inUse).toBe(0);
  });

  it('skips members that have ended or have nothing waiting; the slot stays free', () => {
    const log: string[] = [];
    const w = new InflightWindow(1);
    expect(w.tryTake()).toBe(true);
    const gone = new Member(w, 'gone', 3, log);
    gone.queue();
    gone.ended = true;
    const empty = new Member(w, 'empty', 0, log);
    empty.queue();
    const live = new Member(w, 'live', 1, log);
    live.queue();
    w.release();
    expect(log).toEqual(['live']);
    expect(w.inUse).toBe(1);
    w.release();
    expect(w.inUse).toBe(0);
    expect(w.tryTake()).toBe(true);
  });
});
