// Budgeted live fuzz of WAMP over WebSocket, JSON and MessagePack, on /ws and /wamp
// (test/fuzz/support/harness.ts): HELLO, then generated and mutated messages (bytes flipped,
// cut, bad UTF-8 in text frames, the wrong frame type), near-WAMP arrays of any shape,
// known-malformed messages, garbage messages, raw WebSocket frames and bursts of short-lived
// connections, while a well-behaved autobahn session keeps doing publish → event round trips.
//
// Per case: what the server sends decodes and is a router-to-client message; nothing follows
// an ABORT and the server closes after one; a connection without a session is closed by the
// server (HELLO deadline); a known-malformed message ends in ABORT (or a WebSocket close with
// an error code, for what the WebSocket layer refuses itself) and a close.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonSerializer, msgpackSerializer, type Serializer } from '../../src/protocols/wamp/serializer.js';
import { uniqueName } from '../support/broker.js';
import { badUtf8, byteMutation, garbage, mutate, wampClientMessage, wampNearMessage, type ByteMutation } from '../support/fuzz-arbitraries.js';
import { killAllGatewayProcesses } from '../support/gateway-process.js';
import { openSession, type AbSession, type Opened } from '../integration/wamp-support.js';
import { HANG_MS, LINGER_MS, expectations, fuzzTestTimeoutMs, rawWebSocketCase, runFuzz, spawnFuzzGateway, type FuzzGateway, type FuzzStats, type HealthyClient } from './support/harness.js';
import { wsExchange, type Outcome, type ServerReader, type WsMessage } from './support/wire.js';

type SerializerId = 'json' | 'msgpack';
const SERIALIZERS: Record<SerializerId, Serializer> = { json: jsonSerializer, msgpack: msgpackSerializer };
const SUBPROTOCOL: Record<SerializerId, string> = { json: 'wamp.2.json', msgpack: 'wamp.2.msgpack' };
/** WELCOME ABORT CHALLENGE GOODBYE ERROR PUBLISHED SUBSCRIBED UNSUBSCRIBED EVENT RESULT REGISTERED UNREGISTERED INVOCATION INTERRUPT */
const ROUTER_CODES = new Set([2, 3, 4, 6, 8, 17, 33, 35, 36, 50, 65, 67, 68, 69]);
const HELLO = [1, 'realm1', { roles: { subscriber: {}, publisher: {}, caller: {}, callee: {} } }];

/** messages that break the protocol, each sent right after HELLO; raw bytes are sent as they are */
const MALFORMED: Record<string, (s: SerializerId) => WsMessage> = {
  'undecodable bytes': (s) => ({ data: s === 'json' ? Buffer.from('[16, 1, {}, "a"') : Buffer.from([0xc1, 0xc1]), binary: s === 'msgpack' }),
  'not an array': (s) => encoded(s, { 16: 1 }),
  'empty array': (s) => encoded(s, []),
  'message code as a string': (s) => encoded(s, ['16', 1, {}, 'fuzz.a']),
  'unknown message code': (s) => encoded(s, [99, 1]),
  'router-to-client EVENT': (s) => encoded(s, [36, 1, 1, {}]),
  'PUBLISH with request id 0': (s) => encoded(s, [16, 0, {}, 'fuzz.a']),
  'PUBLISH with args not a list': (s) => encoded(s, [16, 1, {}, 'fuzz.a', { x: 1 }]),
  'second HELLO': (s) => encoded(s, HELLO),
};

const MALFORMED_BEFORE_HELLO: Record<string, (s: SerializerId) => WsMessage> = {
  'PUBLISH before HELLO': (s) => encoded(s, [16, 1, {}, 'fuzz.a']),
  'HELLO without details': (s) => encoded(s, [1, 'realm1']),
  'HELLO with a realm that is not a string': (s) => encoded(s, [1, 5, {}]),
};

