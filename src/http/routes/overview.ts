// /api/overview: what this gateway is, what it listens on, how many are connected (in a
// cluster: summed over the workers, each worker listed; process-group.ts).
import type { FastifyInstance } from 'fastify';
import type { ProcessGroup } from '../process-group.js';

export function registerOverviewRoute(api: FastifyInstance, group: ProcessGroup): void {
  api.get('/api/overview', async () => group.overview());
}
