// The live page at `/`: connections by protocol, and a topic viewer that is itself a WAMP
// client over /ws (public/live-page/*.js, no build step). The page polls an unauthenticated
// summary under its own route: counts only (connections, subscriptions, messages per
// protocol), never users, addresses or names; /api stays behind administrator auth.

import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GatewayContext } from '../protocols/types.js';
import type { ConnectionDescription } from '../transport/types.js';

/** public/live-page, from src/http (tsx) or dist/http (built): two levels below the root */
const ASSET_DIR = new URL('../../public/live-page/', import.meta.url);
const ASSETS: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'wamp.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};
/** the summary is computed at most this often, however many pages poll it */
const SUMMARY_CACHE_MS = 1000;

// Scripts and styles only from this origin; WebSocket back to it.
const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'none'";

type Protocol = ConnectionDescription['protocol'];
const PROTOCOLS: readonly Protocol[] = ['stomp', 'mqtt', 'wamp'];

export interface LiveSummary {
  node: string;
  fabric: { kind: string; connected: boolean; blocked: boolean };
  uptimeSeconds: number;
  connections: { total: number; byProtocol: Record<Protocol, number>; byTransport: Record<string, number> };
  subscriptions: Record<Protocol, number>;
  messages: { received: Record<Protocol, number>; delivered: Record<Protocol, number> };
}

/** `summary`: the figures of every worker of the process group (process-group.ts) */
export async function registerLivePage(app: FastifyInstance, ctx: GatewayContext, summary: () => Promise<LiveSummary>): Promise<void> {
  const assets = loadAssets(ctx);
  let cached: { at: number; summary: Promise<LiveSummary> } | null = null;

  app.get('/', async (_req, reply) => sendAsset(reply, assets, 'index.html'));
  app.get<{ Params: { file: string } }>('/live-page/:file', async (req, reply) => {
    if (!assets.has(req.params.file)) return reply.code(404).send({ error: 'not found' });
    return sendAsset(reply, assets, req.params.file);
  });
  app.get('/live-page/summary.json', async (_req, reply) => {
    if (cached === null || Date.now() - cached.at > SUMMARY_CACHE_MS) cached = { at: Date.now(), summary: summary() };
    return reply.header('cache-control', 'no-store').send(await cached.summary);
  });
}

/** a missing asset directory (an install without public/) costs the page, never the gateway */
function loadAssets(ctx: GatewayContext): Map<string, Buffer> {
  try {
    return new Map(Object.keys(ASSETS).map((name) => [name, readFileSync(new URL(name, ASSET_DIR))]));
  } catch (err) {
    ctx.log.warn({ err: (err as Error).message, dir: ASSET_DIR.pathname }, 'live page assets not found: / is not served');
    return new Map();
  }
}

function sendAsset(reply: FastifyReply, assets: Map<string, Buffer>, name: string) {
  if (!assets.has(name)) return reply.code(404).send({ error: 'live page not installed' });
  return reply
    .header('content-type', ASSETS[name])
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-cache')
    .send(assets.get(name));
}

export async function summarize(ctx: GatewayContext, startedAt: number): Promise<LiveSummary> {
  const byProtocol = zero();
  const subscriptions = zero();
  const byTransport: Record<string, number> = {};
  const connections = ctx.registry.list();
  for (const c of connections) {
    byProtocol[c.protocol] += 1;
    subscriptions[c.protocol] += c.subscriptions;
    byTransport[c.transport] = (byTransport[c.transport] ?? 0) + 1;
  }
  const status = ctx.fabric.status();
  return {
    node: ctx.nodeId,
    fabric: { kind: ctx.fabric.kind, connected: status.connected, blocked: status.blocked },
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    connections: { total: connections.length, byProtocol, byTransport },
    subscriptions,
    messages: {
      received: await perProtocol(ctx.metrics.messagesReceived),
      delivered: await perProtocol(ctx.metrics.messagesDelivered),
    },
  };
}

function zero(): Record<Protocol, number> {
  return { stomp: 0, mqtt: 0, wamp: 0 };
}

async function perProtocol(counter: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> }): Promise<Record<Protocol, number>> {
  const out = zero();
  for (const { value, labels } of (await counter.get()).values) {
    const p = labels.protocol as Protocol;
    if (PROTOCOLS.includes(p)) out[p] += value;
  }
  return out;
}
