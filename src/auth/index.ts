// createAuthenticator: who a client is (users file, built-in guest, anonymous, certificate,
// challenge-response (WAMP-CRA) against the users file's wampcra keys,
// optional HTTP backend) and what it may touch (RabbitMQ-style permissions). Failed logins are
// throttled per source address before any hashing, delayed, and logged without the password.

import { existsSync } from 'node:fs';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Config } from '../config/schema.js';
import { ErrorCode, GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { HttpBackend } from './http-backend.js';
import { GUEST_USERNAME, LocalBackend } from './local-backend.js';
import { isLoopbackAddress } from './loopback.js';
import { FailureThrottle, throttleOptionsFrom, type ThrottleOptions } from './throttle.js';
import type { Authenticator, AuthorizeRequest, ChallengeSecret, Credentials, Peer, Principal } from './types.js';

export type { Authenticator, AuthorizeRequest, ChallengeSecret, Credentials, Peer, Principal } from './types.js';

type AuthConfig = Config['auth'];

export interface AuthenticatorOptions {
  now?: () => number;
  /** waits out the failed-login delay; tests pass one that records instead of sleeping */
  sleep?: (ms: number) => Promise<void>;
  /** overrides auth.failedLoginThrottle (tests) */
  throttle?: Partial<ThrottleOptions>;
  /**
   * how long authenticateChallenge waits for `prove` (the client's answer) before refusing; it
   * holds one of the address's concurrent-login slots meanwhile. Default 30 s.
   */
  challengeTimeoutMs?: number;
}

export const DEFAULT_CHALLENGE_TIMEOUT_MS = 30_000;

export interface ManagedAuthenticator extends Authenticator {
  /** re-reads the users file (e.g. on SIGHUP); rejects, keeping the old users, when it is invalid */
  reload(): Promise<void>;
  close(): void;
}

/** why a login failed: `reason` is logged, `message`/`detail` go to the client */
class LoginRefused {
  constructor(
    readonly reason: string,
    readonly message = 'access refused',
    readonly detail = 'login refused',
  ) {}
}

const INVALID_CREDENTIALS = (reason: string) => new LoginRefused(reason, 'access refused', 'invalid username or password');

const THROTTLED = new LoginRefused('too many failed logins from this address', 'access refused', 'too many failed attempts, try again later');
const TOO_MANY_CONCURRENT = new LoginRefused('too many concurrent logins from this address', 'access refused', 'too many login attempts, try again later');

export function createAuthenticator(config: AuthConfig, log: Logger, opts: AuthenticatorOptions = {}): ManagedAuthenticator {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => (ms > 0 ? sleepMs(ms) : Promise.resolve()));
  const local = new LocalBackend(config);
  const http = config.http === null ? null : new HttpBackend(config.http, now);
  const throttle = new FailureThrottle({ ...throttleOptionsFrom(config.failedLoginThrottle), ...opts.throttle }, now);
  const challengeTimeoutMs = opts.challengeTimeoutMs ?? DEFAULT_CHALLENGE_TIMEOUT_MS;
  warnIfUsersFileMissing(config, log);

  async function identify(credentials: Credentials, peer: Peer, vhost: string): Promise<Principal> {
    const { username, password, certificateCN } = credentials;
    if (username !== undefined) return passwordLogin(username, password, peer, vhost);
    if (password !== undefined && password !== '') throw new LoginRefused('password without username');
    if (certificateCN !== undefined) return certificateLogin(certificateCN, peer, vhost);
    return anonymousLogin(peer, vhost);
  }

  async function passwordLogin(username: string, password: string | undefined, peer: Peer, vhost: string): Promise<Principal> {
    // A username with an empty or missing password never logs in (RabbitMQ #96, #9122).
    if (password === undefined || password === '') throw INVALID_CREDENTIALS('empty password');
    requireLoopbackForGuest(username, peer);
    const user = local.findUser(username);
    if (user !== undefined) {
      if (!(await local.checkPassword(user, password))) throw INVALID_CREDENTIALS('wrong password');
      return localPrincipal(username, 'password', vhost);
    }
    if (http !== null) return httpLogin(username, password, peer, vhost);
    await local.spendDecoyHash(password);
    throw INVALID_CREDENTIALS('unknown user');
  }

  async function certificateLogin(commonName: string, peer: Peer, vhost: string): Promise<Principal> {
    requireLoopbackForGuest(commonName, peer);
    if (local.findUser(commonName) !== undefined) return localPrincipal(commonName, 'certificate', vhost);
    if (http !== null) return httpLogin(commonName, undefined, peer, vhost);
    throw new LoginRefused('no user for certificate', 'access refused', 'certificate not accepted');
  }

  async function anonymousLogin(peer: Peer, vhost: string): Promise<Principal> {
    const name = config.anonymousUser;
    if (name === null) throw new LoginRefused('anonymous login disabled', 'access refused', 'credentials required');
    requireLoopbackForGuest(name, peer);
    if (local.findUser(name) === undefined) throw new LoginRefused(`anonymous user '${name}' does not exist`);
    return localPrincipal(name, 'anonymous', vhost);
  }

  function localPrincipal(username: string, via: Principal['via'], vhost: string): Principal {
    const user = local.findUser(username);
    if (user === undefined) throw new LoginRefused('user removed during login');
    if (!local.hasVhostAccess(user, vhost)) throw noVhostAccess(vhost);
    return { username, tags: [...user.tags], via };
  }

  async function httpLogin(username: string, password: string | undefined, peer: Peer, vhost: string): Promise<Principal> {
    const backend = http as HttpBackend;
    const tags = await backend.authenticateUser(username, password, vhost).catch(backendFailure);
    if (tags === null) throw INVALID_CREDENTIALS('refused by the HTTP backend');
    if (!(await backend.checkVhost(username, vhost, peer.address).catch(backendFailure))) throw noVhostAccess(vhost);
    return { username, tags, via: 'http' };
  }

  function requireLoopbackForGuest(username: string, peer: Peer): void {
    if (username !== GUEST_USERNAME || !config.guestLoopbackOnly || isLoopbackAddress(peer.address)) return;
    throw new LoginRefused(
      "user 'guest' is loopback-only: it can log in only from localhost (add a user to the users file)",
      "user 'guest' can only connect via localhost",
      "user 'guest' can only connect via localhost",
    );
  }

  async function authenticate(credentials: Credentials, peer: Peer, vhost: string): Promise<Principal> {
    return throttled(credentials, peer, vhost, () => identify(credentials, peer, vhost));
  }

  // WAMP-CRA and the like: the protocol sends the challenge and checks the answer (`prove`);
  // this side picks the secret and applies the same throttle, delay, guest and vhost rules.
  async function authenticateChallenge(username: string, prove: (secret: ChallengeSecret | null) => Promise<boolean>, peer: Peer, vhost: string): Promise<Principal> {
    return throttled({ username }, peer, vhost, () => challengeLogin(username, prove, peer, vhost), { method: 'challenge' });
  }

  async function challengeLogin(username: string, prove: (secret: ChallengeSecret | null) => Promise<boolean>, peer: Peer, vhost: string): Promise<Principal> {
    requireLoopbackForGuest(username, peer);
    const user = local.findUser(username);
    const secret = challengeSecretOf(username);
    // Without a secret the protocol still challenges (a decoy), so the exchange looks the same
    // whether or not the user exists; the answer is never accepted.
    const proven = await withTimeout(prove(secret === null ? null : { ...secret }), challengeTimeoutMs);
    if (secret === null) throw INVALID_CREDENTIALS(user === undefined ? 'unknown user' : 'user has no challenge-response (wampcra) secret');
    if (proven !== true) throw INVALID_CREDENTIALS('wrong challenge response');
    // the users file may have been reloaded while the client was answering
    if (challengeSecretOf(username)?.key !== secret.key) throw INVALID_CREDENTIALS('challenge-response secret changed during login');
    return localPrincipal(username, 'challenge', vhost);
  }

  /** the built-in guest and the anonymous user are not challenge-response users */
  function challengeSecretOf(username: string): ChallengeSecret | null {
    if (username === GUEST_USERNAME || username === config.anonymousUser) return null;
    return local.findUser(username)?.challengeSecret ?? null;
  }

  async function throttled(credentials: Credentials, peer: Peer, vhost: string, login: () => Promise<Principal>, logFields: Record<string, unknown> = {}): Promise<Principal> {
    const admission = throttle.admit(peer.address);
    if (admission === 'blocked') return refuse(credentials, peer, vhost, THROTTLED, logFields);
    if (admission === 'busy') return refuse(credentials, peer, vhost, TOO_MANY_CONCURRENT, logFields);
    try {
      const principal = await login();
      throttle.settle(peer.address, true);
      return principal;
    } catch (err) {
      throttle.settle(peer.address, false);
      return refuse(credentials, peer, vhost, err, logFields);
    }
  }

  async function refuse(credentials: Credentials, peer: Peer, vhost: string, err: unknown, logFields: Record<string, unknown> = {}): Promise<never> {
    const refusal = err instanceof LoginRefused ? err : new LoginRefused('internal error during login');
    const user = credentials.username ?? (credentials.certificateCN === undefined ? '(anonymous)' : `CN=${credentials.certificateCN}`);
    log.info({ user, address: peer.address, vhost, ...logFields, reason: refusal.reason, ...(err instanceof LoginRefused ? {} : { err }) }, 'authentication failed');
    await sleep(config.failedAuthDelayMs);
    throw new GatewayError(ErrorCode.AUTH_FAILED, refusal.message, { detail: refusal.detail, fatal: true });
  }

  // kind 'topic' is checked as RabbitMQ does for a publish or a binding on a topic exchange:
  // first the permission on the exchange itself, then the topic permission on the routing key.
  async function authorize(principal: Principal, request: AuthorizeRequest): Promise<void> {
    let refused: AuthorizeRequest | null;
    try {
      refused = principal.via === 'http' ? await refusedByHttp(principal, request) : refusedLocally(principal, request);
    } catch (err) {
      log.warn({ err, user: principal.username, vhost: request.vhost }, 'authorization check failed; access refused');
      refused = request;
    }
    if (refused !== null) throw notAuthorized(principal, refused);
  }

  /** null when allowed, else the check that failed */
  function refusedLocally(principal: Principal, request: AuthorizeRequest): AuthorizeRequest | null {
    const user = local.findUser(principal.username);
    const { vhost, kind, name, permission } = request;
    if (user === undefined || !local.checkResource(user, vhost, name, permission)) return asResourceCheck(request);
    if (kind !== 'topic' || permission === 'configure') return null;
    const allowed = local.checkTopic(user, vhost, name, request.routingKey ?? '', permission, topicVariables(principal, request));
    return allowed ? null : request;
  }

  async function refusedByHttp(principal: Principal, request: AuthorizeRequest): Promise<AuthorizeRequest | null> {
    const { vhost, kind, name, permission } = request;
    if (http === null) return request;
    const resourceKind = kind === 'topic' ? 'exchange' : kind;
    if (!(await http.checkResource(principal.username, vhost, resourceKind, name, permission))) return asResourceCheck(request);
    if (kind !== 'topic' || permission === 'configure') return null;
    const allowed = await http.checkTopic(principal.username, vhost, name, permission, request.routingKey ?? '', topicVariables(principal, request));
    return allowed ? null : request;
  }

  function resolveVhost(requested: string | undefined): string {
    if (requested === undefined || requested === '') return config.defaultVhost;
    const known = requested === config.defaultVhost || config.vhosts.includes(requested) || local.fileVhosts.includes(requested);
    return known ? requested : config.defaultVhost;
  }

  return {
    authenticate,
    authenticateChallenge,
    authorize,
    resolveVhost,
    async reload() {
      local.reload();
      http?.clearCache();
      log.info({ usersFile: config.usersFile }, 'users reloaded');
    },
    close() {
      http?.clearCache();
    },
  };
}

