// The two WAMP serializers (wamp-proto "Serializations"): wamp.2.json in text frames,
// wamp.2.msgpack in binary frames. Pure: bytes in, a value or an error out.
//
// JSON carries binary as a string of "\0" + base64 (wamp-proto "Binary conversion of JSON
// Strings"); MessagePack carries it as bin. msgpackr runs in plain-MessagePack mode (no
// records/structures extension), so any MessagePack peer can read what we write.

import { Packr } from 'msgpackr';
import { parseWampJson, stringifyWampJson } from './json.js';
import type { Outbound } from './messages.js';

export type SerializerId = 'json' | 'msgpack';

export interface Serializer {
  readonly id: SerializerId;
  /** true: send as a binary WebSocket frame */
  readonly binary: boolean;
  decode(data: Buffer): { ok: true; value: unknown } | { ok: false; reason: string };
  encode(message: Outbound): string | Buffer;
}

export const SUBPROTOCOLS = { 'wamp.2.json': 'json', 'wamp.2.msgpack': 'msgpack' } as const satisfies Record<string, SerializerId>;
export type WampSubprotocol = keyof typeof SUBPROTOCOLS;

export function serializerFor(subprotocol: string | undefined): Serializer {
  return subprotocol === 'wamp.2.msgpack' ? msgpackSerializer : jsonSerializer;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export const jsonSerializer: Serializer = {
  id: 'json',
  binary: false,
  decode(data) {
    try {
      return { ok: true, value: parseWampJson(utf8.decode(data)) };
    } catch (err) {
      return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
    }
  },
  encode(message) {
    return stringifyWampJson(message) as string;
  },
};

const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  variableMapSize: true,
  int64AsType: 'number',
});

export const msgpackSerializer: Serializer = {
  id: 'msgpack',
  binary: true,
  decode(data) {
    try {
      return { ok: true, value: packr.unpack(data) };
    } catch (err) {
      return { ok: false, reason: `invalid MessagePack: ${(err as Error).message}` };
    }
  },
  encode(message) {
    return packr.pack(message);
  },
};
