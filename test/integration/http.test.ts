// The HTTP side on a real gateway (embedded fabric): health, readiness, metrics and the
// management API, through fastify inject() and, where the socket matters, real requests.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hashPassword } from '../../src/auth/password.js';
import { buildGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { testConfig } from '../support/config.js';
import { echoProtocol, type EchoProtocol } from '../support/echo-protocol.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tributary-http-'));
const usersFile = path.join(dir, 'users.yaml');
const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const admin = basic('guest', 'guest');

beforeAll(async () => {
  const everything = { '/': { configure: '.*', write: '.*', read: '.*' } };
  writeFileSync(usersFile, stringify({
    users: [
      { name: 'alice', password_hash: await hashPassword('wonderland'), tags: ['management'], permissions: everything },
      { name: 'root', password_hash: await hashPassword('toor'), tags: ['administrator'], permissions: everything },
    ],
  }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gatewayWith(...protocols: EchoProtocol[]): Promise<TestGateway> {
  const gw = await startTestGateway({ auth: { usersFile }, shutdownTimeoutMs: 400 }, { protocols: protocols.map((p) => p.factory) });
  cleanups.push(() => gw.stop());
  return gw;
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

describe('http - health', () => {
  it('/healthz is 200 while the process runs; /readyz 200 once started', async () => {
    const gw = await gatewayWith();
    expect((await gw.gateway.http.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await gw.gateway.http.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ok' });
    const overTheNetwork = await fetch(gw.url('/readyz'));
    expect(overTheNetwork.status).toBe(200);
  });

  it('/readyz is 503 with reasons and Retry-After before the gateway has started', async () => {
    const gateway = buildGateway(testConfig(), { protocols: [], log: createLogger('silent') });
    cleanups.push(() => gateway.http.close());
    const res = await gateway.http.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toEqual({ status: 'unavailable', reasons: ['starting', 'fabric not connected: not started'] });
    expect((await gateway.http.inject('/healthz')).statusCode).toBe(200);
  });
});

describe('http - metrics', () => {
  it('/metrics speaks the Prometheus text format and counts connections', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith(echo);
    await connect(gw.ports.stomp as number);
    await echo.nextConnection();
    const res = await gw.gateway.http.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE tributary_connections gauge');
    expect(res.body).toContain('tributary_connections_opened_total{protocol="stomp",transport="tcp"} 1');
    expect(res.body).toContain('tributary_fabric_up 1');
    expect(res.body).toContain('process_cpu_user_seconds_total');
  });
});

describe('http - management API authentication', () => {
  it('no credentials: 401 with a Basic challenge', async () => {
    const gw = await gatewayWith();
    const res = await gw.gateway.http.inject('/api/overview');
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="tributary"/);
    expect(res.json()).toMatchObject({ error: 'unauthorized' });
  });

  it('wrong password or unknown user: 401', async () => {
    const gw = await gatewayWith();
    expect((await gw.gateway.http.inject({ url: '/api/overview', headers: basic('root', 'nope') })).statusCode).toBe(401);
    expect((await gw.gateway.http.inject({ url: '/api/connections', headers: basic('mallory', 'x') })).statusCode).toBe(401);
    expect((await gw.gateway.http.inject({ url: '/api/overview', headers: { authorization: 'Bearer abc' } })).statusCode).toBe(401);
  });

  it('a user without the administrator tag: 403', async () => {
    const gw = await gatewayWith();
    const res = await gw.gateway.http.inject({ url: '/api/connections', headers: basic('alice', 'wonderland') });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: 'forbidden', message: 'user alice is not tagged administrator' });
  });

  it('administrators from the users file and the built-in guest on loopback get in', async () => {
    const gw = await gatewayWith();
    expect((await gw.gateway.http.inject({ url: '/api/overview', headers: basic('root', 'toor') })).statusCode).toBe(200);
    const overNetwork = await fetch(gw.url('/api/overview'), { headers: admin });
    expect(overNetwork.status).toBe(200);
  });

  it('guest from a non-loopback address is refused', async () => {
    const gw = await gatewayWith();
    const res = await gw.gateway.http.inject({ url: '/api/overview', headers: admin, remoteAddress: '192.0.2.7' });
    expect(res.statusCode).toBe(401);
  });
});

describe('http - management API', () => {
  it('/api/overview says what runs and what it listens on', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith(echo);
    await connect(gw.ports.stomp as number);
    await echo.nextConnection();
    const body = (await gw.gateway.http.inject({ url: '/api/overview', headers: admin })).json();
    expect(body).toMatchObject({
      product: 'tributary',
      fabric: { kind: 'embedded', connected: true, blocked: false, url: null },
      listeners: { stomp: gw.ports.stomp, mqtt: null, http: gw.ports.http, websocket: ['/ws', '/stomp'] },
      connections: { total: 1, stomp: 1 },
      ready: { ready: true, reasons: [] },
    });
    expect(body.node).toEqual(gw.gateway.ctx.nodeId);
  });

  it('/api/connections lists connections and filters by protocol, user and ip', async () => {
    const stomp = echoProtocol({ name: 'stomp' });
    const mqtt = echoProtocol({ name: 'mqtt' });
    const gw = await gatewayWith(stomp, mqtt);
    await connect(gw.ports.stomp as number);
    await connect(gw.ports.mqtt as number);
    const [s, m] = [await stomp.nextConnection(), await mqtt.nextConnection()];
    const list = async (query: string) => (await gw.gateway.http.inject({ url: `/api/connections${query}`, headers: admin })).json() as { id: string }[];
    expect((await list('')).map((c) => c.id).sort()).toEqual([s.link.id, m.link.id].sort());
    expect((await list('?protocol=mqtt')).map((c) => c.id)).toEqual([m.link.id]);
    expect(await list('?user=nobody')).toEqual([]);
    expect(await list('?user=echo-user')).toHaveLength(2);
    expect(await list('?ip=127.0.0.1')).toHaveLength(2);
    expect(await list('?ip=10.0.0.1')).toEqual([]);
  });

  it('/api/connections/:id shows one, 404 JSON for an unknown id', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith(echo);
    await connect(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    const one = await gw.gateway.http.inject({ url: `/api/connections/${conn.link.id}`, headers: admin });
    expect(one.json()).toMatchObject({ id: conn.link.id, protocol: 'stomp', transport: 'tcp', user: 'echo-user' });
    const missing = await gw.gateway.http.inject({ url: '/api/connections/stomp-999', headers: admin });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'not found', message: 'no connection stomp-999' });
  });

  it('DELETE /api/connections/:id asks the protocol to say goodbye, with the X-Reason', async () => {
    const echo = echoProtocol();
    const gw = await gatewayWith(echo);
    const client = await connect(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    let text = '';
    client.on('data', (d) => { text += d; });
    const closed = once(client, 'close');
    const res = await gw.gateway.http.inject({ method: 'DELETE', url: `/api/connections/${conn.link.id}`, headers: { ...admin, 'x-reason': 'testing' } });
    expect(res.statusCode).toBe(204);
    await closed;
    expect(text).toBe('bye closed by administrator: testing\n');
    expect(conn.shutdownReasons).toEqual(['closed by administrator: testing']);
    expect(gw.gateway.ctx.registry.size).toBe(0);
  });

  it('DELETE cuts off a connection that does not close within the shutdown timeout', async () => {
    const echo = echoProtocol({ shutdown: () => new Promise(() => {}) });
    const gw = await gatewayWith(echo);
    const client = await connect(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    const closed = once(client, 'close');
    const res = await gw.gateway.http.inject({ method: 'DELETE', url: `/api/connections/${conn.link.id}`, headers: admin });
    expect(res.statusCode).toBe(204);
    await closed;
    expect(conn.shutdownReasons).toEqual(['closed by administrator']);
  });
});

describe('http - limits and errors', () => {
  it('a body over 1 MiB is refused with 413', async () => {
    const gw = await gatewayWith();
    const res = await gw.gateway.http.inject({
      method: 'DELETE', url: '/api/connections/x', headers: { ...admin, 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(1024 * 1024 + 10) }),
    });
    expect(res.statusCode).toBe(413);
  });

  it('request headers over 16 KiB are refused with 431', async () => {
    const gw = await gatewayWith();
    const socket = await connect(gw.ports.http as number);
    let response = '';
    socket.on('data', (d) => { response += d; });
    socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`);
    await once(socket, 'close');
    expect(response).toMatch(/^HTTP\/1\.1 431/);
  });

  it('an unknown route is a JSON 404', async () => {
    const gw = await gatewayWith();
    const res = await gw.gateway.http.inject('/nope');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });
});