function encoded(s: SerializerId, value: unknown): WsMessage {
  const data = SERIALIZERS[s].encode(value as unknown[]);
  return { data: Buffer.from(data), binary: s === 'msgpack' };
}

interface MessageCase {
  value: unknown[];
  mutations: ByteMutation[];
  /** send a JSON message as a binary frame or MessagePack as text */
  wrongFrameType: boolean;
}

type WampCase =
  | { kind: 'session'; serializer: SerializerId; path: string; hello: 'anonymous' | 'ticket' | 'none'; messages: MessageCase[]; abort: boolean }
  | { kind: 'malformed'; serializer: SerializerId; path: string; name: string; helloFirst: boolean }
  | { kind: 'bad-utf8'; badBytes: Buffer; at: number }
  | { kind: 'garbage'; serializer: SerializerId; path: string; messages: Array<{ bytes: Buffer; binary: boolean }>; abort: boolean }
  | { kind: 'ws-frames'; serializer: SerializerId; bytes: Buffer; abort: boolean }
  | { kind: 'burst'; serializer: SerializerId; members: Array<{ hello: boolean; abort: boolean }> };

const serializer = fc.constantFrom<SerializerId>('json', 'msgpack');
const path = fc.constantFrom('/ws', '/wamp');
const messageCase: fc.Arbitrary<MessageCase> = fc.record({
  value: fc.oneof({ weight: 3, arbitrary: wampClientMessage }, { weight: 1, arbitrary: wampNearMessage }),
  mutations: fc.oneof({ weight: 3, arbitrary: fc.constant<ByteMutation[]>([]) }, { weight: 1, arbitrary: fc.array(byteMutation, { minLength: 1, maxLength: 3 }) }),
  wrongFrameType: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});

const wampCase: fc.Arbitrary<WampCase> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('session' as const), serializer, path, hello: fc.constantFrom('anonymous', 'anonymous', 'anonymous', 'ticket', 'none'), messages: fc.array(messageCase, { minLength: 1, maxLength: 8 }), abort: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('malformed' as const), serializer, path, name: fc.constantFrom(...Object.keys(MALFORMED)), helloFirst: fc.constant(true) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('malformed' as const), serializer, path, name: fc.constantFrom(...Object.keys(MALFORMED_BEFORE_HELLO)), helloFirst: fc.constant(false) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bad-utf8' as const), badBytes: badUtf8, at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), serializer, path, messages: fc.array(fc.record({ bytes: garbage(500), binary: fc.boolean() }), { minLength: 1, maxLength: 4 }), abort: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('ws-frames' as const), serializer, bytes: garbage(300), abort: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('burst' as const), serializer, members: fc.array(fc.record({ hello: fc.boolean(), abort: fc.boolean() }), { minLength: 5, maxLength: 30 }) }) },
);

class WampReader implements ServerReader {
  readonly messages: unknown[][] = [];
  undecodable: string | undefined;
  private joined = false;

  constructor(private readonly serializer: Serializer) {}

  push(data: Buffer): void {
    const d = this.serializer.decode(data);
    if (!d.ok || !Array.isArray(d.value)) {
      this.undecodable ??= d.ok ? `not an array: ${JSON.stringify(d.value)}` : d.reason;
      return;
    }
    this.messages.push(d.value);
    if (d.value[0] === 2) this.joined = true;
    if (d.value[0] === 6) this.joined = false; // GOODBYE: a new HELLO may follow, else the deadline closes
  }

  get established(): boolean {
    return this.joined && !this.terminal;
  }

  get abortAt(): number {
    return this.messages.findIndex((m) => m[0] === 3);
  }

  get terminal(): boolean {
    return this.abortAt >= 0;
  }
}

