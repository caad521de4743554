// /metrics in the Prometheus text format (scraped without credentials, as exporters are).
import type { FastifyInstance } from 'fastify';
import type { Metrics } from '../../metrics.js';

export function registerMetricsRoute(app: FastifyInstance, metrics: Metrics): void {
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });
}
