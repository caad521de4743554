// Leader election through the broker, one post per stream: whoever declares the exclusive
// queue `tributary.fair.<stream>.leader` holds the post until its connection ends (RabbitMQ
// deletes an exclusive queue with its connection; the embedded fabric with its session).
// Everyone else gets RESOURCE_LOCKED and tries again every electionRetryMinMs..MaxMs, so a
// standby takes over within about two seconds of the leader's connection dying.
//
// The leader steps down when its fabric reports 'down': its consumers are gone with the
// connection, and the post may be someone else's by the time it is back. Its session is closed
// (never recovered), and it campaigns again like any standby.
import { ErrorCode, isGatewayError } from '../errors.js';
import type { Fabric, FabricSession } from '../fabric/types.js';
import type { Logger } from '../log.js';

export interface ElectionOptions {
  fabric: Fabric;
  vhost: string;
  queue: string;
  retryMinMs: number;
  retryMaxMs: number;
  log: Logger | undefined;
  /** the post is ours: start working with this session; resolve to how to stop */
  onElected(session: FabricSession): Promise<() => Promise<void>>;
  /** we lost or gave up the post */
  onDeposed?(reason: string): void;
}

export class LeaderElection {
  private session: FabricSession | null = null;
  private stopWork: (() => Promise<void>) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private campaigning: Promise<void> | null = null;
  private stepping: Promise<void> | null = null;
  private stopped = true;
  private readonly onDown = (reason: string): void => {
    if (this.session !== null) void this.stepDown(`fabric down: ${reason}`);
  };

  constructor(private readonly opts: ElectionOptions) {}

  get isLeader(): boolean {
    return this.stopWork !== null;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.opts.fabric.on('down', this.onDown);
    this.campaignNow();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.opts.fabric.off('down', this.onDown);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.campaigning;
    await this.stepDown('stopping');
  }

  private campaignNow(): void {
    if (this.stopped || this.campaigning !== null) return;
    const run = this.campaign().finally(() => {
      this.campaigning = null;
      if (!this.stopped && this.session === null) this.retryLater();
    });
    this.campaigning = run;
  }

  private retryLater(): void {
    if (this.timer !== null || this.stopped) return;
    const { retryMinMs: lo, retryMaxMs: hi } = this.opts;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.campaignNow();
    }, lo + Math.random() * Math.max(0, hi - lo));
    this.timer.unref();
  }

  private async campaign(): Promise<void> {
    await this.stepping;
    if (this.stopped || !this.opts.fabric.status().connected) return;
    let session: FabricSession;
    try {
      session = this.opts.fabric.openSession({ vhost: this.opts.vhost, label: 'fair-dispatcher' });
    } catch {
      return; // the fabric is closing
    }
    try {
      await session.declareQueue(this.opts.queue, { exclusive: true, durable: false });
    } catch (err) {
      await session.close().catch(() => undefined);
      if (!isGatewayError(err, ErrorCode.RESOURCE_LOCKED)) this.opts.log?.warn({ queue: this.opts.queue, err: String(err) }, 'fair: leader election failed; retrying');
      return;
    }
    if (this.stopped) {
      await session.close().catch(() => undefined);
      return;
    }
    this.session = session;
    this.opts.log?.info({ queue: this.opts.queue }, 'fair: elected dispatcher');
    try {
      const stop = await this.opts.onElected(session);
      if (this.session !== session) {
        await stop(); // deposed while starting
        return;
      }
      this.stopWork = stop;
    } catch (err) {
      this.opts.log?.warn({ queue: this.opts.queue, err: String(err) }, 'fair: dispatcher failed to start; giving up the post');
      await this.stepDown('start failed');
    }
  }

  private stepDown(reason: string): Promise<void> {
    this.stepping ??= this.release(reason).finally(() => {
      this.stepping = null;
      if (!this.stopped) this.retryLater();
    });
    return this.stepping;
  }

  private async release(reason: string): Promise<void> {
    const session = this.session;
    const stopWork = this.stopWork;
    if (session === null) return;
    this.session = null;
    this.stopWork = null;
    await stopWork?.().catch((err: unknown) => this.opts.log?.warn({ err: String(err) }, 'fair: dispatcher stop failed'));
    await session.close().catch(() => undefined);
    this.opts.log?.info({ queue: this.opts.queue, reason }, 'fair: dispatcher stepped down');
    this.opts.onDeposed?.(reason);
  }
}
