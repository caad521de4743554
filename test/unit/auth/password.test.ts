import { describe, expect, it } from 'vitest';
import { hashPassword, isPasswordHash, verifyPassword } from '../../../src/auth/password.js';
import { FAST_SCRYPT } from './helpers.js';

describe('password hashing (scrypt)', () => {
  it('round trip: the right password verifies, a wrong one does not', async () => {
    const encoded = await hashPassword('correct horse', FAST_SCRYPT);
    expect(encoded).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('correct horse', encoded)).toBe(true);
    expect(await verifyPassword('correct horsE', encoded)).toBe(false);
    expect(await verifyPassword('', encoded)).toBe(false);
  });

  it('uses the default parameters when none are given', async () => {
    const encoded = await hashPassword('pw');
    expect(encoded.startsWith('scrypt$16384$8$1$')).toBe(true);
    expect(await verifyPassword('pw', encoded)).toBe(true);
  });

  it('salts: the same password hashes differently each time', async () => {
    const [a, b] = await Promise.all([hashPassword('same', FAST_SCRYPT), hashPassword('same', FAST_SCRYPT)]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('treats unicode passwords by their NFC form', async () => {
    const encoded = await hashPassword('caf\u00e9', FAST_SCRYPT);
    expect(await verifyPassword('cafe\u0301', encoded)).toBe(true);
  });

  it('malformed or abusive entries never verify', async () => {
    const good = await hashPassword('pw', FAST_SCRYPT);
    const [, , r, p, salt, hash] = good.split('$');
    const bad = [
      '',
      'pw',
      `bcrypt$1024$${r}$${p}$${salt}$${hash}`,
      `scrypt$1000$${r}$${p}$${salt}$${hash}`, // N not a power of two
      `scrypt$${2 ** 24}$${r}$${p}$${salt}$${hash}`, // N too large: gigabytes per login
      `scrypt$1024$999$${p}$${salt}$${hash}`,
      `scrypt$1024$${r}$${p}$$${hash}`,
      `scrypt$1024$${r}$${p}$${salt}$`,
      `scrypt$1024$${r}$${p}$${salt}`,
    ];
    for (const entry of bad) {
      expect(isPasswordHash(entry), entry).toBe(false);
      expect(await verifyPassword('pw', entry), entry).toBe(false);
    }
    expect(isPasswordHash(good)).toBe(true);
  });

  it('refuses to create a hash with invalid parameters', async () => {
    await expect(hashPassword('pw', { N: 1000, r: 8, p: 1 })).rejects.toThrow(RangeError);
  });
});
