// Heart-beats both ways (STOMP 1.1+ heart-beating, MQTT keepalive, WAMP has none): send a
// beat when nothing else was written for `sendEveryMs`, and call `onTimeout` when nothing was
// read for `expectEveryMs` × grace (1.5 by default, as MQTT's spec and ActiveMQ's
// hbGracePeriodMultiplier). Either side may be 0 (off). Timers are unref'd.

export interface HeartbeatOptions {
  sendEveryMs: number;
  expectEveryMs: number;
  grace?: number;
  sendBeat(): void;
  onTimeout(silentForMs: number): void;
  now?: () => number;
}

export class Heartbeat {
  private lastRead: number;
  private lastWrite: number;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: HeartbeatOptions) {
    this.now = opts.now ?? Date.now;
    this.lastRead = this.lastWrite = this.now();
    if (opts.sendEveryMs > 0) this.every(Math.max(1, Math.floor(opts.sendEveryMs / 2)), () => this.maybeSend());
    if (opts.expectEveryMs > 0) this.every(Math.max(1, Math.floor(opts.expectEveryMs / 2)), () => this.check());
  }

  noteRead(): void {
    this.lastRead = this.now();
  }

  noteWrite(): void {
    this.lastWrite = this.now();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  /** ticking at half the interval keeps every gap under the interval */
  private maybeSend(): void {
    if (this.now() - this.lastWrite < this.opts.sendEveryMs / 2) return;
    this.opts.sendBeat();
    this.lastWrite = this.now();
  }

  private check(): void {
    const silent = this.now() - this.lastRead;
    if (silent <= this.opts.expectEveryMs * (this.opts.grace ?? 1.5)) return;
    this.stop();
    this.opts.onTimeout(silent);
  }
}
