// What the process-wide broker and dealer see of one WAMP session.

import type { Principal } from '../../auth/types.js';
import type { Outbound } from './messages.js';
import type { Serializer } from './serializer.js';

export interface WampPeer {
  /** WAMP session ID (global scope) */
  readonly sessionId: number;
  readonly authid: string;
  readonly authrole: string;
  readonly principal: Principal;
  readonly serializer: Serializer;
  /** false once the session has left or its connection closed */
  readonly open: boolean;
  send(message: Outbound): void;
  /** a message already encoded with this peer's serializer (shared by many receivers) */
  sendEncoded(data: string | Buffer): void;
  /** the next router-to-client request ID (session scope: INVOCATION) */
  nextRequestId(): number;
  /** roles.<role>.features.<feature> the client announced in HELLO */
  supports(role: 'callee' | 'caller' | 'subscriber' | 'publisher', feature: string): boolean;
}
