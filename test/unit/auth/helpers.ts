// Shared fixtures for the auth tests: a config, a logger whose lines can be read back,
// peers, and users files in temp directories. Real components only.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import type { Config } from '../../../src/config/schema.js';
import { createLogger, type Logger } from '../../../src/log.js';
import type { Peer } from '../../../src/auth/types.js';
import type { UsersDocument } from '../../../src/auth/users-file.js';
import { hashPassword } from '../../../src/auth/password.js';

export type AuthConfig = Config['auth'];

/** cheap scrypt parameters so tests hash in about a millisecond */
export const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };

export function authConfig(overrides: Partial<AuthConfig> = {}): AuthConfig {
  return {
    usersFile: null,
    guestEnabled: true,
    guestLoopbackOnly: true,
    anonymousUser: 'guest',
    failedAuthDelayMs: 0,
    failedLoginThrottle: { maxFailures: 10, windowSeconds: 60, blockSeconds: 60, maxConcurrent: 32, maxTrackedAddresses: 10_000 },
    defaultVhost: '/',
    vhosts: [],
    http: null,
    ...overrides,
  };
}

export interface CapturedLog {
  logger: Logger;
  lines: () => Array<Record<string, unknown>>;
  text: () => string;
}

export function captureLog(): CapturedLog {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger('debug', sink);
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines, text };
}

/** pino writes asynchronously to a plain stream only on flush; a tick is enough for a Writable */
export async function flushLog(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

export function peer(address: string): Peer {
  return { address, port: 40000, loopback: address === '127.0.0.1' || address === '::1' };
}

export const LOCAL = peer('127.0.0.1');
export const REMOTE = peer('10.0.0.5');

export interface TempDir {
  path: string;
  file: (name: string) => string;
  remove: () => void;
}

export function tempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'tributary-auth-'));
  return { path, file: (name) => join(path, name), remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestUser {
  name: string;
  password?: string;
  tags?: string[];
  permissions?: NonNullable<UsersDocument['users']>[number]['permissions'];
  topic_permissions?: NonNullable<UsersDocument['users']>[number]['topic_permissions'];
}

export async function writeUsersFile(path: string, users: TestUser[], vhosts?: string[]): Promise<void> {
  const entries = await Promise.all(
    users.map(async ({ password, ...rest }) => ({
      ...rest,
      ...(password === undefined ? {} : { password_hash: await hashPassword(password, FAST_SCRYPT) }),
    })),
  );
  writeFileSync(path, stringify({ ...(vhosts ? { vhosts } : {}), users: entries }));
}

export const FULL = { configure: '.*', write: '.*', read: '.*' };
