import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../../src/auth/index.js';
import { ErrorCode, GatewayError } from '../../../src/errors.js';
import { hashPassword } from '../../../src/auth/password.js';
import { authConfig, captureLog, FAST_SCRYPT, flushLog, FULL, LOCAL, peer, REMOTE, tempDir, writeUsersFile, type TempDir } from './helpers.js';

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the login to be refused');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return err as GatewayError;
}

describe('auth - built-in guest', () => {
  for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1', '127.0.0.53']) {
    it(`guest/guest logs in from loopback ${address}`, async () => {
      const auth = createAuthenticator(authConfig(), captureLog().logger);
      const principal = await auth.authenticate({ username: 'guest', password: 'guest' }, peer(address), '/');
      expect(principal).toEqual({ username: 'guest', tags: ['administrator'], via: 'password' });
    });
  }

  for (const address of ['10.0.0.5', '::ffff:10.0.0.5', '2001:db8::1', '128.0.0.1']) {
    it(`guest is refused from ${address}, and the log says guest is loopback-only`, async () => {
      const log = captureLog();
      const auth = createAuthenticator(authConfig(), log.logger);
      const err = await refusal(auth.authenticate({ username: 'guest', password: 'guest' }, peer(address), '/'));
      expect(err.code).toBe(ErrorCode.AUTH_FAILED);
      expect(err.message).toBe("user 'guest' can only connect via localhost");
      await flushLog();
      const line = log.lines().find((l) => l.msg === 'authentication failed');
      expect(line).toMatchObject({ level: 30, user: 'guest', address });
      expect(String(line?.reason)).toContain('loopback-only');
    });
  }

  it('guest from anywhere when guestLoopbackOnly is false', async () => {
    const auth = createAuthenticator(authConfig({ guestLoopbackOnly: false }), captureLog().logger);
    await expect(auth.authenticate({ username: 'guest', password: 'guest' }, REMOTE, '/')).resolves.toMatchObject({ username: 'guest' });
  });

  it('guest with a wrong password is refused', async () => {
    const auth = createAuthenticator(authConfig(), captureLog().logger);
    const err = await refusal(auth.authenticate({ username: 'guest', password: 'Guest' }, LOCAL, '/'));
    expect(err.code).toBe(ErrorCode.AUTH_FAILED);
  });

  it('guestEnabled false removes the built-in guest', async () => {
    const auth = createAuthenticator(authConfig({ guestEnabled: false }), captureLog().logger);
    await refusal(auth.authenticate({ username: 'guest', password: 'guest' }, LOCAL, '/'));
  });

  it('guest has access to any vhost and full permissions there', async () => {
    const auth = createAuthenticator(authConfig({ vhosts: ['prod'] }), captureLog().logger);
    const principal = await auth.authenticate({ username: 'guest', password: 'guest' }, LOCAL, 'prod');
    await expect(auth.authorize(principal, { vhost: 'prod', kind: 'queue', name: 'anything', permission: 'configure' })).resolves.toBeUndefined();
  });
});

describe('auth - anonymous clients', () => {
  it('a client without credentials becomes the anonymous user (guest) on loopback', async () => {
    const auth = createAuthenticator(authConfig(), captureLog().logger);
    await expect(auth.authenticate({}, LOCAL, '/')).resolves.toEqual({ username: 'guest', tags: ['administrator'], via: 'anonymous' });
  });

  it('anonymous guest is loopback-only too', async () => {
    const auth = createAuthenticator(authConfig(), captureLog().logger);
    const err = await refusal(auth.authenticate({}, REMOTE, '/'));
    expect(err.message).toBe("user 'guest' can only connect via localhost");
  });

  it('anonymousUser null refuses clients without credentials', async () => {
    const auth = createAuthenticator(authConfig({ anonymousUser: null }), captureLog().logger);
    const err = await refusal(auth.authenticate({}, LOCAL, '/'));
    expect(err.code).toBe(ErrorCode.AUTH_FAILED);
  });

  it('a password without a username is refused, not treated as anonymous', async () => {
    const auth = createAuthenticator(authConfig(), captureLog().logger);
    await refusal(auth.authenticate({ password: 'guest' }, LOCAL, '/'));
  });
});

