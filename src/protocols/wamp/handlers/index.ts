// The message → handler table: a message type without a handler is a compile error.

import type { InboundOf, InboundType } from '../messages.js';
import type { WampSession } from '../session.js';
import { handleAuthenticate } from './authenticate.js';
import { handleCall, handleCancel } from './call.js';
import { handleHello } from './hello.js';
import { handlePublish } from './publish.js';
import { handleRegister, handleUnregister } from './register.js';
import { handleAbort, handleGoodbye } from './session-end.js';
import { handleSubscribe, handleUnsubscribe } from './subscribe.js';
import { handleInvocationError, handleYield } from './yield.js';

export const handlers: { [T in InboundType]: (s: WampSession, m: InboundOf<T>) => Promise<void> | void } = {
  HELLO: handleHello,
  AUTHENTICATE: handleAuthenticate,
  ABORT: handleAbort,
  GOODBYE: handleGoodbye,
  ERROR: handleInvocationError,
  PUBLISH: handlePublish,
  SUBSCRIBE: handleSubscribe,
  UNSUBSCRIBE: handleUnsubscribe,
  CALL: handleCall,
  CANCEL: handleCancel,
  REGISTER: handleRegister,
  UNREGISTER: handleUnregister,
  YIELD: handleYield,
};
