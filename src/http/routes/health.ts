// /healthz: the process is up. /readyz: ready for traffic (fabric connected and not blocked,
// every listener bound, not stopping); 503 with the reasons otherwise, so a load balancer
// drains this instance. Neither needs credentials and neither reveals secrets.
import type { FastifyInstance } from 'fastify';

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export function registerHealthRoutes(app: FastifyInstance, readiness: () => Readiness): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = readiness();
    if (state.ready) return { status: 'ok' };
    return reply.code(503).header('retry-after', '5').send({ status: 'unavailable', reasons: state.reasons });
  });
}