describe('auth - users file', () => {
  let dir: TempDir;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  async function withUsers() {
    const usersFile = dir.file('users.yaml');
    await writeUsersFile(
      usersFile,
      [
        { name: 'bob', password: 's3cret', tags: ['management'], permissions: { '/': FULL } },
        { name: 'carol', password: 'pw', permissions: { prod: FULL } },
        { name: 'device-1', permissions: { '/': FULL } },
      ],
      ['prod'],
    );
    const log = captureLog();
    return { auth: createAuthenticator(authConfig({ usersFile }), log.logger), log, usersFile };
  }

  it('a user logs in with the right password, from any address', async () => {
    const { auth } = await withUsers();
    await expect(auth.authenticate({ username: 'bob', password: 's3cret' }, REMOTE, '/')).resolves.toEqual({
      username: 'bob',
      tags: ['management'],
      via: 'password',
    });
  });

  it('a wrong password is refused with AUTH_FAILED and the password is not logged', async () => {
    const { auth, log } = await withUsers();
    const err = await refusal(auth.authenticate({ username: 'bob', password: 'not-the-password-xyz' }, REMOTE, '/'));
    expect(err.code).toBe(ErrorCode.AUTH_FAILED);
    expect(err.fatal).toBe(true);
    await flushLog();
    expect(log.lines().some((l) => l.msg === 'authentication failed' && l.user === 'bob' && l.level === 30)).toBe(true);
    expect(log.text()).not.toContain('not-the-password-xyz');
  });

  it('an unknown user is refused', async () => {
    const { auth } = await withUsers();
    await refusal(auth.authenticate({ username: 'mallory', password: 'x' }, REMOTE, '/'));
  });

  for (const password of ['', undefined]) {
    it(`a username with password ${JSON.stringify(password)} never logs in, even for a user without a password`, async () => {
      const { auth } = await withUsers();
      const err = await refusal(auth.authenticate({ username: 'device-1', ...(password === undefined ? {} : { password }) }, REMOTE, '/'));
      expect(err.code).toBe(ErrorCode.AUTH_FAILED);
      await refusal(auth.authenticate({ username: 'bob', ...(password === undefined ? {} : { password }) }, REMOTE, '/'));
    });
  }

  it('an empty password is refused even when the stored hash is the hash of the empty password', async () => {
    const usersFile = dir.file('empty.yaml');
    const { writeFileSync } = await import('node:fs');
    const { stringify } = await import('yaml');
    const emptyHash = await hashPassword('', FAST_SCRYPT);
    writeFileSync(usersFile, stringify({ users: [{ name: 'blank', password_hash: emptyHash, permissions: { '/': FULL } }] }));
    const auth = createAuthenticator(authConfig({ usersFile }), captureLog().logger);
    await refusal(auth.authenticate({ username: 'blank', password: '' }, REMOTE, '/'));
    await refusal(auth.authenticate({ username: 'blank' }, REMOTE, '/'));
  });

  it('a user without permissions on the vhost is refused with "no access to vhost"', async () => {
    const { auth } = await withUsers();
    const err = await refusal(auth.authenticate({ username: 'carol', password: 'pw' }, REMOTE, '/'));
    expect(err.code).toBe(ErrorCode.AUTH_FAILED);
    expect(err.message).toBe('no access to vhost');
    await expect(auth.authenticate({ username: 'carol', password: 'pw' }, REMOTE, 'prod')).resolves.toMatchObject({ username: 'carol' });
  });

  it('a certificate common name logs in as the user of that name', async () => {
    const { auth } = await withUsers();
    await expect(auth.authenticate({ certificateCN: 'device-1' }, REMOTE, '/')).resolves.toEqual({ username: 'device-1', tags: [], via: 'certificate' });
    const err = await refusal(auth.authenticate({ certificateCN: 'nobody' }, REMOTE, '/'));
    expect(err.code).toBe(ErrorCode.AUTH_FAILED);
  });

  it('an invalid users file stops the start with a CONFIG error naming the key', async () => {
    const { writeFileSync } = await import('node:fs');
    const usersFile = dir.file('bad.yaml');
    const cases: Array<[string, string]> = [
      ['users: [{ name: bob, permissions: { "/": { configure: "(", write: "", read: "" } } }]', "users[0].permissions['/'].configure: not a valid regular expression"],
      ['users: [{ name: bob, password_hash: "plain" }]', 'users[0].password_hash: not a scrypt$N$r$p$salt$hash value'],
      ['users: [{ name: bob }, { name: bob }]', "user 'bob' is listed twice"],
      ['users: [{ name: bob, colour: red }]', 'users[0].colour'],
      ['users: [{ name: bob', 'not valid YAML'],
    ];
    for (const [text, message] of cases) {
      writeFileSync(usersFile, text);
      let thrown: unknown;
      try {
        createAuthenticator(authConfig({ usersFile }), captureLog().logger);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, text).toBeInstanceOf(GatewayError);
      expect((thrown as GatewayError).code).toBe(ErrorCode.CONFIG);
      expect((thrown as GatewayError).message, text).toContain(message);
    }
  });

  it('a missing users file leaves only guest, with a warning', async () => {
    const log = captureLog();
    const auth = createAuthenticator(authConfig({ usersFile: dir.file('absent.yaml') }), log.logger);
    await flushLog();
    expect(log.lines().some((l) => l.level === 40 && String(l.msg).includes('users file not found'))).toBe(true);
    await expect(auth.authenticate({ username: 'guest', password: 'guest' }, LOCAL, '/')).resolves.toMatchObject({ username: 'guest' });
  });

  it('reload picks up new users and keeps the old ones when the file is broken', async () => {
    const { auth, usersFile } = await withUsers();
    await writeUsersFile(usersFile, [{ name: 'dave', password: 'pw2', permissions: { '/': FULL } }]);
    await auth.reload();
    await expect(auth.authenticate({ username: 'dave', password: 'pw2' }, REMOTE, '/')).resolves.toMatchObject({ username: 'dave' });
    await refusal(auth.authenticate({ username: 'bob', password: 's3cret' }, REMOTE, '/'));

    const { writeFileSync } = await import('node:fs');
    writeFileSync(usersFile, 'users: [{ name: 5 }]');
    await expect(auth.reload()).rejects.toMatchObject({ code: ErrorCode.CONFIG });
    await expect(auth.authenticate({ username: 'dave', password: 'pw2' }, REMOTE, '/')).resolves.toMatchObject({ username: 'dave' });
  });
});

describe('auth - resolveVhost', () => {
  it('maps known vhosts to themselves and anything else to the default', async () => {
    const dir = tempDir();
    try {
      const usersFile = dir.file('users.yaml');
      await writeUsersFile(usersFile, [{ name: 'x', permissions: { staging: FULL } }], ['prod']);
      const auth = createAuthenticator(authConfig({ usersFile, vhosts: ['qa'] }), captureLog().logger);
      expect(auth.resolveVhost(undefined)).toBe('/');
      expect(auth.resolveVhost('')).toBe('/');
      expect(auth.resolveVhost('/')).toBe('/');
      expect(auth.resolveVhost('qa')).toBe('qa');
      expect(auth.resolveVhost('prod')).toBe('prod');
      expect(auth.resolveVhost('staging')).toBe('staging');
      expect(auth.resolveVhost('broker.example.com')).toBe('/');
    } finally {
      dir.remove();
    }
  });
});
