// WAMP v2 messages: codes, the shapes a router receives, and builders for what it sends.
// Grammar (wamp-proto, "Message Definitions"); `Args|list` and `Kw|dict` are optional and
// trailing, and ArgumentsKw may only follow Arguments:
//
//   HELLO        [1,  Realm|uri, Details|dict]
//   AUTHENTICATE [5,  Signature|string, Extra|dict]
//   ABORT        [3,  Details|dict, Reason|uri]
//   GOODBYE      [6,  Details|dict, Reason|uri]
//   ERROR        [8,  REQUEST.Type|int, REQUEST.Request|id, Details|dict, Error|uri, Args?, Kw?]
//   PUBLISH      [16, Request|id, Options|dict, Topic|uri, Args?, Kw?]
//   SUBSCRIBE    [32, Request|id, Options|dict, Topic|uri]
//   UNSUBSCRIBE  [34, Request|id, SUBSCRIBED.Subscription|id]
//   CALL         [48, Request|id, Options|dict, Procedure|uri, Args?, Kw?]
//   CANCEL       [49, CALL.Request|id, Options|dict]
//   REGISTER     [64, Request|id, Options|dict, Procedure|uri]
//   UNREGISTER   [66, Request|id, REGISTERED.Registration|id]
//   YIELD        [70, INVOCATION.Request|id, Options|dict, Args?, Kw?]
//
// Parsing is pure: a value in, a message or a reason out. Anything else a client sends
// (router-to-client codes, unknown codes, wrong types) is a protocol violation.

export const Code = {
  HELLO: 1,
  WELCOME: 2,
  ABORT: 3,
  CHALLENGE: 4,
  AUTHENTICATE: 5,
  GOODBYE: 6,
  ERROR: 8,
  PUBLISH: 16,
  PUBLISHED: 17,
  SUBSCRIBE: 32,
  SUBSCRIBED: 33,
  UNSUBSCRIBE: 34,
  UNSUBSCRIBED: 35,
  EVENT: 36,
  CALL: 48,
  CANCEL: 49,
  RESULT: 50,
  REGISTER: 64,
  REGISTERED: 65,
  UNREGISTER: 66,
  UNREGISTERED: 67,
  INVOCATION: 68,
  INTERRUPT: 69,
  YIELD: 70,
} as const;
export type Code = (typeof Code)[keyof typeof Code];

/** IDs are integers in [1, 2^53] (wamp-proto "IDs") */
export const MAX_ID = 2 ** 53;

export type Dict = Record<string, unknown>;

export interface Payload {
  args?: unknown[] | undefined;
  kwargs?: Dict | undefined;
}

export type Inbound =
  | { type: 'HELLO'; realm: string; details: Dict }
  | { type: 'AUTHENTICATE'; signature: string; extra: Dict }
  | { type: 'ABORT'; details: Dict; reason: string }
  | { type: 'GOODBYE'; details: Dict; reason: string }
  | ({ type: 'ERROR'; requestType: number; requestId: number; details: Dict; error: string } & Payload)
  | ({ type: 'PUBLISH'; requestId: number; options: Dict; topic: string } & Payload)
  | { type: 'SUBSCRIBE'; requestId: number; options: Dict; topic: string }
  | { type: 'UNSUBSCRIBE'; requestId: number; subscriptionId: number }
  | ({ type: 'CALL'; requestId: number; options: Dict; procedure: string } & Payload)
  | { type: 'CANCEL'; requestId: number; options: Dict }
  | { type: 'REGISTER'; requestId: number; options: Dict; procedure: string }
  | { type: 'UNREGISTER'; requestId: number; registrationId: number }
  | ({ type: 'YIELD'; requestId: number; options: Dict } & Payload);

export type InboundType = Inbound['type'];
export type InboundOf<T extends InboundType> = Extract<Inbound, { type: T }>;

export type ParseResult = { ok: true; message: Inbound } | { ok: false; reason: string };

