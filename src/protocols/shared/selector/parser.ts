// Recursive-descent parser for JMS message selectors (JMS 1.1 §3.8.1.1, JMS 2.0 §3.8.1.1).
//
//   selector    = or-expr EOF                                   ; must be boolean (or an identifier)
//   or-expr     = and-expr *( OR and-expr )
//   and-expr    = not-expr *( AND not-expr )
//   not-expr    = NOT not-expr | predicate
//   predicate   = sum [ cmp-op sum
//                     | [NOT] BETWEEN sum AND sum
//                     | [NOT] IN "(" string *( "," string ) ")"   ; left side: an identifier
//                     | [NOT] LIKE string [ ESCAPE string ]       ; escape: exactly one character
//                     | IS [NOT] NULL ]
//   cmp-op      = "=" | "<>" | "<" | "<=" | ">" | ">="
//   sum         = product *( ( "+" | "-" ) product )
//   product     = unary *( ( "*" | "/" | "%" ) unary )
//   unary       = ( "+" | "-" ) unary | primary
//   primary     = literal | identifier | "(" or-expr ")"
//   literal     = string | exact | approximate | TRUE | FALSE | NULL
//
// Precedence, loosest first (JMS): OR, AND, NOT, comparison, + -, * / %, unary + -.
// Comparisons do not chain: `a = b = c` is an error (write `(a = b) = c`). ActiveMQ binds NOT
// tighter than comparisons (`NOT a = 1` is `(NOT a) = 1` there); we follow JMS/SQL, where it is
// `NOT (a = 1)`. `%` (modulo) is an ActiveMQ extension, kept for legacy clients.
//
// Static checks, as ActiveMQ makes them at parse time: AND/OR/NOT and the selector itself take
// boolean expressions or identifiers; arithmetic, <, <=, >, >= and BETWEEN take numbers or
// identifiers; NULL is only an operand of IS [NOT] NULL; LIKE takes a string or an identifier.
// Exact literals are Java longs; decimal integers beyond that range are approximate.
//
// Bounds: input length is checked before tokenizing; nesting (parentheses, NOT, unary signs and
// the height of the tree) is limited by maxDepth; AND/OR chains are flattened so they do not add
// height; IN lists and LIKE patterns have their own limits.

import type { ArithOp, CompareOp, Kind, Node } from './ast.js';
import { kindOf } from './ast.js';
import { at, quote, selectorError } from './errors.js';
import type { Keyword, Operator, Token } from './lexer.js';
import { tokenize } from './lexer.js';

export interface ParseLimits {
  maxDepth: number;
  maxInList: number;
  maxLikePattern: number;
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

const COMPARE_OPS: ReadonlySet<string> = new Set<CompareOp>(['=', '<>', '<', '<=', '>', '>=']);

function height(node: Node): number {
  return (node as { h?: number }).h ?? 1;
}

function describe(tok: Token): string {
  switch (tok.kind) {
    case 'eof': return 'end of selector';
    case 'keyword': return tok.value;
    case 'ident': return `identifier ${quote(tok.value)}`;
    case 'string': return `string ${quote(tok.value)}`;
    case 'exact':
    case 'approx': return `number ${String(tok.value)}`;
    case 'op': return `'${tok.value}'`;
  }
}

function kindName(kind: Kind): string {
  switch (kind) {
    case 'bool': return 'a boolean';
    case 'num': return 'a number';
    case 'str': return 'a string';
    case 'null': return 'NULL';
    case 'any': return 'an identifier';
  }
}

export function parseSelector(text: string, limits: ParseLimits): Node {
  return new Parser(tokenize(text), limits).parseSelector();
}

class Parser {
  private i = 0;
  private nesting = 0;

  constructor(private readonly tokens: Token[], private readonly limits: ParseLimits) {}

  parseSelector(): Node {
    const node = this.orExpr();
    const tok = this.peek();
    if (tok.kind !== 'eof') {
      throw selectorError(`unexpected ${describe(tok)} ${at(tok.pos)}`);
    }
    this.requireBoolean(node, 'the selector');
    return node;
  }

  // ---- token helpers -------------------------------------------------------------------------

