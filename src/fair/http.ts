// /api/fair (every stream) and /api/fair/<stream>: the figures of fairStatus(). Registered in
// the management API's scope (administrator only), like /api/connections.
import type { FastifyInstance } from 'fastify';
import type { Fabric } from '../fabric/types.js';
import { FairFabric, type FairStreamStatus } from './fair-fabric.js';

export interface FairStatusSource {
  streamNames(): string[];
  fairStatus(stream: string): FairStreamStatus | undefined;
}

/** the gateway's fair streams, or null when its fabric has none */
export function fairStatusSource(fabric: Fabric): FairStatusSource | null {
  return fabric instanceof FairFabric ? fabric : null;
}

export function registerFairRoutes(api: FastifyInstance, fair: FairStatusSource | null): void {
  api.get('/api/fair', async () => ({ streams: (fair?.streamNames() ?? []).map((name) => fair?.fairStatus(name)) }));
  api.get<{ Params: { stream: string } }>('/api/fair/:stream', async (request, reply) => {
    const status = fair?.fairStatus(request.params.stream);
    if (status === undefined) return reply.code(404).send({ error: 'not found', message: `no fair stream ${request.params.stream}` });
    return status;
  });
}
