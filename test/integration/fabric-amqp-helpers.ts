// Helpers for the AMQP fabric's integration tests: a fabric on the test broker, a raw amqplib
// connection as an independent witness of what the broker holds, and waiting without sleeps.

import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { connect, type ChannelModel } from 'amqplib';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { AmqpFabric, type AmqpFabricOptions } from '../../src/fabric/amqp/index.js';
import type { Delivery } from '../../src/fabric/types.js';
import { amqpUrl } from '../support/broker.js';

export const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');

export function makeFabric(overrides: Partial<AmqpFabricOptions> = {}): AmqpFabric {
  return new AmqpFabric({
    url: amqpUrl,
    connectionsPerVhost: 1,
    log,
    metrics: createMetrics({ defaultMetrics: false }),
    backoff: { initialMs: 50, maxMs: 1000, factor: 2, jitter: 0.2 },
    ...overrides,
  });
}

/** a plain amqplib connection, to look at the broker independently of the fabric */
export async function witness(): Promise<{ conn: ChannelModel; queueExists(name: string): Promise<boolean>; close(): Promise<void> }> {
  const conn = await connect(amqpUrl);
  conn.on('error', () => undefined);
  return {
    conn,
    async queueExists(name: string) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      try {
        await ch.checkQueue(name);
        await ch.close();
        return true;
      } catch (err) {
        return (err as { code?: number }).code === 405; // exclusive to another connection: exists
      }
    },
    close: () => conn.close().catch(() => undefined),
  };
}

/** deliveries collected in order; next() waits for the next one */
/**
 * Things to undo after each test, last first; failures are ignored (the broker may already
 * have removed what they undo). Register `run` with afterEach.
 */
export function cleanups(): { push(undo: () => Promise<unknown>): void; deleteQueueLater(name: string): void; run(): Promise<void> } {
  const undos: (() => Promise<unknown>)[] = [];
  return {
    push: (undo) => void undos.push(undo),
    deleteQueueLater(name) {
      undos.push(async () => {
        const w = await witness();
        const ch = await w.conn.createChannel();
        await ch.deleteQueue(name);
        await w.close();
      });
    },
    async run() {
      for (const undo of undos.splice(0).reverse()) await undo().catch(() => undefined);
    },
  };
}

export class Inbox {
  readonly items: Delivery[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];

  readonly push = (d: Delivery): void => {
    this.items.push(d);
    this.waiters = this.waiters.filter((w) => {
      if (this.items.length < w.count) return true;
      w.resolve();
      return false;
    });
  };

  /** resolves once `count` deliveries have arrived in total */
  waitFor(count: number, timeoutMs = 10_000): Promise<Delivery[]> {
    if (this.items.length >= count) return Promise.resolve(this.items.slice(0, count));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${count} deliveries (have ${this.items.length})`)), timeoutMs);
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.items.slice(0, count));
        },
      });
    });
  }
}

/** resolves when `emitter` emits `event` */
export function once<T extends unknown[]>(emitter: { once(event: string, l: (...a: T) => void): unknown }, event: string, timeoutMs = 20_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for '${event}'`)), timeoutMs);
    emitter.once(event, (...args: T) => {
      clearTimeout(timer);
      resolve(args);
    });
  });
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const exec = promisify(execFile);

export async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await exec('rabbitmqctl', ['-q', ...args], { timeout: 60_000 });
  return stdout;
}

/** broker-side pids of the connections whose client-given name contains `marker` */
export async function connectionPids(marker: string): Promise<string[]> {
  const out = await rabbitmqctl('list_connections', 'pid', 'client_properties');
  return out
    .split('\n')
    .filter((line) => line.includes(marker))
    .map((line) => line.split('\t')[0] ?? '')
    .filter((pid) => pid.startsWith('<'));
}

export const body = (s: string): Buffer => Buffer.from(s);

/**
 * A TCP relay between the fabric and RabbitMQ that a test can take down and bring back:
 * a broker outage that touches nobody else's connections.
 */
export class BrokerRelay {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target = new URL(amqpUrl)) {}

  get url(): string {
    const u = new URL(amqpUrl);
    u.port = String(this.port);
    return u.toString();
  }

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port || 5672), this.target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** stop accepting and cut every relayed connection, as a broker crash would */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
