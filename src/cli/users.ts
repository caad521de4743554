// `tributary users ...`: manage the users file (see src/auth/users-file.ts for its shape).
// Every change is written atomically (temp file + rename) with mode 0600. Exit code 0 on
// success, 1 with a one-line error otherwise.

import { parseArgs } from 'node:util';
import { deriveChallengeSecret } from '../auth/challenge.js';
import { GUEST_USERNAME } from '../auth/local-backend.js';
import { hashPassword, verifyPassword } from '../auth/password.js';
import { compilePattern } from '../auth/permissions.js';
import { readUsersDocument, writeUsersDocument, type UserEntry, type UsersDocument } from '../auth/users-file.js';

export interface UsersCommandIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** asks for a password when --password is not given (default: the terminal, without echo) */
  readPassword?: (prompt: string) => Promise<string>;
}

export const DEFAULT_USERS_FILE = 'config/users.yaml';

const USAGE = `usage: tributary users <command> [options]

  add <name> [--password P | --no-password] [--no-wampcra] [--tags a,b] [--vhost V --configure RE --write RE --read RE]
  passwd <name> [--password P] [--no-wampcra]
  set-wampcra <name> [--password P]
  clear-wampcra <name>
  delete <name>
  list
  set-permissions <name> [--vhost V] --configure RE --write RE --read RE
  clear-permissions <name> [--vhost V]
  set-topic-permissions <name> [--vhost V] --exchange X --write RE --read RE
  clear-topic-permissions <name> [--vhost V] [--exchange X]

  --file F      the users file (default ${DEFAULT_USERS_FILE})
  --vhost V     default "/"
  --no-wampcra  add/passwd: no WAMP-CRA key (passwd removes the old one)
  Without --password the password is asked for. Patterns are RabbitMQ's: regular
  expressions, unanchored unless they use ^ and $; "" grants nothing.
  add and passwd also store a WAMP-CRA key derived from the password (salted WAMP-CRA:
  PBKDF2-HMAC-SHA256, random salt, 1000 iterations, 32 bytes), never the password itself;
  set-wampcra derives it for an existing user from the user's password.
`;

