// Equality and canonical keys for AMQP field values as they cross the seam.
import type { HeaderValue, Headers } from '../types.js';

export function sameValue(a: HeaderValue, b: HeaderValue): boolean {
  if (a === b) return true;
  if (a === null || b === null || a === undefined || b === undefined) return false;
  if (Buffer.isBuffer(a) || Buffer.isBuffer(b)) return Buffer.isBuffer(a) && Buffer.isBuffer(b) && a.equals(b);
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => sameValue(v, b[i]));
  }
  if (typeof a === 'object' && typeof b === 'object') return sameTable(a, b);
  return false;
}

export function sameTable(a: Headers | undefined, b: Headers | undefined): boolean {
  const ka = definedKeys(a);
  const kb = definedKeys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => kb.includes(k) && sameValue((a as Headers)[k], (b as Headers)[k]));
}

function definedKeys(t: Headers | undefined): string[] {
  return t === undefined ? [] : Object.keys(t).filter((k) => t[k] !== undefined);
}

/** a stable string for a table, so bindings that differ only in key order are one binding */
export function tableKey(t: Headers | undefined): string {
  if (t === undefined) return '';
  return JSON.stringify(canonical(t));
}

function canonical(v: HeaderValue): unknown {
  if (Buffer.isBuffer(v)) return { $buf: v.toString('base64') };
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = canonical(v[k]);
    return out;
  }
  return v;
}
