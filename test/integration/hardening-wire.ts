// Raw clients for the TLS and hardening tests: a STOMP frame reader/writer over any socket
// (TCP or TLS) or WebSocket, and small helpers to wait for a socket to close.
import { once } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';

export interface Frame {
  command: string;
  headers: Record<string, string>;
  body: string;
}

export function encodeFrame(command: string, headers: Record<string, string> = {}, body = ''): string {
  const lines = Object.entries(headers).map(([k, v]) => `${k}:${v}`);
  return `${command}\n${lines.join('\n')}${lines.length ? '\n' : ''}\n${body}\0`;
}

function decodeFrame(text: string): Frame {
  const blank = text.indexOf('\n\n');
  const head = (blank === -1 ? text : text.slice(0, blank)).split('\n');
  const headers: Record<string, string> = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !(line.slice(0, colon) in headers)) headers[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return { command: head[0] ?? '', headers, body: blank === -1 ? '' : text.slice(blank + 2) };
}

/** STOMP frames over a byte stream (frames without NULs in their bodies, as the tests send) */
export class StompWire {
  private buffered = '';
  private readonly frames: Frame[] = [];
  private waiters: (() => void)[] = [];
  private ended = false;
  readonly closed: Promise<void>;

  constructor(readonly socket: Duplex) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('utf8');
      this.drainFrames();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.ended = true;
      this.wake();
      resolve();
    }));
  }

  send(command: string, headers: Record<string, string> = {}, body = ''): void {
    this.socket.write(encodeFrame(command, headers, body));
  }

  /** the next frame; rejects when the socket closes first */
  async frame(): Promise<Frame> {
    for (;;) {
      const next = this.frames.shift();
      if (next) return next;
      if (this.ended) throw new Error('socket closed before a frame arrived');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async connect(headers: Record<string, string> = {}): Promise<Frame> {
    this.send('CONNECT', { 'accept-version': '1.2', host: '/', 'heart-beat': '0,0', ...headers });
    return this.frame();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private drainFrames(): void {
    for (;;) {
      const trimmed = this.buffered.replace(/^[\r\n]+/, '');
      const nul = trimmed.indexOf('\0');
      if (nul === -1) {
        this.buffered = trimmed;
        break;
      }
      this.frames.push(decodeFrame(trimmed.slice(0, nul)));
      this.buffered = trimmed.slice(nul + 1);
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

export async function tcpConnect(port: number, localAddress?: string): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) });
  await once(socket, 'connect');
  return socket;
}

/** resolves when the socket closes, with whatever it received */
export function closedWith(socket: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
}

export function wsClosed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
}
