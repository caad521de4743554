// REGISTER / UNREGISTER (wamp-proto "Registering and Unregistering", "Shared Registration").
// The procedure is the AMQP queue of the same name (dealer/procedures.ts).

import { ErrorCode, GatewayError } from '../../../errors.js';
import { INVOKE_POLICIES, type InvokePolicy } from '../dealer/invoke-policy.js';
import { WampError, WampRequestError } from '../errors.js';
import { out, type InboundOf } from '../messages.js';
import type { WampSession } from '../session.js';
import { isReservedUri, isValidUri } from '../uri.js';

export async function handleRegister(s: WampSession, m: InboundOf<'REGISTER'>): Promise<void> {
  const match = m.options.match ?? 'exact';
  if (match !== 'exact') throw new WampRequestError(WampError.INVALID_ARGUMENT, 'pattern-based registration is not supported: a procedure is one AMQP queue');
  const invoke = m.options.invoke ?? 'single';
  if (!INVOKE_POLICIES.includes(invoke as InvokePolicy)) throw new WampRequestError(WampError.INVALID_ARGUMENT, `unknown invocation policy '${String(invoke)}'`);
  if (!isValidUri(m.procedure) || isReservedUri(m.procedure)) throw new WampRequestError(WampError.INVALID_URI, `invalid procedure '${m.procedure}'`);
  const limit = s.ctx.config.limits.maxSubscriptionsPerSession;
  if (s.registrations.size >= limit) throw new GatewayError(ErrorCode.LIMIT_EXCEEDED, `at most ${limit} registrations per session`);
  await s.authorize({ kind: 'queue', name: m.procedure, permission: 'configure' });
  await s.authorize({ kind: 'queue', name: m.procedure, permission: 'read' });
  const { dealer } = s.openRealm;
  await dealer.ready(); // cancel notices for our invocations arrive on the reply queue
  await dealer.procedures.register(s, m.procedure, invoke as InvokePolicy, (id) => {
    s.registrations.add(id);
    s.send(out.registered(m.requestId, id));
  });
}

export async function handleUnregister(s: WampSession, m: InboundOf<'UNREGISTER'>): Promise<void> {
  if (!s.registrations.delete(m.registrationId)) {
    throw new WampRequestError(WampError.NO_SUCH_REGISTRATION, `no registration ${m.registrationId}`);
  }
  await s.openRealm.dealer.procedures.unregister(s, m.registrationId);
  s.send(out.unregistered(m.requestId));
}
