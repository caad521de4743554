// /api/connections: list (filter by protocol, user, ip), show one, close one; /api/subscriptions:
// who subscribes to how much. Across every worker of the process group (process-group.ts): in
// a cluster each connection says which worker and pid hold it. Closing asks the protocol to say
// goodbye (STOMP ERROR, MQTT 5 DISCONNECT, WAMP GOODBYE) and cuts the link if it has not closed
// within the shutdown timeout.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { MissingWorker } from '../cluster-gather.js';
import type { ProcessGroup } from '../process-group.js';

interface ListQuery {
  protocol?: string;
  user?: string;
  ip?: string;
}

/** the list stays a plain array; what a cluster could not include is said in headers */
export function describeGaps(reply: FastifyReply, gaps: { truncated: boolean; missing?: MissingWorker[] | undefined }): void {
  if (gaps.truncated) reply.header('x-tributary-truncated', 'true');
  if (gaps.missing !== undefined && gaps.missing.length > 0) {
    reply.header('x-tributary-missing-workers', gaps.missing.map((m) => `${m.worker} (pid ${m.pid ?? '?'}: ${m.reason})`).join(', '));
  }
}

export function registerConnectionRoutes(api: FastifyInstance, group: ProcessGroup): void {
  api.get<{ Querystring: ListQuery }>('/api/connections', async (request, reply) => {
    const { protocol, user, ip } = request.query;
    const listing = await group.connections({ protocol, user, ip });
    describeGaps(reply, listing);
    return listing.items;
  });

  api.get<{ Params: { id: string } }>('/api/connections/:id', async (request, reply) => {
    const entry = await group.connection(request.params.id);
    if (!entry) return reply.code(404).send({ error: 'not found', message: `no connection ${request.params.id}` });
    return entry;
  });

  api.delete<{ Params: { id: string } }>('/api/connections/:id', async (request, reply) => {
    const why = request.headers['x-reason'];
    const reason = typeof why === 'string' && why !== '' ? `closed by administrator: ${why}` : 'closed by administrator';
    const closed = await group.closeConnection(request.params.id, reason);
    if (!closed) return reply.code(404).send({ error: 'not found', message: `no connection ${request.params.id}` });
    return reply.code(204).send();
  });

  api.get('/api/subscriptions', async (_request, reply) => {
    const view = await group.subscriptions();
    describeGaps(reply, view);
    return view;
  });
}
