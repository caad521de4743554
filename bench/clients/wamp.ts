// A minimal WAMP v2 JSON peer for benchmarks (publisher, subscriber, caller, callee) over
// the `ws` package: HELLO/WELCOME, SUBSCRIBE/EVENT, PUBLISH, REGISTER/INVOCATION/YIELD and
// CALL/RESULT. No autobahn: its promise machinery per message would be what gets measured.
import WebSocket from 'ws';

const HELLO = 1;
const WELCOME = 2;
const ABORT = 3;
const ERROR = 8;
const PUBLISH = 16;
const SUBSCRIBE = 32;
const SUBSCRIBED = 33;
const EVENT = 36;
const CALL = 48;
const RESULT = 50;
const REGISTER = 64;
const REGISTERED = 65;
const INVOCATION = 68;
const YIELD = 70;

type Pending = { resolve: (msg: unknown[]) => void; reject: (err: Error) => void };

export class WampClient {
  private nextRequest = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly events = new Map<number, (args: unknown[]) => void>();
  private readonly procedures = new Map<number, (args: unknown[]) => unknown[]>();
  /** RESULT for a CALL made with callNoWait */
  onResult: ((args: unknown[]) => void) | undefined;
  private welcomed: Pending | undefined;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: WebSocket.RawData) => this.message(String(data)));
    ws.on('close', () => {
      const err = new Error('WebSocket closed');
      this.welcomed?.reject(err);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  static async connect(url: string, realm: string, timeoutMs = 10_000): Promise<WampClient> {
    const ws = new WebSocket(url, ['wamp.2.json'], { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', () => undefined);
    const client = new WampClient(ws);
    await new Promise<unknown[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no WELCOME within ${timeoutMs} ms`)), timeoutMs);
      client.welcomed = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const roles = { publisher: {}, subscriber: {}, caller: {}, callee: {} };
      ws.send(JSON.stringify([HELLO, realm, { roles }]));
    });
    client.welcomed = undefined;
    return client;
  }

  async subscribe(topic: string, onEvent: (args: unknown[]) => void): Promise<void> {
    const reply = await this.request([SUBSCRIBE, 0, {}, topic]);
    this.events.set(reply[2] as number, onEvent);
  }

  async register(procedure: string, handler: (args: unknown[]) => unknown[]): Promise<void> {
    const reply = await this.request([REGISTER, 0, {}, procedure]);
    this.procedures.set(reply[2] as number, handler);
  }

  publish(topic: string, args: unknown[]): void {
    this.ws.send(JSON.stringify([PUBLISH, this.nextRequest++, {}, topic, args]));
  }

  /** a CALL whose RESULT goes to onResult (no promise per call) */
  callNoWait(procedure: string, args: unknown[]): void {
    this.ws.send(JSON.stringify([CALL, this.nextRequest++, {}, procedure, args]));
  }

  close(): void {
    this.ws.close();
  }

  private request(msg: unknown[], timeoutMs = 10_000): Promise<unknown[]> {
    const id = this.nextRequest++;
    msg[1] = id;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${JSON.stringify(msg)} within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.ws.send(JSON.stringify(msg));
    });
  }

  private message(text: string): void {
    const msg = JSON.parse(text) as unknown[];
    switch (msg[0]) {
      case EVENT:
        this.events.get(msg[1] as number)?.((msg[4] as unknown[] | undefined) ?? []);
        return;
      case RESULT:
        this.onResult?.((msg[3] as unknown[] | undefined) ?? []);
        return;
      case INVOCATION: {
        const handler = this.procedures.get(msg[2] as number);
        const args = (msg[4] as unknown[] | undefined) ?? [];
        this.ws.send(JSON.stringify([YIELD, msg[1], {}, handler ? handler(args) : args]));
        return;
      }
      case WELCOME:
        this.welcomed?.resolve(msg);
        return;
      case ABORT:
        this.welcomed?.reject(new Error(`ABORT ${JSON.stringify(msg)}`));
        return;
      case SUBSCRIBED:
      case REGISTERED: {
        const p = this.pending.get(msg[1] as number);
        this.pending.delete(msg[1] as number);
        p?.resolve(msg);
        return;
      }
      case ERROR: {
        const p = this.pending.get(msg[2] as number);
        this.pending.delete(msg[2] as number);
        p?.reject(new Error(`WAMP ERROR ${JSON.stringify(msg)}`));
        return;
      }
      default:
        return;
    }
  }
}
