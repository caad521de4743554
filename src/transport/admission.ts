// Connection limits shared by every listener: a total cap and a cap per remote address.
// A refused client is simply closed (TCP) or refused in the handshake (WebSocket).

export interface AdmissionLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

export type Admission = { admitted: true; release: () => void } | { admitted: false; reason: string };

export class ConnectionAdmission {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  private closedReason: string | undefined;

  constructor(private readonly limits: AdmissionLimits) {}

  get size(): number {
    return this.total;
  }

  /** refuse everyone from now on (graceful shutdown) */
  close(reason: string): void {
    this.closedReason = reason;
  }

  /** why a client from this address would be refused now, or undefined */
  refusal(address: string): string | undefined {
    if (this.closedReason !== undefined) return this.closedReason;
    if (this.total >= this.limits.maxConnections) return `connection limit ${this.limits.maxConnections} reached`;
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.maxConnectionsPerAddress) {
      return `connection limit per address ${this.limits.maxConnectionsPerAddress} reached for ${address}`;
    }
    return undefined;
  }

  admit(address: string): Admission {
    const reason = this.refusal(address);
    if (reason !== undefined) return { admitted: false, reason };
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
