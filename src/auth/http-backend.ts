// HTTP auth backend in the shape of rabbitmq_auth_backend_http: a form-encoded POST to
// user/vhost/resource/topic paths; the server answers 200 with "allow", "allow <tags>" or
// "deny". Answers are cached for cacheTtlMs (as rabbitmq_auth_backend_cache), keyed by a
// digest of the request so no password is kept in memory.

import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Permission } from './types.js';
import type { TopicVariables } from './permissions.js';

type HttpConfig = NonNullable<Config['auth']['http']>;

const REQUEST_TIMEOUT_MS = 5_000;
const MAX_CACHE_ENTRIES = 10_000;
const MAX_BODY_CHARS = 4096;

type Verdict = { allow: true; tags: string[] } | { allow: false };

export class HttpBackend {
  private readonly cache = new Map<string, { verdict: Verdict; expires: number }>();

  constructor(
    private readonly config: HttpConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** the user's tags when allowed, null when denied; throws when the backend cannot answer */
  async authenticateUser(username: string, password: string | undefined, vhost: string): Promise<string[] | null> {
    const params: Record<string, string> = { username, vhost };
    if (password !== undefined) params.password = password;
    const verdict = await this.ask(this.config.userPath, params);
    return verdict.allow ? verdict.tags : null;
  }

  async checkVhost(username: string, vhost: string, ip: string): Promise<boolean> {
    return (await this.ask(this.config.vhostPath, { username, vhost, ip })).allow;
  }

  async checkResource(username: string, vhost: string, resource: 'exchange' | 'queue', name: string, permission: Permission): Promise<boolean> {
    return (await this.ask(this.config.resourcePath, { username, vhost, resource, name, permission })).allow;
  }

  async checkTopic(username: string, vhost: string, exchange: string, permission: Permission, routingKey: string, variables: TopicVariables): Promise<boolean> {
    const params: Record<string, string> = { username, vhost, resource: 'topic', name: exchange, permission, routing_key: routingKey };
    for (const [key, value] of Object.entries(variables)) {
      if (value !== undefined) params[`variable_map.${key}`] = value;
    }
    return (await this.ask(this.config.topicPath, params)).allow;
  }

  clearCache(): void {
    this.cache.clear();
  }

  private async ask(url: string, params: Record<string, string>): Promise<Verdict> {
    const body = new URLSearchParams(params).toString();
    const key = createHash('sha256').update(url).update('\0').update(body).digest('base64');
    const cached = this.cache.get(key);
    if (cached !== undefined && cached.expires > this.now()) return cached.verdict;
    const verdict = await this.post(url, body);
    this.remember(key, verdict);
    return verdict;
  }

  private async post(url: string, body: string): Promise<Verdict> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = (await response.text()).slice(0, MAX_BODY_CHARS);
    if (response.status !== 200) throw new Error(`${url} answered HTTP ${response.status}`);
    return parseVerdict(text);
  }

  private remember(key: string, verdict: Verdict): void {
    if (this.config.cacheTtlMs <= 0) return;
    if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, { verdict, expires: this.now() + this.config.cacheTtlMs });
  }
}

/** "allow", "allow tag1 tag2" or "deny" (case-insensitive); anything else denies */
export function parseVerdict(text: string): Verdict {
  const [word, ...tags] = text.trim().split(/\s+/);
  if (word?.toLowerCase() !== 'allow') return { allow: false };
  return { allow: true, tags: tags.filter((t) => t !== '') };
}
