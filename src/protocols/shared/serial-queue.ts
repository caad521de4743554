// Handle a connection's frames one at a time, in arrival order (aedes' _parsingBatch,
// RabbitMQ's synchronous process_frame): `await handle(frame)` finishes before the next starts,
// so per-connection order holds and a slow handler (auth, a declare, a full confirm window)
// pushes back on the socket by itself. Above `highWater` queued items `onHigh` fires (pause
// reading); once the queue is empty again `onLow` fires (resume). The queue can then hold at
// most highWater plus what one read produces.

export interface SerialQueueOptions<T> {
  /** a handler that returns nothing (not a promise) is done: the next item follows without a promise hop */
  handle(item: T): Promise<void> | void;
  /** a handler threw: the queue stops (the connection is going away) */
  onError(err: unknown, item: T): void;
  highWater: number;
  onHigh(): void;
  onLow(): void;
}

export class SerialQueue<T> {
  private readonly items: T[] = [];
  private head = 0;
  private running = false;
  private stopped = false;
  private high = false;

  constructor(private readonly opts: SerialQueueOptions<T>) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** true while a handler is running or items wait */
  get busy(): boolean {
    return this.running || this.length > 0;
  }

  push(item: T): void {
    if (this.stopped) return;
    this.items.push(item);
    if (!this.high && this.length > this.opts.highWater) {
      this.high = true;
      this.opts.onHigh();
    }
    if (!this.running) {
      this.running = true;
      this.run();
    }
  }

  /** drop what waits and handle nothing more */
  stop(): void {
    this.stopped = true;
    this.items.length = 0;
    this.head = 0;
  }

  /** handle items until one returns a promise (run again once it settles) or none is left */
  private run(): void {
    while (!this.stopped && this.head < this.items.length) {
      const item = this.items[this.head++] as T;
      if (this.head > 1024 && this.head * 2 > this.items.length) this.compact();
      let handling: Promise<void> | void;
      try {
        handling = this.opts.handle(item);
      } catch (err) {
        this.failed(err, item);
        break;
      }
      if (handling !== undefined) {
        handling.then(
          () => this.run(),
          (err: unknown) => {
            this.failed(err, item);
            this.run();
          },
        );
        return;
      }
    }
    this.items.length = 0;
    this.head = 0;
    this.running = false;
    if (this.high && !this.stopped) {
      this.high = false;
      this.opts.onLow();
    }
  }

  private failed(err: unknown, item: T): void {
    this.stop();
    this.opts.onError(err, item);
  }

  private compact(): void {
    this.items.splice(0, this.head);
    this.head = 0;
  }
}
