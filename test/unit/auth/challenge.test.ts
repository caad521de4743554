// Challenge-response login (salted WAMP-CRA): the users file's `wampcra` entry, the
// Authenticator's authenticateChallenge, and `tributary users` writing the entry.
// The client side is autobahn's own auth_cra (derive_key + sign), the router side the WAMP
// module's craChallenge/craVerify/decoySecret, wired the way handlers/hello.ts wires them.

import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createAuthenticator, type AuthenticatorOptions } from '../../../src/auth/index.js';
import { deriveChallengeSecret } from '../../../src/auth/challenge.js';
import { hashPassword } from '../../../src/auth/password.js';
import type { ChallengeSecret, Peer } from '../../../src/auth/types.js';
import { readUsersDocument } from '../../../src/auth/users-file.js';
import { runUsersCommand, type UsersCommandIO } from '../../../src/cli/users.js';
import { ErrorCode, GatewayError } from '../../../src/errors.js';
import { craChallenge, craDeriveKey, craVerify, decoySecret } from '../../../src/protocols/wamp/cra.js';
import { authConfig, captureLog, FAST_SCRYPT, flushLog, FULL, LOCAL, peer, REMOTE, tempDir, type AuthConfig, type TempDir } from './helpers.js';

const require = createRequire(import.meta.url);
const autobahnCra = require('autobahn/lib/auth/cra.js') as {
  derive_key(secret: string, salt: string, iterations?: number, keylen?: number): string;
  sign(key: string, challenge: string): string;
};

type Prove = (secret: ChallengeSecret | null) => Promise<boolean>;

/**
 * The router's half as hello.ts does it (decoy secret for null, never accepted) with autobahn
 * answering for a client that knows `password`. Records what the auth layer handed over.
 */
function client(authid: string, password: string, seen: Array<ChallengeSecret | null> = []): Prove {
  return async (stored) => {
    seen.push(stored);
    const secret = stored ?? decoySecret(authid);
    const { extra } = craChallenge(secret, { authid, authrole: 'user', session: 1 });
    const key = autobahnCra.derive_key(password, extra.salt, extra.iterations, extra.keylen);
    const signature = autobahnCra.sign(key, extra.challenge);
    return stored !== null && craVerify(secret.key, extra.challenge, signature);
  };
}

