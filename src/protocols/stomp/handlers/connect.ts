// CONNECT / STOMP: negotiate the version and heart-beats, map `host` to a vhost, authenticate
// `login`/`passcode` (or the anonymous user), open the fabric session, answer CONNECTED.
// A failed login is ERROR "access refused" and a close (after the authenticator's delay).

import { isGatewayError, ErrorCode } from '../../../errors.js';
import { AuthorizationCache } from '../../shared/authorization-cache.js';
import { ConfirmedPublisher } from '../../shared/confirmed-publisher.js';
import { Endpoints } from '../endpoints.js';
import type { StompFrame } from '../frame.js';
import { negotiateHeartbeat, negotiateVersion } from '../negotiation.js';
import type { StompSession } from '../session.js';
import { TempDestinations } from '../temp-destinations.js';

export async function handleConnect(s: StompSession, frame: StompFrame): Promise<void> {
  const { ctx, link } = s;
  const h = frame.headers;
  s.state = 'connecting';
  const version = negotiateVersion(h['accept-version']);
  s.version = version;
  const heartbeat = negotiateHeartbeat(h['heart-beat'], ctx.config.stomp.heartbeatMs, version);
  const vhost = ctx.auth.resolveVhost(h['host']);
  const principal = await ctx.auth
    .authenticate({ username: h['login'], password: h['passcode'], certificateCN: link.certificateCN }, link.peer, vhost)
    .catch((err: unknown) => {
      if (isGatewayError(err, ErrorCode.AUTH_FAILED)) ctx.metrics.authFailures.inc({ protocol: 'stomp', reason: 'refused' });
      throw err;
    });
  if (!s.open) return; // the client went away while we checked
  const clientId = h['client-id'];
  const fabric = ctx.fabric.openSession({ vhost, label: link.id, publisher: { clientId, username: principal.username, protocol: 'stomp' } });
  const authz = new AuthorizationCache(ctx.auth, principal);
  const temp = new TempDestinations(fabric, s.id);
  s.live = {
    principal,
    vhost,
    clientId,
    fabric,
    authz,
    temp,
    publisher: new ConfirmedPublisher(fabric, ctx.metrics, 'stomp'),
    endpoints: new Endpoints({ fabric, authz, vhost, temp, clientId }),
  };
  s.state = 'connected';
  s.shared.broker.add(s);
  s.wire.send({
    command: 'CONNECTED',
    headers: [
      ['version', version],
      ['heart-beat', heartbeat.header],
      ['session', s.id],
      ['server', s.shared.server],
      ['user-name', principal.username],
    ],
  });
  s.log.debug({ user: principal.username, vhost, version }, 'STOMP session established');
  s.wire.connected(version, heartbeat);
}
