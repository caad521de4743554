// The users file: YAML, managed with `tributary users`. Parsed and validated here into a
// lookup table; every problem is reported with the key that has it.
//
//   vhosts: [/, prod]                       # optional: vhosts clients may name
//   users:
//     - name: bob
//       password_hash: scrypt$16384$8$1$<salt>$<hash>   # absent: no password login (certificate only)
//       wampcra: { salt: <salt>, iterations: 1000, keylen: 32, key: <base64 PBKDF2 key> }  # optional: WAMP-CRA login
//       tags: [management]
//       permissions:
//         /: { configure: "^bob\\.", write: ".*", read: ".*" }
//       topic_permissions:
//         /: [{ exchange: amq.topic, write: "^devices\\.{client_id}\\.", read: ".*" }]

import { readFileSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse, stringify } from 'yaml';
import { ErrorCode, GatewayError } from '../errors.js';
import { compilePattern } from './permissions.js';
import { isPasswordHash } from './password.js';
import { challengeSecretProblem } from './challenge.js';
import type { ChallengeSecret } from './types.js';

const Pattern = Type.String();

const VhostPermissionsSchema = Type.Object(
  { configure: Pattern, write: Pattern, read: Pattern },
  { additionalProperties: false },
);

const TopicPermissionSchema = Type.Object(
  { exchange: Type.String({ minLength: 1 }), write: Pattern, read: Pattern },
  { additionalProperties: false },
);

/** WAMP-CRA (salted): key = base64(PBKDF2-HMAC-SHA256(password, salt, iterations, keylen)); see challenge.ts */
const WampCraSchema = Type.Object(
  { salt: Type.String({ minLength: 1 }), iterations: Type.Integer(), keylen: Type.Integer(), key: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);

const UserEntrySchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    password_hash: Type.Optional(Type.String()),
    wampcra: Type.Optional(WampCraSchema),
    tags: Type.Optional(Type.Array(Type.String())),
    permissions: Type.Optional(Type.Record(Type.String(), VhostPermissionsSchema)),
    topic_permissions: Type.Optional(Type.Record(Type.String(), Type.Array(TopicPermissionSchema))),
  },
  { additionalProperties: false },
);

export const UsersDocumentSchema = Type.Object(
  {
    vhosts: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
    users: Type.Optional(Type.Array(UserEntrySchema)),
  },
  { additionalProperties: false },
);

export type UsersDocument = Static<typeof UsersDocumentSchema>;
export type UserEntry = Static<typeof UserEntrySchema>;
export type VhostPermissions = Static<typeof VhostPermissionsSchema>;
export type TopicPermission = Static<typeof TopicPermissionSchema>;
export type WampCraEntry = Static<typeof WampCraSchema>;

export interface UserRecord {
  readonly name: string;
  readonly passwordHash: string | undefined;
  /** the WAMP-CRA secret (users file `wampcra`); absent: no challenge-response login */
  readonly challengeSecret?: ChallengeSecret;
  readonly tags: readonly string[];
  /** vhost → configure/write/read patterns; a vhost absent here is not accessible */
  readonly permissions: ReadonlyMap<string, VhostPermissions>;
  /** vhost → exchange → topic patterns; absent means topic access is not restricted */
  readonly topicPermissions: ReadonlyMap<string, ReadonlyMap<string, TopicPermission>>;
}

export interface UsersDatabase {
  readonly users: ReadonlyMap<string, UserRecord>;
  readonly vhosts: readonly string[];
}

export const EMPTY_USERS_DATABASE: UsersDatabase = { users: new Map(), vhosts: [] };

/** reads and validates; a missing file is an empty document (see `readUsersDatabase`) */
export function readUsersDocument(path: string): UsersDocument {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw configError(path, `cannot read: ${(err as Error).message}`, err);
  }
  let data: unknown;
  try {
    data = parse(text) ?? {};
  } catch (err) {
    throw configError(path, `not valid YAML: ${(err as Error).message}`, err);
  }
  return validateUsersDocument(data, path);
}

