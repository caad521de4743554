// AUTHENTICATE: the answer to our CHALLENGE (wamp-proto "Authentication Methods").

import { ProtocolViolation } from '../errors.js';
import type { InboundOf } from '../messages.js';
import type { WampSession } from '../session.js';

export function handleAuthenticate(s: WampSession, m: InboundOf<'AUTHENTICATE'>): void {
  const answer = s.onAuthenticate;
  if (answer === null) throw new ProtocolViolation('AUTHENTICATE without a pending CHALLENGE');
  answer(m.signature);
}
