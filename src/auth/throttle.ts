// Per-source-address login throttle, checked before any password is hashed so that hashing
// cannot be turned into a CPU attack:
// - after `maxFailures` failed logins within `windowMs`, the address is refused for `cooldownMs`
//   (0: never refused);
// - at most `maxConcurrent` logins from one address are checked at a time (a burst sent before
//   the first failure is recorded would otherwise all be hashed; 0: no cap).
// The numbers come from auth.failedLoginThrottle (throttleOptionsFrom).
// Other addresses are unaffected. The table is bounded: when full, the least recently seen
// address is forgotten.

import type { Config } from '../config/schema.js';

export interface ThrottleOptions {
  maxFailures: number;
  windowMs: number;
  cooldownMs: number;
  maxConcurrent: number;
  maxTrackedAddresses: number;
}

export const DEFAULT_THROTTLE_OPTIONS: ThrottleOptions = {
  maxFailures: 10,
  windowMs: 60_000,
  cooldownMs: 60_000,
  maxConcurrent: 32,
  maxTrackedAddresses: 10_000,
};

/** auth.failedLoginThrottle (seconds) as ThrottleOptions (ms) */
export function throttleOptionsFrom(settings: Config['auth']['failedLoginThrottle']): ThrottleOptions {
  return {
    maxFailures: settings.maxFailures,
    windowMs: settings.windowSeconds * 1000,
    cooldownMs: settings.blockSeconds * 1000,
    maxConcurrent: settings.maxConcurrent,
    maxTrackedAddresses: settings.maxTrackedAddresses,
  };
}

export type Admission = 'admitted' | 'blocked' | 'busy';

interface AddressRecord {
  windowStart: number;
  failures: number;
  blockedUntil: number;
  inFlight: number;
}

export class FailureThrottle {
  private readonly records = new Map<string, AddressRecord>();
  private readonly options: ThrottleOptions;

  constructor(
    options: Partial<ThrottleOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_THROTTLE_OPTIONS, ...options };
  }

  get trackedAddresses(): number {
    return this.records.size;
  }

  /** 'admitted' must be followed by exactly one `settle` for the same address */
  admit(address: string): Admission {
    const record = this.recordFor(address);
    const admission = this.decide(record);
    if (admission === 'admitted') record.inFlight += 1;
    this.touch(address, record);
    return admission;
  }

  settle(address: string, succeeded: boolean): void {
    const record = this.recordFor(address);
    record.inFlight = Math.max(0, record.inFlight - 1);
    if (succeeded) {
      record.failures = 0;
    } else {
      this.countFailure(record);
    }
    this.touch(address, record);
  }

  private decide(record: AddressRecord): Admission {
    if (record.blockedUntil > this.now()) return 'blocked';
    if (this.options.maxConcurrent > 0 && record.inFlight >= this.options.maxConcurrent) return 'busy';
    return 'admitted';
  }

  private countFailure(record: AddressRecord): void {
    if (this.options.maxFailures === 0) return;
    const now = this.now();
    if (now - record.windowStart >= this.options.windowMs) {
      record.windowStart = now;
      record.failures = 0;
    }
    record.failures += 1;
    if (record.failures >= this.options.maxFailures) record.blockedUntil = now + this.options.cooldownMs;
  }

  private recordFor(address: string): AddressRecord {
    return this.records.get(address) ?? { windowStart: this.now(), failures: 0, blockedUntil: 0, inFlight: 0 };
  }

  private touch(address: string, record: AddressRecord): void {
    // A Map keeps insertion order: re-inserting moves the address to the newest end.
    this.records.delete(address);
    if (this.isIdle(record)) return;
    this.records.set(address, record);
    while (this.records.size > this.options.maxTrackedAddresses) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
  }

  private isIdle(record: AddressRecord): boolean {
    return record.inFlight === 0 && record.failures === 0 && record.blockedUntil <= this.now();
  }
}
