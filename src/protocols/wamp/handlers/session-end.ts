// GOODBYE and ABORT from the client (wamp-proto "Session Closing").

import type { InboundOf } from '../messages.js';
import type { WampSession } from '../session.js';

export async function handleGoodbye(s: WampSession, _m: InboundOf<'GOODBYE'>): Promise<void> {
  await s.peerGoodbye();
}

export async function handleAbort(s: WampSession, m: InboundOf<'ABORT'>): Promise<void> {
  s.log.info({ session: s.sessionId || undefined, reason: m.reason }, 'wamp client aborted');
  await s.end('abort');
}
