// WAMP RPC as AMQP request/reply. A CALL is a message to the default exchange with the
// procedure URI as routing key (so it lands in the queue named after the procedure),
// reply-to = the calling process's reply queue, and a correlation-id. Any AMQP service that
// consumes that queue and answers to reply-to with the same correlation-id serves the
// procedure; a WAMP callee answers AMQP requests the same way.
//
// | header                   | on       | meaning                                                  |
// |--------------------------|----------|----------------------------------------------------------|
// | x-wamp-receive-progress  | request  | the caller accepts progressive results                   |
// | x-wamp-timeout           | request  | ms the caller waits (also the message's expiration)      |
// | x-wamp-caller[-authid|-authrole] | request | disclosed caller (CALL.Options.disclose_me)       |
// | x-wamp-progress          | reply    | a progressive result; more replies follow                |
// | x-wamp-error             | reply    | the call failed with this error URI (body: its args/kwargs) |
//
// Cancel notices (CANCEL with mode kill/killnowait, caller gone, timeout) go to the fanout
// exchange tributary.wamp.cancel, which every gateway process's reply queue is bound to;
// type = "wamp.cancel", correlation-id = the call's, header x-wamp-cancel-mode.

export const DEFAULT_EXCHANGE = '';
export const CANCEL_EXCHANGE = 'tributary.wamp.cancel';
export const CANCEL_TYPE = 'wamp.cancel';

export const RpcHeader = {
  RECEIVE_PROGRESS: 'x-wamp-receive-progress',
  TIMEOUT: 'x-wamp-timeout',
  CALLER: 'x-wamp-caller',
  CALLER_AUTHID: 'x-wamp-caller-authid',
  CALLER_AUTHROLE: 'x-wamp-caller-authrole',
  PROGRESS: 'x-wamp-progress',
  ERROR: 'x-wamp-error',
  CANCEL_MODE: 'x-wamp-cancel-mode',
} as const;

export type CancelMode = 'skip' | 'kill' | 'killnowait';

export function isCancelMode(v: unknown): v is CancelMode {
  return v === 'skip' || v === 'kill' || v === 'killnowait';
}
