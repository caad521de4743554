// Retained messages, per vhost, kept through the broker (no second database) and shared by
// every Tributary process on one RabbitMQ.
//
//   retained PUBLISH ──► fanout exchange `tributary.retained` (mqtt.retainedExchange)
//                          ├─► durable queue `tributary.mqtt.retained`   the log (what survives restarts)
//                          └─► one feed queue per process                keeps each process's index current
//
// Every process holds an in-memory index (topic → latest message), bounded in count and bytes,
// and answers SUBSCRIBE from it (wildcard filters included). A process builds its index at start
// by reading the whole log; while it holds the log's messages (unacknowledged) it also compacts
// it: the newest message per topic goes back, superseded ones and deletions are acked away.
// Reading and compacting happen under a lock (an exclusive consumer on
// `tributary.mqtt.retained.lock`) so two processes never split the log between them. A process
// compacts again once the log holds more than twice its index (plus slack).
//
// Which message is newest is decided by a stamp (publish time in ms, process id, sequence), so
// every process converges on the same index whatever order the feed delivers concurrent
// updates in. An empty payload deletes the topic's retained message [MQTT-3.3.1-6].

import type { Consumer, Delivery, Fabric, FabricSession, Headers } from '../../fabric/types.js';
import type { Logger } from '../../log.js';
import { acquireExclusive } from './exclusive.js';
import { RETAINED_LOCK_QUEUE, RETAINED_STORE_QUEUE, retainedFeedQueueName } from './names.js';
import { fromFabricMessage, toFabricMessage, type MqttMessage, type QoS } from './properties.js';
import { topicMatches } from './topic.js';

const H_TOPIC = 'x-mqtt-retained-topic';
const H_STAMP = 'x-mqtt-retained-stamp';
const COMPACT_SLACK = 1_000;

export interface RetainedLimits {
  maxMessages: number;
  maxBytes: number;
}

export interface RetainedMessage extends MqttMessage {
  /** when it was stored (ms), for the remaining Message Expiry Interval */
  storedAt: number;
  /** absolute expiry (ms), when it has a Message Expiry Interval */
  expiresAt?: number;
  stamp: string;
}

export type RetainOutcome = 'stored' | 'cleared' | 'refused';

