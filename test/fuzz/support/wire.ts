// The fuzzing clients' side of the wire: one connection per case, over TCP or WebSocket. The
// bytes (or WebSocket messages) are written as given, each in a tick of its own; then the
// client either cuts the connection at once (an abrupt close) or watches what the server does:
//   - the protocol's reader (a ServerReader) sees everything that comes back;
//   - a connection that is not established (no CONNECTED/CONNACK/WELCOME), or that has been told
//     its terminal error, must be closed by the server: if it is still open after `hangMs`, the
//     case reports a hang;
//   - an established, healthy connection is closed by the client after `lingerMs`.
import net from 'node:net';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';

/** what the client makes of the server's side of one connection */
export interface ServerReader {
  /** bytes over TCP; over WebSocket one message (binary or text) */
  push(data: Buffer, binary: boolean): void;
  /** the session is up (and not ended again): the server has no reason to close */
  readonly established: boolean;
  /** the protocol's terminal error was seen: the server must close now */
  readonly terminal: boolean;
}

export interface ExchangeOptions {
  /** cut the connection right after the last write */
  abort: boolean;
  /** the input must make the server close (a malformed frame): wait up to hangMs even when established */
  expectClose?: boolean;
  lingerMs: number;
  hangMs: number;
}

export interface Outcome {
  closedBy: 'server' | 'client';
  /** the client cut the connection right after writing (ExchangeOptions.abort) */
  aborted?: boolean;
  /** not established (or told its error) and still open after hangMs */
  hung: boolean;
  /** the WebSocket close code the server sent, or the HTTP status that refused the upgrade */
  closeCode?: number | undefined;
  refusedStatus?: number | undefined;
  /** ms from the last write to the server's close */
  closeAfterMs?: number | undefined;
}

/** one connection to `port`; `chunks` written in order */
export async function tcpExchange(port: number, chunks: readonly Buffer[], reader: ServerReader, opts: ExchangeOptions): Promise<Outcome> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let clientCut = false;
  /** FIN or RST from the server */
  let serverEnded = false;
  socket.on('error', () => {
    if (!clientCut) serverEnded = true;
  });
  socket.on('end', () => {
    serverEnded = true;
    socket.end();
  });
  socket.on('data', (d: Buffer) => reader.push(d, true));
  const closed = new Promise<void>((resolve) => socket.once('close', () => {
    if (!clientCut) serverEnded = true;
    resolve();
  }));
  const connected = await Promise.race([new Promise<boolean>((r) => socket.once('connect', () => r(true))), closed.then(() => false)]);
  if (!connected) return { closedBy: 'server', hung: false };
  for (const chunk of chunks) {
    if (serverEnded) break;
    socket.write(chunk);
    await tick();
  }
  return watch(() => serverEnded, closed, reader, opts, () => {
    clientCut = true;
    socket.destroy();
  });
}

export interface WsMessage {
  data: Buffer;
  /** false: a text frame, whatever the bytes (invalid UTF-8 included) */
  binary: boolean;
}

/** one WebSocket to `url` offering `protocol`; `messages` sent in order */
export async function wsExchange(url: string, protocol: string, messages: readonly WsMessage[], reader: ServerReader, opts: ExchangeOptions): Promise<Outcome> {
  const ws = new WebSocket(url, protocol, { maxPayload: 64 << 20 });
  let closeCode: number | undefined;
  let refusedStatus: number | undefined;
  let clientCut = false;
  ws.on('error', () => undefined);
  ws.on('unexpected-response', (_req, res) => {
    refusedStatus = res.statusCode;
    res.resume();
    ws.terminate();
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => reader.push(Buffer.from(data), isBinary));
  const closed = new Promise<void>((resolve) => ws.once('close', (code: number) => {
    if (!clientCut) closeCode = code;
    resolve();
  }));
  const opened = await Promise.race([new Promise<boolean>((r) => ws.once('open', () => r(true))), closed.then(() => false)]);
  if (!opened) return { closedBy: 'server', hung: false, closeCode, refusedStatus };
  for (const m of messages) {
    if (ws.readyState !== WebSocket.OPEN) break;
    ws.send(m.data, { binary: m.binary });
    await tick();
  }
  const outcome = await watch(() => ws.readyState === WebSocket.CLOSING || ws.readyState === WebSocket.CLOSED, closed, reader, opts, () => {
    if (ws.readyState === WebSocket.OPEN) clientCut = true;
    ws.terminate();
  });
  return { ...outcome, closeCode, refusedStatus };
}

/**
 * A WebSocket upgrade written by hand, then raw bytes as if they were frames (unmasked,
 * reserved opcodes, lengths that lie): the WebSocket layer itself is fuzzed.
 */
export async function rawWebSocketExchange(port: number, path: string, protocol: string, chunks: readonly Buffer[], opts: ExchangeOptions): Promise<Outcome & { upgraded: boolean }> {
  let upgraded = false;
  let head = '';
  const reader: ServerReader = {
    push(data) {
      if (upgraded) return;
      head += data.toString('latin1');
      if (head.includes('\r\n\r\n')) upgraded = head.startsWith('HTTP/1.1 101');
    },
    get established() {
      return false;
    },
    terminal: false,
  };
  const request = Buffer.from([
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Protocol: ${protocol}`,
    '',
    '',
  ].join('\r\n'));
  const outcome = await tcpExchange(port, [request, ...chunks], reader, opts);
  return { ...outcome, upgraded };
}

async function watch(serverIsClosing: () => boolean, closed: Promise<void>, reader: ServerReader, opts: ExchangeOptions, cut: () => void): Promise<Outcome> {
  const lastWrite = Date.now();
  let isClosed = false;
  void closed.then(() => { isClosed = true; });
  const serverClose = async (): Promise<Outcome> => {
    const result: Outcome = { closedBy: 'server', hung: false, closeAfterMs: Date.now() - lastWrite };
    // let the server finish its close (a WebSocket close handshake) before cutting what is left
    await Promise.race([closed, sleep(5_000)]);
    cut();
    await closed;
    return result;
  };
  if (opts.abort) {
    await tick();
    if (isClosed || serverIsClosing()) return serverClose();
    cut();
    await closed;
    return { closedBy: 'client', hung: false, aborted: true };
  }
  await Promise.race([closed, sleep(opts.lingerMs)]);
  if (!isClosed && (opts.expectClose || !reader.established || reader.terminal || serverIsClosing())) {
    await Promise.race([closed, sleep(opts.hangMs)]);
  }
  if (isClosed || serverIsClosing()) return serverClose();
  const hung = opts.expectClose === true || !reader.established || reader.terminal;
  cut();
  await closed;
  return { closedBy: 'client', hung };
}
