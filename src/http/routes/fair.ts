// /api/fair (every stream) and /api/fair/<stream>: the figures of fairStatus() (src/fair), in a
// cluster merged over the workers: the leading worker's dispatcher figures, every worker's own
// counts summed, each worker's role listed (process-group.ts).
import type { FastifyInstance } from 'fastify';
import type { ProcessGroup } from '../process-group.js';

export function registerFairRoutes(api: FastifyInstance, group: ProcessGroup): void {
  api.get('/api/fair', async () => group.fairStreams());
  api.get<{ Params: { stream: string } }>('/api/fair/:stream', async (request, reply) => {
    const status = await group.fairStream(request.params.stream);
    if (status === undefined) return reply.code(404).send({ error: 'not found', message: `no fair stream ${request.params.stream}` });
    return status;
  });
}
