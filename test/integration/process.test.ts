// The real process: `node --import tsx src/main.ts`, as an operator runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SETTING_FLAGS } from '../../src/config/cli-flags.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { leafPaths } from '../../src/config/schema-walk.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'tributary-process-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** every listener on a free port of loopback, so nothing collides with Mosquitto or another run */
const FREE_PORTS = ['--host', '127.0.0.1', '--stomp-port', '0', '--mqtt-port', '0', '--http-port', '0'];

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function run(args: string[], env: Record<string, string> = {}): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => { stdout += d; });
  child.stderr?.on('data', (d) => { stderr += d; });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** the JSON log line whose message starts with `prefix`, once the process has written it */
async function logLine(proc: Running, prefix: string): Promise<Record<string, unknown>> {
  for (;;) {
    const found = proc.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => String(l.msg).startsWith(prefix));
    if (found) return found;
    if (proc.child.exitCode !== null) throw new Error(`exited ${proc.child.exitCode} before "${prefix}": ${proc.stderr()}`);
    await moreOutput(proc.child);
  }
}

function moreOutput(child: ChildProcess): Promise<void> {
  const out = child.stdout;
  if (!out) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      out.off('data', done);
      child.off('exit', done);
      resolve();
    };
    out.on('data', done);
    child.on('exit', done);
  });
}

async function occupiedPort(): Promise<{ port: number; close: () => void }> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

describe('process - serving', () => {
  it('logs the listening line, serves /healthz and /readyz, and exits 0 on SIGTERM', async () => {
    const proc = run(FREE_PORTS);
    const listening = await logLine(proc, 'listening');
    expect(listening.msg).toMatch(/^listening stomp=(\d+|off) mqtt=(\d+|off) http=\d+ fabric=embedded$/);
    const ports = listening.ports as { http: number };
    expect(await (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).json()).toEqual({ status: 'ok' });
    expect((await fetch(`http://127.0.0.1:${ports.http}/readyz`)).status).toBe(200);
    expect((await logLine(proc, 'embedded fabric: no amqpUrl configured')).level).toBe(30);

    const signalled = Date.now();
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalled).toBeLessThan(10_000);
    await logLine(proc, 'stopped');
    expect(proc.stderr()).toBe('');
  });

  it('exits 0 on SIGINT too', async () => {
    const proc = run(FREE_PORTS);
    await logLine(proc, 'listening');
    proc.child.kill('SIGINT');
    expect((await proc.exited).code).toBe(0);
  });

  it('SIGHUP re-reads the users file', async () => {
    const file = path.join(dir, 'hup-users.yaml');
    writeFileSync(file, 'users: []\n');
    const proc = run([...FREE_PORTS, '--users', file]);
    const { http } = (await logLine(proc, 'listening')).ports as { http: number };
    const overview = () => fetch(`http://127.0.0.1:${http}/api/overview`, { headers: { authorization: `Basic ${Buffer.from('carol:pw').toString('base64')}` } });
    expect((await overview()).status).toBe(401);
    const add = run(['users', 'add', 'carol', '--password', 'pw', '--tags', 'administrator', '--vhost', '/',
      '--configure', '.*', '--write', '.*', '--read', '.*', '--file', file]);
    expect((await add.exited).code).toBe(0);
    proc.child.kill('SIGHUP');
    await logLine(proc, 'users file reloaded');
    expect((await overview()).status).toBe(200);
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });

  it('a port in use: exit 1 with one line naming the port and the option, no stack trace', async () => {
    const taken = await occupiedPort();
    try {
      const proc = run([...FREE_PORTS, '--http-port', String(taken.port)]);
      expect((await proc.exited).code).toBe(1);
      expect(proc.stderr()).toBe(`tributary: httpPort ${taken.port} is already in use (--http-port)\n`);
    } finally {
      taken.close();
    }
  });
});

describe('process - command line', () => {
  it('--help lists every option with its default, and every key', async () => {
    const proc = run(['--help']);
    expect((await proc.exited).code).toBe(0);
    const text = proc.stdout();
    for (const flag of SETTING_FLAGS) expect(text).toMatch(new RegExp(`${flag.flag} <[^>]+>.*\\(default: [^)]+\\)`));
    for (const flag of ['--config', '--set', '--print-config', '--version', '--help']) expect(text).toContain(flag);
    for (const key of leafPaths(ConfigSchema)) expect(text).toContain(key.join('.'));
  });

  it('an invalid --stomp-port: exit 1, one line naming the key', async () => {
    const proc = run(['--stomp-port', 'abc']);
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toBe('tributary: stomp.port: expected integer 0..65535 or "off", got "abc" (from --stomp-port abc)\n');
    expect(proc.stdout()).toBe('');
  });

  it('an invalid environment variable: exit 1 naming it', async () => {
    const proc = run(FREE_PORTS, { TRIBUTARY_LOG_LEVEL: 'loud' });
    expect((await proc.exited).code).toBe(1);
    expect(proc.stderr()).toMatch(/^tributary: logLevel: expected one of .* got "loud" \(from TRIBUTARY_LOG_LEVEL\)\n$/);
  });

  it('--print-config prints the effective config with the broker password redacted', async () => {
    const proc = run(['--print-config', '--amqp-url', 'amqp://app:s3cret@rabbit:5672/', '--stomp-port', 'off'], { TRIBUTARY_MQTT__PORT: '1884' });
    expect((await proc.exited).code).toBe(0);
    const text = proc.stdout();
    expect(text).toContain('amqpUrl: amqp://app:******@rabbit:5672/');
    expect(text).not.toContain('s3cret');
    expect(text).toMatch(/stomp:\n {2}port: null/);
    expect(text).toMatch(/mqtt:\n {2}port: 1884/);
  });

  it('--version prints name and version', async () => {
    const proc = run(['--version']);
    expect((await proc.exited).code).toBe(0);
    expect(proc.stdout()).toMatch(/^tributary \d+\.\d+\.\d+\n$/);
  });

  it('`users ...` runs the users command', async () => {
    const file = path.join(dir, 'users.yaml');
    const proc = run(['users', 'add', 'bob', '--password', 'secret', '--tags', 'administrator', '--file', file]);
    expect((await proc.exited).code).toBe(0);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain('name: bob');
  });
});
