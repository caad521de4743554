// Attack classes other brokers have had CVEs for (docs: OPERATIONS.md §B7/§B9), each against a
// real gateway over real sockets:
// - a huge declared frame/packet length before authentication is cut off after a small
//   buffer, and 1,000 such attempts add under 5 MB to the RSS of a gateway process;
// - no CONNECT/HELLO (or no TLS handshake) within the deadline closes the socket;
// - a WebSocket upgrade with 2,000 headers is refused without harm (ws CVE-2024-37890);
// - a 10 MiB body to the management API gets 413 without being read (RabbitMQ CVE-2023-46118);
// - client ids and usernames with regex/wildcard characters cannot widen a topic permission
//   pattern (RabbitMQ CVE-2026-44838);
// - a storm of failed logins from one address is throttled before password hashing while a
//   valid client from another address (127.0.0.2) still gets in.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { DEFAULT_THROTTLE_OPTIONS } from '../../src/auth/throttle.js';
import type { Config } from '../../src/config/schema.js';
import { createTestPki, type TestPki } from '../support/certs.js';
import type { DeepPartial } from '../support/config.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { StompWire, closedWith, tcpConnect, wsClosed } from './hardening-wire.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'tributary-hardening-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function gateway(overrides: DeepPartial<Config> = {}): Promise<TestGateway> {
  const gw = await startTestGateway({ stomp: { heartbeatMs: 0 }, websocket: { pingIntervalMs: 0 }, ...overrides });
  cleanups.push(() => gw.stop());
  return gw;
}

async function counter(gw: TestGateway, name: 'bytesIn' | 'authFailures' | 'connectionsOpened', labels: Record<string, string>): Promise<number> {
  const values = (await gw.gateway.ctx.metrics[name].get()).values;
  return values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((n, v) => n + v.value, 0);
}

async function eventually(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** resolves on the event (events.once would reject on an 'error' first: a reset is expected here) */
function event(emitter: NodeJS.EventEmitter, name: string): Promise<void> {
  return new Promise((resolve) => emitter.once(name, () => resolve()));
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** STOMP CONNECT declaring a 1 GiB body */
const STOMP_HUGE = Buffer.from('CONNECT\naccept-version:1.2\nhost:/\ncontent-length:1073741824\n\n');
/** MQTT fixed header: PUBLISH with remaining length 268,435,455 (the 4-byte maximum) */
const MQTT_HUGE = Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]);

/**
 * Write `header`, then up to `total` bytes of filler in 64 KiB chunks until the server closes
 * the socket. Resolves with what the server sent and how many filler bytes the socket took.
 */
async function flood(port: number, header: Buffer, total: number): Promise<{ received: Buffer; sent: number; closedEarly: boolean }> {
  const socket = await tcpConnect(port);
  cleanups.push(() => socket.destroy());
  const received = closedWith(socket);
  let closed = false;
  socket.once('close', () => { closed = true; });
  socket.write(header);
  const chunk = Buffer.alloc(64 * KiB, 0x78);
  let sent = 0;
  while (sent < total && !closed) {
    const room = socket.write(chunk);
    sent += chunk.length;
    if (!room) await Promise.race([event(socket, 'drain'), event(socket, 'close'), new Promise((r) => setTimeout(r, 2_000))]);
    else await new Promise((r) => setImmediate(r));
  }
  const timedOut = await Promise.race([received.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 10_000))]);
  if (timedOut) socket.destroy();
  return { received: await received, sent, closedEarly: !timedOut && sent < total };
}

