// What a transport (TCP, TLS, WebSocket) hands to a protocol: a duplex link with
// backpressure. Transports own sockets and nothing else.

import type { Peer } from '../auth/types.js';

export type TransportKind = 'tcp' | 'tls' | 'ws' | 'wss';

export interface ClientLink {
  /** unique per process, e.g. "stomp-17" */
  readonly id: string;
  readonly transport: TransportKind;
  readonly peer: Peer;
  /** TLS client certificate subject CN, when one was presented and verified */
  readonly certificateCN?: string | undefined;
  /** WebSocket subprotocol chosen in the handshake */
  readonly subprotocol?: string | undefined;
  /**
   * Queue bytes (or a WebSocket message) to the client. Returns false when the client is
   * backed up; the transport disconnects a client that does not drain within its
   * configured time, so callers may keep writing but should stop producing.
   */
  send(data: Buffer | string): boolean;
  /** bytes queued and not yet taken by the kernel */
  readonly pendingBytes: number;
  /** resolves when pending output has drained */
  onDrain(listener: () => void): void;
  /** stop/resume reading from the client (used for flow control) */
  pauseReading(): void;
  resumeReading(): void;
  /** flush what is queued, then close */
  end(): void;
  /** close now */
  destroy(reason?: string): void;
  readonly closed: boolean;
}

/** A protocol's view of one connection. The transport feeds it and tells it when it ends. */
export interface ProtocolConnection {
  /** bytes from a stream transport, or one whole message from a WebSocket */
  onData(data: Buffer): void;
  /** the link closed (by either side); release everything */
  onClose(error?: Error): void;
  /** graceful server shutdown: send the protocol's goodbye, settle what can be settled, close */
  shutdown(reason: string): Promise<void>;
  /** for /api/connections */
  describe(): ConnectionDescription;
}

export interface ConnectionDescription {
  id: string;
  protocol: 'stomp' | 'mqtt' | 'wamp';
  transport: TransportKind;
  peer: string;
  user?: string | undefined;
  vhost?: string | undefined;
  clientId?: string | undefined;
  version?: string | undefined;
  connectedAt: string;
  subscriptions: number;
}
