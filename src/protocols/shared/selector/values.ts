// Runtime value semantics: type conversion, comparison and arithmetic in three-valued logic.
//
// Values: string, boolean, exact numbers (bigint, a Java long) and approximate numbers (number,
// a Java double); null is SQL NULL (a missing header), and a comparison with it is UNKNOWN.
//
// STOMP header values are strings. ActiveMQ parses every STOMP selector in its
// `convert_string_expressions:` mode (ProtocolConverter.onStompSubscribe), where a string compared
// with a number is parsed as that number (Long.valueOf, Double.valueOf, ...) and a string compared
// with a boolean is parsed with Boolean.valueOf; a string that does not parse makes the comparison
// FALSE (not UNKNOWN). We do the same, with these deliberate differences:
//   - A numeric string is any JMS numeric literal form (optional sign, digits, optional fraction,
//     optional exponent; no whitespace, no hex): "1500.5" > 1000 is TRUE, where ActiveMQ fails
//     Integer.valueOf("1500.5") and answers FALSE. As in ActiveMQ, the string takes the other
//     operand's type: compared with a double it is read as a double, otherwise integers are exact.
//   - A string is a boolean only if it is "true" or "false" (any case); ActiveMQ's Boolean.valueOf
//     turns every other string into false, so there `flag = FALSE` matches flag="yes".
//   - <, <=, >, >= between two identifiers that both hold strings compare them as numbers
//     (FALSE unless both parse); ActiveMQ compares two strings lexicographically, JMS forbids it.
//   - Arithmetic converts numeric strings too (ActiveMQ throws, which drops the message); a
//     non-numeric operand makes the result NULL.
//   - A bare identifier used as a condition (`flag AND ...`) is TRUE/FALSE for booleans and for
//     the strings "true"/"false"; any other value is FALSE; a missing one is UNKNOWN.
// As in ActiveMQ (and JMS for NOT BETWEEN/NOT IN/NOT LIKE): `a <> b` is NOT (a = b), so a string
// that does not parse is <> every number.
// Exact arithmetic wraps at 64 bits like Java longs; exact division truncates; an exact division
// or modulo by zero (an ArithmeticException in Java) gives NULL.

import type { ArithOp, Tri, Value } from './ast.js';

const NOT_NUMERIC = 0;
const INTEGER = 1;
const DECIMAL = 2;

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Classifies a string as a JMS numeric literal: 0 no, 1 integer, 2 decimal/exponent. Linear, no regex. */
export function scanNumeric(s: string): 0 | 1 | 2 {
  const n = s.length;
  let i = 0;
  let c = s.charCodeAt(0);
  if (c === 0x2b || c === 0x2d) c = s.charCodeAt(++i);
  let digits = 0;
  while (i < n && isDigit(s.charCodeAt(i))) {
    i++;
    digits++;
  }
  let decimal = false;
  if (s.charCodeAt(i) === 0x2e) {
    decimal = true;
    i++;
    while (i < n && isDigit(s.charCodeAt(i))) {
      i++;
      digits++;
    }
  }
  if (digits === 0) return NOT_NUMERIC;
  if ((s.charCodeAt(i) | 0x20) === 0x65) {
    i++;
    c = s.charCodeAt(i);
    if (c === 0x2b || c === 0x2d) i++;
    const start = i;
    while (i < n && isDigit(s.charCodeAt(i))) i++;
    if (i === start) return NOT_NUMERIC;
    decimal = true;
  }
  if (i !== n) return NOT_NUMERIC;
  return decimal ? DECIMAL : INTEGER;
}

/**
 * A numeric string as a number to compare with. Like ActiveMQ, the string takes the type of the
 * other operand: against an approximate number it is read as a double; otherwise an integer
 * string is exact (as bigint when it is too long for a double to hold exactly).
 */
export function stringToComparable(s: string, approximate: boolean): number | bigint | undefined {
  const k = scanNumeric(s);
  if (k === NOT_NUMERIC) return undefined;
  // doubles hold integers of up to 15 digits exactly; longer ones compare exactly as bigint
  if (k === INTEGER && !approximate && s.length > 15) return BigInt(s);
  return Number(s);
}