describe('attack - huge declared lengths before authentication', () => {
  it('STOMP: CONNECT with content-length 1 GiB gets ERROR and is cut off after a small buffer', async () => {
    const gw = await gateway();
    const { received, closedEarly } = await flood(gw.ports.stomp as number, STOMP_HUGE, 32 * MiB);
    expect(closedEarly).toBe(true);
    expect(received.toString()).toMatch(/^ERROR\n[^]*message:frame too large/);
    // what the gateway read: the chunk with the header, then at most AFTER_END_BYTES (64 KiB) and
    // one more read before it cut the client off, of the 32 MiB the client tried to send
    expect(await counter(gw, 'bytesIn', { protocol: 'stomp' })).toBeLessThan(256 * KiB);
    await eventually(() => gw.gateway.ctx.registry.size === 0);
  });

  it('STOMP: a CONNECT with no content-length that never ends is cut off at stomp.maxFrameBytesUnauthenticated, not maxFrameBytes', async () => {
    const gw = await gateway();
    const header = Buffer.from('CONNECT\naccept-version:1.2\nhost:/\n\n');
    const { received, closedEarly } = await flood(gw.ports.stomp as number, header, 8 * MiB);
    expect(closedEarly).toBe(true);
    expect(received.toString()).toMatch(/^ERROR\n[^]*message:frame too large/);
    // 64 KiB allowed before authentication (4 MiB after it), plus the reads in flight when it cut off
    expect(await counter(gw, 'bytesIn', { protocol: 'stomp' })).toBeLessThan(512 * KiB);
    await eventually(() => gw.gateway.ctx.registry.size === 0);
  });

  it('MQTT: a first packet declaring 268,435,455 bytes is cut off after at most the pre-auth limit', async () => {
    const gw = await gateway();
    const { closedEarly } = await flood(gw.ports.mqtt as number, MQTT_HUGE, 32 * MiB);
    expect(closedEarly).toBe(true);
    expect(await counter(gw, 'bytesIn', { protocol: 'mqtt' })).toBeLessThan(256 * KiB);
    await eventually(() => gw.gateway.ctx.registry.size === 0);
  });
});

interface GatewayProcess {
  child: ChildProcess;
  ports: { stomp: number; mqtt: number; http: number };
  /** VmRSS after full garbage collections in the gateway process */
  settledRss(): Promise<number>;
}

/**
 * RSS is live memory plus what the allocators keep after a free. To see what an attack leaves
 * behind, not allocator hysteresis: V8's young generation is kept small (--max-semi-space-size=1,
 * otherwise it grows to tens of MiB under a burst and stays committed), and glibc serves
 * blocks from 64 KiB up (socket read buffers) with mmap, so they go back to the OS when freed.
 */
const SETTLED_MEMORY_ENV = { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '2' };

/** the gateway in a process of its own, so its RSS is its own (see hardening-process.ts); logging off */
async function spawnGateway(extra: string[] = []): Promise<GatewayProcess> {
  const args = ['--expose-gc', '--max-semi-space-size=1', '--import', 'tsx', 'test/integration/hardening-process.ts',
    '--host', '127.0.0.1', '--stomp-port', '0', '--mqtt-port', '0', '--http-port', '0', '--log-level', 'silent', ...extra];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], env: { ...process.env, ...SETTLED_MEMORY_ENV } });
  cleanups.push(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const ports = await new Promise<GatewayProcess['ports']>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { ports: GatewayProcess['ports'] }).ports));
    child.once('exit', (code) => reject(new Error(`gateway exited ${code} before listening: ${stderr}`)));
  });
  return {
    child,
    ports,
    /** the lowest of three readings, each after full GCs: what stays, not what is in passing */
    async settledRss() {
      let lowest = Infinity;
      let usage: NodeJS.MemoryUsage | undefined;
      for (let i = 0; i < 3; i++) {
        const done = once(child, 'message');
        child.send('gc');
        [{ gc: usage }] = (await done) as [{ gc: NodeJS.MemoryUsage }];
        await new Promise((r) => setTimeout(r, 300));
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        lowest = Math.min(lowest, Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024);
      }
      const mib = (n: number) => (n / MiB).toFixed(1);
      if (usage) console.log(`[hardening] gateway VmRSS ${mib(lowest)} MiB (V8 heap used ${mib(usage.heapUsed)} of ${mib(usage.heapTotal)}, external ${mib(usage.external)}, array buffers ${mib(usage.arrayBuffers)})`);
      return lowest;
    },
  };
}

/** one attempt: a huge declared length, 64 KiB of it, then wait for the server to close */
async function hugeAttempt(port: number, header: Buffer): Promise<'closed' | 'timeout'> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  socket.write(Buffer.concat([header, Buffer.alloc(64 * KiB, 0x78)]));
  const result = await Promise.race([event(socket, 'close').then(() => 'closed' as const), new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000))]);
  socket.destroy();
  return result;
}

async function attempts(gw: GatewayProcess, count: number, batch: number): Promise<string[]> {
  const outcomes: string[] = [];
  for (let i = 0; i < count; i += batch) {
    const round = Array.from({ length: Math.min(batch, count - i) }, (_, j) => ((i + j) % 2 === 0 ? hugeAttempt(gw.ports.stomp, STOMP_HUGE) : hugeAttempt(gw.ports.mqtt, MQTT_HUGE)));
    outcomes.push(...(await Promise.all(round)));
  }
  return outcomes;
}

