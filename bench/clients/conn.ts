// The byte pipe a bench client speaks through: a TCP socket or a WebSocket. Writes made in
// one tick are coalesced (TCP: cork until the next tick; WebSocket: one message per packet,
// as browser clients send them).
import { connect as netConnect, type Socket } from 'node:net';
import WebSocket from 'ws';

export type Endpoint =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'ws'; url: string; protocol: string; text?: boolean };

export interface Conn {
  write(chunk: Buffer | string): void;
  onData(listener: (chunk: Buffer) => void): void;
  onClose(listener: (err?: Error) => void): void;
  /** graceful close (FIN / WebSocket close) */
  end(): void;
  /** immediate close; on TCP a reset, so no TIME_WAIT is left behind */
  destroy(): void;
}

export function describe(endpoint: Endpoint): string {
  return endpoint.kind === 'tcp' ? `tcp://${endpoint.host}:${endpoint.port}` : `${endpoint.url} (${endpoint.protocol})`;
}

export function openConn(endpoint: Endpoint, timeoutMs = 10_000): Promise<Conn> {
  return endpoint.kind === 'tcp' ? openTcp(endpoint.host, endpoint.port, timeoutMs) : openWs(endpoint, timeoutMs);
}

function openTcp(host: string, port: number, timeoutMs: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(new TcpConn(socket));
    });
  });
}

class TcpConn implements Conn {
  private corked = false;

  constructor(private readonly socket: Socket) {
    socket.on('error', () => {
      // reported through 'close'
    });
  }

  write(chunk: Buffer | string): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(chunk);
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.socket.on('data', listener);
  }

  onClose(listener: (err?: Error) => void): void {
    this.socket.once('close', (hadError) => listener(hadError ? new Error('socket closed with an error') : undefined));
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    if (typeof this.socket.resetAndDestroy === 'function' && !this.socket.destroyed) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }
}

function openWs(endpoint: Extract<Endpoint, { kind: 'ws' }>, timeoutMs: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(endpoint.url, [endpoint.protocol], { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    ws.binaryType = 'nodebuffer';
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {
        // reported through 'close'
      });
      resolve(new WsConn(ws, endpoint.text === true));
    });
  });
}

class WsConn implements Conn {
  constructor(
    private readonly ws: WebSocket,
    private readonly text: boolean,
  ) {}

  write(chunk: Buffer | string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (this.text) this.ws.send(typeof chunk === 'string' ? chunk : chunk.toString('utf8'), { binary: false });
    else this.ws.send(chunk, { binary: true });
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.ws.on('message', (data: WebSocket.RawData) => {
      if (Buffer.isBuffer(data)) listener(data);
      else if (Array.isArray(data)) listener(Buffer.concat(data));
      else listener(Buffer.from(data));
    });
  }

  onClose(listener: (err?: Error) => void): void {
    this.ws.once('close', () => listener());
  }

  end(): void {
    this.ws.close();
  }

  destroy(): void {
    this.ws.terminate();
  }
}
