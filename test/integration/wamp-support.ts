// Test-side WAMP peers: autobahn (the reference client) and a raw WebSocket that speaks
// WAMP JSON/MessagePack frames directly, for what autobahn will not send (malformed input).

import { createRequire } from 'node:module';
import { afterAll, beforeAll } from 'vitest';
import WebSocket from 'ws';
import type { Config } from '../../src/config/schema.js';
import { jsonSerializer, msgpackSerializer } from '../../src/protocols/wamp/serializer.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { DeepPartial } from '../support/config.js';

const require = createRequire(import.meta.url);

/* eslint-disable @typescript-eslint/no-explicit-any */
export interface AbEvent {
  publication: number;
  topic: string;
  publisher?: number;
  publisher_authid?: string;
  publisher_authrole?: string;
}
export interface AbInvocation {
  procedure: string;
  progress: ((args?: unknown[], kwargs?: Record<string, unknown>) => void) | null;
  caller?: number;
  caller_authid?: string;
}
export interface AbSubscription {
  id: number;
  topic: string;
}
export interface AbRegistration {
  id: number;
  procedure: string;
}
export interface AbSession {
  readonly id: number;
  readonly isOpen: boolean;
  readonly features: Record<string, Record<string, boolean>>;
  subscribe(topic: string, handler: (args: unknown[], kwargs: Record<string, unknown>, details: AbEvent) => void, options?: Record<string, unknown>): Promise<AbSubscription>;
  unsubscribe(sub: AbSubscription): Promise<unknown>;
  publish(topic: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: Record<string, unknown>): Promise<{ id: number }> | undefined;
  register(procedure: string, endpoint: (args: unknown[], kwargs: Record<string, unknown>, details: AbInvocation) => unknown, options?: Record<string, unknown>): Promise<AbRegistration>;
  unregister(reg: AbRegistration): Promise<unknown>;
  call<T = unknown>(procedure: string, args?: unknown[], kwargs?: Record<string, unknown>, options?: Record<string, unknown>): PromiseLike<T> & {
    then<R>(onResult: (v: T) => R, onError?: (e: any) => unknown, onProgress?: (v: unknown) => void): PromiseLike<R>;
    cancel(options?: Record<string, unknown>): void;
  };
  leave(reason?: string, message?: string): void;
}
export interface AbConnection {
  onopen: (session: AbSession, details: Record<string, unknown>) => void;
  onclose: (reason: string, details: Record<string, unknown>) => boolean;
  open(): void;
  close(reason?: string, message?: string): void;
}
interface AutobahnModule {
  Connection: new (options: Record<string, unknown>) => AbConnection;
  Result: new (args?: unknown[], kwargs?: Record<string, unknown>) => unknown;
  Error: new (error: string, args?: unknown[], kwargs?: Record<string, unknown>) => Error & { error: string; args: unknown[]; kwargs: Record<string, unknown> };
  serializer: { JSONSerializer: new () => unknown; MsgpackSerializer: new () => unknown };
  auth_cra: { derive_key(secret: string, salt: string, iterations?: number, keylen?: number): string; sign(key: string, challenge: string): string };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

// autobahn binds console.warn when it loads and warns on every close; keep other warnings
function loadAutobahn(): AutobahnModule {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && /^(connection closed|auto-reconnect disabled)/.test(args[0])) return;
    warn(...args);
  };
  try {
    return require('autobahn') as AutobahnModule;
  } finally {
    // the filter stays bound inside autobahn; restore ours for everything else
    console.warn = warn;
  }
}
export const autobahn = loadAutobahn();

export interface OpenOptions {
  realm?: string;
  serializer?: 'json' | 'msgpack';
  authmethods?: string[];
  authid?: string;
  onchallenge?: (session: AbSession, method: string, extra: Record<string, unknown>) => string | Promise<string>;
}

