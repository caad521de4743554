// Budgeted live fuzz of STOMP over TCP (test/fuzz/support/harness.ts): valid CONNECT then
// generated and mutated frames, known-malformed frames, garbage and bursts of short-lived
// connections against a real gateway process, while a well-behaved client keeps doing
// SEND → MESSAGE round trips.
//
// Per case: the server only ever sends CONNECTED, MESSAGE, RECEIPT and ERROR; nothing follows
// an ERROR, and after one the server closes; a connection that never got CONNECTED is closed by
// the server (CONNECT deadline); a known-malformed frame always gets an ERROR and a close.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeFrame, type StompFrame, type StompVersion } from '../../src/protocols/stomp/frame.js';
import { StompParser } from '../../src/protocols/stomp/parser.js';
import { brokerAvailable, uniqueName } from '../support/broker.js';
import { cleanups } from '../integration/fabric-amqp-helpers.js';
import { STOMP_FUZZ_QUEUE, byteMutation, cutPoints, garbage, mutate, splitAt, stompFrame, type ByteMutation, type StompFrameCase } from '../support/fuzz-arbitraries.js';
import { killAllGatewayProcesses } from '../support/gateway-process.js';
import { RawStompClient } from '../unit/stomp/support/raw-client.js';
import { HANG_MS, LINGER_MS, expectations, fuzzTestTimeoutMs, runFuzz, spawnFuzzGateway, type FuzzGateway, type FuzzStats, type HealthyClient } from './support/harness.js';
import { tcpExchange, type Outcome, type ServerReader } from './support/wire.js';

const SERVER_COMMANDS = new Set(['CONNECTED', 'MESSAGE', 'RECEIPT', 'ERROR']);

/** frames the gateway must answer with ERROR and a close, each sent right after a valid CONNECT */
const MALFORMED: Record<string, string | Buffer> = {
  'unknown command': 'XYZ\n\n\0',
  'command with bad UTF-8': Buffer.concat([Buffer.from('SE'), Buffer.from([0xff, 0xfe]), Buffer.from('ND\ndestination:/topic/fuzz.a\n\n\0')]),
  'huge declared content-length': 'SEND\ndestination:/topic/fuzz.a\ncontent-length:99999999999\n\nabc',
  'content-length shorter than the body': 'SEND\ndestination:/topic/fuzz.a\ncontent-length:2\n\nabcdef\0',
  'negative content-length': 'SEND\ndestination:/topic/fuzz.a\ncontent-length:-5\n\nab\0',
  'header line over the limit': `SEND\ndestination:/topic/fuzz.a\nx-long:${'a'.repeat(9000)}\n\n\0`,
  'too many headers': `SEND\ndestination:/topic/fuzz.a\n${Array.from({ length: 70 }, (_, i) => `h${i}:v`).join('\n')}\n\n\0`,
  'undefined escape in a 1.2 header': 'SEND\ndestination:/topic/fuzz\\ta\n\n\0',
  'SEND without destination': 'SEND\n\nbody\0',
  'SUBSCRIBE without id': 'SUBSCRIBE\ndestination:/topic/fuzz.a\n\n\0',
  'second CONNECT': 'CONNECT\naccept-version:1.2\n\n\0',
  'ACK out of order (no subscription)': 'ACK\nid:nothing\n\n\0',
  'COMMIT of an unknown transaction': 'COMMIT\ntransaction:none\n\n\0',
};

/** sent as the very first bytes: no CONNECT before them */
const MALFORMED_BEFORE_CONNECT: Record<string, string | Buffer> = {
  'SEND before CONNECT': 'SEND\ndestination:/topic/fuzz.a\n\nx\0',
  'oversized frame before CONNECT': `SEND\ndestination:/topic/fuzz.a\n\n${'x'.repeat(70_000)}\0`,
  'CONNECT with a header line over the limit': `CONNECT\naccept-version:1.2\nlogin:${'g'.repeat(9000)}\n\n\0`,
  'binary garbage': Buffer.from([0x00, 0xff, 0x13, 0x37, 0x0a, 0x0a, 0x00]),
};

type StompCase =
  | { kind: 'session'; version: string; login: 'none' | 'guest' | 'wrong'; frames: StompFrameCase[]; mutations: ByteMutation[]; mutateConnect: boolean; cuts: number[]; abort: boolean }
  | { kind: 'malformed'; name: string; connectFirst: boolean; cuts: number[] }
  | { kind: 'garbage'; bytes: Buffer; cuts: number[]; abort: boolean }
  | { kind: 'burst'; members: Array<{ prefix: number; abort: boolean }> };

