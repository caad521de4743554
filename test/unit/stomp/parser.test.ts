// UNIT: the STOMP codec. Every fixture is parsed whole, byte by byte and cut at every index;
// the same frames must come out. Error fixtures assert code and that no frame follows.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors.js';
import { serializeFrame, type StompFrame, type StompVersion } from '../../../src/protocols/stomp/frame.js';
import { StompParser, type ParseEvent, type ParserLimits } from '../../../src/protocols/stomp/parser.js';

const LIMITS: ParserLimits = { maxFrameBytes: 4096, maxHeaders: 16, maxHeaderBytes: 256 };

interface Expected {
  command: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** Feed chunks, releasing the CONNECT hold with `version` as a session would. */
function parseChunks(chunks: Buffer[], version: StompVersion = '1.2', limits = LIMITS): ParseEvent[] {
  const parser = new StompParser(limits);
  parser.version = version;
  const events: ParseEvent[] = [];
  for (const chunk of chunks) {
    events.push(...parser.push(chunk));
    while (parser.holding) events.push(...parser.release(version));
  }
  return events;
}

function frames(events: ParseEvent[]): Array<{ command: string; headers: Record<string, string>; body: Buffer }> {
  return events.flatMap((e) => (e.kind === 'frame' ? [{ command: e.frame.command, headers: { ...e.frame.headers }, body: e.frame.body }] : []));
}

function expectFrames(events: ParseEvent[], expected: Expected[]): void {
  expect(events.filter((e) => e.kind === 'error')).toEqual([]);
  expect(frames(events)).toEqual(expected.map((f) => ({ command: f.command, headers: f.headers, body: Buffer.from(f.body ?? '') })));
}

function splits(bytes: Buffer): Array<{ how: string; chunks: Buffer[] }> {
  const out = [{ how: 'whole', chunks: [bytes] }, { how: 'byte by byte', chunks: [...bytes].map((b) => Buffer.from([b])) }];
  for (let i = 1; i < bytes.length; i++) out.push({ how: `cut at ${i}`, chunks: [bytes.subarray(0, i), bytes.subarray(i)] });
  return out;
}

const fixtures: Array<{ name: string; version?: StompVersion; bytes: string | Buffer; frames: Expected[]; heartbeats?: number }> = [
  { name: 'telnet CONNECT with no headers', bytes: 'CONNECT\n\n\0', frames: [{ command: 'CONNECT', headers: {} }] },
  {
    name: 'CONNECT with accept-version and host',
    bytes: 'CONNECT\naccept-version:1.0,1.1,1.2\nhost:/\n\n\0',
    frames: [{ command: 'CONNECT', headers: { 'accept-version': '1.0,1.1,1.2', host: '/' } }],
  },
  {
    name: 'CONNECT headers are never unescaped (1.2 §Value Encoding)',
    bytes: 'CONNECT\nlogin:a\\cb\npasscode:x\\ty\n\n\0',
    frames: [{ command: 'CONNECT', headers: { login: 'a\\cb', passcode: 'x\\ty' } }],
  },
  {
    name: 'frames pipelined behind CONNECT decode with the released version',
    version: '1.0',
    bytes: 'CONNECT\n\n\0SEND\ndestination:/queue/a\nk:a\\tb\n\nx\0',
    frames: [{ command: 'CONNECT', headers: {} }, { command: 'SEND', headers: { destination: '/queue/a', k: 'a\\tb' }, body: 'x' }],
  },
  {
    name: 'CRLF line endings',
    bytes: 'SEND\r\ndestination:/queue/a\r\n\r\nhello\0',
    frames: [{ command: 'SEND', headers: { destination: '/queue/a' }, body: 'hello' }],
  },
  {
    name: 'content-length body holding NULs',
    bytes: 'SEND\ndestination:/queue/a\ncontent-length:5\n\na\0b\0c\0',
    frames: [{ command: 'SEND', headers: { destination: '/queue/a', 'content-length': '5' }, body: 'a\0b\0c' }],
  },
  { name: 'content-length 0', bytes: 'SEND\ncontent-length:0\n\n\0', frames: [{ command: 'SEND', headers: { 'content-length': '0' } }] },
  {
    name: 'repeated headers: the first wins (1.2 §Repeated Header Entries)',
    bytes: 'MESSAGE\nfoo:1\nfoo:2\nbar:3\n\n\0',
    frames: [{ command: 'MESSAGE', headers: { foo: '1', bar: '3' } }],
  },
  {
    name: '1.2 escapes in names and values',
    bytes: 'SEND\nk\\cx:a\\nb\\\\c\\rd\\ce\n\n\0',
    frames: [{ command: 'SEND', headers: { 'k:x': 'a\nb\\c\rd:e' } }],
  },
  {
    name: '1.1 escapes (no \\r)',
    version: '1.1',
    bytes: 'SEND\nk:a\\nb\\\\c\\cd\n\n\0',
    frames: [{ command: 'SEND', headers: { k: 'a\nb\\c:d' } }],
  },
  {
    name: '1.0 has no escaping',
    version: '1.0',
    bytes: 'SEND\nk:a\\nb\\t\n\n\0',
    frames: [{ command: 'SEND', headers: { k: 'a\\nb\\t' } }],
  },
  {
    name: 'a value holding colons splits at the first',
    bytes: 'SEND\nurl:http://x:80/\n\n\0',
    frames: [{ command: 'SEND', headers: { url: 'http://x:80/' } }],
  },
  { name: 'empty header value', bytes: 'SEND\nx:\n\n\0', frames: [{ command: 'SEND', headers: { x: '' } }] },
  {
    name: 'UTF-8 names, values and body',
    bytes: 'SEND\nclé:värde ✓\n\nhéllo ✓\0',
    frames: [{ command: 'SEND', headers: { clé: 'värde ✓' }, body: 'héllo ✓' }],
  },
  {
    name: 'heart-beats between frames, NUL LF endings, stray NULs',
    bytes: '\n\r\nSEND\n\na\0\n\0\nSEND\n\nb\0\n',
    frames: [{ command: 'SEND', headers: {}, body: 'a' }, { command: 'SEND', headers: {}, body: 'b' }],
    heartbeats: 5,
  },
  {
    name: 'a header named __proto__ is only a header',
    bytes: 'SEND\n__proto__:x\nconstructor:y\n\n\0',
    frames: [{ command: 'SEND', headers: { ['__proto__']: 'x', constructor: 'y' } as Record<string, string> }],
  },
];

describe('UNIT: STOMP parser fixtures', () => {
  for (const f of fixtures) {
    it(`${f.name}: same frames at every split`, () => {
      const bytes = Buffer.isBuffer(f.bytes) ? f.bytes : Buffer.from(f.bytes, 'utf8');
      for (const { how, chunks } of splits(bytes)) {
        const events = parseChunks(chunks, f.version ?? '1.2');
        try {
          expectFrames(events, f.frames);
          if (f.heartbeats !== undefined) expect(events.filter((e) => e.kind === 'heartbeat')).toHaveLength(f.heartbeats);
        } catch (err) {
          throw new Error(`${how}: ${(err as Error).message}`);
        }
      }
    });
  }

  it('the __proto__ header does not touch the prototype', () => {
    const [event] = parseChunks([Buffer.from('SEND\n__proto__:x\n\n\0')]);
    const frame = (event as { frame: StompFrame }).frame;
    expect(Object.getPrototypeOf(frame.headers)).toBeNull();
    expect(Object.hasOwn(frame.headers, '__proto__')).toBe(true);
  });
});

const errorFixtures: Array<{ name: string; version?: StompVersion; bytes: string; code: string; detail?: RegExp; limits?: Partial<ParserLimits> }> = [
  { name: 'undefined escape in 1.2', bytes: 'SEND\nk:a\\tb\n\n\0', code: ErrorCode.PROTOCOL, detail: /undefined escape/ },
  { name: '\\r escape in 1.1', version: '1.1', bytes: 'SEND\nk:a\\rb\n\n\0', code: ErrorCode.PROTOCOL, detail: /undefined escape/ },
  { name: 'backslash at the end of a value', bytes: 'SEND\nk:a\\\n\n\0', code: ErrorCode.PROTOCOL, detail: /undefined escape/ },
  { name: 'header line without colon', bytes: 'SEND\ndestination /queue/a\n\n\0', code: ErrorCode.PROTOCOL, detail: /without a colon/ },
  { name: 'empty header name', bytes: 'SEND\n:x\n\n\0', code: ErrorCode.PROTOCOL, detail: /empty name/ },
  { name: 'content-length not a number', bytes: 'SEND\ncontent-length:abc\n\n\0', code: ErrorCode.PROTOCOL, detail: /content-length/ },
  { name: 'negative content-length', bytes: 'SEND\ncontent-length:-1\n\n\0', code: ErrorCode.PROTOCOL, detail: /content-length/ },
  { name: 'body longer than content-length', bytes: 'SEND\ncontent-length:2\n\nabc\0', code: ErrorCode.PROTOCOL, detail: /NUL/ },
  { name: 'frame over maxFrameBytes (no content-length)', bytes: `SEND\n\n${'x'.repeat(5000)}\0`, code: ErrorCode.FRAME_TOO_LARGE },
  { name: 'declared content-length over the limit fails before the body', bytes: 'SEND\ncontent-length:999999\n\n', code: ErrorCode.FRAME_TOO_LARGE },
  { name: 'too many headers', bytes: `SEND\n${Array.from({ length: 17 }, (_, i) => `h${i}:v\n`).join('')}\n\0`, code: ErrorCode.LIMIT_EXCEEDED, detail: /16 headers/ },
  { name: 'header line too long', bytes: `SEND\nk:${'v'.repeat(300)}\n\n\0`, code: ErrorCode.LIMIT_EXCEEDED, detail: /256 bytes/ },
  { name: 'endless command line (garbage without LF)', bytes: 'X'.repeat(300), code: ErrorCode.LIMIT_EXCEEDED },
  { name: 'too much pipelined behind CONNECT', bytes: `CONNECT\n\n\0${'SEND\n\n\0'.repeat(600)}`, code: ErrorCode.FRAME_TOO_LARGE, detail: /before CONNECTED/ },
];

describe('UNIT: STOMP parser errors', () => {
  for (const f of errorFixtures) {
    it(`${f.name} → ${f.code}, fatal, and nothing after it`, () => {
      const bytes = Buffer.from(f.bytes + 'SEND\n\nafter\0', 'utf8');
      for (const { how, chunks } of [splits(bytes)[0]!, splits(bytes)[1]!]) {
        const parser = new StompParser({ ...LIMITS, ...f.limits });
        parser.version = f.version ?? '1.2';
        const events = chunks.flatMap((c) => parser.push(c));
        const errorAt = events.findIndex((e) => e.kind === 'error');
        expect(errorAt, how).toBeGreaterThanOrEqual(0);
        const error = (events[errorAt] as { error: { code: string; fatal: boolean; detail?: string } }).error;
        expect(error.code, how).toBe(f.code);
        expect(error.fatal, how).toBe(true);
        if (f.detail) expect(error.detail, how).toMatch(f.detail);
        expect(events.slice(errorAt + 1), how).toEqual([]);
        expect(parser.failed).toBe(true);
        expect(parser.push(Buffer.from('SEND\n\n\0'))).toEqual([]);
      }
    });
  }
});

describe('UNIT: STOMP parser limit before authentication', () => {
  const limits: ParserLimits = { ...LIMITS, maxFrameBytes: 4096, maxFrameBytesUnauthenticated: 512 };
  const big = (command: string) => Buffer.from(`${command}\ndestination:/queue/q\n\n${'x'.repeat(1000)}\0`);

  it('a CONNECT larger than the unauthenticated limit is refused before the limit for authenticated clients applies', () => {
    const parser = new StompParser(limits);
    const events = parser.push(big('CONNECT'));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'error', error: { code: ErrorCode.FRAME_TOO_LARGE, detail: 'frames are limited to 512 bytes' } });
  });

