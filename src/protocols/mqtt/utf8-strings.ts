// Ill-formed UTF-8 in the strings that name things: a PUBLISH topic, SUBSCRIBE/UNSUBSCRIBE
// filters, and CONNECT's protocol name, client id, will topic and user name. MQTT makes such a
// packet malformed ([MQTT-1.5.3-1] 3.1.1: close the connection; [MQTT-1.5.4-1] 5.0: Malformed
// Packet). mqtt-packet (and publish-codec) decode with Buffer.toString, which silently turns
// the bad bytes into U+FFFD, so they are checked here, on the bytes, before decoding.
//
// Only spans that lie inside the packet are checked; a length that points outside it is the
// decoder's to report. Property strings (MQTT 5) are not checked here.

import { isUtf8 } from 'node:buffer';

const CONNECT = 1;
const PUBLISH = 3;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;

/** the first ill-formed string of a whole packet (fixed header `headerBytes` long), or undefined */
export function illFormedString(whole: Buffer, headerBytes: number, version: number | undefined): string | undefined {
  const type = (whole[0] as number) >> 4;
  if (type === PUBLISH) return badString(whole, headerBytes, 'topic name')?.problem;
  if (type === SUBSCRIBE || type === UNSUBSCRIBE) return filters(whole, headerBytes, version, type === SUBSCRIBE);
  if (type === CONNECT) return connectStrings(whole, headerBytes);
  return undefined;
}

interface Span {
  /** where the next field starts */
  next: number;
  problem?: string;
}

/** the u16-length-prefixed string at `pos`: where it ends, and whether it is ill-formed */
function badString(whole: Buffer, pos: number, what: string): Span | undefined {
  if (pos + 2 > whole.length) return undefined;
  const end = pos + 2 + whole.readUInt16BE(pos);
  if (end > whole.length) return undefined;
  return isUtf8(whole.subarray(pos + 2, end)) ? { next: end } : { next: end, problem: `${what} is not well-formed UTF-8` };
}

function filters(whole: Buffer, pos: number, version: number | undefined, withOptions: boolean): string | undefined {
  pos += 2; // packet identifier
  if (version === 5) {
    const props = varint(whole, pos);
    if (props === undefined) return undefined;
    pos = props.next + props.value;
  }
  while (pos < whole.length) {
    const span = badString(whole, pos, 'topic filter');
    if (span === undefined) return undefined;
    if (span.problem !== undefined) return span.problem;
    pos = span.next + (withOptions ? 1 : 0);
  }
  return undefined;
}

function connectStrings(whole: Buffer, pos: number): string | undefined {
  const name = badString(whole, pos, 'protocol name');
  if (name === undefined || name.problem !== undefined) return name?.problem;
  pos = name.next;
  if (pos + 4 > whole.length) return undefined;
  const level = whole[pos] as number;
  const flags = whole[pos + 1] as number;
  pos += 4; // level, flags, keep alive
  if (level === 5) {
    const props = varint(whole, pos);
    if (props === undefined) return undefined;
    pos = props.next + props.value;
  }
  const clientId = badString(whole, pos, 'client identifier');
  if (clientId === undefined || clientId.problem !== undefined) return clientId?.problem;
  pos = clientId.next;
  if ((flags & 0x04) !== 0) {
    if (level === 5) {
      const props = varint(whole, pos);
      if (props === undefined) return undefined;
      pos = props.next + props.value;
    }
    const willTopic = badString(whole, pos, 'will topic');
    if (willTopic === undefined || willTopic.problem !== undefined) return willTopic?.problem;
    if (willTopic.next + 2 > whole.length) return undefined;
    pos = willTopic.next + 2 + whole.readUInt16BE(willTopic.next); // will payload: binary
  }
  if ((flags & 0x80) !== 0) return badString(whole, pos, 'user name')?.problem;
  return undefined;
}

/** a variable byte integer at `pos` (at most 4 bytes) */
function varint(whole: Buffer, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 4 && pos + i < whole.length; i++) {
    const byte = whole[pos + i] as number;
    value += (byte & 0x7f) * 128 ** i;
    if ((byte & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  return undefined;
}