describe('attack - memory for huge declared lengths (gateway in its own process)', () => {
  it('1,000 attempts (STOMP and MQTT alternating, 50 at a time) add under 5 MB of RSS', { timeout: 180_000 }, async () => {
    const gw = await spawnGateway(['--set', 'limits.maxConnectionRatePerAddress=0']);
    // warm up with twice as many: JIT, socket and parser allocations, the allocators' high-water mark
    expect(new Set(await attempts(gw, 2_000, 50))).toEqual(new Set(['closed']));
    const before = await gw.settledRss();
    const outcomes = await attempts(gw, 1_000, 50);
    const after = await gw.settledRss();
    expect(outcomes.filter((o) => o === 'closed')).toHaveLength(1_000);
    const growth = after - before;
    console.log(`[hardening] gateway RSS ${(before / MiB).toFixed(1)} MiB before, ${(after / MiB).toFixed(1)} MiB after 1,000 huge-length attempts (${(growth / MiB).toFixed(2)} MiB)`);
    expect(growth).toBeLessThan(5 * 1000 * 1000);
  });
});

describe('attack - no CONNECT within the deadline', () => {
  it('STOMP, MQTT, WAMP and a TLS socket that never handshakes are closed after limits.connectTimeoutMs', async () => {
    const pki: TestPki = createTestPki();
    cleanups.push(() => pki.cleanup());
    const gw = await gateway({
      limits: { connectTimeoutMs: 500 },
      stomp: { tlsPort: 0, heartbeatMs: 0 },
      tls: { certFile: pki.server.cert, keyFile: pki.server.key },
    } as DeepPartial<Config>);
    const started = Date.now();
    const silentStomp = await tcpConnect(gw.ports.stomp as number);
    const slowStomp = await tcpConnect(gw.ports.stomp as number);
    slowStomp.write('CONN'); // slowloris: a frame that never ends
    const silentMqtt = await tcpConnect(gw.ports.mqtt as number);
    const silentTls = await tcpConnect(gw.ports.stompTls as number);
    const ws = new WebSocket(gw.wsUrl('/wamp'), ['wamp.2.json']);
    await once(ws, 'open');
    for (const s of [silentStomp, slowStomp, silentMqtt, silentTls]) cleanups.push(() => s.destroy());
    cleanups.push(() => ws.terminate());
    const [stomp] = await Promise.all([closedWith(silentStomp), closedWith(slowStomp), closedWith(silentMqtt), closedWith(silentTls), wsClosed(ws)]);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(10_000);
    expect(stomp.toString()).toMatch(/^ERROR\n/);
    await eventually(() => gw.gateway.ctx.registry.size === 0);
  });
});

/** send a raw HTTP request and read the response status line (or '' when the socket closed first) */
async function rawHttp(port: number, request: string): Promise<string> {
  const socket = await tcpConnect(port);
  cleanups.push(() => socket.destroy());
  const response = closedWith(socket);
  socket.write(request);
  const timer = setTimeout(() => socket.destroy(), 10_000);
  const text = (await response).toString();
  clearTimeout(timer);
  return text.split('\r\n')[0] ?? '';
}

function upgradeRequest(headers: string[], junkFirst: boolean): string {
  const upgrade = ['Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol: mqtt'];
  const all = junkFirst ? [...headers, ...upgrade] : [...upgrade, ...headers];
  return `GET /ws HTTP/1.1\r\n${all.join('\r\n')}\r\n\r\n`;
}

async function stillServes(gw: TestGateway): Promise<void> {
  expect((await fetch(gw.url('/healthz'))).status).toBe(200);
  const client = await mqtt.connectAsync(gw.wsUrl('/mqtt'), { reconnectPeriod: 0 });
  expect(client.connected).toBe(true);
  await client.endAsync();
}

describe('attack - WebSocket upgrade with 2,000 headers (ws CVE-2024-37890)', () => {
  it('2,000 ordinary headers (over 16 KiB) get 431; the gateway keeps serving', async () => {
    const gw = await gateway();
    const headers = Array.from({ length: 2_000 }, (_, i) => `X-Padding-${i}: value-${i}`);
    expect(await rawHttp(gw.ports.http as number, upgradeRequest(headers, false))).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    await stillServes(gw);
  });

  it('2,000 tiny headers that fit the size limit, before the upgrade headers: no upgrade, no crash, still serving', async () => {
    const gw = await gateway();
    const headers = Array.from({ length: 2_000 }, () => 'a:');
    const status = await rawHttp(gw.ports.http as number, upgradeRequest(headers, true));
    expect(status).toMatch(/^HTTP\/1\.1 4\d\d /);
    expect(gw.gateway.ctx.registry.size).toBe(0);
    await stillServes(gw);
  });
});