  private peek(): Token {
    return this.tokens[this.i] as Token;
  }
  private peekAt(k: number): Token {
    return (this.tokens[this.i + k] ?? this.tokens[this.tokens.length - 1]) as Token;
  }
  private next(): Token {
    const tok = this.peek();
    if (tok.kind !== 'eof') this.i++;
    return tok;
  }
  private isKeyword(tok: Token, kw: Keyword): boolean {
    return tok.kind === 'keyword' && tok.value === kw;
  }
  private isOp(tok: Token, op: Operator): boolean {
    return tok.kind === 'op' && tok.value === op;
  }
  private acceptKeyword(kw: Keyword): boolean {
    if (!this.isKeyword(this.peek(), kw)) return false;
    this.i++;
    return true;
  }
  private expectKeyword(kw: Keyword, context: string): void {
    const tok = this.peek();
    if (!this.isKeyword(tok, kw)) {
      throw selectorError(`expected ${kw} ${at(tok.pos)} ${context}, found ${describe(tok)}`);
    }
    this.i++;
  }
  private expectOp(op: Operator, context: string): Token {
    const tok = this.peek();
    if (!this.isOp(tok, op)) {
      throw selectorError(`expected '${op}' ${at(tok.pos)} ${context}, found ${describe(tok)}`);
    }
    this.i++;
    return tok;
  }
  private expectString(context: string): string {
    const tok = this.peek();
    if (tok.kind !== 'string') {
      throw selectorError(`expected a string literal ${at(tok.pos)} ${context}, found ${describe(tok)}`);
    }
    this.i++;
    return tok.value;
  }

  // ---- bounds --------------------------------------------------------------------------------

  private enter(pos: number): void {
    if (++this.nesting > this.limits.maxDepth) {
      throw selectorError(`selector nested too deeply ${at(pos)} (limit ${this.limits.maxDepth})`);
    }
  }
  private leave(): void {
    this.nesting--;
  }
  /** Records the height of a new node from its children and enforces maxDepth on it. */
  private make<N extends Node>(node: N, ...children: Node[]): N {
    let h = 0;
    for (const c of children) h = Math.max(h, height(c));
    if (h + 1 > this.limits.maxDepth) {
      throw selectorError(`selector nested too deeply ${at(node.pos)} (limit ${this.limits.maxDepth})`);
    }
    Object.defineProperty(node, 'h', { value: h + 1, enumerable: false });
    return node;
  }

  // ---- static type checks --------------------------------------------------------------------

  private requireBoolean(node: Node, what: string): void {
    const kind = kindOf(node);
    if (kind !== 'bool' && kind !== 'any') {
      throw selectorError(`${what} must be a boolean expression, not ${kindName(kind)} ${at(node.pos)}`);
    }
  }
  private requireNumeric(node: Node, what: string): void {
    const kind = kindOf(node);
    if (kind !== 'num' && kind !== 'any') {
      throw selectorError(`${what} takes numbers, not ${kindName(kind)} ${at(node.pos)}`);
    }
  }
  private requireNotNull(node: Node, what: string): void {
    if (kindOf(node) === 'null') {
      throw selectorError(`NULL cannot be an operand of ${what} ${at(node.pos)} (use IS [NOT] NULL)`);
    }
  }

  // ---- grammar -------------------------------------------------------------------------------

  private orExpr(): Node {
    const first = this.andExpr();
    if (!this.isKeyword(this.peek(), 'OR')) return first;
    this.requireBoolean(first, 'an operand of OR');
    const items = [first];
    while (this.acceptKeyword('OR')) {
      const item = this.andExpr();
      this.requireBoolean(item, 'an operand of OR');
      items.push(item);
    }
    return this.make({ t: 'or', pos: first.pos, items }, ...items);
  }

  private andExpr(): Node {
    const first = this.notExpr();
    if (!this.isKeyword(this.peek(), 'AND')) return first;
    this.requireBoolean(first, 'an operand of AND');
    const items = [first];
    while (this.acceptKeyword('AND')) {
      const item = this.notExpr();
      this.requireBoolean(item, 'an operand of AND');
      items.push(item);
    }
    return this.make({ t: 'and', pos: first.pos, items }, ...items);
  }

  private notExpr(): Node {
    const tok = this.peek();
    if (!this.isKeyword(tok, 'NOT')) return this.predicate();
    this.i++;
    this.enter(tok.pos);
    const arg = this.notExpr();
    this.leave();
    this.requireBoolean(arg, 'the operand of NOT');
    return this.make({ t: 'not', pos: tok.pos, arg }, arg);
  }

