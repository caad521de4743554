import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createAuthenticator, type ManagedAuthenticator } from '../../../src/auth/index.js';
import type { AuthorizeRequest, Principal } from '../../../src/auth/types.js';
import { ErrorCode, GatewayError } from '../../../src/errors.js';
import { authConfig, captureLog, tempDir, writeUsersFile, type TempDir } from './helpers.js';

let dir: TempDir;
let auth: ManagedAuthenticator;

const bob: Principal = { username: 'bob', tags: [], via: 'password' };
const dev: Principal = { username: 'dev', tags: [], via: 'password' };
const dotted: Principal = { username: 'a.b', tags: [], via: 'password' };

beforeAll(async () => {
  dir = tempDir();
  const usersFile = dir.file('users.yaml');
  await writeUsersFile(usersFile, [
    {
      name: 'bob',
      password: 'pw',
      permissions: {
        '/': { configure: '^bob\\.', write: 'orders', read: '' },
        exact: { configure: '^q$', write: '^q$', read: '^q$' },
      },
    },
    {
      name: 'dev',
      password: 'pw',
      permissions: { '/': { configure: '.*', write: '.*', read: '.*' } },
      topic_permissions: {
        '/': [
          { exchange: 'amq.topic', write: '^devices\\.{client_id}\\.', read: '^devices\\.{username}\\.' },
          { exchange: 'closed', write: '', read: '' },
        ],
      },
    },
    {
      name: 'a.b',
      password: 'pw',
      permissions: { '/': { configure: '.*', write: '.*', read: '.*' } },
      topic_permissions: { '/': [{ exchange: 'amq.topic', write: '^{username}\\.', read: '^{vhost}$' }] },
    },
  ]);
  auth = createAuthenticator(authConfig({ usersFile }), captureLog().logger);
});
afterAll(() => dir.remove());

async function allowed(principal: Principal, request: AuthorizeRequest): Promise<boolean> {
  try {
    await auth.authorize(principal, request);
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe(ErrorCode.NOT_AUTHORIZED);
    return false;
  }
}

const queue = (name: string, permission: AuthorizeRequest['permission'], vhost = '/'): AuthorizeRequest => ({ vhost, kind: 'queue', name, permission });
const topic = (routingKey: string, permission: 'write' | 'read', clientId?: string, exchange = 'amq.topic'): AuthorizeRequest => ({
  vhost: '/',
  kind: 'topic',
  name: exchange,
  permission,
  routingKey,
  ...(clientId === undefined ? {} : { context: { clientId } }),
});

describe('authorize - resource permissions (RabbitMQ regex semantics)', () => {
  it('a pattern is unanchored unless it says ^ or $, as re:run', async () => {
    expect(await allowed(bob, { vhost: '/', kind: 'exchange', name: 'orders', permission: 'write' })).toBe(true);
    expect(await allowed(bob, { vhost: '/', kind: 'exchange', name: 'new-orders-eu', permission: 'write' })).toBe(true);
    expect(await allowed(bob, { vhost: '/', kind: 'exchange', name: 'invoices', permission: 'write' })).toBe(false);
  });

  it('^ anchors a prefix', async () => {
    expect(await allowed(bob, queue('bob.inbox', 'configure'))).toBe(true);
    expect(await allowed(bob, queue('bobx', 'configure'))).toBe(false);
    expect(await allowed(bob, queue('alice.bob.inbox', 'configure'))).toBe(false);
  });

  it('^...$ means exactly that name', async () => {
    expect(await allowed(bob, queue('q', 'read', 'exact'))).toBe(true);
    expect(await allowed(bob, queue('qq', 'read', 'exact'))).toBe(false);
  });

  it("'' denies every name", async () => {
    for (const name of ['x', 'orders', 'amq.gen-1', '.*']) expect(await allowed(bob, queue(name, 'read'))).toBe(false);
  });

  it('no permission entry for the vhost denies everything there', async () => {
    expect(await allowed(bob, queue('bob.x', 'configure', 'other'))).toBe(false);
  });

  it('an unknown principal is refused', async () => {
    expect(await allowed({ username: 'ghost', tags: [], via: 'password' }, queue('x', 'read'))).toBe(false);
  });

  it("the refusal names the permission, the resource and the vhost in RabbitMQ's words", async () => {
    await expect(auth.authorize(bob, queue('invoices', 'read'))).rejects.toMatchObject({
      code: ErrorCode.NOT_AUTHORIZED,
      message: "access to queue 'invoices' in vhost '/' refused for user 'bob': read permission required",
    });
    await expect(auth.authorize(bob, topic('a.b', 'read'))).rejects.toMatchObject({
      message: "access to exchange 'amq.topic' in vhost '/' refused for user 'bob': read permission required",
    });
    await expect(auth.authorize(dev, topic('devices.d2.t', 'write', 'd1'))).rejects.toMatchObject({
      message: "access to topic 'devices.d2.t' in exchange 'amq.topic' in vhost '/' refused for user 'dev': write permission required",
    });
  });
});

