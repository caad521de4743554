// Remembers what one session was already allowed to do, so a stream of publishes to the
// same destination asks the authenticator once (RabbitMQ caches per channel the same way).
// Only grants are cached, and the cache is bounded: the oldest entry goes first.
//
// A lookup builds no key string: grants are kept per scope (vhost, kind, permission, name) as
// a set of routing keys, the scopes listed by name; the last grant found is remembered, so a
// stream of publishes to one destination costs a few string compares (what MQTT's "last
// granted routing key" and WAMP's per-session grant set used to do by themselves).

import type { Authenticator, AuthorizeRequest, Principal } from '../../auth/types.js';

interface Scope {
  vhost: string;
  kind: string;
  permission: string;
  name: string;
  /** routing keys granted ('' for a request without one) */
  keys: Set<string>;
}

export class AuthorizationCache {
  /** name → its scopes (rarely more than one) */
  private readonly byName = new Map<string, Scope[]>();
  /** every grant, oldest first (from `head`), for eviction */
  private order: Array<{ scope: Scope; routingKey: string }> = [];
  private head = 0;
  private size = 0;
  /** the last grant found or added */
  private lastScope: Scope | undefined;
  private lastRoutingKey: string | undefined;

  constructor(
    private readonly auth: Pick<Authenticator, 'authorize'>,
    private readonly principal: Principal,
    private readonly capacity = 256,
  ) {}

  /** whether this grant is known already: synchronous, allocates nothing */
  granted(vhost: string, kind: AuthorizeRequest['kind'], permission: AuthorizeRequest['permission'], name: string, routingKey = ''): boolean {
    let scope = this.lastScope;
    if (scope === undefined || scope.name !== name || scope.vhost !== vhost || scope.kind !== kind || scope.permission !== permission) {
      scope = this.find(vhost, kind, permission, name);
      if (scope === undefined) return false;
    } else if (routingKey === this.lastRoutingKey) {
      return true;
    }
    if (!scope.keys.has(routingKey)) return false;
    this.lastScope = scope;
    this.lastRoutingKey = routingKey;
    return true;
  }

  /** Resolves when allowed (asking the authenticator unless granted before); rejects when not. */
  async authorize(request: AuthorizeRequest): Promise<void> {
    const { vhost, kind, permission, name } = request;
    const routingKey = request.routingKey ?? '';
    if (this.granted(vhost, kind, permission, name, routingKey)) return;
    await this.auth.authorize(this.principal, request);
    this.add(vhost, kind, permission, name, routingKey);
  }

  private find(vhost: string, kind: string, permission: string, name: string): Scope | undefined {
    const scopes = this.byName.get(name);
    if (scopes === undefined) return undefined;
    for (const scope of scopes) if (scope.vhost === vhost && scope.kind === kind && scope.permission === permission) return scope;
    return undefined;
  }

  private add(vhost: string, kind: string, permission: string, name: string, routingKey: string): void {
    if (this.find(vhost, kind, permission, name)?.keys.has(routingKey) === true) return; // granted meanwhile (two asks in flight)
    if (this.size >= this.capacity) this.evictOldest();
    // looked up after the eviction, which may have dropped this very scope
    let scope = this.find(vhost, kind, permission, name);
    if (scope === undefined) {
      scope = { vhost, kind, permission, name, keys: new Set() };
      const scopes = this.byName.get(name);
      if (scopes === undefined) this.byName.set(name, [scope]);
      else scopes.push(scope);
    }
    scope.keys.add(routingKey);
    this.order.push({ scope, routingKey });
    this.size += 1;
    this.lastScope = scope;
    this.lastRoutingKey = routingKey;
  }

  private evictOldest(): void {
    const oldest = this.order[this.head];
    if (oldest === undefined) return;
    this.order[this.head] = undefined as never;
    this.head += 1;
    if (this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    this.size -= 1;
    const { scope, routingKey } = oldest;
    scope.keys.delete(routingKey);
    if (this.lastScope === scope && this.lastRoutingKey === routingKey) this.lastRoutingKey = undefined;
    if (scope.keys.size > 0) return;
    const scopes = this.byName.get(scope.name) as Scope[];
    scopes.splice(scopes.indexOf(scope), 1);
    if (scopes.length === 0) this.byName.delete(scope.name);
    if (this.lastScope === scope) this.lastScope = undefined;
  }
}
