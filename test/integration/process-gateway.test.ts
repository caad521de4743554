// The gateway's lifecycle in process: binding (and failing to bind), readiness, graceful
// stop with protocol goodbyes bounded by shutdownTimeoutMs.
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, GatewayError } from '../../src/errors.js';
import { buildGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { brokerAvailable } from '../support/broker.js';
import { testConfig } from '../support/config.js';
import { echoProtocol } from '../support/echo-protocol.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function occupiedPort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}

async function started(...args: Parameters<typeof startTestGateway>): Promise<TestGateway> {
  const gw = await startTestGateway(...args);
  cleanups.push(() => gw.stop());
  return gw;
}

async function connect(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => { socket.destroy(); });
  await once(socket, 'connect');
  return socket;
}

async function startError(promise: Promise<unknown>): Promise<GatewayError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe('gateway - binding', () => {
  it('returns the bound ports, and a listener that is off stays null', async () => {
    const gw = await started({ mqtt: { port: null } }, { protocols: [echoProtocol({ name: 'stomp' }).factory, echoProtocol({ name: 'mqtt' }).factory] });
    expect(gw.ports.stomp).toBeGreaterThan(0);
    expect(gw.ports.http).toBeGreaterThan(0);
    expect(gw.ports.mqtt).toBeNull();
    expect(gw.gateway.ports).toEqual(gw.ports);
  });

  it('a TCP port in use is a CONFIG error naming the port and the option', async () => {
    const port = await occupiedPort();
    const err = await startError(startTestGateway({ stomp: { port } }, { protocols: [echoProtocol({ name: 'stomp' }).factory] }));
    expect(err.code).toBe(ErrorCode.CONFIG);
    expect(err.message).toBe(`stomp.port ${port} is already in use (--stomp-port)`);
  });

  it('the HTTP port in use is a CONFIG error naming --http-port, and nothing is left bound', async () => {
    const port = await occupiedPort();
    const echo = echoProtocol({ name: 'mqtt' });
    const config = testConfig({ httpPort: port });
    const gateway = buildGateway(config, { protocols: [echo.factory], log: createLogger('silent') });
    const err = await startError(gateway.start());
    expect(err.code).toBe(ErrorCode.CONFIG);
    expect(err.message).toBe(`httpPort ${port} is already in use (--http-port)`);
    expect(gateway.ctx.fabric.status().connected).toBe(false);
  });

  it('an address that is not ours is a CONFIG error naming --host', async () => {
    const err = await startError(startTestGateway({ host: '192.0.2.1' }, { protocols: [] }));
    expect(err.code).toBe(ErrorCode.CONFIG);
    expect(err.message).toBe('host 192.0.2.1 is not an address of this machine (--host)');
  });
});

describe('gateway - readiness', () => {
  it('is not ready before start, ready when running, not ready once stopping', async () => {
    const gateway = buildGateway(testConfig(), { protocols: [], log: createLogger('silent') });
    expect(gateway.readiness()).toEqual({ ready: false, reasons: ['starting', 'fabric not connected: not started'] });
    await gateway.start();
    expect(gateway.readiness()).toEqual({ ready: true, reasons: [] });
    await gateway.stop();
    expect(gateway.readiness().ready).toBe(false);
    expect(gateway.readiness().reasons).toContain('stopping');
  });
});

describe('gateway - graceful stop', () => {
  it('readyz turns 503, every connection gets shutdown(reason), modules and fabric close, listeners stop', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    const echo = echoProtocol({
      shutdown: async (conn, reason) => {
        await held;
        conn.link.send(`bye ${reason}\n`);
        conn.link.end();
      },
    });
    const gw = await started({}, { protocols: [echo.factory] });
    const clients = [await connect(gw.ports.stomp as number), await connect(gw.ports.stomp as number)];
    await echo.nextConnection();
    await echo.nextConnection();
    const received = clients.map((c) => { let text = ''; c.on('data', (d) => { text += d; }); return once(c, 'close').then(() => text); });

    const stopping = gw.stop('maintenance');
    await expect.poll(() => echo.connections.every((c) => c.shutdownReasons.length === 1)).toBe(true);
    const ready = await fetch(gw.url('/readyz'));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', reasons: ['stopping'] });
    const refused = net.connect(gw.ports.stomp as number, '127.0.0.1');
    const [refusal] = await once(refused, 'error').catch((e: unknown) => [e]);
    expect((refusal as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');

    release();
    await stopping;
    expect(await Promise.all(received)).toEqual(['bye maintenance\n', 'bye maintenance\n']);
    expect(echo.connections.map((c) => c.shutdownReasons)).toEqual([['maintenance'], ['maintenance']]);
    expect(echo.moduleClosed).toBe(true);
    expect(gw.gateway.ctx.fabric.status().connected).toBe(false);
    expect(gw.gateway.ctx.registry.size).toBe(0);
    await expect(fetch(gw.url('/healthz'))).rejects.toThrow();
  });

  it('a connection that never says goodbye is cut off, and stop ends within shutdownTimeoutMs', async () => {
    const echo = echoProtocol({ shutdown: () => new Promise(() => {}) });
    const gw = await started({ shutdownTimeoutMs: 600 }, { protocols: [echo.factory] });
    const client = await connect(gw.ports.stomp as number);
    const conn = await echo.nextConnection();
    const closed = once(client, 'close');
    const begun = Date.now();
    await gw.stop();
    const took = Date.now() - begun;
    await closed;
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(1_500);
    const err = await conn.closed;
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe(ErrorCode.SHUTTING_DOWN);
  });

  it('stop() twice is one stop', async () => {
    const gw = await started({}, { protocols: [] });
    const [a, b] = [gw.stop(), gw.stop()];
    expect(a).toBe(b);
    await a;
  });
});

describe.runIf(brokerAvailable)('[rabbitmq] gateway on the AMQP fabric', () => {
  it('connects, is ready, and stops cleanly', async () => {
    const gw = await started({}, { fabric: 'amqp', protocols: [] });
    expect(gw.gateway.ctx.fabric.kind).toBe('amqp');
    expect((await fetch(gw.url('/readyz'))).status).toBe(200);
    await gw.stop();
    expect(gw.gateway.ctx.fabric.status().connected).toBe(false);
  });

  it('an unreachable broker fails start with one clear error and a redacted URL', async () => {
    const err = await startError(startTestGateway({ amqpUrl: 'amqp://app:s3cret@127.0.0.1:1/' }, { protocols: [] }));
    expect(err.message).toMatch(/127\.0\.0\.1:1/);
    expect(err.message).not.toContain('s3cret');
  });
});
