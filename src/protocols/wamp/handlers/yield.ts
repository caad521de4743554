// YIELD and ERROR(INVOCATION): a callee answers an INVOCATION. The answer goes to the
// request's reply-to with its correlation-id, whoever sent it: a WAMP caller in any
// gateway process or an AMQP client (dealer/rpc-headers.ts).

import { Code, type InboundOf } from '../messages.js';
import { ProtocolViolation } from '../errors.js';
import type { WampSession } from '../session.js';
import type { ConfirmedPublisher } from '../../shared/confirmed-publisher.js';
import type { Dealer } from '../dealer/dealer.js';
import type { Invocation } from '../dealer/procedures.js';

export function handleYield(s: WampSession, m: InboundOf<'YIELD'>): Promise<void> | void {
  const { dealer } = s.openRealm;
  const inv = dealer.procedures.find(s, m.requestId);
  if (inv === undefined) return; // interrupted, timed out, or already answered
  const progress = m.options.progress === true;
  // with room in the confirm window the reply leaves in this turn, without a promise
  const publisher = s.publisherWithRoom();
  if (publisher !== null) return answer(dealer, publisher, inv, m, progress);
  return s.roomToPublish().then((p) => answer(dealer, p, inv, m, progress));
}

function answer(dealer: Dealer, publisher: ConfirmedPublisher, inv: Invocation, m: InboundOf<'YIELD'>, progress: boolean): void {
  dealer.reply(publisher, inv, m, { progress });
  if (!progress) dealer.procedures.finish(inv);
}

export async function handleInvocationError(s: WampSession, m: InboundOf<'ERROR'>): Promise<void> {
  if (m.requestType !== Code.INVOCATION) throw new ProtocolViolation(`a client may only send ERROR for INVOCATION, not for message type ${m.requestType}`);
  const { dealer } = s.openRealm;
  const inv = dealer.procedures.find(s, m.requestId);
  if (inv === undefined) return;
  dealer.reply(await s.roomToPublish(), inv, m, { error: m.error });
  dealer.procedures.finish(inv);
}
