// HELLO: realm → vhost, pick an authentication method, and WELCOME or CHALLENGE.
// wamp-proto "HELLO", "Authentication Methods"; methods offered in the client's order:
//   anonymous (when wamp.allowAnonymous): the auth layer's anonymous user
//   ticket:   CHALLENGE → AUTHENTICATE(ticket) checked as authid/password
//   wampcra:  salted WAMP-CRA against the users file's wampcra key (when the auth layer has one)

import type { ChallengeSecret, Principal } from '../../../auth/types.js';
import type { Config } from '../../../config/schema.js';
import { isGatewayError } from '../../../errors.js';
import { WampError, ProtocolViolation } from '../errors.js';
import { hasClientRole } from '../features.js';
import { randomId } from '../ids.js';
import type { InboundOf } from '../messages.js';
import { out } from '../messages.js';
import type { WampSession } from '../session.js';
import { isValidUri } from '../uri.js';
import { craChallenge, craVerify, decoySecret } from '../cra.js';

type Method = 'anonymous' | 'ticket' | 'wampcra';

export async function handleHello(s: WampSession, m: InboundOf<'HELLO'>): Promise<void> {
  if (!hasClientRole(m.details.roles)) throw new ProtocolViolation('HELLO.Details.roles must announce at least one role');
  if (!isValidUri(m.realm)) return s.abort(WampError.INVALID_URI, `invalid realm URI '${m.realm}'`);
  const vhost = vhostForRealm(s.ctx.config, m.realm);
  if (vhost === null) return s.abort(WampError.NO_SUCH_REALM, `no such realm '${m.realm}'`);
  s.realmName = m.realm;
  s.vhost = vhost;
  s.roles = m.details.roles;
  s.sessionId = randomId();
  const authid = typeof m.details.authid === 'string' && m.details.authid !== '' ? m.details.authid : undefined;
  const method = chooseMethod(s, m.details.authmethods, authid);
  if (method === null) return s.abort(WampError.NO_MATCHING_AUTH_METHOD, 'none of the offered authentication methods is accepted');
  // no authid: a verified TLS client certificate (WSS, tls.certificateUser) names the user, as in STOMP and MQTT
  const certificateCN = s.deps.link.certificateCN;
  if (method === 'anonymous') return login(s, 'anonymous', () => s.ctx.auth.authenticate(certificateCN === undefined ? {} : { certificateCN }, s.peer, vhost));
  s.state = 'authenticating';
  if (method === 'ticket') return startTicket(s, authid as string);
  startCra(s, authid as string);
}

/** wamp.realms maps realms to vhosts; any other realm is the default vhost when allowAnyRealm */
export function vhostForRealm(config: Config, realm: string): string | null {
  const mapped = config.wamp.realms[realm];
  if (mapped !== undefined) return mapped;
  return config.wamp.allowAnyRealm ? config.auth.defaultVhost : null;
}

function chooseMethod(s: WampSession, offered: unknown, authid: string | undefined): Method | null {
  const methods = Array.isArray(offered) ? offered.filter((x): x is string => typeof x === 'string') : ['anonymous'];
  for (const method of methods) {
    if (method === 'anonymous' && s.ctx.config.wamp.allowAnonymous) return 'anonymous';
    if (method === 'ticket' && authid !== undefined) return 'ticket';
    if (method === 'wampcra' && authid !== undefined && s.ctx.auth.authenticateChallenge !== undefined) return 'wampcra';
  }
  return null;
}

function startTicket(s: WampSession, authid: string): void {
  s.onAuthenticate = (ticket) => {
    s.onAuthenticate = null;
    void login(s, 'ticket', () => s.ctx.auth.authenticate({ username: authid, password: ticket }, s.peer, s.vhost));
  };
  s.send(out.challenge('ticket', {}));
}

function startCra(s: WampSession, authid: string): void {
  const auth = s.ctx.auth;
  const prove = (stored: ChallengeSecret | null): Promise<boolean> => {
    const secret = stored ?? decoySecret(authid);
    const { extra } = craChallenge(secret, { authid, authrole: 'user', session: s.sessionId });
    return new Promise<boolean>((resolve) => {
      s.abandonChallenge = () => resolve(false);
      s.onAuthenticate = (signature) => {
        s.onAuthenticate = null;
        s.abandonChallenge = null;
        resolve(stored !== null && craVerify(secret.key, extra.challenge, signature));
      };
      s.send(out.challenge('wampcra', extra));
    });
  };
  // not awaited: the reader must stay free to take the AUTHENTICATE this waits for
  void login(s, 'wampcra', () => auth.authenticateChallenge!(authid, prove, s.peer, s.vhost));
}

async function login(s: WampSession, method: Method, authenticate: () => Promise<Principal>): Promise<void> {
  try {
    const principal = await authenticate();
    s.welcome(principal, method);
  } catch (err) {
    s.ctx.metrics.authFailures.inc({ protocol: 'wamp', reason: method });
    const message = isGatewayError(err) ? (err.detail ?? err.message) : 'authentication failed';
    if (!isGatewayError(err)) s.log.error({ err }, 'wamp: authentication failed unexpectedly');
    await s.abort(WampError.AUTHENTICATION_FAILED, message);
  }
}