describe('authorize - topic permissions', () => {
  it('apply to the routing key with {client_id} and {username} expanded', async () => {
    expect(await allowed(dev, topic('devices.d1.temp', 'write', 'd1'))).toBe(true);
    expect(await allowed(dev, topic('devices.d2.temp', 'write', 'd1'))).toBe(false);
    expect(await allowed(dev, topic('devices.dev.temp', 'read'))).toBe(true);
    expect(await allowed(dev, topic('devices.other.temp', 'read'))).toBe(false);
  });

  it('a client id such as ".*", "#", "+" or "d1|.*" cannot widen the pattern (ACL template injection)', async () => {
    for (const clientId of ['.*', '#', '+', 'd1|.*', '.+', '[a-z]+', '(?:.*)', '\\', '{username}']) {
      expect(await allowed(dev, topic('devices.d2.temp', 'write', clientId)), clientId).toBe(false);
      expect(await allowed(dev, topic('devices.d1.temp', 'write', clientId)), clientId).toBe(false);
      // the literal id is still the client's own topic
      expect(await allowed(dev, topic(`devices.${clientId}.temp`, 'write', clientId)), clientId).toBe(true);
    }
  });

  it('a username with regex characters matches only itself', async () => {
    expect(await allowed(dotted, topic('a.b.x', 'write'))).toBe(true);
    expect(await allowed(dotted, topic('aXb.x', 'write'))).toBe(false);
    expect(await allowed(dotted, topic('/', 'read'))).toBe(true);
  });

  it('a pattern naming {client_id} matches nothing when the client gave none', async () => {
    expect(await allowed(dev, topic('devices.d1.temp', 'write'))).toBe(false);
    expect(await allowed(dev, topic('devices.{client_id}.temp', 'write'))).toBe(false);
  });

  it('an exchange without topic permissions is not restricted (RabbitMQ default)', async () => {
    expect(await allowed(dev, topic('anything.at.all', 'write', 'd1', 'other.topic'))).toBe(true);
    expect(await allowed(bob, { ...topic('x', 'write', undefined, 'orders') })).toBe(true);
  });

  it("'' topic patterns deny every routing key", async () => {
    expect(await allowed(dev, topic('x', 'write', 'd1', 'closed'))).toBe(false);
    expect(await allowed(dev, topic('x', 'read', 'd1', 'closed'))).toBe(false);
  });

  it('the exchange permission is checked as well as the topic permission', async () => {
    // bob has no topic permissions, but may write only to exchanges matching "orders"
    expect(await allowed(bob, topic('a', 'write', undefined, 'orders'))).toBe(true);
    expect(await allowed(bob, topic('a', 'write', undefined, 'amq.topic'))).toBe(false);
  });
});

describe('authorize - property', () => {
  it('never throws anything but GatewayError NOT_AUTHORIZED, whatever the names', async () => {
    const principal = fc.record({
      username: fc.oneof(fc.constantFrom('bob', 'dev', 'a.b', 'guest'), fc.string()),
      tags: fc.constant([] as string[]),
      via: fc.constantFrom('password' as const, 'anonymous' as const, 'certificate' as const),
    });
    const request = fc.record({
      vhost: fc.oneof(fc.constantFrom('/', 'exact'), fc.string()),
      kind: fc.constantFrom('exchange' as const, 'queue' as const, 'topic' as const),
      name: fc.oneof(fc.constantFrom('amq.topic', 'orders', 'closed'), fc.string()),
      permission: fc.constantFrom('configure' as const, 'write' as const, 'read' as const),
      routingKey: fc.option(fc.string(), { nil: undefined }),
      context: fc.option(fc.record({ clientId: fc.option(fc.string(), { nil: undefined }) }), { nil: undefined }),
    });
    await fc.assert(
      fc.asyncProperty(principal, request, async (p, r) => {
        try {
          await auth.authorize(p, r);
        } catch (err) {
          expect(err).toBeInstanceOf(GatewayError);
          expect((err as GatewayError).code).toBe(ErrorCode.NOT_AUTHORIZED);
        }
      }),
      { numRuns: 500, seed: 20240601 },
    );
  });
});
