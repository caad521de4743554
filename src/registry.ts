// Every live connection of the process: what /api/connections lists and what a graceful
// stop walks. Protocol modules add their connections; the transport adds any they did not
// and removes each one when its link closes, so nothing is missed or leaked.

import type { ConnectionRegistry } from './protocols/types.js';
import type { ClientLink, ConnectionDescription, ProtocolConnection } from './transport/types.js';

export interface RegisteredConnection {
  conn: ProtocolConnection;
  link: ClientLink;
}

export class ConnectionTable implements ConnectionRegistry {
  private readonly entries = new Map<string, RegisteredConnection>();

  add(id: string, conn: ProtocolConnection, link: ClientLink): void {
    this.entries.set(id, { conn, link });
  }

  remove(id: string): void {
    this.entries.delete(id);
  }

  get(id: string): RegisteredConnection | undefined {
    return this.entries.get(id);
  }

  list(): ConnectionDescription[] {
    return [...this.entries.values()].map(({ conn, link }) => describeSafely(conn, link));
  }

  all(): RegisteredConnection[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }
}

/** a protocol bug in describe() must not break the management API */
export function describeSafely(conn: ProtocolConnection, link: ClientLink): ConnectionDescription {
  try {
    return conn.describe();
  } catch {
    return {
      id: link.id,
      protocol: link.id.split('-')[0] as ConnectionDescription['protocol'],
      transport: link.transport,
      peer: `${link.peer.address}:${link.peer.port}`,
      connectedAt: ((link as { openedAt?: Date }).openedAt ?? new Date()).toISOString(),
      subscriptions: 0,
    };
  }
}
