// Limits enforced on every protocol and transport with the real protocols: connections in
// total and per source address, the connection rate per address (token bucket), frame/packet/
// message sizes, subscriptions and in-flight messages per session.
// 127.0.0.2 is a second source address on loopback (Linux routes all of 127/8 to lo).
import net from 'node:net';
import tls from 'node:tls';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { createTestPki, type TestPki } from '../support/certs.js';
import type { DeepPartial } from '../support/config.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { StompWire, tcpConnect } from './hardening-wire.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gateway(overrides: DeepPartial<Config>): Promise<TestGateway> {
  const gw = await startTestGateway({ stomp: { heartbeatMs: 0 }, websocket: { pingIntervalMs: 0 }, ...overrides });
  cleanups.push(() => gw.stop());
  return gw;
}

async function refusedCount(gw: TestGateway, labels: Record<string, string>): Promise<number> {
  const values = (await gw.gateway.ctx.metrics.connectionsRefused.get()).values;
  return values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((n, v) => n + v.value, 0);
}

/** open a socket and report whether the server closed it within `ms` without sending a byte */
function cutOff(socket: net.Socket | tls.TLSSocket, ms: number): Promise<boolean> {
  cleanups.push(() => socket.destroy());
  socket.on('error', () => undefined);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** the HTTP status of a WebSocket handshake (101 when it opened) */
function wsStatus(url: string, protocols: string[], options: WebSocket.ClientOptions = {}): Promise<{ status: number; retryAfter?: string | undefined }> {
  const ws = new WebSocket(url, protocols, options);
  cleanups.push(() => ws.terminate());
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ status: 101 }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined }));
    ws.once('error', () => resolve({ status: 0 }));
  });
}

function stompAttempt(port: number, localAddress?: string): Promise<string> {
  return (async () => {
    const socket = await tcpConnect(port, localAddress);
    cleanups.push(() => socket.destroy());
    const wire = new StompWire(socket);
    try {
      return (await wire.connect({ login: 'guest', passcode: 'guest' })).command;
    } catch {
      return 'closed';
    }
  })();
}

describe('limits - connection rate per address (token bucket)', () => {
  it('STOMP/TCP: of 20 connections opened at once with a rate of 1/s, the excess is closed at once and counted', async () => {
    const gw = await gateway({ limits: { maxConnectionRatePerAddress: 1 } });
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => cutOff(net.connect(gw.ports.stomp as number, '127.0.0.1'), 1_500)));
    const refused = outcomes.filter(Boolean).length;
    // one token at once, then one per second: however slow the machine, most are refused
    expect(refused).toBeGreaterThanOrEqual(15);
    expect(refused).toBeLessThan(20);
    expect(await refusedCount(gw, { protocol: 'stomp', transport: 'tcp', reason: 'rate' })).toBe(refused);
    expect(gw.gateway.ctx.registry.size).toBe(20 - refused);
  });

  it('another source address has its own bucket', async () => {
    const gw = await gateway({ limits: { maxConnectionRatePerAddress: 2 } });
    const first = await Promise.all(Array.from({ length: 6 }, () => stompAttempt(gw.ports.stomp as number)));
    expect(first.filter((c) => c === 'CONNECTED').length).toBeLessThanOrEqual(4);
    expect(await stompAttempt(gw.ports.stomp as number, '127.0.0.2')).toBe('CONNECTED');
  });

  it('MQTT/TCP and MQTT/TLS: refused before a byte is read (before the TLS handshake)', async () => {
    const pki: TestPki = createTestPki();
    cleanups.push(() => pki.cleanup());
    const gw = await gateway({
      limits: { maxConnectionRatePerAddress: 1 },
      mqtt: { tlsPort: 0 },
      tls: { certFile: pki.server.cert, keyFile: pki.server.key },
    } as DeepPartial<Config>);
    const plain = await Promise.all(Array.from({ length: 10 }, () => cutOff(net.connect(gw.ports.mqtt as number, '127.0.0.1'), 1_500)));
    expect(plain.filter(Boolean).length).toBeGreaterThanOrEqual(7);
    const secure = await Promise.all(Array.from({ length: 10 }, () => cutOff(tls.connect({ port: gw.ports.mqttTls as number, host: '127.0.0.1', ca: pki.caPem(), servername: 'localhost' }), 1_500)));
    const refusedTls = secure.filter(Boolean).length;
    expect(refusedTls).toBeGreaterThanOrEqual(7);
    expect(await refusedCount(gw, { protocol: 'mqtt', transport: 'tls', reason: 'rate' })).toBe(refusedTls);
    expect(await refusedCount(gw, { protocol: 'mqtt', transport: 'tls', reason: 'tls_handshake' })).toBe(0);
  });

  it('WebSocket: the excess upgrades get 429 with Retry-After', async () => {
    const gw = await gateway({ limits: { maxConnectionRatePerAddress: 1 } });
    const results = await Promise.all(Array.from({ length: 10 }, () => wsStatus(gw.wsUrl('/ws'), ['mqtt'])));
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(7);
    expect(limited.every((r) => r.retryAfter === '1')).toBe(true);
    expect(results.filter((r) => r.status === 101).length).toBe(10 - limited.length);
    expect(await refusedCount(gw, { protocol: 'mqtt', transport: 'ws', reason: 'rate' })).toBe(limited.length);
  });

  it('0 means no rate limit', async () => {
    const gw = await gateway({ limits: { maxConnectionRatePerAddress: 0 } });
    const outcomes = await Promise.all(Array.from({ length: 50 }, () => stompAttempt(gw.ports.stomp as number)));
    expect(outcomes.every((c) => c === 'CONNECTED')).toBe(true);
  });
});

