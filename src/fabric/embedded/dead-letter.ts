// The properties of a dead-lettered message, as rabbit_dead_letter (RabbitMQ 3.10) makes
// them: an `x-death` entry per (queue, reason), the latest first, with a count; the
// x-first-death-* headers on the first death; `expiration` removed (kept as
// `original-expiration`) so the message does not expire again by the same TTL.
import type { HeaderValue, Headers, MessageProperties } from '../types.js';
import type { DeathReason, QueuedMessage } from './message.js';

type DeathEntry = { [k: string]: HeaderValue };

function isEntry(v: HeaderValue): v is DeathEntry {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v);
}

export function deadLetterProperties(m: QueuedMessage, queue: string, reason: DeathReason, nowMs: number): MessageProperties {
  const headers: Headers = { ...(m.properties.headers ?? {}) };
  const previous = headers['x-death'];
  const deaths: DeathEntry[] = Array.isArray(previous) ? previous.filter(isEntry) : [];
  const i = deaths.findIndex((d) => d.queue === queue && d.reason === reason);
  let entry: DeathEntry;
  if (i >= 0) {
    const old = deaths.splice(i, 1)[0] as DeathEntry;
    entry = { ...old, count: (typeof old.count === 'number' ? old.count : 0) + 1 };
  } else {
    entry = {
      count: 1,
      reason,
      queue,
      time: Math.floor(nowMs / 1000),
      exchange: m.exchange,
      'routing-keys': [m.routingKey],
    };
    if (m.properties.expiration !== undefined) entry['original-expiration'] = m.properties.expiration;
  }
  if (previous === undefined) {
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-exchange'] = m.exchange;
  }
  headers['x-death'] = [entry, ...deaths];
  const properties: MessageProperties = { ...m.properties, headers };
  delete properties.expiration;
  return properties;
}

/**
 * RabbitMQ drops a dead-lettered message that would reach a queue it already died in, unless
 * a rejection happened somewhere on that cycle (a consumer, not a timer, drives the loop).
 */
export function completesCycle(headers: Headers | undefined, target: string): boolean {
  const deaths = headers?.['x-death'];
  if (!Array.isArray(deaths)) return false;
  for (const d of deaths) {
    if (!isEntry(d)) continue;
    if (d.reason === 'rejected') return false;
    if (d.queue === target) return true;
  }
  return false;
}