describe('attack - 10 MiB body to the management API (RabbitMQ CVE-2023-46118)', () => {
  const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  const head = (framing: string) => `DELETE /api/connections/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\n${framing}\r\n`;

  /** socket, everything received so far, and whether it closed */
  async function open(gw: TestGateway) {
    const socket = await tcpConnect(gw.ports.http as number);
    cleanups.push(() => socket.destroy());
    const state = { text: '', closed: false };
    socket.on('data', (d: Buffer) => { state.text += d.toString(); });
    socket.on('close', () => { state.closed = true; });
    socket.on('error', () => undefined);
    const until = async (predicate: () => boolean) => {
      for (let i = 0; i < 500 && !predicate(); i++) await new Promise((r) => setTimeout(r, 20));
    };
    /** write body bytes until the server closes or all is sent; the bytes the socket took */
    const stream = async (chunk: Buffer, total: number) => {
      let sent = 0;
      while (sent < total && !state.closed) {
        if (!socket.write(chunk)) await Promise.race([event(socket, 'drain'), event(socket, 'close'), new Promise((r) => setTimeout(r, 1_000))]);
        sent += chunk.length;
        await new Promise((r) => setTimeout(r, 1));
      }
      return sent;
    };
    return { socket, state, until, stream };
  }

  it('declared with content-length: 413 at once, nothing of the body is read, the connection is closed', async () => {
    const gw = await gateway();
    const { socket, state, until, stream } = await open(gw);
    socket.write(head(`Content-Length: ${10 * MiB}\r\n`));
    await until(() => state.text.includes('\r\n\r\n'));
    expect(state.text).toMatch(/^HTTP\/1\.1 413 /);
    expect(state.text.toLowerCase()).toContain('connection: close');
    const sent = await stream(Buffer.alloc(64 * KiB, 0x20), 10 * MiB);
    expect(state.closed).toBe(true);
    expect(sent).toBeLessThan(2 * MiB);
  });

  it('chunked, with no length: read only up to the 1 MiB limit, then 413 and the connection is closed', async () => {
    const gw = await gateway();
    const { socket, state, until, stream } = await open(gw);
    socket.write(head('Transfer-Encoding: chunked\r\n'));
    const piece = (size: number) => Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), Buffer.alloc(size, 0x20), Buffer.from('\r\n')]);
    await stream(piece(64 * KiB), 1 * MiB); // exactly the limit: not over it yet
    socket.write(piece(KiB)); // the byte that crosses it, in one small read
    await until(() => state.text.includes('\r\n\r\n'));
    expect(state.text).toMatch(/^HTTP\/1\.1 413 /);
    const more = await stream(piece(64 * KiB), 9 * MiB);
    expect(state.closed).toBe(true);
    expect(more).toBeLessThan(1 * MiB);
  });
});

