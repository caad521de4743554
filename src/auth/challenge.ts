// The users file's WAMP-CRA secret (wamp-proto "Challenge Response Authentication", salted
// variant, "Password Salting"): key = base64(PBKDF2-HMAC-SHA256(password, salt, iterations, keylen)).
// The client derives the same key from its password with the salt, iterations and keylen the
// CHALLENGE carries (autobahn's auth_cra.derive_key), so only the derived key is stored.
// The salt is used as text (its UTF-8 bytes), as autobahn|js and autobahn|python do.

import { pbkdf2, randomBytes } from 'node:crypto';
import type { ChallengeSecret } from './types.js';

/** autobahn's derive_key defaults (iterations=1000, keylen=32), which the WAMP side also assumes */
export const DEFAULT_CHALLENGE_ITERATIONS = 1000;
export const DEFAULT_CHALLENGE_KEYLEN = 32;
const SALT_BYTES = 16;

// Bounds on values read from a file: the client (often a browser running PBKDF2 in
// JavaScript) has to repeat the derivation, so a crafted entry must not make it hang.
export const CHALLENGE_LIMITS = {
  minIterations: 1,
  maxIterations: 1_000_000,
  minKeylen: 16,
  maxKeylen: 64,
  maxSaltLength: 256,
} as const;

export interface DeriveOptions {
  /** default: 16 random bytes, base64 */
  salt?: string;
  iterations?: number;
  keylen?: number;
}

export async function deriveChallengeSecret(password: string, opts: DeriveOptions = {}): Promise<ChallengeSecret> {
  const salt = opts.salt ?? randomBytes(SALT_BYTES).toString('base64');
  const iterations = opts.iterations ?? DEFAULT_CHALLENGE_ITERATIONS;
  const keylen = opts.keylen ?? DEFAULT_CHALLENGE_KEYLEN;
  const problem = challengeSecretProblem({ salt, iterations, keylen, key: '' }, false);
  if (problem !== null) throw new RangeError(`invalid WAMP-CRA parameters: ${problem}`);
  // The password is used exactly as typed (no normalization): the client's derive_key does the same.
  const key = await new Promise<Buffer>((resolve, reject) => {
    pbkdf2(password, salt, iterations, keylen, 'sha256', (err, derived) => (err ? reject(err) : resolve(derived)));
  });
  return { salt, iterations, keylen, key: key.toString('base64') };
}

/** null when well-formed, else what is wrong, as "<field>: <problem>" */
export function challengeSecretProblem(secret: ChallengeSecret, checkKey = true): string | null {
  const { salt, iterations, keylen, key } = secret;
  const { minIterations, maxIterations, minKeylen, maxKeylen, maxSaltLength } = CHALLENGE_LIMITS;
  if (salt === '' || salt.length > maxSaltLength) return `salt: must be 1 to ${maxSaltLength} characters`;
  if (!Number.isInteger(iterations) || iterations < minIterations || iterations > maxIterations) {
    return `iterations: must be an integer from ${minIterations} to ${maxIterations}`;
  }
  if (!Number.isInteger(keylen) || keylen < minKeylen || keylen > maxKeylen) return `keylen: must be an integer from ${minKeylen} to ${maxKeylen}`;
  if (checkKey && !isBase64Of(key, keylen)) return `key: not the base64 of a ${keylen}-byte key (base64 of PBKDF2-HMAC-SHA256(password, salt, iterations, keylen))`;
  return null;
}

/** canonical, padded base64 of exactly `bytes` bytes: the text autobahn's derive_key produces */
function isBase64Of(text: string, bytes: number): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return false;
  const decoded = Buffer.from(text, 'base64');
  return decoded.length === bytes && decoded.toString('base64') === text;
}
