// What every protocol module receives from the gateway, and what it offers back.

import type { Authenticator } from '../auth/types.js';
import type { Config } from '../config/schema.js';
import type { Fabric } from '../fabric/types.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ClientLink, ConnectionDescription, ProtocolConnection } from '../transport/types.js';

export type ProtocolName = 'stomp' | 'mqtt' | 'wamp';

/** Every live connection of the process, for the management API and graceful shutdown. */
export interface ConnectionRegistry {
  add(id: string, conn: ProtocolConnection, link: ClientLink): void;
  remove(id: string): void;
  get(id: string): { conn: ProtocolConnection; link: ClientLink } | undefined;
  list(): ConnectionDescription[];
  readonly size: number;
}

export interface GatewayContext {
  readonly config: Config;
  readonly fabric: Fabric;
  readonly auth: Authenticator;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly registry: ConnectionRegistry;
  /** unique per gateway process (used in queue names that must not collide across processes) */
  readonly nodeId: string;
}

export interface ProtocolModule {
  readonly name: ProtocolName;
  /** WebSocket subprotocols this module serves (e.g. ['v12.stomp', 'v11.stomp', 'v10.stomp']) */
  readonly wsSubprotocols: readonly string[];
  /** one connection per link; the module registers it in ctx.registry */
  accept(link: ClientLink): ProtocolConnection;
  /** release module-wide resources (e.g. shared consumers) after every connection is gone */
  close?(): Promise<void>;
}

export type ProtocolFactory = (ctx: GatewayContext) => ProtocolModule;