export function isDict(value: unknown): value is Dict {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Buffer.isBuffer(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

export function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_ID;
}

class Violation extends Error {}

function fail(reason: string): never {
  throw new Violation(reason);
}

/** the one entry point: a decoded JSON/MessagePack value → a message the router accepts */
export function parseMessage(value: unknown): ParseResult {
  try {
    return { ok: true, message: parseArray(value) };
  } catch (err) {
    if (err instanceof Violation) return { ok: false, reason: err.message };
    throw err;
  }
}

function parseArray(value: unknown): Inbound {
  if (!Array.isArray(value) || value.length === 0) fail('a message must be a non-empty array');
  const code: unknown = value[0];
  if (typeof code !== 'number' || !Number.isInteger(code)) fail('message type must be an integer');
  const parse = parsers[code];
  if (parse === undefined) fail(`message type ${code} is not accepted from a client`);
  return parse(value);
}

const parsers: Record<number, (m: unknown[]) => Inbound> = {
  [Code.HELLO]: (m) => (arity(m, 3, 3), { type: 'HELLO', realm: str(m[1], 'Realm'), details: dict(m[2], 'Details') }),
  [Code.AUTHENTICATE]: (m) => (arity(m, 3, 3), { type: 'AUTHENTICATE', signature: str(m[1], 'Signature'), extra: dict(m[2], 'Extra') }),
  [Code.ABORT]: (m) => (arity(m, 3, 3), { type: 'ABORT', details: dict(m[1], 'Details'), reason: str(m[2], 'Reason') }),
  [Code.GOODBYE]: (m) => (arity(m, 3, 3), { type: 'GOODBYE', details: dict(m[1], 'Details'), reason: str(m[2], 'Reason') }),
  [Code.ERROR]: (m) => (arity(m, 5, 7), {
    type: 'ERROR', requestType: int(m[1], 'REQUEST.Type'), requestId: id(m[2], 'REQUEST.Request'),
    details: dict(m[3], 'Details'), error: str(m[4], 'Error'), ...payload(m, 5),
  }),
  [Code.PUBLISH]: (m) => (arity(m, 4, 6), {
    type: 'PUBLISH', requestId: id(m[1], 'Request'), options: dict(m[2], 'Options'), topic: str(m[3], 'Topic'), ...payload(m, 4),
  }),
  [Code.SUBSCRIBE]: (m) => (arity(m, 4, 4), {
    type: 'SUBSCRIBE', requestId: id(m[1], 'Request'), options: dict(m[2], 'Options'), topic: str(m[3], 'Topic'),
  }),
  [Code.UNSUBSCRIBE]: (m) => (arity(m, 3, 3), { type: 'UNSUBSCRIBE', requestId: id(m[1], 'Request'), subscriptionId: id(m[2], 'Subscription') }),
  [Code.CALL]: (m) => (arity(m, 4, 6), {
    type: 'CALL', requestId: id(m[1], 'Request'), options: dict(m[2], 'Options'), procedure: str(m[3], 'Procedure'), ...payload(m, 4),
  }),
  [Code.CANCEL]: (m) => (arity(m, 3, 3), { type: 'CANCEL', requestId: id(m[1], 'CALL.Request'), options: dict(m[2], 'Options') }),
  [Code.REGISTER]: (m) => (arity(m, 4, 4), {
    type: 'REGISTER', requestId: id(m[1], 'Request'), options: dict(m[2], 'Options'), procedure: str(m[3], 'Procedure'),
  }),
  [Code.UNREGISTER]: (m) => (arity(m, 3, 3), { type: 'UNREGISTER', requestId: id(m[1], 'Request'), registrationId: id(m[2], 'Registration') }),
  [Code.YIELD]: (m) => (arity(m, 3, 5), { type: 'YIELD', requestId: id(m[1], 'INVOCATION.Request'), options: dict(m[2], 'Options'), ...payload(m, 3) }),
};

function arity(m: unknown[], min: number, max: number): void {
  if (m.length < min || m.length > max) fail(`message type ${String(m[0])} must have ${min === max ? min : `${min} to ${max}`} elements, not ${m.length}`);
}

function str(value: unknown, field: string): string {
  if (typeof value !== 'string') fail(`${field} must be a string`);
  return value;
}

function int(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(`${field} must be an integer`);
  return value;
}

function id(value: unknown, field: string): number {
  if (!isId(value)) fail(`${field} must be an id in [1, 2^53]`);
  return value;
}

function dict(value: unknown, field: string): Dict {
  if (!isDict(value)) fail(`${field} must be a dictionary`);
  return value;
}

function payload(m: unknown[], at: number): Payload {
  const out: Payload = {};
  if (m.length > at) {
    if (!Array.isArray(m[at])) fail('Arguments must be a list');
    out.args = m[at] as unknown[];
  }
  if (m.length > at + 1) out.kwargs = dict(m[at + 1], 'ArgumentsKw');
  return out;
}

// ---- what the router sends -------------------------------------------------------------

export type Outbound = unknown[];

function withPayload(head: unknown[], p: Payload): Outbound {
  const hasKwargs = p.kwargs !== undefined && Object.keys(p.kwargs).length > 0;
  if (hasKwargs) return [...head, p.args ?? [], p.kwargs];
  if (p.args !== undefined && p.args.length > 0) return [...head, p.args];
  return head;
}

export const out = {
  welcome: (session: number, details: Dict): Outbound => [Code.WELCOME, session, details],
  abort: (details: Dict, reason: string): Outbound => [Code.ABORT, details, reason],
  challenge: (method: string, extra: Dict): Outbound => [Code.CHALLENGE, method, extra],
  goodbye: (details: Dict, reason: string): Outbound => [Code.GOODBYE, details, reason],
  error: (requestType: number, requestId: number, error: string, p: Payload = {}, details: Dict = {}): Outbound =>
    withPayload([Code.ERROR, requestType, requestId, details, error], p),
  published: (requestId: number, publication: number): Outbound => [Code.PUBLISHED, requestId, publication],
  subscribed: (requestId: number, subscription: number): Outbound => [Code.SUBSCRIBED, requestId, subscription],
  unsubscribed: (requestId: number, details?: Dict): Outbound =>
    details === undefined ? [Code.UNSUBSCRIBED, requestId] : [Code.UNSUBSCRIBED, requestId, details],
  event: (subscription: number, publication: number, details: Dict, p: Payload): Outbound =>
    withPayload([Code.EVENT, subscription, publication, details], p),
  result: (requestId: number, details: Dict, p: Payload): Outbound => withPayload([Code.RESULT, requestId, details], p),
  registered: (requestId: number, registration: number): Outbound => [Code.REGISTERED, requestId, registration],
  unregistered: (requestId: number, details?: Dict): Outbound =>
    details === undefined ? [Code.UNREGISTERED, requestId] : [Code.UNREGISTERED, requestId, details],
  invocation: (requestId: number, registration: number, details: Dict, p: Payload): Outbound =>
    withPayload([Code.INVOCATION, requestId, registration, details], p),
  interrupt: (requestId: number, options: Dict): Outbound => [Code.INTERRUPT, requestId, options],
};