describe('attack - regex and wildcard characters in client ids and usernames (RabbitMQ CVE-2026-44838)', () => {
  let usersFile: string;
  beforeAll(async () => {
    const password_hash = await hashPassword('secret', { N: 1024, r: 8, p: 1 });
    const full = { configure: '.*', write: '.*', read: '.*' };
    usersFile = path.join(dir, 'acl-users.yaml');
    writeFileSync(usersFile, stringify({
      users: [
        { name: 'dev', password_hash, permissions: { '/': full }, topic_permissions: { '/': [{ exchange: 'amq.topic', write: '^devices\\.{client_id}\\.', read: '^devices\\.{client_id}\\.' }] } },
        { name: '.*', password_hash, permissions: { '/': full }, topic_permissions: { '/': [{ exchange: 'amq.topic', write: '^users\\.{username}\\.', read: '^users\\.{username}\\.' }] } },
        { name: 'd1|.*', password_hash, permissions: { '/': full }, topic_permissions: { '/': [{ exchange: 'amq.topic', write: '^users\\.{username}\\.', read: '.*' }] } },
      ],
    }));
  });

  async function device(gw: TestGateway, clientId: string, username = 'dev'): Promise<mqtt.MqttClient> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0, clientId, username, password: 'secret' });
    cleanups.push(() => client.endAsync(true));
    return client;
  }

  /** a guest subscriber on everything, to see what really got through */
  async function watcher(gw: TestGateway): Promise<string[]> {
    const seen: string[] = [];
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0, username: 'guest', password: 'guest' });
    cleanups.push(() => client.endAsync(true));
    client.on('message', (topic) => seen.push(topic));
    await client.subscribeAsync(['devices/#', 'users/#'], { qos: 1 });
    return seen;
  }

  const refused = (p: Promise<unknown>) => p.then(() => 'published', (err: Error) => err.message);

  it('{client_id} is matched literally: ".*", "d1|.*", "+", "#", "*", "{client_id}", "\\\\" and "victim)|(.*" reach only their own literal topics', async () => {
    const gw = await gateway({ auth: { usersFile } });
    const seen = await watcher(gw);
    const control = await device(gw, 'd1');
    expect(await refused(control.publishAsync('devices/d1/temp', '20', { qos: 1 }))).toBe('published');
    for (const clientId of ['.*', 'd1|.*', '+', '#', '*', '{client_id}', '\\', 'victim)|(.*']) {
      const attacker = await device(gw, clientId);
      expect(await refused(attacker.publishAsync('devices/victim/temp', 'forged', { qos: 1 }))).toMatch(/Not authorized/i);
      const granted = await new Promise<number[] | undefined>((resolve) => {
        attacker.subscribe('devices/victim/temp', { qos: 1 }, (err, g) => resolve(err ? (err as { packet?: { granted?: number[] } }).packet?.granted : g?.map((x) => x.qos)));
      });
      expect(granted).toEqual([0x87]);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual(['devices/d1/temp']);
  });

  it('{username} is matched literally: users ".*" and "d1|.*" cannot write under another user', async () => {
    const gw = await gateway({ auth: { usersFile } });
    const seen = await watcher(gw);
    for (const username of ['.*', 'd1|.*']) {
      const client = await device(gw, `u-${Math.random().toString(36).slice(2, 8)}`, username);
      expect(await refused(client.publishAsync('users/bob/x', 'forged', { qos: 1 }))).toMatch(/Not authorized/i);
      expect(await refused(client.publishAsync('users/d1/x', 'forged', { qos: 1 }))).toMatch(/Not authorized/i);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
  });
});

describe('attack - failed-login storm from one address', () => {
  it('is throttled before password hashing, while a valid client from 127.0.0.2 still gets in', { timeout: 60_000 }, async () => {
    const password_hash = await hashPassword('right password'); // the shipped scrypt cost: tens of ms per hash
    const file = path.join(dir, 'storm-users.yaml');
    writeFileSync(file, stringify({ users: [{ name: 'alice', password_hash, permissions: { '/': { configure: '.*', write: '.*', read: '.*' } } }] }));
    const gw = await gateway({ auth: { usersFile: file } });
    const port = gw.ports.stomp as number;
    const login = async (passcode: string, localAddress?: string) => {
      const socket = await tcpConnect(port, localAddress);
      cleanups.push(() => socket.destroy());
      const frame = await new StompWire(socket).connect({ login: 'alice', passcode });
      socket.destroy();
      return frame;
    };
    const STORM = 400;
    const answers: string[] = [];
    let validMs = -1;
    for (let i = 0; i < STORM; i += 50) {
      const batch = Array.from({ length: 50 }, () => login('wrong').then((f) => `${f.command} ${f.body.trim()}`));
      if (i === 100) {
        // in the middle of the storm, from another address, with the right password
        const started = Date.now();
        expect((await login('right password', '127.0.0.2')).command).toBe('CONNECTED');
        validMs = Date.now() - started;
      }
      answers.push(...(await Promise.all(batch)));
    }
    const hashed = answers.filter((a) => a.includes('invalid username or password')).length;
    const throttled = answers.filter((a) => /too many (failed attempts|login attempts)/.test(a)).length;
    console.log(`[hardening] login storm: ${STORM} wrong passwords, ${hashed} hashed, ${throttled} refused before hashing; valid login from 127.0.0.2 took ${validMs} ms`);
    expect(answers.every((a) => a.startsWith('ERROR'))).toBe(true);
    expect(hashed + throttled).toBe(STORM);
    // at most the failures that trip the block (10) plus the logins already in progress (32)
    expect(hashed).toBeLessThanOrEqual(DEFAULT_THROTTLE_OPTIONS.maxFailures + DEFAULT_THROTTLE_OPTIONS.maxConcurrent);
    expect(validMs).toBeGreaterThanOrEqual(0);
    expect(validMs).toBeLessThan(5_000);
    expect(await counter(gw, 'authFailures', { protocol: 'stomp' })).toBe(STORM);
  });
});

