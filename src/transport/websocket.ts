// WebSocket on the HTTP server's 'upgrade' (ws in noServer mode).
// - /ws: the subprotocol picks the protocol (v12.stomp, mqtt, wamp.2.json, ...): the first
//   one the client offers that some protocol serves;
// - /stomp, /mqtt, /wamp: fixed protocol; a subprotocol the client offers is still negotiated;
// - an unknown path is refused with 404, an unusable subprotocol with 400, a full house or a
//   stopping gateway with 503, more new connections per second than allowed with 429, all in
//   the handshake;
// - on the HTTPS server the same endpoints are WSS: the link says 'wss' and carries the
//   verified client certificate's CN (see tls.ts).
// Each WebSocket message is one onData(Buffer); send(string) is a text frame, send(Buffer) a
// binary one; the frames written in one event-loop turn leave in one writev (turn-cork.ts).
// The server pings every peer once per pingIntervalMs; a peer that has not answered a ping
// (nor sent anything) for a whole interval is cut, at the latest about two intervals after the
// ping. The pings of a round are spread over PING_SLICES timer ticks: one pass over every
// socket in one turn cost ~40-90 µs per peer on the loaded 2-core machine (2,000 pings: 83-183
// ms in one turn), a stall every interval for everything else the gateway was doing.
// The handshake timeout is enforced by the HTTP server (headersTimeout, see http/server.ts).

import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../log.js';
import type { ProtocolModule } from '../protocols/types.js';
import type { Acceptor } from './acceptor.js';
import type { Link, LinkIo } from './link.js';
import { formatPeer, peerOf } from './peer.js';
import { clientIdentity, type TlsSettings } from './tls.js';
import { corkForTurn } from './turn-cork.js';

const END_GRACE_MS = 5_000;
/** a round of pings (every socket once) is spread over this many ticks of the ping timer */
const PING_SLICES = 20;

export interface WebSocketListenerOptions {
  modules: readonly ProtocolModule[];
  acceptor: Acceptor;
  maxMessageBytes: number;
  pingIntervalMs: number;
  log: Logger;
  /** TLS settings of the HTTPS server, for the client certificate of a WSS connection */
  tls?: TlsSettings | null | undefined;
}

type Route = { module: ProtocolModule; subprotocol: string | undefined; certificateCN?: string | undefined } | { status: 400 | 403 | 404 | 429 | 503; reason: string };

interface Tracked {
  link: Link;
  /** heard from (a message or a pong) since the last ping */
  alive: boolean;
  /** Date.now() when the last ping went out */
  pingedAt: number;
}

export class WebSocketListener {
  private readonly wss: WebSocketServer;
  private readonly chosen = new WeakMap<IncomingMessage, string | undefined>();
  private readonly sockets = new Map<WebSocket, Tracked>();
  private readonly pingTimer: NodeJS.Timeout | undefined;
  /** the round of pings under way: where it stands and how many sockets each tick takes */
  private pingRound: Iterator<[WebSocket, Tracked]> | undefined;
  private pingChunk = 1;
  private pingRoundStartedAt = Number.NEGATIVE_INFINITY;
  private stopping = false;