  private predicate(): Node {
    const left = this.sum();
    const tok = this.peek();

    if (tok.kind === 'op' && COMPARE_OPS.has(tok.value)) {
      this.i++;
      const op = tok.value as CompareOp;
      const right = this.sum();
      this.requireNotNull(left, `'${op}'`);
      this.requireNotNull(right, `'${op}'`);
      if (op !== '=' && op !== '<>') {
        this.requireNumeric(left, `'${op}'`);
        this.requireNumeric(right, `'${op}'`);
      }
      return this.noChain(this.make({ t: 'cmp', pos: left.pos, op, left, right }, left, right));
    }

    let not = false;
    if (this.isKeyword(tok, 'NOT')) {
      const after = this.peekAt(1);
      if (this.isKeyword(after, 'BETWEEN') || this.isKeyword(after, 'IN') || this.isKeyword(after, 'LIKE')) {
        this.i++;
        not = true;
      } else {
        return left;
      }
    }
    const kw = this.peek();

    if (this.isKeyword(kw, 'BETWEEN')) {
      this.i++;
      const low = this.sum();
      this.expectKeyword('AND', 'in BETWEEN');
      const high = this.sum();
      for (const operand of [left, low, high]) {
        this.requireNotNull(operand, 'BETWEEN');
        this.requireNumeric(operand, 'BETWEEN');
      }
      return this.noChain(this.make({ t: 'between', pos: left.pos, not, arg: left, low, high }, left, low, high));
    }

    if (this.isKeyword(kw, 'IN')) {
      this.i++;
      if (left.t !== 'id') {
        throw selectorError(`IN needs an identifier on its left ${at(left.pos)}`);
      }
      this.expectOp('(', 'after IN');
      const list: string[] = [this.expectString('in the IN list')];
      while (this.isOp(this.peek(), ',')) {
        this.i++;
        const item = this.peek();
        list.push(this.expectString('in the IN list'));
        if (list.length > this.limits.maxInList) {
          throw selectorError(`IN list too long ${at(item.pos)} (limit ${this.limits.maxInList} items)`);
        }
      }
      this.expectOp(')', 'to close the IN list');
      return this.noChain(this.make({ t: 'in', pos: left.pos, not, arg: left, list }, left));
    }

    if (this.isKeyword(kw, 'LIKE')) {
      this.i++;
      const kind = kindOf(left);
      if (kind !== 'str' && kind !== 'any') {
        throw selectorError(`LIKE takes a string, not ${kindName(kind)} ${at(left.pos)}`);
      }
      const patternTok = this.peek();
      const pattern = this.expectString('after LIKE');
      if (pattern.length > this.limits.maxLikePattern) {
        throw selectorError(
          `LIKE pattern too long ${at(patternTok.pos)} (${pattern.length} characters, limit ${this.limits.maxLikePattern})`,
        );
      }
      let escape: string | undefined;
      if (this.acceptKeyword('ESCAPE')) {
        const escTok = this.peek();
        escape = this.expectString('after ESCAPE');
        if ([...escape].length !== 1) {
          throw selectorError(`ESCAPE must be exactly one character ${at(escTok.pos)}, found ${quote(escape)}`);
        }
      }
      return this.noChain(this.make({ t: 'like', pos: left.pos, not, arg: left, pattern, escape }, left));
    }

    if (not) {
      // unreachable: NOT was only consumed ahead of BETWEEN/IN/LIKE
      throw selectorError(`unexpected ${describe(kw)} ${at(kw.pos)}`);
    }

    if (this.isKeyword(kw, 'IS')) {
      this.i++;
      const isNot = this.acceptKeyword('NOT');
      this.expectKeyword('NULL', isNot ? 'after IS NOT' : 'after IS');
      return this.noChain(this.make({ t: 'isnull', pos: left.pos, not: isNot, arg: left }, left));
    }

    return left;
  }

