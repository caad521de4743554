// The HTTP backend against a real HTTP server on a free loopback port.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAuthenticator } from '../../../src/auth/index.js';
import { parseVerdict } from '../../../src/auth/http-backend.js';
import type { Principal } from '../../../src/auth/types.js';
import { ErrorCode } from '../../../src/errors.js';
import { authConfig, captureLog, flushLog, LOCAL, REMOTE } from './helpers.js';

interface SeenRequest {
  method: string;
  path: string;
  contentType: string | undefined;
  params: Record<string, string>;
}

let server: Server;
let base: string;
let seen: SeenRequest[] = [];
let failing = false;

function answer(path: string, p: Record<string, string>): string {
  switch (path) {
    case '/auth/user':
      if (p.username === 'alice' && p.password === 'pw') return 'allow management monitoring';
      if (p.username === 'meter-7' && p.password === undefined) return 'allow';
      return 'deny';
    case '/auth/vhost':
      return p.vhost === '/' ? 'allow' : 'deny';
    case '/auth/resource':
      return p.name?.startsWith(`${p.username}.`) || p.name === 'amq.topic' ? 'allow' : 'deny';
    case '/auth/topic':
      return p.routing_key?.startsWith(`devices.${p['variable_map.client_id']}.`) ? 'allow' : 'deny';
    default:
      return 'deny';
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      const params = Object.fromEntries(new URLSearchParams(body));
      seen.push({ method: req.method ?? '', path, contentType: req.headers['content-type'], params });
      if (failing) {
        res.writeHead(500).end('boom');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end(answer(path, params));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen = [];
  failing = false;
});

function httpAuth(opts: { cacheTtlMs?: number; now?: () => number } = {}) {
  const log = captureLog();
  const http = {
    userPath: `${base}/auth/user`,
    vhostPath: `${base}/auth/vhost`,
    resourcePath: `${base}/auth/resource`,
    topicPath: `${base}/auth/topic`,
    cacheTtlMs: opts.cacheTtlMs ?? 0,
  };
  const auth = createAuthenticator(authConfig({ http }), log.logger, opts.now ? { now: opts.now } : {});
  return { auth, log };
}

const alice: Principal = { username: 'alice', tags: ['management'], via: 'http' };

describe('http auth backend (rabbitmq_auth_backend_http shape)', () => {
  it('authenticates with a form-encoded POST to user_path, then checks vhost_path', async () => {
    const { auth } = httpAuth();
    const principal = await auth.authenticate({ username: 'alice', password: 'pw' }, REMOTE, '/');
    expect(principal).toEqual({ username: 'alice', tags: ['management', 'monitoring'], via: 'http' });
    expect(seen.map((r) => [r.method, r.path, r.contentType])).toEqual([
      ['POST', '/auth/user', 'application/x-www-form-urlencoded'],
      ['POST', '/auth/vhost', 'application/x-www-form-urlencoded'],
    ]);
    expect(seen[0]?.params).toEqual({ username: 'alice', password: 'pw', vhost: '/' });
    expect(seen[1]?.params).toEqual({ username: 'alice', vhost: '/', ip: '10.0.0.5' });
  });

  it('"deny" from user_path is AUTH_FAILED; the password is not logged', async () => {
    const { auth, log } = httpAuth();
    await expect(auth.authenticate({ username: 'alice', password: 'bad-secret-123' }, REMOTE, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    await flushLog();
    expect(log.text()).toContain('authentication failed');
    expect(log.text()).not.toContain('bad-secret-123');
  });

  it('"deny" from vhost_path is "no access to vhost"', async () => {
    const { auth } = httpAuth();
    await expect(auth.authenticate({ username: 'alice', password: 'pw' }, REMOTE, 'other')).rejects.toMatchObject({
      code: ErrorCode.AUTH_FAILED,
      message: 'no access to vhost',
    });
  });

  it('an empty or missing password is refused without asking the backend', async () => {
    const { auth } = httpAuth();
    await expect(auth.authenticate({ username: 'meter-7', password: '' }, REMOTE, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    await expect(auth.authenticate({ username: 'meter-7' }, REMOTE, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    expect(seen).toEqual([]);
  });

  it('the users file and guest are tried first; the backend only for users they do not know', async () => {
    const { auth } = httpAuth();
    await expect(auth.authenticate({ username: 'guest', password: 'guest' }, LOCAL, '/')).resolves.toMatchObject({ via: 'password' });
    expect(seen).toEqual([]);
  });

  it('a certificate identity is sent to user_path without a password', async () => {
    const { auth } = httpAuth();
    await expect(auth.authenticate({ certificateCN: 'meter-7' }, REMOTE, '/')).resolves.toEqual({ username: 'meter-7', tags: [], via: 'http' });
    expect(seen[0]?.params).toEqual({ username: 'meter-7', vhost: '/' });
  });

  it('authorizes resources through resource_path', async () => {
    const { auth } = httpAuth();
    await expect(auth.authorize(alice, { vhost: '/', kind: 'queue', name: 'alice.inbox', permission: 'read' })).resolves.toBeUndefined();
    await expect(auth.authorize(alice, { vhost: '/', kind: 'queue', name: 'bob.inbox', permission: 'read' })).rejects.toMatchObject({
      code: ErrorCode.NOT_AUTHORIZED,
      message: "access to queue 'bob.inbox' in vhost '/' refused for user 'alice': read permission required",
    });
    expect(seen[0]?.params).toEqual({ username: 'alice', vhost: '/', resource: 'queue', name: 'alice.inbox', permission: 'read' });
  });

  it('authorizes routing keys through topic_path with the variables sent as variable_map.*', async () => {
    const { auth } = httpAuth();
    const request = { vhost: '/', kind: 'topic' as const, name: 'amq.topic', permission: 'write' as const, context: { clientId: 'd1' } };
    await expect(auth.authorize(alice, { ...request, routingKey: 'devices.d1.t' })).resolves.toBeUndefined();
    await expect(auth.authorize(alice, { ...request, routingKey: 'devices.d2.t' })).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    const topicCall = seen.find((r) => r.path === '/auth/topic');
    expect(topicCall?.params).toEqual({
      username: 'alice',
      vhost: '/',
      resource: 'topic',
      name: 'amq.topic',
      permission: 'write',
      routing_key: 'devices.d1.t',
      'variable_map.username': 'alice',
      'variable_map.vhost': '/',
      'variable_map.client_id': 'd1',
    });
  });

  it('caches answers for cacheTtlMs', async () => {
    let clock = 5_000;
    const { auth } = httpAuth({ cacheTtlMs: 1_000, now: () => clock });
    const request = { vhost: '/', kind: 'queue' as const, name: 'alice.q', permission: 'write' as const };
    await auth.authorize(alice, request);
    await auth.authorize(alice, request);
    await expect(auth.authorize(alice, { ...request, name: 'bob.q' })).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    await expect(auth.authorize(alice, { ...request, name: 'bob.q' })).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    expect(seen).toHaveLength(2);
    clock += 1_001;
    await auth.authorize(alice, request);
    expect(seen).toHaveLength(3);
  });

  it('a failing backend refuses: AUTH_FAILED on login, NOT_AUTHORIZED on access', async () => {
    const { auth, log } = httpAuth();
    failing = true;
    await expect(auth.authenticate({ username: 'alice', password: 'pw' }, REMOTE, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    await expect(auth.authorize(alice, { vhost: '/', kind: 'queue', name: 'alice.q', permission: 'read' })).rejects.toMatchObject({
      code: ErrorCode.NOT_AUTHORIZED,
    });
    await flushLog();
    expect(log.text()).toContain('HTTP 500');
  });

  it('an unreachable backend refuses too', async () => {
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const port = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const url = `http://127.0.0.1:${port}/x`;
    const http = { userPath: url, vhostPath: url, resourcePath: url, topicPath: url, cacheTtlMs: 0 };
    const auth = createAuthenticator(authConfig({ http }), captureLog().logger);
    await expect(auth.authenticate({ username: 'alice', password: 'pw' }, REMOTE, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    await expect(auth.authorize(alice, { vhost: '/', kind: 'queue', name: 'alice.q', permission: 'read' })).rejects.toMatchObject({
      code: ErrorCode.NOT_AUTHORIZED,
    });
  });

  it('parses allow / allow <tags> / deny bodies; anything else denies', () => {
    expect(parseVerdict('allow')).toEqual({ allow: true, tags: [] });
    expect(parseVerdict('ALLOW administrator  management\n')).toEqual({ allow: true, tags: ['administrator', 'management'] });
    expect(parseVerdict('deny')).toEqual({ allow: false });
    expect(parseVerdict('')).toEqual({ allow: false });
    expect(parseVerdict('allowed')).toEqual({ allow: false });
    expect(parseVerdict('<html>error</html>')).toEqual({ allow: false });
  });
});
