// E2E: WAMP-CRA (salted) against the users file, with autobahn computing the signature as a
// browser would. The users-file entry is `wampcra: { salt, iterations, keylen, key }` where key is
// base64(PBKDF2-HMAC-SHA256(password, salt, iterations, keylen)).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { hashPassword } from '../../src/auth/password.js';
import { craDeriveKey } from '../../src/protocols/wamp/cra.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { autobahn, openSession } from './wamp-support.js';

describe('E2E: WAMP-CRA against the users file', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wamp-cra-'));
    const usersFile = join(dir, 'users.yaml');
    const salt = 'c2FsdHk';
    writeFileSync(
      usersFile,
      [
        'users:',
        '  - name: carol',
        `    password_hash: "${await hashPassword('s3cret', { N: 1024, r: 8, p: 1 })}"`,
        `    wampcra: { salt: "${salt}", iterations: 1000, keylen: 32, key: "${craDeriveKey('s3cret', salt, 1000, 32)}" }`,
        '    permissions:',
        '      /: { configure: ".*", write: ".*", read: ".*" }',
      ].join('\n'),
    );
    gw = await startTestGateway({ auth: { usersFile }, wamp: { allowAnonymous: false } });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  const cra = (authid: string, password: string) =>
    openSession(gw.wsUrl('/ws'), {
      authmethods: ['wampcra'],
      authid,
      onchallenge: (_s, method, extra) => {
        expect(method).toBe('wampcra');
        const key = autobahn.auth_cra.derive_key(password, extra.salt as string, extra.iterations as number, extra.keylen as number);
        return autobahn.auth_cra.sign(key, extra.challenge as string);
      },
    });

  it('the right password joins; WELCOME names the user and the method', async () => {
    const o = await cra('carol', 's3cret');
    expect(o.details).toMatchObject({ authid: 'carol', authmethod: 'wampcra', authrole: 'user' });
    await o.close();
  });

  it('a wrong password or an unknown user → ABORT authentication_failed', async () => {
    await expect(cra('carol', 'wrong')).rejects.toMatchObject({ reason: 'wamp.error.authentication_failed' });
    await expect(cra('nobody', 's3cret')).rejects.toMatchObject({ reason: 'wamp.error.authentication_failed' });
  });

  it('a client that leaves during the challenge settles its login at once (no login slot held until a timeout)', async () => {
    const failures = async () => {
      const text = await (await fetch(gw.url('/metrics'))).text();
      const line = text.split('\n').find((l) => l.startsWith('tributary_auth_failures_total{') && l.includes('protocol="wamp"') && l.includes('reason="wampcra"'));
      return line === undefined ? 0 : Number(line.split(' ').pop());
    };
    const before = await failures();
    const ws = new WebSocket(gw.wsUrl('/ws'), 'wamp.2.json');
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const challenged = new Promise<unknown[]>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)) as unknown[])));
    ws.send(JSON.stringify([1, 'realm1', { roles: { subscriber: {} }, authmethods: ['wampcra'], authid: 'carol' }]));
    expect((await challenged)[0]).toBe(4); // CHALLENGE
    ws.close();
    // before the fix the auth layer waited for its own 30 s guard; now the session's end settles it
    await expect.poll(failures, { timeout: 5000, interval: 100 }).toBe(before + 1);
  });
});
