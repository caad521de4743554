import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { craChallenge, craDeriveKey, craSign, craVerify, decoySecret } from '../../../src/protocols/wamp/cra.js';

// autobahn's own WAMP-CRA helpers (crypto-js): what a browser computes
const abCra = createRequire(import.meta.url)('autobahn/lib/auth/cra.js') as {
  derive_key(secret: string, salt: string, iterations?: number, keylen?: number): string;
  sign(key: string, challenge: string): string;
};

describe('UNIT: wamp WAMP-CRA (salted)', () => {
  it('derives the same key as autobahn from password + salt', () => {
    expect(craDeriveKey('s3cret', 'salt123', 1000, 32)).toBe(abCra.derive_key('s3cret', 'salt123', 1000, 32));
    expect(craDeriveKey('pässwörd', 'NaCl', 100, 16)).toBe(abCra.derive_key('pässwörd', 'NaCl', 100, 16));
  });

  it('accepts the signature autobahn computes, and nothing else', () => {
    const secret = { salt: 'salt123', iterations: 1000, keylen: 32, key: craDeriveKey('s3cret', 'salt123') };
    const { extra } = craChallenge(secret, { authid: 'bob', authrole: 'user', session: 42 });
    expect(extra).toMatchObject({ salt: 'salt123', iterations: 1000, keylen: 32 });
    expect(JSON.parse(extra.challenge)).toMatchObject({ authid: 'bob', authrole: 'user', authmethod: 'wampcra', session: 42 });
    const clientKey = abCra.derive_key('s3cret', extra.salt, extra.iterations, extra.keylen);
    const signature = abCra.sign(clientKey, extra.challenge);
    expect(craSign(secret.key, extra.challenge)).toBe(signature);
    expect(craVerify(secret.key, extra.challenge, signature)).toBe(true);
    const wrong = abCra.sign(abCra.derive_key('wrong', extra.salt, extra.iterations, extra.keylen), extra.challenge);
    expect(craVerify(secret.key, extra.challenge, wrong)).toBe(false);
    expect(craVerify(secret.key, extra.challenge, '')).toBe(false);
  });

  it('every challenge is fresh', () => {
    const secret = decoySecret('x');
    const a = craChallenge(secret, { authid: 'x', authrole: 'user', session: 1 }).extra.challenge;
    const b = craChallenge(secret, { authid: 'x', authrole: 'user', session: 1 }).extra.challenge;
    expect(a).not.toBe(b);
  });

  it('a decoy for an unknown user has a stable salt, so it does not reveal who exists', () => {
    expect(decoySecret('nobody').salt).toBe(decoySecret('nobody').salt);
    expect(decoySecret('nobody').salt).not.toBe(decoySecret('someone').salt);
  });
});
