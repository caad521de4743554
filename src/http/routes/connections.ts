// /api/connections: list (filter by protocol, user, ip), show one, close one. Closing asks
// the protocol to say goodbye (STOMP ERROR, MQTT 5 DISCONNECT, WAMP GOODBYE) and cuts the
// link if it has not closed within the shutdown timeout.
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from '../../protocols/types.js';
import { withTimeout } from '../../transport/acceptor.js';

interface ListQuery {
  protocol?: string;
  user?: string;
  ip?: string;
}

export function registerConnectionRoutes(api: FastifyInstance, ctx: GatewayContext): void {
  api.get<{ Querystring: ListQuery }>('/api/connections', async (request) => {
    const { protocol, user, ip } = request.query;
    return ctx.registry.list().filter((c) =>
      (protocol === undefined || c.protocol === protocol)
      && (user === undefined || c.user === user)
      && (ip === undefined || c.peer === ip || c.peer.startsWith(`${ip}:`) || c.peer.startsWith(`[${ip}]:`)));
  });

  api.get<{ Params: { id: string } }>('/api/connections/:id', async (request, reply) => {
    const entry = ctx.registry.get(request.params.id);
    if (!entry) return reply.code(404).send({ error: 'not found', message: `no connection ${request.params.id}` });
    return entry.conn.describe();
  });

  api.delete<{ Params: { id: string } }>('/api/connections/:id', async (request, reply) => {
    const entry = ctx.registry.get(request.params.id);
    if (!entry) return reply.code(404).send({ error: 'not found', message: `no connection ${request.params.id}` });
    const why = request.headers['x-reason'];
    const reason = typeof why === 'string' && why !== '' ? `closed by administrator: ${why}` : 'closed by administrator';
    request.log.info({ conn: request.params.id, reason }, 'closing connection on request');
    try {
      await withTimeout(entry.conn.shutdown(reason), ctx.config.shutdownTimeoutMs);
    } finally {
      if (!entry.link.closed) entry.link.destroy(reason);
    }
    return reply.code(204).send();
  });
}
