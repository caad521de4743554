// Transports over real sockets: TCP and WebSocket listeners, the one write path (pending
// cap, drain timeout), flow control, connection limits, the open/close log lines.
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ErrorCode, GatewayError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { echoProtocol, type EchoProtocol } from '../support/echo-protocol.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { DeepPartial } from '../support/config.js';
import type { Config } from '../../src/config/schema.js';

const gateways: TestGateway[] = [];
const sockets: (net.Socket | WebSocket)[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s instanceof WebSocket ? s.terminate() : s.destroy();
  await Promise.all(gateways.splice(0).map((g) => g.stop()));
});

async function gatewayWith(overrides: DeepPartial<Config> = {}, ...protocols: EchoProtocol[]): Promise<TestGateway> {
  const gw = await startTestGateway({ websocket: { pingIntervalMs: 0 }, ...overrides }, { protocols: protocols.map((p) => p.factory) });
  gateways.push(gw);
  return gw;
}

/** a TCP client that reads lines */
async function tcpClient(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  sockets.push(socket);
  await once(socket, 'connect');
  let buffered = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (d) => {
    buffered += d.toString();
    waiters.splice(0).forEach((w) => w());
  });
  const closed = once(socket, 'close');
  return {
    socket,
    closed,
    send: (line: string) => socket.write(`${line}\n`),
    async line(): Promise<string> {
      while (!buffered.includes('\n')) await new Promise<void>((r) => waiters.push(r));
      const nl = buffered.indexOf('\n');
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      return line;
    },
  };
}

async function counter(gw: TestGateway, name: 'connectionsClosed' | 'connectionsOpened' | 'connections' | 'bytesIn' | 'bytesOut', labels: Record<string, string>): Promise<number> {
  const metric = await gw.gateway.ctx.metrics[name].get();
  return metric.values.filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val)).reduce((sum, v) => sum + v.value, 0);
}

function expectSlowConsumer(err: Error | undefined, detail: RegExp): void {
  expect(err).toBeInstanceOf(GatewayError);
  expect((err as GatewayError).code).toBe(ErrorCode.SLOW_CONSUMER);
  expect((err as GatewayError).detail).toMatch(detail);
}

