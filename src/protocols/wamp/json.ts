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
  return JSON.stringify(value, replaceBinary);
}

/** throws SyntaxError like JSON.parse */
export function parseWampJson(text: string): unknown {
  // a reviver costs on every value; only binary strings need it, and JSON must escape NUL
  return text.includes('\\u0000') ? JSON.parse(text, reviveBinary) : JSON.parse(text);
}
