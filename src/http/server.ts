// The HTTP side: health and readiness, Prometheus metrics, the management API and the
// WebSocket upgrade. Health and readiness are this process's own; metrics, the management API
// and the live page describe the whole process group (process-group.ts). buildHttp() never listens (fastify's build()); the gateway does.
// createHttpsServer() serves the same app over HTTPS (httpTlsPort) with the same limits.

import http from 'node:http';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { fairStatusSource } from '../fair/index.js';
import type { GatewayContext } from '../protocols/types.js';
import { requireAdministrator } from './admin-auth.js';
import { registerLivePage, summarize } from './live-page.js';
import { createProcessGroup } from './process-group.js';
import { registerConnectionRoutes } from './routes/connections.js';
import { registerFairRoutes } from './routes/fair.js';
import { registerHealthRoutes, type Readiness } from './routes/health.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerOverviewRoute } from './routes/overview.js';
import { clientIdentity, type TlsSettings } from '../transport/tls.js';

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

/** the Node server options of both the HTTP and the HTTPS server */
function nodeServerOptions(ctx: GatewayContext): http.ServerOptions {
  const headersTimeout = ctx.config.websocket.handshakeTimeoutMs > 0 ? Math.min(ctx.config.websocket.handshakeTimeoutMs, 60_000) : 60_000;
  return {
    maxHeaderSize: MAX_HEADER_BYTES,
    // a client must send its request (or WebSocket upgrade) headers within the handshake timeout
    headersTimeout,
    requestTimeout: Math.max(30_000, headersTimeout + 1_000),
    connectionsCheckingInterval: Math.min(1_000, headersTimeout),
  };
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const { ctx } = deps;
  const app = Fastify({
    loggerInstance: ctx.log.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    forceCloseConnections: true,
    return503OnClosing: true,
    serverFactory: (handler) => {
      const server = http.createServer(nodeServerOptions(ctx), handler);
      if (deps.upgrade) server.on('upgrade', deps.upgrade);
      return server;
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'http request');
  });
  // /metrics, /api/* and the live page describe every worker of a `--workers N` group
  const startedAt = Date.now();
  const group = createProcessGroup({ ctx, overview: deps.overview, fair: fairStatusSource(ctx.fabric), liveSummary: () => summarize(ctx, startedAt) });
  app.addHook('onClose', async () => group.close());
  registerHealthRoutes(app, deps.readiness);
  registerMetricsRoute(app, group);
  app.register(async (api) => {
    api.addHook('onRequest', requireAdministrator(ctx));
    registerConnectionRoutes(api, group);
    registerOverviewRoute(api, group);
    registerFairRoutes(api, group);
  });
  app.register(async (page) => registerLivePage(page, ctx, () => group.liveSummary()));
  for (const plugin of deps.plugins ?? []) app.register(plugin);
  return app;
}

export interface HttpsDeps {
  ctx: GatewayContext;
  tls: TlsSettings;
  upgrade?: ((req: http.IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  /** a client whose presented certificate failed verification (clientCertificates: request) */
  onRefused?: ((socket: TLSSocket, reason: string) => void) | undefined;
}

/**
 * The app's routes over HTTPS: same handler (fastify's `routing`, usable once the app is
 * ready), same header/body limits, the WebSocket upgrade as WSS. Not listening yet.
 */
export function createHttpsServer(app: FastifyInstance, deps: HttpsDeps): https.Server {
  const server = https.createServer({ ...nodeServerOptions(deps.ctx), ...deps.tls.serverOptions }, (req, res) => app.routing(req, res));
  server.on('secureConnection', (socket) => {
    const identity = clientIdentity(socket, deps.tls);
    if (!('refused' in identity)) return;
    deps.onRefused?.(socket, identity.refused);
    socket.destroy();
  });
  server.on('tlsClientError', (err, socket) => {
    deps.ctx.log.debug({ err: err.message, component: 'https' }, 'TLS handshake failed');
    socket.destroy();
  });
  if (deps.upgrade) server.on('upgrade', deps.upgrade);
  return server;
}
