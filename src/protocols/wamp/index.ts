// WAMP v2 router on the fabric (JSON and MessagePack over WebSocket): messages.ts and
// serializer.ts (codec), uri.ts and payload.ts (the mapping onto amq.topic and AMQP bodies),
// connection.ts → session.ts → handlers/ (one session), router.ts (process-wide broker and
// dealer per vhost). See docs/websocket.md.

import type { ProtocolFactory, ProtocolModule } from '../types.js';
import { WampConnection } from './connection.js';
import { WampRouter } from './router.js';
import { SUBPROTOCOLS } from './serializer.js';

export const WAMP_WS_SUBPROTOCOLS = Object.keys(SUBPROTOCOLS) as (keyof typeof SUBPROTOCOLS)[];

export const createWampProtocol: ProtocolFactory = (ctx): ProtocolModule => {
  const router = new WampRouter(ctx);
  return {
    name: 'wamp',
    wsSubprotocols: WAMP_WS_SUBPROTOCOLS,
    accept(link) {
      const conn = new WampConnection(ctx, link, router);
      ctx.registry.add(link.id, conn, link);
      return conn;
    },
    close: () => router.close(),
  };
};
