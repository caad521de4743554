// TLS listeners with certificates generated at test time (test/support/certs.ts): STOMP over
// TLS with a raw TLS socket, MQTT over TLS with mqtt.js (mqtts://), HTTPS and WSS with ws;
// client certificates none/request/require; the verified certificate's CN as the user.
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import mqtt from 'mqtt';
import WebSocket, { createWebSocketStream } from 'ws';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listeningLine } from '../../src/cli/serve.js';
import type { Config } from '../../src/config/schema.js';
import { ErrorCode, GatewayError } from '../../src/errors.js';
import { buildGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { createTestPki, type TestPki } from '../support/certs.js';
import { testConfig, type DeepPartial } from '../support/config.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { StompWire, type Frame } from './hardening-wire.js';

let pki: TestPki;
let usersFile: string;

beforeAll(() => {
  pki = createTestPki();
  usersFile = path.join(pki.dir, 'users.yaml');
  // alice has no password: she can only log in with her certificate
  writeFileSync(usersFile, stringify({
    users: [{
      name: 'alice',
      permissions: { '/': { configure: '^alice\\.', write: '.*', read: '.*' } },
      topic_permissions: { '/': [{ exchange: 'amq.topic', write: '^alice\\.', read: '.*' }] },
    }],
  }));
});
afterAll(() => pki.cleanup());

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

type ClientCertificates = Config['tls']['clientCertificates'];

async function tlsGateway(clientCertificates: ClientCertificates = 'none', certificateUser = false, more: DeepPartial<Config> = {}): Promise<TestGateway> {
  const gw = await startTestGateway({
    stomp: { tlsPort: 0, heartbeatMs: 0 },
    mqtt: { tlsPort: 0 },
    httpTlsPort: 0,
    websocket: { pingIntervalMs: 0 },
    auth: { usersFile },
    tls: { certFile: pki.server.cert, keyFile: pki.server.key, caFile: pki.ca.cert, clientCertificates, certificateUser },
    ...more,
  } as DeepPartial<Config>);
  cleanups.push(() => gw.stop());
  return gw;
}

interface ClientCert {
  cn?: string;
  rogue?: boolean;
}

function clientTlsOptions(cert: ClientCert = {}): tls.ConnectionOptions {
  return { ca: pki.caPem(), servername: 'localhost', ...(cert.cn ? pki.clientPem(cert.cn, cert.rogue) : {}) };
}

/** a STOMP client on a TLS socket (the handshake may still be refused: connect() then rejects) */
function stompTls(port: number, cert: ClientCert = {}): StompWire {
  const socket = tls.connect({ port, host: '127.0.0.1', ...clientTlsOptions(cert) });
  cleanups.push(() => socket.destroy());
  return new StompWire(socket);
}

async function stompWss(gw: TestGateway, cert: ClientCert = {}): Promise<StompWire> {
  const ws = new WebSocket(`wss://127.0.0.1:${gw.ports.httpTls}/stomp`, ['v12.stomp'], clientTlsOptions(cert));
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  return new StompWire(createWebSocketStream(ws));
}

async function mqttTls(port: number, cert: ClientCert = {}, options: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const client = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, {
    protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000, clientId: `tls-${Math.random().toString(36).slice(2, 10)}`,
    ...clientTlsOptions(cert), ...options,
  } as mqtt.IClientOptions);
  cleanups.push(() => client.endAsync(true));
  return client;
}

async function metric(gw: TestGateway, name: 'connectionsRefused' | 'connectionsOpened', labels: Record<string, string>): Promise<number> {
  const values = (await gw.gateway.ctx.metrics[name].get()).values;
  return values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((n, v) => n + v.value, 0);
}

async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function userOf(gw: TestGateway, transport: string): string | undefined {
  const conns = gw.gateway.ctx.registry.list().filter((c) => c.transport === transport);
  expect(conns).toHaveLength(1);
  return conns[0]?.user;
}