describe('transport - TCP', () => {
  it('hands bytes to the protocol and back, registers the connection, and cleans up when the client leaves', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({}, echo);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    client.send('hello');
    expect(await client.line()).toBe('hello');
    expect(conn.link.id).toMatch(/^stomp-\d+$/);
    expect(conn.link.transport).toBe('tcp');
    expect(conn.link.peer).toMatchObject({ address: '127.0.0.1', loopback: true });
    expect(gw.gateway.ctx.registry.list()).toEqual([expect.objectContaining({ id: conn.link.id, user: 'echo-user' })]);
    expect(await counter(gw, 'bytesIn', { protocol: 'stomp', transport: 'tcp' })).toBe(6);
    expect(await counter(gw, 'bytesOut', { protocol: 'stomp', transport: 'tcp' })).toBe(6);
    expect(await counter(gw, 'connections', { protocol: 'stomp' })).toBe(1);

    client.socket.end();
    expect(await conn.closed).toBeUndefined();
    expect(conn.onCloseCalls).toBe(1);
    expect(gw.gateway.ctx.registry.size).toBe(0);
    expect(await counter(gw, 'connections', { protocol: 'stomp' })).toBe(0);
    expect(await counter(gw, 'connectionsClosed', { protocol: 'stomp', reason: 'client' })).toBe(1);
  });

  it('keeps the registration a protocol made itself and removes it on close', async () => {
    const echo = echoProtocol({ registerSelf: true });
    const gw = await gatewayWith({}, echo);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    expect(gw.gateway.ctx.registry.get(conn.link.id)?.conn).toBe(conn);
    client.socket.destroy();
    await conn.closed;
    expect(gw.gateway.ctx.registry.size).toBe(0);
  });

  it('link.end() flushes what was sent, then closes', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({}, echo);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    client.send('!text last words');
    client.send('!end');
    expect(await client.line()).toBe('last words');
    await client.closed;
    expect(await conn.closed).toBeUndefined();
    expect(await counter(gw, 'connectionsClosed', { reason: 'server' })).toBe(1);
  });

  it('after link.end() what the client still sends is dropped, and past 64 KiB the client is cut off', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({}, echo);
    // a client that keeps its side open and keeps sending after the server's FIN
    const socket = net.connect({ port: gw.ports.stomp as number, host: '127.0.0.1', allowHalfOpen: true });
    sockets.push(socket);
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const conn = await echo.nextConnection();
    socket.write('!end\n');
    await new Promise<void>((resolve) => socket.once('end', () => resolve()));
    const started = Date.now();
    for (let i = 0; i < 64 && !socket.destroyed; i++) {
      socket.write(Buffer.alloc(16 * 1024, 0x61));
      await new Promise((r) => setTimeout(r, 2));
    }
    await closed;
    expect(Date.now() - started).toBeLessThan(4_000); // well before the 5 s end grace
    expect(await counter(gw, 'bytesIn', { protocol: 'stomp' })).toBeLessThan(64 * 1024 + 5 + 64 * 1024);
    expect(conn.lines).toEqual(['!end']);
  });

  it('a protocol that throws costs that client its connection, and nobody else theirs', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({}, echo);
    const healthy = await tcpClient(gw.ports.stomp as number);
    const victim = await tcpClient(gw.ports.stomp as number);
    const [, victimConn] = [await echo.nextConnection(), await echo.nextConnection()];
    victim.send('!throw');
    expect((await victimConn.closed)?.message).toMatch(/protocol bug/);
    await victim.closed;
    healthy.send('still here');
    expect(await healthy.line()).toBe('still here');
  });

  it('a protocol whose onClose throws is logged, cleaned up, and does not take the process down', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
    const echo = echoProtocol();
    const gw = await startTestGateway({}, { protocols: [echo.factory], log: createLogger('info', sink) });
    gateways.push(gw);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    client.send('!throw-on-close');
    client.send('ping');
    expect(await client.line()).toBe('!throw-on-close');
    client.socket.destroy();
    await conn.closed;
    await expect.poll(() => gw.gateway.ctx.registry.size).toBe(0);
    const closeLine = lines.find((l) => l.conn === conn.link.id && String(l.msg).startsWith('connection closed'));
    expect(closeLine).toMatchObject({ level: 50, msg: 'connection closed; the protocol failed to clean up' });
    const next = await tcpClient(gw.ports.stomp as number);
    next.send('alive');
    expect(await next.line()).toBe('alive');
  });

  it('pauseReading stops handing data to the protocol until resumeReading', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({}, echo);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    conn.link.pauseReading();
    client.send('held');
    await new Promise((r) => setTimeout(r, 150)); // a window in which nothing may arrive
    expect(conn.lines).toEqual([]);
    conn.link.resumeReading();
    expect(await client.line()).toBe('held');
    expect(conn.lines).toEqual(['held']);
  });
});

describe('transport - the write path', () => {
  it('destroys a client that lets more than maxPendingBytesPerConnection pile up', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({ limits: { maxPendingBytesPerConnection: 256 * 1024 } }, echo);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    client.socket.pause(); // a client that stops reading
    client.send('!blast 64000000');
    expectSlowConsumer(await conn.closed, /more than 262144 bytes pending/);
    expect(await counter(gw, 'connectionsClosed', { reason: 'slow_consumer' })).toBe(1);
  });

  it('destroys a client that stays backed up longer than drainTimeoutMs', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({ limits: { maxPendingBytesPerConnection: 512 * 1024 * 1024, drainTimeoutMs: 200 } }, echo);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    client.socket.pause();
    const started = Date.now();
    client.send('!blast 32000000');
    expectSlowConsumer(await conn.closed, /did not drain .* within 200 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  });

  it('a client that reads keeps its connection while a producer respects send() and onDrain', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({ limits: { maxPendingBytesPerConnection: 256 * 1024, drainTimeoutMs: 200 } }, echo);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    const total = 16 * 1024 * 1024;
    let received = 0;
    const done = new Promise<void>((resolve) => client.socket.on('data', (d) => { received += d.length; if (received >= total) resolve(); }));
    client.send(`!stream ${total}`);
    await done;
    expect(received).toBe(total);
    expect(conn.link.closed).toBe(false);
    expect(conn.link.pendingBytes).toBe(0);
  });

  it('send() says false above the high-water mark, and onDrain fires once flushed', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({}, echo);
    await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    expect(conn.link.send(Buffer.alloc(10))).toBe(true);
    expect(conn.link.send(Buffer.alloc(1024 * 1024))).toBe(false);
    expect(conn.link.pendingBytes).toBeGreaterThan(0);
    await new Promise<void>((resolve) => conn.link.onDrain(resolve));
    expect(conn.link.pendingBytes).toBe(0);
  });
});

