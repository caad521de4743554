// Shared registration's invocation policies (wamp-proto "Shared Registration"): which local
// callee gets a request, and which consumer priority asks the broker to prefer this process.

import { randomInt } from 'node:crypto';

export type InvokePolicy = 'single' | 'roundrobin' | 'random' | 'first' | 'last';
export const INVOKE_POLICIES: readonly InvokePolicy[] = ['single', 'roundrobin', 'random', 'first', 'last'];

/** index of the callee (in order of registration) to invoke; undefined when there is none */
export function pickIndex(policy: InvokePolicy, count: number, turn: number): number | undefined {
  if (count === 0) return undefined;
  switch (policy) {
    case 'single':
    case 'first':
      return 0;
    case 'last':
      return count - 1;
    case 'random':
      return randomInt(count);
    case 'roundrobin':
      return turn % count;
  }
}

// seconds since 2024-01-01: consumer priorities that order registrations in time
const EPOCH_SECONDS = 1_704_067_200;

/** x-priority for the process's consumer: the earliest (first) or latest (last) registration wins */
export function consumerPriority(policy: InvokePolicy, nowMs = Date.now()): number | undefined {
  const age = Math.floor(nowMs / 1000) - EPOCH_SECONDS;
  if (policy === 'first') return -age;
  if (policy === 'last') return age;
  return undefined;
}
