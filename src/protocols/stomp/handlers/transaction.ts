// BEGIN / COMMIT / ABORT. COMMIT replays the transaction's SENDs and ACK/NACKs in order; its
// RECEIPT comes after every publish of the transaction is confirmed. ABORT drops them.

import { ErrorCode, GatewayError } from '../../../errors.js';
import type { StompFrame } from '../frame.js';
import type { StompSession } from '../session.js';

export async function handleBegin(s: StompSession, frame: StompFrame): Promise<void> {
  s.assertConnected();
  s.transactions.begin(transactionOf(frame));
  s.receipt(frame);
}

export async function handleCommit(s: StompSession, frame: StompFrame): Promise<void> {
  s.assertConnected();
  for (const action of s.transactions.commit(transactionOf(frame))) await action();
  s.receipt(frame);
}

export async function handleAbort(s: StompSession, frame: StompFrame): Promise<void> {
  s.assertConnected();
  s.transactions.abort(transactionOf(frame));
  s.receipt(frame);
}

function transactionOf(frame: StompFrame): string {
  const tx = frame.headers['transaction'];
  if (tx === undefined || tx === '') throw new GatewayError(ErrorCode.MISSING_HEADER, 'missing transaction header', { detail: `${frame.command} needs a "transaction" header`, fatal: true });
  return tx;
}
