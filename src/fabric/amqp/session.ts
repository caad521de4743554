// One client session's view of RabbitMQ. Pinned to one slot of its vhost's pool: its
// topology and consumers on the slot's consume connection (where its exclusive queues live),
// its publishes on one of the slot's two shared publish channels. Everything it declares is
// recorded and declared again after a reconnect; its consumers resume with the same Consumer
// objects.
//
// Publish channels and order. AMQP orders publishes per channel only; two channels of one
// connection are two broker processes, so a publish on one can overtake an earlier one on the
// other. A session therefore publishes on ONE channel at a time: the plain (non-confirm)
// channel until its first confirmed publish, the confirm channel from then on (unconfirmed
// publishes included: they resolve at once, as before). The switch happens once per session,
// behind a barrier: the confirmed publish (and everything after it) waits until the broker
// has answered a synchronous method sent on the plain channel after the session's last plain
// publish, i.e. until the broker has routed every earlier plain publish. So a session's
// publishes reach the broker in the order it made them, whatever mix of confirmed and
// unconfirmed. Sessions that never confirm (MQTT QoS 0 publishers, STOMP SENDs without
// receipt) never pay for confirms; a session that confirms once pays what every session
// paid before.

import { randomBytes } from 'node:crypto';
import type { Channel } from 'amqplib';
import { ErrorCode, GatewayError, isGatewayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type {
  ConsumeOptions,
  Consumer,
  Delivery,
  DeliveryHandler,
  ExchangeOptions,
  ExchangeType,
  FabricMessage,
  FabricSession,
  Headers,
  PublishOptions,
  QueueInfo,
  QueueOptions,
} from '../types.js';
import { AmqpConsumer } from './consumer.js';
import { applyStep, declareQueue } from './declare.js';
import { toDelivery, toPublishOptions, validateName, validatePublish } from './message.js';
import type { Slot } from './slot.js';
import type { TopologyChannel } from './topology-channel.js';
import { TopologyRecord, withQueueRenamed, type TopologyStep } from './topology-record.js';
import type { VhostPool } from './vhost-pool.js';

type GetResult = Delivery & { settle(outcome: 'ack' | 'requeue' | 'discard'): void };
type Outcome = 'ack' | 'requeue' | 'discard';

function generatedName(prefix: string): string {
  return `${prefix}${randomBytes(16).toString('base64url')}`;
}

function sessionClosed(): GatewayError {
  return new GatewayError(ErrorCode.NOT_CONNECTED, 'fabric session closed');
}

let sessionCounter = 0;

export class AmqpSession implements FabricSession {
  readonly id: string;
  private slot: Slot | null = null;
  /** the topology channel of the slot this session uses */
  private lane: TopologyChannel | null = null;
  private readonly attached: Promise<Slot>;
  private readonly record = new TopologyRecord();
  private readonly consumers = new Set<AmqpConsumer>();
  private readonly unsettledGets = new Set<(outcome: Outcome) => void>();
  private readonly writableListeners = new Set<() => void>();
  private stopWatchingWritable: (() => void) | null = null;
  /** set from the moment the slot reconnects until this session's topology is declared again */
  private pendingReplay: { promise: Promise<void>; resolve: () => void; generation: number } | null = null;
  private closing: Promise<void> | null = null;
  /** settles once the last publish that had to wait (exchange check, attach) has been sent */
  private publishGate: Promise<void> | null = null;
  /** set by the first confirmed publish: from then on every publish goes on the confirm channel */
  private confirmMode = false;
  /** some publish went on the plain channel (a switch to the confirm channel needs a barrier) */
  private publishedPlain = false;

  constructor(
    readonly vhost: string,
    readonly label: string | undefined,
    private readonly pool: VhostPool,
    private readonly log: Logger,
  ) {
    this.id = `amqp-${++sessionCounter}`;
    if (pool.opened) {
      this.attached = Promise.resolve(this.attach(pool.pickSlot()));
    } else {
      this.attached = pool.ready.then(() => this.attach(pool.pickSlot()));
      this.attached.catch(() => undefined);
    }
  }

  get writable(): boolean {
    const publisher = this.slot?.publisher;
    if (this.closing !== null || publisher === undefined) return false;
    return this.confirmMode ? publisher.writable : publisher.plainWritable;
  }

  onWritable(listener: () => void): () => void {
    this.writableListeners.add(listener);
    return () => this.writableListeners.delete(listener);
  }

  // ---- publishing ------------------------------------------------------------------------

  publish(exchange: string, routingKey: string, message: FabricMessage, opts: PublishOptions = {}): Promise<void> {
    if (this.closing) return Promise.reject(sessionClosed());
    const invalid = validatePublish(exchange, routingKey, message, this.pool.brokerUser);
    if (invalid) return Promise.reject(invalid);
    const options = toPublishOptions(message.properties, opts.mandatory ?? false);
    const confirm = opts.confirm ?? false;
    let barrier = false;
    if (confirm && !this.confirmMode) {
      this.confirmMode = true;
      barrier = this.publishedPlain;
    }
    const plain = !this.confirmMode;
    if (plain) this.publishedPlain = true;
    const body = message.body;
    const send = plain
      ? (slot: Slot) => slot.publisher.publishPlain(exchange, routingKey, body, options)
      : (slot: Slot) => slot.publisher.publish(exchange, routingKey, body, options, confirm);
    const slot = this.slot;
    if (slot && this.publishGate === null && !barrier) {
      const check = this.exchangeCheck(slot, exchange);
      if (check === undefined) return send(slot);
      return this.afterGate(check, () => send(slot));
    }
    // the barrier goes on the plain channel after every earlier publish of this session was sent
    const prior = this.publishGate ?? Promise.resolve();
    const ready = this.attached.then((s): Promise<unknown> | undefined =>
      barrier ? Promise.all([this.exchangeCheck(s, exchange), prior.then(() => s.publisher.plainBarrier())]) : this.exchangeCheck(s, exchange),
    );
    return this.afterGate(ready, () => send(this.slot as Slot));
  }

  /** a passive check before the first publish to an exchange not known to exist (see ExchangeCache) */
  private exchangeCheck(slot: Slot, exchange: string): Promise<void> | undefined {
    return this.pool.exchanges.ensure(exchange, () => this.laneOf(slot).run((ch) => ch.checkExchange(exchange)).then(() => undefined));
  }

  /**
   * Send after `before` settles and after every earlier waiting publish of this session was
   * sent, so a session's publishes reach the broker in the order they were made.
   */
  private afterGate(before: Promise<unknown>, send: () => Promise<void>): Promise<void> {
    const prior = this.publishGate ?? Promise.resolve();
    let confirmed: Promise<void> = Promise.resolve();
    const sent = Promise.all([prior, before]).then(() => {
      confirmed = send();
    });
    const gate = sent.then(
      () => undefined,
      () => undefined,
    );
    this.publishGate = gate;
    void gate.then(() => {
      if (this.publishGate === gate) this.publishGate = null;
    });
    return sent.then(() => confirmed);
  }

  // ---- exchanges -------------------------------------------------------------------------

  async declareExchange(name: string, type: ExchangeType, opts: ExchangeOptions = {}): Promise<void> {
    validateName('exchange', name);
    const step: TopologyStep = { kind: 'exchange', name, type, opts };
    await this.topology((ch) => applyStep(ch, step));
    this.record.add(step);
    this.pool.exchanges.remember(name);
  }

  async checkExchange(name: string): Promise<void> {
    if (name === '') return;
    validateName('exchange', name);
    await this.topology((ch) => ch.checkExchange(name));
    this.pool.exchanges.remember(name);
  }

  async deleteExchange(name: string, opts: { ifUnused?: boolean } = {}): Promise<void> {
    validateName('exchange', name);
    this.pool.exchanges.forget(name);
    await this.topology((ch) => ch.deleteExchange(name, { ifUnused: opts.ifUnused ?? false }));
    this.record.forgetExchange(name);
  }

  async bindExchange(destination: string, source: string, routingKey: string, args?: Headers): Promise<void> {
    const step: TopologyStep = { kind: 'exchangeBinding', destination, source, routingKey, args };
    await this.topology((ch) => applyStep(ch, step));
    this.record.add(step);
  }

  async unbindExchange(destination: string, source: string, routingKey: string, args?: Headers): Promise<void> {
    await this.topology((ch) => ch.unbindExchange(destination, source, routingKey, args));
    this.record.remove({ kind: 'exchangeBinding', destination, source, routingKey, args });
  }

  // ---- queues ----------------------------------------------------------------------------

  async declareQueue(name: string, opts: QueueOptions = {}): Promise<QueueInfo> {
    validateName('queue', name);
    if (name !== '') this.pool.assertNotLocked(name, this);
    const ok = await this.topology((ch) => declareQueue(ch, name, opts));
    if (opts.exclusive) this.pool.claimExclusive(ok.queue, this);
    this.record.add({ kind: 'queue', name: ok.queue, opts, serverNamed: name === '' });
    return { queue: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount };
  }

  /**
   * Declare `name` and, only if that succeeds, delete the queues `thenDelete`: the deletes are
   * queued on this session's lane right behind the declare (amqplib sends each as soon as the
   * previous reply arrives) instead of going to the back of the lane's queue once the declare's
   * answer has been handled, which saves a CONNECT a wait in the lane per delete. Safe because
   * AMQP runs a channel's methods in order, and a refused declare closes the channel before the
   * broker reads the deletes (amqplib then fails them unsent); a delete that has to be retried
   * on a fresh channel (its channel closed under it) first waits for the declare's outcome.
   * Settles as declareQueue does; `deleted` answers each delete in order, or rejects when the
   * declare failed.
   */
  async declareQueueThenDelete(name: string, opts: QueueOptions, thenDelete: readonly string[]): Promise<QueueInfo & { deleted: Promise<{ messageCount: number }[]> }> {
    validateName('queue', name);
    for (const q of thenDelete) validateName('queue', q);
    if (name === '') throw new GatewayError(ErrorCode.PRECONDITION_FAILED, 'declareQueueThenDelete needs a queue name');
    this.pool.assertNotLocked(name, this);
    for (const q of thenDelete) this.pool.assertNotLocked(q, this);
    const slot = await this.ready();
    const lane = this.laneOf(slot);
    // both run() calls in this tick: their ops reach the channel in this order
    const declared = lane.run((ch) => declareQueue(ch, name, opts));
    const held = declared.then(
      () => true,
      () => false,
    );
    const deletes = thenDelete.map((q) => {
      let attempt = 0;
      return lane
        .run(async (ch) => {
          if (attempt++ > 0 && !(await held)) throw new GatewayError(ErrorCode.PRECONDITION_FAILED, undefined, { detail: `not deleting '${q}': the declare of '${name}' failed` });
          return ch.deleteQueue(q, { ifUnused: false, ifEmpty: false });
        })
        .then((ok) => {
          this.record.forgetQueue(q);
          this.pool.releaseExclusive(q, this);
          return { messageCount: ok.messageCount };
        });
    });
    const deleted = Promise.all(deletes);
    deleted.catch(() => undefined); // the caller may never look when the declare failed
    const ok = await declared;
    if (opts.exclusive) this.pool.claimExclusive(ok.queue, this);
    this.record.add({ kind: 'queue', name: ok.queue, opts, serverNamed: false });
    return { queue: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount, deleted };
  }

  async checkQueue(name: string): Promise<QueueInfo> {
    validateName('queue', name);
    this.pool.assertNotLocked(name, this);
    const ok = await this.topology((ch) => ch.checkQueue(name));
    return { queue: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount };
  }

  async deleteQueue(name: string, opts: { ifUnused?: boolean; ifEmpty?: boolean } = {}): Promise<{ messageCount: number }> {
    validateName('queue', name);
    this.pool.assertNotLocked(name, this);
    const ok = await this.topology((ch) => ch.deleteQueue(name, { ifUnused: opts.ifUnused ?? false, ifEmpty: opts.ifEmpty ?? false }));
    this.record.forgetQueue(name);
    this.pool.releaseExclusive(name, this);
    return { messageCount: ok.messageCount };
  }

  async purgeQueue(name: string): Promise<{ messageCount: number }> {
    validateName('queue', name);
    this.pool.assertNotLocked(name, this);
    const ok = await this.topology((ch) => ch.purgeQueue(name));
    return { messageCount: ok.messageCount };
  }

  async bindQueue(queue: string, exchange: string, routingKey: string, args?: Headers): Promise<void> {
    this.pool.assertNotLocked(queue, this);
    const step: TopologyStep = { kind: 'queueBinding', queue, exchange, routingKey, args };
    await this.topology((ch) => applyStep(ch, step));
    this.record.add(step);
  }

  async unbindQueue(queue: string, exchange: string, routingKey: string, args?: Headers): Promise<void> {
    this.pool.assertNotLocked(queue, this);
    await this.topology((ch) => ch.unbindQueue(queue, exchange, routingKey, args));
    this.record.remove({ kind: 'queueBinding', queue, exchange, routingKey, args });
  }

  // ---- consuming -------------------------------------------------------------------------

  async consume(queue: string, opts: ConsumeOptions, onDelivery: DeliveryHandler): Promise<Consumer> {
    this.pool.assertNotLocked(queue, this);
    const slot = await this.ready();
    // A consume on a missing or locked queue would close a shared consumer channel: find out
    // on the topology channel first, unless this session declared the queue itself.
    if (this.record.queue(queue) === undefined) await this.laneOf(slot).run((ch) => ch.checkQueue(queue));
    const tag = opts.consumerTag ?? generatedName('amq.ctag-');
    if ([...this.consumers].some((c) => c.tag === tag)) {
      throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `consumer tag '${tag}' already in use on this session`);
    }
    const onSharedQueue = this.record.queue(queue)?.exclusive !== true;
    const consumer = new AmqpConsumer(tag, queue, opts, onSharedQueue, onDelivery, {
      log: this.log,
      release: (c, channel) => {
        this.consumers.delete(c);
        slot.consumerPool(c.onSharedQueue).release(c, channel);
      },
      restoreQueue: (q) => this.restoreQueue(slot, q),
    });
    this.consumers.add(consumer);
    try {
      await slot.consumerPool(onSharedQueue).attach(consumer);
    } catch (err) {
      this.consumers.delete(consumer);
      throw err;
    }
    consumer.startDelivering();
    return consumer;
  }

  async get(queue: string, opts: { noAck?: boolean } = {}): Promise<GetResult | null> {
    this.pool.assertNotLocked(queue, this);
    const slot = await this.ready();
    const noAck = opts.noAck ?? false;
    let channel: Channel | undefined;
    const msg = await this.laneOf(slot).run((ch) => {
      channel = ch;
      return ch.get(queue, { noAck });
    });
    if (msg === false) return null;
    let settled = noAck;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      this.unsettledGets.delete(settle);
      // basic.get deliveries belong to the channel that fetched them; if it has closed since,
      // the broker has requeued the message already
      if (!channel || !this.laneOf(slot).isCurrent(channel)) return;
      try {
        if (outcome === 'ack') channel.ack(msg);
        else channel.nack(msg, false, outcome === 'requeue');
      } catch {
        // closed in between: requeued by the broker
      }
    };
    if (!noAck) this.unsettledGets.add(settle);
    return Object.assign(toDelivery(msg, msg.fields.deliveryTag, ''), { settle });
  }

  // ---- lifecycle -------------------------------------------------------------------------

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** the fabric is closing its connections: forget everything without broker round trips */
  abandon(): void {
    this.closing ??= Promise.resolve();
    this.detach();
  }

  /** the slot reconnected: hold this session's topology calls until replay() has run */
  expectReplay(generation: number): void {
    if (this.pendingReplay) {
      this.pendingReplay.generation = generation;
      return;
    }
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.pendingReplay = { promise, resolve, generation };
  }

  /** release held calls after replay `generation` (a later reconnect keeps holding them) */
  replayFinished(generation: number): void {
    const pending = this.pendingReplay;
    if (!pending || pending.generation !== generation) return;
    this.pendingReplay = null;
    pending.resolve();
  }

  /** declare the recorded topology again and resume consumers (after a reconnect) */
  async replay(slot: Slot, generation: number, isCurrent: () => boolean): Promise<void> {
    try {
      if (!this.closing && slot === this.slot) await this.redeclare(slot, isCurrent);
    } finally {
      this.replayFinished(generation);
    }
  }

  private async redeclare(slot: Slot, isCurrent: () => boolean): Promise<void> {
    const renames = new Map<string, string>();
    for (const recorded of this.record.all()) {
      if (!isCurrent() || this.closing) return;
      let step = recorded;
      for (const [from, to] of renames) step = withQueueRenamed(step, from, to);
      try {
        if (step.kind === 'queue' && step.serverNamed) {
          // RabbitMQ refuses "amq.*" names from clients: ask for a new name, as RabbitMQ's own
          // clients do when they recover a server-named queue
          const opts = step.opts;
          const ok = await this.laneOf(slot).run((ch) => declareQueue(ch, '', opts));
          if (ok.queue !== step.name) renames.set(step.name, ok.queue);
        } else {
          const current = step;
          await this.laneOf(slot).run((ch) => applyStep(ch, current));
        }
      } catch (err) {
        if (isGatewayError(err, ErrorCode.BACKEND_UNAVAILABLE)) return;
        this.log.warn({ session: this.id, step, err: String(err) }, 'could not declare again after a reconnect');
      }
    }
    for (const [from, to] of renames) this.renameQueue(from, to);
    for (const consumer of this.consumers) {
      if (!isCurrent() || this.closing) return;
      if (consumer.cancelled || consumer.channel !== null) continue;
      try {
        await slot.consumerPool(consumer.onSharedQueue).attach(consumer);
      } catch (err) {
        if (isGatewayError(err, ErrorCode.BACKEND_UNAVAILABLE)) return;
        this.log.warn({ session: this.id, consumer: consumer.tag, queue: consumer.queue, err: String(err) }, 'could not resume a consumer after a reconnect');
      }
    }
  }

  /** declare `queue` and its bindings again from the record (not possible for server-named ones) */
  private async restoreQueue(slot: Slot, queue: string): Promise<boolean> {
    const steps = this.record.all().filter((s) => (s.kind === 'queue' && s.name === queue && !s.serverNamed) || (s.kind === 'queueBinding' && s.queue === queue));
    if (steps[0]?.kind !== 'queue' || this.closing) return false;
    this.log.warn({ session: this.id, queue }, 'declaring a queue again after a consumer channel error deleted it');
    for (const step of steps) await this.laneOf(slot).run((ch) => applyStep(ch, step));
    return true;
  }

  private renameQueue(from: string, to: string): void {
    this.log.warn({ session: this.id, from, to }, 'server-named queue declared again under a new name after a reconnect');
    this.record.renameQueue(from, to);
    this.pool.renameExclusive(from, to, this);
    for (const consumer of this.consumers) if (consumer.queue === from) consumer.queue = to;
  }

  private attach(slot: Slot): Slot {
    this.slot = slot;
    this.lane = slot.assignLane();
    slot.sessions.add(this);
    this.stopWatchingWritable = slot.publisher.onWritable(() => this.notifyWritable());
    return slot;
  }

  private detach(): void {
    this.stopWatchingWritable?.();
    this.stopWatchingWritable = null;
    this.writableListeners.clear();
    this.slot?.sessions.delete(this);
  }

  private notifyWritable(): void {
    for (const listener of [...this.writableListeners]) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err, session: this.id }, 'onWritable listener threw');
      }
    }
  }

  private async shutdown(): Promise<void> {
    const slot = await this.attached.catch(() => null);
    await Promise.all([...this.consumers].map((c) => c.cancel().catch(() => undefined)));
    for (const settle of [...this.unsettledGets]) settle('requeue');
    if (slot?.sub.isUp) {
      const owned = this.record.queues().filter((q) => q.opts.exclusive || q.opts.autoDelete);
      await Promise.all(owned.map((q) => this.laneOf(slot).run((ch) => ch.deleteQueue(q.name)).catch(() => undefined)));
    }
    for (const q of this.record.queues()) this.pool.releaseExclusive(q.name, this);
    this.record.clear();
    this.detach();
  }

  /** the session's slot, once attached and done redeclaring after a reconnect */
  private async ready(): Promise<Slot> {
    if (this.closing) throw sessionClosed();
    const slot = this.slot ?? (await this.attached);
    if (this.pendingReplay) await this.pendingReplay.promise;
    return slot;
  }

  private async topology<T>(op: (ch: Channel) => Promise<T>): Promise<T> {
    const slot = await this.ready();
    return this.laneOf(slot).run(op);
  }

  private laneOf(slot: Slot): TopologyChannel {
    return this.lane ?? (slot.topology[0] as TopologyChannel);
  }
}