describe('transport - connection limits', () => {
  it('refuses, by closing, clients beyond maxConnectionsPerAddress, and admits again once one leaves', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith({ limits: { maxConnectionsPerAddress: 2 } }, echo);
    const first = await tcpClient(gw.ports.stomp as number);
    await tcpClient(gw.ports.stomp as number);
    await echo.nextConnection();
    await echo.nextConnection();
    const third = await tcpClient(gw.ports.stomp as number);
    await third.closed;
    expect(echo.connections).toHaveLength(2);
    first.socket.destroy();
    await echo.connections[0]?.closed;
    const fourth = await tcpClient(gw.ports.stomp as number);
    await echo.nextConnection();
    fourth.send('in');
    expect(await fourth.line()).toBe('in');
  });

  it('refuses clients beyond maxConnections across listeners', async () => {
    const stomp = echoProtocol({ name: 'stomp' });
    const mqtt = echoProtocol({ name: 'mqtt' });
    const gw = await gatewayWith({ limits: { maxConnections: 1 } }, stomp, mqtt);
    await tcpClient(gw.ports.stomp as number);
    await stomp.nextConnection();
    const refused = await tcpClient(gw.ports.mqtt as number);
    await refused.closed;
    expect(mqtt.connections).toHaveLength(0);
  });
});

describe('transport - logging', () => {
  it('logs one info line when a connection opens and one when it closes, with protocol, peer and user', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
    const echo = echoProtocol();
    const gw = await startTestGateway({}, { protocols: [echo.factory], log: createLogger('info', sink) });
    gateways.push(gw);
    const client = await tcpClient(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    client.send('x');
    await client.line();
    client.socket.end();
    await conn.closed;
    const connectionLines = lines.filter((l) => l.conn === conn.link.id);
    expect(connectionLines.map((l) => l.msg)).toEqual(['connection opened', 'connection closed']);
    expect(connectionLines.every((l) => l.level === 30)).toBe(true);
    expect(connectionLines[0]).toMatchObject({ protocol: 'stomp', transport: 'tcp', peer: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(connectionLines[1]).toMatchObject({ protocol: 'stomp', user: 'echo-user', bytesIn: 2, bytesOut: 2, reason: 'closed by client' });
  });
});

/** opens a WebSocket; resolves with it once open, or with the refusing HTTP status */
/** `setup` attaches listeners before anything can arrive (a ping may come in the same read as the 101) */
function wsConnect(url: string, protocols: string[] = [], options: WebSocket.ClientOptions = {}, setup?: (ws: WebSocket) => void): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, options);
    setup?.(ws);
    sockets.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; isBinary: boolean }> {
  return new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })));
}

