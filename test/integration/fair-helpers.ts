// Helpers for the fair-stream tests: stream configs, a worker on a stream's output queue that
// counts what it got, and waiting for conditions without fixed sleeps.
import type { FairStreamConfig } from '../../src/config/schema.js';
import type { Consumer, Delivery, FabricMessage, FabricSession } from '../../src/fabric/types.js';
import { FairHeader, fairOutputQueue, publisherQueue } from '../../src/fair/index.js';
import { announcedQueue, registryQueue } from '../../src/fair/names.js';
import type { DispatchTuning } from '../../src/fair/tuning.js';
import { makeFabric } from './fabric-amqp-helpers.js';

export function streamConfig(name: string, over: Partial<FairStreamConfig> = {}): FairStreamConfig {
  return {
    name,
    patterns: [`${name}.#`],
    publisherBy: 'client-id',
    maxPerPublisher: 10_000,
    idleExpiryMs: 60_000,
    outputQueueLength: 0,
    amqpIntake: false,
    ...over,
  };
}

/** quick timers, so that tests wait milliseconds rather than seconds */
export const fastTuning: Partial<DispatchTuning> = {
  electionRetryMinMs: 30,
  electionRetryMaxMs: 60,
  registrySaveMs: 30,
  backlogPollMs: 50,
};

export function msg(text: string, headers: Record<string, string> = {}, persistent = false): FabricMessage {
  return { body: Buffer.from(text), properties: { headers, ...(persistent ? { deliveryMode: 2 as const } : {}) } };
}

/** consumes a stream's output queue, acking each delivery at once (or when let go, if paused) */
export class Worker {
  readonly got: Delivery[] = [];
  private consumer: Consumer | null = null;
  private waiters: { until: () => boolean; resolve: () => void }[] = [];

  constructor(
    private readonly session: FabricSession,
    private readonly stream: string,
  ) {}

  async start(prefetch = 1): Promise<this> {
    this.consumer = await this.session.consume(fairOutputQueue(this.stream), { prefetch }, (d) => {
      this.got.push(d);
      this.consumer?.ack(d);
      this.waiters = this.waiters.filter((w) => {
        if (!w.until()) return true;
        w.resolve();
        return false;
      });
    });
    return this;
  }

  async stop(): Promise<void> {
    await this.consumer?.cancel();
    this.consumer = null;
  }

  bodies(): string[] {
    return this.got.map((d) => d.body.toString());
  }

  publishers(): string[] {
    return this.got.map((d) => String(d.properties.headers?.[FairHeader.PUBLISHER]));
  }

  waitFor(count: number, timeoutMs = 15_000): Promise<void> {
    return this.waitUntil(() => this.got.length >= count, timeoutMs, () => `${count} deliveries (have ${this.got.length})`);
  }

  waitUntil(until: () => boolean, timeoutMs = 15_000, what: () => string = () => 'condition'): Promise<void> {
    if (until()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what()}`)), timeoutMs);
      this.waiters.push({
        until,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

/** polls `check` every few ms until it holds (for broker-side state that has no event) */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** RabbitMQ: delete what a test's stream left in the broker (its durable queues) */
export async function deleteStreamQueues(stream: string, publishers: string[]): Promise<void> {
  const fabric = makeFabric();
  await fabric.start();
  const s = fabric.openSession({ vhost: '/' });
  for (const q of [fairOutputQueue(stream), announcedQueue(stream), registryQueue(stream), ...publishers.map((p) => publisherQueue(stream, p))]) {
    await s.deleteQueue(q).catch(() => undefined);
  }
  await s.close();
  await fabric.close();
}
