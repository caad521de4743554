// What a persistent session remembers besides its messages: its subscriptions (filter, QoS,
// MQTT 5 options). It is kept in the broker, not in a second database: one message in the
// durable queue `tributary.mqtt.session.<clientid>` (x-max-length 1, x-expires = session
// expiry). While the client is connected a consumer holds that message unacknowledged, so the
// queue cannot expire under a connected client; a change publishes the new state (drop-head
// keeps one ready message) and acks the one held. When the connection goes the held message
// returns to the queue and the expiry clock starts, as it does for the subscription queue.

import { ErrorCode, isGatewayError } from '../../errors.js';
import type { Consumer, Delivery, FabricSession } from '../../fabric/types.js';
import type { QoS } from './properties.js';
import { sessionStateQueueName } from './names.js';

export interface StoredSubscription {
  /** as the client sent it, `$share/<group>/` included */
  filter: string;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  identifier?: number;
}

interface StoredState {
  v: 1;
  /** orders states when a crash left two in the queue */
  seq: number;
  subscriptions: StoredSubscription[];
}

const FIRST_STATE_TIMEOUT_MS = 5_000;

export class SessionStateStore {
  private consumer: Consumer | undefined;
  private held: { delivery: Delivery; state: StoredState } | undefined;
  private declared = false;
  private seq = 0;
  private firstState: ((s: StoredState | undefined) => void) | undefined;
  /** deliveries to see before open() answers (a crash may have left two states) */
  private awaiting = 0;
  private readonly unacked: Delivery[] = [];

  constructor(
    private readonly fabric: Pick<FabricSession, 'checkQueue' | 'declareQueue' | 'deleteQueue' | 'consume' | 'publish'>,
    readonly clientId: string,
    private readonly expiryMs: number,
  ) {}

  get queue(): string {
    return sessionStateQueueName(this.clientId);
  }

  /**
   * The stored session, or undefined when there is none. Keeps holding it while connected.
   * `persistent`: the new connection's session outlives it, so the queue is declared (a queue
   * that exists answers with its one state message, a new one is empty) instead of a passive
   * check whose 404 costs RabbitMQ a channel.
   */
  async open(persistent: boolean): Promise<StoredSubscription[] | undefined> {
    const messageCount = persistent ? await this.declareOrKeep() : await this.existingCount();
    if (messageCount === undefined || (persistent && messageCount === 0)) return undefined;
    this.declared = true;
    this.awaiting = messageCount;
    const first = messageCount > 0 ? new Promise<StoredState | undefined>((resolve) => (this.firstState = resolve)) : undefined;
    await this.startConsuming();
    if (first === undefined) return [];
    const timer = setTimeout(() => this.firstState?.(undefined), FIRST_STATE_TIMEOUT_MS);
    const state = await first;
    clearTimeout(timer);
    return state?.subscriptions ?? [];
  }

  /** declare the state queue; one declared before with another expiry is kept as it is */
  private async declareOrKeep(): Promise<number> {
    try {
      const { messageCount } = await this.fabric.declareQueue(this.queue, this.queueOptions());
      this.declared = true;
      return messageCount;
    } catch (err) {
      if (!isGatewayError(err, ErrorCode.PRECONDITION_FAILED)) throw err;
      this.declared = true;
      return (await this.fabric.checkQueue(this.queue)).messageCount;
    }
  }

  private async existingCount(): Promise<number | undefined> {
    try {
      return (await this.fabric.checkQueue(this.queue)).messageCount;
    } catch (err) {
      if (isGatewayError(err, ErrorCode.NOT_FOUND)) return undefined;
      throw err;
    }
  }

  private queueOptions() {
    return { durable: true, arguments: { 'x-max-length': 1, 'x-expires': this.expiryMs } };
  }

  /**
   * Clean Start: delete a stored session of this client id, if any. Answers whether there was
   * one (its queue held the state message). No passive check: delete is idempotent.
   */
  async discardIfPresent(): Promise<boolean> {
    const { messageCount } = await this.fabric.deleteQueue(this.queue);
    return messageCount > 0;
  }

  /** Replace the stored subscriptions; resolves once the broker has the new state. */
  async save(subscriptions: StoredSubscription[]): Promise<void> {
    if (!this.declared) await this.declareOrKeep();
    if (this.consumer === undefined) await this.startConsuming();
    this.seq = Math.max(this.seq, this.held?.state.seq ?? 0) + 1;
    const state: StoredState = { v: 1, seq: this.seq, subscriptions };
    await this.fabric.publish(
      '',
      this.queue,
      { body: Buffer.from(JSON.stringify(state)), properties: { contentType: 'application/json', deliveryMode: 2 } },
      { confirm: true },
    );
  }

  /** delete the stored state (clean start, or the session ended with expiry 0) */
  async discard(): Promise<void> {
    await this.close();
    await this.fabric.deleteQueue(this.queue);
    this.declared = false;
  }

  /** stop holding: the state goes back to the queue and its expiry starts */
  async close(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    this.held = undefined;
    await c?.cancel().catch(() => undefined);
  }

  private async startConsuming(): Promise<void> {
    this.consumer = await this.fabric.consume(this.queue, { prefetch: 4 }, (d) => this.onState(d));
    for (const d of this.unacked.splice(0)) this.consumer.ack(d);
  }

  /** a delivery can arrive before consume() has returned the consumer */
  private ack(d: Delivery): void {
    if (this.consumer === undefined) this.unacked.push(d);
    else this.consumer.ack(d);
  }

  /** keep the newest state held, ack any older one */
  private onState(d: Delivery): void {
    const state = parseState(d.body);
    if (state === undefined) {
      this.ack(d);
    } else if (this.held !== undefined && this.held.state.seq > state.seq) {
      this.ack(d);
    } else {
      if (this.held !== undefined) this.ack(this.held.delivery);
      this.held = { delivery: d, state };
      this.seq = Math.max(this.seq, state.seq);
    }
    if (--this.awaiting > 0) return;
    const resolve = this.firstState;
    this.firstState = undefined;
    resolve?.(this.held?.state);
  }
}

function parseState(body: Buffer): StoredState | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as StoredState;
    if (v?.v !== 1 || !Array.isArray(v.subscriptions) || typeof v.seq !== 'number') return undefined;
    return v;
  } catch {
    return undefined;
  }
}
