// The internal backend: users from the users file plus the built-in guest user, and the
// RabbitMQ permission checks over them (rabbit_auth_backend_internal's rules).

import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Permission } from './types.js';
import { hashPassword, verifyPassword } from './password.js';
import { PatternCache, type TopicVariables } from './permissions.js';
import { EMPTY_USERS_DATABASE, readUsersDatabase, type UserRecord, type UsersDatabase, type VhostPermissions } from './users-file.js';

type AuthConfig = Config['auth'];

export const GUEST_USERNAME = 'guest';
const FULL_ACCESS: VhostPermissions = { configure: '.*', write: '.*', read: '.*' };

/** RabbitMQ's default user: guest/guest, administrator, full permissions on every vhost */
interface LocalUser extends UserRecord {
  /** the built-in guest's permissions apply to any vhost */
  readonly everyVhost?: VhostPermissions;
  readonly plainPassword?: string;
}

const BUILT_IN_GUEST: LocalUser = {
  name: GUEST_USERNAME,
  passwordHash: undefined,
  plainPassword: 'guest',
  tags: ['administrator'],
  permissions: new Map(),
  topicPermissions: new Map(),
  everyVhost: FULL_ACCESS,
};

export class LocalBackend {
  private db: UsersDatabase;
  private readonly patterns = new PatternCache();
  private decoyHash: Promise<string> | undefined;

  constructor(private readonly config: AuthConfig) {
    this.db = this.load();
  }

  /** re-reads the users file; on error the previous users stay in force and the error is thrown */
  reload(): void {
    this.db = this.load();
  }

  get fileVhosts(): readonly string[] {
    const fromPermissions = [...this.db.users.values()].flatMap((u) => [...u.permissions.keys()]);
    return [...this.db.vhosts, ...fromPermissions];
  }

  findUser(name: string): LocalUser | undefined {
    const fromFile = this.db.users.get(name);
    if (fromFile !== undefined) return fromFile;
    return name === GUEST_USERNAME && this.config.guestEnabled ? BUILT_IN_GUEST : undefined;
  }

  /** constant-time; a user without a password never passes */
  async checkPassword(user: LocalUser, password: string): Promise<boolean> {
    if (user.plainPassword !== undefined) return equalSecrets(password, user.plainPassword);
    if (user.passwordHash === undefined) return this.spendDecoyHash(password);
    return verifyPassword(password, user.passwordHash);
  }

  /** the same work as a real check, so unknown users cannot be told apart by timing */
  async spendDecoyHash(password: string): Promise<false> {
    this.decoyHash ??= hashPassword('decoy password that never matches');
    await verifyPassword(password, await this.decoyHash);
    return false;
  }

  hasVhostAccess(user: LocalUser, vhost: string): boolean {
    return vhostPermissions(user, vhost) !== undefined;
  }

  checkResource(user: LocalUser, vhost: string, name: string, permission: Permission): boolean {
    const perms = vhostPermissions(user, vhost);
    return perms !== undefined && this.patterns.matches(perms[permission], name);
  }

  /** RabbitMQ: no topic permission entry for the exchange means topic access is not restricted */
  checkTopic(user: LocalUser, vhost: string, exchange: string, routingKey: string, permission: 'write' | 'read', variables: TopicVariables): boolean {
    const entry = user.topicPermissions.get(vhost)?.get(exchange);
    if (entry === undefined) return true;
    return this.patterns.matchesTopic(entry[permission], routingKey, variables);
  }

  private load(): UsersDatabase {
    return this.config.usersFile === null ? EMPTY_USERS_DATABASE : readUsersDatabase(this.config.usersFile);
  }
}

function vhostPermissions(user: LocalUser, vhost: string): VhostPermissions | undefined {
  return user.permissions.get(vhost) ?? user.everyVhost;
}

function equalSecrets(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}
