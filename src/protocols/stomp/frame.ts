// STOMP frames: the value type, header accessors and serialization.
// STOMP 1.2 §Augmented BNF: frame = command EOL *(header EOL) EOL *OCTET NULL *(EOL)

export const STOMP_VERSIONS = ['1.0', '1.1', '1.2'] as const;
export type StompVersion = (typeof STOMP_VERSIONS)[number];

export const ClientCommand = {
  CONNECT: 'CONNECT',
  STOMP: 'STOMP',
  SEND: 'SEND',
  SUBSCRIBE: 'SUBSCRIBE',
  UNSUBSCRIBE: 'UNSUBSCRIBE',
  ACK: 'ACK',
  NACK: 'NACK',
  BEGIN: 'BEGIN',
  COMMIT: 'COMMIT',
  ABORT: 'ABORT',
  DISCONNECT: 'DISCONNECT',
} as const;
export type ClientCommand = (typeof ClientCommand)[keyof typeof ClientCommand];

export type ServerCommand = 'CONNECTED' | 'MESSAGE' | 'RECEIPT' | 'ERROR';

export function isClientCommand(command: string): command is ClientCommand {
  return Object.hasOwn(ClientCommand, command);
}

/** Header names map to the first value seen (STOMP 1.2 §Repeated Header Entries). */
export type FrameHeaders = Record<string, string>;

export interface StompFrame {
  readonly command: string;
  /** a null-prototype object: a header named `__proto__` is just a header */
  readonly headers: FrameHeaders;
  readonly body: Buffer;
}

/** What a session hands to `serializeFrame`: headers in the order they go on the wire. */
export interface OutgoingFrame {
  command: string;
  headers: ReadonlyArray<readonly [string, string]>;
  body?: Buffer | string;
}

export function emptyHeaders(): FrameHeaders {
  return Object.create(null) as FrameHeaders;
}

export function header(frame: StompFrame, name: string): string | undefined {
  return frame.headers[name];
}

/** `true`/`false` as STOMP and RabbitMQ spell them; anything else is the default. */
export function booleanHeader(frame: StompFrame, name: string, fallback: boolean): boolean {
  const v = frame.headers[name];
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fallback;
}

/** a non-negative decimal integer, or undefined when absent; NaN when present but not a number */
export function integerHeader(frame: StompFrame, name: string): number | undefined {
  const v = frame.headers[name];
  if (v === undefined) return undefined;
  return /^\s*-?\d{1,15}\s*$/.test(v) ? Number.parseInt(v, 10) : Number.NaN;
}

/** CONNECT, STOMP and CONNECTED never escape (STOMP 1.2 §Value Encoding), for 1.0 compatibility. */
export function escapesHeaders(command: string, version: StompVersion): boolean {
  if (version === '1.0') return false;
  return command !== 'CONNECT' && command !== 'STOMP' && command !== 'CONNECTED';
}

const ESCAPE_12: Record<string, string> = { '\\': '\\\\', '\r': '\\r', '\n': '\\n', ':': '\\c' };
const ESCAPE_11: Record<string, string> = { '\\': '\\\\', '\r': ' ', '\n': '\\n', ':': '\\c' };

/**
 * Encode one header name or value. Octets a version cannot carry become a space rather than
 * ending the header line early: an AMQP header holding "\n" must not inject STOMP headers.
 */
export function escapeHeaderText(text: string, command: string, version: StompVersion): string {
  if (!/[\\\r\n:]/.test(text)) return text;
  if (!escapesHeaders(command, version)) return text.replace(/[\r\n]/g, ' ');
  const table = version === '1.1' ? ESCAPE_11 : ESCAPE_12;
  return text.replace(/[\\\r\n:]/g, (c) => table[c] ?? c);
}

/**
 * Bytes for one frame. A non-empty body always gets a `content-length` (bodies are binary
 * and may hold NULs); one the caller set is replaced. `trailingEol` adds the optional EOL
 * after the NUL (RabbitMQ's `trailing_lf`), which keeps a telnet session readable.
 */
export function serializeFrame(frame: OutgoingFrame, version: StompVersion, trailingEol = true): Buffer {
  const body = typeof frame.body === 'string' ? Buffer.from(frame.body, 'utf8') : frame.body ?? Buffer.alloc(0);
  let head = `${frame.command}\n`;
  for (const [name, value] of frame.headers) {
    if (name === 'content-length') continue;
    // 1.0 cannot carry a colon in a name at all; such a header is left out
    if (version === '1.0' && name.includes(':')) continue;
    head += `${escapeHeaderText(name, frame.command, version)}:${escapeHeaderText(value, frame.command, version)}\n`;
  }
  if (body.length > 0) head += `content-length:${body.length}\n`;
  head += '\n';
  // one allocation for the whole frame (this runs once per MESSAGE)
  const headBytes = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headBytes + body.length + (trailingEol ? 2 : 1));
  out.write(head, 0, 'utf8');
  body.copy(out, headBytes);
  out[headBytes + body.length] = 0;
  if (trailingEol) out[headBytes + body.length + 1] = 10;
  return out;
}

/** One EOL: a heart-beat (STOMP 1.1+ §Heart-beating). */
export const HEARTBEAT = Buffer.from('\n');
