// One exchange: its declared shape and its bindings (to queues and to other exchanges).
import type { ExchangeOptions, ExchangeType, Headers } from '../types.js';
import { tableKey } from './header-values.js';
import { createRouter, type Binding, type Router } from './routers.js';

export interface ExchangeShape {
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: Headers;
}

export function exchangeShape(type: ExchangeType, opts: ExchangeOptions = {}): ExchangeShape {
  return {
    type,
    durable: opts.durable ?? false,
    autoDelete: opts.autoDelete ?? false,
    internal: opts.internal ?? false,
    arguments: opts.arguments ?? {},
  };
}

export class Exchange {
  private readonly router: Router;
  /** destination → (binding identity → binding); identity is (destination, key, args) as in AMQP */
  private readonly byDestination = new Map<string, Map<string, Binding>>();
  private count = 0;

  constructor(
    readonly name: string,
    readonly shape: ExchangeShape,
  ) {
    this.router = createRouter(shape.type);
  }

  get bindingCount(): number {
    return this.count;
  }

  /** false when the identical binding already existed (binding is idempotent) */
  bind(destination: string, routingKey: string, args: Headers | undefined): boolean {
    const id = bindingKey(routingKey, args);
    let mine = this.byDestination.get(destination);
    if (mine === undefined) this.byDestination.set(destination, (mine = new Map()));
    if (mine.has(id)) return false;
    const b: Binding = { destination, routingKey, args };
    mine.set(id, b);
    this.router.add(b);
    this.count++;
    return true;
  }

  unbind(destination: string, routingKey: string, args: Headers | undefined): boolean {
    const mine = this.byDestination.get(destination);
    const id = bindingKey(routingKey, args);
    const b = mine?.get(id);
    if (mine === undefined || b === undefined) return false;
    mine.delete(id);
    if (mine.size === 0) this.byDestination.delete(destination);
    this.router.remove(b);
    this.count--;
    return true;
  }

  /** remove every binding to `destination`; returns how many went */
  unbindAll(destination: string): number {
    const mine = this.byDestination.get(destination);
    if (mine === undefined) return 0;
    this.byDestination.delete(destination);
    for (const b of mine.values()) this.router.remove(b);
    this.count -= mine.size;
    return mine.size;
  }

  isBoundTo(destination: string): boolean {
    return this.byDestination.has(destination);
  }

  destinations(): IterableIterator<string> {
    return this.byDestination.keys();
  }

  route(routingKey: string, headers: Headers | undefined, out: Set<string>): void {
    this.router.match(routingKey, headers, out);
  }
}

function bindingKey(routingKey: string, args: Headers | undefined): string {
  return args === undefined || Object.keys(args).length === 0 ? routingKey : `${routingKey}\u0000${tableKey(args)}`;
}
