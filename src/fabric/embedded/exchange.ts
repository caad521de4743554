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
  /** binding identity → binding; identity is (destination, key, args) as in AMQP */
  private readonly bindings = new Map<string, Binding>();

  constructor(
    readonly name: string,
    readonly shape: ExchangeShape,
  ) {
    this.router = createRouter(shape.type);
  }

  get bindingCount(): number {
    return this.bindings.size;
  }

  /** false when the identical binding already existed (binding is idempotent) */
  bind(destination: string, routingKey: string, args: Headers | undefined): boolean {
    const id = bindingId(destination, routingKey, args);
    if (this.bindings.has(id)) return false;
    const b: Binding = { destination, routingKey, args };
    this.bindings.set(id, b);
    this.router.add(b);
    return true;
  }

  unbind(destination: string, routingKey: string, args: Headers | undefined): boolean {
    const id = bindingId(destination, routingKey, args);
    const b = this.bindings.get(id);
    if (b === undefined) return false;
    this.bindings.delete(id);
    this.router.remove(b);
    return true;
  }

  /** remove every binding to `destination`; returns how many went */
  unbindAll(destination: string): number {
    let n = 0;
    for (const [id, b] of this.bindings) {
      if (b.destination !== destination) continue;
      this.bindings.delete(id);
      this.router.remove(b);
      n++;
    }
    return n;
  }

  destinations(): Set<string> {
    const out = new Set<string>();
    for (const b of this.bindings.values()) out.add(b.destination);
    return out;
  }

  route(routingKey: string, headers: Headers | undefined, out: Set<string>): void {
    this.router.match(routingKey, headers, out);
  }
}

function bindingId(destination: string, routingKey: string, args: Headers | undefined): string {
  return `${destination}\u0000${routingKey}\u0000${tableKey(args)}`;
}