export interface Opened {
  session: AbSession;
  details: Record<string, unknown>;
  connection: AbConnection;
  /** resolves with (reason, details) once the connection closes */
  closed: Promise<{ reason: string; details: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** Opens an autobahn session; rejects with the close reason (e.g. an ABORT's URI) if it never opens. */
export function openSession(url: string, opts: OpenOptions = {}): Promise<Opened> {
  const connection = new autobahn.Connection({
    url,
    realm: opts.realm ?? 'realm1',
    max_retries: 0,
    retry_if_unreachable: false,
    serializers: [opts.serializer === 'msgpack' ? new autobahn.serializer.MsgpackSerializer() : new autobahn.serializer.JSONSerializer()],
    ...(opts.authmethods ? { authmethods: opts.authmethods } : {}),
    ...(opts.authid ? { authid: opts.authid } : {}),
    ...(opts.onchallenge ? { onchallenge: opts.onchallenge } : {}),
  });
  let closedResolve!: (v: { reason: string; details: Record<string, unknown> }) => void;
  const closed = new Promise<{ reason: string; details: Record<string, unknown> }>((r) => (closedResolve = r));
  return new Promise<Opened>((resolve, reject) => {
    let opened = false;
    connection.onopen = (session, details) => {
      opened = true;
      resolve({
        session,
        details,
        connection,
        closed,
        close: async () => {
          if (session.isOpen) connection.close();
          await closed;
        },
      });
    };
    connection.onclose = (reason, details) => {
      closedResolve({ reason, details });
      // autobahn's own reason is "closed"/"lost"/"unreachable"; an ABORT's URI is in details.reason
      const wampReason = typeof details.reason === 'string' ? details.reason : reason;
      if (!opened) reject(Object.assign(new Error(`${wampReason}: ${JSON.stringify(details)}`), { reason: wampReason, details }));
      return true; // no reconnect
    };
    connection.open();
  });
}

export interface WampGatewayFixture {
  /** the suite's gateway (set once beforeAll has run) */
  readonly gw: TestGateway;
  /** an autobahn session on the gateway, closed after the suite */
  join(serializer?: 'json' | 'msgpack'): Promise<AbSession>;
  /** close `o` after the suite too */
  track(o: Opened): Opened;
}

/**
 * One gateway for the enclosing describe block: started before its tests, stopped after them,
 * with every session opened through join()/track() closed first.
 */
export function wampGatewayFixture(fabric: 'embedded' | 'amqp', overrides: DeepPartial<Config> = {}): WampGatewayFixture {
  let gateway: TestGateway | undefined;
  const open: Opened[] = [];
  beforeAll(async () => {
    gateway = await startTestGateway(overrides, { fabric });
  });
  afterAll(async () => {
    await Promise.all(open.splice(0).map((o) => o.close()));
    await gateway?.stop();
  });
  const fixture: WampGatewayFixture = {
    get gw(): TestGateway {
      if (gateway === undefined) throw new Error('the WAMP test gateway is not running (used outside a test?)');
      return gateway;
    },
    track(o) {
      open.push(o);
      return o;
    },
    async join(serializer = 'json') {
      return fixture.track(await openSession(fixture.gw.wsUrl('/ws'), { serializer })).session;
    },
  };
  return fixture;
}

/** resolves with the next `count` calls of the returned handler */
export function collector<T extends unknown[]>(count = 1) {
  const got: T[] = [];
  let done!: (v: T[]) => void;
  const all = new Promise<T[]>((r) => (done = r));
  const handler = (...args: T) => {
    got.push(args);
    if (got.length === count) done(got);
  };
  return { handler, all, got };
}

/** A raw WAMP peer: send arrays (or bytes), await arrays back, see the close. */
export class RawWamp {
  private readonly inbox: unknown[][] = [];
  private waiters: Array<(m: unknown[]) => void> = [];
  readonly closed: Promise<{ code: number }>;

  private constructor(
    readonly ws: WebSocket,
    readonly serializer: 'json' | 'msgpack',
  ) {
    ws.on('message', (data: Buffer) => {
      const s = serializer === 'json' ? jsonSerializer : msgpackSerializer;
      const d = s.decode(Buffer.from(data));
      const msg = (d.ok ? d.value : ['undecodable']) as unknown[];
      const w = this.waiters.shift();
      if (w) w(msg);
      else this.inbox.push(msg);
    });
    this.closed = new Promise((r) => ws.on('close', (code: number) => r({ code })));
  }

  static async connect(url: string, serializer: 'json' | 'msgpack' = 'json'): Promise<RawWamp> {
    const ws = new WebSocket(url, serializer === 'json' ? 'wamp.2.json' : 'wamp.2.msgpack');
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawWamp(ws, serializer);
  }

  send(message: unknown[]): void {
    const s = this.serializer === 'json' ? jsonSerializer : msgpackSerializer;
    this.ws.send(s.encode(message));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  next(timeoutMs = 5000): Promise<unknown[]> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no WAMP message within timeout')), timeoutMs);
      this.waiters.push((m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
  }

  /** HELLO as a subscriber/publisher/caller/callee; resolves with WELCOME */
  async hello(realm = 'realm1', details: Record<string, unknown> = {}): Promise<unknown[]> {
    this.send([1, realm, { roles: { subscriber: {}, publisher: {}, caller: {}, callee: {} }, ...details }]);
    return this.next();
  }

  close(): void {
    this.ws.close();
  }
}

export interface ReceivedEvent {
  args: unknown[];
  kwargs: Record<string, unknown>;
  details: AbEvent;
}

/** an autobahn event handler whose events can be awaited in order */
export class EventInbox {
  private readonly queued: ReceivedEvent[] = [];
  private waiters: Array<(e: ReceivedEvent) => void> = [];
  readonly handler = (args: unknown[], kwargs: Record<string, unknown>, details: AbEvent): void => {
    const e = { args, kwargs, details };
    const w = this.waiters.shift();
    if (w) w(e);
    else this.queued.push(e);
  };

  next(timeoutMs = 5000): Promise<ReceivedEvent> {
    const e = this.queued.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no event within timeout')), timeoutMs);
      this.waiters.push((ev) => {
        clearTimeout(t);
        resolve(ev);
      });
    });
  }

  get pending(): number {
    return this.queued.length;
  }
}

let counter = 0;
/** a URI prefix no other test (or parallel run) uses */
export function uniqueTopic(name: string): string {
  counter += 1;
  return `test.${process.pid}x${Date.now().toString(36)}x${counter}.${name}`;
}