const connectFrame = (version: string, login: 'none' | 'guest' | 'wrong'): Buffer => Buffer.from(`CONNECT\naccept-version:${version}\nhost:/\nheart-beat:0,0\n${login === 'guest' ? 'login:guest\npasscode:guest\n' : login === 'wrong' ? 'login:guest\npasscode:nope\n' : ''}\n\0`);

const stompCase: fc.Arbitrary<StompCase> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('session' as const),
      version: fc.constantFrom('1.0', '1.1', '1.2', '1.0,1.1,1.2'),
      login: fc.constantFrom('none', 'none', 'guest', 'wrong'),
      frames: fc.array(stompFrame, { minLength: 1, maxLength: 8 }),
      mutations: fc.array(byteMutation, { maxLength: 4 }),
      mutateConnect: fc.boolean(),
      cuts: cutPoints,
      abort: fc.boolean(),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('malformed' as const), name: fc.constantFrom(...Object.keys(MALFORMED)), connectFirst: fc.constant(true), cuts: cutPoints }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('malformed' as const), name: fc.constantFrom(...Object.keys(MALFORMED_BEFORE_CONNECT)), connectFirst: fc.constant(false), cuts: cutPoints }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), bytes: garbage(2000), cuts: cutPoints, abort: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('burst' as const), members: fc.array(fc.record({ prefix: fc.nat(), abort: fc.boolean() }), { minLength: 5, maxLength: 30 }) }) },
);

/** reads what the server sends, leniently (1.0: no unescaping): only commands and order matter */
class StompReader implements ServerReader {
  readonly frames: StompFrame[] = [];
  parseError: string | undefined;
  private readonly parser = new StompParser({ maxFrameBytes: 64 << 20, maxHeaders: 10_000, maxHeaderBytes: 1 << 20 });

  constructor() {
    this.parser.version = '1.0';
  }

  push(data: Buffer): void {
    for (const e of this.parser.push(data)) {
      if (e.kind === 'frame') this.frames.push(e.frame);
      else if (e.kind === 'error') this.parseError ??= e.error.message;
    }
  }

  get established(): boolean {
    return this.frames.some((f) => f.command === 'CONNECTED') && !this.terminal;
  }

  get terminal(): boolean {
    return this.frames.some((f) => f.command === 'ERROR');
  }
}

function describeCase(c: StompCase, bytes?: Buffer): string {
  return `${c.kind}${'name' in c ? ` (${c.name})` : ''}${bytes ? `: ${JSON.stringify(bytes.subarray(0, 300).toString('latin1'))}` : ''}`;
}

/** the checks every STOMP connection passes, whatever was sent */
function checkOutcome(reader: StompReader, outcome: Outcome, what: string, stats: FuzzStats): void {
  stats.connections++;
  if (outcome.closedBy === 'server') stats.closedByServer++;
  else stats.closedByClient++;
  if (reader.frames.some((f) => f.command === 'CONNECTED')) stats.established++;
  if (outcome.refusedStatus === undefined && outcome.closedBy === 'server' && reader.frames.length === 0) stats.error('closed without a frame');
  expect(reader.parseError, `the server's bytes parse (${what})`).toBeUndefined();
  for (const f of reader.frames) expect(SERVER_COMMANDS.has(f.command), `server command ${f.command} (${what})`).toBe(true);
  const errorAt = reader.frames.findIndex((f) => f.command === 'ERROR');
  if (errorAt >= 0) {
    stats.error(`ERROR ${reader.frames[errorAt]!.headers['message'] ?? '(no message)'}`);
    expect(errorAt, `nothing follows an ERROR (${what})`).toBe(reader.frames.length - 1);
    if (outcome.closedBy === 'client' && !outcome.aborted) expect.fail(`an ERROR was not followed by the server's close (${what})`);
  }
  expect(outcome.hung, `a connection not established was still open after ${HANG_MS} ms (${what})`).toBe(false);
}

