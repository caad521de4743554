// JSON with WAMP's binary convention (wamp-proto "Binary conversion of JSON Strings"):
// bytes travel as a string "\0" + base64. Shared by the wamp.2.json serializer and the
// AMQP body encoding, so binary survives both the same way.

const BINARY_PREFIX = '\u0000';

function replaceBinary(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return BINARY_PREFIX + Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
  return value;
}

function reviveBinary(_key: string, value: unknown): unknown {
  if (typeof value === 'string' && value.startsWith(BINARY_PREFIX)) return Buffer.from(value.slice(1), 'base64');
  return value;
}

/** undefined for a value JSON cannot represent at top level (undefined, a function) */
export function stringifyWampJson(value: unknown): string | undefined {
  // a replacer costs a call per value (several times the plain stringify); most messages carry no bytes
  return mayHoldBinary(value, 0) ? JSON.stringify(value, replaceBinary) : JSON.stringify(value);
}

const MAX_SCAN_DEPTH = 32;

/** false only when the value is plain JSON data (arrays, plain objects, primitives) without bytes */
function mayHoldBinary(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth > MAX_SCAN_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (mayHoldBinary(item, depth + 1)) return true;
    return false;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  // bytes, or anything with its own toJSON/prototype: let the replacer see it
  if (proto !== Object.prototype && proto !== null) return true;
  for (const key in value) if (mayHoldBinary((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

/** throws SyntaxError like JSON.parse */
export function parseWampJson(text: string): unknown {
  // a reviver costs on every value; only binary strings need it, and JSON must escape NUL
  return text.includes('\\u0000') ? JSON.parse(text, reviveBinary) : JSON.parse(text);
}
