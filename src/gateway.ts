// buildGateway composes the process: fabric, authenticator, metrics, registry, protocol
// modules, listeners (TCP and TLS per protocol, WebSocket and management on HTTP and HTTPS).
// Building binds nothing (fastify's build()) but reads the TLS files; start() binds, stop()
// drains.

import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { createAuthenticator, type ManagedAuthenticator } from './auth/index.js';
import type { Authenticator } from './auth/types.js';
import { flagFor } from './config/cli-flags.js';
import { redactUrl } from './config/load.js';
import { packageInfo } from './config/package-info.js';
import type { Config } from './config/schema.js';
import { ErrorCode, GatewayError, isGatewayError } from './errors.js';
import { AmqpFabric } from './fabric/amqp/index.js';
import { EmbeddedFabric } from './fabric/embedded/index.js';
import type { Fabric } from './fabric/types.js';
import { FairFabric, registerFairMetrics } from './fair/index.js';
import { buildHttp, createHttpsServer } from './http/server.js';
import type { Readiness } from './http/routes/health.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type Metrics } from './metrics.js';
import { protocolFactories } from './protocols/index.js';
import type { GatewayContext, ProtocolFactory, ProtocolModule, ProtocolName } from './protocols/types.js';
import { ConnectionTable } from './registry.js';
import { Acceptor, withTimeout } from './transport/acceptor.js';
import { ConnectionAdmission } from './transport/admission.js';
import { bindError } from './transport/bind-error.js';
import { TcpListener } from './transport/tcp.js';
import { peerOf } from './transport/peer.js';
import { loadTls, type TlsSettings } from './transport/tls.js';
import { WebSocketListener } from './transport/websocket.js';

export interface BoundPorts {
  stomp: number | null;
  mqtt: number | null;
  http: number | null;
  /** TLS listeners: null unless tls.certFile is set and the port is not off */
  stompTls: number | null;
  mqttTls: number | null;
  httpTls: number | null;
}

type TcpPortName = 'stomp' | 'mqtt' | 'stompTls' | 'mqttTls';

export interface GatewayOptions {
  log?: Logger;
  /** a fabric to use instead of the one the config selects (it is started and closed by the gateway) */
  fabric?: Fabric;
  /** protocol modules to serve (default: every protocol in src/protocols/index.ts) */
  protocols?: readonly ProtocolFactory[];
  metrics?: Metrics;
}

export interface Gateway {
  readonly ctx: GatewayContext;
  /** the bound ports once started (null: that listener is off) */
  readonly ports: BoundPorts;
  /** the HTTP app, for inject() in tests */
  readonly http: FastifyInstance;
  readonly modules: readonly ProtocolModule[];
  start(): Promise<BoundPorts>;
  stop(reason?: string): Promise<void>;
  readiness(): Readiness;
  /** re-read the users file (SIGHUP) */
  reloadUsers(): Promise<void>;
}

/** protocols with TCP listeners: the config of the plain and of the TLS port */
const TCP_PROTOCOLS: Partial<Record<ProtocolName, { plain: TcpPortName; tls: TcpPortName; config: (config: Config) => { port: number | null; tlsPort: number | null } }>> = {
  stomp: { plain: 'stomp', tls: 'stompTls', config: (config) => config.stomp },
  mqtt: { plain: 'mqtt', tls: 'mqttTls', config: (config) => config.mqtt },
};

/** share of shutdownTimeoutMs given to clients' goodbyes; the rest is for modules and the fabric */
const CONNECTION_SHARE = 0.6;