  it('data held behind CONNECT counts against the unauthenticated limit', () => {
    const parser = new StompParser(limits);
    expect(parser.push(Buffer.from('CONNECT\n\n\0'))).toMatchObject([{ kind: 'frame', frame: { command: 'CONNECT' } }]);
    expect(parser.push(big('SEND'))).toMatchObject([{ kind: 'error', error: { code: ErrorCode.FRAME_TOO_LARGE } }]);
  });

  it('after release() (CONNECTED was sent) frames up to maxFrameBytes pass', () => {
    const parser = new StompParser(limits);
    parser.push(Buffer.from('CONNECT\n\n\0'));
    expect(parser.release('1.2')).toEqual([]);
    expect(parser.push(big('SEND'))).toMatchObject([{ kind: 'frame', frame: { command: 'SEND' } }]);
  });
});

describe('UNIT: STOMP serializer', () => {
  it('escapes by version and adds content-length for bodies', () => {
    const frame = { command: 'MESSAGE', headers: [['k:1', 'a\nb\\c\rd']] as Array<[string, string]>, body: 'x\0y' };
    expect(serializeFrame(frame, '1.2').toString('latin1')).toBe('MESSAGE\nk\\c1:a\\nb\\\\c\\rd\ncontent-length:3\n\nx\0y\0\n');
    expect(serializeFrame(frame, '1.1').toString('latin1')).toBe('MESSAGE\nk\\c1:a\\nb\\\\c d\ncontent-length:3\n\nx\0y\0\n');
    // 1.0: no escapes; a name with a colon cannot be written; CR/LF cannot end the line early
    const f10 = { command: 'MESSAGE', headers: [['k:1', 'v'], ['k', 'a\nb\rc:d']] as Array<[string, string]> };
    expect(serializeFrame(f10, '1.0').toString('latin1')).toBe('MESSAGE\nk:a b c:d\n\n\0\n');
  });

  it('never escapes CONNECTED, and drops a caller content-length', () => {
    const out = serializeFrame({ command: 'CONNECTED', headers: [['server', 'T:1\n'], ['content-length', '99']] }, '1.2', false);
    expect(out.toString('latin1')).toBe('CONNECTED\nserver:T:1 \n\n\0');
  });
});

