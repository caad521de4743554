// WAMP Arguments/ArgumentsKw ⇄ an AMQP body + content type. Chosen so that other protocols
// read WAMP publishes as plain JSON and WAMP reads their JSON as events:
//
// | WAMP payload                       | AMQP body                       | content-type                       |
// |------------------------------------|---------------------------------|------------------------------------|
// | none (no args, no kwargs)          | empty                           | (none)                             |
// | args [x], x binary                 | the bytes of x                  | application/octet-stream           |
// | args [x], x a string               | x in UTF-8                      | text/plain; charset=utf-8          |
// | args [x], anything else            | JSON of x                       | application/json                   |
// | several args, or any kwargs        | {"args":[…],"kwargs":{…}}       | application/vnd.tributary.wamp+json|
//
// and back (any AMQP body, whoever published it):
//
// | content-type                         | WAMP payload                                               |
// |--------------------------------------|------------------------------------------------------------|
// | application/vnd.tributary.wamp+json  | the envelope's args/kwargs                                 |
// | application/json, *+json             | args [JSON value] (not JSON: as for text/*)                 |
// | text/*                               | args [string] (not UTF-8: args [bytes])                    |
// | none (MQTT 3.1.1, most STOMP)        | args [JSON value] if the body is JSON, else [string], else [bytes] |
// | anything else                        | args [bytes]                                               |
// | empty body                           | no args (text/*: args [""]; octet-stream: args [empty bytes]) |
//
// Binary nested inside JSON uses WAMP's JSON convention, a string "\0" + base64.

import { parseWampJson, stringifyWampJson } from './json.js';
import { isDict, type Payload } from './messages.js';

export const ENVELOPE_CONTENT_TYPE = 'application/vnd.tributary.wamp+json';
export const JSON_CONTENT_TYPE = 'application/json';
export const TEXT_CONTENT_TYPE = 'text/plain; charset=utf-8';
export const BINARY_CONTENT_TYPE = 'application/octet-stream';

export interface EncodedBody {
  body: Buffer;
  contentType?: string | undefined;
}

const EMPTY = Buffer.alloc(0);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function encodePayload(p: Payload): EncodedBody {
  const args = p.args ?? [];
  const hasKwargs = p.kwargs !== undefined && Object.keys(p.kwargs).length > 0;
  if (!hasKwargs && args.length === 0) return { body: EMPTY };
  if (!hasKwargs && args.length === 1) return encodeSingle(args[0]);
  const envelope = hasKwargs ? { args, kwargs: p.kwargs } : { args };
  return { body: Buffer.from(stringifyWampJson(envelope) ?? '{}'), contentType: ENVELOPE_CONTENT_TYPE };
}

function encodeSingle(value: unknown): EncodedBody {
  if (value instanceof Uint8Array) return { body: Buffer.from(value), contentType: BINARY_CONTENT_TYPE };
  if (typeof value === 'string') return { body: Buffer.from(value), contentType: TEXT_CONTENT_TYPE };
  return { body: Buffer.from(stringifyWampJson(value) ?? 'null'), contentType: JSON_CONTENT_TYPE };
}

export function decodePayload(body: Buffer, contentType: string | undefined): Payload {
  const type = mediaType(contentType);
  if (body.length === 0) return decodeEmpty(type);
  if (type === ENVELOPE_CONTENT_TYPE) return decodeEnvelope(body) ?? { args: [textOrBytes(body)] };
  if (type === JSON_CONTENT_TYPE || type.endsWith('+json') || type === '') {
    const parsed = parseJson(body);
    return { args: [parsed.ok ? parsed.value : textOrBytes(body)] };
  }
  if (type.startsWith('text/')) return { args: [textOrBytes(body)] };
  return { args: [body] };
}

/** an empty body is no payload, except that it can be one empty string or empty binary */
function decodeEmpty(type: string): Payload {
  if (type.startsWith('text/')) return { args: [''] };
  if (type === BINARY_CONTENT_TYPE) return { args: [EMPTY] };
  return {};
}

function decodeEnvelope(body: Buffer): Payload | null {
  const parsed = parseJson(body);
  if (!parsed.ok || !isDict(parsed.value)) return null;
  const { args, kwargs } = parsed.value;
  if (args !== undefined && !Array.isArray(args)) return null;
  if (kwargs !== undefined && !isDict(kwargs)) return null;
  const out: Payload = {};
  if (args !== undefined) out.args = args as unknown[];
  if (kwargs !== undefined) out.kwargs = kwargs;
  return out;
}

/** the content types WAMP publishes itself, already in the form mediaType() returns */
const KNOWN_MEDIA_TYPES: ReadonlyMap<string, string> = new Map([
  [TEXT_CONTENT_TYPE, 'text/plain'],
  [JSON_CONTENT_TYPE, JSON_CONTENT_TYPE],
  [ENVELOPE_CONTENT_TYPE, ENVELOPE_CONTENT_TYPE],
  [BINARY_CONTENT_TYPE, BINARY_CONTENT_TYPE],
]);

function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  return KNOWN_MEDIA_TYPES.get(contentType) ?? (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function textOrBytes(body: Buffer): string | Buffer {
  try {
    return utf8.decode(body);
  } catch {
    return body;
  }
}

function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: parseWampJson(utf8.decode(body)) };
  } catch {
    return { ok: false };
  }
}
