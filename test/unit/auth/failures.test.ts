import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { createAuthenticator } from '../../../src/auth/index.js';
import { hashPassword } from '../../../src/auth/password.js';
import { FailureThrottle, throttleOptionsFrom } from '../../../src/auth/throttle.js';
import { ErrorCode } from '../../../src/errors.js';
import { authConfig, captureLog, flushLog, FULL, LOCAL, peer, tempDir, writeUsersFile, type TempDir } from './helpers.js';

let dir: TempDir;
let usersFile: string;

beforeAll(async () => {
  dir = tempDir();
  usersFile = dir.file('users.yaml');
  await writeUsersFile(usersFile, [{ name: 'bob', password: 'right', permissions: { '/': FULL } }]);
});
afterAll(() => dir.remove());

function recordingSleep() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}

describe('failed login delay', () => {
  it('each failed attempt waits failedAuthDelayMs before the refusal; a success does not wait', async () => {
    const { sleeps, sleep } = recordingSleep();
    const auth = createAuthenticator(authConfig({ usersFile, failedAuthDelayMs: 1234 }), captureLog().logger, { sleep });
    await auth.authenticate({ username: 'bob', password: 'right' }, LOCAL, '/');
    expect(sleeps).toEqual([]);
    await expect(auth.authenticate({ username: 'bob', password: 'wrong' }, LOCAL, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    await expect(auth.authenticate({ username: 'guest', password: 'guest' }, peer('10.1.1.1'), '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    expect(sleeps).toEqual([1234, 1234]);
  });

  it('the default timer really delays the refusal', async () => {
    const auth = createAuthenticator(authConfig({ usersFile, failedAuthDelayMs: 150 }), captureLog().logger);
    const started = performance.now();
    await expect(auth.authenticate({ username: 'bob', password: 'wrong' }, LOCAL, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });
});

describe('per-address throttle', () => {
  function throttled(opts: { now?: () => number } = {}) {
    const log = captureLog();
    const auth = createAuthenticator(authConfig({ usersFile }), log.logger, opts);
    return { auth, log };
  }

  async function failTimes(auth: ReturnType<typeof throttled>['auth'], address: string, times: number): Promise<void> {
    for (let i = 0; i < times; i++) {
      await expect(auth.authenticate({ username: 'bob', password: `wrong-${i}` }, peer(address), '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    }
  }

  it('after 10 failures from one address even the right password is refused there; other addresses still log in', async () => {
    const { auth, log } = throttled();
    await failTimes(auth, '10.0.0.7', 9);
    // below the threshold the right password still works (and resets the count)
    await expect(auth.authenticate({ username: 'bob', password: 'right' }, peer('10.0.0.7'), '/')).resolves.toMatchObject({ username: 'bob' });
    await failTimes(auth, '10.0.0.7', 10);
    await expect(auth.authenticate({ username: 'bob', password: 'right' }, peer('10.0.0.7'), '/')).rejects.toMatchObject({
      code: ErrorCode.AUTH_FAILED,
      detail: 'too many failed attempts, try again later',
    });
    await expect(auth.authenticate({ username: 'bob', password: 'right' }, peer('10.0.0.8'), '/')).resolves.toMatchObject({ username: 'bob' });
    await flushLog();
    expect(log.lines().filter((l) => l.reason === 'too many failed logins from this address' && l.address === '10.0.0.7')).toHaveLength(1);
  });

  it('the refusal comes before hashing: it costs far less than one password check', async () => {
    const slowFile = dir.file('slow-users.yaml');
    const slowHash = await hashPassword('right', { N: 32768, r: 8, p: 1 });
    writeFileSync(slowFile, stringify({ users: [{ name: 'slow', password_hash: slowHash, permissions: { '/': FULL } }] }));
    const auth = createAuthenticator(authConfig({ usersFile: slowFile }), captureLog().logger);
    for (let i = 0; i < 10; i++) await auth.authenticate({ username: 'slow', password: 'x' }, peer('10.0.0.9'), '/').catch(() => undefined);

    let started = performance.now();
    await auth.authenticate({ username: 'slow', password: 'right' }, peer('10.0.0.10'), '/');
    const hashed = performance.now() - started;
    started = performance.now();
    await expect(auth.authenticate({ username: 'slow', password: 'right' }, peer('10.0.0.9'), '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    const refused = performance.now() - started;
    expect(refused).toBeLessThan(hashed / 4);
  });

  it('failures spread over more than the window do not block; the block ends after the cooldown', async () => {
    let clock = 1_000_000;
    const { auth } = throttled({ now: () => clock });
    for (let i = 0; i < 20; i++) {
      await failTimes(auth, '10.0.0.11', 1);
      clock += 7_000; // 9 failures per 63 s at most
    }
    await expect(auth.authenticate({ username: 'bob', password: 'right' }, peer('10.0.0.11'), '/')).resolves.toMatchObject({ username: 'bob' });

    await failTimes(auth, '10.0.0.12', 10);
    clock += 59_000;
    await expect(auth.authenticate({ username: 'bob', password: 'right' }, peer('10.0.0.12'), '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    clock += 2_000;
    await expect(auth.authenticate({ username: 'bob', password: 'right' }, peer('10.0.0.12'), '/')).resolves.toMatchObject({ username: 'bob' });
  });

  it('a burst of concurrent attempts from one address is capped before hashing', async () => {
    const throttle = new FailureThrottle({ maxConcurrent: 3 });
    expect([1, 2, 3, 4].map(() => throttle.admit('10.0.0.13'))).toEqual(['admitted', 'admitted', 'admitted', 'busy']);
    expect(throttle.admit('10.0.0.14')).toBe('admitted');
    throttle.settle('10.0.0.13', true);
    expect(throttle.admit('10.0.0.13')).toBe('admitted');
  });

  it('the tracking table stays bounded however many addresses fail', () => {
    let clock = 0;
    const throttle = new FailureThrottle({ maxTrackedAddresses: 100 }, () => clock);
    for (let i = 0; i < 5_000; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      expect(throttle.admit(address)).toBe('admitted');
      throttle.settle(address, false);
      clock += 1;
    }
    expect(throttle.trackedAddresses).toBe(100);
  });

  it('a blocked address that keeps trying stays tracked while other addresses churn', () => {
    let clock = 0;
    const throttle = new FailureThrottle({ maxTrackedAddresses: 10 }, () => clock);
    for (let i = 0; i < 10; i++) {
      throttle.admit('attacker');
      throttle.settle('attacker', false);
    }
    for (let i = 0; i < 100; i++) {
      expect(throttle.admit('attacker')).toBe('blocked');
      throttle.admit(`other-${i}`);
      throttle.settle(`other-${i}`, false);
      clock += 10;
    }
    expect(throttle.admit('attacker')).toBe('blocked');
  });

  it('successful logins leave nothing tracked', () => {
    const throttle = new FailureThrottle();
    for (let i = 0; i < 100; i++) {
      throttle.admit(`10.0.1.${i}`);
      throttle.settle(`10.0.1.${i}`, true);
    }
    expect(throttle.trackedAddresses).toBe(0);
  });
});

describe('auth.failedLoginThrottle settings', () => {
  type Throttle = ReturnType<typeof authConfig>['failedLoginThrottle'];
  const defaults: Throttle = authConfig().failedLoginThrottle;
  function withSettings(settings: Partial<Throttle>, now?: () => number) {
    return createAuthenticator(authConfig({ usersFile, failedLoginThrottle: { ...defaults, ...settings } }), captureLog().logger, now ? { now } : {});
  }
  const fail = (auth: ReturnType<typeof withSettings>, address: string) =>
    expect(auth.authenticate({ username: 'bob', password: 'wrong' }, peer(address), '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
  const right = (auth: ReturnType<typeof withSettings>, address: string) => auth.authenticate({ username: 'bob', password: 'right' }, peer(address), '/');

  it('maxFailures: 3 blocks an address after its third failure', async () => {
    const auth = withSettings({ maxFailures: 3 });
    for (let i = 0; i < 2; i++) await fail(auth, '10.2.0.1');
    await expect(right(auth, '10.2.0.1')).resolves.toMatchObject({ username: 'bob' });
    for (let i = 0; i < 3; i++) await fail(auth, '10.2.0.1');
    await expect(right(auth, '10.2.0.1')).rejects.toMatchObject({ detail: 'too many failed attempts, try again later' });
  });

  it('maxFailures: 0 never blocks, however many failures', async () => {
    const auth = withSettings({ maxFailures: 0 });
    for (let i = 0; i < 50; i++) await fail(auth, '10.2.0.2');
    await expect(right(auth, '10.2.0.2')).resolves.toMatchObject({ username: 'bob' });
  });

  it('windowSeconds and blockSeconds set the counting window and the block length', async () => {
    let clock = 5_000_000;
    const auth = withSettings({ maxFailures: 2, windowSeconds: 5, blockSeconds: 3 }, () => clock);
    // two failures 6 s apart fall in different 5 s windows: no block
    await fail(auth, '10.2.0.3');
    clock += 6_000;
    await fail(auth, '10.2.0.3');
    await expect(right(auth, '10.2.0.3')).resolves.toMatchObject({ username: 'bob' });
    // two in one window: blocked for 3 s, not the default 60 s
    await fail(auth, '10.2.0.3');
    await fail(auth, '10.2.0.3');
    clock += 2_500;
    await expect(right(auth, '10.2.0.3')).rejects.toMatchObject({ detail: 'too many failed attempts, try again later' });
    clock += 1_000;
    await expect(right(auth, '10.2.0.3')).resolves.toMatchObject({ username: 'bob' });
  });

  it('maxConcurrent caps the logins checked at once from one address (0: no cap)', () => {
    const capped = new FailureThrottle(throttleOptionsFrom({ ...defaults, maxConcurrent: 2 }));
    expect([1, 2, 3].map(() => capped.admit('10.2.0.4'))).toEqual(['admitted', 'admitted', 'busy']);
    const uncapped = new FailureThrottle(throttleOptionsFrom({ ...defaults, maxConcurrent: 0 }));
    expect(Array.from({ length: 100 }, () => uncapped.admit('10.2.0.4')).every((a) => a === 'admitted')).toBe(true);
  });

  it('maxTrackedAddresses bounds the table', async () => {
    const auth = withSettings({ maxTrackedAddresses: 2, maxFailures: 2 });
    await fail(auth, '10.2.0.5');
    await fail(auth, '10.2.0.5'); // blocked
    await fail(auth, '10.2.0.6');
    await fail(auth, '10.2.0.7'); // the table holds two: 10.2.0.5, the least recent, is forgotten
    await expect(right(auth, '10.2.0.5')).resolves.toMatchObject({ username: 'bob' });
  });
});