export function validateUsersDocument(data: unknown, path: string): UsersDocument {
  const firstError = Value.Errors(UsersDocumentSchema, data).First();
  if (firstError !== undefined) throw configError(path, `${keyName(firstError.path)}: ${firstError.message}`);
  const doc = data as UsersDocument;
  (doc.users ?? []).forEach((user, index) => validateUserEntry(user, `users[${index}]`, path));
  const names = (doc.users ?? []).map((u) => u.name);
  const duplicate = names.find((name, index) => names.indexOf(name) !== index);
  if (duplicate !== undefined) throw configError(path, `users: user '${duplicate}' is listed twice`);
  return doc;
}

function validateUserEntry(user: UserEntry, key: string, path: string): void {
  if (user.password_hash !== undefined && !isPasswordHash(user.password_hash)) {
    throw configError(path, `${key}.password_hash: not a scrypt$N$r$p$salt$hash value`);
  }
  if (user.wampcra !== undefined) {
    const problem = challengeSecretProblem(user.wampcra);
    if (problem !== null) throw configError(path, `${key}.wampcra.${problem}`);
  }
  for (const [vhost, perms] of Object.entries(user.permissions ?? {})) {
    for (const kind of ['configure', 'write', 'read'] as const) {
      requireCompiles(perms[kind], `${key}.permissions['${vhost}'].${kind}`, path);
    }
  }
  for (const [vhost, entries] of Object.entries(user.topic_permissions ?? {})) {
    const exchanges = new Set<string>();
    entries.forEach((entry, i) => {
      const entryKey = `${key}.topic_permissions['${vhost}'][${i}]`;
      if (exchanges.has(entry.exchange)) throw configError(path, `${entryKey}: exchange '${entry.exchange}' is listed twice`);
      exchanges.add(entry.exchange);
      requireCompiles(entry.write, `${entryKey}.write`, path);
      requireCompiles(entry.read, `${entryKey}.read`, path);
    });
  }
}

function requireCompiles(pattern: string, key: string, path: string): void {
  if (compilePattern(pattern) === null) throw configError(path, `${key}: not a valid regular expression: ${pattern}`);
}

export function toUsersDatabase(doc: UsersDocument): UsersDatabase {
  const users = new Map<string, UserRecord>();
  for (const entry of doc.users ?? []) users.set(entry.name, toUserRecord(entry));
  return { users, vhosts: [...(doc.vhosts ?? [])] };
}

function toUserRecord(entry: UserEntry): UserRecord {
  const topicPermissions = new Map<string, Map<string, TopicPermission>>();
  for (const [vhost, entries] of Object.entries(entry.topic_permissions ?? {})) {
    topicPermissions.set(vhost, new Map(entries.map((e) => [e.exchange, e])));
  }
  return {
    name: entry.name,
    passwordHash: entry.password_hash,
    ...(entry.wampcra === undefined ? {} : { challengeSecret: { ...entry.wampcra } }),
    tags: [...(entry.tags ?? [])],
    permissions: new Map(Object.entries(entry.permissions ?? {})),
    topicPermissions,
  };
}

export function readUsersDatabase(path: string): UsersDatabase {
  return toUsersDatabase(readUsersDocument(path));
}

/** temp file + rename, mode 0600: readers see the old file or the new one, never half of one */
export function writeUsersDocument(path: string, doc: UsersDocument): void {
  validateUsersDocument(doc, path);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, stringify(doc), { mode: 0o600, flag: 'wx' });
    renameSync(temp, path);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // the temp file was never created
    }
    throw err;
  }
}

function keyName(pointer: string): string {
  // JSON pointer "/users/0/permissions/~1/read" → "users[0].permissions['/'].read"
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^[0-9]+$/.test(seg) ? `${acc}[${seg}]` : /^[A-Za-z_]+$/.test(seg) ? (acc ? `${acc}.${seg}` : seg) : `${acc}['${seg}']`), '') || '(root)';
}

function configError(path: string, message: string, cause?: unknown): GatewayError {
  return new GatewayError(ErrorCode.CONFIG, `users file ${path}: ${message}`, cause === undefined ? {} : { cause });
}
