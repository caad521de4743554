// One virtual host: its exchanges, queues and bindings, routing (including exchange-to-exchange
// bindings and alternate exchanges) and dead-lettering. Sessions call in with their id, which
// is what exclusive queues are owned by.
import { ErrorCode, GatewayError } from '../../errors.js';
import type { ExchangeOptions, ExchangeType, FabricMessage, Headers, QueueInfo, QueueOptions } from '../types.js';
import { completesCycle, deadLetterProperties } from './dead-letter.js';
import { Exchange, exchangeShape, type ExchangeShape } from './exchange.js';
import { sameValue } from './header-values.js';
import type { DeathReason, QueuedMessage, RoutedMessage } from './message.js';
import { generatedQueueName } from './names.js';
import { argsEquivalent, parseExpiration, parseQueueArgs } from './queue-args.js';
import { Queue, type QueueHost } from './queue.js';

const PREDECLARED: [string, ExchangeType][] = [
  ['amq.direct', 'direct'],
  ['amq.topic', 'topic'],
  ['amq.fanout', 'fanout'],
  ['amq.headers', 'headers'],
  ['amq.match', 'headers'],
];

const queueKey = (name: string): string => `q:${name}`;
const exchangeKey = (name: string): string => `e:${name}`;

export interface PublishOutcome {
  /** how many queues took the message */
  routed: number;
  /** a queue refused it (x-overflow reject-publish): a confirm is a nack */
  rejected: boolean;
}

export class VHost implements QueueHost {
  private readonly exchanges = new Map<string, Exchange>();
  private readonly queues = new Map<string, Queue>();
  /** destination key → names of exchanges with a binding to it */
  private readonly inbound = new Map<string, Set<string>>();
  /** session id → its exclusive queues */
  private readonly exclusiveByOwner = new Map<string, Set<Queue>>();

  constructor(readonly name: string) {
    for (const [x, type] of PREDECLARED) this.exchanges.set(x, new Exchange(x, exchangeShape(type, { durable: true })));
  }

  // ---- exchanges -------------------------------------------------------------------------

