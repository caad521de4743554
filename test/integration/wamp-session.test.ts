// E2E: WAMP session lifecycle and bad input, with raw WebSocket peers (embedded fabric).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/auth/password.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { EventInbox, RawWamp, openSession } from './wamp-support.js';

const ABORT = 3;

async function expectAbort(raw: RawWamp, reason: string): Promise<void> {
  const msg = await raw.next();
  expect(msg[0]).toBe(ABORT);
  expect(msg[2]).toBe(reason);
  await raw.closed;
}

describe('E2E: wamp session lifecycle and bad input', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ limits: { connectTimeoutMs: 400 } });
  });
  afterAll(async () => {
    await gw?.stop();
  });
  const connect = (serializer: 'json' | 'msgpack' = 'json') => RawWamp.connect(gw.wsUrl('/ws'), serializer);

  it.each([
    ['text that is not JSON', 'json', '{"not json'],
    ['JSON that is not a message', 'json', '{"a":1}'],
    ['an unknown message code', 'json', '[99, 1, {}]'],
    ['a router-to-client message (EVENT)', 'json', '[36, 1, 2, {}]'],
    ['HELLO without roles', 'json', '[1, "realm1", {}]'],
    ['HELLO with a non-dict Details', 'json', '[1, "realm1", []]'],
    ['PUBLISH before HELLO', 'json', '[16, 1, {}, "a.b"]'],
    ['MessagePack garbage', 'msgpack', Buffer.from([0xc1, 0xff, 0x00])],
    ['a truncated MessagePack array', 'msgpack', Buffer.from([0x93, 0x01])],
  ] as const)('%s → ABORT wamp.error.protocol_violation and close', async (_name, serializer, data) => {
    const raw = await connect(serializer);
    raw.sendRaw(data);
    await expectAbort(raw, 'wamp.error.protocol_violation');
  });

  it('HELLO twice → protocol violation', async () => {
    const raw = await connect();
    expect((await raw.hello())[0]).toBe(2);
    raw.send([1, 'realm1', { roles: { subscriber: {} } }]);
    await expectAbort(raw, 'wamp.error.protocol_violation');
  });

  it('ERROR for anything but an INVOCATION → protocol violation', async () => {
    const raw = await connect();
    await raw.hello();
    raw.send([8, 48, 1, {}, 'x.y']);
    await expectAbort(raw, 'wamp.error.protocol_violation');
  });

  it('an invalid realm URI → ABORT invalid_uri', async () => {
    const raw = await connect();
    raw.send([1, 'bad realm', { roles: { caller: {} } }]);
    await expectAbort(raw, 'wamp.error.invalid_uri');
  });

  it('no HELLO within limits.connectTimeoutMs → ABORT and close', async () => {
    const raw = await connect();
    const started = Date.now();
    await expectAbort(raw, 'wamp.error.protocol_violation');
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('GOODBYE both ways: the client leaves, then a new session starts on the same transport', async () => {
    const raw = await connect();
    const first = await raw.hello();
    raw.send([6, { message: 'bye' }, 'wamp.close.close_realm']);
    expect(await raw.next()).toEqual([6, {}, 'wamp.close.goodbye_and_out']);
    const second = await raw.hello();
    expect(second[0]).toBe(2);
    expect(second[1]).not.toBe(first[1]);
    raw.close();
  });

  it('survives fuzzed messages after HELLO: each is answered, ignored or ABORTed, and the gateway still serves', async () => {
    const anyValue = fc.anything({ withBigInt: false, withMap: false, withSet: false, maxDepth: 2 });
    const message = fc.tuple(fc.constantFrom(1, 3, 5, 6, 8, 16, 32, 34, 48, 49, 64, 66, 70, 36, 999), fc.array(anyValue, { maxLength: 6 })).map(([c, rest]) => [c, ...rest]);
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        const raw = await connect();
        await raw.hello();
        raw.send(m as unknown[]);
        // a marker publish: if the session survived, its PUBLISHED (or an ERROR for it) comes back
        raw.send([16, 9_000_001, { acknowledge: true }, 'fuzz.marker']);
        for (;;) {
          const reply = await Promise.race([raw.next(3000), raw.closed.then(() => null)]);
          if (reply === null || reply[0] === ABORT || reply[0] === 6) break;
          if ((reply[0] === 17 || reply[0] === 8) && reply.includes(9_000_001)) break;
        }
        raw.close();
      }),
      { numRuns: 60 },
    );
    const ok = await openSession(gw.wsUrl('/ws'));
    await ok.close();
  });
});

