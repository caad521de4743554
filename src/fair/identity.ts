// Who published a message, as a fair stream's `publisherBy` says: the MQTT/STOMP/WAMP client
// id, the authenticated user name, or a message header (for AMQP-native publishers).
//
// Fallbacks, so that every message lands in some publisher's queue: a session without a client
// id (a STOMP client that sent none) counts as its user; a message without the header counts
// as its session's client (gateway sessions) or as its AMQP user-id property (intake); with
// none of these, the publisher is 'anonymous'.
import type { Headers, MessageProperties, SessionOwner } from '../fabric/types.js';

export type PublisherBy = { kind: 'client-id' } | { kind: 'username' } | { kind: 'header'; name: string };

export const ANONYMOUS = 'anonymous';

export function parsePublisherBy(spec: string): PublisherBy {
  if (spec === 'client-id') return { kind: 'client-id' };
  if (spec === 'username') return { kind: 'username' };
  if (spec.startsWith('header:') && spec.length > 'header:'.length) return { kind: 'header', name: spec.slice('header:'.length) };
  throw new RangeError(`publisherBy must be client-id, username or header:<name>, got '${spec}'`);
}

/** the publisher of a message published through a gateway session */
export function sessionPublisher(by: PublisherBy, owner: SessionOwner, headers: Headers | undefined): string {
  const who = owner.publisher;
  switch (by.kind) {
    case 'client-id':
      return nonEmpty(who?.clientId) ?? nonEmpty(who?.username) ?? ANONYMOUS;
    case 'username':
      return nonEmpty(who?.username) ?? ANONYMOUS;
    case 'header':
      return headerValue(headers, by.name) ?? nonEmpty(who?.clientId) ?? nonEmpty(who?.username) ?? ANONYMOUS;
  }
}

/** the publisher of a message taken from a stream's AMQP intake queue */
export function intakePublisher(by: PublisherBy, properties: MessageProperties): string {
  const fromHeader = by.kind === 'header' ? headerValue(properties.headers, by.name) : undefined;
  return fromHeader ?? nonEmpty(properties.userId) ?? ANONYMOUS;
}

function headerValue(headers: Headers | undefined, name: string): string | undefined {
  const v = headers?.[name];
  if (typeof v === 'string') return nonEmpty(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Buffer.isBuffer(v)) return nonEmpty(v.toString('utf8'));
  return undefined;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}
