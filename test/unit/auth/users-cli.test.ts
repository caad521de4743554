import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { runUsersCommand, type UsersCommandIO } from '../../../src/cli/users.js';
import { createAuthenticator } from '../../../src/auth/index.js';
import { ErrorCode } from '../../../src/errors.js';
import { authConfig, captureLog, REMOTE, tempDir, type TempDir } from './helpers.js';

let dir: TempDir;
let file: string;

beforeEach(() => {
  dir = tempDir();
  file = dir.file('users.yaml');
});
afterEach(() => dir.remove());

interface Run {
  code: number;
  out: string;
  err: string;
  prompts: string[];
}

async function users(args: string[], typed: string[] = []): Promise<Run> {
  let out = '';
  let err = '';
  const prompts: string[] = [];
  const io: UsersCommandIO = {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    readPassword: async (prompt) => {
      prompts.push(prompt);
      return typed.shift() ?? '';
    },
  };
  const code = await runUsersCommand([...args, '--file', file], io);
  return { code, out, err, prompts };
}

function authWithFile() {
  return createAuthenticator(authConfig({ usersFile: file }), captureLog().logger);
}

describe('tributary users', () => {
  it('add writes a 0600 file with a scrypt hash, and the user can then log in', async () => {
    const run = await users(['add', 'bob', '--password', 'pw1', '--tags', 'management, monitoring', '--vhost', '/', '--configure', '^bob\\.', '--write', '.*', '--read', '']);
    expect(run).toMatchObject({ code: 0, err: '' });
    expect(run.out).toBe("added user 'bob'\n");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const doc = parse(readFileSync(file, 'utf8'));
    expect(doc.users[0]).toMatchObject({
      name: 'bob',
      tags: ['management', 'monitoring'],
      permissions: { '/': { configure: '^bob\\.', write: '.*', read: '' } },
    });
    expect(doc.users[0].password_hash).toMatch(/^scrypt\$/);
    expect(readFileSync(file, 'utf8')).not.toContain('pw1');

    const auth = authWithFile();
    const bob = await auth.authenticate({ username: 'bob', password: 'pw1' }, REMOTE, '/');
    expect(bob).toEqual({ username: 'bob', tags: ['management', 'monitoring'], via: 'password' });
    await expect(auth.authorize(bob, { vhost: '/', kind: 'queue', name: 'bob.q', permission: 'configure' })).resolves.toBeUndefined();
    await expect(auth.authorize(bob, { vhost: '/', kind: 'queue', name: 'bob.q', permission: 'read' })).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
  });

  it('add asks for the password when none is given, and refuses an empty one', async () => {
    const asked = await users(['add', 'carol'], ['typed-pw']);
    expect(asked.code).toBe(0);
    expect(asked.prompts).toEqual(["password for 'carol': "]);
    await users(['set-permissions', 'carol', '--configure', '.*', '--write', '.*', '--read', '.*']);
    await expect(authWithFile().authenticate({ username: 'carol', password: 'typed-pw' }, REMOTE, '/')).resolves.toMatchObject({ username: 'carol' });

    const empty = await users(['add', 'dave'], ['']);
    expect(empty).toMatchObject({ code: 1, err: 'tributary users: the password must not be empty\n' });
  });

  it('add --no-password makes a certificate-only user', async () => {
    expect((await users(['add', 'meter', '--no-password', '--vhost', '/', '--configure', '', '--write', '.*', '--read', '.*'])).code).toBe(0);
    const auth = authWithFile();
    await expect(auth.authenticate({ certificateCN: 'meter' }, REMOTE, '/')).resolves.toMatchObject({ via: 'certificate' });
    await expect(auth.authenticate({ username: 'meter', password: 'anything' }, REMOTE, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
  });

  it('refuses to add a user twice', async () => {
    await users(['add', 'bob', '--password', 'a']);
    const again = await users(['add', 'bob', '--password', 'b']);
    expect(again).toMatchObject({ code: 1, err: "tributary users: user 'bob' already exists (use passwd or set-permissions)\n" });
  });

  it('passwd changes the password: the old one stops working', async () => {
    await users(['add', 'bob', '--password', 'old', '--vhost', '/', '--configure', '.*', '--write', '.*', '--read', '.*']);
    expect((await users(['passwd', 'bob'], ['new'])).code).toBe(0);
    const auth = authWithFile();
    await expect(auth.authenticate({ username: 'bob', password: 'new' }, REMOTE, '/')).resolves.toMatchObject({ username: 'bob' });
    await expect(auth.authenticate({ username: 'bob', password: 'old' }, REMOTE, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    expect((await users(['passwd', 'nobody', '--password', 'x'])).err).toBe("tributary users: no user 'nobody'\n");
  });

  it('delete removes the user', async () => {
    await users(['add', 'bob', '--password', 'pw', '--vhost', '/', '--configure', '.*', '--write', '.*', '--read', '.*']);
    await users(['add', 'eve', '--password', 'pw']);
    expect((await users(['delete', 'bob'])).code).toBe(0);
    await expect(authWithFile().authenticate({ username: 'bob', password: 'pw' }, REMOTE, '/')).rejects.toMatchObject({ code: ErrorCode.AUTH_FAILED });
    expect((await users(['list'])).out).toBe('eve [] (wampcra)\n');
    expect((await users(['delete', 'bob'])).code).toBe(1);
  });

  it('list shows users, tags and permissions', async () => {
    await users(['add', 'bob', '--password', 'pw', '--tags', 'management', '--vhost', 'prod', '--configure', '', '--write', '.*', '--read', '^q$']);
    await users(['set-topic-permissions', 'bob', '--vhost', 'prod', '--exchange', 'amq.topic', '--write', '^devices\\.{client_id}\\.', '--read', '.*']);
    await users(['add', 'meter', '--no-password']);
    const run = await users(['list']);
    expect(run.code).toBe(0);
    expect(run.out).toBe(
      [
        'bob [management] (wampcra)',
        '  vhost prod  configure: ""  write: .*  read: ^q$',
        '  vhost prod  topics on amq.topic  write: ^devices\\.{client_id}\\.  read: .*',
        'meter [] (no password)',
        '',
      ].join('\n'),
    );
  });

  it('list on a missing file lists nothing and creates nothing', async () => {
    expect(await users(['list'])).toMatchObject({ code: 0, out: '', err: '' });
    expect(existsSync(file)).toBe(false);
  });

  it('set-topic-permissions takes effect with escaped variables', async () => {
    await users(['add', 'dev', '--password', 'pw', '--vhost', '/', '--configure', '.*', '--write', '.*', '--read', '.*']);
    await users(['set-topic-permissions', 'dev', '--exchange', 'amq.topic', '--write', '^devices\\.{client_id}\\.', '--read', '.*']);
    const auth = authWithFile();
    const dev = await auth.authenticate({ username: 'dev', password: 'pw' }, REMOTE, '/');
    const publish = (routingKey: string, clientId: string) => auth.authorize(dev, { vhost: '/', kind: 'topic', name: 'amq.topic', permission: 'write', routingKey, context: { clientId } });
    await expect(publish('devices.d1.t', 'd1')).resolves.toBeUndefined();
    await expect(publish('devices.d2.t', '.*')).rejects.toMatchObject({ code: ErrorCode.NOT_AUTHORIZED });
    expect((await users(['clear-topic-permissions', 'dev'])).code).toBe(0);
    await expect(authWithFile().authorize(dev, { vhost: '/', kind: 'topic', name: 'amq.topic', permission: 'write', routingKey: 'devices.d2.t', context: { clientId: '.*' } })).resolves.toBeUndefined();
  });

  it('clear-permissions removes vhost access', async () => {
    await users(['add', 'bob', '--password', 'pw', '--vhost', '/', '--configure', '.*', '--write', '.*', '--read', '.*']);
    expect((await users(['clear-permissions', 'bob', '--vhost', '/'])).code).toBe(0);
    await expect(authWithFile().authenticate({ username: 'bob', password: 'pw' }, REMOTE, '/')).rejects.toMatchObject({ message: 'no access to vhost' });
  });

  it('errors are one line with exit code 1, and leave the file untouched', async () => {
    await users(['add', 'bob', '--password', 'pw']);
    const before = readFileSync(file, 'utf8');
    const cases: Array<[string[], string]> = [
      [[], 'a command is required (tributary users --help)'],
      [['frobnicate', 'x'], "unknown command 'frobnicate' (tributary users --help)"],
      [['add'], 'add: a user name is required'],
      [['set-permissions', 'bob', '--configure', '(', '--write', '', '--read', ''], '--configure: not a valid regular expression: ('],
      [['set-permissions', 'bob', '--write', '.*', '--read', '.*'], '--configure is required (use "" to grant nothing, ".*" for everything)'],
      [['set-topic-permissions', 'bob', '--write', '.*', '--read', '.*'], 'set-topic-permissions: --exchange is required'],
      [['add', 'x', '--bogus'], "Unknown option '--bogus'"],
    ];
    for (const [args, message] of cases) {
      const run = await users(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.err.startsWith(`tributary users: ${message}`), run.err).toBe(true);
      expect(run.err.trimEnd().includes('\n')).toBe(false);
    }
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(readdirSync(dir.path)).toEqual(['users.yaml']);
  });

  it('a broken users file is reported with the key at fault', async () => {
    writeFileSync(file, 'users:\n  - name: bob\n    permissions:\n      /: { configure: 1, write: "", read: "" }\n');
    const run = await users(['list']);
    expect(run.code).toBe(1);
    expect(run.err).toContain("users[0].permissions['/'].configure");
  });

  it('help prints the usage', async () => {
    const run = await users(['--help']);
    expect(run.code).toBe(0);
    expect(run.out).toContain('usage: tributary users <command>');
  });
});
