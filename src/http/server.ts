// The HTTP side: health and readiness, Prometheus metrics, the management API and the
// WebSocket upgrade. buildHttp() never listens (fastify's build()); the gateway does.

import http from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { fairStatusSource, registerFairRoutes } from '../fair/index.js';
import type { GatewayContext } from '../protocols/types.js';
import { requireAdministrator } from './admin-auth.js';
import { registerLivePage } from './live-page.js';
import { registerConnectionRoutes } from './routes/connections.js';
import { registerHealthRoutes, type Readiness } from './routes/health.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerOverviewRoute } from './routes/overview.js';

/** management requests are small; the limit guards against memory abuse (RabbitMQ CVE-2023-46118) */
export const BODY_LIMIT_BYTES = 1024 * 1024;
/** Node's default request header limit is 16 KiB; say so rather than rely on it */
export const MAX_HEADER_BYTES = 16 * 1024;

export interface HttpDeps {
  ctx: GatewayContext;
  readiness(): Readiness;
  /** gateway facts for /api/overview that only the gateway knows (bound ports, uptime) */
  overview(): Record<string, unknown>;
  /** the 'upgrade' listener of the HTTP server (WebSocket) */
  upgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** further routes, e.g. the live page */
  plugins?: readonly FastifyPluginAsync[];
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const { ctx } = deps;
  const headersTimeout = ctx.config.websocket.handshakeTimeoutMs > 0 ? Math.min(ctx.config.websocket.handshakeTimeoutMs, 60_000) : 60_000;
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    forceCloseConnections: true,
    return503OnClosing: true,
    serverFactory: (handler) => {
      const server = http.createServer({
        maxHeaderSize: MAX_HEADER_BYTES,
        // a client must send its request (or WebSocket upgrade) headers within the handshake timeout
        headersTimeout,
        requestTimeout: Math.max(30_000, headersTimeout + 1_000),
        connectionsCheckingInterval: Math.min(1_000, headersTimeout),
      }, handler);
      if (deps.upgrade) server.on('upgrade', deps.upgrade);
      return server;
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http request');
  });
  registerHealthRoutes(app, deps.readiness);
  registerMetricsRoute(app, ctx.metrics);
  app.register(async (api) => {
    api.addHook('onRequest', requireAdministrator(ctx));
    registerConnectionRoutes(api, ctx);
    registerOverviewRoute(api, deps.overview);
    registerFairRoutes(api, fairStatusSource(ctx.fabric));
  });
  app.register(async (page) => registerLivePage(page, ctx));
  for (const plugin of deps.plugins ?? []) app.register(plugin);
  return app;
}