function checkOutcome(reader: WampReader, outcome: Outcome, what: string, stats: FuzzStats): void {
  stats.connections++;
  if (outcome.closedBy === 'server') stats.closedByServer++;
  else stats.closedByClient++;
  if (reader.messages.some((m) => m[0] === 2)) stats.established++;
  if (outcome.refusedStatus !== undefined) stats.error(`HTTP ${outcome.refusedStatus} to the upgrade`);
  if (outcome.closeCode !== undefined) stats.error(`WebSocket close ${outcome.closeCode}`);
  expect(reader.undecodable, `the server's messages decode (${what})`).toBeUndefined();
  for (const m of reader.messages) {
    expect(ROUTER_CODES.has(m[0] as number), `router-to-client message ${JSON.stringify(m).slice(0, 200)} (${what})`).toBe(true);
    if (m[0] === 8) stats.error(`ERROR ${String(m[4])}`);
  }
  const at = reader.abortAt;
  if (at >= 0) {
    stats.error(`ABORT ${String(reader.messages[at]![2])}`);
    expect(at, `nothing follows an ABORT (${what})`).toBe(reader.messages.length - 1);
    if (outcome.closedBy === 'client' && !outcome.aborted) expect.fail(`an ABORT was not followed by the server's close (${what})`);
  }
  expect(outcome.hung, `a connection without a session was still open after ${HANG_MS} ms (${what})`).toBe(false);
}

function helloFor(kind: 'anonymous' | 'ticket'): unknown[] {
  return kind === 'anonymous' ? HELLO : [1, 'realm1', { ...(HELLO[2] as object), authmethods: ['ticket'], authid: 'guest' }];
}

async function runCase(httpPort: number, c: WampCase, stats: FuzzStats): Promise<void> {
  const opts = { lingerMs: LINGER_MS, hangMs: HANG_MS };
  if (c.kind === 'burst') {
    await Promise.all(c.members.map(async (m) => {
      const reader = new WampReader(SERIALIZERS[c.serializer]);
      const messages = m.hello ? [encoded(c.serializer, HELLO)] : [];
      stats.unitsSent += messages.length;
      const outcome = await wsExchange(`ws://127.0.0.1:${httpPort}/ws`, SUBPROTOCOL[c.serializer], messages, reader, { ...opts, abort: m.abort });
      if (m.abort) stats.aborted++;
      checkOutcome(reader, outcome, `burst member${m.hello ? ' after HELLO' : ''}`, stats);
    }));
    return;
  }
  if (c.kind === 'ws-frames') {
    await rawWebSocketCase(stats, { port: httpPort, path: '/ws', subprotocol: SUBPROTOCOL[c.serializer] }, c.bytes, [c.bytes], c.abort);
    return;
  }

  let id: SerializerId = 'json';
  let url = `ws://127.0.0.1:${httpPort}/ws`;
  let messages: WsMessage[];
  let abort = false;
  if (c.kind === 'session') {
    id = c.serializer;
    url = `ws://127.0.0.1:${httpPort}${c.path}`;
    messages = [
      ...(c.hello === 'none' ? [] : [encoded(id, helloFor(c.hello))]),
      ...c.messages.map((m) => {
        const e = encoded(id, m.value);
        return { data: mutate(e.data, m.mutations), binary: m.wrongFrameType ? !e.binary : e.binary };
      }),
    ];
    abort = c.abort;
  } else if (c.kind === 'malformed') {
    id = c.serializer;
    url = `ws://127.0.0.1:${httpPort}${c.path}`;
    messages = c.helloFirst ? [encoded(id, HELLO), MALFORMED[c.name]!(id)] : [MALFORMED_BEFORE_HELLO[c.name]!(id)];
  } else if (c.kind === 'bad-utf8') {
    // a text frame that is not UTF-8: the WebSocket layer closes with 1007
    const text = Buffer.from(jsonSerializer.encode([16, 1, {}, 'fuzz.a', ['x']]));
    const at = c.at % (text.length + 1);
    messages = [encoded('json', HELLO), { data: Buffer.concat([text.subarray(0, at), c.badBytes, text.subarray(at)]), binary: false }];
  } else {
    id = c.serializer;
    url = `ws://127.0.0.1:${httpPort}${c.path}`;
    messages = c.messages.map((m) => ({ data: m.bytes, binary: m.binary }));
    abort = c.abort;
  }
  stats.unitsSent += messages.length;
  stats.bytesSent += messages.reduce((n, m) => n + m.data.length, 0);
  const reader = new WampReader(SERIALIZERS[id]);
  const outcome = await wsExchange(url, SUBPROTOCOL[id], messages, reader, { ...opts, abort, expectClose: c.kind === 'malformed' || c.kind === 'bad-utf8' });
  if (abort) stats.aborted++;
  const what = `${c.kind}${'name' in c ? ` (${c.name})` : ''} ${id} ${url}: ${messages.map((m) => m.data.subarray(0, 80).toString(id === 'json' ? 'latin1' : 'hex')).join(' | ').slice(0, 400)}`;
  checkOutcome(reader, outcome, what, stats);
  if (c.kind === 'malformed' || c.kind === 'bad-utf8') {
    expect(outcome.closedBy, `a malformed message closes the connection (${what})`).toBe('server');
    const aborted = reader.messages.at(-1)?.[0] === 3;
    const refusedByWebSocket = outcome.closeCode !== undefined && outcome.closeCode !== 1000 && outcome.closeCode !== 1005 && outcome.closeCode !== 1006;
    expect(aborted || refusedByWebSocket, `a malformed message gets ABORT or a WebSocket error close (got ${JSON.stringify(reader.messages.at(-1))}, close ${outcome.closeCode}) (${what})`).toBe(true);
  }
}