  constructor(private readonly opts: WebSocketListenerOptions) {
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: opts.maxMessageBytes,
      handleProtocols: (_offered, req) => this.chosen.get(req) ?? false,
    });
    if (opts.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => this.pingSlice(), Math.max(1, Math.floor(opts.pingIntervalMs / PING_SLICES)));
      this.pingTimer.unref();
    }
  }

  /** the routes this listener answers, for logs and the overview */
  paths(): string[] {
    return ['/ws', ...this.opts.modules.map((m) => `/${m.name}`)];
  }

  /** the http server's 'upgrade' listener */
  readonly handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const route = this.route(req);
    if ('status' in route) {
      this.opts.log.debug({ url: req.url, status: route.status, reason: route.reason }, 'websocket handshake refused');
      refuse(socket, route.status, route.reason);
      return;
    }
    this.chosen.set(req, route.subprotocol);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, route.module, socket as Socket, route.certificateCN));
  };

  /** refuse new handshakes and stop pinging; open connections are shut down by the acceptor */
  stop(): void {
    this.stopping = true;
    if (this.pingTimer) clearInterval(this.pingTimer);
  }

  private route(req: IncomingMessage): Route {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    const route = path === '/ws' ? this.routeBySubprotocol(offered) : this.routeByPath(path, offered);
    if ('status' in route) return route;
    if (this.stopping) return { status: 503, reason: 'server shutting down' };
    const secure = isSecure(req.socket);
    let certificateCN: string | undefined;
    if (secure && this.opts.tls) {
      const identity = clientIdentity(req.socket as TLSSocket, this.opts.tls);
      if ('refused' in identity) {
        this.opts.acceptor.refused(route.module.name, 'wss', peerOf(req.socket), 'client_certificate', identity.refused);
        return { status: 403, reason: 'client certificate not accepted' };
      }
      certificateCN = identity.certificateCN;
    }
    const refusal = this.opts.acceptor.knock(route.module.name, secure ? 'wss' : 'ws', peerOf(req.socket));
    if (refusal === undefined) return { ...route, certificateCN };
    return { status: refusal.kind === 'rate' ? 429 : 503, reason: refusal.reason };
  }

  private routeBySubprotocol(offered: string[]): Route {
    for (const subprotocol of offered) {
      const module = this.opts.modules.find((m) => m.wsSubprotocols.includes(subprotocol));
      if (module) return { module, subprotocol };
    }
    const served = this.opts.modules.flatMap((m) => m.wsSubprotocols).join(', ');
    return { status: 400, reason: offered.length === 0 ? `/ws needs a subprotocol: one of ${served}` : `no supported subprotocol offered (supported: ${served})` };
  }

  private routeByPath(path: string, offered: string[]): Route {
    const module = this.opts.modules.find((m) => `/${m.name}` === path);
    if (!module) return { status: 404, reason: `no WebSocket endpoint at ${path} (try /ws, ${this.opts.modules.map((m) => `/${m.name}`).join(', ')})` };
    if (offered.length === 0) return { module, subprotocol: undefined };
    const subprotocol = offered.find((p) => module.wsSubprotocols.includes(p));
    if (subprotocol) return { module, subprotocol };
    return { status: 400, reason: `${path} serves subprotocols ${module.wsSubprotocols.join(', ')}` };
  }

  private accept(ws: WebSocket, module: ProtocolModule, socket: Socket, certificateCN: string | undefined): void {
    ws.binaryType = 'nodebuffer';
    const peer = peerOf(socket);
    const client = { transport: isSecure(socket) ? 'wss' as const : 'ws' as const, peer, subprotocol: ws.protocol || undefined, certificateCN };
    const result = this.opts.acceptor.open(module, webSocketIo(ws, socket), client);
    if ('refused' in result) {
      ws.close(1013, 'try again later');
      return;
    }
    const tracked: Tracked = { link: result.link, alive: true, pingedAt: 0 };
    this.sockets.set(ws, tracked);
    let error: Error | undefined;
    ws.on('message', (data: RawData) => {
      tracked.alive = true;
      result.link.receive(toBuffer(data));
    });
    ws.on('pong', () => {
      tracked.alive = true;
    });
    ws.on('error', (err) => {
      error = err;
      this.opts.log.debug({ conn: result.link.id, peer: formatPeer(peer), err }, 'websocket error');
    });
    ws.on('close', () => {
      this.sockets.delete(ws);
      result.link.handleClose(error);
    });
  }

  /**
   * One tick of the ping timer: the next slice of the current round. A round starts at most
   * once per interval and visits every socket once (one added during the round is visited at
   * its end); a socket heard from since its last ping is pinged again, one that was not is cut
   * once the ping is an interval old, else left for the next round.
   */
  private pingSlice(): void {
    const now = Date.now();
    if (this.pingRound === undefined) {
      if (now - this.pingRoundStartedAt < this.opts.pingIntervalMs) return;
      this.pingRoundStartedAt = now;
      this.pingRound = this.sockets.entries();
      this.pingChunk = Math.max(1, Math.ceil(this.sockets.size / PING_SLICES));
    }
    for (let i = 0; i < this.pingChunk; i++) {
      const next = this.pingRound.next();
      if (next.done === true) {
        this.pingRound = undefined;
        return;
      }
      const [ws, tracked] = next.value;
      if (tracked.alive) {
        tracked.alive = false;
        tracked.pingedAt = now;
        ws.ping();
      } else if (now - tracked.pingedAt >= this.opts.pingIntervalMs) {
        tracked.link.fail('timeout', `no pong within ${this.opts.pingIntervalMs} ms`);
      }
    }
  }
}

function isSecure(socket: Socket | Duplex): boolean {
  return (socket as Partial<TLSSocket>).encrypted === true;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function webSocketIo(ws: WebSocket, socket: Socket): LinkIo {
  return {
    write: (data, done) => {
      corkForTurn(socket);
      ws.send(data, { binary: typeof data !== 'string' }, done);
    },
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    end: () => {
      ws.close(1000);
      // cleared on close: a pending timer would keep the closed socket (and what it read) alive
      const grace = setTimeout(() => ws.terminate(), END_GRACE_MS).unref();
      ws.once('close', () => clearTimeout(grace));
    },
    destroy: () => ws.terminate(),
  };
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const body = `${reason}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n`
      + (status === 429 ? 'Retry-After: 1\r\n' : '')
      + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.once('finish', () => socket.destroy());
}