describe('transport - WebSocket', () => {
  it('/ws picks the protocol by subprotocol; binary in, binary out; a string is a text frame', async () => {
    const stomp = echoProtocol({ name: 'stomp', wsSubprotocols: ['v12.stomp'] });
    const mqtt = echoProtocol({ name: 'mqtt', wsSubprotocols: ['mqtt', 'mqttv3.1'] });
    const gw = await gatewayWith({}, stomp, mqtt);
    const ws = (await wsConnect(gw.wsUrl('/ws'), ['nope', 'mqttv3.1', 'v12.stomp'])) as WebSocket;
    expect(ws.protocol).toBe('mqttv3.1');
    const conn = await mqtt.nextConnection();
    expect(conn.link).toMatchObject({ transport: 'ws', subprotocol: 'mqttv3.1' });
    expect(conn.link.id).toMatch(/^mqtt-/);

    const echoed = nextMessage(ws);
    ws.send(Buffer.from([1, 2, 3]));
    expect(await echoed).toEqual({ data: Buffer.from([1, 2, 3]), isBinary: true });
    const text = nextMessage(ws);
    ws.send('!text hi there');
    const reply = await text;
    expect(reply.isBinary).toBe(false);
    expect(reply.data.toString()).toBe('hi there');
    expect(stomp.connections).toHaveLength(0);

    ws.close();
    expect(await conn.closed).toBeUndefined();
    expect(gw.gateway.ctx.registry.size).toBe(0);
  });

  it('fixed paths serve their protocol, with or without a subprotocol', async () => {
    const stomp = echoProtocol({ name: 'stomp', wsSubprotocols: ['v10.stomp', 'v12.stomp'] });
    const gw = await gatewayWith({}, stomp);
    const bare = (await wsConnect(gw.wsUrl('/stomp'))) as WebSocket;
    expect(bare.protocol).toBe('');
    const negotiated = (await wsConnect(gw.wsUrl('/stomp/'), ['nope', 'v12.stomp'])) as WebSocket;
    expect(negotiated.protocol).toBe('v12.stomp');
    await stomp.nextConnection();
    expect((await stomp.nextConnection()).link.subprotocol).toBe('v12.stomp');
  });

  it('refuses in the handshake: unknown path 404, missing or unsupported subprotocol 400', async () => {
    const stomp = echoProtocol({ name: 'stomp', wsSubprotocols: ['v12.stomp'] });
    const gw = await gatewayWith({}, stomp);
    expect(await wsConnect(gw.wsUrl('/nope'), ['v12.stomp'])).toBe(404);
    expect(await wsConnect(gw.wsUrl('/wamp'), ['wamp.2.json'])).toBe(404);
    expect(await wsConnect(gw.wsUrl('/ws'))).toBe(400);
    expect(await wsConnect(gw.wsUrl('/ws'), ['wamp.2.json'])).toBe(400);
    expect(await wsConnect(gw.wsUrl('/stomp'), ['mqtt'])).toBe(400);
    expect(stomp.connections).toHaveLength(0);
  });

  it('refuses a handshake beyond the connection limit with 503', async () => {
    const stomp = echoProtocol({ name: 'stomp', wsSubprotocols: ['v12.stomp'] });
    const gw = await gatewayWith({ limits: { maxConnectionsPerAddress: 1 } }, stomp);
    expect(await wsConnect(gw.wsUrl('/ws'), ['v12.stomp'])).toBeInstanceOf(WebSocket);
    expect(await wsConnect(gw.wsUrl('/ws'), ['v12.stomp'])).toBe(503);
  });

  it('cuts off a client that does not finish its handshake within websocket.handshakeTimeoutMs', async () => {
    const gw = await gatewayWith({ websocket: { handshakeTimeoutMs: 300 } }, echoProtocol());
    const socket = net.connect(gw.ports.http as number, '127.0.0.1');
    sockets.push(socket);
    await once(socket, 'connect');
    let response = '';
    socket.on('data', (d) => { response += d; });
    const started = Date.now();
    socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n'); // and never the rest
    await once(socket, 'close');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(response).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes with 1009 a message larger than websocket.maxMessageBytes', async () => {
    const stomp = echoProtocol({ name: 'stomp', wsSubprotocols: ['v12.stomp'] });
    const gw = await gatewayWith({ websocket: { maxMessageBytes: 1024 } }, stomp);
    const ws = (await wsConnect(gw.wsUrl('/stomp'))) as WebSocket;
    const conn = await stomp.nextConnection();
    ws.send(Buffer.alloc(1000));
    await nextMessage(ws);
    const closed = once(ws, 'close');
    ws.send(Buffer.alloc(2000));
    const [code] = await closed;
    expect(code).toBe(1009);
    await conn.closed;
    expect(conn.lines).toHaveLength(1);
  });

  it('pings, and cuts off a peer that does not answer', async () => {
    const stomp = echoProtocol({ name: 'stomp', wsSubprotocols: ['v12.stomp'] });
    const gw = await gatewayWith({ websocket: { pingIntervalMs: 100 } }, stomp);
    let pings = 0;
    await wsConnect(gw.wsUrl('/stomp'), [], { autoPong: false }, (ws) => ws.on('ping', () => pings++));
    const silentConn = await stomp.nextConnection();
    const lively = (await wsConnect(gw.wsUrl('/stomp'))) as WebSocket;
    const livelyConn = await stomp.nextConnection();
    const err = await silentConn.closed;
    expect(err?.message).toMatch(/no pong within 100 ms/);
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(livelyConn.link.closed).toBe(false);
    expect(lively.readyState).toBe(WebSocket.OPEN);
  });
});