describe('E2E: wamp realms and authentication', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wamp-auth-'));
    const usersFile = join(dir, 'users.yaml');
    const hash = await hashPassword('s3cret', { N: 1024, r: 8, p: 1 });
    writeFileSync(
      usersFile,
      [
        'vhosts: [tenant2]',
        'users:',
        '  - name: bob',
        `    password_hash: "${hash}"`,
        '    permissions:',
        '      /: { configure: ".*", write: ".*", read: ".*" }',
        '      tenant2: { configure: ".*", write: ".*", read: ".*" }',
        '  - name: reader',
        `    password_hash: "${hash}"`,
        '    permissions:',
        '      /: { configure: "", write: "", read: ".*" }',
      ].join('\n'),
    );
    gw = await startTestGateway({
      auth: { usersFile, vhosts: ['tenant2'] },
      wamp: { realms: { apps: '/', tenant: 'tenant2' }, allowAnyRealm: false, allowAnonymous: false },
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });
  const ticket = (authid: string, secret: string, realm = 'apps') =>
    openSession(gw.wsUrl('/ws'), { realm, authmethods: ['ticket'], authid, onchallenge: () => secret });

  it('ticket: the right password joins as that user', async () => {
    const o = await ticket('bob', 's3cret');
    expect(o.details).toMatchObject({ authid: 'bob', authmethod: 'ticket', authrole: 'user', realm: 'apps' });
    await o.close();
  });

  it('ticket: a wrong password → ABORT authentication_failed', async () => {
    await expect(ticket('bob', 'wrong')).rejects.toMatchObject({ reason: 'wamp.error.authentication_failed' });
    await expect(ticket('nobody', 's3cret')).rejects.toMatchObject({ reason: 'wamp.error.authentication_failed' });
  });

  it('anonymous disabled → ABORT no_matching_auth_method', async () => {
    await expect(openSession(gw.wsUrl('/ws'), { realm: 'apps' })).rejects.toMatchObject({ reason: 'wamp.error.no_matching_auth_method' });
  });

  it('an unknown realm → ABORT no_such_realm when allowAnyRealm is off', async () => {
    await expect(ticket('bob', 's3cret', 'realm1')).rejects.toMatchObject({ reason: 'wamp.error.no_such_realm' });
  });

  it('realms map to vhosts: events do not cross realms', async () => {
    const a = await ticket('bob', 's3cret', 'apps');
    const b = await ticket('bob', 's3cret', 'tenant');
    const inA = new EventInbox();
    const inB = new EventInbox();
    await b.session.subscribe('shared.topic', inB.handler);
    await a.session.subscribe('shared.topic', inA.handler);
    await a.session.publish('shared.topic', ['from apps'], {}, { acknowledge: true, exclude_me: false });
    await b.session.publish('shared.topic', ['from tenant'], {}, { acknowledge: true, exclude_me: false });
    expect((await inB.next()).args).toEqual(['from tenant']);
    expect((await inA.next()).args).toEqual(['from apps']);
    await a.session.publish('shared.topic', ['end'], {}, { acknowledge: true, exclude_me: false });
    expect((await inA.next()).args).toEqual(['end']);
    await a.close();
    await b.close();
  });

  it('permissions: a user without write permission gets not_authorized for PUBLISH, CALL and REGISTER', async () => {
    const o = await ticket('reader', 's3cret');
    const err = await o.session.publish('x.y', [], {}, { acknowledge: true })!.then(() => null, (e: { error: string }) => e);
    expect(err?.error).toBe('wamp.error.not_authorized');
    const call = await Promise.resolve(o.session.call('x.y', [])).then(() => null, (e: { error: string }) => e);
    expect(call?.error).toBe('wamp.error.not_authorized');
    const reg = await o.session.register('x.y', () => 1).then(() => null, (e: { error: string }) => e);
    expect(reg?.error).toBe('wamp.error.not_authorized');
    await o.session.subscribe('x.y', () => undefined); // read is allowed
    await o.close();
  });
});

describe('E2E: wamp graceful shutdown', () => {
  it('a stopping gateway says GOODBYE wamp.close.system_shutdown and waits for the reply', async () => {
    const gw = await startTestGateway();
    const raw = await RawWamp.connect(gw.wsUrl('/ws'));
    await raw.hello();
    const stopped = gw.stop('maintenance');
    const goodbye = await raw.next();
    expect(goodbye).toEqual([6, { message: 'maintenance' }, 'wamp.close.system_shutdown']);
    raw.send([6, {}, 'wamp.close.goodbye_and_out']);
    await raw.closed;
    await stopped;
  });
});
