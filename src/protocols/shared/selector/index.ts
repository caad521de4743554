// JMS message selectors (the SQL-92 subset of JMS 1.1 §3.8.1) for the STOMP ActiveMQ dialect's
// `selector` SUBSCRIBE header. Compile once per subscription, then `matches` per message: pure,
// allocation-light, bounded (input length, nesting, IN-list size, LIKE pattern length), and
// total — `matches` never throws. Identifiers are looked up in the message headers; the JMS
// header identifiers map onto STOMP headers (see compile.ts); type conversion follows ActiveMQ's
// STOMP behaviour, with the differences listed in values.ts.

import { parseSelector } from './parser.js';
import { compileCondition } from './compile.js';
import { selectorError } from './errors.js';

export interface SelectorMessage {
  headers: Readonly<Record<string, unknown>>;
}

export interface Selector {
  readonly source: string;
  matches(message: SelectorMessage): boolean;
}

export interface SelectorLimits {
  /** longest selector text, in UTF-16 units (default 4096) */
  maxLength?: number;
  /** deepest nesting: parentheses, NOT, signs and expression tree height (default 64, at most 256) */
  maxDepth?: number;
  /** most items in one IN list (default 1024) */
  maxInList?: number;
  /** longest LIKE pattern, in UTF-16 units (default 256): matching costs value length × this */
  maxLikePattern?: number;
}

export const DEFAULT_SELECTOR_LIMITS: Readonly<Required<SelectorLimits>> = {
  maxLength: 4096,
  maxDepth: 64,
  maxInList: 1024,
  maxLikePattern: 256,
};

/** Hard ceiling on maxDepth, so that a generous caller cannot overflow the stack. */
export const MAX_SELECTOR_DEPTH = 256;

function limit(value: number | undefined, fallback: number, ceiling = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || !Number.isFinite(value)) return fallback;
  return Math.min(Math.max(1, Math.floor(value)), ceiling);
}

/**
 * Parses and compiles a selector. Throws GatewayError(PROTOCOL, 'invalid selector') with a
 * `detail` saying what is wrong and at which column, for syntax, type and limit errors alike.
 */
export function compileSelector(text: string, limits: SelectorLimits = {}): Selector {
  if (typeof text !== 'string') throw selectorError('selector must be a string');
  const maxLength = limit(limits.maxLength, DEFAULT_SELECTOR_LIMITS.maxLength);
  if (text.length > maxLength) {
    throw selectorError(`selector too long: ${text.length} characters (limit ${maxLength})`);
  }
  // JMS: "A value of null or an empty string indicates that there is no message selector"
  if (/^[ \t\n\r\f]*$/.test(text)) return { source: text, matches: () => true };
  const ast = parseSelector(text, {
    maxDepth: limit(limits.maxDepth, DEFAULT_SELECTOR_LIMITS.maxDepth, MAX_SELECTOR_DEPTH),
    maxInList: limit(limits.maxInList, DEFAULT_SELECTOR_LIMITS.maxInList),
    maxLikePattern: limit(limits.maxLikePattern, DEFAULT_SELECTOR_LIMITS.maxLikePattern),
  });
  const condition = compileCondition(ast);
  return {
    source: text,
    // a selector that evaluates to UNKNOWN does not match (JMS 1.1 §3.8.1.2)
    matches: (message) => condition(message.headers) === true,
  };
}
