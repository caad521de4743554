// Remembers what one session was already allowed to do, so a stream of publishes to the
// same destination asks the authenticator once (RabbitMQ caches per channel the same way).
// Only grants are cached, and the cache is bounded: the oldest entry goes first.

import type { Authenticator, AuthorizeRequest, Principal } from '../../auth/types.js';

export class AuthorizationCache {
  private readonly granted = new Set<string>();

  constructor(
    private readonly auth: Pick<Authenticator, 'authorize'>,
    private readonly principal: Principal,
    private readonly capacity = 256,
  ) {}

  async authorize(request: AuthorizeRequest): Promise<void> {
    const key = `${request.kind}\u0000${request.permission}\u0000${request.name}\u0000${request.routingKey ?? ''}\u0000${request.vhost}`;
    if (this.granted.has(key)) return;
    await this.auth.authorize(this.principal, request);
    if (this.granted.size >= this.capacity) this.granted.delete(this.granted.values().next().value as string);
    this.granted.add(key);
  }
}
