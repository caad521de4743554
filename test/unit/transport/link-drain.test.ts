// The link's drain timer and its drain listeners must agree on when a client is "backed up".
// Listeners (BatchedWriter's afterFlush: STOMP ack:auto settles and the STOMP auto-ack gate,
// the WAMP fair "written" callback) run only once *everything* is flushed, while the timer
// used to be cleared as soon as the pending bytes fell to the high-water mark. A client that
// stopped reading with a small write still unflushed behind a large one was then neither served
// (the listeners never ran, so nothing more was sent) nor cut off (no timer): a stall forever.
// Deterministic: a fake socket whose writes complete only when the test says so, fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../../src/metrics.js';
import { BatchedWriter } from '../../../src/protocols/shared/batched-writer.js';
import { Link, type LinkIo } from '../../../src/transport/link.js';

const KiB = 1024;

/** a socket that takes writes and completes them, in order, only when told to */
class FakeSocket implements LinkIo {
  readonly writes: { size: number; done: (err?: Error | null) => void }[] = [];
  destroyed = false;
  write(data: Buffer | string, done: (err?: Error | null) => void): void {
    this.writes.push({ size: typeof data === 'string' ? Buffer.byteLength(data) : data.length, done });
  }
  /** the kernel took the oldest write */
  complete(): void {
    const w = this.writes.shift();
    if (w === undefined) throw new Error('nothing to complete');
    w.done();
  }
  pause(): void {}
  resume(): void {}
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

const metrics = createMetrics();

function link(io: FakeSocket, drainTimeoutMs = 400): Link {
  return new Link(io, {
    id: 'test-1', protocol: 'stomp', transport: 'tcp', peer: { address: '127.0.0.1', port: 1 } as never,
    maxPendingBytes: 4 * 1024 * KiB, drainTimeoutMs, highWaterBytes: 64 * KiB, metrics,
  });
}

describe('link: drain timer and drain listeners', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a client stuck with a small write behind a large one, someone waiting for the drain, is cut off after drainTimeoutMs', () => {
    const io = new FakeSocket();
    const l = link(io);
    expect(l.send(Buffer.alloc(256 * KiB))).toBe(false); // above the mark: backed up
    let drained = false;
    l.onDrain(() => {
      drained = true;
    });
    expect(l.send(Buffer.alloc(1 * KiB))).toBe(false);
    io.complete(); // the large write left; the small one never does (the client stopped reading)
    expect(l.pendingBytes).toBe(1 * KiB);
    vi.advanceTimersByTime(399);
    expect(io.destroyed).toBe(false);
    vi.advanceTimersByTime(2);
    // before the fix: drained false and never cut off, whatever the time
    expect(drained).toBe(false);
    expect(io.destroyed).toBe(true);
    expect(l.closeInfo?.kind).toBe('slow_consumer');
  });

  it('the same through the BatchedWriter: afterFlush callbacks either run or the client is cut off', () => {
    const io = new FakeSocket();
    const l = link(io);
    const writer = new BatchedWriter(l);
    let settled = 0;
    writer.write(Buffer.alloc(256 * KiB), () => settled++); // flushed at once (>= 64 KiB)
    writer.write(Buffer.alloc(2 * KiB), () => settled++); // waits for the turn
    writer.flush();
    expect(writer.congested).toBe(true);
    io.complete();
    vi.advanceTimersByTime(10_000);
    expect(settled).toBe(0);
    expect(io.destroyed).toBe(true);
  });

  it('below the mark the clock restarts on every completed write: a client that keeps reading is never cut off', () => {
    const io = new FakeSocket();
    const l = link(io);
    l.send(Buffer.alloc(256 * KiB));
    let drained = 0;
    l.onDrain(() => drained++);
    l.send(Buffer.alloc(1 * KiB));
    io.complete();
    // 20 s of a slow but moving client: a write completes every 300 ms and a new small one
    // arrives, so the pending bytes never reach 0 and the listener keeps waiting
    for (let i = 0; i < 66; i++) {
      vi.advanceTimersByTime(300);
      l.send(Buffer.alloc(1 * KiB));
      io.complete();
    }
    expect(io.destroyed).toBe(false);
    expect(drained).toBe(0);
    io.complete(); // it catches up: everything flushed, the listener runs
    expect(l.pendingBytes).toBe(0);
    expect(drained).toBe(1);
  });

  it('no one waiting: a few bytes stuck below the mark are not a reason to cut a client off', () => {
    const io = new FakeSocket();
    const l = link(io);
    expect(l.send(Buffer.alloc(1 * KiB))).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(io.destroyed).toBe(false);
  });

  it('above the mark the timer is not restarted by progress (unchanged): backed up for drainTimeoutMs is cut off', () => {
    const io = new FakeSocket();
    const l = link(io);
    for (let i = 0; i < 4; i++) l.send(Buffer.alloc(256 * KiB));
    vi.advanceTimersByTime(200);
    io.complete();
    vi.advanceTimersByTime(201);
    expect(io.destroyed).toBe(true);
  });
});
