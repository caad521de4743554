// STOMP 1.0–1.2 on the fabric: codec (parser.ts, frame.ts) → session state machine
// (connection.ts, session.ts, handlers/) → Fabric, with RabbitMQ's destinations and the
// ActiveMQ dialect (destination.ts, headers.ts, endpoints.ts, queue-dispatch.ts).

import { packageInfo } from '../../config/package-info.js';
import type { ProtocolFactory, ProtocolModule } from '../types.js';
import { BrokerWatch } from './broker-watch.js';
import { StompConnection } from './connection.js';
import { DispatchRegistry } from './queue-dispatch.js';
import type { StompShared } from './session.js';

export const STOMP_WS_SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'] as const;

export const createStompProtocol: ProtocolFactory = (ctx): ProtocolModule => {
  const shared: StompShared = {
    dispatch: new DispatchRegistry(),
    broker: new BrokerWatch(ctx.fabric, ctx.config.stomp.brokerDownGraceMs),
    server: `Tributary/${packageInfo().version}`,
  };
  return {
    name: 'stomp',
    wsSubprotocols: STOMP_WS_SUBPROTOCOLS,
    accept(link) {
      const conn = new StompConnection(ctx, link, shared);
      ctx.registry.add(link.id, conn, link);
      return conn;
    },
  };
};
