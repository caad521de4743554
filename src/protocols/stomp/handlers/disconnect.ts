// DISCONNECT: receipts after everything published before has been confirmed (STOMP 1.2
// §DISCONNECT: the receipt assures the client that all previous frames were received), then
// close. Open transactions are dropped with the session.

import type { StompFrame } from '../frame.js';
import type { StompSession } from '../session.js';

export async function handleDisconnect(s: StompSession, frame: StompFrame): Promise<void> {
  s.receipt(frame);
  s.state = 'closing';
  await s.receiptsSent();
  s.wire.end();
}
