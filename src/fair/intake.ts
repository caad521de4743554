// AMQP-native publishers: their messages reach the stream's intake queue (bound to amq.topic
// with the stream's patterns), and the dispatcher sorts them into publisher queues by the
// stream's identity rule (`header:<name>`, else the AMQP user-id, else 'anonymous').
//
// Messages a gateway session published carry the `x-tributary-fair` header: the gateway already
// put them in their publisher's queue, so here they are only acknowledged.
//
// A full publisher queue cannot push back on an AMQP publisher (the intake is one FIFO for all
// of them: holding one message would hold everyone behind it), so that message is dropped and
// counted. The intake itself is bounded (x-max-length, reject-publish): publishers that use
// confirms get a nack when the dispatcher falls behind.
import { ErrorCode, isGatewayError } from '../errors.js';
import type { Consumer, Delivery, FabricSession } from '../fabric/types.js';
import type { Logger } from '../log.js';
import { consumeWith } from './consume.js';
import { intakePublisher } from './identity.js';
import type { FairIngress } from './ingress.js';
import { FairHeader, intakeQueue } from './names.js';
import type { StreamPlan } from './plan.js';
import type { DispatchTuning } from './tuning.js';

export interface IntakeOptions {
  session: FabricSession;
  plan: StreamPlan;
  ingress: FairIngress;
  tuning: DispatchTuning;
  log: Logger | undefined;
  onDropped(publisher: string): void;
}

const DROP_WARN_EVERY_MS = 10_000;

export class IntakeSorter {
  private consumer: Consumer | null = null;
  private stopped = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private lastDropWarning = 0;
  private dropsSinceWarning = 0;
  sorted = 0;
  dropped = 0;

  constructor(private readonly opts: IntakeOptions) {}

  async start(): Promise<void> {
    const consumer = await consumeWith(this.opts.session, intakeQueue(this.opts.plan.name), { prefetch: this.opts.tuning.intakePrefetch }, (c, d) => this.sort(c, d));
    this.consumer = consumer;
    if (this.stopped) await consumer.cancel();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    await this.consumer?.cancel().catch(() => undefined);
    this.consumer = null;
  }

  private sort(consumer: Consumer, d: Delivery): void {
    if (d.properties.headers?.[FairHeader.PLACED] !== undefined) {
      consumer.ack(d);
      return;
    }
    const { plan, ingress, session } = this.opts;
    const publisher = intakePublisher(plan.publisherBy, d.properties);
    ingress.place(session, plan, publisher, d.routingKey, { body: d.body, properties: d.properties }, { confirm: true }).then(
      () => {
        this.sorted++;
        consumer.ack(d);
      },
      (err: unknown) => {
        if (isGatewayError(err, ErrorCode.QUOTA_EXCEEDED)) {
          this.drop(consumer, d, publisher);
          return;
        }
        // broker trouble: put it back a little later (a dispatcher that steps down requeues it anyway)
        if (this.stopped) return;
        const t = setTimeout(() => {
          this.retryTimers.delete(t);
          consumer.nack(d, { requeue: true });
        }, this.opts.tuning.errorRetryMs);
        this.retryTimers.add(t);
      },
    );
  }

  private drop(consumer: Consumer, d: Delivery, publisher: string): void {
    consumer.ack(d);
    this.dropped++;
    this.dropsSinceWarning++;
    this.opts.onDropped(publisher);
    const now = Date.now();
    if (now - this.lastDropWarning < DROP_WARN_EVERY_MS) return;
    this.opts.log?.warn({ stream: this.opts.plan.name, publisher, dropped: this.dropsSinceWarning }, 'fair: intake messages dropped: their publisher queue is full');
    this.lastDropWarning = now;
    this.dropsSinceWarning = 0;
  }
}