  /** Comparisons are non-associative: a second comparison operator right after one is an error. */
  private noChain(node: Node): Node {
    const tok = this.peek();
    const chained =
      (tok.kind === 'op' && COMPARE_OPS.has(tok.value)) ||
      this.isKeyword(tok, 'BETWEEN') || this.isKeyword(tok, 'IN') || this.isKeyword(tok, 'LIKE') ||
      this.isKeyword(tok, 'IS') ||
      (this.isKeyword(tok, 'NOT') &&
        (this.isKeyword(this.peekAt(1), 'BETWEEN') || this.isKeyword(this.peekAt(1), 'IN') ||
          this.isKeyword(this.peekAt(1), 'LIKE')));
    if (chained) {
      throw selectorError(`comparisons do not chain: unexpected ${describe(tok)} ${at(tok.pos)} (add parentheses)`);
    }
    return node;
  }

  private sum(): Node {
    let left = this.product();
    for (;;) {
      const tok = this.peek();
      if (!this.isOp(tok, '+') && !this.isOp(tok, '-')) return left;
      this.i++;
      const right = this.product();
      left = this.arith(tok, left, right);
    }
  }

  private product(): Node {
    let left = this.unary();
    for (;;) {
      const tok = this.peek();
      if (!this.isOp(tok, '*') && !this.isOp(tok, '/') && !this.isOp(tok, '%')) return left;
      this.i++;
      const right = this.unary();
      left = this.arith(tok, left, right);
    }
  }

  private arith(tok: Token, left: Node, right: Node): Node {
    const op = (tok as { value: ArithOp }).value;
    this.requireNotNull(left, `'${op}'`);
    this.requireNotNull(right, `'${op}'`);
    this.requireNumeric(left, `'${op}'`);
    this.requireNumeric(right, `'${op}'`);
    return this.make({ t: 'arith', pos: left.pos, op, left, right }, left, right);
  }

  private unary(): Node {
    const tok = this.peek();
    if (tok.kind !== 'op' || (tok.value !== '-' && tok.value !== '+')) return this.primary();
    this.i++;
    const lit = this.peek();
    if (tok.value === '-' && lit.kind === 'exact' && lit.value === -LONG_MIN) {
      this.i++; // -9223372036854775808: the one literal that only exists negated
      return { t: 'lit', pos: tok.pos, value: LONG_MIN };
    }
    this.enter(tok.pos);
    const arg = this.unary();
    this.leave();
    this.requireNotNull(arg, `unary '${tok.value}'`);
    this.requireNumeric(arg, `unary '${tok.value}'`);
    if (tok.value === '-') {
      // fold into numeric literals (with Java's wrap-around for longs)
      if (arg.t === 'lit' && typeof arg.value === 'bigint') {
        return { t: 'lit', pos: tok.pos, value: BigInt.asIntN(64, -arg.value) };
      }
      if (arg.t === 'lit' && typeof arg.value === 'number') return { t: 'lit', pos: tok.pos, value: -arg.value };
      return this.make({ t: 'neg', pos: tok.pos, arg }, arg);
    }
    if (arg.t === 'lit') return arg;
    return this.make({ t: 'plus', pos: tok.pos, arg }, arg);
  }

  private primary(): Node {
    const tok = this.next();
    switch (tok.kind) {
      case 'string':
        return { t: 'lit', pos: tok.pos, value: tok.value };
      case 'approx':
        return { t: 'lit', pos: tok.pos, value: tok.value };
      case 'exact':
        return this.exactLiteral(tok.pos, tok.value);
      case 'ident':
        return { t: 'id', pos: tok.pos, name: tok.value };
      case 'keyword':
        if (tok.value === 'TRUE') return { t: 'lit', pos: tok.pos, value: true };
        if (tok.value === 'FALSE') return { t: 'lit', pos: tok.pos, value: false };
        if (tok.value === 'NULL') return { t: 'lit', pos: tok.pos, value: null };
        break;
      case 'op':
        if (tok.value === '(') {
          this.enter(tok.pos);
          const inner = this.orExpr();
          this.leave();
          this.expectOp(')', `to close the '(' from column ${tok.pos + 1}`);
          return inner;
        }
        break;
      case 'eof':
        throw selectorError(`unexpected end of selector ${at(tok.pos)}: expected an operand`);
    }
    throw selectorError(`unexpected ${describe(tok)} ${at(tok.pos)}: expected an operand`);
  }

  private exactLiteral(pos: number, value: bigint): Node {
    // 2^63 without a leading minus: beyond a long, so approximate (the lexer does the same above it)
    if (value > LONG_MAX) return { t: 'lit', pos, value: Number(value) };
    return { t: 'lit', pos, value };
  }
}