const OPTIONS = {
  file: { type: 'string' },
  password: { type: 'string' },
  'no-password': { type: 'boolean' },
  'no-wampcra': { type: 'boolean' },
  tags: { type: 'string' },
  vhost: { type: 'string' },
  configure: { type: 'string' },
  write: { type: 'string' },
  read: { type: 'string' },
  exchange: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** a mistake in the command line or the file: reported as one line */
class UsageError extends Error {}

interface CommandContext {
  name: string;
  opts: Options;
  io: UsersCommandIO;
  file: string;
}

type Command = (ctx: CommandContext, doc: UsersDocument) => Promise<UsersDocument | null>;

const COMMANDS: Record<string, Command> = {
  add: addUser,
  passwd: changePassword,
  'set-wampcra': setWampCra,
  'clear-wampcra': clearWampCra,
  delete: deleteUser,
  list: listUsers,
  'set-permissions': setPermissions,
  'clear-permissions': clearPermissions,
  'set-topic-permissions': setTopicPermissions,
  'clear-topic-permissions': clearTopicPermissions,
};

export async function runUsersCommand(argv: string[], io: UsersCommandIO = defaultIO()): Promise<number> {
  try {
    const { values: opts, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    const [commandName, name, ...extra] = positionals;
    if (opts.help || commandName === 'help') {
      io.stdout.write(USAGE);
      return 0;
    }
    const command = commandName === undefined ? undefined : COMMANDS[commandName];
    if (command === undefined) throw new UsageError(commandName === undefined ? 'a command is required (tributary users --help)' : `unknown command '${commandName}' (tributary users --help)`);
    if (commandName !== 'list' && (name === undefined || name === '')) throw new UsageError(`${commandName}: a user name is required`);
    if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const file = opts.file ?? DEFAULT_USERS_FILE;
    const changed = await command({ name: name ?? '', opts, io, file }, readUsersDocument(file));
    if (changed !== null) writeUsersDocument(file, changed);
    return 0;
  } catch (err) {
    io.stderr.write(`tributary users: ${oneLine(err)}\n`);
    return 1;
  }
}

async function addUser({ name, opts, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  if (findUser(doc, name) !== undefined) throw new UsageError(`user '${name}' already exists (use passwd or set-permissions)`);
  const entry: UserEntry = { name };
  if (!opts['no-password']) {
    const password = await obtainPassword(opts, io, name);
    entry.password_hash = await hashPassword(password);
    if (wantsWampCra(opts, name)) entry.wampcra = await deriveChallengeSecret(password);
  } else if (opts.password !== undefined) throw new UsageError('--password and --no-password exclude each other');
  const tags = parseTags(opts.tags);
  if (tags.length > 0) entry.tags = tags;
  if ([opts.vhost, opts.configure, opts.write, opts.read].some((v) => v !== undefined)) {
    entry.permissions = { [opts.vhost ?? '/']: permissionsFrom(opts) };
  }
  io.stdout.write(`added user '${name}'\n`);
  return { ...doc, users: [...(doc.users ?? []), entry] };
}

async function changePassword({ name, opts, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  const user = requireUser(doc, name);
  const password = await obtainPassword(opts, io, name);
  user.password_hash = await hashPassword(password);
  // a key derived from the old password must not outlive it
  if (wantsWampCra(opts, name)) user.wampcra = await deriveChallengeSecret(password);
  else delete user.wampcra;
  io.stdout.write(`changed the password of '${name}'\n`);
  return doc;
}

/** (re)derives the WAMP-CRA key; the password must be the user's password when it has one */
async function setWampCra({ name, opts, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  const user = requireUser(doc, name);
  if (name === GUEST_USERNAME) throw new UsageError(`user '${GUEST_USERNAME}' cannot use WAMP-CRA`);
  const password = await obtainPassword(opts, io, name);
  if (user.password_hash !== undefined && !(await verifyPassword(password, user.password_hash))) {
    throw new UsageError(`that is not the password of '${name}' (use passwd to change it)`);
  }
  user.wampcra = await deriveChallengeSecret(password);
  io.stdout.write(`set the WAMP-CRA key of '${name}'\n`);
  return doc;
}

async function clearWampCra({ name, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  const user = requireUser(doc, name);
  delete user.wampcra;
  io.stdout.write(`removed the WAMP-CRA key of '${name}'\n`);
  return doc;
}

async function deleteUser({ name, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  requireUser(doc, name);
  io.stdout.write(`deleted user '${name}'\n`);
  return { ...doc, users: (doc.users ?? []).filter((u) => u.name !== name) };
}

async function listUsers({ io }: CommandContext, doc: UsersDocument): Promise<null> {
  for (const user of doc.users ?? []) {
    const login = (user.password_hash === undefined ? ' (no password)' : '') + (user.wampcra === undefined ? '' : ' (wampcra)');
    io.stdout.write(`${user.name} [${(user.tags ?? []).join(', ')}]${login}\n`);
    for (const [vhost, p] of Object.entries(user.permissions ?? {})) {
      io.stdout.write(`  vhost ${vhost}  configure: ${show(p.configure)}  write: ${show(p.write)}  read: ${show(p.read)}\n`);
    }
    for (const [vhost, entries] of Object.entries(user.topic_permissions ?? {})) {
      for (const t of entries) io.stdout.write(`  vhost ${vhost}  topics on ${t.exchange}  write: ${show(t.write)}  read: ${show(t.read)}\n`);
    }
  }
  return null;
}

async function setPermissions({ name, opts, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  const user = requireUser(doc, name);
  const vhost = opts.vhost ?? '/';
  user.permissions = { ...user.permissions, [vhost]: permissionsFrom(opts) };
  io.stdout.write(`set permissions of '${name}' on vhost '${vhost}'\n`);
  return doc;
}

async function clearPermissions({ name, opts, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  const user = requireUser(doc, name);
  const vhost = opts.vhost ?? '/';
  const { [vhost]: _removed, ...rest } = user.permissions ?? {};
  user.permissions = rest;
  io.stdout.write(`cleared permissions of '${name}' on vhost '${vhost}'\n`);
  return doc;
}

async function setTopicPermissions({ name, opts, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  const user = requireUser(doc, name);
  const vhost = opts.vhost ?? '/';
  const exchange = opts.exchange;
  if (exchange === undefined || exchange === '') throw new UsageError('set-topic-permissions: --exchange is required');
  const write = requirePattern(opts.write, 'write');
  const read = requirePattern(opts.read, 'read');
  const others = (user.topic_permissions?.[vhost] ?? []).filter((t) => t.exchange !== exchange);
  user.topic_permissions = { ...user.topic_permissions, [vhost]: [...others, { exchange, write, read }] };
  io.stdout.write(`set topic permissions of '${name}' on exchange '${exchange}' in vhost '${vhost}'\n`);
  return doc;
}

async function clearTopicPermissions({ name, opts, io }: CommandContext, doc: UsersDocument): Promise<UsersDocument> {
  const user = requireUser(doc, name);
  const vhost = opts.vhost ?? '/';
  const remaining = opts.exchange === undefined ? [] : (user.topic_permissions?.[vhost] ?? []).filter((t) => t.exchange !== opts.exchange);
  const { [vhost]: _removed, ...rest } = user.topic_permissions ?? {};
  user.topic_permissions = remaining.length > 0 ? { ...rest, [vhost]: remaining } : rest;
  io.stdout.write(`cleared topic permissions of '${name}' in vhost '${vhost}'\n`);
  return doc;
}

/** the built-in guest is never a WAMP-CRA user (see Authenticator.authenticateChallenge) */
function wantsWampCra(opts: Options, name: string): boolean {
  return !opts['no-wampcra'] && name !== GUEST_USERNAME;
}

function permissionsFrom(opts: Options) {
  return {
    configure: requirePattern(opts.configure, 'configure'),
    write: requirePattern(opts.write, 'write'),
    read: requirePattern(opts.read, 'read'),
  };
}

function requirePattern(pattern: string | undefined, option: string): string {
  if (pattern === undefined) throw new UsageError(`--${option} is required (use "" to grant nothing, ".*" for everything)`);
  if (compilePattern(pattern) === null) throw new UsageError(`--${option}: not a valid regular expression: ${pattern}`);
  return pattern;
}

async function obtainPassword(opts: Options, io: UsersCommandIO, name: string): Promise<string> {
  const password = opts.password ?? (await (io.readPassword ?? readPasswordFromTerminal)(`password for '${name}': `));
  // A user with an empty password could never log in (empty passwords are always refused).
  if (password === '') throw new UsageError('the password must not be empty');
  return password;
}

function findUser(doc: UsersDocument, name: string): UserEntry | undefined {
  return (doc.users ?? []).find((u) => u.name === name);
}

function requireUser(doc: UsersDocument, name: string): UserEntry {
  const user = findUser(doc, name);
  if (user === undefined) throw new UsageError(`no user '${name}'`);
  return user;
}

function parseTags(tags: string | undefined): string[] {
  return (tags ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function show(pattern: string): string {
  return pattern === '' ? '""' : pattern;
}

function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0] ?? message;
}

function defaultIO(): UsersCommandIO {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** reads one line; on a terminal the typed characters are not echoed */
async function readPasswordFromTerminal(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  if (!stdin.isTTY) return readLine(stdin);
  stdin.setRawMode(true);
  try {
    return await readLine(stdin, true);
  } finally {
    stdin.setRawMode(false);
    process.stderr.write('\n');
  }
}

function readLine(stream: NodeJS.ReadStream, raw = false): Promise<string> {
  return new Promise((resolve, reject) => {
    let line = '';
    const finish = (result: string | Error) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.pause();
      if (result instanceof Error) reject(result);
      else resolve(result);
    };
    const onEnd = () => finish(line);
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\n' || char === '\r') return finish(line);
        if (raw && char === '\u0003') return finish(new UsageError('cancelled'));
        if (raw && (char === '\u007f' || char === '\b')) line = line.slice(0, -1);
        else line += char;
      }
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.resume();
  });
}
