// A raw STOMP test client over a real TCP socket: frames out through our serializer, frames in
// through our parser (client side), `await next()` for what the server sent. No client library
// in between, so tests see exactly what is on the wire.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { serializeFrame, type StompFrame, type StompVersion } from '../../../../src/protocols/stomp/frame.js';
import { StompParser } from '../../../../src/protocols/stomp/parser.js';

export class RawStompClient {
  readonly frames: StompFrame[] = [];
  /** EOLs received, including the one the server writes after each frame's NUL */
  heartbeats = 0;
  framesSeen = 0;
  parseError: Error | undefined;
  version: StompVersion = '1.2';
  readonly closed: Promise<void>;
  private waiter: (() => void) | undefined;
  /** emits 'data' after each read from the server */
  readonly events = new EventEmitter();
  private isClosed = false;
  readonly parser = new StompParser({ maxFrameBytes: 64 << 20, maxHeaders: 1000, maxHeaderBytes: 1 << 20 });

  private constructor(readonly socket: net.Socket) {
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        this.waiter?.();
        resolve();
      });
    });
    socket.on('error', () => undefined);
    socket.on('data', (data: Buffer) => {
      for (const e of this.parser.push(data)) {
        if (e.kind === 'frame') {
          this.frames.push(e.frame);
          this.framesSeen++;
        }
        else if (e.kind === 'heartbeat') this.heartbeats++;
        else this.parseError = e.error;
      }
      this.waiter?.();
      this.events.emit('data');
    });
  }

  /** resolves once `condition` holds, re-checked after every read from any of `clients` */
  static until(clients: RawStompClient[], condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error('timed out waiting for a condition'));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        for (const c of clients) c.events.off('data', check);
      };
      for (const c of clients) c.events.on('data', check);
      check();
    });
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawStompClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => resolve(new RawStompClient(socket)));
      socket.once('error', reject);
    });
  }

  /** CONNECT (1.2, guest) and wait for CONNECTED */
  static async connect(port: number, headers: Record<string, string> = {}): Promise<RawStompClient> {
    const c = await RawStompClient.open(port);
    const connected = await c.request('CONNECT', { 'accept-version': '1.2', host: '/', ...headers });
    if (connected.command !== 'CONNECTED') throw new Error(`expected CONNECTED, got ${connected.command}: ${connected.headers['message']} ${connected.body.toString()}`);
    return c;
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** EOL heart-beats, not counting the EOL after each frame */
  get beats(): number {
    return this.heartbeats - this.framesSeen;
  }

  send(command: string, headers: Record<string, string> = {}, body: string | Buffer = ''): void {
    if (command === 'CONNECT' || command === 'STOMP') {
      // the server picks the highest version offered: decode what comes back accordingly
      const offered = (headers['accept-version'] ?? '1.0').split(',').filter((v) => ['1.0', '1.1', '1.2'].includes(v)).sort();
      this.parser.version = this.version = (offered.at(-1) ?? '1.0') as StompVersion;
    }
    this.socket.write(serializeFrame({ command, headers: Object.entries(headers), body }, this.version, false));
  }

  /** send and wait for the next frame */
  async request(command: string, headers: Record<string, string> = {}, body: string | Buffer = ''): Promise<StompFrame> {
    this.send(command, headers, body);
    return this.next();
  }

  /** send with a receipt and wait for that RECEIPT (fails on ERROR) */
  async withReceipt(command: string, headers: Record<string, string> = {}, body: string | Buffer = ''): Promise<void> {
    const receipt = `r-${Math.random().toString(36).slice(2)}`;
    this.send(command, { ...headers, receipt }, body);
    const frame = await this.nextMatching((f) => f.command === 'ERROR' || (f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt));
    if (frame.command === 'ERROR') throw new Error(`ERROR ${frame.headers['message']}: ${frame.body.toString()}`);
  }

  /** the next frame from the server, in order */
  async next(timeoutMs = 10_000): Promise<StompFrame> {
    return this.nextMatching(() => true, timeoutMs);
  }

  /** the first frame (in order) that matches; frames before it stay queued */
  async nextMatching(match: (f: StompFrame) => boolean, timeoutMs = 10_000): Promise<StompFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.parseError) throw this.parseError;
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.isClosed) throw new Error(`connection closed while waiting; frames left: ${this.frames.map((f) => f.command).join(',')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a frame; frames left: ${this.frames.map((f) => `${f.command} ${JSON.stringify(f.headers)}`).join(',')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  /** collect `n` MESSAGE frames */
  async messages(n: number, timeoutMs = 10_000): Promise<StompFrame[]> {
    const out: StompFrame[] = [];
    while (out.length < n) out.push(await this.nextMatching((f) => f.command === 'MESSAGE' || f.command === 'ERROR', timeoutMs));
    const error = out.find((f) => f.command === 'ERROR');
    if (error) throw new Error(`ERROR ${error.headers['message']}: ${error.body.toString()}`);
    return out;
  }

  /** expect no MESSAGE for `ms` (only for asserting absence, after a positive sync point) */
  async noMessageFor(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const m = this.frames.find((f) => f.command === 'MESSAGE');
    if (m) throw new Error(`unexpected MESSAGE ${JSON.stringify(m.headers)} ${m.body.toString()}`);
  }

  async disconnect(): Promise<void> {
    if (this.isClosed) return;
    try {
      await this.withReceipt('DISCONNECT');
    } catch {
      // already going
    }
    this.socket.end();
    await this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
