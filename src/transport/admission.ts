// Connection limits shared by every listener: a total cap, a cap per remote address, and a
// rate per remote address (new connections per second, token bucket). A refused client is
// simply closed (TCP, before the TLS handshake) or refused in the handshake (WebSocket).
// knock() is the first look at a new client (it spends a rate token); admit() counts the
// connection once the transport has it (TLS handshake or WebSocket upgrade done).

import { ConnectionRateLimiter } from './rate-limit.js';

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** new connections per second per address; 0 or absent: no limit */
  maxConnectionRatePerAddress?: number;
}

/** why a client was refused, as the metric label tributary_connections_refused_total{reason} */
export type RefusalKind = 'shutdown' | 'max_connections' | 'max_per_address' | 'rate';

export interface Refusal {
  kind: RefusalKind;
  reason: string;
}

export type Admission = { admitted: true; release: () => void } | { admitted: false; refusal: Refusal };

export class ConnectionAdmission {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  private closedReason: string | undefined;
  private readonly rate: ConnectionRateLimiter;

  constructor(private readonly limits: AdmissionLimits, now: () => number = Date.now) {
    this.rate = new ConnectionRateLimiter(limits.maxConnectionRatePerAddress ?? 0, now);
  }

  get size(): number {
    return this.total;
  }

  /** refuse everyone from now on (graceful shutdown) */
  close(reason: string): void {
    this.closedReason = reason;
  }

  /** why a client from this address would be refused now by the count limits, or undefined */
  refusal(address: string): Refusal | undefined {
    if (this.closedReason !== undefined) return { kind: 'shutdown', reason: this.closedReason };
    if (this.total >= this.limits.maxConnections) return { kind: 'max_connections', reason: `connection limit ${this.limits.maxConnections} reached` };
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.maxConnectionsPerAddress) {
      return { kind: 'max_per_address', reason: `connection limit per address ${this.limits.maxConnectionsPerAddress} reached for ${address}` };
    }
    return undefined;
  }

  /** a new client arrives: the count limits, then one token of the address's connection rate */
  knock(address: string): Refusal | undefined {
    const refusal = this.refusal(address);
    if (refusal !== undefined) return refusal;
    if (this.rate.take(address)) return undefined;
    return { kind: 'rate', reason: `more than ${this.limits.maxConnectionRatePerAddress} new connections per second from ${address}` };
  }

  admit(address: string): Admission {
    const refusal = this.refusal(address);
    if (refusal !== undefined) return { admitted: false, refusal };
    this.total++;
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    let released = false;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        this.total--;
        const left = (this.perAddress.get(address) ?? 1) - 1;
        if (left === 0) this.perAddress.delete(address);
        else this.perAddress.set(address, left);
      },
    };
  }
}