/** A value as a number to compare with `other` (see stringToComparable). */
export function toComparable(v: Value, other: Value): number | bigint | undefined {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return v;
    case 'string':
      return stringToComparable(v, typeof other === 'number');
    default:
      return undefined;
  }
}

/** A number for arithmetic, keeping exact (bigint) vs approximate (number). */
export function toArithmetic(v: Value): number | bigint | undefined {
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return v;
    case 'string': {
      const k = scanNumeric(v);
      if (k === NOT_NUMERIC) return undefined;
      if (k === INTEGER) {
        const b = BigInt(v);
        return b >= LONG_MIN && b <= LONG_MAX ? b : Number(v);
      }
      return Number(v);
    }
    default:
      return undefined;
  }
}

/** "true"/"false" in any case → boolean; anything else → undefined. */
export function stringToBoolean(s: string): boolean | undefined {
  if (s.length === 4 && s.toLowerCase() === 'true') return true;
  if (s.length === 5 && s.toLowerCase() === 'false') return false;
  return undefined;
}

/** A value used as a condition: an identifier on its own, or a parenthesised one. */
export function toCondition(v: Value): Tri {
  if (v === null) return null;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return stringToBoolean(v) ?? false;
  return false;
}

function isNumber(v: Value): v is number | bigint {
  const t = typeof v;
  return t === 'number' || t === 'bigint';
}

/** `a = b` */
export function equals(a: Value, b: Value): Tri {
  if (a === null || b === null) return null;
  const ta = typeof a;
  if (ta === typeof b) return a === b;
  if (ta === 'string') return equalsConverted(a as string, b);
  if (typeof b === 'string') return equalsConverted(b, a);
  // eslint-disable-next-line eqeqeq -- bigint == number compares the mathematical values
  if (isNumber(a) && isNumber(b)) return a == b;
  return false; // boolean vs number
}

function equalsConverted(s: string, other: Value): boolean {
  if (typeof other === 'boolean') return stringToBoolean(s) === other;
  const n = stringToComparable(s, typeof other === 'number');
  // eslint-disable-next-line eqeqeq -- bigint == number compares the mathematical values
  return n !== undefined && n == (other as number | bigint);
}

export type OrderOp = '<' | '<=' | '>' | '>=';

/** `a < b` and friends: numbers only (strings converted); anything else is FALSE. */
export function order(op: OrderOp, a: Value, b: Value): Tri {
  if (a === null || b === null) return null;
  const x = toComparable(a, b);
  const y = toComparable(b, a);
  if (x === undefined || y === undefined) return false;
  return orderNumbers(op, x, y);
}

export function orderNumbers(op: OrderOp, x: number | bigint, y: number | bigint): boolean {
  switch (op) {
    case '<': return x < y;
    case '<=': return x <= y;
    case '>': return x > y;
    case '>=': return x >= y;
  }
}

/** Arithmetic on two values; NULL in, or a non-numeric operand, gives NULL. */
export function arithmetic(op: ArithOp, a: Value, b: Value): Value {
  if (a === null || b === null) return null;
  const x = toArithmetic(a);
  const y = toArithmetic(b);
  if (x === undefined || y === undefined) return null;
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    switch (op) {
      case '+': return BigInt.asIntN(64, x + y);
      case '-': return BigInt.asIntN(64, x - y);
      case '*': return BigInt.asIntN(64, x * y);
      case '/': return y === 0n ? null : BigInt.asIntN(64, x / y);
      case '%': return y === 0n ? null : x % y;
    }
  }
  const p = Number(x);
  const q = Number(y);
  switch (op) {
    case '+': return p + q;
    case '-': return p - q;
    case '*': return p * q;
    case '/': return p / q;
    case '%': return p % q;
  }
}

export function negate(a: Value): Value {
  if (a === null) return null;
  const x = toArithmetic(a);
  if (x === undefined) return null;
  return typeof x === 'bigint' ? BigInt.asIntN(64, -x) : -x;
}

/** Unary plus: the value as a number (NULL when it is not one). */
export function numeric(a: Value): Value {
  if (a === null) return null;
  return toArithmetic(a) ?? null;
}

/** A header value as a selector value; JS integers count as exact, non-primitives as NULL. */
export function fromHeader(v: unknown): Value {
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'bigint':
      return v;
    case 'number':
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    default:
      return null;
  }
}
