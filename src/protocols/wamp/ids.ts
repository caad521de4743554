// WAMP IDs (wamp-proto "IDs"): global scope (sessions, publications) are drawn at random from
// [1, 2^53] so that gateway processes never need to agree on them; router scope
// (subscriptions, registrations) use the same, which keeps them unique across processes too;
// session scope (requests the router sends, i.e. INVOCATION) count up from 1 per session.

import { randomFillSync } from 'node:crypto';
import { MAX_ID } from './messages.js';

// one crypto call per 512 IDs: every PUBLISH draws a publication ID, and randomBytes(8) per
// ID (plus a BigInt) showed in the pub/sub profile
const POOL_BYTES = 8 * 512;
const pool = Buffer.alloc(POOL_BYTES);
let used = POOL_BYTES;

/** uniform in [1, 2^53] */
export function randomId(): number {
  if (used === POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  const high21 = pool.readUInt32BE(used) & 0x1f_ffff;
  const low32 = pool.readUInt32BE(used + 4);
  used += 8;
  return high21 * 2 ** 32 + low32 + 1;
}

export class SessionScopeIds {
  private last = 0;

  next(): number {
    this.last = this.last >= MAX_ID ? 1 : this.last + 1;
    return this.last;
  }
}
