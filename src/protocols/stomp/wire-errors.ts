// The one place where errors become STOMP ERROR frames. A STOMP server closes the connection
// after every ERROR (STOMP 1.2 §ERROR: "it MUST then close the connection"), so this is
// always the last frame a client sees. The short text goes in the `message` header (what
// clients display), the explanation in the body; the cause never leaves the server.

import { ErrorCode, type GatewayError } from '../../errors.js';
import type { OutgoingFrame } from './frame.js';
import { SUPPORTED_VERSIONS } from './negotiation.js';

export function errorFrame(err: GatewayError, receiptId?: string): OutgoingFrame {
  const headers: Array<[string, string]> = [['message', err.message]];
  if (receiptId !== undefined) headers.push(['receipt-id', receiptId]);
  // STOMP 1.2 §Protocol Negotiation: the ERROR for a version mismatch lists what we speak
  if (err.code === ErrorCode.PROTOCOL && err.message === 'unsupported protocol version') headers.push(['version', SUPPORTED_VERSIONS]);
  headers.push(['content-type', 'text/plain']);
  return { command: 'ERROR', headers, body: `${err.detail ?? err.message}\n` };
}
