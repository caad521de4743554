// Tokenizer for JMS message selectors (JMS 1.1 §3.8.1.1; lexical forms as ActiveMQ's SelectorParser.jj).
//
//   whitespace  = SP | HT | LF | CR | FF                       (Java whitespace)
//   keyword     = NOT AND OR BETWEEN LIKE ESCAPE IN IS NULL TRUE FALSE   (case-insensitive)
//   identifier  = id-start *id-part, not a keyword             (case-sensitive; Java identifier
//                 characters: letters, '$', '_', currency, connectors; parts add digits and marks)
//   string      = "'" *( "''" | any char but "'" ) "'"
//   exact       = ( "0" ("x"|"X") 1*HEXDIG | "0" *OCTDIG | NZDIGIT *DIGIT ) [ "l" | "L" ]
//                 (hex and octal must fit a long; a decimal beyond a long is approximate, as
//                 ActiveMQ makes it a BigDecimal)
//   approximate = 1*DIGIT "." *DIGIT [exp] | "." 1*DIGIT [exp] | 1*DIGIT exp
//   exp         = ("e"|"E") ["+"|"-"] 1*DIGIT
//   operator    = "=" | "<>" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%" | "(" | ")" | ","
//
// Not supported (ActiveMQ accepts them, JMS does not define them): `--` and `/* */` comments,
// XPATH/XQUERY. A number must not run into an identifier ("12abc" is an error, not two tokens).
// The tokenizer is one linear pass; its output is bounded by the (length-limited) input.

import { at, quote, selectorError } from './errors.js';

export const KEYWORDS = [
  'NOT', 'AND', 'OR', 'BETWEEN', 'LIKE', 'ESCAPE', 'IN', 'IS', 'NULL', 'TRUE', 'FALSE',
] as const;
export type Keyword = (typeof KEYWORDS)[number];

const LONG_MAX = 2n ** 63n - 1n;
const KEYWORD_SET: ReadonlySet<string> = new Set(KEYWORDS);

export const OPERATORS = ['=', '<>', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', '(', ')', ','] as const;
export type Operator = (typeof OPERATORS)[number];

export type Token =
  | { kind: 'keyword'; pos: number; value: Keyword }
  | { kind: 'ident'; pos: number; value: string }
  | { kind: 'string'; pos: number; value: string }
  | { kind: 'exact'; pos: number; value: bigint }
  | { kind: 'approx'; pos: number; value: number }
  | { kind: 'op'; pos: number; value: Operator }
  | { kind: 'eof'; pos: number };

const ID_START = /[\p{L}\p{Nl}\p{Sc}\p{Pc}]/u;
const ID_PART = /[\p{L}\p{Nl}\p{Sc}\p{Pc}\p{Nd}\p{Mn}\p{Mc}]/u;

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c;
}
function isAsciiIdStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x24;
}

/** Length in UTF-16 units of the identifier character at `i` (0 when there is none). */
function idCharLength(text: string, i: number, start: boolean): number {
  const c = text.charCodeAt(i);
  if (isAsciiIdStart(c) || (!start && isDigit(c))) return 1;
  if (c < 0x80) return 0;
  const cp = text.codePointAt(i) ?? 0;
  const ch = String.fromCodePoint(cp);
  return (start ? ID_START : ID_PART).test(ch) ? ch.length : 0;
}

