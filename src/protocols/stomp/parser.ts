// A resumable STOMP frame parser: pure (no I/O, no clock), fed any split of the byte stream.
//
//   frame-stream = 1*frame
//   frame        = command EOL *( header EOL ) EOL *OCTET NULL *( EOL )
//   EOL          = [CR] LF
//   header       = header-name ":" header-value          (split at the first ":")
//
// - EOLs between frames are heart-beats; a stray NUL between frames is skipped (telnet users
//   and clients that end frames with "NUL LF" both work).
// - `content-length` bodies may hold NULs and must be followed by a NUL; without it the body
//   ends at the first NUL.
// - Repeated headers: the first wins (STOMP 1.2 §Repeated Header Entries).
// - Escapes by version: 1.0 none, 1.1 \n \c \\, 1.2 adds \r; CONNECT/STOMP never escape;
//   an undefined escape is a fatal error (STOMP 1.2 §Value Encoding).
// - Limits: frame bytes, header count and header line length; on breach one error event and
//   the parser stops (STOMP 1.2 §Size Limits: ERROR then close).
// - The parser stops after a CONNECT/STOMP frame and holds what follows until `release(version)`:
//   frames pipelined behind CONNECT are decoded with the version CONNECT negotiated.
// Memory held is bounded by the frame limit: only the current frame is ever buffered.

import { ErrorCode, GatewayError } from '../../errors.js';
import { emptyHeaders, escapesHeaders, type FrameHeaders, type StompFrame, type StompVersion } from './frame.js';

export interface ParserLimits {
  maxFrameBytes: number;
  /** largest frame before the client is authenticated (CONNECT and anything sent behind it) */
  maxFrameBytesUnauthenticated?: number;
  maxHeaders: number;
  /** longest command or header line, in bytes */
  maxHeaderBytes: number;
}

export type ParseEvent =
  | { readonly kind: 'frame'; readonly frame: StompFrame }
  | { readonly kind: 'heartbeat' }
  | { readonly kind: 'error'; readonly error: GatewayError };

type State = 'idle' | 'command' | 'headers' | 'body-length' | 'body-nul' | 'body-scan' | 'failed';

const LF = 10;
const CR = 13;
const NUL = 0;
const COLON = 58;

export class StompParser {
  version: StompVersion = '1.2';
  private state: State = 'idle';
  private line: Buffer[] = [];
  private lineBytes = 0;
  private frameBytes = 0;
  private command = '';
  private rawHeaders: Array<[Buffer, Buffer]> = [];
  private body: Buffer[] = [];
  private bodyRemaining = 0;
  private decodedHeaders: FrameHeaders = emptyHeaders();
  /** input after a CONNECT frame, kept until release() */
  private held: Buffer[] | undefined;
  private heldBytes = 0;

  /** until release(): nobody knows who is sending, so frames are held to the smaller limit */
  private frameLimit: number;

  constructor(private readonly limits: ParserLimits) {
    this.frameLimit = Math.min(limits.maxFrameBytes, limits.maxFrameBytesUnauthenticated ?? limits.maxFrameBytes);
  }

  /** bytes held for the frame in progress */
  get bufferedBytes(): number {
    return this.frameBytes;
  }

  get failed(): boolean {
    return this.state === 'failed';
  }

  /** true between a CONNECT frame and release() */
  get holding(): boolean {
    return this.held !== undefined;
  }

  push(chunk: Buffer): ParseEvent[] {
    if (this.held !== undefined) return this.hold(chunk);
    const events: ParseEvent[] = [];
    let i = 0;
    while (i < chunk.length && this.state !== 'failed') {
      try {
        i = this.step(chunk, i, events);
      } catch (err) {
        this.state = 'failed';
        events.push({ kind: 'error', error: err instanceof GatewayError ? err : new GatewayError(ErrorCode.PROTOCOL, 'malformed frame', { fatal: true, cause: err }) });
      }
      // step() may have started holding (a CONNECT frame ended); TS cannot see that
      const held = this.held as Buffer[] | undefined;
      if (held !== undefined) {
        if (i < chunk.length) events.push(...this.hold(chunk.subarray(i)));
        break;
      }
    }
    return events;
  }

  /** Set the negotiated version and parse what arrived behind the CONNECT frame. */
  release(version: StompVersion): ParseEvent[] {
    this.version = version;
    this.frameLimit = this.limits.maxFrameBytes;
    const held = this.held ?? [];
    this.held = undefined;
    this.heldBytes = 0;
    return held.length === 0 ? [] : this.push(Buffer.concat(held));
  }

  private hold(chunk: Buffer): ParseEvent[] {
    this.heldBytes += chunk.length;
    if (this.heldBytes > this.frameLimit) {
      this.state = 'failed';
      this.held = undefined;
      return [{ kind: 'error', error: new GatewayError(ErrorCode.FRAME_TOO_LARGE, 'frame too large', { fatal: true, detail: 'too much data sent before CONNECTED' }) }];
    }
    this.held!.push(chunk);
    return [];
  }

  private step(chunk: Buffer, i: number, events: ParseEvent[]): number {
    switch (this.state) {
      case 'idle':
        return this.skipBetweenFrames(chunk, i, events);
      case 'command':
      case 'headers':
        return this.readLine(chunk, i, events);
      case 'body-length':
        return this.readCountedBody(chunk, i);
      case 'body-nul':
        if (chunk[i] !== NUL) throw protocolError('frame body does not end with NUL where content-length says it should');
        this.emitFrame(events);
        return i + 1;
      case 'body-scan':
        return this.scanBody(chunk, i, events);
      case 'failed':
        return chunk.length;
    }
  }

