// A minimal STOMP 1.2 client for benchmarks: CONNECT, SUBSCRIBE (with a receipt, so the
// subscription is known to exist), SEND, ACK. Frames are built as strings and parsed with
// content-length; no client library, so the client costs the same against every server.
import { openConn, type Conn, type Endpoint } from './conn.js';

export interface StompFrame {
  command: string;
  headers: Map<string, string>;
  body: Buffer;
}

export type AckMode = 'auto' | 'client' | 'client-individual';

export interface StompOptions {
  login?: string;
  passcode?: string;
  host?: string;
  timeoutMs?: number;
}

const EMPTY = Buffer.alloc(0);
const NUL = 0;
const LF = 10;
const CR = 13;

export class StompClient {
  private buf: Buffer = EMPTY;
  private readonly waiting = new Map<string, (frame: StompFrame) => void>();
  private onConnected: ((frame: StompFrame) => void) | undefined;
  private readonly subscriptions = new Map<string, { ack: AckMode; listener: (body: Buffer, frame: StompFrame) => void }>();
  private nextSub = 0;
  private nextReceipt = 0;
  lastError: string | undefined;

  private constructor(private readonly conn: Conn) {
    conn.onData((chunk) => this.feed(chunk));
    conn.onClose(() => {
      for (const done of this.waiting.values()) done({ command: 'CLOSED', headers: new Map(), body: EMPTY });
      this.waiting.clear();
      this.onConnected?.({ command: 'CLOSED', headers: new Map(), body: EMPTY });
    });
  }

  static async connect(endpoint: Endpoint, opts: StompOptions = {}): Promise<StompClient> {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const conn = await openConn(endpoint, timeoutMs);
    const client = new StompClient(conn);
    const frame = await new Promise<StompFrame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no CONNECTED within ${timeoutMs} ms`)), timeoutMs);
      client.onConnected = (f) => {
        clearTimeout(timer);
        resolve(f);
      };
      conn.write(
        `CONNECT\naccept-version:1.2\nhost:${opts.host ?? '/'}\nlogin:${opts.login ?? 'guest'}\npasscode:${opts.passcode ?? 'guest'}\nheart-beat:0,0\n\n\0`,
      );
    });
    client.onConnected = undefined;
    if (frame.command !== 'CONNECTED') {
      conn.destroy();
      throw new Error(`STOMP CONNECT refused: ${frame.command} ${frame.headers.get('message') ?? ''}`);
    }
    return client;
  }

  /** resolves once the server has sent the RECEIPT for the SUBSCRIBE */
  async subscribe(
    destination: string,
    ack: AckMode,
    listener: (body: Buffer, frame: StompFrame) => void,
    extraHeaders: Record<string, string> = {},
  ): Promise<string> {
    const id = `s${this.nextSub++}`;
    this.subscriptions.set(id, { ack, listener });
    const extra = Object.entries(extraHeaders)
      .map(([k, v]) => `${k}:${v}\n`)
      .join('');
    await this.withReceipt(`SUBSCRIBE\nid:${id}\ndestination:${destination}\nack:${ack}\n${extra}`);
    return id;
  }

  /** `head` is a pre-built "SEND\ndestination:…\n" prefix (see sendPrefix) */
  send(head: string, body: Buffer | string): void {
    const text = typeof body === 'string' ? body : body.toString('latin1');
    this.conn.write(`${head}content-length:${Buffer.byteLength(text, 'latin1')}\n\n${text}\0`);
  }

  disconnect(): void {
    this.conn.write('DISCONNECT\n\n\0');
    this.conn.end();
  }

  destroy(): void {
    this.conn.destroy();
  }

  private withReceipt(frameHead: string, timeoutMs = 10_000): Promise<void> {
    const receipt = `r${this.nextReceipt++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no RECEIPT within ${timeoutMs} ms (${this.lastError ?? 'no ERROR frame'})`)), timeoutMs);
      this.waiting.set(receipt, (frame) => {
        clearTimeout(timer);
        if (frame.command === 'RECEIPT') resolve();
        else reject(new Error(`${frame.command}: ${this.lastError ?? ''}`));
      });
      this.conn.write(`${frameHead}receipt:${receipt}\n\n\0`);
    });
  }

  private feed(chunk: Buffer): void {
    const buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    let off = 0;
    for (;;) {
      // heart-beats and the optional EOLs between frames
      while (off < buf.length && (buf[off] === LF || buf[off] === CR)) off++;
      if (off >= buf.length) break;
      const headEnd = buf.indexOf('\n\n', off, 'latin1');
      const headEndCr = headEnd < 0 ? buf.indexOf('\r\n\r\n', off, 'latin1') : -1;
      if (headEnd < 0 && headEndCr < 0) break;
      const bodyStart = headEnd >= 0 ? headEnd + 2 : headEndCr + 4;
      const head = buf.toString('utf8', off, headEnd >= 0 ? headEnd : headEndCr).split(/\r?\n/);
      const headers = new Map<string, string>();
      for (let i = 1; i < head.length; i++) {
        const line = head[i]!;
        const colon = line.indexOf(':');
        if (colon > 0 && !headers.has(line.slice(0, colon))) headers.set(line.slice(0, colon), line.slice(colon + 1));
      }
      const lengthText = headers.get('content-length');
      let bodyEnd: number;
      if (lengthText !== undefined) {
        bodyEnd = bodyStart + Number(lengthText);
        if (buf.length < bodyEnd + 1) break;
      } else {
        bodyEnd = buf.indexOf(NUL, bodyStart);
        if (bodyEnd < 0) break;
      }
      this.frame({ command: head[0]!, headers, body: buf.subarray(bodyStart, bodyEnd) });
      off = bodyEnd + 1;
    }
    this.buf = off >= buf.length ? EMPTY : buf.subarray(off);
  }

  private frame(frame: StompFrame): void {
    switch (frame.command) {
      case 'MESSAGE': {
        const sub = this.subscriptions.get(frame.headers.get('subscription') ?? '');
        if (!sub) return;
        sub.listener(frame.body, frame);
        if (sub.ack !== 'auto') {
          const ackId = frame.headers.get('ack') ?? frame.headers.get('message-id') ?? '';
          this.conn.write(`ACK\nid:${ackId}\n\n\0`);
        }
        return;
      }
      case 'CONNECTED':
        this.onConnected?.(frame);
        return;
      case 'RECEIPT': {
        const id = frame.headers.get('receipt-id') ?? '';
        const done = this.waiting.get(id);
        this.waiting.delete(id);
        done?.(frame);
        return;
      }
      case 'ERROR':
        this.lastError = `${frame.headers.get('message') ?? ''} ${frame.body.toString('utf8')}`.trim();
        this.onConnected?.(frame);
        for (const done of this.waiting.values()) done(frame);
        this.waiting.clear();
        return;
      default:
        return;
    }
  }
}

export function sendPrefix(destination: string): string {
  return `SEND\ndestination:${destination}\n`;
}