export function buildGateway(config: Config, options: GatewayOptions = {}): Gateway {
  const log = options.log ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? createMetrics();
  const fabric = withFairStreams(options.fabric ?? createFabric(config, log, metrics), config, log, metrics);
  const tls = loadTls(config.tls, config.limits.connectTimeoutMs);
  const auth: Authenticator = createAuthenticator(config.auth, log.child({ component: 'auth' }));
  const registry = new ConnectionTable();
  const ctx: GatewayContext = { config, fabric, auth, log, metrics, registry, nodeId: makeNodeId() };
  const modules = (options.protocols ?? protocolFactories).map((factory) => factory(ctx));
  const acceptor = new Acceptor({
    log: log.child({ component: 'transport' }),
    metrics,
    registry,
    admission: new ConnectionAdmission(config.limits),
    limits: config.limits,
  });
  const tcp = tcpListeners(config, modules, acceptor, log, tls);
  const websocket = new WebSocketListener({
    modules, acceptor, log: log.child({ component: 'websocket' }), tls,
    maxMessageBytes: config.websocket.maxMessageBytes, pingIntervalMs: config.websocket.pingIntervalMs,
  });
  const ports: BoundPorts = { stomp: null, mqtt: null, http: null, stompTls: null, mqttTls: null, httpTls: null };
  const startedAt = new Date();
  let state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  let stopping: Promise<void> | undefined;

  watchFabric(fabric, log, metrics, () => state === 'stopping' || state === 'stopped');

  function readiness(): Readiness {
    const reasons: string[] = [];
    if (state === 'new' || state === 'starting') reasons.push('starting');
    if (state === 'stopping' || state === 'stopped') reasons.push('stopping');
    const status = fabric.status();
    if (!status.connected) reasons.push(`fabric not connected${status.reason ? `: ${status.reason}` : ''}`);
    if (status.blocked) reasons.push(`fabric blocked${status.reason ? `: ${status.reason}` : ' by broker flow control'}`);
    if (state === 'running') {
      for (const listener of tcp.values()) if (!listener.listening) reasons.push(`${listener.key} listener not bound`);
      if (config.httpPort !== null && !http.server.listening) reasons.push('httpPort listener not bound');
      if (https && !https.listening) reasons.push('httpTlsPort listener not bound');
    }
    return { ready: reasons.length === 0, reasons };
  }

  const http = buildHttp({
    ctx,
    readiness,
    upgrade: websocket.handleUpgrade,
    overview: () => ({
      product: packageInfo().name,
      version: packageInfo().version,
      node: ctx.nodeId,
      startedAt: startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
      fabric: { kind: fabric.kind, url: config.amqpUrl ? redactUrl(config.amqpUrl) : null, ...fabric.status() },
      listeners: { ...ports, websocket: ports.http === null && ports.httpTls === null ? [] : websocket.paths() },
      protocols: modules.map((m) => ({ name: m.name, wsSubprotocols: m.wsSubprotocols })),
      connections: countByProtocol(registry.list().map((c) => c.protocol)),
      ready: readiness(),
    }),
  });
  const https = tls && config.httpTlsPort !== null ? httpsServer(http, ctx, tls, websocket, acceptor) : undefined;

  async function start(): Promise<BoundPorts> {
    if (state !== 'new') throw new GatewayError(ErrorCode.INTERNAL, `gateway cannot start: it is ${state}`);
    state = 'starting';
    if (!options.fabric && fabric.kind === 'embedded') log.info('embedded fabric: no amqpUrl configured');
    try {
      await startFabric(fabric, config);
      if (config.httpPort !== null) ports.http = await listenHttp(http, config);
      if (https) ports.httpTls = await listenHttps(https, http, config);
      for (const [name, listener] of tcp) ports[name] = await listener.listen();
    } catch (err) {
      state = 'stopped';
      await Promise.allSettled([...[...tcp.values()].map((l) => l.close()), http.close(), closeHttps(https), fabric.close()]);
      throw err;
    }
    state = 'running';
    return { ...ports };
  }

  function stop(reason = 'server shutting down'): Promise<void> {
    stopping ??= drain(reason);
    return stopping;
  }

  async function drain(reason: string): Promise<void> {
    const wasRunning = state === 'running' || state === 'starting';
    state = 'stopping';
    log.info({ reason, connections: acceptor.size }, 'stopping');
    const budget = config.shutdownTimeoutMs;
    const deadline = Date.now() + budget;
    acceptor.refuseNew(reason);
    websocket.stop();
    const listenersClosed = [...tcp.values()].map((l) => l.close());
    if (wasRunning) await acceptor.shutdownAll(reason, Math.floor(budget * CONNECTION_SHARE));
    for (const module of modules) {
      await withTimeout(module.close?.().catch((err: unknown) => log.warn({ err, protocol: module.name }, 'protocol module close failed')) ?? Promise.resolve(), remaining(deadline));
    }
    const fabricClosed = await withTimeout(fabric.close().then(() => true), remaining(deadline));
    if (!fabricClosed) log.warn('fabric did not close within the shutdown timeout');
    (auth as Partial<ManagedAuthenticator>).close?.();
    await withTimeout(Promise.all([http.close(), closeHttps(https)]), remaining(deadline));
    await withTimeout(Promise.all(listenersClosed), remaining(deadline));
    state = 'stopped';
    log.info('stopped');
  }

  return {
    ctx,
    ports,
    http,
    modules,
    start,
    stop,
    readiness,
    reloadUsers: async () => {
      await (auth as Partial<ManagedAuthenticator>).reload?.();
    },
  };
}

function remaining(deadline: number): number {
  return Math.max(100, deadline - Date.now());
}

function createFabric(config: Config, log: Logger, metrics: Metrics): Fabric {
  if (config.amqpUrl === null) return new EmbeddedFabric({ log: log.child({ component: 'fabric' }) });
  return new AmqpFabric({ url: config.amqpUrl, connectionsPerVhost: config.amqpConnections, log, metrics });
}