async function runCase(port: number, c: StompCase, stats: FuzzStats): Promise<void> {
  const linger = { lingerMs: LINGER_MS, hangMs: HANG_MS };
  if (c.kind === 'burst') {
    const connect = connectFrame('1.2', 'none');
    await Promise.all(c.members.map(async (m) => {
      const reader = new StompReader();
      const bytes = connect.subarray(0, m.prefix % connect.length);
      stats.bytesSent += bytes.length;
      const outcome = await tcpExchange(port, bytes.length ? [bytes] : [], reader, { ...linger, abort: m.abort });
      if (m.abort) stats.aborted++;
      checkOutcome(reader, outcome, `burst member, ${bytes.length} bytes of CONNECT`, stats);
    }));
    return;
  }
  let bytes: Buffer;
  let abort = false;
  if (c.kind === 'session') {
    const connect = connectFrame(c.version, c.login);
    const version = (c.version.split(',').at(-1) ?? '1.2') as StompVersion;
    const frames = c.frames.map((f) => serializeFrame({ command: f.command, headers: f.headers, body: Buffer.from(f.body) }, version));
    bytes = mutate(Buffer.concat([connect, ...frames]), c.mutations, c.mutateConnect ? 0 : connect.length);
    stats.unitsSent += 1 + frames.length;
    abort = c.abort;
  } else if (c.kind === 'malformed') {
    const frame = Buffer.from(c.connectFirst ? MALFORMED[c.name]! : MALFORMED_BEFORE_CONNECT[c.name]!);
    bytes = c.connectFirst ? Buffer.concat([connectFrame('1.2', 'none'), frame]) : frame;
    stats.unitsSent += c.connectFirst ? 2 : 1;
  } else {
    bytes = c.bytes;
    abort = c.abort;
  }
  stats.bytesSent += bytes.length;
  const reader = new StompReader();
  const outcome = await tcpExchange(port, splitAt(bytes, c.cuts), reader, { ...linger, abort, expectClose: c.kind === 'malformed' });
  if (abort) stats.aborted++;
  const what = describeCase(c, bytes);
  checkOutcome(reader, outcome, what, stats);
  if (c.kind === 'malformed') {
    expect(reader.frames.at(-1)?.command, `a malformed frame gets an ERROR (${what})`).toBe('ERROR');
    expect(outcome.closedBy, `and a close (${what})`).toBe('server');
  }
}

class HealthyStomp implements HealthyClient {
  private constructor(private readonly client: RawStompClient, private readonly destination: string) {}

  static async connect(port: number): Promise<HealthyStomp> {
    const client = await RawStompClient.connect(port, { 'heart-beat': '0,0' });
    const destination = `/topic/${uniqueName('fuzz-healthy').replace(/[^\w-]/g, '')}`;
    await client.withReceipt('SUBSCRIBE', { id: 'healthy', destination });
    return new HealthyStomp(client, destination);
  }

  async roundTrip(payload: string): Promise<void> {
    this.client.send('SEND', { destination: this.destination }, payload);
    await this.client.nextMatching((f) => f.command === 'MESSAGE' && f.body.toString() === payload, 60_000);
  }

  async close(): Promise<void> {
    await this.client.disconnect();
  }
}

describe('fuzz: STOMP over TCP on a live gateway process', () => {
  let target: FuzzGateway;
  let healthy: HealthyStomp;

  beforeAll(async () => {
    target = await spawnFuzzGateway();
    healthy = await HealthyStomp.connect(target.gw.ports.stomp!);
  }, 90_000);
  afterAll(async () => {
    await healthy?.close().catch(() => undefined);
    await target?.gw.stop();
    killAllGatewayProcesses();
    if (brokerAvailable) {
      const cleanup = cleanups();
      cleanup.deleteQueueLater(STOMP_FUZZ_QUEUE);
      await cleanup.run();
    }
  });

  it('no crash, every malformed input gets ERROR and a close, the healthy client is unaffected, memory returns', async () => {
    const report = await runFuzz({
      protocol: 'stomp',
      surfaces: 'STOMP over TCP',
      target,
      healthy,
      arbitrary: stompCase,
      runCase: (c, stats) => runCase(target.gw.ports.stomp!, c, stats),
      workers: 6,
      healthyConnections: 1,
    });
    expect(expectations(report).filter(([, ok]) => !ok).map(([what]) => what)).toEqual([]);
    // the generators reach the error paths
    expect(report.stats.errorTotal()).toBeGreaterThan(report.stats.cases / 4);
  }, fuzzTestTimeoutMs());
});
