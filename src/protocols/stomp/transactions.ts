// STOMP transactions (BEGIN/COMMIT/ABORT): the SENDs and ACK/NACKs of a transaction are kept
// here and replayed in order on COMMIT; ABORT and disconnect drop them, so nothing of an
// uncommitted transaction takes effect (RabbitMQ's plugin does the same; there is no
// atomicity across queues). Bounded: open transactions, actions and bytes per transaction.

import { ErrorCode, GatewayError } from '../../errors.js';

export type TxAction = () => Promise<void> | void;

export interface TransactionLimits {
  maxOpen: number;
  maxActions: number;
  maxBytes: number;
}

interface Tx {
  actions: TxAction[];
  bytes: number;
}

export class Transactions {
  private readonly open = new Map<string, Tx>();

  constructor(private readonly limits: TransactionLimits) {}

  get size(): number {
    return this.open.size;
  }

  begin(id: string): void {
    if (this.open.has(id)) throw new GatewayError(ErrorCode.PROTOCOL, 'transaction already begun', { detail: `transaction "${id}" is already open` });
    if (this.open.size >= this.limits.maxOpen) throw limit(`at most ${this.limits.maxOpen} transactions may be open at once`);
    this.open.set(id, { actions: [], bytes: 0 });
  }

  /** keep an action for COMMIT; `bytes` counts against the transaction's byte limit */
  add(id: string, action: TxAction, bytes = 0): void {
    const tx = this.get(id);
    if (tx.actions.length >= this.limits.maxActions) throw limit(`a transaction may hold at most ${this.limits.maxActions} frames`);
    if (tx.bytes + bytes > this.limits.maxBytes) throw limit(`a transaction may hold at most ${this.limits.maxBytes} bytes`);
    tx.actions.push(action);
    tx.bytes += bytes;
  }

  /** end the transaction and hand back its actions, in order */
  commit(id: string): TxAction[] {
    const tx = this.get(id);
    this.open.delete(id);
    return tx.actions;
  }

  abort(id: string): void {
    this.get(id);
    this.open.delete(id);
  }

  /** has the transaction been begun (and not yet ended)? throws if not */
  check(id: string): void {
    this.get(id);
  }

  clear(): void {
    this.open.clear();
  }

  private get(id: string): Tx {
    const tx = this.open.get(id);
    if (tx === undefined) throw new GatewayError(ErrorCode.PROTOCOL, 'no such transaction', { detail: `transaction "${id}" was not begun (or has ended)` });
    return tx;
  }
}

function limit(detail: string): GatewayError {
  return new GatewayError(ErrorCode.LIMIT_EXCEEDED, 'too many transactions or transactional frames', { detail });
}