/** fair.streams configured: every session publishes through fair-stream ingress (src/fair) */
function withFairStreams(fabric: Fabric, config: Config, log: Logger, metrics: Metrics): Fabric {
  if (config.fair.streams.length === 0 || fabric instanceof FairFabric) return fabric;
  // on RabbitMQ the dispatchers get connections of their own (two: dispatching and intake
  // sorting spread over them): their confirms must not queue behind the clients' publishes
  const dispatchFabric =
    fabric.kind === 'amqp' && config.amqpUrl !== null ? new AmqpFabric({ url: config.amqpUrl, connectionsPerVhost: 2, log: log.child({ fabric: 'fair-dispatch' }) }) : undefined;
  const fair = new FairFabric(fabric, { streams: config.fair.streams, defaultVhost: config.auth.defaultVhost, log, ...(dispatchFabric ? { dispatchFabric } : {}) });
  registerFairMetrics(metrics.registry, fair);
  return fair;
}

async function startFabric(fabric: Fabric, config: Config): Promise<void> {
  try {
    await fabric.start();
  } catch (err) {
    if (isGatewayError(err)) throw err;
    const where = config.amqpUrl ? ` at ${redactUrl(config.amqpUrl)} (--amqp-url)` : '';
    throw new GatewayError(ErrorCode.BACKEND_UNAVAILABLE, `cannot start the ${fabric.kind} fabric${where}: ${(err as Error).message}`, { cause: err });
  }
}

async function listenHttp(http: FastifyInstance, config: Config): Promise<number> {
  const port = config.httpPort ?? 0;
  try {
    await http.listen({ host: config.host, port, listenTextResolver: (address) => `http listening on ${address}` });
  } catch (err) {
    throw bindError(err, { key: 'httpPort', flag: flagFor(['httpPort']), host: config.host, port });
  }
  const address = http.server.address();
  return typeof address === 'object' && address ? address.port : port;
}

/** the HTTPS server for httpTlsPort: the app's routes, WSS, refusals counted as the acceptor does */
function httpsServer(http: FastifyInstance, ctx: GatewayContext, tls: TlsSettings, websocket: WebSocketListener, acceptor: Acceptor): HttpsServer {
  return createHttpsServer(http, {
    ctx, tls, upgrade: websocket.handleUpgrade,
    onRefused: (socket, reason) => acceptor.refused('http', 'wss', peerOf(socket), 'client_certificate', reason),
  });
}

async function listenHttps(server: HttpsServer, http: FastifyInstance, config: Config): Promise<number> {
  const port = config.httpTlsPort ?? 0;
  await http.ready();
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(bindError(err, { key: 'httpTlsPort', flag: flagFor(['httpTlsPort']), host: config.host, port }));
    server.once('error', onError);
    server.listen({ host: config.host, port, exclusive: !cluster.isWorker }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeHttps(server: HttpsServer | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function tcpListeners(config: Config, modules: readonly ProtocolModule[], acceptor: Acceptor, log: Logger, tls: TlsSettings | null): Map<TcpPortName, TcpListener> {
  const listeners = new Map<TcpPortName, TcpListener>();
  for (const module of modules) {
    const spec = TCP_PROTOCOLS[module.name];
    if (!spec) continue;
    const { port, tlsPort } = spec.config(config);
    const listener = (key: 'port' | 'tlsPort', value: number, secure: TlsSettings | undefined) => new TcpListener({
      module, acceptor, tls: secure, log: log.child({ component: secure ? 'tls' : 'tcp', protocol: module.name }),
      option: { key: `${module.name}.${key}`, flag: flagFor([module.name, key]), host: config.host, port: value },
    });
    if (port !== null) listeners.set(spec.plain, listener('port', port, undefined));
    if (tls && tlsPort !== null) listeners.set(spec.tls, listener('tlsPort', tlsPort, tls));
  }
  return listeners;
}

function watchFabric(fabric: Fabric, log: Logger, metrics: Metrics, stopping: () => boolean): void {
  fabric.on('up', () => {
    metrics.fabricUp.set(1);
  });
  fabric.on('down', (reason) => {
    metrics.fabricUp.set(0);
    if (!stopping()) log.warn({ fabric: fabric.kind, reason }, 'fabric down');
  });
  fabric.on('blocked', (reason) => {
    metrics.fabricBlocked.set(1);
    log.warn({ fabric: fabric.kind, reason }, 'fabric blocked: clients publishing are paused');
  });
  fabric.on('unblocked', () => {
    metrics.fabricBlocked.set(0);
    log.info({ fabric: fabric.kind }, 'fabric unblocked');
  });
}

function countByProtocol(protocols: readonly string[]): Record<string, number> & { total: number } {
  const counts: Record<string, number> & { total: number } = { total: protocols.length };
  for (const p of protocols) counts[p] = (counts[p] ?? 0) + 1;
  return counts;
}

function makeNodeId(): string {
  const host = hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 32) || 'node';
  return `${host}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
