// Reading AMQP header values that other clients wrote: amqplib and other libraries hand
// back 64-bit integers, longstr and booleans in more than one shape.

import type { Headers, HeaderValue } from '../../fabric/types.js';

export function toNumber(v: HeaderValue | bigint): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^[0-9]{1,16}$/.test(v)) return Number(v);
  return undefined;
}

export function toString(v: HeaderValue): string | undefined {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString();
  return undefined;
}

export function headerString(headers: Headers | undefined, name: string): string | undefined {
  return toString(headers?.[name]);
}

export function headerNumber(headers: Headers | undefined, name: string): number | undefined {
  return toNumber(headers?.[name]);
}

export function headerFlag(headers: Headers | undefined, name: string): boolean {
  const v: HeaderValue = headers?.[name];
  return v === true || v === 1 || v === 'true';
}
