// Compiles a parsed selector into nested closures (no eval, no new Function). The common shapes
// (`ident = 'lit'`, `ident > 123`, two-item AND/OR) get specialised closures; everything else
// goes through the generic value functions in values.ts, which define the semantics.

import type { CompareOp, Node, Tri, Value } from './ast.js';
import { kindOf } from './ast.js';
import { compileLike } from './like.js';
import type { OrderOp } from './values.js';
import {
  arithmetic, equals, fromHeader, negate, numeric, order, orderNumbers, scanNumeric, stringToComparable, toCondition,
} from './values.js';

export type Headers = Readonly<Record<string, unknown>>;
export type Eval = (headers: Headers) => Value;
export type Cond = (headers: Headers) => Tri;

// ---- identifiers ------------------------------------------------------------------------------

type Getter = (headers: Headers) => unknown;

/** Reads an own header; names that exist on Object.prototype are guarded with hasOwn. */
function getter(name: string): Getter {
  if (name in Object.prototype) return (h) => (Object.hasOwn(h, name) ? h[name] : undefined);
  return (h) => h[name];
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

function longHeader(name: string, absent: bigint): Eval {
  const get = getter(name);
  return (h) => {
    const v = get(h);
    if (v === undefined || v === null) return absent;
    if (typeof v === 'string') {
      if (scanNumeric(v) !== 1) return null;
      const b = BigInt(v);
      return b >= LONG_MIN && b <= LONG_MAX ? b : null;
    }
    if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : null;
    if (typeof v === 'bigint') return v;
    return null;
  };
}

function plainHeader(name: string): Eval {
  const get = getter(name);
  return (h) => {
    const v = get(h);
    return typeof v === 'string' ? v : fromHeader(v);
  };
}

/**
 * JMS header identifiers (JMS 1.1 §3.8.1.1) read from the STOMP headers that carry them, as
 * ActiveMQ's STOMP bridge maps them. Absent values are the JMS defaults ActiveMQ reports
 * (priority 4, timestamp and expiration 0, NON_PERSISTENT); a value that is not an integer is NULL.
 */
const JMS_IDENTIFIERS: Readonly<Record<string, () => Eval>> = {
  JMSMessageID: () => plainHeader('message-id'),
  JMSCorrelationID: () => plainHeader('correlation-id'),
  JMSType: () => plainHeader('type'),
  JMSPriority: () => longHeader('priority', 4n),
  JMSTimestamp: () => longHeader('timestamp', 0n),
  JMSExpiration: () => longHeader('expires', 0n),
  JMSDeliveryMode: () => {
    const get = getter('persistent');
    return (h) => {
      const v = get(h);
      const persistent = v === true || (typeof v === 'string' && v.toLowerCase() === 'true');
      return persistent ? 'PERSISTENT' : 'NON_PERSISTENT';
    };
  },
};

function identifier(name: string): Eval {
  const jms = Object.hasOwn(JMS_IDENTIFIERS, name) ? JMS_IDENTIFIERS[name] : undefined;
  if (jms !== undefined) return jms();
  return plainHeader(name);
}

// ---- helpers ------------------------------------------------------------------------------------

function not3(r: Tri): Tri {
  return r === null ? null : !r;
}
function and3(a: Tri, b: Tri): Tri {
  if (a === false || b === false) return false;
  return a === null || b === null ? null : true;
}
function or3(a: Tri, b: Tri): Tri {
  if (a === true || b === true) return true;
  return a === null || b === null ? null : false;
}

const MIRROR: Record<CompareOp, CompareOp> = { '=': '=', '<>': '<>', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/** A number literal in the form that compares fastest: a double when that is exact. */
function comparableLiteral(v: number | bigint): number | bigint {
  if (typeof v === 'bigint' && v >= -(2n ** 53n) && v <= 2n ** 53n) return Number(v);
  return v;
}

// ---- compilation --------------------------------------------------------------------------------

/** A boolean context: identifiers (kind 'any') become conditions. */
export function compileCondition(node: Node): Cond {
  const f = compileValue(node);
  if (kindOf(node) === 'any') return (h) => toCondition(f(h));
  return f as Cond;
}

export function compileValue(node: Node): Eval {
  switch (node.t) {
    case 'lit': {
      const value = node.value;
      return () => value;
    }
    case 'id':
      return identifier(node.name);
    case 'and':
    case 'or':
      return compileLogic(node.t, node.items.map(compileCondition));
    case 'not': {
      const f = compileCondition(node.arg);
      return (h) => not3(f(h));
    }
    case 'cmp':
      return compileCompare(node.op, node.left, node.right);
    case 'arith': {
      const op = node.op;
      const l = compileValue(node.left);
      const r = compileValue(node.right);
      return (h) => arithmetic(op, l(h), r(h));
    }
    case 'neg': {
      const f = compileValue(node.arg);
      return (h) => negate(f(h));
    }
    case 'plus': {
      const f = compileValue(node.arg);
      return (h) => numeric(f(h));
    }
    case 'between': {
      const v = compileValue(node.arg);
      const lo = compileValue(node.low);
      const hi = compileValue(node.high);
      // JMS: `a NOT BETWEEN x AND y` is `a < x OR a > y`
      if (node.not) {
        return (h) => {
          const a = v(h);
          return or3(order('<', a, lo(h)), order('>', a, hi(h)));
        };
      }
      return (h) => {
        const a = v(h);
        return and3(order('>=', a, lo(h)), order('<=', a, hi(h)));
      };
    }
    case 'in': {
      const v = compileValue(node.arg);
      const set = new Set(node.list);
      const not = node.not;
      // ActiveMQ: a value that is not a string makes IN unknown
      return (h) => {
        const a = v(h);
        if (typeof a !== 'string') return null;
        return set.has(a) !== not;
      };
    }
    case 'like': {
      const v = compileValue(node.arg);
      const match = compileLike(node.pattern, node.escape);
      const not = node.not;
      return (h) => {
        const a = v(h);
        if (a === null) return null;
        if (typeof a !== 'string') return not; // ActiveMQ: LIKE on a non-string is FALSE
        return match(a) !== not;
      };
    }
    case 'isnull': {
      const v = compileValue(node.arg);
      const not = node.not;
      return (h) => (v(h) === null) !== not;
    }
  }
}

function compileLogic(t: 'and' | 'or', items: Cond[]): Cond {
  const stop = t === 'or'; // the value that decides the result on its own
  if (items.length === 2) {
    const [a, b] = items as [Cond, Cond];
    return (h) => {
      const x = a(h);
      if (x === stop) return stop;
      const y = b(h);
      if (y === stop) return stop;
      return x === null || y === null ? null : !stop;
    };
  }
  return (h) => {
    let result: Tri = !stop;
    for (let i = 0; i < items.length; i++) {
      const r = (items[i] as Cond)(h);
      if (r === stop) return stop;
      if (r === null) result = null;
    }
    return result;
  };
}

function compileCompare(op: CompareOp, left: Node, right: Node): Cond {
  if (left.t === 'lit' && right.t !== 'lit') return compileCompare(MIRROR[op], right, left);
  const l = compileValue(left);

  if (right.t === 'lit' && right.value !== null) {
    const lit = right.value;
    if (op === '=' || op === '<>') {
      const ne = op === '<>';
      if (typeof lit === 'string') {
        return (h) => {
          const v = l(h);
          if (typeof v === 'string') return (v === lit) !== ne;
          const r = equals(v, lit);
          return r === null ? null : r !== ne;
        };
      }
      if (typeof lit === 'number' || typeof lit === 'bigint') {
        const n = comparableLiteral(lit);
        const approximate = typeof lit === 'number';
        return (h) => {
          const v = l(h);
          if (typeof v === 'string') {
            const x = stringToComparable(v, approximate);
            // eslint-disable-next-line eqeqeq -- bigint == number compares the mathematical values
            return (x !== undefined && x == n) !== ne;
          }
          const r = equals(v, lit);
          return r === null ? null : r !== ne;
        };
      }
    } else if (typeof lit === 'number' || typeof lit === 'bigint') {
      const n = comparableLiteral(lit);
      const approximate = typeof lit === 'number';
      const o: OrderOp = op;
      return (h) => {
        const v = l(h);
        if (v === null) return null;
        const x = typeof v === 'string' ? stringToComparable(v, approximate) : typeof v === 'boolean' ? undefined : v;
        if (x === undefined) return false;
        return orderNumbers(o, x, n);
      };
    }
  }

  const r = compileValue(right);
  switch (op) {
    case '=':
      return (h) => equals(l(h), r(h));
    case '<>':
      return (h) => not3(equals(l(h), r(h)));
    default: {
      const o: OrderOp = op;
      return (h) => order(o, l(h), r(h));
    }
  }
}
