// /metrics in the Prometheus text format (scraped without credentials, as exporters are). In a
// cluster one exposition for every worker (process-group.ts says how series merge).
import type { FastifyInstance } from 'fastify';
import type { ProcessGroup } from '../process-group.js';

export function registerMetricsRoute(app: FastifyInstance, group: ProcessGroup): void {
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await group.metrics();
    return reply.header('content-type', contentType).send(text);
  });
}