class HealthyWamp implements HealthyClient {
  private waiting: { payload: string; resolve: () => void } | undefined;

  private constructor(private readonly opened: Opened, private readonly topic: string) {}

  static async connect(httpPort: number): Promise<HealthyWamp> {
    const opened = await openSession(`ws://127.0.0.1:${httpPort}/ws`, { serializer: 'json' });
    const topic = `fuzz.healthy.${uniqueName('t').replace(/[^\w]/g, '')}`;
    const healthy = new HealthyWamp(opened, topic);
    await opened.session.subscribe(topic, (args) => healthy.onEvent(args));
    return healthy;
  }

  private get session(): AbSession {
    return this.opened.session;
  }

  private onEvent(args: unknown[]): void {
    if (this.waiting && args[0] === this.waiting.payload) this.waiting.resolve();
  }

  async roundTrip(payload: string): Promise<void> {
    const delivered = new Promise<void>((resolve) => { this.waiting = { payload, resolve }; });
    await this.session.publish(this.topic, [payload], {}, { acknowledge: true, exclude_me: false });
    await delivered;
  }

  async close(): Promise<void> {
    await this.opened.close();
  }
}

describe('fuzz: WAMP over WebSocket (JSON and MessagePack) on a live gateway process', () => {
  let target: FuzzGateway;
  let healthy: HealthyWamp;

  beforeAll(async () => {
    target = await spawnFuzzGateway();
    healthy = await HealthyWamp.connect(target.gw.ports.http!);
  }, 90_000);
  afterAll(async () => {
    await healthy?.close().catch(() => undefined);
    await target?.gw.stop();
    killAllGatewayProcesses();
  });

  it('no crash, every malformed message gets ABORT (or a WebSocket error close) and a close, the healthy session is unaffected, memory returns', async () => {
    const report = await runFuzz({
      protocol: 'wamp',
      surfaces: 'WAMP over WebSocket, wamp.2.json and wamp.2.msgpack, on /ws and /wamp, raw WebSocket frames',
      target,
      healthy,
      arbitrary: wampCase,
      runCase: (c, stats) => runCase(target.gw.ports.http!, c, stats),
      workers: 6,
      healthyConnections: 1,
    });
    expect(expectations(report).filter(([, ok]) => !ok).map(([what]) => what)).toEqual([]);
    expect(report.stats.errorTotal()).toBeGreaterThan(report.stats.cases / 4);
  }, fuzzTestTimeoutMs());
});