  declareExchange(name: string, type: ExchangeType, opts: ExchangeOptions = {}): void {
    if (name === '') throw accessRefused('operation not permitted on the default exchange');
    const wanted = exchangeShape(type, opts);
    const existing = this.exchanges.get(name);
    if (existing === undefined) {
      if (name.startsWith('amq.')) throw accessRefused(`exchange name '${name}' contains reserved prefix 'amq.*'`);
      this.exchanges.set(name, new Exchange(name, wanted));
      return;
    }
    const diff = exchangeDifference(existing.shape, wanted);
    if (diff !== undefined) {
      throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `inequivalent arg '${diff}' for exchange '${name}' in vhost '${this.name}'`);
    }
  }

  checkExchange(name: string): void {
    if (name !== '') this.exchange(name);
  }

  deleteExchange(name: string, ifUnused: boolean): void {
    if (name === '' || name.startsWith('amq.')) throw accessRefused(`operation not permitted on exchange '${name}'`);
    const x = this.exchanges.get(name);
    if (x === undefined) return;
    if (ifUnused && x.bindingCount > 0) {
      throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `exchange '${name}' in vhost '${this.name}' in use`);
    }
    this.removeExchange(x);
  }

  private removeExchange(x: Exchange): void {
    this.exchanges.delete(x.name);
    for (const dest of x.destinations()) this.inbound.get(dest)?.delete(x.name);
    this.dropInbound(exchangeKey(x.name));
  }

  // ---- queues ----------------------------------------------------------------------------

  declareQueue(owner: string, requested: string, opts: QueueOptions = {}): QueueInfo {
    const name = requested === '' ? generatedQueueName() : requested;
    const args: Headers = opts.arguments ?? {};
    const existing = this.queues.get(name);
    if (existing !== undefined) {
      this.assertQueueEquivalent(existing, owner, opts, args);
      existing.touch();
      return info(existing);
    }
    if (requested.startsWith('amq.')) throw accessRefused(`queue name '${requested}' contains reserved prefix 'amq.*'`);
    const policy = parseQueueArgs(name, args);
    const shape = {
      durable: opts.durable ?? false,
      autoDelete: opts.autoDelete ?? false,
      exclusiveOwner: opts.exclusive === true ? owner : null,
      arguments: args,
    };
    const q = new Queue(name, shape, policy, this);
    this.queues.set(name, q);
    if (shape.exclusiveOwner !== null) {
      let owned = this.exclusiveByOwner.get(owner);
      if (owned === undefined) this.exclusiveByOwner.set(owner, (owned = new Set()));
      owned.add(q);
    }
    return info(q);
  }

  private assertQueueEquivalent(q: Queue, owner: string, opts: QueueOptions, args: Headers): void {
    const fail = (what: string): never => {
      throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `inequivalent arg '${what}' for queue '${q.name}' in vhost '${this.name}'`);
    };
    if (q.shape.durable !== (opts.durable ?? false)) fail('durable');
    if (q.shape.autoDelete !== (opts.autoDelete ?? false)) fail('auto_delete');
    const wantOwner = opts.exclusive === true ? owner : null;
    if (q.shape.exclusiveOwner !== wantOwner) throw this.locked(q);
    const diff = argsEquivalent(q.shape.arguments, args);
    if (diff !== undefined) fail(diff);
  }

  checkQueue(owner: string, name: string): QueueInfo {
    const q = this.queue(owner, name);
    q.touch(); // a passive declare counts as use for x-expires, as in RabbitMQ
    return info(q);
  }

  deleteQueue(owner: string, name: string, opts: { ifUnused?: boolean; ifEmpty?: boolean } = {}): number {
    const q = this.queues.get(name);
    if (q === undefined) return 0;
    this.assertAccess(q, owner);
    if (opts.ifUnused === true && q.consumerCount > 0) {
      throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `queue '${name}' in vhost '${this.name}' in use`);
    }
    if (opts.ifEmpty === true && q.messageCount > 0) {
      throw new GatewayError(ErrorCode.PRECONDITION_FAILED, `queue '${name}' in vhost '${this.name}' not empty`);
    }
    return this.removeQueue(q);
  }

  purgeQueue(owner: string, name: string): number {
    return this.queue(owner, name).purge();
  }

  /** the queue, if it exists and `owner` may use it */
  queue(owner: string, name: string): Queue {
    const q = this.queues.get(name);
    if (q === undefined) throw notFound(`no queue '${name}' in vhost '${this.name}'`);
    this.assertAccess(q, owner);
    return q;
  }

  /** exclusive queues deleted when their owner goes */
  deleteOwnedBy(owner: string): void {
    for (const q of [...(this.exclusiveByOwner.get(owner) ?? [])]) this.retire(q);
    this.exclusiveByOwner.delete(owner);
  }

  retire(q: Queue): void {
    if (this.queues.get(q.name) === q) this.removeQueue(q);
  }

  private removeQueue(q: Queue): number {
    this.queues.delete(q.name);
    const owner = q.shape.exclusiveOwner;
    if (owner !== null) {
      const owned = this.exclusiveByOwner.get(owner);
      owned?.delete(q);
      if (owned?.size === 0) this.exclusiveByOwner.delete(owner);
    }
    this.dropInbound(queueKey(q.name));
    return q.destroy();
  }

  private assertAccess(q: Queue, owner: string): void {
    if (q.shape.exclusiveOwner !== null && q.shape.exclusiveOwner !== owner) throw this.locked(q);
  }

  private locked(q: Queue): GatewayError {
    return new GatewayError(
      ErrorCode.RESOURCE_LOCKED,
      `cannot obtain exclusive access to locked queue '${q.name}' in vhost '${this.name}'`,
    );
  }

  // ---- bindings --------------------------------------------------------------------------

  bindQueue(owner: string, queue: string, exchange: string, routingKey: string, args: Headers | undefined): void {
    const q = this.queue(owner, queue);
    const x = this.bindableExchange(exchange);
    if (x.bind(queueKey(q.name), routingKey, args)) this.addInbound(queueKey(q.name), x.name);
  }

  unbindQueue(owner: string, queue: string, exchange: string, routingKey: string, args: Headers | undefined): void {
    const q = this.queue(owner, queue);
    const x = this.bindableExchange(exchange);
    this.unbind(x, queueKey(q.name), routingKey, args);
  }

  bindExchange(destination: string, source: string, routingKey: string, args: Headers | undefined): void {
    const dest = this.bindableExchange(destination);
    const src = this.bindableExchange(source);
    if (src.bind(exchangeKey(dest.name), routingKey, args)) this.addInbound(exchangeKey(dest.name), src.name);
  }

  unbindExchange(destination: string, source: string, routingKey: string, args: Headers | undefined): void {
    const dest = this.bindableExchange(destination);
    const src = this.bindableExchange(source);
    this.unbind(src, exchangeKey(dest.name), routingKey, args);
  }

  private unbind(x: Exchange, dest: string, routingKey: string, args: Headers | undefined): void {
    if (!x.unbind(dest, routingKey, args)) return;
    if (!x.isBoundTo(dest)) this.inbound.get(dest)?.delete(x.name);
    this.maybeAutoDeleteExchange(x);
  }

  private maybeAutoDeleteExchange(x: Exchange): void {
    if (x.shape.autoDelete && x.bindingCount === 0 && this.exchanges.get(x.name) === x) this.removeExchange(x);
  }

  private addInbound(dest: string, source: string): void {
    let set = this.inbound.get(dest);
    if (set === undefined) this.inbound.set(dest, (set = new Set()));
    set.add(source);
  }

  /** a destination is gone: remove every binding to it */
  private dropInbound(dest: string): void {
    const sources = this.inbound.get(dest);
    this.inbound.delete(dest);
    if (sources === undefined) return;
    for (const s of sources) {
      const x = this.exchanges.get(s);
      if (x === undefined) continue;
      x.unbindAll(dest);
      this.maybeAutoDeleteExchange(x);
    }
  }

  private bindableExchange(name: string): Exchange {
    if (name === '') throw accessRefused('operation not permitted on the default exchange');
    return this.exchange(name);
  }

  private exchange(name: string): Exchange {
    const x = this.exchanges.get(name);
    if (x === undefined) throw notFound(`no exchange '${name}' in vhost '${this.name}'`);
    return x;
  }

  // ---- routing ---------------------------------------------------------------------------

  publish(exchange: string, routingKey: string, message: FabricMessage): PublishOutcome {
    const ttl = parseExpiration(message.properties.expiration);
    let targets: Iterable<Queue>;
    if (exchange === '') {
      const q = this.queues.get(routingKey);
      targets = q === undefined ? [] : [q];
    } else {
      const x = this.exchange(exchange);
      if (x.shape.internal) throw accessRefused(`cannot publish to internal exchange '${exchange}' in vhost '${this.name}'`);
      targets = this.route(x, routingKey, message.properties.headers);
    }
    const routed: RoutedMessage = { exchange, routingKey, body: message.body, properties: message.properties };
    return this.deliverTo(targets, routed, ttl);
  }

  private deliverTo(targets: Iterable<Queue>, routed: RoutedMessage, ttl: number | undefined): PublishOutcome {
    const now = Date.now();
    const outcome: PublishOutcome = { routed: 0, rejected: false };
    for (const q of targets) {
      outcome.routed++;
      if (q.enqueue(routed, ttl, now) === 'rejected') outcome.rejected = true;
    }
    return outcome;
  }

  /** every queue reachable from `x` for this key, each once, following exchange bindings */
  private route(x: Exchange, routingKey: string, headers: Headers | undefined): Set<Queue> {
    const queues = new Set<Queue>();
    const visited = new Set<string>([x.name]);
    const stack: Exchange[] = [x];
    const dests = new Set<string>();
    while (stack.length > 0) {
      const ex = stack.pop() as Exchange;
      dests.clear();
      ex.route(routingKey, headers, dests);
      if (dests.size === 0) this.followAlternate(ex, visited, stack);
      for (const d of dests) {
        const name = d.slice(2);
        if (d.startsWith('q:')) {
          const q = this.queues.get(name);
          if (q !== undefined) queues.add(q);
        } else if (!visited.has(name)) {
          visited.add(name);
          const next = this.exchanges.get(name);
          if (next !== undefined) stack.push(next);
        }
      }
    }
    return queues;
  }

  private followAlternate(ex: Exchange, visited: Set<string>, stack: Exchange[]): void {
    const ae = ex.shape.arguments['alternate-exchange'];
    if (typeof ae !== 'string' || visited.has(ae)) return;
    const alt = this.exchanges.get(ae);
    if (alt === undefined) return;
    visited.add(ae);
    stack.push(alt);
  }

  deadLetter(from: Queue, messages: QueuedMessage[], reason: DeathReason): void {
    const dlxName = from.policy.deadLetterExchange;
    if (dlxName === undefined) return;
    const dlx = dlxName === '' ? undefined : this.exchanges.get(dlxName);
    if (dlxName !== '' && dlx === undefined) return; // RabbitMQ drops it too
    const now = Date.now();
    for (const m of messages) {
      const properties = deadLetterProperties(m, from.name, reason, now);
      const routingKey = from.policy.deadLetterRoutingKey ?? m.routingKey;
      const candidates = dlx === undefined ? this.defaultExchangeTarget(routingKey) : this.route(dlx, routingKey, properties.headers);
      const targets = [...candidates].filter((q) => !completesCycle(properties.headers, q.name));
      this.deliverTo(targets, { exchange: dlxName, routingKey, body: m.body, properties }, undefined);
    }
  }

  private defaultExchangeTarget(routingKey: string): Queue[] {
    const q = this.queues.get(routingKey);
    return q === undefined ? [] : [q];
  }

  /** the fabric is closing: stop every queue's timers and drop its messages */
  destroy(): void {
    for (const q of this.queues.values()) q.destroy();
    this.queues.clear();
    this.inbound.clear();
    this.exclusiveByOwner.clear();
  }
}

function info(q: Queue): QueueInfo {
  return { queue: q.name, messageCount: q.messageCount, consumerCount: q.consumerCount };
}

function notFound(text: string): GatewayError {
  return new GatewayError(ErrorCode.NOT_FOUND, text);
}

function accessRefused(text: string): GatewayError {
  return new GatewayError(ErrorCode.NOT_AUTHORIZED, text);
}

function exchangeDifference(a: ExchangeShape, b: ExchangeShape): string | undefined {
  if (a.type !== b.type) return 'type';
  if (a.durable !== b.durable) return 'durable';
  if (a.autoDelete !== b.autoDelete) return 'auto_delete';
  if (a.internal !== b.internal) return 'internal';
  const ae = 'alternate-exchange';
  const x = a.arguments[ae];
  const y = b.arguments[ae];
  if ((x !== undefined || y !== undefined) && (x === undefined || y === undefined || !sameValue(x, y))) return ae;
  return undefined;
}
