// WAMP-CRA (wamp-proto "Challenge Response Authentication", salted variant). The router
// only ever holds the PBKDF2-derived key; the client derives it from the password with the
// salt, iterations and keylen the CHALLENGE carries, then signs the challenge string:
//   signature = base64(HMAC-SHA256(key = the derived key's base64 text, challenge))
// (autobahn's auth_cra.derive_key/sign, and Crossbar, use the base64 text as the HMAC key).

import { createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ChallengeSecret } from '../../auth/types.js';

export interface CraChallenge {
  /** CHALLENGE.Extra for [4, "wampcra", Extra] */
  extra: { challenge: string; salt: string; keylen: number; iterations: number };
}

export function craChallenge(secret: ChallengeSecret, fields: { authid: string; authrole: string; session: number }): CraChallenge {
  const challenge = JSON.stringify({
    authid: fields.authid,
    authrole: fields.authrole,
    authmethod: 'wampcra',
    authprovider: 'tributary',
    nonce: randomBytes(24).toString('base64'),
    timestamp: new Date().toISOString(),
    session: fields.session,
  });
  return { extra: { challenge, salt: secret.salt, keylen: secret.keylen, iterations: secret.iterations } };
}

export function craSign(key: string, challenge: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(challenge, 'utf8').digest('base64');
}

export function craVerify(key: string, challenge: string, signature: string): boolean {
  const expected = Buffer.from(craSign(key, challenge));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** the key a client derives from its password (for users files and tests) */
export function craDeriveKey(password: string, salt: string, iterations = 1000, keylen = 32): string {
  return pbkdf2Sync(password, salt, iterations, keylen, 'sha256').toString('base64');
}

/**
 * A stand-in secret for an unknown user, stable per authid within this process, so the
 * CHALLENGE looks the same whether or not the user exists; no answer can match it.
 */
const decoyPepper = randomBytes(32);
export function decoySecret(authid: string): ChallengeSecret {
  const salt = createHmac('sha256', decoyPepper).update(authid).digest('base64').slice(0, 22);
  return { salt, iterations: 1000, keylen: 32, key: randomBytes(32).toString('base64') };
}
