// WAMP IDs (wamp-proto "IDs"): global scope (sessions, publications) are drawn at random from
// [1, 2^53] so that gateway processes never need to agree on them; router scope
// (subscriptions, registrations) use the same, which keeps them unique across processes too;
// session scope (requests the router sends, i.e. INVOCATION) count up from 1 per session.

import { randomBytes } from 'node:crypto';
import { MAX_ID } from './messages.js';

const LOW_53_BITS = (1n << 53n) - 1n;

/** uniform in [1, 2^53] */
export function randomId(): number {
  return Number(randomBytes(8).readBigUInt64BE() & LOW_53_BITS) + 1;
}

export class SessionScopeIds {
  private last = 0;

  next(): number {
    this.last = this.last >= MAX_ID ? 1 : this.last + 1;
    return this.last;
  }
}
