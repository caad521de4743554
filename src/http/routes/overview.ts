// /api/overview: what this gateway is, what it listens on, how many are connected.
import type { FastifyInstance } from 'fastify';

export function registerOverviewRoute(api: FastifyInstance, overview: () => Record<string, unknown>): void {
  api.get('/api/overview', async () => overview());
}