export class RetainedStore {
  private readonly index = new Map<string, RetainedMessage>();
  private bytes = 0;
  private session: FabricSession | undefined;
  private feed: Consumer | undefined;
  private seq = 0;
  private logLength = 0;
  private compacting: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly fabric: Fabric,
    readonly vhost: string,
    private readonly nodeId: string,
    private readonly exchange: string,
    private readonly limits: RetainedLimits,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.index.size;
  }

  /** declare the topology, start the feed, read (and compact) the log; idempotent */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const s = this.fabric.openSession({ vhost: this.vhost, label: 'mqtt-retained' });
    this.session = s;
    await s.declareExchange(this.exchange, 'fanout', { durable: true });
    await s.declareQueue(RETAINED_STORE_QUEUE, { durable: true });
    await s.bindQueue(RETAINED_STORE_QUEUE, this.exchange, '');
    const feed = retainedFeedQueueName(this.nodeId);
    await s.declareQueue(feed, { exclusive: true, autoDelete: true });
    await s.bindQueue(feed, this.exchange, '');
    this.feed = await s.consume(feed, { prefetch: 256 }, (d) => this.onFeed(d));
    await this.compact();
  }

  /** Store (or, with an empty payload, clear) the retained message of `msg.topic`. */
  async retain(msg: MqttMessage, publisherClientId?: string): Promise<RetainOutcome> {
    await this.start();
    const s = this.requireSession();
    const clearing = msg.payload.length === 0;
    if (!clearing && !this.index.has(msg.topic) && !this.fits(msg.payload.length)) return 'refused';
    const stamp = this.nextStamp();
    const message = toFabricMessage({ ...msg, retain: true }, publisherClientId === undefined ? {} : { clientId: publisherClientId });
    const headers = message.properties.headers as Headers;
    headers[H_TOPIC] = msg.topic;
    headers[H_STAMP] = stamp;
    message.properties.deliveryMode = 2;
    this.apply(msg.topic, stamp, message.body, message.properties, Date.now());
    await s.publish(this.exchange, '', message, { confirm: true });
    return clearing ? 'cleared' : 'stored';
  }

  /** retained messages whose topic matches `filter` (expired ones dropped on the way) */
  match(filter: string, now: number = Date.now()): RetainedMessage[] {
    const out: RetainedMessage[] = [];
    for (const [topic, m] of this.index) {
      if (m.expiresAt !== undefined && m.expiresAt <= now) {
        this.remove(topic);
        continue;
      }
      if (topicMatches(filter, topic)) out.push(m);
    }
    return out;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.starting?.catch(() => undefined);
    await this.compacting?.catch(() => undefined);
    await this.feed?.cancel().catch(() => undefined);
    await this.session?.close().catch(() => undefined);
  }

  private onFeed(d: Delivery): void {
    this.feed?.ack(d);
    const topic = d.properties.headers?.[H_TOPIC];
    const stamp = d.properties.headers?.[H_STAMP];
    if (typeof topic !== 'string' || typeof stamp !== 'string') return;
    this.apply(topic, stamp, d.body, d.properties, Date.now());
    this.logLength++;
    if (this.logLength > 2 * this.index.size + COMPACT_SLACK && this.compacting === undefined) {
      this.compacting = this.compact().finally(() => (this.compacting = undefined));
    }
  }

  /** newest stamp wins; an empty body deletes */
  private apply(topic: string, stamp: string, body: Buffer, properties: Delivery['properties'], now: number): void {
    const current = this.index.get(topic);
    if (current !== undefined && compareStamps(current.stamp, stamp) >= 0) return;
    if (body.length === 0) {
      this.remove(topic);
      return;
    }
    if (current === undefined && !this.fits(body.length)) {
      this.log.warn({ vhost: this.vhost, topic, limit: this.limits }, 'retained message not kept: store full');
      return;
    }
    const mapped = fromFabricMessage({ body, properties }, now);
    const storedAt = stampTime(stamp);
    const message: RetainedMessage = { topic, qos: mapped.qos, retain: true, payload: Buffer.from(body), properties: mapped.properties, storedAt, stamp };
    const ttl = properties.expiration === undefined ? undefined : Number(properties.expiration);
    if (ttl !== undefined && Number.isFinite(ttl)) message.expiresAt = storedAt + ttl;
    delete message.properties?.messageExpiryInterval;
    if (current !== undefined) this.bytes -= current.payload.length;
    this.index.set(topic, message);
    this.bytes += message.payload.length;
  }

  private remove(topic: string): void {
    const m = this.index.get(topic);
    if (m === undefined) return;
    this.bytes -= m.payload.length;
    this.index.delete(topic);
  }

  private fits(payloadBytes: number): boolean {
    return this.index.size < this.limits.maxMessages && this.bytes + payloadBytes <= this.limits.maxBytes;
  }

  /** read the whole log under the lock; keep the newest live message per topic, drop the rest */
  private async compact(): Promise<void> {
    if (this.closed) return;
    const s = this.requireSession();
    const lock = await acquireExclusive(s, RETAINED_LOCK_QUEUE, { deadlineMs: 10_000, cancelled: () => this.closed }).catch((err: unknown) => {
      this.log.warn({ err, vhost: this.vhost }, 'retained store: lock not obtained; reading without it');
      return undefined;
    });
    try {
      await this.readAndCompact(s);
    } finally {
      await lock?.cancel().catch(() => undefined);
    }
  }

  private async readAndCompact(s: FabricSession): Promise<void> {
    type Got = NonNullable<Awaited<ReturnType<FabricSession['get']>>>;
    const held: Got[] = [];
    const newest = new Map<string, Got>();
    try {
      for (let d = await s.get(RETAINED_STORE_QUEUE); d !== null; d = await s.get(RETAINED_STORE_QUEUE)) {
        held.push(d);
        const topic = d.properties.headers?.[H_TOPIC];
        const stamp = d.properties.headers?.[H_STAMP];
        if (typeof topic !== 'string' || typeof stamp !== 'string') continue;
        this.apply(topic, stamp, d.body, d.properties, Date.now());
        const best = newest.get(topic);
        if (best === undefined || compareStamps(String(best.properties.headers?.[H_STAMP]), stamp) < 0) newest.set(topic, d);
      }
    } finally {
      const keep = new Set([...newest.values()].filter((d) => d.body.length > 0));
      for (const d of held) d.settle(keep.has(d) ? 'requeue' : 'ack');
      this.logLength = keep.size;
    }
  }

  private nextStamp(): string {
    return `${String(Date.now()).padStart(15, '0')}.${this.nodeId}.${String(++this.seq).padStart(12, '0')}`;
  }

  private requireSession(): FabricSession {
    if (this.session === undefined) throw new Error('retained store not started');
    return this.session;
  }
}

/** stamps compare as (time, node, sequence): fixed-width fields make that a string order */
function compareStamps(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function stampTime(stamp: string): number {
  return Number(stamp.slice(0, stamp.indexOf('.')));
}

export type { QoS };