async function refusal(promise: Promise<unknown>): Promise<GatewayError> {
  const err = await promise.then(
    () => {
      throw new Error('expected the login to be refused');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  expect((err as GatewayError).code).toBe(ErrorCode.AUTH_FAILED);
  return err as GatewayError;
}

let dir: TempDir;
let usersFile: string;

beforeEach(() => {
  dir = tempDir();
  usersFile = dir.file('users.yaml');
});
afterEach(() => dir.remove());

const SALT = 'c2FsdHk';
const carolCra = () => ({ salt: SALT, iterations: 1000, keylen: 32, key: craDeriveKey('s3cret', SALT, 1000, 32) });

async function writeUsers(users: Array<Record<string, unknown>>, vhosts?: string[]): Promise<void> {
  writeFileSync(usersFile, stringify({ ...(vhosts ? { vhosts } : {}), users }));
}

async function standardUsers(): Promise<void> {
  await writeUsers(
    [
      { name: 'carol', password_hash: await hashPassword('s3cret', FAST_SCRYPT), wampcra: carolCra(), tags: ['monitoring'], permissions: { '/': FULL } },
      { name: 'plain', password_hash: await hashPassword('pw', FAST_SCRYPT), permissions: { '/': FULL } },
      { name: 'guest', password_hash: await hashPassword('guest', FAST_SCRYPT), wampcra: { ...carolCra(), key: craDeriveKey('guest', SALT) }, permissions: { '/': FULL } },
      { name: 'public', wampcra: { ...carolCra(), key: craDeriveKey('public', SALT) }, permissions: { '/': FULL } },
    ],
    ['prod'],
  );
}

function authenticator(overrides: Partial<AuthConfig> = {}, opts: AuthenticatorOptions = {}) {
  const log = captureLog();
  const sleeps: number[] = [];
  const auth = createAuthenticator(authConfig({ usersFile, anonymousUser: 'public', ...overrides }), log.logger, {
    sleep: async (ms) => void sleeps.push(ms),
    ...opts,
  });
  return { auth, log, sleeps, challenge: auth.authenticateChallenge!.bind(auth) };
}

describe('deriveChallengeSecret', () => {
  it('derives what autobahn derive_key derives: random 16-byte salt, 1000 iterations, 32 bytes', async () => {
    const a = await deriveChallengeSecret('pässword');
    expect(a).toMatchObject({ iterations: 1000, keylen: 32 });
    expect(Buffer.from(a.salt, 'base64')).toHaveLength(16);
    expect(a.key).toBe(autobahnCra.derive_key('pässword', a.salt, 1000, 32));
    expect(a.key).toBe(autobahnCra.derive_key('pässword', a.salt)); // autobahn's defaults are the same
    const b = await deriveChallengeSecret('pässword');
    expect(b.salt).not.toBe(a.salt);
    expect(b.key).not.toBe(a.key);
  });

  it('takes explicit parameters and refuses out-of-range ones', async () => {
    expect((await deriveChallengeSecret('pw', { salt: 'salt123', iterations: 100, keylen: 16 })).key).toBe(autobahnCra.derive_key('pw', 'salt123', 100, 16));
    await expect(deriveChallengeSecret('pw', { iterations: 0 })).rejects.toThrow(/iterations/);
    await expect(deriveChallengeSecret('pw', { keylen: 8 })).rejects.toThrow(/keylen/);
  });
});

describe('users file: wampcra', () => {
  async function fileError(wampcra: unknown): Promise<string> {
    await writeUsers([{ name: 'bob', wampcra }]);
    try {
      readUsersDocument(usersFile);
    } catch (err) {
      expect(err).toMatchObject({ code: ErrorCode.CONFIG });
      return (err as Error).message;
    }
    throw new Error('expected the users file to be refused');
  }

  it('a well-formed entry is accepted', async () => {
    await writeUsers([{ name: 'bob', wampcra: carolCra() }]);
    expect(readUsersDocument(usersFile).users?.[0]?.wampcra).toEqual(carolCra());
  });

  it('every problem names the key', async () => {
    const good = carolCra();
    expect(await fileError({ ...good, key: craDeriveKey('x', SALT, 1000, 16) })).toContain('users[0].wampcra.key: not the base64 of a 32-byte key');
    expect(await fileError({ ...good, key: good.key.replace(/=$/, '') })).toContain('users[0].wampcra.key');
    expect(await fileError({ ...good, key: 'not base64!' })).toContain('users[0].wampcra.key');
    expect(await fileError({ ...good, iterations: 0 })).toContain('users[0].wampcra.iterations');
    expect(await fileError({ ...good, iterations: 10_000_000 })).toContain('users[0].wampcra.iterations');
    expect(await fileError({ ...good, iterations: 1.5 })).toContain('users[0].wampcra.iterations');
    expect(await fileError({ ...good, keylen: 8, key: Buffer.alloc(8).toString('base64') })).toContain('users[0].wampcra.keylen');
    expect(await fileError({ ...good, salt: '' })).toContain('users[0].wampcra.salt');
    expect(await fileError({ ...good, salt: 12345 })).toContain('users[0].wampcra.salt');
    expect(await fileError({ salt: SALT, iterations: 1000, keylen: 32 })).toContain('users[0].wampcra');
    expect(await fileError({ ...good, password: 's3cret' })).toContain('users[0].wampcra');
  });
});

describe('authenticateChallenge', () => {
  beforeEach(standardUsers);

  it('the right answer logs in with the stored secret handed to prove; via challenge', async () => {
    const { challenge, sleeps } = authenticator();
    const seen: Array<ChallengeSecret | null> = [];
    const principal = await challenge('carol', client('carol', 's3cret', seen), REMOTE, '/');
    expect(principal).toEqual({ username: 'carol', tags: ['monitoring'], via: 'challenge' });
    expect(seen).toEqual([carolCra()]);
    expect(sleeps).toEqual([]);
  });

  it('the principal is authorized like any local user', async () => {
    const { auth, challenge } = authenticator();
    const carol = await challenge('carol', client('carol', 's3cret'), REMOTE, '/');
    await expect(auth.authorize(carol, { vhost: '/', kind: 'queue', name: 'q', permission: 'configure' })).resolves.toBeUndefined();
  });

  it('a wrong answer is refused after the delay, logged without the secret', async () => {
    const { challenge, log, sleeps } = authenticator({ failedAuthDelayMs: 777 });
    const err = await refusal(challenge('carol', client('carol', 'hunter2'), REMOTE, '/'));
    expect(err).toMatchObject({ message: 'access refused', detail: 'invalid username or password', fatal: true });
    expect(sleeps).toEqual([777]);
    await flushLog();
    const line = log.lines().find((l) => l.msg === 'authentication failed');
    expect(line).toMatchObject({ user: 'carol', address: REMOTE.address, vhost: '/', method: 'challenge', reason: 'wrong challenge response' });
    for (const secret of [carolCra().key, SALT, 's3cret', 'hunter2']) expect(log.text()).not.toContain(secret);
  });

  it('an unknown user or one without a wampcra key gets prove(null) — a decoy challenge — and is refused', async () => {
    const { challenge, log } = authenticator();
    for (const [name, password] of [['nobody', 'x'], ['plain', 'pw']] as const) {
      const seen: Array<ChallengeSecret | null> = [];
      const err = await refusal(challenge(name, client(name, password, seen), REMOTE, '/'));
      expect(seen).toEqual([null]);
      expect(err.detail).toBe('invalid username or password');
    }
    await flushLog();
    expect(log.lines().filter((l) => l.msg === 'authentication failed').map((l) => l.reason)).toEqual([
      'unknown user',
      'user has no challenge-response (wampcra) secret',
    ]);
  });

  it('even a prove that claims success cannot log in without a secret', async () => {
    const { challenge } = authenticator();
    await refusal(challenge('nobody', async () => true, REMOTE, '/'));
    await refusal(challenge('plain', async () => true, REMOTE, '/'));
  });

  it('guest and the anonymous user are not challenge-response users, even with a wampcra entry', async () => {
    const { challenge } = authenticator({ guestLoopbackOnly: false });
    for (const [name, password] of [['guest', 'guest'], ['public', 'public']] as const) {
      const seen: Array<ChallengeSecret | null> = [];
      await refusal(challenge(name, client(name, password, seen), LOCAL, '/'));
      expect(seen).toEqual([null]);
    }
    // once 'public' is no longer the anonymous user, its key works
    const other = authenticator({ anonymousUser: null });
    await expect(other.challenge('public', client('public', 'public'), LOCAL, '/')).resolves.toMatchObject({ username: 'public', via: 'challenge' });
  });

  it('guest from a remote address is refused as loopback-only before any challenge', async () => {
    const { challenge } = authenticator();
    const seen: Array<ChallengeSecret | null> = [];
    const err = await refusal(challenge('guest', client('guest', 'guest', seen), REMOTE, '/'));
    expect(err.message).toBe("user 'guest' can only connect via localhost");
    expect(seen).toEqual([]);
  });

  it('the right answer without permissions on the vhost is refused', async () => {
    const { challenge, log } = authenticator();
    const err = await refusal(challenge('carol', client('carol', 's3cret'), REMOTE, 'prod'));
    expect(err).toMatchObject({ message: 'no access to vhost', detail: "access to vhost 'prod' refused" });
    await flushLog();
    expect(log.lines().find((l) => l.msg === 'authentication failed')).toMatchObject({ reason: "no permissions on vhost 'prod'" });
  });

  it('a prove that throws is a refusal, not a crash', async () => {
    const { challenge } = authenticator();
    await refusal(
      challenge(
        'carol',
        async () => {
          throw new Error('transport closed');
        },
        REMOTE,
        '/',
      ),
    );
  });

  it('a key changed by a reload while the client answers is refused', async () => {
    const { auth, challenge } = authenticator();
    const prove: Prove = async (secret) => {
      const answer = await client('carol', 's3cret')(secret);
      await writeUsers([{ name: 'carol', wampcra: { ...carolCra(), key: craDeriveKey('new password', SALT) }, permissions: { '/': FULL } }]);
      await auth.reload();
      return answer;
    };
    await refusal(challenge('carol', prove, REMOTE, '/'));
    await expect(challenge('carol', client('carol', 'new password'), REMOTE, '/')).resolves.toMatchObject({ username: 'carol' });
  });

  it('an unanswered challenge times out and frees its concurrent-login slot', async () => {
    const { challenge, log } = authenticator({}, { challengeTimeoutMs: 50, throttle: { maxConcurrent: 1 } });
    const address = peer('10.0.0.20');
    const pending = challenge('carol', () => new Promise<boolean>(() => undefined), address, '/');
    // while it waits, the address has no free slot
    const busy = await refusal(challenge('carol', client('carol', 's3cret'), address, '/'));
    expect(busy.detail).toBe('too many login attempts, try again later');
    await refusal(pending);
    await expect(challenge('carol', client('carol', 's3cret'), address, '/')).resolves.toMatchObject({ username: 'carol' });
    await flushLog();
    expect(log.lines().map((l) => l.reason)).toContain('no answer to the challenge within 50 ms');
  });

  it('shares the per-address throttle with password logins: once blocked, no challenge is even sent', async () => {
    const { auth, challenge } = authenticator();
    const address: Peer = peer('10.0.0.21');
    for (let i = 0; i < 5; i++) await refusal(challenge('carol', client('carol', `wrong-${i}`), address, '/'));
    for (let i = 0; i < 4; i++) await refusal(auth.authenticate({ username: 'carol', password: `wrong-${i}` }, address, '/'));
    // nine failures: a success still works and resets the count
    await expect(challenge('carol', client('carol', 's3cret'), address, '/')).resolves.toMatchObject({ username: 'carol' });
    for (let i = 0; i < 10; i++) await refusal(challenge('nobody', client('nobody', 'x'), address, '/'));
    const seen: Array<ChallengeSecret | null> = [];
    const blocked = await refusal(challenge('carol', client('carol', 's3cret', seen), address, '/'));
    expect(blocked.detail).toBe('too many failed attempts, try again later');
    expect(seen).toEqual([]);
    await refusal(auth.authenticate({ username: 'carol', password: 's3cret' }, address, '/'));
    // other addresses are unaffected
    await expect(challenge('carol', client('carol', 's3cret'), peer('10.0.0.22'), '/')).resolves.toMatchObject({ username: 'carol' });
  });

  it('the block lifts after the cooldown', async () => {
    let clock = 1_000_000;
    const { challenge } = authenticator({}, { now: () => clock });
    const address = peer('10.0.0.23');
    for (let i = 0; i < 10; i++) await refusal(challenge('carol', client('carol', 'wrong'), address, '/'));
    await refusal(challenge('carol', client('carol', 's3cret'), address, '/'));
    clock += 60_001;
    await expect(challenge('carol', client('carol', 's3cret'), address, '/')).resolves.toMatchObject({ username: 'carol' });
  });
});

describe('tributary users and wampcra', () => {
  interface Run {
    code: number;
    out: string;
    err: string;
  }

  async function users(args: string[], typed: string[] = []): Promise<Run> {
    let out = '';
    let err = '';
    const io: UsersCommandIO = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: (s: string) => (err += s) },
      readPassword: async () => typed.shift() ?? '',
    };
    const code = await runUsersCommand([...args, '--file', usersFile], io);
    return { code, out, err };
  }

  const entry = (name: string) => (parse(readFileSync(usersFile, 'utf8')).users as Array<Record<string, unknown>>).find((u) => u.name === name);
  const craLogin = (name: string, password: string) =>
    createAuthenticator(authConfig({ usersFile }), captureLog().logger).authenticateChallenge!(name, client(name, password), REMOTE, '/');
  const grant = ['--vhost', '/', '--configure', '.*', '--write', '.*', '--read', '.*'];

  it('add stores a salted key (never the password) that autobahn can answer for', async () => {
    expect(await users(['add', 'dora', '--password', 'dora-pw', ...grant])).toMatchObject({ code: 0, err: '' });
    const wampcra = entry('dora')?.wampcra as ChallengeSecret;
    expect(wampcra).toMatchObject({ iterations: 1000, keylen: 32 });
    expect(Buffer.from(wampcra.salt, 'base64')).toHaveLength(16);
    expect(wampcra.key).toBe(autobahnCra.derive_key('dora-pw', wampcra.salt, 1000, 32));
    expect(readFileSync(usersFile, 'utf8')).not.toContain('dora-pw');
    await expect(craLogin('dora', 'dora-pw')).resolves.toEqual({ username: 'dora', tags: [], via: 'challenge' });
    await refusal(craLogin('dora', 'other'));
    expect((await users(['list'])).out).toBe("dora [] (wampcra)\n  vhost /  configure: .*  write: .*  read: .*\n");
  });

  it('add --no-wampcra and add --no-password store no key', async () => {
    await users(['add', 'ed', '--password', 'pw', '--no-wampcra', ...grant]);
    await users(['add', 'meter', '--no-password', ...grant]);
    expect(entry('ed')).not.toHaveProperty('wampcra');
    expect(entry('meter')).not.toHaveProperty('wampcra');
    await refusal(craLogin('ed', 'pw'));
  });

  it('passwd re-derives the key (the old password stops working); passwd --no-wampcra removes it', async () => {
    await users(['add', 'dora', '--password', 'old', ...grant]);
    const before = entry('dora')?.wampcra as ChallengeSecret;
    expect((await users(['passwd', 'dora'], ['new'])).code).toBe(0);
    const after = entry('dora')?.wampcra as ChallengeSecret;
    expect(after.salt).not.toBe(before.salt);
    await expect(craLogin('dora', 'new')).resolves.toMatchObject({ username: 'dora' });
    await refusal(craLogin('dora', 'old'));

    expect((await users(['passwd', 'dora', '--password', 'newer', '--no-wampcra'])).code).toBe(0);
    expect(entry('dora')).not.toHaveProperty('wampcra');
    await refusal(craLogin('dora', 'newer'));
    await refusal(craLogin('dora', 'new'));
  });

  it('set-wampcra derives the key for an existing user from its password, and checks that password', async () => {
    // a user written before wampcra existed: only a password hash
    await writeUsers([{ name: 'old', password_hash: await hashPassword('pw', FAST_SCRYPT), permissions: { '/': FULL } }, { name: 'cert', permissions: { '/': FULL } }]);
    await refusal(craLogin('old', 'pw'));
    expect(await users(['set-wampcra', 'old'], ['typo'])).toMatchObject({ code: 1, err: "tributary users: that is not the password of 'old' (use passwd to change it)\n" });
    expect(entry('old')).not.toHaveProperty('wampcra');
    expect(await users(['set-wampcra', 'old'], ['pw'])).toMatchObject({ code: 0, out: "set the WAMP-CRA key of 'old'\n" });
    await expect(craLogin('old', 'pw')).resolves.toMatchObject({ username: 'old', via: 'challenge' });
    // a user without a password (certificate-only) can be given a WAMP-CRA login explicitly
    expect((await users(['set-wampcra', 'cert', '--password', 'c'])).code).toBe(0);
    await expect(craLogin('cert', 'c')).resolves.toMatchObject({ username: 'cert' });
    expect((await users(['set-wampcra', 'nobody', '--password', 'x'])).err).toBe("tributary users: no user 'nobody'\n");
  });

  it('clear-wampcra removes the key', async () => {
    await users(['add', 'dora', '--password', 'pw', ...grant]);
    expect(await users(['clear-wampcra', 'dora'])).toMatchObject({ code: 0, out: "removed the WAMP-CRA key of 'dora'\n" });
    expect(entry('dora')).not.toHaveProperty('wampcra');
    await refusal(craLogin('dora', 'pw'));
  });

  it('guest gets no key', async () => {
    await users(['add', 'guest', '--password', 'guest', ...grant]);
    expect(entry('guest')).not.toHaveProperty('wampcra');
    expect((await users(['set-wampcra', 'guest', '--password', 'guest'])).err).toBe("tributary users: user 'guest' cannot use WAMP-CRA\n");
  });
});