// ---- property-based: round trips and garbage ----

const headerText = fc.string({ unit: 'binary', maxLength: 20 }).map((s) => s.replace(/[\u0000\uD800-\uDFFF]/g, ''));
const headerName = headerText.filter((s) => s.length > 0);
const arbFrame = fc.record({
  command: fc.constantFrom('SEND', 'MESSAGE', 'SUBSCRIBE', 'ACK', 'ERROR', 'RECEIPT'),
  headers: fc.uniqueArray(fc.tuple(headerName, headerText), { maxLength: 8, selector: ([n]) => n }),
  body: fc.uint8Array({ maxLength: 200 }),
});
/** random chunk boundaries for a buffer */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  return out;
}
const BIG: ParserLimits = { maxFrameBytes: 1 << 20, maxHeaders: 64, maxHeaderBytes: 8192 };

describe('UNIT: STOMP codec properties', () => {
  it('1.2: serialize → parse is the identity, at any chunking', () => {
    fc.assert(
      fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (list, cuts) => {
        const bytes = Buffer.concat(list.map((f) => serializeFrame({ ...f, body: Buffer.from(f.body) }, '1.2')));
        const events = parseChunks(chunked(bytes, cuts), '1.2', BIG);
        const expected = list.map((f) => {
          const entries = f.headers.filter(([n]) => n !== 'content-length');
          if (f.body.length > 0) entries.push(['content-length', String(f.body.length)]);
          const headers = Object.fromEntries(entries); // defines own keys, even __proto__
          return { command: f.command, headers, body: Buffer.from(f.body) };
        });
        expect(frames(events)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('1.1 and 1.0: values survive except the octets the version cannot carry', () => {
    fc.assert(
      fc.property(arbFrame, fc.constantFrom<StompVersion>('1.0', '1.1'), (f, version) => {
        const bytes = serializeFrame({ ...f, body: Buffer.from(f.body) }, version);
        const [event] = parseChunks([bytes], version, BIG).filter((e) => e.kind !== 'heartbeat');
        expect(event?.kind).toBe('frame');
        const got = (event as { frame: StompFrame }).frame;
        const lossy = (s: string) => (version === '1.0' ? s.replace(/[\r\n]/g, ' ') : s.replace(/\r/g, ' '));
        // two names can become one once the version's lost octets are replaced ("\n" and "\r"
        // in 1.0): the first occurrence wins, as for any repeated header
        const seen = new Set<string>();
        for (const [n, v] of f.headers) {
          if (n === 'content-length' || (version === '1.0' && n.includes(':'))) continue;
          if (seen.has(lossy(n))) continue;
          seen.add(lossy(n));
          expect(got.headers[lossy(n)]).toBe(lossy(v));
        }
        expect(got.body).toEqual(Buffer.from(f.body));
      }),
      // the counterexample CI found (2026-11-23): "\n" and "\r" both become " " in 1.0
      { numRuns: 300, examples: [[{ command: 'SEND', headers: [['\n', ''], ['\r', '\u0001']], body: new Uint8Array() }, '1.0']] },
    );
  });

  it('random bytes: no exception escapes, the buffer stays under the limit, nothing follows an error', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 10 }), fc.constantFrom<StompVersion>('1.0', '1.1', '1.2'), (data, cuts, version) => {
        const parser = new StompParser(LIMITS);
        parser.version = version;
        const events: ParseEvent[] = [];
        for (const chunk of chunked(Buffer.from(data), cuts)) {
          events.push(...parser.push(chunk));
          if (parser.holding) events.push(...parser.release(version));
          expect(parser.bufferedBytes).toBeLessThanOrEqual(LIMITS.maxFrameBytes);
        }
        const errorAt = events.findIndex((e) => e.kind === 'error');
        if (errorAt >= 0) expect(events.length).toBe(errorAt + 1);
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid frames: no exception escapes, and the stream ends in frames or exactly one error', () => {
    const mutation = fc.oneof(
      fc.record({ op: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.constantFrom(0, 10, 13, 58, 92, 65) }),
      fc.record({ op: fc.constant('delete' as const), at: fc.nat(), byte: fc.constant(0) }),
    );
    fc.assert(
      fc.property(fc.array(arbFrame, { minLength: 1, maxLength: 3 }), fc.array(mutation, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 5 }), (list, mutations, cuts) => {
        const bytes = [...Buffer.concat(list.map((f) => serializeFrame({ ...f, body: Buffer.from(f.body) }, '1.2')))];
        for (const m of mutations) {
          const at = m.at % (bytes.length + 1);
          if (m.op === 'flip' && at < bytes.length) bytes[at] = m.byte;
          if (m.op === 'insert') bytes.splice(at, 0, m.byte);
          if (m.op === 'delete') bytes.splice(at, 1);
        }
        const events = parseChunks(chunked(Buffer.from(bytes), cuts), '1.2', LIMITS);
        const errors = events.filter((e) => e.kind === 'error');
        expect(errors.length).toBeLessThanOrEqual(1);
        if (errors.length === 1) expect(events.at(-1)?.kind).toBe('error');
      }),
      { numRuns: 500 },
    );
  });
});
