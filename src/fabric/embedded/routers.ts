// How each exchange type turns (routing key, headers) into bound destinations.
// A destination is an opaque string key (see vhost.ts); a router counts bindings per key
// because one destination may be bound several times (different keys or arguments).
import type { ExchangeType, Headers } from '../types.js';
import { sameValue } from './header-values.js';
import { TopicTrie } from './topic-trie.js';

export interface Binding {
  destination: string;
  routingKey: string;
  args: Headers | undefined;
}

export interface Router {
  add(b: Binding): void;
  remove(b: Binding): void;
  match(routingKey: string, headers: Headers | undefined, out: Set<string>): void;
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

class DirectRouter implements Router {
  private readonly byKey = new Map<string, Map<string, number>>();
  add(b: Binding): void {
    let dests = this.byKey.get(b.routingKey);
    if (dests === undefined) this.byKey.set(b.routingKey, (dests = new Map()));
    bump(dests, b.destination, 1);
  }
  remove(b: Binding): void {
    const dests = this.byKey.get(b.routingKey);
    if (dests === undefined) return;
    bump(dests, b.destination, -1);
    if (dests.size === 0) this.byKey.delete(b.routingKey);
  }
  match(routingKey: string, _h: Headers | undefined, out: Set<string>): void {
    const dests = this.byKey.get(routingKey);
    if (dests !== undefined) for (const d of dests.keys()) out.add(d);
  }
}

class FanoutRouter implements Router {
  private readonly dests = new Map<string, number>();
  add(b: Binding): void {
    bump(this.dests, b.destination, 1);
  }
  remove(b: Binding): void {
    bump(this.dests, b.destination, -1);
  }
  match(_k: string, _h: Headers | undefined, out: Set<string>): void {
    for (const d of this.dests.keys()) out.add(d);
  }
}

class TopicRouter implements Router {
  private readonly trie = new TopicTrie<string>();
  add(b: Binding): void {
    this.trie.add(b.routingKey, b.destination);
  }
  remove(b: Binding): void {
    this.trie.remove(b.routingKey, b.destination);
  }
  match(routingKey: string, _h: Headers | undefined, out: Set<string>): void {
    this.trie.match(routingKey, out);
  }
}

/** RabbitMQ's headers exchange: x-match all (default) | any | all-with-x | any-with-x. */
export function headersMatch(bindArgs: Headers | undefined, headers: Headers | undefined): boolean {
  const args = bindArgs ?? {};
  const mode = args['x-match'] ?? 'all';
  const withX = mode === 'all-with-x' || mode === 'any-with-x';
  const all = mode === 'all' || mode === 'all-with-x';
  const h = headers ?? {};
  for (const [k, v] of Object.entries(args)) {
    if (k === 'x-match' || (!withX && k.startsWith('x-'))) continue;
    const present = Object.prototype.hasOwnProperty.call(h, k) && h[k] !== undefined;
    // a void (null) binding value matches on presence alone
    const ok = present && (v === null || v === undefined || sameValue(v, h[k]));
    if (all && !ok) return false;
    if (!all && ok) return true;
  }
  return all;
}

class HeadersRouter implements Router {
  private readonly bindings: Binding[] = [];
  add(b: Binding): void {
    this.bindings.push(b);
  }
  remove(b: Binding): void {
    const i = this.bindings.indexOf(b);
    if (i >= 0) this.bindings.splice(i, 1);
  }
  match(_k: string, headers: Headers | undefined, out: Set<string>): void {
    for (const b of this.bindings) if (!out.has(b.destination) && headersMatch(b.args, headers)) out.add(b.destination);
  }
}

export function createRouter(type: ExchangeType): Router {
  switch (type) {
    case 'direct':
      return new DirectRouter();
    case 'fanout':
      return new FanoutRouter();
    case 'topic':
      return new TopicRouter();
    case 'headers':
      return new HeadersRouter();
  }
}