function topicVariables(principal: Principal, request: AuthorizeRequest) {
  return { username: principal.username, vhost: request.vhost, client_id: request.context?.clientId };
}

function asResourceCheck(request: AuthorizeRequest): AuthorizeRequest {
  return request.kind === 'topic' ? { ...request, kind: 'exchange' } : request;
}

function noVhostAccess(vhost: string): LoginRefused {
  return new LoginRefused(`no permissions on vhost '${vhost}'`, 'no access to vhost', `access to vhost '${vhost}' refused`);
}

/** the client did not answer in time (or the protocol dropped the challenge): a refusal */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LoginRefused(`no answer to the challenge within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function backendFailure(err: unknown): never {
  const refusal = new LoginRefused(`HTTP auth backend failed: ${(err as Error).message}`);
  throw refusal;
}

/** RabbitMQ's wording ("access to queue 'x' in vhost '/' refused for user 'bob'") plus the permission */
export function notAuthorized(principal: Principal, request: AuthorizeRequest): GatewayError {
  const { vhost, kind, name, permission, routingKey } = request;
  const resource = kind === 'topic' ? `topic '${routingKey ?? ''}' in exchange '${name}'` : `${kind} '${name}'`;
  const message = `access to ${resource} in vhost '${vhost}' refused for user '${principal.username}': ${permission} permission required`;
  return new GatewayError(ErrorCode.NOT_AUTHORIZED, message);
}

function warnIfUsersFileMissing(config: AuthConfig, log: Logger): void {
  if (config.usersFile !== null && !existsSync(config.usersFile)) {
    log.warn({ usersFile: config.usersFile }, 'users file not found: only the built-in guest user can log in');
  }
}
