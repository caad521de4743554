/** A selector value: exact numerics are bigint (Java long), approximate are number (double). */
export type Value = string | number | bigint | boolean | null;
/** SQL three-valued logic: TRUE, FALSE, UNKNOWN (null). */
export type Tri = boolean | null;

export type CompareOp = '=' | '<>' | '<' | '<=' | '>' | '>=';
export type ArithOp = '+' | '-' | '*' | '/' | '%';

/** Static type of an expression, known at parse time ('any' = an identifier: known only at runtime). */
export type Kind = 'bool' | 'num' | 'str' | 'null' | 'any';

export type Node =
  | { t: 'lit'; pos: number; value: Value }
  | { t: 'id'; pos: number; name: string }
  | { t: 'and' | 'or'; pos: number; items: Node[] }
  | { t: 'not'; pos: number; arg: Node }
  | { t: 'cmp'; pos: number; op: CompareOp; left: Node; right: Node }
  | { t: 'arith'; pos: number; op: ArithOp; left: Node; right: Node }
  | { t: 'neg' | 'plus'; pos: number; arg: Node }
  | { t: 'between'; pos: number; not: boolean; arg: Node; low: Node; high: Node }
  | { t: 'in'; pos: number; not: boolean; arg: Node; list: string[] }
  | { t: 'like'; pos: number; not: boolean; arg: Node; pattern: string; escape: string | undefined }
  | { t: 'isnull'; pos: number; not: boolean; arg: Node };

export function kindOf(node: Node): Kind {
  switch (node.t) {
    case 'lit': {
      const v = node.value;
      if (v === null) return 'null';
      if (typeof v === 'string') return 'str';
      if (typeof v === 'boolean') return 'bool';
      return 'num';
    }
    case 'id':
      return 'any';
    case 'arith':
    case 'neg':
    case 'plus':
      return 'num';
    default:
      return 'bool';
  }
}