  private skipBetweenFrames(chunk: Buffer, i: number, events: ParseEvent[]): number {
    const byte = chunk[i];
    if (byte === LF) {
      events.push({ kind: 'heartbeat' });
      return i + 1;
    }
    if (byte === CR || byte === NUL) return i + 1;
    this.state = 'command';
    return i;
  }

  private readLine(chunk: Buffer, i: number, events: ParseEvent[]): number {
    const lf = chunk.indexOf(LF, i);
    const end = lf === -1 ? chunk.length : lf;
    this.addFrameBytes(end - i + (lf === -1 ? 0 : 1));
    this.lineBytes += end - i;
    if (this.lineBytes > this.limits.maxHeaderBytes + 1) {
      throw new GatewayError(ErrorCode.LIMIT_EXCEEDED, 'header line too long', { fatal: true, detail: `a command or header line exceeds ${this.limits.maxHeaderBytes} bytes` });
    }
    if (end > i) this.line.push(chunk.subarray(i, end));
    if (lf === -1) return chunk.length;
    let text = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line);
    this.line = [];
    this.lineBytes = 0;
    if (text.length > 0 && text[text.length - 1] === CR) text = text.subarray(0, text.length - 1);
    if (this.state === 'command') {
      this.command = text.toString('utf8');
      this.state = 'headers';
    } else if (text.length === 0) {
      this.startBody();
    } else {
      this.addHeaderLine(text);
    }
    return lf + 1;
  }

  private addHeaderLine(text: Buffer): void {
    if (this.rawHeaders.length >= this.limits.maxHeaders) {
      throw new GatewayError(ErrorCode.LIMIT_EXCEEDED, 'too many headers', { fatal: true, detail: `a frame may carry at most ${this.limits.maxHeaders} headers` });
    }
    const colon = text.indexOf(COLON);
    if (colon === -1) throw protocolError('header line without a colon');
    if (colon === 0) throw protocolError('header with an empty name');
    this.rawHeaders.push([text.subarray(0, colon), text.subarray(colon + 1)]);
  }

  private startBody(): void {
    const headers = this.decodeHeaders();
    const declared = headers['content-length'];
    if (declared === undefined) {
      this.state = 'body-scan';
      return;
    }
    if (!/^\s*\d{1,15}\s*$/.test(declared)) throw protocolError(`invalid content-length "${declared}"`);
    this.bodyRemaining = Number.parseInt(declared, 10);
    this.addFrameBytes(this.bodyRemaining);
    this.state = this.bodyRemaining === 0 ? 'body-nul' : 'body-length';
  }

  private readCountedBody(chunk: Buffer, i: number): number {
    const take = Math.min(this.bodyRemaining, chunk.length - i);
    this.body.push(chunk.subarray(i, i + take));
    this.bodyRemaining -= take;
    if (this.bodyRemaining === 0) this.state = 'body-nul';
    return i + take;
  }

  private scanBody(chunk: Buffer, i: number, events: ParseEvent[]): number {
    const nul = chunk.indexOf(NUL, i);
    const end = nul === -1 ? chunk.length : nul;
    this.addFrameBytes(end - i);
    if (end > i) this.body.push(chunk.subarray(i, end));
    if (nul === -1) return chunk.length;
    this.emitFrame(events);
    return nul + 1;
  }

  private decodeHeaders(): FrameHeaders {
    const unescape = escapesHeaders(this.command, this.version);
    const headers = emptyHeaders();
    for (const [rawName, rawValue] of this.rawHeaders) {
      const name = unescape ? unescapeText(rawName, this.version) : rawName.toString('utf8');
      if (Object.hasOwn(headers, name)) continue;
      headers[name] = unescape ? unescapeText(rawValue, this.version) : rawValue.toString('utf8');
    }
    this.decodedHeaders = headers;
    return headers;
  }

  private emitFrame(events: ParseEvent[]): void {
    const body = this.body.length === 1 ? Buffer.from(this.body[0]!) : Buffer.concat(this.body);
    const frame: StompFrame = { command: this.command, headers: this.decodedHeaders, body };
    events.push({ kind: 'frame', frame });
    this.state = 'idle';
    this.frameBytes = 0;
    this.command = '';
    this.rawHeaders = [];
    this.body = [];
    this.decodedHeaders = emptyHeaders();
    if (frame.command === 'CONNECT' || frame.command === 'STOMP') this.held = [];
  }

  private addFrameBytes(n: number): void {
    this.frameBytes += n;
    if (this.frameBytes > this.frameLimit) {
      throw new GatewayError(ErrorCode.FRAME_TOO_LARGE, 'frame too large', { fatal: true, detail: `frames are limited to ${this.frameLimit} bytes` });
    }
  }
}

function protocolError(detail: string): GatewayError {
  return new GatewayError(ErrorCode.PROTOCOL, 'malformed frame', { fatal: true, detail });
}

const BACKSLASH = 92;

/** STOMP 1.2 §Value Encoding; 1.1 lacks \r. */
function unescapeText(raw: Buffer, version: StompVersion): string {
  if (raw.indexOf(BACKSLASH) === -1) return raw.toString('utf8');
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!;
    if (byte !== BACKSLASH) {
      out[n++] = byte;
      continue;
    }
    const next = raw[++i];
    if (next === 110) out[n++] = LF; // \n
    else if (next === 99) out[n++] = COLON; // \c
    else if (next === BACKSLASH) out[n++] = BACKSLASH;
    else if (next === 114 && version === '1.2') out[n++] = CR; // \r
    else throw protocolError(`undefined escape sequence "\\${next === undefined ? '' : String.fromCharCode(next)}" in a header`);
  }
  return out.subarray(0, n).toString('utf8');
}