function describeChar(text: string, i: number): string {
  const cp = text.codePointAt(i) ?? 0;
  return JSON.stringify(String.fromCodePoint(cp));
}

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isWhitespace(c)) {
      i++;
      continue;
    }
    const start = i;
    // string literal
    if (c === 0x27) {
      let value = '';
      let from = ++i;
      for (;;) {
        const q = text.indexOf("'", i);
        if (q < 0) throw selectorError(`unterminated string literal starting ${at(start)}`);
        if (text.charCodeAt(q + 1) === 0x27) {
          value += text.slice(from, q + 1); // keep one quote of the pair
          i = from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        i = q + 1;
        break;
      }
      tokens.push({ kind: 'string', pos: start, value });
      continue;
    }
    // numeric literal
    if (isDigit(c) || (c === 0x2e && isDigit(text.charCodeAt(i + 1)))) {
      i = scanNumber(text, i, tokens);
      if (i < n && idCharLength(text, i, false) > 0) {
        throw selectorError(`invalid numeric literal ${quote(text.slice(start, i + 1))} ${at(start)}`);
      }
      continue;
    }
    // identifier or keyword
    let len = idCharLength(text, i, true);
    if (len > 0) {
      i += len;
      while (i < n && (len = idCharLength(text, i, false)) > 0) i += len;
      const word = text.slice(start, i);
      const upper = word.toUpperCase();
      if (KEYWORD_SET.has(upper)) tokens.push({ kind: 'keyword', pos: start, value: upper as Keyword });
      else tokens.push({ kind: 'ident', pos: start, value: word });
      continue;
    }
    // operators
    const next = text.charCodeAt(i + 1);
    let op: Operator | undefined;
    switch (c) {
      case 0x3d: op = '='; break;
      case 0x3c: op = next === 0x3e ? '<>' : next === 0x3d ? '<=' : '<'; break;
      case 0x3e: op = next === 0x3d ? '>=' : '>'; break;
      case 0x2b: op = '+'; break;
      case 0x2d: op = '-'; break;
      case 0x2a: op = '*'; break;
      case 0x2f: op = '/'; break;
      case 0x25: op = '%'; break;
      case 0x28: op = '('; break;
      case 0x29: op = ')'; break;
      case 0x2c: op = ','; break;
      default:
        if (c === 0x22) {
          throw selectorError(`unexpected character '"' ${at(i)} (string literals use single quotes)`);
        }
        if (c === 0x21 && next === 0x3d) {
          throw selectorError(`unexpected '!=' ${at(i)} (use '<>')`);
        }
        throw selectorError(`unexpected character ${describeChar(text, i)} ${at(i)}`);
    }
    tokens.push({ kind: 'op', pos: start, value: op });
    i += op.length;
  }
  tokens.push({ kind: 'eof', pos: n });
  return tokens;
}

/** Scans one numeric literal at `i`, pushes its token and returns the offset after it. */
function scanNumber(text: string, i: number, tokens: Token[]): number {
  const start = i;
  const n = text.length;
  // hexadecimal
  if (text.charCodeAt(i) === 0x30 && (text.charCodeAt(i + 1) | 0x20) === 0x78) {
    i += 2;
    while (i < n && isHexDigit(text.charCodeAt(i))) i++;
    if (i === start + 2) throw selectorError(`invalid hexadecimal literal ${at(start)}`);
    const value = BigInt(text.slice(start, i));
    if (value > LONG_MAX) throw selectorError(`hexadecimal literal out of range for a long ${at(start)}`);
    if ((text.charCodeAt(i) | 0x20) === 0x6c) i++;
    tokens.push({ kind: 'exact', pos: start, value });
    return i;
  }
  while (i < n && isDigit(text.charCodeAt(i))) i++;
  const intEnd = i;
  let approx = false;
  if (text.charCodeAt(i) === 0x2e) {
    approx = true;
    i++;
    while (i < n && isDigit(text.charCodeAt(i))) i++;
  }
  if ((text.charCodeAt(i) | 0x20) === 0x65) {
    let j = i + 1;
    const s = text.charCodeAt(j);
    if (s === 0x2b || s === 0x2d) j++;
    const digits = j;
    while (j < n && isDigit(text.charCodeAt(j))) j++;
    if (j === digits) throw selectorError(`invalid exponent in numeric literal ${at(start)}`);
    approx = true;
    i = j;
  }
  if (approx) {
    tokens.push({ kind: 'approx', pos: start, value: Number(text.slice(start, i)) });
    return i;
  }
  const digits = text.slice(start, intEnd);
  let value: bigint;
  if (digits.length > 1 && digits.charCodeAt(0) === 0x30) {
    if (!/^[0-7]+$/.test(digits)) throw selectorError(`invalid octal literal ${quote(digits)} ${at(start)}`);
    value = BigInt(`0o${digits.slice(1)}`);
    if (value > LONG_MAX) throw selectorError(`octal literal out of range for a long ${at(start)}`);
  } else {
    value = BigInt(digits);
    // beyond a long (ActiveMQ: BigDecimal): approximate; 2^63 stays exact for a leading minus
    if (value > LONG_MAX + 1n) {
      if ((text.charCodeAt(i) | 0x20) === 0x6c) i++;
      tokens.push({ kind: 'approx', pos: start, value: Number(digits) });
      return i;
    }
  }
  if ((text.charCodeAt(i) | 0x20) === 0x6c) i++;
  tokens.push({ kind: 'exact', pos: start, value });
  return i;
}