describe('limits - connections in total and per source address, across protocols', () => {
  it('maxConnectionsPerAddress counts STOMP, MQTT and WebSocket together; another address is counted apart', async () => {
    const gw = await gateway({ limits: { maxConnectionsPerAddress: 3, maxConnectionRatePerAddress: 0 } });
    expect(await stompAttempt(gw.ports.stomp as number)).toBe('CONNECTED');
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { reconnectPeriod: 0, protocolVersion: 5 });
    cleanups.push(() => device.endAsync(true));
    expect((await wsStatus(gw.wsUrl('/wamp'), ['wamp.2.json'])).status).toBe(101);
    // the fourth from 127.0.0.1, whatever its protocol, is refused
    expect(await cutOff(net.connect(gw.ports.mqtt as number, '127.0.0.1'), 1_000)).toBe(true);
    expect(await stompAttempt(gw.ports.stomp as number)).toBe('closed');
    expect((await wsStatus(gw.wsUrl('/stomp'), ['v12.stomp'])).status).toBe(503);
    expect(await refusedCount(gw, { reason: 'max_per_address' })).toBe(3);
    // 127.0.0.2 has its own three
    expect(await stompAttempt(gw.ports.stomp as number, '127.0.0.2')).toBe('CONNECTED');
    expect((await wsStatus(gw.wsUrl('/mqtt'), ['mqtt'], { localAddress: '127.0.0.2' })).status).toBe(101);
  });

  it('maxConnections caps all addresses together', async () => {
    const gw = await gateway({ limits: { maxConnections: 2, maxConnectionRatePerAddress: 0 } });
    expect(await stompAttempt(gw.ports.stomp as number)).toBe('CONNECTED');
    expect(await stompAttempt(gw.ports.stomp as number, '127.0.0.2')).toBe('CONNECTED');
    expect(await cutOff(net.connect({ port: gw.ports.mqtt as number, host: '127.0.0.1', localAddress: '127.0.0.3' }), 1_000)).toBe(true);
    expect((await wsStatus(gw.wsUrl('/ws'), ['wamp.2.json'], { localAddress: '127.0.0.4' })).status).toBe(503);
    expect(await refusedCount(gw, { reason: 'max_connections' })).toBe(2);
  });
});