function httpsGet(port: number, pathname: string, cert: ClientCert = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: pathname, ...clientTlsOptions(cert) }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('tls - listeners with a server certificate', () => {
  it('binds stomp.tlsPort, mqtt.tlsPort and httpTlsPort, and the startup line lists them', async () => {
    const gw = await tlsGateway();
    for (const port of [gw.ports.stompTls, gw.ports.mqttTls, gw.ports.httpTls]) expect(port).toBeGreaterThan(0);
    expect(listeningLine(gw.ports, gw.gateway)).toBe(
      `listening stomp=${gw.ports.stomp} mqtt=${gw.ports.mqtt} http=${gw.ports.http} stomps=${gw.ports.stompTls} mqtts=${gw.ports.mqttTls} https=${gw.ports.httpTls} fabric=embedded`,
    );
    expect(gw.gateway.readiness()).toEqual({ ready: true, reasons: [] });
  });

  it('without tls.certFile no TLS listener is bound, whatever the ports say', async () => {
    const gw = await startTestGateway({ stomp: { tlsPort: 0 }, mqtt: { tlsPort: 0 }, httpTlsPort: 0 } as DeepPartial<Config>);
    cleanups.push(() => gw.stop());
    expect(gw.ports).toMatchObject({ stompTls: null, mqttTls: null, httpTls: null });
    expect(listeningLine(gw.ports, gw.gateway)).toMatch(/^listening stomp=\d+ mqtt=\d+ http=\d+ fabric=embedded$/);
  });

  it('STOMP over TLS: a raw TLS socket connects, subscribes and gets its own message; the link says tls', async () => {
    const gw = await tlsGateway();
    const wire = stompTls(gw.ports.stompTls as number);
    expect((await wire.connect({ login: 'guest', passcode: 'guest' })).command).toBe('CONNECTED');
    expect((wire.socket as tls.TLSSocket).getProtocol()).toMatch(/^TLSv1\.[23]$/);
    wire.send('SUBSCRIBE', { id: '1', destination: '/topic/tls.test', receipt: 'r1' });
    expect((await wire.frame()).command).toBe('RECEIPT');
    wire.send('SEND', { destination: '/topic/tls.test' }, 'over tls');
    const message = await wire.frame();
    expect(message).toMatchObject({ command: 'MESSAGE', body: 'over tls' });
    expect(userOf(gw, 'tls')).toBe('guest');
  });

  it('MQTT over TLS: mqtt.js on mqtts:// publishes and receives', async () => {
    const gw = await tlsGateway();
    const client = await mqttTls(gw.ports.mqttTls as number, {}, { username: 'guest', password: 'guest' });
    await client.subscribeAsync('tls/test', { qos: 1 });
    const received = new Promise<[string, Buffer]>((resolve) => client.once('message', (t, p) => resolve([t, p])));
    await client.publishAsync('tls/test', 'secure', { qos: 1 });
    const [topic, payload] = await received;
    expect([topic, payload.toString()]).toEqual(['tls/test', 'secure']);
    expect(userOf(gw, 'tls')).toBe('guest');
  });

  it('HTTPS serves the same routes, and WSS the same WebSocket endpoints (link transport wss)', async () => {
    const gw = await tlsGateway();
    expect(await httpsGet(gw.ports.httpTls as number, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    const wire = await stompWss(gw);
    expect((await wire.connect({ login: 'guest', passcode: 'guest' })).command).toBe('CONNECTED');
    expect(userOf(gw, 'wss')).toBe('guest');
    const mqttClient = await mqtt.connectAsync(`wss://127.0.0.1:${gw.ports.httpTls}/mqtt`, {
      protocolVersion: 4, reconnectPeriod: 0, ...clientTlsOptions(),
    } as mqtt.IClientOptions);
    cleanups.push(() => mqttClient.endAsync(true));
    expect(mqttClient.connected).toBe(true);
  });

  it('is real TLS: a client that does not trust the CA fails, and plain text on the TLS port is refused and counted', async () => {
    const gw = await tlsGateway();
    const untrusting = tls.connect({ port: gw.ports.stompTls as number, host: '127.0.0.1', servername: 'localhost' });
    cleanups.push(() => untrusting.destroy());
    const [err] = (await once(untrusting, 'error').catch((e: unknown) => [e])) as [Error & { code?: string }];
    expect(err.code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/);

    const plain = net.connect(gw.ports.stompTls as number, '127.0.0.1');
    cleanups.push(() => plain.destroy());
    const plainWire = new StompWire(plain);
    await expect(plainWire.connect()).rejects.toThrow(/closed/);
    await eventually(async () => (await metric(gw, 'connectionsRefused', { protocol: 'stomp', transport: 'tls', reason: 'tls_handshake' })) >= 1);
    expect(await metric(gw, 'connectionsOpened', { transport: 'tls' })).toBe(0);
  });
});

describe('tls - client certificates required', () => {
  it('no client certificate: the handshake is refused on STOMP, MQTT and WSS; nothing reaches a protocol', async () => {
    const gw = await tlsGateway('require', true);
    await expect(stompTls(gw.ports.stompTls as number).connect()).rejects.toThrow(/closed/);
    await expect(mqttTls(gw.ports.mqttTls as number)).rejects.toThrow();
    await expect(stompWss(gw)).rejects.toThrow();
    await eventually(async () => (await metric(gw, 'connectionsRefused', { reason: 'tls_handshake' })) >= 2);
    expect(await metric(gw, 'connectionsOpened', {})).toBe(0);
    expect(gw.gateway.ctx.registry.size).toBe(0);
  });

  it('a certificate from a CA the gateway does not trust is refused', async () => {
    const gw = await tlsGateway('require', true);
    await expect(stompTls(gw.ports.stompTls as number, { cn: 'alice', rogue: true }).connect()).rejects.toThrow(/closed/);
    expect(await metric(gw, 'connectionsOpened', {})).toBe(0);
  });

  it('CN=alice with no username logs in as alice (users file entry without a password) and is authorized as alice', async () => {
    const gw = await tlsGateway('require', true);
    const wire = stompTls(gw.ports.stompTls as number, { cn: 'alice' });
    expect((await wire.connect()).command).toBe('CONNECTED');
    expect(userOf(gw, 'tls')).toBe('alice');
    wire.send('SEND', { destination: '/topic/alice.readings', receipt: 'ok' }, 'mine');
    expect(await wire.frame()).toMatchObject({ command: 'RECEIPT', headers: { 'receipt-id': 'ok' } });
    wire.send('SEND', { destination: '/topic/bob.readings', receipt: 'no' }, 'not mine');
    const refused: Frame = await wire.frame();
    expect(refused.command).toBe('ERROR');
    expect(`${refused.headers.message} ${refused.body}`).toMatch(/refused for user 'alice'/);
  });

  it('MQTT over TLS with CN=alice and no username is alice', async () => {
    const gw = await tlsGateway('require', true);
    const client = await mqttTls(gw.ports.mqttTls as number, { cn: 'alice' });
    expect(client.connected).toBe(true);
    expect(userOf(gw, 'tls')).toBe('alice');
    await client.publishAsync('alice/readings', 'x', { qos: 1 });
  });

  it('WSS with CN=alice: STOMP and anonymous WAMP sessions are alice', async () => {
    const gw = await tlsGateway('require', true);
    const wire = await stompWss(gw, { cn: 'alice' });
    expect((await wire.connect()).command).toBe('CONNECTED');
    expect(userOf(gw, 'wss')).toBe('alice');
    wire.destroy();
    await eventually(() => gw.gateway.ctx.registry.size === 0);

    const ws = new WebSocket(`wss://127.0.0.1:${gw.ports.httpTls}/wamp`, ['wamp.2.json'], clientTlsOptions({ cn: 'alice' }));
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    ws.send(JSON.stringify([1, 'realm1', { roles: { subscriber: {} } }]));
    const [data] = (await once(ws, 'message')) as [Buffer];
    const welcome = JSON.parse(data.toString()) as [number, number, Record<string, unknown>];
    expect(welcome[0]).toBe(2);
    expect(welcome[2]).toMatchObject({ authid: 'alice' });
  });

  it('a verified certificate whose CN is not a user is refused', async () => {
    const gw = await tlsGateway('require', true);
    const wire = stompTls(gw.ports.stompTls as number, { cn: 'bob' });
    const answer = await wire.connect();
    expect(answer.command).toBe('ERROR');
    expect(answer.headers.message).toBe('access refused');
    await wire.closed;
  });

  it('credentials in CONNECT win over the certificate', async () => {
    const gw = await tlsGateway('require', true);
    const wire = stompTls(gw.ports.stompTls as number, { cn: 'alice' });
    expect((await wire.connect({ login: 'guest', passcode: 'guest' })).command).toBe('CONNECTED');
    expect(userOf(gw, 'tls')).toBe('guest');
  });
});

describe('tls - client certificates requested', () => {
  it('a client without a certificate gets in (as the anonymous user); one with an untrusted certificate is refused', async () => {
    const gw = await tlsGateway('request', true);
    const anonymous = stompTls(gw.ports.stompTls as number);
    expect((await anonymous.connect()).command).toBe('CONNECTED');
    expect(userOf(gw, 'tls')).toBe('guest');

    const rogue = stompTls(gw.ports.stompTls as number, { cn: 'alice', rogue: true });
    await expect(rogue.connect()).rejects.toThrow(/closed/);
    expect(await metric(gw, 'connectionsRefused', { transport: 'tls', reason: 'client_certificate' })).toBe(1);
    await expect(httpsGet(gw.ports.httpTls as number, '/healthz', { cn: 'alice', rogue: true })).rejects.toThrow();
  });

  it('with certificateUser off a verified certificate does not name the user', async () => {
    const gw = await tlsGateway('request', false);
    const wire = stompTls(gw.ports.stompTls as number, { cn: 'alice' });
    expect((await wire.connect()).command).toBe('CONNECTED');
    expect(userOf(gw, 'tls')).toBe('guest');
  });
});

describe('tls - configuration errors name the key', () => {
  const build = (config: DeepPartial<Config>) => () => buildGateway(testConfig(config), { log: createLogger('silent') });
  const configError = (run: () => unknown): GatewayError => {
    try {
      run();
    } catch (err) {
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).code).toBe(ErrorCode.CONFIG);
      return err as GatewayError;
    }
    throw new Error('expected a CONFIG error');
  };

  it('certFile without keyFile, missing files, unusable PEM, and settings that cannot work together', () => {
    expect(configError(build({ tls: { certFile: pki.server.cert } })).message).toBe('tls.keyFile is needed with tls.certFile');
    expect(configError(build({ tls: { keyFile: pki.server.key } })).message).toMatch(/^tls\.certFile is needed/);
    expect(configError(build({ tls: { certFile: '/nonexistent/cert.pem', keyFile: pki.server.key } })).message)
      .toBe('tls.certFile not found (/nonexistent/cert.pem)');
    expect(configError(build({ tls: { certFile: pki.server.cert, keyFile: pki.ca.key } })).message).toMatch(/not usable/);
    expect(configError(build({ tls: { certFile: pki.server.cert, keyFile: pki.server.key, clientCertificates: 'require' } })).message)
      .toMatch(/^tls\.caFile is needed to verify client certificates/);
    expect(configError(build({ tls: { certFile: pki.server.cert, keyFile: pki.server.key, certificateUser: true } })).message)
      .toMatch(/^tls\.certificateUser needs tls\.clientCertificates request or require/);
  });
});
